package enrich

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Sighter adds sightings to one MISP server (*mispproc.Searcher).
type Sighter interface {
	AddSightings(ctx context.Context, s []misp.Sighting) (misp.SightingResult, error)
}

// SightingMemory is one server's memory of the sightings sent, across runs
// (*sighting.Store).
type SightingMemory interface {
	// Due returns those of uuids not sighted for agent within window.
	Due(now time.Time, window time.Duration, agent string, uuids []string) []string
	// Sent remembers that uuids were sighted for agent at now; window
	// bounds how long the memory keeps them.
	Sent(now time.Time, window time.Duration, agent string, uuids []string) error
	// Refused remembers that the server refused sightings, and says
	// whether to report it: once per window.
	Refused(now time.Time, window time.Duration) (reportNow bool)
	// RefusedUntil is when sightings may be tried again after a refusal.
	RefusedUntil() time.Time
	Close() error
}

// maxSightingsPerAlert bounds the sightings of one alert on one server:
// an alert that matches more is rare, and its first ones tell MISP enough.
const maxSightingsPerAlert = 100

// minSightingTime is the least time left before the run's deadline for
// which sightings are still sent. With less (another server's lookup used
// the run up), they wait for the next alert: a request doomed to time out
// would only count against this server's circuit.
const minSightingTime = 500 * time.Millisecond

