package mispclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// The answers below are real MISP 2.5.1 captures (testdata/sync, keys
// never in them): the requests the mirror's sync makes, as the real
// server answered them.

func TestAttributePage_AsksForHitsNotEnforcement(t *testing.T) {
	var body map[string]any
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body: %v", err)
		}
		reply(w, 200, testdata(t, "sync/attributes-restsearch-includeWarninglistHits-event2.json"))
	})
	c, _ := newClient(t, srv.URL, nil)
	on := true
	q := misp.Query{ToIDs: &on, Published: &on, EnforceWarninglist: true, Types: []string{"domain", "hostname"}}
	ans, err := c.AttributePage(context.Background(), q, []string{"2", "13"}, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"returnFormat": "json", "type": []any{"domain", "hostname"}, "eventid": []any{"2", "13"},
		"to_ids": float64(1), "published": float64(1), "includeWarninglistHits": float64(1),
		"includeEventTags": float64(0), "includeContext": float64(0),
		"limit": float64(100), "page": float64(3), "order": "Attribute.id asc",
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("request body (-want +got):\n%s", d)
	}
	// 37 attributes in the capture, 6 of them with warninglist hits.
	if len(ans.Attributes) != 31 || ans.Filtered != 6 || ans.Skipped.Count != 0 {
		t.Errorf("kept %d, filtered %d, skipped %d; want 31, 6, 0", len(ans.Attributes), ans.Filtered, ans.Skipped.Count)
	}
}

func TestAttributePage_RefusesBadInput(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { t.Error("MISP asked") })
	c, _ := newClient(t, srv.URL, nil)
	for name, call := range map[string]func() error{
		"values": func() error {
			_, err := c.AttributePage(context.Background(), misp.Query{Values: []string{"x"}}, nil, 1, 10)
			return err
		},
		"event id": func() error {
			_, err := c.AttributePage(context.Background(), misp.Query{}, []string{"1 OR 1"}, 1, 10)
			return err
		},
		"negated id": func() error {
			_, err := c.AttributePage(context.Background(), misp.Query{}, []string{"!5"}, 1, 10)
			return err
		},
		"limit": func() error {
			_, err := c.AttributePage(context.Background(), misp.Query{}, nil, 1, MaxSyncPage+1)
			return err
		},
		"page":         func() error { _, err := c.AttributePage(context.Background(), misp.Query{}, nil, 0, 10); return err },
		"metadata ids": func() error { _, err := c.EventMetadata(context.Background(), []string{"%"}); return err },
	} {
		if err := call(); misp.ClassOf(err) != misp.ClassConfig {
			t.Errorf("%s: %v, want a config error", name, err)
		}
	}
}

func TestEventIndex_RealShape(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events/index" || r.Method != http.MethodPost {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		w.Header().Set("Date", "Sun, 06 Dec 2026 07:31:02 GMT")
		reply(w, 200, testdata(t, "sync/events-index-minimal.json"))
	})
	c, _ := newClient(t, srv.URL, nil)
	rows, at, err := c.EventIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 6, 7, 31, 2, 0, time.UTC); !at.Equal(want) {
		t.Errorf("MISP's time %v, want %v (its Date header)", at, want)
	}
	if len(rows) != 16 {
		t.Fatalf("%d rows, want 16", len(rows))
	}
	want := misp.EventStamp{ID: "1", UUID: "54884656-2da8-4625-bf07-43ef950d210b", Timestamp: "1418217625", Published: true}
	if rows[0] != want {
		t.Errorf("first row %+v, want %+v", rows[0], want)
	}
}

func TestEventMetadata_RealShape(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, testdata(t, "sync/events-restsearch-metadata-event13.json"))
	})
	c, _ := newClient(t, srv.URL, nil)
	events, err := c.EventMetadata(context.Background(), []string{"13"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if e.ID != "13" || e.Info != "custom-misp real-MISP test: planted group g1" || e.ThreatLevelID != "1" || !bool(e.Published) ||
		e.Orgc.Name != "ORGNAME" || len(e.Tags) != 2 || e.Tags[0].Name != "tlp:green" || e.Timestamp != "1796542025" {
		t.Errorf("event %+v", e)
	}
}

func TestEnabledWarninglists_FingerprintChangesWithEnabledLists(t *testing.T) {
	raw := testdata(t, "sync/warninglists-index.json")
	var doc map[string][]map[string]map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	serve := func() string {
		b, _ := json.Marshal(doc)
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, b) })
		c, _ := newClient(t, srv.URL, nil)
		wl, err := c.EnabledWarninglists(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return wl.Fingerprint
	}
	before := serve()
	if again := serve(); again != before {
		t.Fatalf("fingerprint not stable: %s, %s", before, again)
	}
	// Enable a disabled list: the fingerprint changes.
	for _, w := range doc["Warninglists"] {
		if w["Warninglist"]["enabled"] == false {
			w["Warninglist"]["enabled"] = true
			break
		}
	}
	if after := serve(); after == before {
		t.Errorf("enabling a list left the fingerprint at %s", after)
	}
}

