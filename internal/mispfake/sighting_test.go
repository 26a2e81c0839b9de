package mispfake

import (
	"net/http"
	"testing"
	"time"
)

// The fake's record of sightings: per request, per attribute, and an
// expiration replacing the organisation's earlier one, as MISP's
// saveSightings does.
func TestSightings_Recorded(t *testing.T) {
	when := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s, err := New(Options{Keys: capturedKeys(), Now: func() time.Time { return when }})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string) {
		t.Helper()
		if rec := send(s, http.MethodPost, "/sightings/add", adminKey, body); rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", body, rec.Code, rec.Body)
		}
	}
	// Event 1: ip-dst 203.0.113.5, domain evil.example.
	const ip, domain = "19f709e1-c921-4939-87cf-669935e4a78b", "81e779f5-a80b-429c-94a9-51de7291b663"
	post(`{"values":["%"],"filters":{"uuid":["` + ip + `","` + domain + `"]},"source":"wazuh","timestamp":1796500000}`)
	post(`{"uuid":"` + ip + `","type":"2"}`)
	post(`{"uuid":"` + ip + `","type":"2"}`)
	post(`{"uuid":"00000000-0000-4000-8000-000000000000"}`) // nothing: not a request that added

	if n := s.SightingRequests(); n != 3 {
		t.Errorf("SightingRequests = %d, want 3", n)
	}
	if n := s.SightingsOf(ip); n != 2 {
		t.Errorf("%s has %d sightings, want 2 (one seen, one expiration)", ip, n)
	}
	if n := s.SightingsOf(domain); n != 1 {
		t.Errorf("%s has %d sightings, want 1", domain, n)
	}
	got := s.Sightings()
	if len(got) != 3 {
		t.Fatalf("sightings %+v, want 3", got)
	}
	first, last := got[0], got[2]
	if first.Request != 1 || first.Source != "wazuh" || first.Timestamp != 1796500000 || first.Type != "0" || first.EventID != "1" {
		t.Errorf("first = %+v", first)
	}
	if last.Request != 3 || last.Type != "2" || last.Timestamp != when.Unix() || last.AttributeUUID != ip {
		t.Errorf("last = %+v, want the second expiration, request 3, at the fake's now", last)
	}
}
