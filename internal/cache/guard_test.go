package cache

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

func TestGate_RateLimit(t *testing.T) {
	tests := []struct {
		name      string
		reset     time.Duration // X-Rate-Limit-Reset relative to now; 0 = none
		wantUntil time.Duration
	}{
		{name: "reset given", reset: 90 * time.Second, wantUntil: 90 * time.Second},
		{name: "no reset", wantUntil: time.Minute},
		{name: "reset in the past", reset: -time.Second, wantUntil: time.Minute},
		{name: "reset beyond MISP's window", reset: 24 * time.Hour, wantUntil: 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			start := k.t
			var reset time.Time
			if tt.reset != 0 {
				reset = start.Add(tt.reset)
			}
			until := start.Add(tt.wantUntil)
			denied := Gate{Class: misp.ClassRateLimited, Until: until}
			run(t, o, func(c *Cache) {
				if diff := cmp.Diff(Gate{Allow: true}, c.Gate()); diff != "" {
					t.Errorf("Gate before 429 (-want +got):\n%s", diff)
				}
				c.Failed(misp.ClassRateLimited, reset)
				if diff := cmp.Diff(denied, c.Gate()); diff != "" {
					t.Errorf("Gate after 429, same run (-want +got):\n%s", diff)
				}
			})
			// Later runs skip MISP until the reset, then resume.
			k.t = until.Add(-time.Nanosecond)
			run(t, o, func(c *Cache) {
				if diff := cmp.Diff(denied, c.Gate()); diff != "" {
					t.Errorf("Gate just before reset (-want +got):\n%s", diff)
				}
			})
			k.t = until
			run(t, o, func(c *Cache) {
				if diff := cmp.Diff(Gate{Allow: true}, c.Gate()); diff != "" {
					t.Errorf("Gate at reset (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestGate_Circuit walks the breaker through its states, one run (open,
// gate, outcome, close) per step, so every transition crosses a reopen.
func TestGate_Circuit(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	allow := Gate{Allow: true}
	probe := Gate{Allow: true, Probe: true}
	open := func(class misp.Class, d time.Duration) Gate {
		return Gate{Class: class, Until: k.t.Add(d)}
	}
	type outcome int
	const (
		none outcome = iota
		fail
		succeed
	)
	steps := []struct {
		name    string
		advance time.Duration
		want    func() Gate
		class   misp.Class // of the failure
		outcome outcome
	}{
		{name: "first failure", want: func() Gate { return allow }, class: misp.ClassUnavailable, outcome: fail},
		{name: "second failure", want: func() Gate { return allow }, class: misp.ClassTimeout, outcome: fail},
		{name: "third failure opens", want: func() Gate { return allow }, class: misp.ClassUnavailable, outcome: fail},
		{name: "open", want: func() Gate { return open(misp.ClassUnavailable, 30*time.Second) }},
		{name: "still open", advance: 30*time.Second - time.Nanosecond, want: func() Gate { return open(misp.ClassUnavailable, time.Nanosecond) }},
		{name: "probe not used", advance: time.Nanosecond, want: func() Gate { return probe }},
		{name: "probe fails", want: func() Gate { return probe }, class: misp.ClassTimeout, outcome: fail},
		{name: "reopened longer", want: func() Gate { return open(misp.ClassTimeout, time.Minute) }},
		{name: "second probe fails", advance: time.Minute, want: func() Gate { return probe }, class: misp.ClassUnavailable, outcome: fail},
		{name: "reopened longer again", want: func() Gate { return open(misp.ClassUnavailable, 2*time.Minute) }},
		{name: "third probe fails", advance: 2 * time.Minute, want: func() Gate { return probe }, class: misp.ClassUnavailable, outcome: fail},
		{name: "fourth probe fails", advance: 4 * time.Minute, want: func() Gate { return probe }, class: misp.ClassUnavailable, outcome: fail},
		{name: "doubled to 8 min", want: func() Gate { return open(misp.ClassUnavailable, 8*time.Minute) }},
		{name: "fifth probe fails", advance: 8 * time.Minute, want: func() Gate { return probe }, class: misp.ClassUnavailable, outcome: fail},
		{name: "at the cap", want: func() Gate { return open(misp.ClassUnavailable, 10*time.Minute) }},
		{name: "probe succeeds", advance: 10 * time.Minute, want: func() Gate { return probe }, outcome: succeed},
		{name: "closed", want: func() Gate { return allow }},
		{name: "failure after close", want: func() Gate { return allow }, class: misp.ClassUnavailable, outcome: fail},
		{name: "count restarted", want: func() Gate { return allow }, class: misp.ClassUnavailable, outcome: fail},
		{name: "success resets count", want: func() Gate { return allow }, outcome: succeed},
		{name: "one failure after success", want: func() Gate { return allow }, class: misp.ClassUnavailable, outcome: fail},
		{name: "auth failure is not counted", want: func() Gate { return allow }, class: misp.ClassAuth, outcome: fail},
		{name: "auth pause", want: func() Gate { return open(misp.ClassAuth, authPause) }},
		{name: "bad response is not counted", advance: authPause, want: func() Gate { return allow }, class: misp.ClassBadResponse, outcome: fail},
		{name: "second counted failure", want: func() Gate { return allow }, class: misp.ClassTimeout, outcome: fail},
		{name: "still closed", want: func() Gate { return allow }},
	}
	for _, s := range steps {
		k.Advance(s.advance)
		run(t, o, func(c *Cache) {
			if diff := cmp.Diff(s.want(), c.Gate()); diff != "" {
				t.Fatalf("%s: Gate (-want +got):\n%s", s.name, diff)
			}
			switch s.outcome {
			case fail:
				c.Failed(s.class, time.Time{})
			case succeed:
				c.Succeeded()
			}
		})
	}
}

func TestGate_RateLimitClosesCircuit(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	run(t, o, func(c *Cache) {
		for range circuitThreshold {
			c.Failed(misp.ClassUnavailable, time.Time{})
		}
	})
	k.Advance(coolDownBase)
	run(t, o, func(c *Cache) {
		if g := c.Gate(); !g.Probe {
			t.Fatalf("Gate = %+v, want a probe", g)
		}
		// MISP answered: it is up, only rate-limited.
		c.Failed(misp.ClassRateLimited, k.t.Add(10*time.Second))
	})
	k.Advance(10 * time.Second)
	run(t, o, func(c *Cache) {
		if diff := cmp.Diff(Gate{Allow: true}, c.Gate()); diff != "" {
			t.Errorf("Gate after the reset (-want +got):\n%s", diff)
		}
	})
}

func TestCache_ShouldReport(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	type step struct {
		advance time.Duration
		class   misp.Class
		want    bool
	}
	steps := []step{
		{class: misp.ClassUnavailable, want: true},
		{class: misp.ClassUnavailable, want: false},
		{class: misp.ClassTimeout, want: true}, // classes are independent
		{advance: time.Minute, class: misp.ClassUnavailable, want: false},
		{advance: 4*time.Minute - time.Nanosecond, class: misp.ClassTimeout, want: false},
		{class: misp.ClassUnavailable, want: false},
		{advance: time.Nanosecond, class: misp.ClassUnavailable, want: true}, // window over
		{class: misp.ClassUnavailable, want: false},
		{class: misp.ClassTimeout, want: true},
		{class: misp.ClassRateLimited, want: true},
		{class: misp.ClassRateLimited, want: false},
	}
	// Each step is a run: the windows persist across reopens.
	for i, s := range steps {
		k.Advance(s.advance)
		run(t, o, func(c *Cache) {
			if got, _ := c.ShouldReport(s.class); got != s.want {
				t.Errorf("step %d (%s at +%v): ShouldReport = %v, want %v", i, s.class, k.t.Sub(newClock().t), got, s.want)
			}
		})
	}
	// Within one run too.
	run(t, o, func(c *Cache) {
		first, _ := c.ShouldReport(misp.ClassAuth)
		second, _ := c.ShouldReport(misp.ClassAuth)
		if !first || second {
			t.Errorf("ShouldReport twice in a run: want true then false")
		}
	})
}

// TestCache_ClockStepBack: a store written while the clock was a day ahead
// is read after the clock is set back (issue 10, item 4). Every stored
// instant is bounded by now plus its own window (429: 15 min, MISP's
// window; circuit: the cool-down; auth pause: 5 min; error reports: the
// report window), and answers stored in the future are of unknown age, so
// misses: the step costs at most one window, not a day.
func TestCache_ClockStepBack(t *testing.T) {
	const ahead = 24 * time.Hour
	type check struct {
		after time.Duration // since the step back
		gate  func(back time.Time) Gate
	}
	allow := func(time.Time) Gate { return Gate{Allow: true} }
	tests := []struct {
		name   string
		record func(c *Cache, now time.Time) // in the run with the clock ahead
		checks []check
	}{
		{
			name:   "429 reset",
			record: func(c *Cache, now time.Time) { c.Failed(misp.ClassRateLimited, now.Add(10*time.Minute)) },
			checks: []check{
				{gate: func(back time.Time) Gate {
					return Gate{Class: misp.ClassRateLimited, Until: back.Add(15 * time.Minute)}
				}},
				{after: 15 * time.Minute, gate: allow},
			},
		},
		{
			name: "open circuit",
			record: func(c *Cache, _ time.Time) {
				for range circuitThreshold {
					c.Failed(misp.ClassUnavailable, time.Time{})
				}
			},
			checks: []check{
				{gate: func(back time.Time) Gate {
					return Gate{Class: misp.ClassUnavailable, Until: back.Add(coolDownBase)}
				}},
				{after: coolDownBase, gate: func(time.Time) Gate { return Gate{Allow: true, Probe: true} }},
			},
		},
		{
			name:   "auth pause",
			record: func(c *Cache, _ time.Time) { c.Failed(misp.ClassAuth, time.Time{}) },
			checks: []check{
				{gate: func(back time.Time) Gate { return Gate{Class: misp.ClassAuth, Until: back.Add(authPause)} }},
				{after: authPause, gate: allow},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			back := k.t
			o := testOptions(t, k)
			k.Advance(ahead)
			run(t, o, func(c *Cache) { tt.record(c, k.t) })
			for _, ck := range tt.checks {
				k.t = back.Add(ck.after)
				run(t, o, func(c *Cache) {
					if diff := cmp.Diff(ck.gate(back), c.Gate()); diff != "" {
						t.Errorf("Gate %v after the step back (-want +got):\n%s", ck.after, diff)
					}
				})
			}
		})
	}

	t.Run("error report window", func(t *testing.T) {
		k := newClock()
		back := k.t
		o := testOptions(t, k)
		k.Advance(ahead)
		run(t, o, func(c *Cache) { c.ShouldReport(misp.ClassUnavailable) })
		for _, s := range []struct {
			after time.Duration
			want  bool
		}{{0, false}, {DefaultReportWindow - time.Nanosecond, false}, {DefaultReportWindow, true}} {
			k.t = back.Add(s.after)
			run(t, o, func(c *Cache) {
				if got, _ := c.ShouldReport(misp.ClassUnavailable); got != s.want {
					t.Errorf("ShouldReport %v after the step back = %v, want %v", s.after, got, s.want)
				}
			})
		}
	})

	t.Run("answers stored in the future", func(t *testing.T) {
		k := newClock()
		back := k.t
		o := testOptions(t, k)
		k.Advance(ahead)
		run(t, o, func(c *Cache) {
			c.Put(hitIP, realAttributes(t, hitIP.Value))
			c.Put(missIP, nil)
		})
		k.t = back
		run(t, o, func(c *Cache) {
			for _, ind := range []ioc.Indicator{hitIP, missIP} {
				if _, ok := c.Get(ind); ok {
					t.Errorf("Get %s: an answer stored %v in the future was used", ind.Value, ahead)
				}
			}
		})
	})
}

// TestCache_TTLBoundsStoredExpiry: an answer lives at most the TTL in force
// when it is read, counted from when it was stored, whatever expiry it was
// stored with (a longer TTL then, or a damaged header).
func TestCache_TTLBoundsStoredExpiry(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.TTL, o.NegativeTTL = 24*time.Hour, 2*time.Hour
	run(t, o, func(c *Cache) {
		c.Put(hitIP, realAttributes(t, hitIP.Value))
		c.Put(missIP, nil)
	})
	o.TTL, o.NegativeTTL = time.Hour, 10*time.Minute
	for _, s := range []struct {
		after         time.Duration
		wantHit, miss bool
	}{
		{after: 10*time.Minute - time.Nanosecond, wantHit: true, miss: true},
		{after: 10 * time.Minute, wantHit: true},
		{after: time.Hour - time.Nanosecond, wantHit: true},
		{after: time.Hour},
	} {
		k.t = newClock().t.Add(s.after)
		run(t, o, func(c *Cache) {
			if _, ok := c.Get(hitIP); ok != s.wantHit {
				t.Errorf("hit %v after storing: found %v, want %v", s.after, ok, s.wantHit)
			}
			if _, ok := c.Get(missIP); ok != s.miss {
				t.Errorf("miss %v after storing: found %v, want %v", s.after, ok, s.miss)
			}
		})
	}
}

// TestGate_AuthPause: with a key MISP refuses, alerts must not keep
// knocking (issue 10, item 10: 6 alerts made 5 requests). Each run does
// what enrich does: ask MISP only if Gate allows, record the outcome, and
// send an error event only if ShouldReport says so.
func TestGate_AuthPause(t *testing.T) {
	k := newClock()
	start := k.t
	o := testOptions(t, k)
	requests, events := 0, 0
	alert := func() {
		run(t, o, func(c *Cache) {
			class := misp.ClassAuth
			if g := c.Gate(); g.Allow {
				requests++
				c.Failed(misp.ClassAuth, time.Time{})
			} else {
				class = g.Class
			}
			if report, _ := c.ShouldReport(class); report {
				events++
			}
		})
	}
	// Six alerts half a minute apart: one request, one event.
	for range 6 {
		alert()
		k.Advance(30 * time.Second)
	}
	if requests != 1 || events != 1 {
		t.Errorf("6 alerts with a refused key: %d requests, %d error events; want 1 and 1", requests, events)
	}
	run(t, o, func(c *Cache) {
		if diff := cmp.Diff(Gate{Class: misp.ClassAuth, Until: start.Add(authPause)}, c.Gate()); diff != "" {
			t.Errorf("Gate during the pause (-want +got):\n%s", diff)
		}
	})
	// The pause over, one request finds the key still refused: paused
	// again, and a new error event, since the report window is as long.
	k.t = start.Add(authPause)
	alert()
	if requests != 2 || events != 2 {
		t.Errorf("after the pause: %d requests, %d error events; want 2 and 2", requests, events)
	}
	// A success (a run that was already asking when the pause began, or
	// the first after it) ends the pause at once.
	run(t, o, func(c *Cache) { c.Succeeded() })
	run(t, o, func(c *Cache) {
		if diff := cmp.Diff(Gate{Allow: true}, c.Gate()); diff != "" {
			t.Errorf("Gate after a success (-want +got):\n%s", diff)
		}
	})
}

// reportStep is one run's ShouldReport for class, at advance after the
// step before, and what it must answer.
type reportStep struct {
	advance        time.Duration
	class          misp.Class
	want           bool
	wantSuppressed int
}

// runReportSteps runs each step as its own run (open, ShouldReport,
// close), so every count crosses a reopen.
func runReportSteps(t *testing.T, k *clock, o Options, steps []reportStep) {
	t.Helper()
	start := k.t
	for i, s := range steps {
		k.Advance(s.advance)
		run(t, o, func(c *Cache) {
			got, n := c.ShouldReport(s.class)
			if got != s.want || n != s.wantSuppressed {
				t.Errorf("step %d (%s at +%v): ShouldReport = %v, %d; want %v, %d", i, s.class, k.t.Sub(start), got, n, s.want, s.wantSuppressed)
			}
		})
	}
}

// TestCache_ShouldReportCountsSuppressed: issue 11 item 9. Ten failures
// of a class within the report window send one event; the next event of
// the class that is sent says 9 were held back, and the count starts
// again. Counts are per class and survive across runs.
func TestCache_ShouldReportCountsSuppressed(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	steps := []reportStep{
		{class: misp.ClassUnavailable, want: true}, // nothing held back yet
	}
	// Nine more alerts fail within the window, 20 s apart: held back.
	for range 9 {
		steps = append(steps, reportStep{advance: 20 * time.Second, class: misp.ClassUnavailable})
	}
	steps = append(steps,
		// +3 min: another class, its own window and count.
		reportStep{class: misp.ClassTimeout, want: true},
		reportStep{class: misp.ClassTimeout},
		// +5 min: the window is over, the next event carries the count.
		reportStep{advance: 2 * time.Minute, class: misp.ClassUnavailable, want: true, wantSuppressed: 9},
		// Counted again from zero.
		reportStep{class: misp.ClassUnavailable},
		reportStep{advance: 3 * time.Minute, class: misp.ClassTimeout, want: true, wantSuppressed: 1},     // +8 min
		reportStep{advance: 2 * time.Minute, class: misp.ClassUnavailable, want: true, wantSuppressed: 1}, // +10 min
		// A window with nothing held back: no count.
		reportStep{advance: 5 * time.Minute, class: misp.ClassUnavailable, want: true},
		// A count waits for the next event of its class, however late.
		reportStep{class: misp.ClassUnavailable},
		reportStep{class: misp.ClassUnavailable},
		reportStep{advance: 2 * time.Hour, class: misp.ClassUnavailable, want: true, wantSuppressed: 2},
	)
	runReportSteps(t, k, o, steps)

	// Within one run too.
	run(t, o, func(c *Cache) {
		c.ShouldReport(misp.ClassAuth)
		c.ShouldReport(misp.ClassAuth)
		c.ShouldReport(misp.ClassAuth)
	})
	k.Advance(DefaultReportWindow)
	runReportSteps(t, k, o, []reportStep{{class: misp.ClassAuth, want: true, wantSuppressed: 2}})
}

// TestCache_SuppressedMemoryOnly: without a store the count lives as long
// as the run.
func TestCache_SuppressedMemoryOnly(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.Path = ""
	run(t, o, func(c *Cache) {
		c.ShouldReport(misp.ClassTimeout)
		c.ShouldReport(misp.ClassTimeout)
		k.Advance(DefaultReportWindow)
		if got, n := c.ShouldReport(misp.ClassTimeout); !got || n != 1 {
			t.Errorf("ShouldReport = %v, %d; want true, 1", got, n)
		}
	})
}

// TestCache_SuppressedConcurrentRunsMerge: two overlapping runs each hold
// an event back; whichever writes second adds its count to the first's.
func TestCache_SuppressedConcurrentRunsMerge(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.LockWait = 5 * time.Second
	run(t, o, func(c *Cache) { c.ShouldReport(misp.ClassUnavailable) })
	a, warn := Open(o)
	if warn != nil {
		t.Fatal(warn)
	}
	b, warn := Open(o)
	if warn != nil {
		t.Fatal(warn)
	}
	for _, c := range []*Cache{a, b} {
		if got, _ := c.ShouldReport(misp.ClassUnavailable); got {
			t.Fatal("ShouldReport: true within the window")
		}
	}
	done := make(chan error)
	go func() { done <- b.Close() }() // waits for a's shared lock
	if err := a.Close(); err != nil {
		t.Errorf("Close a: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Close b: %v", err)
	}
	k.Advance(DefaultReportWindow)
	runReportSteps(t, k, o, []reportStep{{class: misp.ClassUnavailable, want: true, wantSuppressed: 2}})

	// A run that reports takes off only the count it read: one held back
	// by a run that wrote in between stays for the next event. (Which of
	// two overlapping runs writes first is up to the lock, so this replays
	// the run's changes on that state by hand, as Flush does.)
	o.Path = ""
	run(t, o, func(c *Cache) {
		c.guard = guard{Suppressed: map[misp.Class]int{misp.ClassUnavailable: 3}}
		if got, n := c.ShouldReport(misp.ClassUnavailable); !got || n != 3 {
			t.Fatalf("ShouldReport = %v, %d; want true, 3", got, n)
		}
		stored := guard{Suppressed: map[misp.Class]int{misp.ClassUnavailable: 4}}
		for _, op := range c.ops {
			op(&stored)
		}
		if n := stored.Suppressed[misp.ClassUnavailable]; n != 1 {
			t.Errorf("count after replaying the report on a state with one more: %d, want 1", n)
		}
	})
}

// putGuard stores raw as the scope's guard state, as another version of
// the program (or damage) would have left it.
func putGuard(t *testing.T, o Options, raw string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(o.Path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketGuard))
		if err != nil {
			return err
		}
		return b.Put([]byte(o.Scope), []byte(raw))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// getGuard returns the scope's stored guard state.
func getGuard(t *testing.T, o Options) string {
	t.Helper()
	db, err := bolt.Open(o.Path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var raw string
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucketGuard)); b != nil {
			raw = string(b.Get([]byte(o.Scope)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestCache_SuppressedStoredFormat: the count is stored beside the report
// windows as "suppressed": {class: n}. A store written before the count
// existed reads as 0 held back; a damaged count is bounded (negative: 0,
// too large: maxSuppressed) or, when it is no int at all, the whole state
// is forgotten as for any damaged state: MISP may be reported on at once.
func TestCache_SuppressedStoredFormat(t *testing.T) {
	k := newClock()
	at := func(d time.Duration) string { return `"` + k.t.Add(d).Format(time.RFC3339Nano) + `"` }
	open := `"reported":{"unavailable":` + at(time.Minute) + `}`
	tests := []struct {
		name   string
		stored string
		steps  []reportStep
	}{
		{
			name:   "old store, window over",
			stored: `{"reported":{"unavailable":` + at(-time.Second) + `}}`,
			steps:  []reportStep{{class: misp.ClassUnavailable, want: true}},
		},
		{
			name:   "old store, window open",
			stored: `{` + open + `}`,
			steps: []reportStep{
				{class: misp.ClassUnavailable},
				{advance: time.Minute, class: misp.ClassUnavailable, want: true, wantSuppressed: 1},
			},
		},
		{
			name:   "old store with a circuit",
			stored: `{"failures":3,"class":"unavailable","cool_down":30000000000,"open_until":` + at(30*time.Second) + `}`,
			steps:  []reportStep{{class: misp.ClassUnavailable, want: true}},
		},
		{
			name:   "count kept",
			stored: `{` + open + `,"suppressed":{"unavailable":7,"timeout":3}}`,
			steps: []reportStep{
				{class: misp.ClassTimeout, want: true, wantSuppressed: 3},
				{class: misp.ClassUnavailable},
				{advance: time.Minute, class: misp.ClassUnavailable, want: true, wantSuppressed: 8},
			},
		},
		{
			name:   "negative count",
			stored: `{"suppressed":{"unavailable":-5}}`,
			steps:  []reportStep{{class: misp.ClassUnavailable, want: true}},
		},
		{
			name:   "negative count, window open",
			stored: `{` + open + `,"suppressed":{"unavailable":-5}}`,
			steps: []reportStep{
				{class: misp.ClassUnavailable},
				{advance: time.Minute, class: misp.ClassUnavailable, want: true, wantSuppressed: 1},
			},
		},
		{
			name:   "largest int64",
			stored: `{` + open + `,"suppressed":{"unavailable":9223372036854775807}}`,
			steps: []reportStep{
				{class: misp.ClassUnavailable}, // does not wrap
				{advance: time.Minute, class: misp.ClassUnavailable, want: true, wantSuppressed: maxSuppressed},
			},
		},
		{
			name:   "count beyond int64",
			stored: `{` + open + `,"suppressed":{"unavailable":1e30}}`,
			steps:  []reportStep{{class: misp.ClassUnavailable, want: true}},
		},
		{
			name:   "count not a number",
			stored: `{` + open + `,"suppressed":{"unavailable":"9"}}`,
			steps:  []reportStep{{class: misp.ClassUnavailable, want: true}},
		},
		{
			name:   "counts not an object",
			stored: `{` + open + `,"suppressed":[9]}`,
			steps:  []reportStep{{class: misp.ClassUnavailable, want: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			putGuard(t, o, tt.stored)
			runReportSteps(t, k, o, tt.steps)
		})
	}

	t.Run("written", func(t *testing.T) {
		k := newClock()
		o := testOptions(t, k)
		run(t, o, func(c *Cache) { c.ShouldReport(misp.ClassRateLimited) })
		run(t, o, func(c *Cache) { c.ShouldReport(misp.ClassRateLimited) })
		run(t, o, func(c *Cache) { c.ShouldReport(misp.ClassRateLimited) })
		want := `{"reported":{"rate_limited":"2026-11-20T10:05:00Z"},"suppressed":{"rate_limited":2}}`
		if got := getGuard(t, o); got != want {
			t.Errorf("stored guard state\n got %s\nwant %s", got, want)
		}
		k.Advance(DefaultReportWindow)
		run(t, o, func(c *Cache) { c.ShouldReport(misp.ClassRateLimited) })
		// The window ended and a new one began; the count was reported.
		want = `{"reported":{"rate_limited":"2026-11-20T10:10:00Z"}}`
		if got := getGuard(t, o); got != want {
			t.Errorf("stored guard state after the report\n got %s\nwant %s", got, want)
		}
	})
}
