package mispclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispfake"
)

// Attributes of the fake's event 1 (testdata/events/01-misp251-event-1.json).
const (
	uuidIP     = "19f709e1-c921-4939-87cf-669935e4a78b" // ip-dst 203.0.113.5
	uuidSHA256 = "1d1e00a5-33df-4657-831b-c23ad892064a"
	uuidDomain = "81e779f5-a80b-429c-94a9-51de7291b663" // domain evil.example
	uuidNone   = "00000000-0000-4000-8000-000000000000"
)

// fakeMISP serves the fake MISP over TLS with testKey as a key of user,
// and returns a client that verifies its certificate.
func fakeMISP(t *testing.T, user mispfake.Key) (*mispfake.Server, *Client) {
	t.Helper()
	s, err := mispfake.New(mispfake.Options{Keys: map[string]mispfake.Key{testKey: user}})
	if err != nil {
		t.Fatal(err)
	}
	srv, ca := s.ServeTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, srv.URL, func(c *Config) { c.CAFile, c.AllowHTTP = caFile, false })
	return s, c
}

func TestAddSightings_OneRequestPerBatch(t *testing.T) {
	s, c := fakeMISP(t, mispfake.Key{})
	in := []misp.Sighting{
		{AttributeUUID: uuidIP, Source: "wazuh", Timestamp: 1796500000},
		{AttributeUUID: uuidSHA256, Source: "wazuh", Timestamp: 1796500000},
		{AttributeUUID: uuidDomain, Source: "wazuh", Timestamp: 1796500000},
		{AttributeUUID: uuidIP, Source: "wazuh", Timestamp: 1796500000}, // again: sent once
	}
	res, err := c.AddSightings(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Requests != 1 || len(res.Unknown) != 0 {
		t.Errorf("result = %+v, want 3 added in 1 request", res)
	}
	if s.SightingRequests() != 1 {
		t.Errorf("fake got %d sighting requests, want 1", s.SightingRequests())
	}
	for _, u := range []string{uuidIP, uuidSHA256, uuidDomain} {
		if n := s.SightingsOf(u); n != 1 {
			t.Errorf("%s sighted %d times, want 1", u, n)
		}
	}
	for _, r := range s.Sightings() {
		if r.Source != "wazuh" || r.Timestamp != 1796500000 || r.Type != "0" {
			t.Errorf("recorded %+v, want source wazuh, timestamp 1796500000, type 0", r)
		}
	}
	// The wire form the real MISP was measured with.
	var body map[string]any
	for _, r := range s.Requests() {
		if r.Path == sightingsPath {
			body = r.JSON
		}
	}
	if got := body["values"]; !slices.Equal(anyStrings(got), []string{"%"}) {
		t.Errorf("values = %v, want [%%]", got)
	}
	if got := anyStrings(body["filters"].(map[string]any)["uuid"]); !slices.Equal(got, []string{uuidIP, uuidSHA256, uuidDomain}) {
		t.Errorf("filters.uuid = %v", got)
	}
	if body["type"] != "0" {
		t.Errorf("type = %#v, want the string \"0\"", body["type"])
	}
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestAddSightings_GroupsByTypeSourceAndTimestamp(t *testing.T) {
	s, c := fakeMISP(t, mispfake.Key{})
	in := []misp.Sighting{
		{AttributeUUID: uuidIP, Source: "a"},
		{AttributeUUID: uuidSHA256, Source: "b"},
		{AttributeUUID: uuidDomain, Source: "a"},
		{Value: "evil.example", Type: misp.FalsePositive, Source: "analyst"},
	}
	res, err := c.AddSightings(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// evil.example is in events 1 and 2: a sighting by value reaches both.
	if res.Requests != 3 || res.Added != 5 {
		t.Errorf("result = %+v, want 5 added in 3 requests", res)
	}
	if s.SightingRequests() != 3 {
		t.Errorf("fake got %d requests, want 3", s.SightingRequests())
	}
}

func TestAddSightings_Unknown(t *testing.T) {
	s, c := fakeMISP(t, mispfake.Key{})
	res, err := c.AddSightings(context.Background(), []misp.Sighting{{AttributeUUID: uuidNone}, {Value: "nothing.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 0 || res.Requests != 2 || !slices.Equal(res.Unknown, []string{uuidNone, "nothing.example"}) {
		t.Errorf("result = %+v, want both unknown after 2 requests", res)
	}
	if len(s.Sightings()) != 0 {
		t.Errorf("fake recorded %v", s.Sightings())
	}
}

func TestAddSightings_Refused(t *testing.T) {
	for _, tt := range []struct {
		name  string
		key   mispfake.Key
		class misp.Class
	}{
		{"read-only key", mispfake.Key{ReadOnly: true}, misp.ClassForbidden},
		{"role without perm_sighting", mispfake.Key{ReadOnlyRole: true}, misp.ClassForbidden},
		{"disabled user", mispfake.Key{Disabled: true}, misp.ClassAuth},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, c := fakeMISP(t, tt.key)
			res, err := c.AddSightings(context.Background(), []misp.Sighting{{AttributeUUID: uuidIP}})
			e := asError(t, err)
			if e.Class != tt.class || e.Status != http.StatusForbidden {
				t.Errorf("error = %v, want class %s, status 403", e, tt.class)
			}
			if tt.class == misp.ClassForbidden && !strings.Contains(e.Message, "perm_sighting") {
				t.Errorf("message %q does not name perm_sighting", e.Message)
			}
			if res.Requests != 1 || len(s.Sightings()) != 0 {
				t.Errorf("result %+v, %d recorded", res, len(s.Sightings()))
			}
		})
	}
}

// TestAddSightings_CapturedAnswers reads each answer the real MISP gave
// (mispfake's captures) as the client must.
func TestAddSightings_CapturedAnswers(t *testing.T) {
	for _, tt := range []struct {
		capture string
		added   int
		unknown bool
		class   misp.Class
	}{
		{"tb_sightings_add_batch_ajax", 3, false, ""},
		{"tb_sightings_add_batch_partial_ajax", 1, false, ""},
		{"tb_sightings_add_value_fp_ajax", 1, false, ""},
		{"tb_sightings_add_uuid", 1, false, ""},
		{"tb_sightings_add_batch_unknown_ajax", 0, true, ""},
		{"tb_sightings_add_unknown_uuid", 0, true, ""},
		{"tb_sightings_add_bad_type_ajax", 0, false, misp.ClassBadResponse},
		{"tb_sightings_add_readonly_key", 0, false, misp.ClassForbidden},
		{"tb_sightings_add_revoked_ajax", 0, false, misp.ClassAuth},
		{"tb_sightings_add_long_source", 0, false, misp.ClassUnavailable},
	} {
		t.Run(tt.capture, func(t *testing.T) {
			body, status := capturedAnswer(t, tt.capture)
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
					t.Errorf("X-Requested-With = %q", r.Header.Get("X-Requested-With"))
				}
				reply(w, status, body)
			})
			c, _ := newClient(t, srv.URL, func(c *Config) { c.Retries = 0 })
			// Three, as in the captured batch requests.
			res, err := c.AddSightings(context.Background(), []misp.Sighting{{AttributeUUID: uuidIP}, {AttributeUUID: uuidDomain}, {AttributeUUID: uuidSHA256}})
			if tt.class != "" {
				if e := asError(t, err); e.Class != tt.class {
					t.Fatalf("error %v, want class %s", err, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Added != tt.added || (len(res.Unknown) == 3) != tt.unknown {
				t.Errorf("result %+v, want %d added, unknown %t", res, tt.added, tt.unknown)
			}
		})
	}
}

func capturedAnswer(t *testing.T, name string) ([]byte, int) {
	t.Helper()
	dir := filepath.Join("..", "mispfake", "testdata", "captures")
	body, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(filepath.Join(dir, name+".headers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var proto string
	var status int
	if _, err := fmt.Sscanf(string(head), "%s %d", &proto, &status); err != nil {
		t.Fatalf("%s.headers.txt: %v", name, err)
	}
	return body, status
}

func TestAddSightings_RefusesBadInput(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
	c, _ := newClient(t, srv.URL, nil)
	for _, s := range []misp.Sighting{
		{AttributeUUID: "not-a-uuid"},
		{AttributeUUID: uuidIP + "|1"},
		{},
		{Value: "a\x00b"},
		{Value: " padded"},
		{Value: strings.Repeat("x", maxValueLen+1)},
		{AttributeUUID: uuidIP, Type: 3},
		{AttributeUUID: uuidIP, Source: strings.Repeat("s", MaxSightingSource+1)},
		{AttributeUUID: uuidIP, Source: "tab\there"},
		{AttributeUUID: uuidIP, Timestamp: -1},
	} {
		_, err := c.AddSightings(context.Background(), []misp.Sighting{s})
		if e := asError(t, err); e.Class != misp.ClassConfig {
			t.Errorf("%+v: error %v, want class config", s, err)
		}
	}
	if srv.hits.Load() != 0 {
		t.Errorf("%d requests sent", srv.hits.Load())
	}
}

func TestAddSightings_SplitsLongBatches(t *testing.T) {
	var sizes []int
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var b sightingBody
		json.NewDecoder(r.Body).Decode(&b)
		sizes = append(sizes, len(b.Filters.UUID))
		reply(w, 200, []byte(`{"saved":true,"success":"1 sighting  added."}`))
	})
	c, _ := newClient(t, srv.URL, nil)
	var in []misp.Sighting
	for i := range maxSightingsPerRequest + 2 {
		in = append(in, misp.Sighting{AttributeUUID: fmt.Sprintf("00000000-0000-4000-8000-%012x", i)})
	}
	res, err := c.AddSightings(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 2 || !slices.Equal(sizes, []int{maxSightingsPerRequest, 2}) {
		t.Errorf("requests %d of sizes %v, want 2 of [%d 2]", res.Requests, sizes, maxSightingsPerRequest)
	}
}

// A failed sightings request is not sent again, whatever the retries:
// MISP may have added them before failing.
func TestAddSightings_NeverRetried(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, status, mispError("busy")) })
		c, _ := newClient(t, srv.URL, func(c *Config) { c.Retries = 3 })
		res, err := c.AddSightings(context.Background(), []misp.Sighting{{AttributeUUID: uuidIP}, {AttributeUUID: uuidDomain}})
		if err == nil || srv.hits.Load() != 1 || res.Requests != 1 {
			t.Errorf("status %d: %d request(s) sent, result %+v, error %v; want 1 request and an error", status, srv.hits.Load(), res, err)
		}
	}
}

// A MISP that ignored the uuid filter of the batch form would sight every
// attribute it holds ("%"): more added than asked is an error, not a
// success.
func TestAddSightings_MoreAddedThanAsked(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, []byte(`{"saved":true,"success":"5000 sightings  added."}`))
	})
	c, _ := newClient(t, srv.URL, nil)
	res, err := c.AddSightings(context.Background(), []misp.Sighting{{AttributeUUID: uuidIP}, {AttributeUUID: uuidDomain}})
	e := asError(t, err)
	if e.Class != misp.ClassBadResponse || !strings.Contains(e.Message, "did not apply the uuid filter") || res.Added != 5000 {
		t.Errorf("got %+v, %v; want bad_response naming the filter, 5000 added", res, e)
	}
}
