package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/cache"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// The unit tests of Run's own logic: what it asks MISP, what it remembers,
// what it reports. MISP and the cache are fakes that record every call.

const (
	hashValue = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	testAlert = `{"id":"1700000000.42","rule":{"id":"92000","level":3,"description":"test rule"},
		"agent":{"id":"001","name":"ws","ip":"10.0.0.5"},
		"data":{"srcip":"185.220.101.47","dstip":"45.155.205.233","hostname":"evil-update.xyz","sha256":"` + hashValue + `"}}`
)

var (
	srcIP  = ioc.Indicator{Kind: ioc.IP, Value: "185.220.101.47"}
	dstIP  = ioc.Indicator{Kind: ioc.IP, Value: "45.155.205.233"}
	domain = ioc.Indicator{Kind: ioc.Domain, Value: "evil-update.xyz"}
	hash   = ioc.Indicator{Kind: ioc.SHA256, Value: hashValue}
)

// fakeMISP answers every search with attrs (or err) and records the queries.
type fakeMISP struct {
	attrs   []misp.Attribute
	skipped int
	err     error
	queries []misp.Query
}

func (f *fakeMISP) Search(_ context.Context, q misp.Query) (misp.Answer, error) {
	f.queries = append(f.queries, q)
	var ans misp.Answer
	ans.Attributes = f.attrs
	for range f.skipped {
		ans.Skipped.Add("Event.info")
	}
	return ans, f.err
}

// fakeCache is an in-memory Cache that records what Run stores and reports.
type fakeCache struct {
	answers  map[ioc.Indicator][]misp.Attribute
	puts     map[ioc.Indicator][]misp.Attribute
	gate     cache.Gate
	failed   []misp.Class
	success  int
	noReport bool
	// suppressed is what ShouldReport says was held back before a report.
	suppressed int
}

func newFakeCache() *fakeCache {
	return &fakeCache{answers: map[ioc.Indicator][]misp.Attribute{}, puts: map[ioc.Indicator][]misp.Attribute{}, gate: cache.Gate{Allow: true}}
}

func (c *fakeCache) Get(ind ioc.Indicator) ([]misp.Attribute, bool) {
	a, ok := c.answers[ind]
	return a, ok
}
func (c *fakeCache) Put(ind ioc.Indicator, attrs []misp.Attribute) { c.puts[ind] = attrs }
func (c *fakeCache) Gate() cache.Gate                              { return c.gate }
func (c *fakeCache) Failed(class misp.Class, _ time.Time)          { c.failed = append(c.failed, class) }
func (c *fakeCache) Succeeded()                                    { c.success++ }
func (c *fakeCache) ShouldReport(misp.Class) (bool, int) {
	if c.noReport {
		return false, 0
	}
	return true, c.suppressed
}

// every gives each server of the run sv.
func every(sv Server) func(*config.Config) Server {
	return func(*config.Config) Server { return sv }
}

func attr(id, typ, value string, toIDs bool) misp.Attribute {
	return misp.Attribute{ID: misp.FlexString(id), Type: misp.FlexString(typ), Value: misp.FlexString(value), ToIDs: misp.FlexBool(toIDs),
		EventID: "7", Event: misp.Event{ID: "7", Info: "test event", ThreatLevelID: "1"}}
}

