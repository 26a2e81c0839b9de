package enrich

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// The unit tests of sightings: what is sent, when, and what is
// remembered. The store and MISP are fakes; the e2e tests use the real
// ones.

// memory is an in-memory SightingMemory with the store's semantics: a
// pair is due when it was not sent within the window.
type memory struct {
	mu      sync.Mutex
	sent    map[string]time.Time // agent + " " + uuid
	until   time.Time
	refused int
	opens   int
	open    bool
}

func newMemory() *memory { return &memory{sent: map[string]time.Time{}} }

func (m *memory) Due(now time.Time, window time.Duration, agent string, uuids []string) []string {
	var due []string
	for _, u := range uuids {
		if at, ok := m.sent[agent+" "+u]; !ok || now.Sub(at) >= window {
			due = append(due, u)
		}
	}
	return due
}
func (m *memory) Sent(now time.Time, _ time.Duration, agent string, uuids []string) error {
	for _, u := range uuids {
		m.sent[agent+" "+u] = now
	}
	return nil
}
func (m *memory) Refused(now time.Time, window time.Duration) bool {
	m.refused++
	report := !now.Before(m.until)
	m.until = now.Add(window)
	return report
}
func (m *memory) RefusedUntil() time.Time { return m.until }
func (m *memory) Close() error {
	m.open = false
	m.mu.Unlock()
	return nil
}

// sighter records each batch; err, if set, is its answer. It notes
// whether the memory was held while it was asked.
type sighter struct {
	mem     *memory
	batches [][]misp.Sighting
	err     error
	held    bool
}

func (s *sighter) AddSightings(_ context.Context, b []misp.Sighting) (misp.SightingResult, error) {
	s.batches = append(s.batches, b)
	if s.mem != nil && s.mem.open {
		s.held = true
	}
	if s.err != nil {
		return misp.SightingResult{}, s.err
	}
	return misp.SightingResult{Added: len(b), Requests: 1}, nil
}

// sightWorld is one server's fakes.
type sightWorld struct {
	mem    *memory
	client *sighter
}

func sightHooks(worlds map[string]*sightWorld, emitted *[]event.Message) Hooks {
	var mu sync.Mutex
	return Hooks{
		Sighter: func(srv *config.Config) (Sighter, error) { return worlds[srv.Name].client, nil },
		OpenSightings: func(srv *config.Config) (SightingMemory, error) {
			m := worlds[srv.Name].mem
			m.mu.Lock()
			m.opens++
			m.open = true
			return m, nil
		},
		Emit: func(_ time.Time, _ *alert.Alert, ev []event.Message) error {
			mu.Lock()
			defer mu.Unlock()
			*emitted = append(*emitted, ev...)
			return nil
		},
	}
}

func sightingConfig() config.Config {
	cfg := config.Default("/var/ossec")
	cfg.CacheOn = false // no pause state: openCache gives NoCache
	cfg.Sightings = config.Sightings{Enabled: true, Window: time.Hour}
	return cfg
}

const sightAlert = `{"id":"1700000000.42","timestamp":"2026-12-01T10:00:00.000+0000","rule":{"id":"92000","level":3},
	"agent":{"id":"007","name":"ws"},"manager":{"name":"mgr1"},"data":{"srcip":"185.220.101.47"}}`

func matchesOf(srv *config.Config, uuids ...string) []Match {
	var attrs []misp.Attribute
	for _, u := range uuids {
		a := attr("1", "ip-src", "185.220.101.47", true)
		a.UUID = misp.FlexString(u)
		attrs = append(attrs, a)
	}
	return []Match{{Server: srv, Attributes: attrs}}
}

func parseSightAlert(t *testing.T) *alert.Alert {
	t.Helper()
	a, err := alert.Parse([]byte(sightAlert))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var t0 = time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC)