// With exclude_decayed the page asks for the scores and leaves out what
// every model scored decayed: the same rows the real MISP 2.5.1 kept for
// excludeDecayed on the same query (both answers captured, 29 and 8 rows).
func TestAttributePage_DecayAsMISPExcludesIt(t *testing.T) {
	var body map[string]any
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		reply(w, 200, testdata(t, "sync/h-attributes-restsearch-includeDecayScore.json"))
	})
	c, _ := newClient(t, srv.URL, nil)
	ans, err := c.AttributePage(context.Background(), misp.Query{ExcludeDecayed: true}, []string{"2", "3", "13"}, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if body["includeDecayScore"] != float64(1) || body["excludeDecayed"] != nil {
		t.Errorf("request asked %v / %v, want includeDecayScore 1 and no excludeDecayed", body["includeDecayScore"], body["excludeDecayed"])
	}
	var want struct {
		Response struct {
			Attribute []struct {
				ID string `json:"id"`
			} `json:"Attribute"`
		} `json:"response"`
	}
	if err := json.Unmarshal(testdata(t, "sync/h-attributes-restsearch-excludeDecayed.json"), &want); err != nil {
		t.Fatal(err)
	}
	var got, wantIDs []string
	for _, a := range ans.Attributes {
		got = append(got, string(a.ID))
	}
	for _, a := range want.Response.Attribute {
		wantIDs = append(wantIDs, a.ID)
	}
	if d := cmp.Diff(wantIDs, got); d != "" || ans.Filtered != 21 {
		t.Errorf("kept ids (-MISP's excludeDecayed +ours):\n%s; filtered %d, want 21", d, ans.Filtered)
	}
}

func TestEnabledWarninglists_Types(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, testdata(t, "sync/warninglists-index.json"))
	})
	c, _ := newClient(t, srv.URL, nil)
	wl, err := c.EnabledWarninglists(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Enabled in the capture: 76, 59, 58, 30, 14, 11.
	if len(wl.Types) != 6 || !strings.HasPrefix(wl.Fingerprint, "6:") {
		t.Fatalf("%d enabled lists, fingerprint %s; want 6", len(wl.Types), wl.Fingerprint)
	}
	if d := cmp.Diff([]string{"ip-src", "ip-dst", "domain|ip", "ip-src|port", "ip-dst|port"}, wl.Types["58"]); d != "" {
		t.Errorf("list 58's types (-want +got):\n%s", d)
	}
}

// checkValue's real answers: an object of hits (warninglists_checkValue
// capture in the shared MISP responses), or [] when nothing is on a list.
func TestCheckWarninglists(t *testing.T) {
	answer := `{"8.8.8.8":[{"id":"58","name":"List of known IPv4 public DNS resolvers","matched":"8.8.8.8/32"},{"id":"82","name":"Specialized list of vpn-ipv4 addresses belonging to common VPN providers and datacenters","matched":"8.8.8.0/24"}]}`
	var sent []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &sent)
		reply(w, 200, []byte(answer))
	})
	c, _ := newClient(t, srv.URL, nil)
	hits, err := c.CheckWarninglists(context.Background(), []string{"8.8.8.8", "evil.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string][]string{"8.8.8.8": {"58", "82"}}, hits); d != "" || len(sent) != 2 {
		t.Errorf("hits (-want +got):\n%s; sent %q", d, sent)
	}
	answer = "[]"
	if hits, err := c.CheckWarninglists(context.Background(), []string{"evil.example.com"}); err != nil || len(hits) != 0 {
		t.Errorf("no hit: %v, %v", hits, err)
	}
}
