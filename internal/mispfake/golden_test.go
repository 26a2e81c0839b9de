package mispfake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Keys standing in for the captured server's: the admin (site admin,
// TESTORG), a second user in PARTNERORG, and that user's read-only key.
var (
	adminKey    = strings.Repeat("A", 40)
	user2Key    = strings.Repeat("B", 40)
	readonlyKey = strings.Repeat("C", 40)
	unknownKey  = strings.Repeat("D", 40)
)

func capturedKeys() map[string]Key {
	return map[string]Key{
		adminKey:    {User: "admin@admin.test", OrgID: "1", SiteAdmin: true},
		user2Key:    {User: "analyst@partner.test", OrgID: "2"},
		readonlyKey: {User: "analyst@partner.test", OrgID: "2", ReadOnly: true},
	}
}

// capture is one real MISP 2.5.1 exchange in testdata/captures and how to
// replay it: the request file holds the body, the table the rest (the
// .request.txt files record method and path, keys were redacted).
type capture struct {
	name    string
	method  string
	path    string
	auth    string // Authorization header; "" sends none
	noCT    bool   // send no Content-Type
	body    string // body when there is no NAME.request.json
	exactly bool   // the body must match byte for byte, not only as JSON
}

var captures = []capture{
	{name: "restsearch_value_match", exactly: true},
	{name: "restsearch_value_match_no_eventtags", exactly: true},
	{name: "restsearch_value_string", exactly: true},
	{name: "restsearch_context_and_tags", exactly: true},
	{name: "restsearch_full_query", exactly: true},
	{name: "restsearch_composite_value1", exactly: true},
	{name: "restsearch_composite_value2", exactly: true},
	{name: "restsearch_composite_full", exactly: true},
	{name: "restsearch_no_match", exactly: true},
	{name: "restsearch_type_filter", exactly: true},
	{name: "restsearch_to_ids_only", exactly: true},
	{name: "restsearch_published_only", exactly: true},
	{name: "restsearch_tags_filter", exactly: true},
	{name: "restsearch_wildcard", exactly: true},
	{name: "restsearch_cidr", exactly: true},
	{name: "restsearch_empty_filter", exactly: true},
	{name: "restsearch_enforce_warninglist", exactly: true},
	{name: "restsearch_include_warninglist_hits", exactly: true},
	{name: "restsearch_include_context", exactly: true},
	{name: "restsearch_event_uuid", exactly: true},
	{name: "restsearch_limit_page", exactly: true},
	{name: "restsearch_last_1d", exactly: true},
	{name: "restsearch_sighting", exactly: true},
	{name: "restsearch_decay", exactly: true}, // no decaying model was enabled: no decay_score
	{name: "restsearch_json_url_returnformat", path: "/attributes/restSearch/json", exactly: true},
	{name: "restsearch_no_accept_header", exactly: true},
	{name: "restsearch_no_content_type", noCT: true, exactly: true},
	{name: "restsearch_malformed_json", exactly: true},
	{name: "restsearch_get_method", method: http.MethodGet, exactly: true},
	{name: "restsearch_bad_key", auth: unknownKey, exactly: true},
	{name: "restsearch_bad_key_short", auth: "not-a-key", exactly: true},
	{name: "restsearch_bearer_prefix", auth: "Bearer " + adminKey, exactly: true},
	{name: "restsearch_no_auth_header", auth: "-", exactly: true},
	{name: "user2_restsearch_value_match", auth: user2Key, exactly: true},
	{name: "user2_readonly_restsearch", auth: readonlyKey, exactly: true},
	{name: "user2_readonly_events_add", method: http.MethodPost, path: "/events/add", auth: readonlyKey, exactly: true},
	{name: "readonly_sightings_add", method: http.MethodPost, path: "/sightings/add", auth: readonlyKey,
		body: `{"value":"203.0.113.5","source":"wazuh"}`, exactly: true},
	{name: "readonly_servers_serverSettings", method: http.MethodGet, path: "/servers/serverSettings.json", auth: readonlyKey, exactly: true},
	{name: "servers_serverSettings_internal_error", method: http.MethodGet, path: "/servers/serverSettings.json", exactly: true},
	{name: "getVersion", method: http.MethodGet, path: "/servers/getVersion", exactly: true},
	{name: "users_view_me", method: http.MethodGet, path: "/users/view/me", exactly: true},
	{name: "user2_users_view_me", method: http.MethodGet, path: "/users/view/me", auth: user2Key, exactly: true},
	{name: "servers_getSetting_baseurl", method: http.MethodGet, path: "/servers/getSetting/MISP.baseurl", exactly: true},
	{name: "servers_getSetting_redis_host", method: http.MethodGet, path: "/servers/getSetting/MISP.redis_host", exactly: true},
	{name: "servers_getSetting_sbj_enabled", method: http.MethodGet, path: "/servers/getSetting/SimpleBackgroundJobs.enabled", exactly: true},
	{name: "servers_getSetting_sbj_redis_host", method: http.MethodGet, path: "/servers/getSetting/SimpleBackgroundJobs.redis_host", exactly: true},
	{name: "servers_getSetting_unknown", method: http.MethodGet, path: "/servers/getSetting/MISP.no_such_setting", exactly: true},
	{name: "feeds_index", method: http.MethodGet, path: "/feeds/index", exactly: true},
	{name: "feeds_fetchFromAllFeeds", method: http.MethodPost, path: "/feeds/fetchFromAllFeeds", exactly: true},
	{name: "feeds_fetchFromFeed_1", method: http.MethodPost, path: "/feeds/fetchFromFeed/1", exactly: true},
}

