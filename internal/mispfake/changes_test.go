package mispfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a settable clock for a fake.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// post sends a JSON body and decodes the JSON answer into out.
func post(t *testing.T, h http.Handler, key, path, body string, out any) http.Header {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s %s: status %d: %.300s", path, body, rec.Code, rec.Body.String())
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("POST %s: %v: %.300s", path, err, rec.Body.String())
		}
	}
	return rec.Header()
}

type indexRow struct {
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Published bool   `json:"published"`
}

type lean struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	Timestamp string `json:"timestamp"`
	ToIDs     bool   `json:"to_ids"`
	Deleted   bool   `json:"deleted"`
	Value     string `json:"value"`
	Tag       []struct {
		Name string `json:"name"`
	} `json:"Tag"`
}

func attrsOf(t *testing.T, s *Server, body string) []lean {
	t.Helper()
	var out struct {
		Response struct{ Attribute []lean } `json:"response"`
	}
	post(t, s, adminKey, "/attributes/restSearch", body, &out)
	return out.Response.Attribute
}

func indexOf(t *testing.T, s *Server) map[string]indexRow {
	t.Helper()
	var rows []indexRow
	post(t, s, adminKey, "/events/index", `{"minimal": 1}`, &rows)
	m := map[string]indexRow{}
	for _, r := range rows {
		m[r.ID] = r
	}
	return m
}