func runWith(t *testing.T, cfg config.Config, doc string, m *fakeMISP, c *fakeCache) Result {
	t.Helper()
	al, err := alert.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := ioc.NewPolicy(nil, nil)
	env := Env{
		Log:    quietLog{},
		Policy: policy,
		Server: every(Server{OpenCache: func() Cache { return c }, Client: func() (Searcher, error) { return m, nil }}),
	}
	res, err := Run(context.Background(), &cfg, al, env)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func matchedValues(res Result) []string {
	var got []string
	for _, e := range res.Events {
		if e.MISP.Error == "" {
			got = append(got, e.MISP.Indicator)
		}
	}
	slices.Sort(got)
	return got
}

func TestRun_AsksOnceForWhatTheCacheLacks(t *testing.T) {
	cfg := config.Default("/var/ossec")
	c := newFakeCache()
	c.answers[srcIP] = []misp.Attribute{attr("1", "ip-src", "185.220.101.47", true)} // a cached hit
	c.answers[hash] = nil                                                            // a cached miss
	m := &fakeMISP{attrs: []misp.Attribute{attr("2", "domain", "evil-update.xyz", true)}}

	res := runWith(t, cfg, testAlert, m, c)

	if len(m.queries) != 1 {
		t.Fatalf("MISP asked %d times, want once", len(m.queries))
	}
	q := m.queries[0]
	if diff := cmp.Diff([]string{"45.155.205.233", "evil-update.xyz"}, slices.Sorted(slices.Values(q.Values))); diff != "" {
		t.Errorf("values asked (-want +got):\n%s", diff)
	}
	// The filters are the configuration's: the default asks for
	// detection-grade attributes only, outside warninglists.
	if q.ToIDs == nil || !*q.ToIDs || !q.EnforceWarninglist || q.Limit != cfg.Limit {
		t.Errorf("query filters = to_ids %v, warninglist %v, limit %d; want to_ids true, warninglist true, limit %d", q.ToIDs, q.EnforceWarninglist, q.Limit, cfg.Limit)
	}
	if res.Cached != 2 || res.Asked != 2 || res.Matched != 2 {
		t.Errorf("cached %d asked %d matched %d, want 2 2 2", res.Cached, res.Asked, res.Matched)
	}
	if diff := cmp.Diff([]string{"185.220.101.47", "evil-update.xyz"}, matchedValues(res)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, e := range res.Events {
		wantCached := e.MISP.Indicator == srcIP.Value
		if got := e.MISP.Cached != nil && *e.MISP.Cached; got != wantCached {
			t.Errorf("event for %s: cached = %v, want %v", e.MISP.Indicator, got, wantCached)
		}
	}
	// Both answers are remembered: the hit, and the miss as an empty answer.
	if got, ok := c.puts[domain]; !ok || len(got) != 1 {
		t.Errorf("hit not cached: %v", got)
	}
	if got, ok := c.puts[dstIP]; !ok || len(got) != 0 {
		t.Errorf("miss not cached as a miss: ok %v, %v", ok, got)
	}
	if _, ok := c.puts[srcIP]; ok {
		t.Error("an answer from the cache was stored again")
	}
	if c.success != 1 || len(c.failed) != 0 {
		t.Errorf("succeeded %d failed %v, want 1 and none", c.success, c.failed)
	}
}

func TestRun_ToIDsOffAsksForEveryAttribute(t *testing.T) {
	cfg := config.Default("/var/ossec")
	no := false
	if err := cfg.Apply(config.Options{ToIDs: &no}); err != nil {
		t.Fatal(err)
	}
	m := &fakeMISP{}
	runWith(t, cfg, testAlert, m, newFakeCache())
	if len(m.queries) != 1 || m.queries[0].ToIDs != nil {
		t.Fatalf("to_ids false must send no to_ids filter, got %+v", m.queries)
	}
}

// MISP matches values case-insensitively: an analyst's EVIL-UPDATE.XYZ or
// an upper-case hash is a match for the alert's lower-case value.
func TestRun_MatchesMISPValuesInAnyCase(t *testing.T) {
	cfg := config.Default("/var/ossec")
	m := &fakeMISP{attrs: []misp.Attribute{
		attr("1", "domain", "EVIL-UPDATE.XYZ", true),
		attr("2", "filename|sha256", "a.exe|9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", true),
	}}
	c := newFakeCache()
	res := runWith(t, cfg, testAlert, m, c)
	if diff := cmp.Diff([]string{hashValue, "evil-update.xyz"}, matchedValues(res)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if len(c.puts[domain]) != 1 || len(c.puts[hash]) != 1 {
		t.Errorf("answers cached as misses: domain %v, hash %v", c.puts[domain], c.puts[hash])
	}
}

// An answer of exactly limit attributes may have lost some values' matches:
// their "no match" is not cached, the matches are.
func TestRun_FullPageMissesAreNotCached(t *testing.T) {
	cfg := config.Default("/var/ossec")
	cfg.Limit = 2
	m := &fakeMISP{attrs: []misp.Attribute{attr("1", "domain", "evil-update.xyz", true), attr("2", "domain", "evil-update.xyz", false)}}
	c := newFakeCache()
	res := runWith(t, cfg, testAlert, m, c)
	if res.Matched != 1 {
		t.Errorf("matched %d, want 1", res.Matched)
	}
	if got := len(c.puts[domain]); got != 2 {
		t.Errorf("the match was cached with %d attributes, want 2", got)
	}
	for _, ind := range []ioc.Indicator{srcIP, dstIP, hash} {
		if _, ok := c.puts[ind]; ok {
			t.Errorf("%s: a miss from a cut answer was cached", ind.Value)
		}
	}

	// One attribute short of the limit: the answer is whole, misses count.
	cfg.Limit = 3
	c = newFakeCache()
	runWith(t, cfg, testAlert, m, c)
	if got, ok := c.puts[srcIP]; !ok || len(got) != 0 {
		t.Errorf("a miss from a whole answer was not cached: ok %v", ok)
	}
}

func TestRun_ClosedGateKeepsCachedAnswers(t *testing.T) {
	cfg := config.Default("/var/ossec")
	c := newFakeCache()
	c.answers[srcIP] = []misp.Attribute{attr("1", "ip-src", "185.220.101.47", true)}
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.gate = cache.Gate{Class: misp.ClassRateLimited, Until: until}
	m := &fakeMISP{}
	res := runWith(t, cfg, testAlert, m, c)
	if len(m.queries) != 0 {
		t.Fatalf("MISP asked while the gate is closed: %+v", m.queries)
	}
	if diff := cmp.Diff([]string{"185.220.101.47"}, matchedValues(res)); diff != "" {
		t.Errorf("cached match lost (-want +got):\n%s", diff)
	}
	last := res.Events[len(res.Events)-1].MISP
	if last.Error != string(misp.ClassRateLimited) || last.Indicators != "3" {
		t.Errorf("error event = %+v, want rate_limited for 3 indicators", last)
	}
	if res.Asked != 0 || len(c.puts) != 0 {
		t.Errorf("asked %d, cached %v: nothing may be asked or stored", res.Asked, c.puts)
	}
}

func TestRun_FailureIsRecordedAndReportedOncePerWindow(t *testing.T) {
	cfg := config.Default("/var/ossec")
	m := &fakeMISP{err: &misp.Error{Class: misp.ClassAuth, Status: 403, Message: "Authentication failed."}}

	c := newFakeCache()
	res := runWith(t, cfg, testAlert, m, c)
	if diff := cmp.Diff([]misp.Class{misp.ClassAuth}, c.failed); diff != "" {
		t.Errorf("failures recorded (-want +got):\n%s", diff)
	}
	if len(res.Events) != 1 || res.Events[0].MISP.Error != "auth" || res.Events[0].MISP.HTTPStatus != "403" {
		t.Errorf("events = %+v, want one auth error event with status 403", res.Events)
	}
	if len(c.puts) != 0 {
		t.Errorf("a failed lookup was cached: %v", c.puts)
	}

	// Inside the report window the failure is still recorded, but silent.
	c = newFakeCache()
	c.noReport = true
	res = runWith(t, cfg, testAlert, m, c)
	if len(res.Events) != 0 || len(c.failed) != 1 {
		t.Errorf("events %+v, failures %v: want no event and one failure", res.Events, c.failed)
	}
}

// TestRun_ErrorEventCarriesSuppressedCount: the error event that is sent
// says how many of its class the cache held back since the last one
// (issue 11, item 9: rule 117650 fires on it); none held back, no field,
// so events stay as they were.
func TestRun_ErrorEventCarriesSuppressedCount(t *testing.T) {
	cfg := config.Default("/var/ossec")
	m := &fakeMISP{err: &misp.Error{Class: misp.ClassUnavailable, Status: 503, Message: "misp search: status 503"}}
	for _, tc := range []struct {
		suppressed int
		want       string
	}{{0, ""}, {1, "1"}, {9, "9"}, {12345, "12345"}} {
		c := newFakeCache()
		c.suppressed = tc.suppressed
		res := runWith(t, cfg, testAlert, m, c)
		if len(res.Events) != 1 || res.Events[0].MISP.Error != "unavailable" {
			t.Fatalf("suppressed %d: events %+v, want one unavailable event", tc.suppressed, res.Events)
		}
		if got := res.Events[0].MISP.Suppressed; got != tc.want {
			t.Errorf("suppressed %d: misp.suppressed = %q, want %q", tc.suppressed, got, tc.want)
		}
	}
}

// TestRun_NoCacheReportsEveryFailure: with caching off nothing is held
// back, so no event carries a count.
func TestRun_NoCacheReportsEveryFailure(t *testing.T) {
	cfg := config.Default("/var/ossec")
	al, err := alert.Parse([]byte(testAlert))
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := ioc.NewPolicy(nil, nil)
	m := &fakeMISP{err: &misp.Error{Class: misp.ClassTimeout, Message: "misp search: timeout"}}
	env := Env{
		Log:    quietLog{},
		Policy: policy,
		Server: every(Server{OpenCache: func() Cache { return NoCache{} }, Client: func() (Searcher, error) { return m, nil }}),
	}
	for i := range 3 {
		res, err := Run(context.Background(), &cfg, al, env)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Events) != 1 || res.Events[0].MISP.Error != "timeout" || res.Events[0].MISP.Suppressed != "" {
			t.Errorf("run %d: events %+v, want one timeout event without a suppressed count", i+1, res.Events)
		}
	}
}

func TestRun_MaxEventsCapsEventsNotMatches(t *testing.T) {
	cfg := config.Default("/var/ossec")
	cfg.MaxEvents = 2
	m := &fakeMISP{attrs: []misp.Attribute{
		attr("1", "ip-src", "185.220.101.47", true), attr("2", "ip-dst", "45.155.205.233", true),
		attr("3", "domain", "evil-update.xyz", true), attr("4", "sha256", hashValue, true),
	}}
	res := runWith(t, cfg, testAlert, m, newFakeCache())
	if res.Matched != 4 || len(res.Events) != 2 {
		t.Errorf("matched %d, events %d; want 4 and 2", res.Matched, len(res.Events))
	}
}

func TestRun_OwnEventsAreNotLookedUp(t *testing.T) {
	own := map[string]string{
		"location misp":       `{"id":"1","location":"misp","rule":{"id":"100","level":3},"data":{"srcip":"185.220.101.47"}}`,
		"decoded by our rule": `{"id":"1","rule":{"id":"117610","level":12,"groups":["misp","misp_match"]},"data":{"srcip":"185.220.101.47"}}`,
	}
	for name, doc := range own {
		t.Run(name, func(t *testing.T) {
			m := &fakeMISP{}
			res := runWith(t, config.Default("/var/ossec"), doc, m, newFakeCache())
			if res.Skipped == "" || len(m.queries) != 0 {
				t.Errorf("own event looked up: skipped %q, %d queries", res.Skipped, len(m.queries))
			}
		})
	}
}

// recordingLog keeps the warnings a run logs.
type recordingLog struct {
	mu       sync.Mutex // the servers' sightings log at once
	warnings []string
}

func (*recordingLog) Debugf(string, ...any) {}
func (*recordingLog) Errorf(string, ...any) {}
func (l *recordingLog) Warnf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

// Issue #10 item 3: the decoded data of a log line cannot opt its alert out.
// The sample Sysmon EID 3 alert with "integration":"misp" added to its data
// is still looked up.
func TestRun_DataCannotOptOut(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/alerts/sysmon-eid3-dropped-binary-to-public-ipv4.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["data"].(map[string]any)["integration"] = "misp"
	forged, _ := json.Marshal(doc)
	m := &fakeMISP{}
	res := runWith(t, config.Default("/var/ossec"), string(forged), m, newFakeCache())
	if res.Skipped != "" || len(m.queries) != 1 || !slices.Contains(m.queries[0].Values, "185.225.74.19") {
		t.Errorf("skipped %q, queries %+v: want 185.225.74.19 asked", res.Skipped, m.queries)
	}
}

// Issue #10 item 6: a part nested past the limit is skipped with one log
// line; the indicators above it are still looked up.
func TestRun_DeepPartSkippedRestLookedUp(t *testing.T) {
	deep := strings.Repeat(`{"x":`, 100) + `"104.21.57.203"` + strings.Repeat("}", 100)
	doc := `{"id":"9","rule":{"id":"1","level":3},"data":{"srcip":"185.220.101.47","blob":` + deep + `}}`
	al, err := alert.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMISP{}
	log := &recordingLog{}
	policy, _ := ioc.NewPolicy(nil, nil)
	cfg := config.Default("/var/ossec")
	_, err = Run(context.Background(), &cfg, al, Env{Log: log, Policy: policy,
		Server: every(Server{OpenCache: func() Cache { return newFakeCache() }, Client: func() (Searcher, error) { return m, nil }})})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.queries) != 1 || !slices.Equal(m.queries[0].Values, []string{"185.220.101.47"}) {
		t.Errorf("queries %+v: want only the top-level 185.220.101.47", m.queries)
	}
	if len(log.warnings) != 1 || !strings.Contains(log.warnings[0], "skipped 1 part(s) nested deeper than 64 levels") {
		t.Errorf("warnings %q: want one about the skipped part", log.warnings)
	}
}

// Issue #10 item 7: an unreadable attribute is skipped, the good matches
// are kept, and a miss from that answer is not cached (the skipped one may
// have been its match).
func TestRun_SkippedAttributeKeepsMatchesAndCachesNoMiss(t *testing.T) {
	m := &fakeMISP{attrs: []misp.Attribute{attr("1", "domain", "evil-update.xyz", true)}, skipped: 1}
	c := newFakeCache()
	log := &recordingLog{}
	al, err := alert.Parse([]byte(testAlert))
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := ioc.NewPolicy(nil, nil)
	cfg := config.Default("/var/ossec")
	res, err := Run(context.Background(), &cfg, al, Env{Log: log, Policy: policy,
		Server: every(Server{OpenCache: func() Cache { return c }, Client: func() (Searcher, error) { return m, nil }})})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"evil-update.xyz"}, matchedValues(res)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if len(c.puts[domain]) != 1 {
		t.Errorf("the match was not cached: %v", c.puts)
	}
	for _, ind := range []ioc.Indicator{srcIP, dstIP, hash} {
		if _, ok := c.puts[ind]; ok {
			t.Errorf("%s: a miss from an answer with a skipped attribute was cached", ind.Value)
		}
	}
	if len(log.warnings) != 2 || !strings.Contains(log.warnings[0], "skipped 1 attribute(s)") || !strings.Contains(log.warnings[1], "3 indicator(s) without a match were not cached") {
		t.Errorf("warnings %q", log.warnings)
	}
}
