package mispclient

import (
	"context"
	"encoding/json"
	"github.com/custom-misp/custom-misp/internal/misp"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// TestSearch_RequestShape checks the wire request against the request a
// real MISP 2.5.1 answered (testdata/restsearch_full_query.request.json)
// plus our order, and the decoding of that real answer.
func TestSearch_RequestShape(t *testing.T) {
	for _, tc := range []struct {
		name, base, path string
	}{
		{"root", "", "/attributes/restSearch"},
		{"under a path", "/misp/", "/misp/attributes/restSearch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != tc.path || r.URL.RawQuery != "" {
					t.Errorf("request %s %s, want POST %s", r.Method, r.URL, tc.path)
				}
				for h, want := range map[string]string{
					"Authorization": testKey,
					"Accept":        "application/json",
					"Content-Type":  "application/json",
					"User-Agent":    "custom-misp/1.2.3",
				} {
					if v := r.Header.Get(h); v != want {
						t.Errorf("header %s = %q, want %q", h, v, want)
					}
				}
				b, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(b, &got); err != nil {
					t.Errorf("body %q: %v", b, err)
				}
				reply(w, 200, testdata(t, "restsearch_full_query.json"))
			})
			c, _ := newClient(t, srv.URL+tc.base, func(c *Config) { c.UserAgent = "custom-misp/1.2.3" })
			attrs, err := c.Search(context.Background(), misp.Query{
				Values:             []string{"203.0.113.5", "evil.example", "198.51.100.7", "cdn.evil.example", "44d88612fea8a8f36de82e1278abb02f"},
				ToIDs:              ptr(true),
				EnforceWarninglist: true,
				Limit:              50,
			})
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal(testdata(t, "restsearch_full_query.request.json"), &want); err != nil {
				t.Fatal(err)
			}
			want["order"] = "timestamp desc"
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}

			// The three attributes of testdata/restsearch_full_query.json.
			type row struct{ ID, Type, Value, EventID, EventUUID, Info, Org, Threat string }
			var rows []row
			for _, a := range attrs {
				rows = append(rows, row{string(a.ID), string(a.Type), string(a.Value), string(a.EventID),
					string(a.Event.UUID), string(a.Event.Info), string(a.Event.Orgc.Name), string(a.Event.ThreatLevelID)})
			}
			wantRows := []row{
				{"3", "domain", "evil.example", "1", "2233a47f-4c18-4cdd-b58e-b63de45f8a4d", "Integration test event: phishing campaign infra", "TESTORG", "2"},
				{"8", "hostname", "cdn.evil.example", "2", "841ab8c5-c051-4a23-9481-c6e5efaadb64", "Integration test event 2: scanning activity", "TESTORG", "3"},
				{"9", "domain", "evil.example", "2", "841ab8c5-c051-4a23-9481-c6e5efaadb64", "Integration test event 2: scanning activity", "TESTORG", "3"},
			}
			if d := cmp.Diff(wantRows, rows); d != "" {
				t.Errorf("attributes (-want +got):\n%s", d)
			}
			wantTags := []misp.Tag{{Name: "tlp:white", Inherited: true}, {Name: `misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"`, Inherited: true}}
			if d := cmp.Diff(wantTags, attrs[0].Tags); d != "" {
				t.Errorf("tags of attribute 3 (-want +got):\n%s", d)
			}
			if !attrs[0].ToIDs || attrs[0].Event.Published || !attrs[1].Event.Published {
				t.Errorf("flags: to_ids %v, published %v/%v; want true, false/true", attrs[0].ToIDs, attrs[0].Event.Published, attrs[1].Event.Published)
			}
		})
	}
}