// One batch per server with every matched attribute once, the alert's
// time and the manager's source; the memory is not held while MISP is
// asked; a second alert within the window sends nothing, one after it
// sends again.
func TestSight_OncePerWindowInOneBatch(t *testing.T) {
	cfg := sightingConfig()
	w := &sightWorld{mem: newMemory()}
	w.client = &sighter{mem: w.mem}
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"misp": w}, &emitted)
	a := parseSightAlert(t)
	matches := append(matchesOf(&cfg, uuidOf(1), uuidOf(2)), matchesOf(&cfg, uuidOf(2), uuidOf(3))...)

	sight(context.Background(), &cfg, a, matches, t0.Add(time.Minute), t0, quietLog{}, h)
	want := [][]misp.Sighting{{
		{AttributeUUID: uuidOf(1), Value: "185.220.101.47", Type: misp.Seen, Source: "wazuh-mgr1", Timestamp: 1796119200},
		{AttributeUUID: uuidOf(2), Value: "185.220.101.47", Type: misp.Seen, Source: "wazuh-mgr1", Timestamp: 1796119200},
		{AttributeUUID: uuidOf(3), Value: "185.220.101.47", Type: misp.Seen, Source: "wazuh-mgr1", Timestamp: 1796119200},
	}}
	if diff := cmp.Diff(want, w.client.batches); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	if w.client.held {
		t.Error("the sighting memory was held while MISP was asked")
	}

	// Within the window: nothing; one new attribute: only it.
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1), uuidOf(2), uuidOf(4)), t0.Add(30*time.Minute).Add(time.Minute), t0.Add(30*time.Minute), quietLog{}, h)
	if len(w.client.batches) != 2 || len(w.client.batches[1]) != 1 || w.client.batches[1][0].AttributeUUID != uuidOf(4) {
		t.Errorf("second alert within the window sent %v, want only u4", w.client.batches[1:])
	}
	// After the window: again.
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1)), t0.Add(61*time.Minute).Add(time.Minute), t0.Add(61*time.Minute), quietLog{}, h)
	if len(w.client.batches) != 3 {
		t.Errorf("after the window: %d batches, want 3", len(w.client.batches))
	}
	if len(emitted) != 0 {
		t.Errorf("sightings that went through emitted %v", emitted)
	}
}

// The window is per agent: the same attribute seen on another agent is
// sighted again.
func TestSight_WindowIsPerAgent(t *testing.T) {
	cfg := sightingConfig()
	w := &sightWorld{mem: newMemory(), client: &sighter{}}
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"misp": w}, &emitted)
	a := parseSightAlert(t)
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1)), t0.Add(time.Minute), t0, quietLog{}, h)
	a.Agent.ID = "008"
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1)), t0.Add(time.Minute), t0, quietLog{}, h)
	if len(w.client.batches) != 2 {
		t.Errorf("%d batches, want one per agent (2)", len(w.client.batches))
	}
}

// A key that may not add sightings: one error event (rule 117652) and a
// warning per window, no retry within it, and nothing remembered as sent.
func TestSight_RefusedOncePerWindow(t *testing.T) {
	cfg := sightingConfig()
	w := &sightWorld{mem: newMemory(), client: &sighter{err: &misp.Error{Class: misp.ClassForbidden, Status: 403, Message: "the key's role lacks perm_sighting"}}}
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"misp": w}, &emitted)
	a := parseSightAlert(t)

	log := &recordingLog{}
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1)), t0.Add(time.Minute), t0, log, h)
	if len(emitted) != 1 || emitted[0].MISP.Error != "forbidden" || emitted[0].MISP.HTTPStatus != "403" ||
		emitted[0].MISP.Message != "the key's role lacks perm_sighting" {
		t.Fatalf("emitted %+v, want one forbidden event", emitted)
	}
	// One server is not named, as in the lookups' lines (seen on a real
	// manager: "sightings to MISP misp refused").
	if len(log.warnings) != 1 || !strings.HasPrefix(log.warnings[0], "alert 1700000000.42: sightings refused: the key's role lacks perm_sighting; ") {
		t.Errorf("warnings %q, want one, without a server name", log.warnings)
	}
	// Within the window: not even tried.
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(2)), t0.Add(10*time.Minute).Add(time.Minute), t0.Add(10*time.Minute), quietLog{}, h)
	if len(w.client.batches) != 1 || len(emitted) != 1 {
		t.Errorf("within the window: %d batches, %d events; want 1 and 1", len(w.client.batches), len(emitted))
	}
	// After it: tried again, and reported again if still refused.
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1)), t0.Add(61*time.Minute).Add(time.Minute), t0.Add(61*time.Minute), quietLog{}, h)
	if len(w.client.batches) != 2 || len(emitted) != 2 {
		t.Errorf("after the window: %d batches, %d events; want 2 and 2", len(w.client.batches), len(emitted))
	}
	if len(w.mem.sent) != 0 {
		t.Errorf("refused sightings were remembered as sent: %v", w.mem.sent)
	}
}

