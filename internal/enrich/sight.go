package enrich

import (
	"context"
	"slices"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/config"
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
	// Sent remembers that uuids were sighted for agent at now.
	Sent(now time.Time, agent string, uuids []string) error
	// Refused remembers that the server refused sightings, and says
	// whether to log it: once per window.
	Refused(now time.Time, window time.Duration) (logNow bool)
	// RefusedUntil is when sightings may be tried again after a refusal.
	RefusedUntil() time.Time
	Close() error
}

// maxSightingsPerAlert bounds the sightings of one alert on one server:
// an alert that matches more is rare, and its first ones tell MISP enough.
const maxSightingsPerAlert = 100

// sight reports the run's matches back to every server that has
// sightings enabled, each at most once per attribute, agent and window,
// in one request per server, by the run's deadline. It never fails the
// run: what goes wrong is logged.
func sight(ctx context.Context, cfg *config.Config, a *alert.Alert, matches []Match, deadline, now time.Time, log Logger, h Hooks) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for _, srv := range cfg.All() {
		if !srv.Sightings.Enabled {
			continue
		}
		uuids := matchedUUIDs(srv, matches)
		if len(uuids) == 0 {
			continue
		}
		sightOn(ctx, srv, a, uuids, now, log, h)
	}
}

// matchedUUIDs lists the attributes srv matched, each once, in match order.
func matchedUUIDs(srv *config.Config, matches []Match) []string {
	var uuids []string
	for _, m := range matches {
		if m.Server != srv {
			continue
		}
		for _, at := range m.Attributes {
			u := string(at.UUID)
			if u != "" && !slices.Contains(uuids, u) && len(uuids) < maxSightingsPerAlert {
				uuids = append(uuids, u)
			}
		}
	}
	return uuids
}

func sightOn(ctx context.Context, srv *config.Config, a *alert.Alert, uuids []string, now time.Time, log Logger, h Hooks) {
	what := "alert " + a.ID + ": sightings to MISP " + srv.Name
	mem, err := h.OpenSightings(srv)
	if err != nil {
		// Busy (another run holds it) or unreadable: without the memory
		// the window cannot be kept, so no sightings this run.
		log.Debugf("%s skipped: %v", what, err)
		return
	}
	defer func() {
		if err := mem.Close(); err != nil {
			log.Warnf("%s: %v", what, err)
		}
	}()
	if until := mem.RefusedUntil(); now.Before(until) {
		log.Debugf("%s skipped: refused earlier, next try after %s", what, until.UTC().Format(time.RFC3339))
		return
	}
	agent := a.Agent.ID
	due := mem.Due(now, srv.Sightings.Window, agent, uuids)
	if len(due) == 0 {
		log.Debugf("%s: all %d already sighted for agent %s within %s", what, len(uuids), agent, srv.Sightings.Window)
		return
	}
	// MISP's 429 and failure pauses hold for sightings too.
	store := openCache(srv, log)
	gate := store.Gate()
	closeCache(store, log)
	if !gate.Allow {
		log.Debugf("%s skipped: MISP calls paused until %s after earlier %s errors", what, gate.Until.UTC().Format(time.RFC3339), gate.Class)
		return
	}
	client, err := h.Sighter(srv)
	if err == nil {
		s := make([]misp.Sighting, len(due))
		source := srv.Sightings.SourceFor(a.Root.Get("manager.name").String())
		ts := alertTime(a, now)
		for i, u := range due {
			s[i] = misp.Sighting{AttributeUUID: u, Type: misp.Seen, Source: source, Timestamp: ts}
		}
		var res misp.SightingResult
		if res, err = client.AddSightings(ctx, s); err == nil {
			if err := mem.Sent(now, agent, due); err != nil {
				log.Warnf("%s: sent, but not remembered: %v", what, err)
			}
			log.Debugf("%s: %d added in %d request(s)", what, res.Added, res.Requests)
			return
		}
	}
	class, _, msg, reset := describe(err)
	switch class {
	case misp.ClassForbidden, misp.ClassAuth:
		if mem.Refused(now, srv.Sightings.Window) {
			log.Warnf("%s refused: %s; matches are still enriched, sightings are retried in %s (custom-misp doctor tells what the key lacks)", what, msg, srv.Sightings.Window)
		}
	case misp.ClassRateLimited, misp.ClassUnavailable, misp.ClassTimeout:
		store := openCache(srv, log)
		store.Failed(class, reset)
		closeCache(store, log)
		log.Warnf("%s failed: %s", what, msg)
	default:
		log.Warnf("%s failed: %s", what, msg)
	}
}

// alertTime is when the alert was raised (its "timestamp"), as Unix
// seconds, or now when it has none.
func alertTime(a *alert.Alert, now time.Time) int64 {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, a.Root.Get("timestamp").String()); err == nil {
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
