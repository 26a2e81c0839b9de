package cache

import (
	"encoding/json"
	"time"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// Protection settings. MISP counts searches per user in a fixed 900 s
// window and answers 429 with X-Rate-Limit-Reset (seconds to its end).
const (
	// circuitThreshold consecutive unavailable/timeout failures open the
	// circuit; fewer are left to the client's own retries.
	circuitThreshold = 3
	// coolDownBase is the first open period; each failed probe doubles it
	// up to coolDownMax, so a long outage costs one probe per 10 minutes.
	coolDownBase = 30 * time.Second
	coolDownMax  = 10 * time.Minute
	// defaultRateWait applies when a 429 carries no usable reset.
	defaultRateWait = time.Minute
	// maxRateWait caps a reset: MISP's window is 900 s, so a later reset is
	// bogus and must not stop lookups for longer.
	maxRateWait = 15 * time.Minute
	// authPause is how long MISP is left alone after it refused the key: a
	// wrong, expired or disabled key does not fix itself within seconds,
	// and every retry is a failed login in MISP's logs. It equals
	// DefaultReportWindow, so each pause ends in one request and at most
	// one auth error event; short enough that a key fixed in MISP (a new
	// key in the configuration is a new scope, unpaused) works again
	// within minutes.
	authPause = 5 * time.Minute
	// maxGuardBytes caps the stored state we decode.
	maxGuardBytes = 4 << 10
	// maxSuppressed caps a stored count of unreported errors, so that a
	// damaged store can neither make the count wrap nor fill the event
	// field. A real count is far below: at most one per run within one
	// report window.
	maxSuppressed = 1<<31 - 1
)

// Gate is the decision whether this run may call MISP.
type Gate struct {
	Allow bool       // MISP may be called
	Probe bool       // the call is the one probe of a half-open circuit: report its outcome
	Class misp.Class // when denied: rate_limited, or the failure class that opened the circuit
	Until time.Time  // when denied: when calls may resume
}

// guard is the protection state of one scope, persisted as JSON.
type guard struct {
	RateUntil time.Time                `json:"rate_until,omitzero"`
	AuthUntil time.Time                `json:"auth_until,omitzero"` // end of the pause after an auth failure
	Failures  int                      `json:"failures,omitempty"`  // consecutive availability failures
	Class     misp.Class               `json:"class,omitempty"`     // class of the last of them
	CoolDown  time.Duration            `json:"cool_down,omitempty"` // > 0 while the circuit is open
	OpenUntil time.Time                `json:"open_until,omitzero"` // end of the current cool-down
	Reported  map[misp.Class]time.Time `json:"reported,omitempty"`  // end of each class's report window
	// Suppressed counts, per class, the error events ShouldReport held back
	// since it last said yes for the class; the next one it allows carries
	// the count. Stores written before it existed read as 0.
	Suppressed map[misp.Class]int `json:"suppressed,omitempty"`
}

// decodeGuard reads stored state; damaged state is forgotten, which only
// means MISP may be asked once more.
func decodeGuard(v []byte) guard {
	var g guard
	if len(v) == 0 || len(v) > maxGuardBytes || json.Unmarshal(v, &g) != nil {
		return guard{}
	}
	return g
}

// clamp bounds every instant of the state by now plus the longest wait it
// can legitimately have left, and reports whether that changed anything.
// The instants are absolute, so state written while the clock was ahead
// (and since set back) would otherwise pause MISP for as long as the step.
// Open clamps what it read and, when that changed it, saves it at Close, so
// that a step of any size costs at most one window (bounding each run's
// reading by its own now instead would slide with the clock and end
// nothing).
func (g *guard) clamp(now time.Time, reportWindow time.Duration) (changed bool) {
	bound := func(t *time.Time, limit time.Time) {
		if t.After(limit) {
			*t, changed = limit, true
		}
	}
	bound(&g.RateUntil, now.Add(maxRateWait))
	bound(&g.AuthUntil, now.Add(authPause))
	if d := min(max(g.CoolDown, 0), coolDownMax); d != g.CoolDown {
		g.CoolDown, changed = d, true
	}
	bound(&g.OpenUntil, now.Add(g.CoolDown))
	for class, until := range g.Reported {
		bound(&until, now.Add(reportWindow))
		g.Reported[class] = until
	}
	for class, n := range g.Suppressed {
		switch {
		case n <= 0:
			delete(g.Suppressed, class)
			changed = true
		case n > maxSuppressed:
			g.Suppressed[class], changed = maxSuppressed, true
		}
	}
	return changed
}

func (g *guard) encode(now time.Time) []byte {
	for class, until := range g.Reported {
		if !now.Before(until) {
			delete(g.Reported, class)
		}
	}
	v, _ := json.Marshal(g) // cannot fail: plain fields only
	return v
}

// Gate says whether this run may call MISP: not before a 429's reset, not
// during the pause after an auth failure, not while the circuit is open.
// When a cool-down has ended the run gets Allow and Probe; it must report
// the outcome with Failed or Succeeded, which is saved at Close, so the
// next run sees the circuit closed or reopened: integratord runs one alert
// at a time, so that is one probe per cool-down. A run that got Probe but
// never called MISP leaves the probe to the next run.
func (c *Cache) Gate() Gate {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.o.Now()
	g := &c.guard
	if now.Before(g.RateUntil) {
		return Gate{Class: misp.ClassRateLimited, Until: g.RateUntil}
	}
	if now.Before(g.AuthUntil) {
		return Gate{Class: misp.ClassAuth, Until: g.AuthUntil}
	}
	if g.CoolDown > 0 {
		if now.Before(g.OpenUntil) {
			return Gate{Class: g.Class, Until: g.OpenUntil}
		}
		return Gate{Allow: true, Probe: true}
	}
	return Gate{Allow: true}
}

// Failed records a failed MISP call. For ClassRateLimited, MISP is skipped
// until reset (a minute when reset is zero or past, at most 15 minutes);
// the server answered, so the failure count starts again. For
// ClassUnavailable and ClassTimeout, circuitThreshold consecutive failures
// open the circuit for 30 s, and every failure while it is open (a failed
// probe) reopens it for twice as long, up to 10 minutes. ClassAuth pauses
// MISP for authPause (5 minutes). Other classes (TLS, bad response,
// config) are not MISP's load and change nothing.
func (c *Cache) Failed(class misp.Class, reset time.Time) {
	now := c.o.Now()
	c.update(func(g *guard) bool { return g.failed(class, reset, now) })
}

func (g *guard) failed(class misp.Class, reset, now time.Time) bool {
	switch class {
	case misp.ClassRateLimited:
		switch {
		case !reset.After(now):
			reset = now.Add(defaultRateWait)
		case reset.After(now.Add(maxRateWait)):
			reset = now.Add(maxRateWait)
		}
		g.RateUntil = reset
		g.Failures, g.Class, g.CoolDown, g.OpenUntil = 0, "", 0, time.Time{}
	case misp.ClassAuth:
		g.AuthUntil = now.Add(authPause)
	case misp.ClassUnavailable, misp.ClassTimeout:
		g.Class = class
		switch {
		case g.CoolDown > 0:
			g.CoolDown = min(2*g.CoolDown, coolDownMax)
			g.OpenUntil = now.Add(g.CoolDown)
		case g.Failures+1 >= circuitThreshold:
			g.Failures = circuitThreshold
			g.CoolDown = coolDownBase
			g.OpenUntil = now.Add(g.CoolDown)
		default:
			g.Failures++
		}
	default:
		return false
	}
	return true
}

// Succeeded records a successful MISP call: the circuit closes, the
// failure count restarts and an auth pause ends.
func (c *Cache) Succeeded() {
	c.update(func(g *guard) bool {
		if g.Failures == 0 && g.CoolDown == 0 && g.AuthUntil.IsZero() {
			return false // nothing to save: keeps cached runs free of writes
		}
		g.Failures, g.Class, g.CoolDown, g.OpenUntil, g.AuthUntil = 0, "", 0, time.Time{}, time.Time{}
		return true
	})
}

// ShouldReport says whether to send an error event for class now: true at
// most once per class per ReportWindow, across runs, so that an outage
// sends one event per class per window rather than one per alert. Each
// no is counted, and the next yes returns the count as suppressed (and
// starts it again), so the event that is sent tells how many were not:
// rule 117650 escalates on it.
func (c *Cache) ShouldReport(class misp.Class) (report bool, suppressed int) {
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.guard.Reported[class]) {
		c.apply(func(g *guard) bool {
			if g.Suppressed == nil {
				g.Suppressed = make(map[misp.Class]int)
			}
			// Bounded both ways: the state replayed on may be damaged.
			g.Suppressed[class] = min(max(g.Suppressed[class], 0), maxSuppressed-1) + 1
			return true
		})
		return false, 0
	}
	suppressed = c.guard.Suppressed[class]
	until := now.Add(c.o.ReportWindow)
	c.apply(func(g *guard) bool {
		if g.Reported == nil {
			g.Reported = make(map[misp.Class]time.Time)
		}
		if g.Reported[class].Before(until) {
			g.Reported[class] = until
		}
		// Take off what this event reports, not everything: a concurrent
		// run may have counted more since this one read the state.
		if n := g.Suppressed[class] - suppressed; n > 0 {
			g.Suppressed[class] = n
		} else {
			delete(g.Suppressed, class)
		}
		return true
	})
	return true, suppressed
}

// update applies op under the lock.
func (c *Cache) update(op func(*guard) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apply(op)
}

// apply applies op to the state now and, when it changed something, keeps
// it to apply again at Flush to the state then on disk, so that a
// concurrent run's changes are merged rather than overwritten.
func (c *Cache) apply(op func(*guard) bool) {
	if op(&c.guard) {
		c.ops = append(c.ops, op)
	}
}
