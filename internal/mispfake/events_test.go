package mispfake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func send(s *Server, method, path, key, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", key)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	return rec
}

func TestEventEndpoints_BadRequests(t *testing.T) {
	s := mustNew(t, Options{})
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
		message                       string
	}{
		{"index not minimal", "POST", "/events/index", adminKey, `{}`, 501, "only the minimal events index"},
		{"index bad JSON", "POST", "/events/index", adminKey, `{"minimal":`, 405, "Invalid JSON input"},
		{"index no key", "POST", "/events/index", "", `{"minimal":1}`, 403, msgAuthFailed},
		{"restSearch without metadata", "POST", "/events/restSearch", adminKey, `{"returnFormat":"json"}`, 501, "only implemented with metadata"},
		{"restSearch GET", "GET", "/events/restSearch", adminKey, "", 400, "using GET"},
		{"restSearch empty body", "POST", "/events/restSearch", adminKey, "", 405, "Invalid JSON input"},
		{"restSearch other format", "POST", "/events/restSearch", adminKey, `{"returnFormat":"csv","metadata":1}`, 404, "Invalid output format."},
		{"toggle by a read-only key", "POST", "/warninglists/toggleEnable", readonlyKey, `{"id":"63","enabled":0}`, 403, msgNoPermission},
		{"view an unknown list", "GET", "/warninglists/view/9999", adminKey, "", 404, "Invalid Warninglist."},
		{"checkValue not a list", "POST", "/warninglists/checkValue", adminKey, `{"x":1}`, 400, "Invalid JSON input."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := send(s, tc.method, tc.path, tc.key, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if msg := errorMessage(t, rec.Body.String()); !strings.Contains(msg, tc.message) {
				t.Errorf("message %q, want it to contain %q", msg, tc.message)
			}
		})
	}
}

// TestEventIndex_Visibility: a key of another organisation does not see
// an organisation-only event (11-misp__misp_indicators_test.json, event 1255, org 1,
// distribution 0); its own organisation does.
func TestEventIndex_Visibility(t *testing.T) {
	s := mustNew(t, Options{})
	var mine, theirs []indexRow
	post(t, s, adminKey, "/events/index", `{"minimal":1}`, &mine)
	post(t, s, user2Key, "/events/index", `{"minimal":1}`, &theirs)
	if len(theirs) >= len(mine) {
		t.Errorf("PARTNERORG sees %d events, the site admin %d: want fewer", len(theirs), len(mine))
	}
	for _, r := range theirs {
		if r.ID == "1255" {
			t.Error("PARTNERORG sees TESTORG's distribution-0 event 1255")
		}
	}
}

// TestWarninglists_EnableChangesFingerprintOnly: enabling a list moves no
// timestamp, shows in /warninglists and makes enforceWarninglist drop
// the covered values.
func TestWarninglists_EnableChangesFingerprintOnly(t *testing.T) {
	s := mustNew(t, Options{Events: testEvents(t)})
	hit := func() int {
		return len(attrsOf(t, s, `{"returnFormat":"json","value":"8.8.8.8","enforceWarninglist":1}`))
	}
	fingerprint := func() string {
		var out struct {
			Warninglists []struct{ Warninglist warninglistOut }
		}
		post(t, s, adminKey, "/warninglists", `{"enabled":1}`, &out)
		var b strings.Builder
		for _, w := range out.Warninglists {
			fmt.Fprintf(&b, "%s/%s/%t/%s ", w.Warninglist.ID, w.Warninglist.Version, w.Warninglist.Enabled, w.Warninglist.EntryCount)
		}
		return b.String()
	}
	if n := hit(); n != 0 {
		t.Fatalf("8.8.8.8 found %d times with the public DNS list enabled", n)
	}
	before, index := fingerprint(), indexOf(t, s)
	rec := send(s, "POST", "/warninglists/toggleEnable", adminKey, `{"id":"58","enabled":0}`)
	if !strings.Contains(rec.Body.String(), `"1 warninglist(s) disabled"`) {
		t.Fatalf("toggleEnable: %s", rec.Body.String())
	}
	if n := hit(); n == 0 {
		t.Error("8.8.8.8 still dropped with its list disabled")
	}
	if fingerprint() == before {
		t.Error("the enabled lists did not change")
	}
	if diff := indexOf(t, s); fmt.Sprint(diff) != fmt.Sprint(index) {
		t.Error("disabling a list changed the events index")
	}
	if err := s.EnableWarninglist("58", true); err != nil {
		t.Fatal(err)
	}
	if fingerprint() != before || hit() != 0 {
		t.Error("enabling the list again did not restore the state")
	}

	id, err := s.AddWarninglist("custom", "string", []string{"gone.example.net", "dual.example.org"}, []string{"domain", "domain|ip"})
	if err != nil {
		t.Fatal(err)
	}
	var check map[string][]struct{ ID, Matched string }
	if rec := send(s, "POST", "/warninglists/checkValue", adminKey, `["dual.example.org"]`); rec.Body.String() != "[]" {
		t.Errorf("a disabled custom list is checked: %s", rec.Body.String())
	}
	if err := s.EnableWarninglist(id, true); err != nil {
		t.Fatal(err)
	}
	post(t, s, adminKey, "/warninglists/checkValue", `["dual.example.org", "8.8.8.8", "nothing.example"]`, &check)
	if len(check["dual.example.org"]) != 1 || check["dual.example.org"][0].ID != id || check["8.8.8.8"][0].Matched != "8.8.8.8/32" || check["nothing.example"] != nil {
		t.Errorf("checkValue: %+v", check)
	}
	if got := attrsOf(t, s, `{"returnFormat":"json","value":"dual.example.org","enforceWarninglist":1}`); len(got) != 0 {
		t.Errorf("the custom list does not drop its value: %+v", got)
	}
}