func TestSearch_Body(t *testing.T) {
	base := map[string]any{
		"returnFormat": "json", "value": []any{"203.0.113.5"}, "includeEventTags": 1.0, "includeContext": 1.0,
		"limit": 100.0, "page": 1.0, "order": "timestamp desc",
	}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		q    misp.Query
		want map[string]any
	}{
		{"defaults send no optional filter", misp.Query{}, base},
		{"to_ids false and published true", misp.Query{ToIDs: ptr(false), Published: ptr(true)}, with("to_ids", 0.0, "published", 1.0)},
		{"types", misp.Query{Types: []string{"ip-dst", "ip-dst|port", "domain|ip"}}, with("type", []any{"ip-dst", "ip-dst|port", "domain|ip"})},
		{"tags and exclusions", misp.Query{Tags: []string{"tlp:white", `misp-galaxy:mitre-attack-pattern="Web Protocols - T1071.001"`}, ExcludeTags: []string{"false-positive"}},
			with("tags", []any{"tlp:white", `misp-galaxy:mitre-attack-pattern="Web Protocols - T1071.001"`, "!false-positive"})},
		{"warninglist and limit", misp.Query{EnforceWarninglist: true, Limit: misp.MaxLimit}, with("enforceWarninglist", 1.0, "limit", float64(misp.MaxLimit))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				json.Unmarshal(b, &got)
				reply(w, 200, testdata(t, "restsearch_no_match.json"))
			})
			c, _ := newClient(t, srv.URL, nil)
			tc.q.Values = []string{"203.0.113.5"}
			if _, err := c.Search(context.Background(), tc.q); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
}

// TestSearch_Refused: values and tags MISP would read as filter syntax
// never leave the process.
func TestSearch_Refused(t *testing.T) {
	many := make([]string, misp.MaxValues+1)
	for i := range many {
		many[i] = "evil.example"
	}
	for _, tc := range []struct {
		name string
		q    misp.Query
		msg  string
	}{
		{"negation", misp.Query{Values: []string{"evil.example", "!203.0.113.5"}}, `search: value "!203.0.113.5" is not safe to send (MISP filter syntax or control characters)`},
		{"leading wildcard", misp.Query{Values: []string{"%evil.example"}}, `search: value "%evil.example" is not safe to send (MISP filter syntax or control characters)`},
		{"trailing wildcard", misp.Query{Values: []string{"evil.example%"}}, `search: value "evil.example%" is not safe to send (MISP filter syntax or control characters)`},
		{"and split", misp.Query{Values: []string{"a.example&&b.example"}}, `search: value "a.example&&b.example" is not safe to send (MISP filter syntax or control characters)`},
		{"or split", misp.Query{Values: []string{"a.example||b.example"}}, `search: value "a.example||b.example" is not safe to send (MISP filter syntax or control characters)`},
		{"empty value", misp.Query{Values: []string{""}}, `search: value "" is not safe to send (MISP filter syntax or control characters)`},
		{"newline", misp.Query{Values: []string{"evil.example\nx"}}, `search: value "evil.example\nx" is not safe to send (MISP filter syntax or control characters)`},
		{"too long", misp.Query{Values: []string{"http://x/" + strings.Repeat("a", maxValueLen)}}, "search: value of 8201 bytes, at most 8192"},
		{"too many", misp.Query{Values: many}, "search: 1001 values, at most 1000 per request"},
		{"type with wildcard", misp.Query{Values: []string{"evil.example"}, Types: []string{"ip-%"}}, `search: type "ip-%" is not a MISP attribute type`},
		{"empty tag", misp.Query{Values: []string{"evil.example"}, Tags: []string{""}}, `tags: tag "" is empty or holds MISP filter syntax (!, %, &&, ||)`},
		{"negated tag", misp.Query{Values: []string{"evil.example"}, Tags: []string{"!tlp:red"}}, `tags: tag "!tlp:red" is empty or holds MISP filter syntax (!, %, &&, ||)`},
		{"like tag", misp.Query{Values: []string{"evil.example"}, Tags: []string{"tlp:%"}}, `tags: tag "tlp:%" is empty or holds MISP filter syntax (!, %, &&, ||)`},
		{"inner like tag", misp.Query{Values: []string{"evil.example"}, ExcludeTags: []string{"a%b"}}, `exclude_tags: tag "a%b" is empty or holds MISP filter syntax (!, %, &&, ||)`},
		{"double negation", misp.Query{Values: []string{"evil.example"}, ExcludeTags: []string{"!x"}}, `exclude_tags: tag "!x" is empty or holds MISP filter syntax (!, %, &&, ||)`},
		{"negative limit", misp.Query{Values: []string{"evil.example"}, Limit: -1}, "search: limit -1: want 1 to 1000"},
		{"huge limit", misp.Query{Values: []string{"evil.example"}, Limit: misp.MaxLimit + 1}, "search: limit 1001: want 1 to 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, testdata(t, "restsearch_no_match.json")) })
			c, _ := newClient(t, srv.URL, nil)
			_, err := c.Search(context.Background(), tc.q)
			e := asError(t, err)
			if e.Class != misp.ClassConfig || e.Message != tc.msg {
				t.Errorf("got %s %q, want config %q", e.Class, e.Message, tc.msg)
			}
			if n := srv.hits.Load(); n != 0 {
				t.Errorf("%d request(s) reached MISP", n)
			}
		})
	}
}