// A failing MISP (not a refusal) is logged, not remembered: the next
// alert tries again.
func TestSight_FailureIsRetriedNextAlert(t *testing.T) {
	cfg := sightingConfig()
	w := &sightWorld{mem: newMemory(), client: &sighter{err: &misp.Error{Class: misp.ClassUnavailable, Status: 503, Message: "service unavailable"}}}
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"misp": w}, &emitted)
	a := parseSightAlert(t)
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1)), t0.Add(time.Minute), t0, quietLog{}, h)
	sight(context.Background(), &cfg, a, matchesOf(&cfg, uuidOf(1)), t0.Add(time.Minute).Add(time.Minute), t0.Add(time.Minute), quietLog{}, h)
	if len(w.client.batches) != 2 || len(emitted) != 0 || w.mem.refused != 0 {
		t.Errorf("%d batches, %d events, %d refusals; want 2, 0, 0", len(w.client.batches), len(emitted), w.mem.refused)
	}
}

// Several servers: each gets the attributes it matched, only where
// sightings are on; a refusal event names its server.
func TestSight_SeveralServers(t *testing.T) {
	cfg := sightingConfig()
	cfg.Name, cfg.MISPURL = "corp", "https://misp.corp.example"
	circl, other := cfg, cfg
	circl.Name = "circl"
	other.Name, other.Sightings.Enabled = "other", false
	cfg.Others = []config.Config{circl, other}
	srvs := cfg.All()
	corpW := &sightWorld{mem: newMemory(), client: &sighter{}}
	circlW := &sightWorld{mem: newMemory(), client: &sighter{err: &misp.Error{Class: misp.ClassForbidden, Status: 403, Message: "no perm_sighting"}}}
	otherW := &sightWorld{mem: newMemory(), client: &sighter{}}
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"corp": corpW, "circl": circlW, "other": otherW}, &emitted)
	matches := append(append(matchesOf(srvs[0], uuidOf(11)), matchesOf(srvs[1], uuidOf(21), uuidOf(22))...), matchesOf(srvs[2], uuidOf(31))...)

	log := &recordingLog{}
	sight(context.Background(), &cfg, parseSightAlert(t), matches, t0.Add(time.Minute), t0, log, h)
	if len(log.warnings) != 1 || !strings.HasPrefix(log.warnings[0], "alert 1700000000.42: sightings to MISP circl refused: no perm_sighting; ") {
		t.Errorf("warnings %q, want circl's refusal, named", log.warnings)
	}
	uuids := func(w *sightWorld) [][]string {
		var out [][]string
		for _, b := range w.client.batches {
			var u []string
			for _, s := range b {
				u = append(u, s.AttributeUUID)
			}
			out = append(out, u)
		}
		return out
	}
	if diff := cmp.Diff([][]string{{uuidOf(11)}}, uuids(corpW)); diff != "" {
		t.Errorf("corp (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{uuidOf(21), uuidOf(22)}}, uuids(circlW)); diff != "" {
		t.Errorf("circl (-want +got):\n%s", diff)
	}
	if len(otherW.client.batches) != 0 || otherW.mem.opens != 0 {
		t.Errorf("a server with sightings off was asked or its memory opened")
	}
	if len(emitted) != 1 || emitted[0].MISP.Instance != "circl" || emitted[0].MISP.Message != "MISP circl: no perm_sighting" {
		t.Errorf("emitted %+v, want circl's refusal, named", emitted)
	}
}

// A sighter that never answers is cut off by the run's deadline.
type hangingSighter struct{ asked *int }

func (h hangingSighter) AddSightings(ctx context.Context, _ []misp.Sighting) (misp.SightingResult, error) {
	*h.asked++
	<-ctx.Done()
	return misp.SightingResult{}, ctx.Err()
}