// comparedHeaders are the response headers a client may read.
var comparedHeaders = []string{
	"Content-Type", "X-Result-Count", "X-Skipped-Elements-Count", "X-Export-Module-Used", "X-Response-Format",
}

// realResponse is a captured answer: status, headers, body.
type realResponse struct {
	status int
	header http.Header
	body   []byte
}

func readCapture(t *testing.T, name string) realResponse {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "captures", name+".headers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tp := bufio.NewReader(bytes.NewReader(append(raw, '\r', '\n')))
	resp, err := http.ReadResponse(tp, nil)
	if err != nil {
		t.Fatalf("%s.headers.txt: %v", name, err)
	}
	resp.Body.Close()
	body, err := os.ReadFile(filepath.Join("testdata", "captures", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return realResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// capturedServerEvents is the data the captured server held: events 1
// and 2 only.
func capturedServerEvents(t testing.TB) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	for _, name := range []string{"01-misp251-event-1.json", "02-misp251-event-2.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		m[name] = &fstest.MapFile{Data: b}
	}
	return m
}

// replay sends the captured request to h and returns the answer.
func (c capture) replay(t *testing.T, h http.Handler) *http.Response {
	t.Helper()
	method, path, body := c.method, c.path, c.body
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/attributes/restSearch"
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "captures", c.name+".request.json")); err == nil {
		body = string(b)
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	switch c.auth {
	case "":
		req.Header.Set("Authorization", adminKey)
	case "-":
	default:
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Accept", "application/json")
	if !c.noCT && body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %.200s", err, b)
	}
	return v
}

// TestGolden_MatchesRealMISP replays every captured request against a fake
// holding the captured server's two events, at the capture's own time,
// and wants MISP's answer: status, the headers a client reads, and the
// body as JSON (and, where marked, byte for byte).
func TestGolden_MatchesRealMISP(t *testing.T) {
	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			real := readCapture(t, c.name)
			when, err := http.ParseTime(real.header.Get("Date"))
			if err != nil {
				t.Fatalf("capture Date: %v", err)
			}
			s, err := New(Options{Keys: capturedKeys(), Events: capturedServerEvents(t), Now: func() time.Time { return when }})
			if err != nil {
				t.Fatal(err)
			}
			resp := c.replay(t, s)
			got, _ := io.ReadAll(resp.Body)

			if resp.StatusCode != real.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, real.status)
			}
			for _, h := range comparedHeaders {
				if resp.Header.Get(h) != real.header.Get(h) {
					t.Errorf("header %s = %q, want %q", h, resp.Header.Get(h), real.header.Get(h))
				}
			}
			if diff := cmp.Diff(decodeJSON(t, real.body), decodeJSON(t, got)); diff != "" {
				t.Fatalf("body (-real +fake):\n%s", diff)
			}
			if c.exactly && !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(real.body)) {
				t.Errorf("body differs in bytes:\nfake: %.400s\nreal: %.400s", got, real.body)
			}
		})
	}
}

// TestGolden_AllEventsKeepRealAnswers replays the searches against the
// full embedded data set: the extra events may add matches, but the
// captured server's matches must come back unchanged.
func TestGolden_AllEventsKeepRealAnswers(t *testing.T) {
	for _, c := range captures {
		real := readCapture(t, c.name)
		if real.status != http.StatusOK || !strings.HasPrefix(string(real.body), `{"response"`) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			// The fake's clock is the capture's: "last", key expiry and
			// rate windows must not depend on the day the test runs.
			when, err := http.ParseTime(real.header.Get("Date"))
			if err != nil {
				t.Fatalf("capture Date: %v", err)
			}
			s, err := New(Options{Keys: capturedKeys(), Now: func() time.Time { return when }})
			if err != nil {
				t.Fatal(err)
			}
			resp := c.replay(t, s)
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d: %s", resp.StatusCode, got)
			}
			want := decodeJSON(t, real.body).(map[string]any)["response"].(map[string]any)["Attribute"].([]any)
			all := decodeJSON(t, got).(map[string]any)["response"].(map[string]any)["Attribute"].([]any)
			var fromCaptured []any
			for _, a := range all {
				if id := a.(map[string]any)["event_id"]; id == "1" || id == "2" {
					fromCaptured = append(fromCaptured, a)
				}
			}
			if diff := cmp.Diff(want, fromCaptured, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("attributes of events 1 and 2 (-real +fake):\n%s", diff)
			}
			if n, _ := strconv.Atoi(resp.Header.Get("X-Result-Count")); n < len(want) {
				t.Errorf("X-Result-Count = %d, want at least %d", n, len(want))
			}
		})
	}
}
