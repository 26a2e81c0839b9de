package mispfake

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The sync captures (testdata/captures/sync, README "The sync
// captures"): the requests a mirror sync makes, answered by the MISP
// 2.5.1 test bed right after set-up (07:30-07:31) and after each change
// of the sync research (experiments a to f10, in the order they were
// made). The fake holds the test bed's set-up data (sync/events) and its
// enabled warninglists cut down to the entries that data hits
// (sync/warninglists).

// syncCapture is one capture file: {"request", "status", "answer", ...}.
type syncCapture struct {
	Request struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
	} `json:"request"`
	Status       int             `json:"status"`
	Key          string          `json:"key"`
	Answer       json.RawMessage `json:"answer"`
	XResultCount *string         `json:"x_result_count"`
}

func readSyncCapture(t *testing.T, name string) syncCapture {
	t.Helper()
	path := filepath.Join("testdata", "captures", "sync", name+".json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// The large answers are stored gzipped.
		var f *os.File
		if f, err = os.Open(path + ".gz"); err == nil {
			defer f.Close()
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(f); err == nil {
				b, err = io.ReadAll(zr)
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var c syncCapture
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// The test bed's admin key and read-only user key (integ.key), standing in.
var (
	tbAdminKey = strings.Repeat("S", 40)
	tbIntegKey = strings.Repeat("U", 40)
)

// syncFake is the test bed right after set-up, with its clock at *now.
func syncFake(t *testing.T, now *time.Time) *Server {
	t.Helper()
	dir := filepath.Join("testdata", "captures", "sync")
	s, err := New(Options{
		Keys: map[string]Key{
			tbAdminKey: {User: "admin@admin.test", SiteAdmin: true},
			tbIntegKey: {User: "integ@test.local", ReadOnly: true},
		},
		Events:       os.DirFS(filepath.Join(dir, "events")),
		Warninglists: os.DirFS(filepath.Join(dir, "warninglists")),
		Now:          func() time.Time { return *now },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// syncInstance are the JSON paths that differ only because the fake is
// another instance: the test bed's organisation ORGNAME has id 1, which
// the fake gives its own TESTORG, so ORGNAME gets another id and an
// event's owner (Org, by org_id 1) is TESTORG.
var syncInstance = []string{
	"response.Attribute.*.Event.orgc_id",
	"response.*.Event.orgc_id", "response.*.Event.Orgc.id", "response.*.Event.Org",
}

// replaySync sends a capture's request to s and compares the answer:
// status, X-Result-Count, and the body as JSON with MISP's key order.
// unordered names lists whose order MISP left to the database (rows
// that tie on the sort key): they are compared sorted by id.
func replaySync(t *testing.T, s *Server, name string, unordered ...string) {
	t.Helper()
	c := readSyncCapture(t, name)
	var body io.Reader
	if len(c.Request.Body) > 0 && string(c.Request.Body) != "null" {
		body = bytes.NewReader(c.Request.Body)
	}
	req := httptest.NewRequest(c.Request.Method, c.Request.Path, body)
	req.Header.Set("Authorization", tbAdminKey)
	if strings.HasPrefix(c.Key, "integ") {
		req.Header.Set("Authorization", tbIntegKey)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)

	if rec.Code != c.Status {
		t.Errorf("%s: status = %d, want %d: %.300s", name, rec.Code, c.Status, rec.Body.String())
		return
	}
	if c.XResultCount != nil && rec.Header().Get("X-Result-Count") != *c.XResultCount {
		t.Errorf("%s: X-Result-Count = %q, want %q", name, rec.Header().Get("X-Result-Count"), *c.XResultCount)
	}
	want, err := decodeOrdered(c.Answer)
	if err != nil {
		t.Fatalf("%s: capture: %v", name, err)
	}
	got, err := decodeOrdered(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("%s: fake: %v: %.300s", name, err, rec.Body.String())
	}
	for _, p := range syncInstance {
		dropOrdered(want, p)
		dropOrdered(got, p)
	}
	for _, p := range unordered {
		sortOrdered(want, p)
		sortOrdered(got, p)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: body (-real +fake):\n%s", name, diff)
	}
}

// replayTies compares a page of attributes ordered by key (a dotted path
// in each attribute) where more rows tie than the page holds: which of
// them make the page is the database's choice, and with it which are
// warninglisted and so the row count and X-Result-Count. What must agree
// is the status and the key values the page holds.
func replayTies(t *testing.T, s *Server, name, key string) {
	t.Helper()
	c := readSyncCapture(t, name)
	rec := send(s, c.Request.Method, c.Request.Path, tbAdminKey, string(c.Request.Body))
	if rec.Code != c.Status {
		t.Fatalf("status %d, want %d", rec.Code, c.Status)
	}
	keys := func(b []byte) []string {
		var out struct {
			Response struct{ Attribute []map[string]any } `json:"response"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, a := range out.Response.Attribute {
			var v any = a
			for _, p := range strings.Split(key, ".") {
				v = v.(map[string]any)[p]
			}
			ks = append(ks, v.(string))
		}
		return slices.Compact(ks)
	}
	if diff := cmp.Diff(keys(c.Answer), keys(rec.Body.Bytes())); diff != "" {
		t.Errorf("%s values (-real +fake):\n%s", key, diff)
	}
}

// jsonObject is a JSON object with its keys in order.
type jsonObject struct {
	Keys []string
	Vals map[string]any
}

// decodeOrdered decodes JSON keeping the key order of objects; numbers
// stay json.Number, so a string "1" and a number 1 differ.
func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		o := &jsonObject{Vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o.Keys = append(o.Keys, k.(string))
			o.Vals[k.(string)] = v
		}
		_, err = dec.Token()
		return o, err
	case '[':
		l := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err = dec.Token()
		return l, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// dropOrdered deletes the value at a dot-separated path; "*" stands for
// every element of a list.
func dropOrdered(v any, path string) {
	head, rest, nested := strings.Cut(path, ".")
	switch x := v.(type) {
	case []any:
		if head == "*" {
			for _, e := range x {
				dropOrdered(e, rest)
			}
		}
	case *jsonObject:
		if !nested {
			if _, ok := x.Vals[head]; ok {
				delete(x.Vals, head)
				x.Keys = slices.DeleteFunc(x.Keys, func(k string) bool { return k == head })
			}
			return
		}
		dropOrdered(x.Vals[head], rest)
	}
}

// sortOrdered sorts the list at path ("" for the root) by its elements'
// id (or their Event's).
func sortOrdered(v any, path string) {
	if path != "" {
		head, rest, _ := strings.Cut(path, ".")
		if o, ok := v.(*jsonObject); ok {
			sortOrdered(o.Vals[head], rest)
		}
		return
	}
	l, _ := v.([]any)
	id := func(e any) string {
		o, _ := e.(*jsonObject)
		if o == nil {
			return ""
		}
		if ev, ok := o.Vals["Event"].(*jsonObject); ok && o.Vals["id"] == nil {
			o = ev
		}
		s, _ := o.Vals["id"].(string)
		return fmt.Sprintf("%012s", s)
	}
	sort.SliceStable(l, func(i, j int) bool { return id(l[i]) < id(l[j]) })
}

// setupTime is a moment after the set-up and before the first change
// (the relative "1d" capture needs one).
var setupTime = time.Unix(1796542100, 0)

// TestGoldenSync_SetUp replays the set-up captures: the minimal events
// index and its filters and paging, events/restSearch with metadata, and
// attributes/restSearch as a full sync pages it.
func TestGoldenSync_SetUp(t *testing.T) {
	now := setupTime
	s := syncFake(t, &now)
	for _, c := range []struct {
		name      string
		unordered []string
		tieKey    string
	}{
		{name: "events-index-minimal"},
		{name: "events-index-minimal-get"},
		{name: "events-index-minimal-userkey"},
		{name: "events-index-minimal-limit5-page1"},
		{name: "events-index-minimal-limit5-page2"},
		{name: "events-index-minimal-limit5-page4"},
		{name: "events-index-minimal-limit5-page99"},
		// Three events share the newest timestamp; MISP's database
		// ordered them 14, 13, 15.
		{name: "events-index-minimal-sort-timestamp-desc", unordered: []string{""}},
		{name: "events-index-minimal-timestamp"},
		{name: "events-index-minimal-timestamp-string"},
		{name: "events-index-minimal-timestamp-range"},
		{name: "events-index-minimal-timestamp-relative-1d"},
		{name: "events-index-minimal-searchtimestamp"},
		{name: "events-index-minimal-publish_timestamp"},
		{name: "events-index-minimal-published0"},
		{name: "events-restsearch-metadata-all"},
		{name: "events-restsearch-metadata-event13"},
		{name: "events-restsearch-metadata-page1-limit3"},
		{name: "events-restsearch-metadata-page99"},
		{name: "events-restsearch-metadata-timestamp"},
		{name: "attributes-restsearch-full-sync-all"},
		{name: "attributes-restsearch-full-sync-published"},
		{name: "attributes-restsearch-full-sync-eventtags"},
		{name: "attributes-restsearch-userkey-full-sync"},
		{name: "attributes-restsearch-page1-limit100"},
		{name: "attributes-restsearch-page8-limit100"},
		{name: "attributes-restsearch-page-beyond-last"},
		{name: "attributes-restsearch-limit-no-page"},
		{name: "attributes-restsearch-no-order-limit5"},
		{name: "attributes-restsearch-order-bogus"},
		{name: "attributes-restsearch-order-id-asc"},
		{name: "attributes-restsearch-order-id-desc"},
		{name: "attributes-restsearch-order-timestamp-asc-bare"},
		// Rows tie on the timestamp: MISP (MariaDB) returned them in
		// descending id order, and so does the fake.
		{name: "attributes-restsearch-order-timestamp-desc"},
		{name: "attributes-restsearch-order-event-publish-timestamp-desc", tieKey: "Event.publish_timestamp"},
		{name: "attributes-restsearch-ordered-page1-limit100"},
		{name: "attributes-restsearch-ordered-page7-limit100"},
		{name: "attributes-restsearch-limit1-page1-row44"},
		{name: "attributes-restsearch-limit1-page2-row95"},
		{name: "attributes-restsearch-limit1-page3-only-row-warninglisted"},
		{name: "attributes-restsearch-limit1-page4-row113-after-empty-page"},
		{name: "attributes-restsearch-limit1-page5-beyond-last"},
		{name: "attributes-restsearch-deleted-01"},
		{name: "attributes-restsearch-eventid-list"},
		{name: "attributes-restsearch-enforceWarninglist-event2"},
		{name: "attributes-restsearch-includeWarninglistHits-event2"},
		{name: "decaying-models-index-setup"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.tieKey != "" {
				replayTies(t, s, c.name, c.tieKey)
				return
			}
			replaySync(t, s, c.name, c.unordered...)
		})
	}
}

// experiment is one change of the sync research, made through the fake's
// Go API at the time MISP made it.
type experiment struct {
	slug   string
	cursor int64
	change func(s *Server) error
}

// The research's changes in the order it made them (experiments.json);
// between f8 and f9 it enabled a warninglist and a decaying model and
// added a sighting and disabled the list again, which no capture below
// depends on.
var experiments = []experiment{
	{"a-add-attribute", 1796542354, func(s *Server) error {
		_, err := s.AddAttribute("3", NewAttribute{Type: "ip-dst", Category: "Network activity", Value: "45.95.168.201",
			ToIDs: true, Comment: "sync research: added", UUID: addedUUID})
		return err
	}},
	{"a2-publish-after-add", 1796542369, func(s *Server) error { return s.Publish("3") }},
	{"b-edit-value", 1796542372, func(s *Server) error { return s.EditValue("220", "http://decrypttozxybarc.onion/pay") }},
	{"c1-soft-delete", 1796542375, func(s *Server) error { return s.SoftDelete("384") }},
	{"c2-hard-delete", 1796542378, func(s *Server) error { return s.HardDelete("12") }},
	{"c3-hard-delete-after-soft", 1796542381, func(s *Server) error { return s.HardDelete("384") }},
	{"d-to_ids-off", 1796542384, func(s *Server) error { return s.SetToIDs("70", false) }},
	{"d2-publish-after-to_ids-off", 1796542387, func(s *Server) error { return s.Publish("2") }},
	{"e1-unpublish", 1796542405, func(s *Server) error { return s.Unpublish("11") }},
	{"e1b-republish", 1796542408, func(s *Server) error { return s.Publish("11") }},
	{"e1c-publish-unchanged", 1796542411, func(s *Server) error { return s.Publish("11") }},
	{"e2-delete-event", 1796542414, func(s *Server) error { return s.DeleteEvent("9") }},
	{"f1-event-add-tlp-rejected-exclusive", 1796542417, func(s *Server) error {
		if err := s.TagEvent("8", "tlp:amber"); err == nil {
			return errors.New("a second tlp tag was accepted")
		}
		return nil
	}},
	{"f2-event-remove-tlp", 1796542420, func(s *Server) error { return s.UntagEvent("8", "tlp:white") }},
	{"f3-event-add-galaxy", 1796542423, func(s *Server) error { return s.TagEvent("8", phishing) }},
	{"f4-event-remove-galaxy", 1796542426, func(s *Server) error { return s.UntagEvent("8", phishing) }},
	{"f5-attribute-add-tag", 1796542429, func(s *Server) error { return s.TagAttribute("218", "tlp:red") }},
	{"f6-attribute-remove-tag", 1796542432, func(s *Server) error { return s.UntagAttribute("218", "tlp:red") }},
	{"f7-attribute-add-galaxy", 1796542435, func(s *Server) error { return s.TagAttribute("218", phishing) }},
	{"f1b-event-add-tlp-after-remove", 1796542460, func(s *Server) error { return s.TagEvent("8", "tlp:amber") }},
	{"f8-attribute-remove-galaxy", 1796542463, func(s *Server) error { return s.UntagAttribute("218", phishing) }},
	{"f9-publish-event8", 1796542633, func(s *Server) error { return s.Publish("8") }},
	{"f10-event-add-galaxy-on-published", 1796542636, func(s *Server) error { return s.TagEvent("8", phishing) }},
}

const (
	phishing = `misp-galaxy:mitre-attack-pattern="Phishing - T1566"`
	// addedUUID is the uuid MISP gave the attribute added in experiment a
	// (a-add-attribute--attributes-restsearch-timestamp-deleted01.json).
	addedUUID = "3760be85-57eb-402e-b2c1-8882b560c0f6"
)

// experimentQueries are the queries the research ran after each change
// (SLUG--NAME.json), those that exist for that change.
var experimentQueries = []string{
	"events-index-minimal", "events-index-minimal-timestamp", "events-index-minimal-publish_timestamp",
	"attributes-restsearch-timestamp-deleted01", "attributes-restsearch-timestamp-deleted01-plan-filters",
	"attributes-restsearch-timestamp-default-deleted", "attributes-restsearch-event_timestamp-deleted01",
	"attributes-restsearch-eventid-deleted01", "attributes-restsearch-timestamp-deleted01-userkey",
	"events-restsearch-metadata-timestamp",
}

// TestGoldenSync_Changes makes the research's changes, in order and at
// their time, on one fake holding the set-up data, and after each one
// replays the queries MISP answered then: the timestamps, published
// flags, deleted rows and tags each change leaves behind must be MISP's.
func TestGoldenSync_Changes(t *testing.T) {
	now := setupTime
	s := syncFake(t, &now)
	for _, e := range experiments {
		now = time.Unix(e.cursor, 0)
		if err := e.change(s); err != nil {
			t.Fatalf("%s: %v", e.slug, err)
		}
		for _, q := range experimentQueries {
			name := e.slug + "--" + q
			if !syncCaptureExists(name) {
				continue
			}
			replaySync(t, s, name)
		}
	}
}

func syncCaptureExists(name string) bool {
	for _, ext := range []string{".json", ".json.gz"} {
		if _, err := os.Stat(filepath.Join("testdata", "captures", "sync", name+ext)); err == nil {
			return true
		}
	}
	return false
}