// TestChanges_Timestamps makes each change kind and checks what the sync
// queries show afterwards, as the research table in changes.go says.
func TestChanges_Timestamps(t *testing.T) {
	const t0, t1 = 1800000000, 1800000100
	c := &clock{now: time.Unix(t0, 0)}
	s := mustNew(t, Options{Events: testEvents(t), Now: c.Now})
	c.Set(time.Unix(t1, 0))
	since := fmt.Sprintf(`{"returnFormat":"json","timestamp":%d,"deleted":[0,1]}`, t1)
	ts := fmt.Sprint(t1)

	// Event 7 (extra): published, attributes 70-74.
	type want struct {
		eventTS   bool // the event's timestamp is t1
		published bool
		changed   []string // attribute ids the timestamp query returns
	}
	for _, tc := range []struct {
		name   string
		change func() error
		want   want
	}{
		{"add attribute", func() error {
			_, err := s.AddAttribute("7", NewAttribute{Type: "domain", Category: "Network activity", Value: "new.example.com", ToIDs: true})
			return err
		}, want{true, false, []string{"75"}}},
		{"publish", func() error { return s.Publish("7") }, want{false, true, nil}},
		{"edit value", func() error { return s.EditValue("70", "2001:db8::99") }, want{true, false, []string{"70"}}},
		{"publish again", func() error { return s.Publish("7") }, want{false, true, nil}},
		{"to_ids off", func() error { return s.SetToIDs("71", false) }, want{true, false, []string{"71"}}},
		{"soft delete", func() error { return s.SoftDelete("72") }, want{true, false, []string{"72"}}},
		{"hard delete", func() error { return s.HardDelete("74") }, want{true, false, nil}},
		{"tag attribute", func() error { return s.TagAttribute("71", "tlp:red") }, want{true, false, []string{"71"}}},
		{"publish once more", func() error { return s.Publish("7") }, want{false, true, nil}},
		{"untag attribute", func() error { return s.UntagAttribute("71", "tlp:red") }, want{false, true, nil}},
		{"tag event", func() error { return s.TagEvent("7", `misp-galaxy:mitre-attack-pattern="Phishing - T1566"`) }, want{true, false, nil}},
		{"publish last", func() error { return s.Publish("7") }, want{false, true, nil}},
		{"unpublish", func() error { return s.Unpublish("7") }, want{false, false, nil}},
		{"untag event", func() error { return s.UntagEvent("7", "tlp:green") }, want{true, false, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each change starts from an event timestamp before t1, so a
			// bump shows.
			s.dbMu.Lock()
			s.db.eventByID["7"].eventTS = t0
			for _, a := range s.db.eventByID["7"].attrs {
				a.ts = t0
			}
			s.dbMu.Unlock()
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			row := indexOf(t, s)["7"]
			if got := row.Timestamp == ts; got != tc.want.eventTS {
				t.Errorf("event timestamp %s, bumped = %v, want %v", row.Timestamp, got, tc.want.eventTS)
			}
			if row.Published != tc.want.published {
				t.Errorf("published = %v, want %v", row.Published, tc.want.published)
			}
			var ids []string
			for _, a := range attrsOf(t, s, since) {
				ids = append(ids, a.ID)
			}
			if diff := cmp.Diff(tc.want.changed, ids); diff != "" {
				t.Errorf("attributes with a new timestamp (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("second tlp tag refused", func(t *testing.T) {
		before := indexOf(t, s)["1"]
		if err := s.TagEvent("1", "tlp:red"); err == nil || !strings.Contains(err.Error(), "exclusive") {
			t.Errorf("TagEvent = %v, want the tlp exclusivity refusal", err)
		}
		if after := indexOf(t, s)["1"]; after != before {
			t.Errorf("a refused tag changed the event: %+v → %+v", before, after)
		}
	})
	t.Run("delete event", func(t *testing.T) {
		if err := s.DeleteEvent("7"); err != nil {
			t.Fatal(err)
		}
		if _, ok := indexOf(t, s)["7"]; ok {
			t.Error("a deleted event is still in the index")
		}
		if got := attrsOf(t, s, `{"returnFormat":"json","eventid":[7],"deleted":[0,1]}`); len(got) != 0 {
			t.Errorf("a deleted event's attributes are still found: %v", got)
		}
		if got := attrsOf(t, s, `{"returnFormat":"json","value":"2001:db8::99"}`); len(got) != 0 {
			t.Errorf("the value index still finds a deleted event's attribute: %v", got)
		}
	})
	t.Run("unknown ids", func(t *testing.T) {
		for name, err := range map[string]error{
			"edit":    s.EditValue("999999", "x"),
			"publish": s.Publish("999999"),
			"untag":   s.UntagEvent("1", "no-such-tag"),
			"add": func() error {
				_, err := s.AddAttribute("999999", NewAttribute{Type: "domain", Value: "x.com"})
				return err
			}(),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
	})
}

// TestChanges_SoftDeletedRows checks what a sync sees of a soft delete:
// only with "deleted", marked deleted, also for a read-only key, and the
// minimal index drops an event whose last attribute is deleted.
func TestChanges_SoftDeletedRows(t *testing.T) {
	one := `{"Event": {"id": "9", "info": "one", "published": true, "distribution": "3", "timestamp": "1700000000",
		"Attribute": [{"id": "90", "type": "domain", "category": "Network activity", "to_ids": true, "value": "only.example.com"}]}}`
	s := mustNew(t, Options{Events: fstest.MapFS{"09.json": {Data: []byte(one)}}})
	if err := s.SoftDelete("90"); err != nil {
		t.Fatal(err)
	}
	if got := attrsOf(t, s, `{"returnFormat":"json","eventid":[9]}`); len(got) != 0 {
		t.Errorf("without deleted: %v, want nothing", got)
	}
	var out struct {
		Response struct{ Attribute []lean } `json:"response"`
	}
	post(t, s, readonlyKey, "/attributes/restSearch", `{"returnFormat":"json","eventid":[9],"deleted":[0,1]}`, &out)
	if got := out.Response.Attribute; len(got) != 1 || !got[0].Deleted {
		t.Errorf("read-only key with deleted [0,1]: %+v, want the row marked deleted", got)
	}
	if _, ok := indexOf(t, s)["9"]; ok {
		t.Error("the minimal index lists an event without attributes left")
	}
	var meta struct {
		Response []struct {
			Event struct {
				AttributeCount string `json:"attribute_count"`
			}
		} `json:"response"`
	}
	post(t, s, adminKey, "/events/restSearch", `{"returnFormat":"json","metadata":1,"eventid":9}`, &meta)
	if len(meta.Response) != 1 || meta.Response[0].Event.AttributeCount != "0" {
		t.Errorf("events/restSearch: %+v, want the event with attribute_count 0", meta.Response)
	}
}

func TestRandomChanges_Deterministic(t *testing.T) {
	run := func(seed int64) ([]Change, []byte) {
		s := synthetic(t, 20000, 200, 1)
		changes, err := s.RandomChanges(1000, seed)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.encodeSearch(query{}, s.db.attrs)
		return changes, b
	}
	c1, d1 := run(5)
	c2, d2 := run(5)
	c3, _ := run(6)
	if diff := cmp.Diff(c1, c2); diff != "" || string(d1) != string(d2) {
		t.Errorf("the same seed gave other changes:\n%s", diff)
	}
	if cmp.Equal(c1, c3) {
		t.Error("another seed gave the same changes")
	}
	kinds := map[string]int{}
	events := map[string]bool{}
	for _, c := range c1 {
		kinds[c.Kind]++
		events[c.Event] = true
	}
	for kind, want := range map[string]int{"add": 300, "edit": 250, "to_ids": 150, "soft_delete": 150, "hard_delete": 150} {
		if got := kinds[kind]; got < want*7/10 || got > want*13/10 {
			t.Errorf("%d %s changes, want about %d", got, kind, want)
		}
	}
	if len(events) < 100 {
		t.Errorf("changes touched %d events of 200, want them spread", len(events))
	}
}

func TestRandomChanges_Endpoint(t *testing.T) {
	s := mustNew(t, Options{})
	req := func(key, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mispfake/changes", strings.NewReader(body))
		r.Header.Set("Authorization", key)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		return rec
	}
	if rec := req(readonlyKey, `{"count":1}`); rec.Code != http.StatusForbidden {
		t.Errorf("read-only key: status %d, want 403", rec.Code)
	}
	for _, bad := range []string{`{"count":-1}`, `{"count":"x"}`, `nope`} {
		if rec := req(adminKey, bad); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, rec.Code)
		}
	}
	rec := req(adminKey, `{"count":5,"seed":3}`)
	var out struct{ Changes []Change }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || len(out.Changes) != 5 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	for _, c := range out.Changes {
		if c.Kind == "" || c.Event == "" || c.Attribute == "" {
			t.Errorf("incomplete change %+v", c)
		}
	}
}

// TestPaging_EveryRowOnce pages a synthetic set as a sync would, plainly
// and by event chunks, with changes between pages retiring the cache: no
// row is lost or repeated when nothing changes, and a page after a change
// is cut from the new rows, as from MISP's table.
func TestPaging_EveryRowOnce(t *testing.T) {
	s := synthetic(t, 8000, 200, 9)
	page := func(extra string, limit, p int) []lean {
		return attrsOf(t, s, fmt.Sprintf(`{"returnFormat":"json","order":"Attribute.id asc","limit":%d,"page":%d%s}`, limit, p, extra))
	}
	all := attrsOf(t, s, `{"returnFormat":"json"}`)
	var want []string
	for _, a := range all {
		want = append(want, a.ID)
	}
	collect := func(extra string, limit int) []string {
		var ids []string
		for p := 1; ; p++ {
			rows := page(extra, limit, p)
			if len(rows) == 0 {
				return ids
			}
			for _, a := range rows {
				ids = append(ids, a.ID)
			}
		}
	}
	if diff := cmp.Diff(want, collect("", 500)); diff != "" {
		t.Errorf("plain paging (-all +paged):\n%s", diff)
	}
	var chunked []string
	for lo := 1; lo <= 200; lo += 50 {
		var ids []string
		for e := lo; e < lo+50; e++ {
			ids = append(ids, fmt.Sprint(e))
		}
		b, _ := json.Marshal(ids)
		chunked = append(chunked, collect(`,"eventid":`+string(b), 300)...)
	}
	slices.SortFunc(chunked, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	if diff := cmp.Diff(want, chunked); diff != "" {
		t.Errorf("paging by event chunks (-all +paged):\n%s", diff)
	}
	if got := page("", 500, 17); len(got) != 0 {
		t.Errorf("a page past the end has %d rows", len(got))
	}

	first := page("", 100, 1)
	if err := s.HardDelete(first[0].ID); err != nil {
		t.Fatal(err)
	}
	second := page("", 100, 2)
	if second[0].ID != want[101] {
		t.Errorf("after a delete, page 2 starts at %s, want %s (the rows moved up by one)", second[0].ID, want[101])
	}
}

// TestChanges_Concurrent runs searches and changes together under the
// race detector.
func TestChanges_Concurrent(t *testing.T) {
	s := synthetic(t, 5000, 50, 2)
	search := func(body string) {
		req := httptest.NewRequest(http.MethodPost, "/attributes/restSearch", strings.NewReader(body))
		req.Header.Set("Authorization", adminKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("status %d", rec.Code)
		}
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for p := 1; p <= 10; p++ {
				search(fmt.Sprintf(`{"returnFormat":"json","order":"Attribute.id asc","limit":500,"page":%d,"value":"x%d"}`, p, i))
				search(fmt.Sprintf(`{"returnFormat":"json","limit":500,"page":%d}`, p))
				search(fmt.Sprintf(`{"returnFormat":"json","eventid":[%d,%d],"limit":50,"page":%d}`, p, p+10, p))
			}
		})
	}
	wg.Go(func() {
		if _, err := s.RandomChanges(200, 1); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
}

// BenchmarkPaging pages 200,000 synthetic attributes as a sync does,
// 5,000 a page in id order, with the plan's filters.
func BenchmarkPaging(b *testing.B) {
	s := synthetic(b, 200_000, 4000, 1)
	types := `["ip-src","ip-dst","ip-dst|port","domain","hostname","domain|ip","url","md5","sha1","sha256","filename|sha256","filename|md5"]`
	for b.Loop() {
		for p := 1; ; p++ {
			body := fmt.Sprintf(`{"returnFormat":"json","type":%s,"to_ids":1,"enforceWarninglist":1,"order":"Attribute.id asc","limit":5000,"page":%d}`, types, p)
			req := httptest.NewRequest(http.MethodPost, "/attributes/restSearch", strings.NewReader(body))
			req.Header.Set("Authorization", adminKey)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if n, _ := strconv.Atoi(rec.Header().Get("X-Result-Count")); n < 5000 {
				break
			}
		}
	}
}