func TestSearch_NoValuesNoRequest(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, testdata(t, "restsearch_full_query.json")) })
	c, _ := newClient(t, srv.URL, nil)
	attrs, err := c.Search(context.Background(), misp.Query{})
	if attrs != nil || err != nil || srv.hits.Load() != 0 {
		t.Errorf("got %v, %v after %d request(s); want nil, nil, none", attrs, err, srv.hits.Load())
	}
}

func TestSearch_DropsDeleted(t *testing.T) {
	var doc map[string]map[string][]map[string]any
	if err := json.Unmarshal(testdata(t, "restsearch_full_query.json"), &doc); err != nil {
		t.Fatal(err)
	}
	doc["response"]["Attribute"][1]["deleted"] = true // attribute 8
	body, _ := json.Marshal(doc)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, body) })
	c, _ := newClient(t, srv.URL, nil)
	attrs, err := c.Search(context.Background(), misp.Query{Values: []string{"evil.example"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range attrs {
		ids = append(ids, string(a.ID))
	}
	if d := cmp.Diff([]string{"3", "9"}, ids); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
}

// TestSearchAnswer_SkipsUnreadableAttributes: in the real MISP 2.5.1
// answer with attributes 3, 8 and 9, one attribute with a field of an
// unexpected JSON type is left out and counted; the others still match.
// The odd values hold "SECRET" to show that the count's line never quotes
// an attribute.
func TestSearchAnswer_SkipsUnreadableAttributes(t *testing.T) {
	type edit func(attrs []any)
	field := func(i int, path string, v any) edit {
		return func(attrs []any) {
			m := attrs[i].(map[string]any)
			keys := strings.Split(path, ".")
			for _, k := range keys[:len(keys)-1] {
				m = m[k].(map[string]any)
			}
			m[keys[len(keys)-1]] = v
		}
	}
	element := func(i int, v any) edit { return func(attrs []any) { attrs[i] = v } }
	for _, tc := range []struct {
		name    string
		edits   []edit
		wantIDs []string
		want    misp.Skipped
	}{
		{"all readable", nil, []string{"3", "8", "9"}, misp.Skipped{}},
		{"Event.info is an object", []edit{field(0, "Event.info", map[string]any{"SECRET": 1})},
			[]string{"8", "9"}, misp.Skipped{Count: 1, Fields: []string{"Event.info"}}},
		{"Tag is a string", []edit{field(1, "Tag", "SECRET")},
			[]string{"3", "9"}, misp.Skipped{Count: 1, Fields: []string{"Tag"}}},
		{"a tag name is a list", []edit{field(2, "Tag", []any{map[string]any{"name": []any{"SECRET"}}})},
			[]string{"3", "8"}, misp.Skipped{Count: 1, Fields: []string{"Tag.name"}}},
		{"to_ids is an object", []edit{field(2, "to_ids", map[string]any{"SECRET": true})},
			[]string{"3", "8"}, misp.Skipped{Count: 1, Fields: []string{"to_ids"}}},
		{"two bad fields in two attributes", []edit{field(0, "Event.Orgc.name", []any{"SECRET"}), field(2, "value", map[string]any{})},
			[]string{"8"}, misp.Skipped{Count: 2, Fields: []string{"Event.Orgc.name", "value"}}},
		{"the same bad field twice", []edit{field(0, "Event.info", []any{}), field(1, "Event.info", map[string]any{})},
			[]string{"9"}, misp.Skipped{Count: 2, Fields: []string{"Event.info"}}},
		{"an element that is a string", []edit{element(1, "SECRET")},
			[]string{"3", "9"}, misp.Skipped{Count: 1, Fields: []string{"attribute"}}},
		{"an element that is null", []edit{element(0, nil)},
			[]string{"8", "9"}, misp.Skipped{Count: 1, Fields: []string{"attribute"}}},
		{"every attribute bad", []edit{field(0, "Event", "SECRET"), field(1, "Event", "SECRET"), field(2, "Event", "SECRET")},
			nil, misp.Skipped{Count: 3, Fields: []string{"Event"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]map[string][]any
			if err := json.Unmarshal(testdata(t, "restsearch_full_query.json"), &doc); err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.edits {
				e(doc["response"]["Attribute"])
			}
			body, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, body) })
			c, _ := newClient(t, srv.URL, nil)
			a, err := c.SearchAnswer(context.Background(), misp.Query{Values: []string{"evil.example", "cdn.evil.example"}})
			if err != nil {
				t.Fatalf("got %v, want the readable attributes", err)
			}
			var ids []string
			for _, attr := range a.Attributes {
				ids = append(ids, string(attr.ID))
			}
			if d := cmp.Diff(tc.wantIDs, ids); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.want, a.Skipped); d != "" {
				t.Errorf("skipped (-want +got):\n%s", d)
			}
			if line := a.Skipped.String(); strings.Contains(line, "SECRET") {
				t.Errorf("the skipped line quotes an attribute: %q", line)
			}
		})
	}
}

