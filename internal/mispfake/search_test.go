package mispfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hit is the part of a returned attribute most tests look at.
type hit struct {
	Event, Type, Value string
}

type searchResult struct {
	status  int
	header  http.Header
	attrs   []map[string]any
	hits    []hit
	rawBody string
}

func doSearch(t *testing.T, h http.Handler, key string, body string) searchResult {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/attributes/restSearch", strings.NewReader(body))
	req.Header.Set("Authorization", key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := searchResult{status: rec.Code, header: rec.Header(), rawBody: rec.Body.String()}
	if rec.Code != http.StatusOK {
		return res
	}
	var out struct {
		Response struct {
			Attribute []map[string]any
		} `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("body: %v: %.300s", err, rec.Body.String())
	}
	res.attrs = out.Response.Attribute
	for _, a := range res.attrs {
		res.hits = append(res.hits, hit{Event: a["event_id"].(string), Type: a["type"].(string), Value: a["value"].(string)})
	}
	return res
}

func mustNew(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = capturedKeys()
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// extraEvent exercises what the captured events do not hold: IPv6, an
// uppercase hash, a warninglisted resolver, a deleted attribute.
const extraEvent = `{"Event": {
	"id": "7", "org_id": "1", "orgc_id": "1", "info": "extra", "date": "2026-01-02", "published": true,
	"distribution": "3", "timestamp": "1795800000", "publish_timestamp": "1795800000", "threat_level_id": "2",
	"Tag": [{"id": "900", "name": "tlp:green", "colour": "#33FF00"}],
	"Attribute": [
		{"id": "70", "type": "ip-dst", "category": "Network activity", "to_ids": true, "value": "2001:db8::1", "uuid": "00000000-0000-4000-8000-000000000070"},
		{"id": "71", "type": "md5", "category": "Payload delivery", "to_ids": "1", "value": "D41D8CD98F00B204E9800998ECF8427E", "uuid": "00000000-0000-4000-8000-000000000071"},
		{"id": "72", "type": "ip-dst", "category": "Network activity", "to_ids": 1, "value": "8.8.8.8", "uuid": "00000000-0000-4000-8000-000000000072"},
		{"id": "73", "type": "domain", "category": "Network activity", "to_ids": true, "value": "gone.example.net", "deleted": true, "uuid": "00000000-0000-4000-8000-000000000073"},
		{"id": "74", "type": "domain|ip", "category": "Network activity", "to_ids": true, "value": "dual.example.org|2001:db8::2", "uuid": "00000000-0000-4000-8000-000000000074"}
	]}}`

func testEvents(t *testing.T) fstest.MapFS {
	m := capturedServerEvents(t).(fstest.MapFS)
	m["07-extra.json"] = &fstest.MapFile{Data: []byte(extraEvent)}
	return m
}

func TestSearch_Semantics(t *testing.T) {
	s := mustNew(t, Options{Events: testEvents(t)})
	tests := []struct {
		name string
		body string
		want []hit
	}{
		{"value list is an OR", `{"value":["cdn.evil.example","192.0.2.10"]}`,
			[]hit{{"1", "ip-dst", "192.0.2.10"}, {"2", "hostname", "cdn.evil.example"}}},
		{"case-insensitive", `{"value":"CDN.Evil.EXAMPLE"}`,
			[]hit{{"2", "hostname", "cdn.evil.example"}}},
		{"stored uppercase hash found by lowercase", `{"value":"d41d8cd98f00b204e9800998ecf8427e"}`,
			[]hit{{"7", "md5", "D41D8CD98F00B204E9800998ECF8427E"}}},
		{"expanded IPv6 is compressed first", `{"value":"2001:0DB8:0000:0000:0000:0000:0000:0001"}`,
			[]hit{{"7", "ip-dst", "2001:db8::1"}}},
		{"IPv6 half of a composite", `{"value":"2001:db8:0::2"}`,
			[]hit{{"7", "domain|ip", "dual.example.org|2001:db8::2"}}},
		{"first half of a composite", `{"value":"dual.example.org"}`,
			[]hit{{"7", "domain|ip", "dual.example.org|2001:db8::2"}}},
		{"whole composite finds nothing", `{"value":"dual.example.org|2001:db8::2"}`, nil},
		{"CIDR finds nothing", `{"value":"2001:db8::/64"}`, nil},
		{"trailing percent is a prefix LIKE", `{"value":"cdn.%"}`,
			[]hit{{"2", "hostname", "cdn.evil.example"}}},
		{"leading percent is a suffix LIKE on either half", `{"value":"%::2"}`,
			[]hit{{"7", "domain|ip", "dual.example.org|2001:db8::2"}}},
		{"negated value", `{"value":["203.0.113.5","!203.0.113.5"]}`, nil},
		{"only negations exclude from everything", `{"value":"!203.0.113.5","type":"ip-dst"}`,
			[]hit{{"1", "ip-dst", "192.0.2.10"}, {"7", "ip-dst", "2001:db8::1"}, {"7", "ip-dst", "8.8.8.8"}}},
		{"string with || is split", `{"value":"192.0.2.10||cdn.evil.example"}`,
			[]hit{{"1", "ip-dst", "192.0.2.10"}, {"2", "hostname", "cdn.evil.example"}}},
		{"request wrapper", `{"request":{"value":"192.0.2.10"}}`,
			[]hit{{"1", "ip-dst", "192.0.2.10"}}},
		{"type list", `{"value":"203.0.113.5","type":["ip-src","hostname"]}`,
			[]hit{{"2", "ip-src", "203.0.113.5"}}},
		{"negated type", `{"value":"203.0.113.5","type":"!ip-src"}`,
			[]hit{{"1", "ip-dst", "203.0.113.5"}, {"2", "ip-dst", "203.0.113.5"}}},
		{"type filter hides composites", `{"value":"198.51.100.7","type":"ip-dst"}`, nil},
		{"to_ids false", `{"value":["203.0.113.5","192.0.2.10"],"to_ids":false}`,
			[]hit{{"1", "ip-dst", "192.0.2.10"}, {"2", "ip-src", "203.0.113.5"}}},
		{"to_ids as string", `{"value":"203.0.113.5","to_ids":"0"}`,
			[]hit{{"2", "ip-src", "203.0.113.5"}}},
		{"to_ids exclude means 0", `{"value":"203.0.113.5","to_ids":"exclude"}`,
			[]hit{{"2", "ip-src", "203.0.113.5"}}},
		{"unpublished only", `{"value":"evil.example","published":0}`,
			[]hit{{"1", "domain", "evil.example"}}},
		{"published both", `{"value":"evil.example","published":[true,false]}`,
			[]hit{{"1", "domain", "evil.example"}, {"2", "domain", "evil.example"}}},
		{"tags LIKE", `{"value":"203.0.113.5","tags":["tlp:gr%"]}`,
			[]hit{{"2", "ip-src", "203.0.113.5"}, {"2", "ip-dst", "203.0.113.5"}}},
		{"tags match attribute tags too", `{"tags":"estimative-language:%"}`,
			[]hit{{"1", "ip-dst", "203.0.113.5"}}},
		{"tag exclusion", `{"value":"203.0.113.5","tags":["!tlp:green"]}`,
			[]hit{{"1", "ip-dst", "203.0.113.5"}}},
		{"tag nobody has matches nothing", `{"value":"203.0.113.5","tags":["tlp:red"]}`, nil},
		{"tags AND", `{"tags":{"AND":["tlp:green","%T1071.001%"]},"type":"hostname"}`,
			[]hit{{"2", "hostname", "cdn.evil.example"}}},
		{"category", `{"category":"Payload delivery"}`,
			[]hit{{"1", "sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, {"7", "md5", "D41D8CD98F00B204E9800998ECF8427E"}}},
		{"eventid", `{"eventid":"2","type":"domain"}`,
			[]hit{{"2", "domain", "evil.example"}}},
		{"threat level", `{"threat_level_id":"3","type":"hostname"}`,
			[]hit{{"2", "hostname", "cdn.evil.example"}}},
		{"deleted attributes are hidden", `{"value":"gone.example.net"}`, nil},
		{"deleted only", `{"value":"gone.example.net","deleted":"only"}`,
			[]hit{{"7", "domain", "gone.example.net"}}},
		{"unknown parameters are ignored", `{"value":"192.0.2.10","searchall":"x","quickFilter":"y"}`,
			[]hit{{"1", "ip-dst", "192.0.2.10"}}},
		{"page beyond the end", `{"value":"203.0.113.5","limit":2,"page":5}`, nil},
		{"second page", `{"value":"203.0.113.5","limit":2,"page":2}`,
			[]hit{{"2", "ip-dst", "203.0.113.5"}}},
		{"order desc", `{"value":"evil.example","order":"id desc"}`,
			[]hit{{"2", "domain", "evil.example"}, {"1", "domain", "evil.example"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := doSearch(t, s, adminKey, tc.body)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.rawBody)
			}
			if diff := cmp.Diff(tc.want, res.hits); diff != "" {
				t.Errorf("hits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearch_EnforceWarninglist(t *testing.T) {
	s := mustNew(t, Options{Events: testEvents(t)})
	res := doSearch(t, s, adminKey, `{"value":["8.8.8.8","d41d8cd98f00b204e9800998ecf8427e","2001:db8::1","cdn.evil.example"],"enforceWarninglist":1}`)
	// 8.8.8.8 (public DNS) and the empty-file md5 are dropped;
	// 2001:db8::1 stays: no embedded list holds the v6 documentation range.
	want := []hit{{"2", "hostname", "cdn.evil.example"}, {"7", "ip-dst", "2001:db8::1"}}
	if diff := cmp.Diff(want, res.hits); diff != "" {
		t.Errorf("hits (-want +got):\n%s", diff)
	}
	if got := res.header.Get("X-Skipped-Elements-Count"); got != "2" {
		t.Errorf("X-Skipped-Elements-Count = %q, want 2", got)
	}
	if got := res.header.Get("X-Result-Count"); got != "4" {
		t.Errorf("X-Result-Count = %q, want 4 (counted before the warninglist)", got)
	}

	res = doSearch(t, s, adminKey, `{"value":"8.8.8.8","includeWarninglistHits":1}`)
	want2 := []any{map[string]any{"match": "8.8.8.8/32", "value": "8.8.8.8", "warninglist_id": "58",
		"warninglist_name": "List of known IPv4 public DNS resolvers", "warninglist_category": "false_positive"}}
	if len(res.attrs) != 1 {
		t.Fatalf("got %d attributes, want 1", len(res.attrs))
	}
	if diff := cmp.Diff(want2, res.attrs[0]["warnings"]); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestSearch_Visibility(t *testing.T) {
	s := mustNew(t, Options{})
	// misp_indicators_test is owned by org 1 with distribution 0.
	const q = `{"value":"b2a5abfeef9e36964281a31e17b57c97"}`
	res := doSearch(t, s, adminKey, q)
	if len(res.hits) == 0 || slices.ContainsFunc(res.hits, func(h hit) bool { return h.Event != "1255" }) {
		t.Errorf("org 1 admin: hits %v, want some, all in event 1255", res.hits)
	}
	if res := doSearch(t, s, user2Key, q); len(res.hits) != 0 {
		t.Errorf("org 2 user: hits %v, want none (organisation-only event)", res.hits)
	}
	// The demo event is shared with the community (distribution 1).
	if res := doSearch(t, s, user2Key, `{"value":"update-check-cdn.com","type":"domain"}`); len(res.hits) != 1 {
		t.Errorf("org 2 user, demo event: hits %v, want 1", res.hits)
	}
}

// TestSearch_DemoEvent checks the data `make demo` relies on: the
// integration's query for indicators of the bundled sample alerts
// (../shared/alerts/expected.json) hits the demo event.
func TestSearch_DemoEvent(t *testing.T) {
	s := mustNew(t, Options{})
	body := `{"returnFormat":"json","value":[
		"cdn-static-assets.xyz","update-check-cdn.com","185.225.74.19","185.220.101.47",
		"8610e19edbf1f89bca12c07d867530ffaf4819a14ce19451fcaeb65767516e32",
		"01aa278b07b58dc46c84bd0b1b5c8e9ee4e62ea0bf7a695862444af32e87f1fd",
		"http://update-check-cdn.com/dl/setup_x64.exe?build=2291&ref=mail","104.21.57.203",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","8.8.8.8","google.com"],
		"includeEventTags":1,"includeContext":1,"to_ids":1,"enforceWarninglist":1,"limit":50,"page":1}`
	res := doSearch(t, s, adminKey, body)
	want := []hit{
		{"3", "domain", "cdn-static-assets.xyz"},
		{"3", "domain", "update-check-cdn.com"},
		{"3", "ip-dst|port", "185.225.74.19|443"},
		{"3", "ip-src", "185.220.101.47"},
		{"3", "sha256", "8610e19edbf1f89bca12c07d867530ffaf4819a14ce19451fcaeb65767516e32"},
		{"3", "filename|sha256", "RTCore64.sys|01aa278b07b58dc46c84bd0b1b5c8e9ee4e62ea0bf7a695862444af32e87f1fd"},
		{"3", "url", "http://update-check-cdn.com/dl/setup_x64.exe?build=2291&ref=mail"},
	}
	if diff := cmp.Diff(want, res.hits); diff != "" {
		t.Errorf("hits (-want +got):\n%s", diff)
	}
	// Dropped by warninglists: the empty-file sha256 of event 1, and in
	// misp_indicators_test five IDS attributes 8.8.8.8 and one hostname
	// google.com (Cisco top 1000), counted by hand in the event file.
	if got := res.header.Get("X-Skipped-Elements-Count"); got != "7" {
		t.Errorf("X-Skipped-Elements-Count = %q, want 7", got)
	}
	if !strings.Contains(res.rawBody, "&ref=mail") {
		t.Errorf("& escaped in body; MISP writes it as is")
	}
	ev := res.attrs[0]["Event"].(map[string]any)
	if ev["threat_level_id"] != "1" || ev["info"] != "custom-misp demo: indicators seen in the bundled sample alerts" ||
		ev["Orgc"].(map[string]any)["name"] != "custom-misp demo" {
		t.Errorf("demo event context = %v", ev)
	}
	var tags []string
	for _, tg := range res.attrs[5]["Tag"].([]any) {
		tags = append(tags, tg.(map[string]any)["name"].(string))
	}
	wantTags := []string{
		`misp-galaxy:mitre-attack-pattern="Exploitation for Privilege Escalation - T1068"`,
		"tlp:amber",
		`misp-galaxy:mitre-attack-pattern="Ingress Tool Transfer - T1105"`,
	}
	if diff := cmp.Diff(wantTags, tags); diff != "" {
		t.Errorf("RTCore64 tags (-want +got):\n%s", diff)
	}
	// The context attribute is there, just not for IDS.
	res = doSearch(t, s, adminKey, `{"value":"104.21.57.203"}`)
	if len(res.attrs) != 1 || res.attrs[0]["to_ids"] != false {
		t.Errorf("104.21.57.203: %v, want one attribute with to_ids false", res.attrs)
	}
}

func TestSearch_BadRequests(t *testing.T) {
	s := mustNew(t, Options{})
	tests := []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"empty POST", "POST", "/attributes/restSearch", "", 400,
			"Either specify the search terms in the url, or POST a json with the filter parameters."},
		{"JSON that is not an object", "POST", "/attributes/restSearch", `["a"]`, 405,
			"Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request."},
		{"trailing garbage", "POST", "/attributes/restSearch", `{"value":"a"} x`, 405,
			"Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request."},
		{"GET with a body", "GET", "/attributes/restSearch", `{"value":"a"}`, 400,
			"Restsearch queries using GET and no parameters are not allowed. If you have passed parameters via a JSON body, make sure you use POST requests."},
		{"other format", "POST", "/attributes/restSearch", `{"value":"a","returnFormat":"csv"}`, 404, "Invalid output format."},
		{"other format in the path", "POST", "/attributes/restSearch/csv", `{"value":"a"}`, 404, "Invalid output format."},
		{"unknown endpoint", "GET", "/nope", "", 404, "Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", adminKey)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			var e map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body not JSON: %v: %s", err, rec.Body)
			}
			want := map[string]string{"name": tc.message, "message": tc.message, "url": tc.path}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Errorf("error body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearch_TimeFilters(t *testing.T) {
	// Event 2 was published at 1795793827, event 7 at 1795800000.
	now := time.Unix(1795800000+1800, 0)
	s := mustNew(t, Options{Events: testEvents(t), Now: func() time.Time { return now }})
	const values = `"value":["8.8.8.8","cdn.evil.example","192.0.2.10"]`
	tests := []struct {
		name, filter string
		want         []hit
	}{
		{"last 1h", `"last":"1h"`, []hit{{"7", "ip-dst", "8.8.8.8"}}},
		{"last 3h", `"last":"3h"`, []hit{{"2", "hostname", "cdn.evil.example"}, {"7", "ip-dst", "8.8.8.8"}}},
		{"last 10m", `"last":"10m"`, nil},
		{"epoch", `"publish_timestamp":1795799000`, []hit{{"7", "ip-dst", "8.8.8.8"}}},
		{"range", `"publish_timestamp":[1795000000,1795799999]`, []hit{{"2", "hostname", "cdn.evil.example"}}},
		{"unreadable delta finds nothing", `"last":"yesterday-ish"`, nil},
		{"attribute timestamp", `"timestamp":"1795793800"`, []hit{{"2", "hostname", "cdn.evil.example"}, {"7", "ip-dst", "8.8.8.8"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := doSearch(t, s, adminKey, "{"+values+","+tc.filter+"}")
			if diff := cmp.Diff(tc.want, res.hits); diff != "" {
				t.Errorf("hits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoad_EmbeddedEvents(t *testing.T) {
	s := mustNew(t, Options{})
	var ids []string
	for _, e := range s.db.events {
		ids = append(ids, e.id)
	}
	// Real ids are kept; the two feed exports without ids get fresh ones
	// above every id seen. Events are held in id order, as MISP's table.
	want := []string{"1", "2", "3", "1255", "1528", "1529", "1530"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("event ids (-want +got):\n%s", diff)
	}
	attrIDs, uuids := map[int64]bool{}, map[string]bool{}
	for _, a := range s.db.attrs {
		if attrIDs[a.num] || uuids[a.uuid] {
			t.Errorf("attribute %d / %s is not unique", a.num, a.uuid)
		}
		attrIDs[a.num], uuids[a.uuid] = true, true
	}
	if len(s.db.attrs) < 400 {
		t.Errorf("%d attributes loaded, want the whole set (> 400)", len(s.db.attrs))
	}
	// One tags table: the same name has the same id in every event.
	byName := map[string]string{}
	for _, e := range s.db.events {
		for _, tg := range e.tags {
			if id, ok := byName[tg.name]; ok && id != tg.id {
				t.Errorf("tag %q has ids %s and %s", tg.name, id, tg.id)
			}
			byName[tg.name] = tg.id
		}
	}
	if byName["tlp:white"] != "10" {
		t.Errorf("tlp:white id = %q, want the captured server's 10", byName["tlp:white"])
	}
	// Loading twice gives the same answers.
	s2 := mustNew(t, Options{})
	if diff := cmp.Diff(s.db.attrs[len(s.db.attrs)-1].uuid, s2.db.attrs[len(s2.db.attrs)-1].uuid); diff != "" {
		t.Errorf("generated uuids differ between loads: %s", diff)
	}
}

func TestLoad_Errors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no files", fstest.MapFS{}, "no *.json files"},
		{"not JSON", fstest.MapFS{"a.json": {Data: []byte("nope")}}, "event a.json"},
		{"a list, not an event", fstest.MapFS{"a.json": {Data: []byte(`[{"Attribute":[]}]`)}}, "event a.json: not a MISP event"},
		{"object as id", fstest.MapFS{"a.json": {Data: []byte(`{"Event":{"id":{}}}`)}}, "event a.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Events: tc.fsys})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"%evil%", "cdn.evil.example", true},
		{"evil%", "cdn.evil.example", false},
		{"%.example", "cdn.evil.example", true},
		{"c_n.%", "cdn.evil.example", true},
		{"%E%", "e", true},
		{"a.c%", "abc", false}, // '.' is literal
		{"%(%", "a(b", true},
	}
	for _, tc := range tests {
		if got := likeRE(tc.pattern).MatchString(tc.value); got != tc.want {
			t.Errorf("like(%q, %q) = %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}

func BenchmarkSearch_IntegrationQuery(b *testing.B) {
	s, err := New(Options{Keys: capturedKeys()})
	if err != nil {
		b.Fatal(err)
	}
	body := `{"returnFormat":"json","value":["203.0.113.5","evil.example","198.51.100.7","update-check-cdn.com","185.220.101.47","44d88612fea8a8f36de82e1278abb02f"],"includeEventTags":1,"includeContext":1,"to_ids":1,"enforceWarninglist":1,"limit":50,"page":1}`
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/attributes/restSearch", strings.NewReader(body))
		req.Header.Set("Authorization", adminKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
		io.Copy(io.Discard, rec.Body)
	}
}