// TestDecay follows the test bed's NIDS model: a fresh network attribute
// scores 80 and decays after about 46.9 days; a sighting revives it;
// hashes have no score; without a model nothing decays.
func TestDecay(t *testing.T) {
	const t0 = 1800000000
	c := &clock{now: time.Unix(t0, 0)}
	s := mustNew(t, Options{Events: testEvents(t), Now: c.Now})
	if _, err := s.AddAttribute("7", NewAttribute{Type: "ip-dst", Category: "Network activity", Value: "198.51.100.77", ToIDs: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAttribute("7", NewAttribute{Type: "md5", Category: "Payload delivery", Value: strings.Repeat("ab", 16), ToIDs: true}); err != nil {
		t.Fatal(err)
	}
	query := `{"returnFormat":"json","eventid":[7],"to_ids":1,"order":"Attribute.id asc",%s}`
	count := func(extra string) int { return len(attrsOf(t, s, fmt.Sprintf(query, extra))) }
	all := count(`"includeDecayScore":1`)
	if n := count(`"excludeDecayed":1`); n != all {
		t.Fatalf("without a model excludeDecayed dropped %d of %d", all-n, all)
	}
	m := NIDSSimpleDecayingModel()
	s.EnableDecayingModel(&m)
	rec := send(s, "POST", "/attributes/restSearch", adminKey, `{"returnFormat":"json","value":"198.51.100.77","includeDecayScore":1}`)
	if want := `"decay_score":[{"score":80,"base_score":80,"decayed":false,"DecayingModel":{"id":"3","name":"NIDS Simple Decaying Model"}}],"Event"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("fresh attribute: %s, want %s", rec.Body.String(), want)
	}
	c.Set(time.Unix(t0+46*86400, 0))
	fresh := count(`"excludeDecayed":1`)
	c.Set(time.Unix(t0+48*86400, 0))
	decayed := count(`"excludeDecayed":1`)
	if fresh-decayed != 1 {
		t.Errorf("between day 46 and 48 %d attributes decayed, want the new ip-dst only", fresh-decayed)
	}
	// The extra event's attributes are 97 days old: score 80 × (1 −
	// √(97/120)) ≈ 8, decayed under the threshold 30 but not under 1.
	if n := count(`"excludeDecayed":1,"score":1`); n != all {
		t.Errorf(`with "score":1 %d kept, want all %d`, n, all)
	}
	if rec := send(s, "POST", "/sightings/add", adminKey, `{"value":"198.51.100.77"}`); rec.Code != http.StatusOK {
		t.Fatalf("sighting: %d %s", rec.Code, rec.Body.String())
	}
	if n := count(`"excludeDecayed":1`); n != decayed+1 {
		t.Errorf("after a sighting %d kept, want %d", n, decayed+1)
	}
	if !strings.Contains(send(s, "POST", "/attributes/restSearch", adminKey, `{"returnFormat":"json","type":"md5","eventid":[7],"includeDecayScore":1}`).Body.String(), `"value":"abab`) {
		t.Error("the md5 is missing")
	} else if strings.Contains(send(s, "POST", "/attributes/restSearch", adminKey, `{"returnFormat":"json","type":"md5","eventid":[7],"includeDecayScore":1}`).Body.String(), "decay_score") {
		t.Error("an md5 got a decay score from a network model")
	}
}