// TestSearch_Responses maps MISP's answers to results and error classes.
// MISP texts come from testdata (real captures) or, for the 403 variants
// not captured, from MISP's source as quoted in misp-and-peers.md §4.4.
func TestSearch_Responses(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name    string
		status  int
		ctype   string
		body    []byte
		header  map[string]string
		nAttrs  int
		class   misp.Class
		message string
	}{
		{name: "no match", status: 200, body: testdata(t, "restsearch_no_match.json")},
		{name: "older empty list", status: 200, body: []byte(`{"response":[]}`)},
		{name: "empty response object", status: 200, body: []byte(`{"response":{}}`)},
		{name: "context and tags", status: 200, body: testdata(t, "restsearch_context_and_tags.json"), nAttrs: 7},
		{name: "bad key", status: 403, body: testdata(t, "restsearch_bad_key.json"), class: misp.ClassAuth,
			message: "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header."},
		{name: "disabled user", status: 403, body: mispError("Authentication failed. Your user account has been disabled."), class: misp.ClassAuth,
			message: "Authentication failed. Your user account has been disabled."},
		{name: "expired key", status: 403, body: mispError("Auth key is expired"), class: misp.ClassAuth, message: "Auth key is expired"},
		{name: "ip restricted", status: 403, body: mispError("It is not possible to use this Auth key from your IP address"), class: misp.ClassAuth,
			message: "It is not possible to use this Auth key from your IP address"},
		{name: "no permission", status: 403, body: testdata(t, "readonly_servers_serverSettings.json"), class: misp.ClassAuth,
			message: "You do not have permission to use this functionality."},
		{name: "401 without body", status: 401, ctype: "text/plain", class: misp.ClassAuth, message: "unauthorized"},
		{name: "role may not search", status: 405, body: mispError("API searches are not allowed for this user role."), class: misp.ClassAuth,
			message: "API searches are not allowed for this user role."},
		{name: "malformed json", status: 405, body: testdata(t, "restsearch_malformed_json.json"), class: misp.ClassBadResponse,
			message: "Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request."},
		{name: "not found", status: 404, body: testdata(t, "servers_getSetting_unknown.json"), class: misp.ClassBadResponse, message: "Setting MISP.no_such_setting is invalid."},
		{name: "internal error", status: 500, body: testdata(t, "servers_serverSettings_internal_error.json"), class: misp.ClassUnavailable, message: "An Internal Error Has Occurred."},
		{name: "bad gateway html", status: 502, ctype: "text/html", body: []byte("<html>proxy error</html>"), class: misp.ClassUnavailable, message: "bad gateway"},
		{name: "rate limited", status: 429, body: mispError("Rate limit exceeded."), header: map[string]string{"X-Rate-Limit-Reset": "900"},
			class: misp.ClassRateLimited, message: "Rate limit exceeded."},
		{name: "redirect to login", status: 302, header: map[string]string{"Location": "https://misp.example/users/login"}, class: misp.ClassBadResponse,
			message: "redirected to https://misp.example/users/login; check hook_url (scheme, port, path)"},
		{name: "redirect with credentials", status: 307, header: map[string]string{"Location": "https://" + testKey + "@misp.example/users/login?key=" + testKey}, class: misp.ClassBadResponse,
			message: "redirected to https://misp.example/users/login; check hook_url (scheme, port, path)"},
		{name: "html login page", status: 200, ctype: "text/html; charset=UTF-8", body: []byte("<!DOCTYPE html><html>login</html>"), class: misp.ClassBadResponse,
			message: "response is not the expected JSON (content-type text/html; charset=UTF-8): invalid character '<' looking for beginning of value"},
		{name: "truncated json", status: 200, body: []byte(`{"response": {"Attribute": [{"id":"3"`), class: misp.ClassBadResponse,
			message: "response is not the expected JSON (content-type application/json; charset=UTF-8): unexpected end of JSON input"},
		{name: "error object with 200", status: 200, body: mispError("Something"), class: misp.ClassBadResponse,
			message: `response is not the expected JSON (content-type application/json; charset=UTF-8): no "response" key`},
		{name: "response is a string", status: 200, body: []byte(`{"response":"x"}`), class: misp.ClassBadResponse,
			message: `response is not the expected JSON (content-type application/json; charset=UTF-8): "response" is not an object`},
		{name: "attribute list is an object", status: 200, body: []byte(`{"response":{"Attribute":{"id":"3"}}}`), class: misp.ClassBadResponse,
			message: `response is not the expected JSON (content-type application/json; charset=UTF-8): "Attribute" is not a list`},
		{name: "an attribute truncated", status: 200, body: []byte(`{"response":{"Attribute":[{"id":"3","Event":{"info":"x"}},{"id":"8","Event":{"info":`), class: misp.ClassBadResponse,
			message: "response is not the expected JSON (content-type application/json; charset=UTF-8): unexpected end of JSON input"},
		{name: "multi-line reason", status: 403, body: mispError("line one\nline two\t tab"), class: misp.ClassAuth, message: "line one line two tab"},
		{name: "long reason", status: 403, body: mispError(long), class: misp.ClassAuth, message: strings.Repeat("x", maxMessage-1) + "…"},
		{name: "reason echoing the key", status: 403, body: mispError("Auth key " + testKey + " is expired"), class: misp.ClassAuth, message: "Auth key <api_key> is expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				ct := tc.ctype
				if ct == "" {
					ct = "application/json; charset=UTF-8"
				}
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(tc.status)
				w.Write(tc.body)
			})
			c, _ := newClient(t, srv.URL, func(c *Config) { c.Retries = 0 })
			attrs, err := c.Search(context.Background(), misp.Query{Values: []string{"203.0.113.5"}})
			if tc.class == "" {
				if err != nil || len(attrs) != tc.nAttrs {
					t.Fatalf("got %d attributes, %v; want %d, nil", len(attrs), err, tc.nAttrs)
				}
				return
			}
			e := asError(t, err)
			want := &misp.Error{Class: tc.class, Status: tc.status, Message: tc.message}
			if d := cmp.Diff(want, e, cmp.Comparer(func(a, b *misp.Error) bool {
				return a.Class == b.Class && a.Status == b.Status && a.Message == b.Message
			})); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
		})
	}
}

// BenchmarkSearch is one whole lookup over loopback: request, the real
// three-attribute answer, decoding.
func BenchmarkSearch(b *testing.B) {
	body, err := os.ReadFile("testdata/restsearch_full_query.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(body)
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey, AllowHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	q := misp.Query{Values: []string{"203.0.113.5", "evil.example", "198.51.100.7", "cdn.evil.example"}, ToIDs: ptr(true)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Search(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}