func TestSight_DeadlineBoundsIt(t *testing.T) {
	cfg := sightingConfig()
	mem := newMemory()
	var asked int
	h := Hooks{
		Sighter: func(*config.Config) (Sighter, error) { return hangingSighter{&asked}, nil },
		OpenSightings: func(*config.Config) (SightingMemory, error) {
			mem.mu.Lock()
			return mem, nil
		},
	}
	// The deadline has passed (another server's lookup used the run up):
	// MISP is not even asked, so the doomed request cannot count against
	// it, and nothing is remembered.
	sight(context.Background(), &cfg, parseSightAlert(t), matchesOf(&cfg, uuidOf(1)), t0.Add(-time.Second), t0, quietLog{}, h)
	if asked != 0 || len(mem.sent) != 0 {
		t.Errorf("past the deadline: asked %d times, %d remembered; want 0 and 0", asked, len(mem.sent))
	}
	// With time left, a MISP that never answers is cut off by it.
	sight(context.Background(), &cfg, parseSightAlert(t), matchesOf(&cfg, uuidOf(1)), t0.Add(time.Second), t0, quietLog{}, h)
	if asked != 1 || len(mem.sent) != 0 {
		t.Errorf("hanging MISP: asked %d times, %d remembered; want 1 and 0", asked, len(mem.sent))
	}
}

// MISP rejecting the key itself (revoked, expired) during sightings keeps
// its class, auth (rule 117641), and is held back per window like a
// refusal.
func TestSight_AuthKeepsItsClass(t *testing.T) {
	cfg := sightingConfig()
	w := &sightWorld{mem: newMemory(), client: &sighter{err: &misp.Error{Class: misp.ClassAuth, Status: 401, Message: "Authentication failed."}}}
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"misp": w}, &emitted)
	sight(context.Background(), &cfg, parseSightAlert(t), matchesOf(&cfg, uuidOf(1)), t0.Add(time.Minute), t0, quietLog{}, h)
	if len(emitted) != 1 || emitted[0].MISP.Error != "auth" || emitted[0].MISP.Message != "sightings refused: Authentication failed." {
		t.Errorf("emitted %+v, want one auth event", emitted)
	}
}

// A refusal time further ahead than one window means the clock went back:
// it does not silence sightings beyond a window.
func TestSight_ClockBackDoesNotSilence(t *testing.T) {
	cfg := sightingConfig()
	w := &sightWorld{mem: newMemory(), client: &sighter{}}
	w.mem.until = t0.Add(30 * 24 * time.Hour)
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"misp": w}, &emitted)
	sight(context.Background(), &cfg, parseSightAlert(t), matchesOf(&cfg, uuidOf(1)), t0.Add(time.Minute), t0, quietLog{}, h)
	if len(w.client.batches) != 1 {
		t.Errorf("%d batches, want 1: a refusal a month ahead is a clock step, not a refusal", len(w.client.batches))
	}
}

// An attribute UUID from MISP that is not a UUID is left out, not sent
// (it would make MISP refuse the batch); an alert time in the future is
// replaced by now.
func TestSight_OddAttributeAndFutureAlert(t *testing.T) {
	cfg := sightingConfig()
	w := &sightWorld{mem: newMemory(), client: &sighter{}}
	var emitted []event.Message
	h := sightHooks(map[string]*sightWorld{"misp": w}, &emitted)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) // before the alert's 2026-12-01
	sight(context.Background(), &cfg, parseSightAlert(t), matchesOf(&cfg, "not-a-uuid", uuidOf(2)), now.Add(time.Minute), now, quietLog{}, h)
	if len(w.client.batches) != 1 || len(w.client.batches[0]) != 1 {
		t.Fatalf("batches %+v, want one with the valid UUID only", w.client.batches)
	}
	if s := w.client.batches[0][0]; s.AttributeUUID != uuidOf(2) || s.Timestamp != now.Unix() {
		t.Errorf("sent %+v, want %s stamped now (%d)", s, uuidOf(2), now.Unix())
	}
}

// uuidOf is a valid attribute UUID for the tests.
func uuidOf(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