// sight reports the run's matches back to every server that has
// sightings enabled, each at most once per attribute, agent and window,
// in one request per server, all servers at once, by the run's deadline.
// It never fails the run: what goes wrong is logged, and a refusal (a key
// without perm_sighting) is also one error event per window.
func sight(ctx context.Context, cfg *config.Config, a *alert.Alert, matches []Match, deadline, now time.Time, log Logger, h Hooks) {
	if left := deadline.Sub(now); left < minSightingTime {
		log.Debugf("alert %s: sightings skipped: the run's deadline is too near (%s left)", a.ID, left.Round(time.Millisecond))
		return
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range cfg.All() {
		if !srv.Sightings.Enabled {
			continue
		}
		s := sightingsOf(srv, a, matches, now)
		if len(s) == 0 {
			continue
		}
		wg.Go(func() {
			// The log names the server as the lookups' lines do: only
			// when there are several ("misp" alone would name nothing).
			what := "alert " + a.ID + ": sightings"
			if cfg.Several() {
				what += " to MISP " + srv.Name
			}
			if refusal := sightOn(ctx, srv, what, a, s, now, log, h); refusal != nil && h.Emit != nil {
				if cfg.Several() {
					nameServer(refusal, srv)
				}
				if err := h.Emit(deadline, a, []event.Message{*refusal}); err != nil {
					log.Warnf("alert %s: the sightings refusal event was not sent: %v", a.ID, err)
				}
			}
		})
	}
	wg.Wait()
}

// sightingsOf lists the sightings of the attributes srv matched, each
// once, in match order: by attribute UUID (the value too, which is how
// MISP's batch form finds them), stamped with the alert's time.
func sightingsOf(srv *config.Config, a *alert.Alert, matches []Match, now time.Time) []misp.Sighting {
	var out []misp.Sighting
	seen := map[string]bool{}
	source := srv.Sightings.SourceFor(a.Root.Get("manager.name").String())
	ts := alertTime(a, now)
	for _, m := range matches {
		if m.Server != srv {
			continue
		}
		for _, at := range m.Attributes {
			u := string(at.UUID)
			// MISP's own answer names the attribute; one that is not a
			// UUID would make the whole batch invalid, so it is left out.
			if !misp.IsUUID(u) || seen[u] || len(out) == maxSightingsPerAlert {
				continue
			}
			seen[u] = true
			out = append(out, misp.Sighting{AttributeUUID: u, Value: string(at.Value), Type: misp.Seen, Source: source, Timestamp: ts})
		}
	}
	return out
}

// sightOn sends one server's sightings; what starts its log lines. The memory is held only to read
// and to record, never across the MISP request, so that other runs of a
// busy manager are not kept waiting on a slow MISP. It returns the error
// event to send when MISP refused the sightings, once per window.
func sightOn(ctx context.Context, srv *config.Config, what string, a *alert.Alert, s []misp.Sighting, now time.Time, log Logger, h Hooks) *event.Message {
	agent := a.Agent.ID
	uuids := make([]string, len(s))
	for i := range s {
		uuids[i] = s[i].AttributeUUID
	}
	var due []string
	window := srv.Sightings.Window
	skip := withMemory(srv, log, what, h, func(mem SightingMemory) {
		// A refusal holds for one window; a refusal time further ahead
		// than that means the clock went back, and must not silence
		// sightings for longer.
		if until := mem.RefusedUntil(); now.Before(until) && until.Sub(now) <= window {
			log.Debugf("%s skipped: refused earlier, next try after %s", what, until.UTC().Format(time.RFC3339))
			return
		}
		due = mem.Due(now, window, agent, uuids)
		if len(due) == 0 {
			log.Debugf("%s: all %d already sighted for agent %s within %s", what, len(uuids), agent, window)
		}
	})
	if skip || len(due) == 0 {
		return nil
	}
	s = slices.DeleteFunc(s, func(x misp.Sighting) bool { return !slices.Contains(due, x.AttributeUUID) })

	// MISP's 429 and failure pauses hold for sightings too.
	store := openCache(srv, log)
	gate := store.Gate()
	closeCache(store, log)
	if !gate.Allow {
		log.Debugf("%s skipped: MISP calls paused until %s after earlier %s errors", what, gate.Until.UTC().Format(time.RFC3339), gate.Class)
		return nil
	}
	client, err := h.Sighter(srv)
	var res misp.SightingResult
	if err == nil {
		res, err = client.AddSightings(ctx, s)
	}
	if err == nil {
		withMemory(srv, log, what, h, func(mem SightingMemory) {
			if err := mem.Sent(now, window, agent, due); err != nil {
				log.Warnf("%s: sent, but not remembered: %v", what, err)
			}
		})
		store := openCache(srv, log)
		store.Succeeded() // MISP answered: its failure count starts afresh
		closeCache(store, log)
		log.Debugf("%s: %d added in %d request(s)%s", what, res.Added, res.Requests, unknown(res))
		return nil
	}
	class, status, msg, reset := describe(err)
	switch class {
	case misp.ClassForbidden, misp.ClassAuth:
		// Either way the key cannot add sightings until someone acts:
		// one attempt and one report per window. The event keeps the
		// class: a key MISP rejects (revoked, expired) is rule 117641's
		// business, a key that may not add sightings 117652's.
		var report bool
		withMemory(srv, log, what, h, func(mem SightingMemory) { report = mem.Refused(now, window) })
		if !report {
			return nil
		}
		log.Warnf("%s refused: %s; matches are still enriched, sightings are retried in %s (custom-misp doctor tells what the key lacks)", what, msg, window)
		// A key MISP rejects outright says nothing of sightings: say
		// what was refused. A forbidden one already says it (the client
		// names the permission), and rule 117652's text too.
		if class != misp.ClassForbidden {
			msg = "sightings refused: " + msg
		}
		m := event.Failure(class, status, msg, 0, Source(a))
		return &m
	case misp.ClassRateLimited, misp.ClassUnavailable:
		// A timeout is not counted: it may be this run's deadline, not
		// MISP, and the lookups' own requests judge MISP's health.
		store := openCache(srv, log)
		store.Failed(class, reset)
		closeCache(store, log)
	}
	log.Warnf("%s failed: %s", what, msg)
	return nil
}

// withMemory opens srv's sighting memory, runs use on it and closes it.
// It reports whether the memory could not be opened: busy (another run
// holds it) or unreadable; without it the window cannot be kept, so no
// sightings this run.
func withMemory(srv *config.Config, log Logger, what string, h Hooks, use func(SightingMemory)) (skipped bool) {
	mem, err := h.OpenSightings(srv)
	if err != nil {
		log.Debugf("%s skipped: %v", what, err)
		return true
	}
	use(mem)
	if err := mem.Close(); err != nil {
		log.Warnf("%s: %v", what, err)
	}
	return false
}

func unknown(r misp.SightingResult) string {
	if len(r.Unknown) == 0 {
		return ""
	}
	return fmt.Sprintf("; MISP knew no attribute for %d of them", len(r.Unknown))
}

// alertTime is when the alert was raised (its "timestamp"), as Unix
// seconds, or now when it has none or one in the future (an alert file
// is no authority on what MISP records as seen tomorrow).
func alertTime(a *alert.Alert, now time.Time) int64 {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, a.Root.Get("timestamp").String()); err == nil && !t.After(now) {
			return t.Unix()
		}
	}
	return now.Unix()
}

func closeCache(c Cache, log Logger) {
	if cl, ok := c.(interface{ Close() error }); ok {
		if err := cl.Close(); err != nil {
			log.Warnf("%v", err)
		}
	}
}
