// Package enrich is one integratord run: from an alert to the enrichment
// events for it. It ties extraction, the cache, the MISP client and the
// event schema together; reading arguments and sending to Wazuh stay with
// the caller.
package enrich

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/cache"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Searcher looks values up in MISP (*mispproc.Searcher): the attributes
// of the answer, and how many it had to leave out as unreadable.
type Searcher interface {
	Search(ctx context.Context, q misp.Query) (misp.Answer, error)
}

// Cache remembers MISP's answers and its health across runs
// (*cache.Cache); NoCache when caching is off.
type Cache interface {
	Get(ind ioc.Indicator) (attrs []misp.Attribute, ok bool)
	Put(ind ioc.Indicator, attrs []misp.Attribute)
	// Gate says whether MISP may be asked now, and if not why and until when.
	Gate() cache.Gate
	Failed(class misp.Class, reset time.Time)
	Succeeded()
	// ShouldReport says whether to send an error event of class, and how
	// many of the class were held back since the last one sent.
	ShouldReport(class misp.Class) (report bool, suppressed int)
}

// Logger receives the run's log lines (wazuh.Log).
type Logger interface {
	Debugf(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Env is what a run needs from the outside world.
type Env struct {
	Log Logger
	// Server gives what reaches one MISP server of cfg.All(); it is
	// called once per server, with several servers from each server's own
	// goroutine, so it must be safe for concurrent use.
	Server func(srv *config.Config) Server
	Policy *ioc.Policy
	// Deadline, if set, bounds the MISP lookup of every server: one
	// deadline for the whole run. It is applied only when MISP is asked,
	// so that most runs never arm a timer.
	Deadline time.Time
}

// Server is how a run reaches one MISP server: its cache, its mirror and
// its client, each its own so that one server down never blinds the
// others.
type Server struct {
	// OpenCache is called once, only when the alert has indicators, so
	// that a run with nothing to look up never touches the disk.
	OpenCache func() Cache
	// OpenMirror opens the local mirror (mirror.ForRun); it is called
	// once, only when the alert has indicators and lookup is not "live".
	// nil means no mirror.
	OpenMirror func() mirror.View
	// Client is called only when MISP must be asked.
	Client func() (Searcher, error)
}

// Result says what a run did, for the debug log and tests. The counts
// add up over the servers.
type Result struct {
	Skipped    string // why nothing was done, if so
	Indicators int
	Capped     int
	Cached     int
	FromMirror int
	Asked      int
	Matched    int // (indicator, server) pairs with a match
	Events     []event.Message
	// Matches are the matched attributes of every server, for sightings.
	Matches []Match
}

// Match is what one server matched for one indicator, best first.
type Match struct {
	Server     *config.Config
	Indicator  ioc.Indicator
	Attributes []misp.Attribute
}

// Run enriches one alert. Failures to reach MISP become error events in the
// result, not errors: the caller only gets an error for what it must exit
// non-zero on (none today; the signature leaves room).
func Run(ctx context.Context, cfg *config.Config, a *alert.Alert, env Env) (Result, error) {
	var res Result
	if a.IsOwnEnrichment() {
		res.Skipped = "alert is a MISP enrichment itself"
		return res, nil
	}
	if a.SkippedDeep > 0 {
		env.Log.Warnf("alert %s: skipped %d part(s) nested deeper than %d levels, read the rest", a.ID, a.SkippedDeep, alert.MaxNesting)
	}
	inds, capped := alert.Extract(a, env.Policy, cfg.MaxIOCs)
	res.Indicators, res.Capped = len(inds), capped
	if capped > 0 {
		env.Log.Warnf("alert %s: %d indicators over max_iocs_per_alert=%d were not looked up", a.ID, capped, cfg.MaxIOCs)
	}
	if len(inds) == 0 {
		res.Skipped = "no indicators"
		return res, nil
	}
	src := Source(a)

	servers := cfg.All()
	lks := make([]lookup, len(servers))
	if len(servers) == 1 {
		lks[0] = lookUp(ctx, servers[0], env, a, a.ID, inds)
	} else {
		// Every server at once, each bounded by the run's one deadline:
		// a slow server costs the run its own wait, not the sum.
		var wg sync.WaitGroup
		for i, srv := range servers {
			wg.Go(func() { lks[i] = lookUp(ctx, srv, env, a, a.ID+" on MISP "+srv.Name, inds) })
		}
		wg.Wait()
	}

	several := len(servers) > 1
	for _, ind := range inds {
		for i, srv := range servers {
			lk := &lks[i]
			attrs := lk.found[ind]
			if len(attrs) == 0 {
				continue
			}
			res.Matched++
			res.Matches = append(res.Matches, Match{Server: srv, Indicator: ind, Attributes: attrs})
			if len(res.Events) >= cfg.MaxEvents {
				continue
			}
			m := event.Match(ind, attrs, srv.MISPURL, src)
			if lk.fromCache[ind] {
				t := true
				m.MISP.Cached = &t
			}
			lk.mark(&m, srv, several)
			res.Events = append(res.Events, m)
		}
	}
	if res.Matched > cfg.MaxEvents {
		env.Log.Warnf("alert %s: %d matches, only max_events_per_alert=%d events sent", a.ID, res.Matched, cfg.MaxEvents)
	}
	for i, srv := range servers {
		lk := &lks[i]
		res.Cached += lk.cached
		res.FromMirror += lk.fromMirror
		res.Asked += lk.asked
		if lk.failure != nil {
			lk.mark(lk.failure, srv, several)
			res.Events = append(res.Events, *lk.failure)
		}
	}
	return res, nil
}

// lookUp looks the indicators up on one server: in its mirror when the
// lookup mode and the mirror allow, else in its cache and then MISP.
// label names the alert (and the server, when several) in the log.
func lookUp(ctx context.Context, srv *config.Config, env Env, a *alert.Alert, label string, inds []ioc.Indicator) lookup {
	sv := env.Server(srv)
	if v, ok := chooseMirror(srv, sv, env.Log, label); ok {
		return fromMirror(srv, sv, env.Log, a, label, inds, v)
	}
	return live(ctx, srv, sv, env, a, label, inds)
}

// lookup is what one of the two paths found on one server.
type lookup struct {
	found     map[ioc.Indicator][]misp.Attribute
	fromCache map[ioc.Indicator]bool
	failure   *event.Message // the server's one error event of the run, if any
	// What was answered how, for Result.
	cached, fromMirror, asked int
	// viaMirror and mirrorAge mark the events of the mirror path.
	viaMirror bool
	ageKnown  bool
	mirrorAge time.Duration
}

// mark adds to an event which path and, when several are configured,
// which server answered.
func (lk *lookup) mark(m *event.Message, srv *config.Config, several bool) {
	if lk.viaMirror {
		m.MISP.Lookup = config.LookupMirror
	}
	if lk.ageKnown {
		m.MISP.MirrorAge = strconv.FormatInt(int64(lk.mirrorAge/time.Second), 10)
	}
	if several {
		nameServer(m, srv)
	}
}

// nameServer marks an event of a run that asks several servers with the
// one it comes from: misp.instance and the event reference for a match,
// misp.instance and a "MISP NAME: " prefix on the message for an error.
func nameServer(m *event.Message, srv *config.Config) {
	m.MISP.SetInstance(srv.Name)
	if m.MISP.Error != "" {
		m.MISP.Message = "MISP " + srv.Name + ": " + m.MISP.Message
	}
}

// live looks the indicators up in the server's cache, then asks it for
// the rest.
func live(ctx context.Context, cfg *config.Config, sv Server, env Env, a *alert.Alert, label string, inds []ioc.Indicator) lookup {
	var lk lookup
	src := Source(a)
	store := sv.OpenCache()
	found := make(map[ioc.Indicator][]misp.Attribute, len(inds))
	fromCache := make(map[ioc.Indicator]bool, len(inds))
	var unknown []ioc.Indicator
	for _, ind := range inds {
		if attrs, ok := store.Get(key(ind)); ok {
			lk.cached++
			fromCache[ind] = true
			found[ind] = attrs
			continue
		}
		unknown = append(unknown, ind)
	}

	var failure *event.Message
	fail := func(class misp.Class, status int, msg string) {
		env.Log.Warnf("alert %s: %d indicators not looked up: %s", label, len(unknown), msg)
		if m := failureEvent(store, class, status, msg, len(unknown), src); m != nil {
			failure = m
		}
	}
	if len(unknown) > 0 {
		lk.asked = len(unknown)
		if g := store.Gate(); !g.Allow {
			// MISP said to wait (429) or kept failing: leave it alone.
			// Cached answers above are still used.
			lk.asked = 0
			fail(g.Class, 0, "MISP calls paused until "+g.Until.UTC().Format(time.RFC3339)+" after earlier "+string(g.Class)+" errors")
		} else if ans, err := ask(ctx, cfg, sv, env, unknown); err != nil {
			class, status, msg, reset := describe(err)
			store.Failed(class, reset)
			fail(class, status, msg)
		} else {
			store.Succeeded()
			attrs := ans.Attributes
			// MISP returns at most Limit attributes, newest first. A full
			// page may have cut off the matches of some values, and a
			// skipped (unreadable) attribute may have been one: their
			// "no match" is not an answer, so it is not remembered.
			truncated := len(attrs)+ans.Skipped.Count >= cfg.Limit
			unsureMisses := truncated || ans.Skipped.Count > 0
			var unsure int
			for _, ind := range unknown {
				mine := Matching(ind, attrs)
				found[ind] = mine
				if len(mine) == 0 && unsureMisses {
					unsure++
					continue
				}
				store.Put(key(ind), mine)
			}
			if ans.Skipped.Count > 0 {
				env.Log.Warnf("alert %s: %s", label, ans.Skipped)
			}
			switch {
			case unsure > 0 && truncated:
				env.Log.Warnf("alert %s: MISP returned limit=%d attributes, so %d indicators without a match may have been cut off; they were not cached (raise \"limit\")", label, cfg.Limit, unsure)
			case unsure > 0:
				env.Log.Warnf("alert %s: %d indicator(s) without a match were not cached, as a skipped attribute may have been theirs", label, unsure)
			}
		}
	}

	lk.found, lk.fromCache, lk.failure = found, fromCache, failure
	return lk
}

// failureEvent is the run's error event of class, with the count of those
// held back since the last one sent, or nil when this one is held back
// too (see cache.ShouldReport).
func failureEvent(store Cache, class misp.Class, status int, msg string, notLookedUp int, src event.Source) *event.Message {
	report, suppressed := store.ShouldReport(class)
	if !report {
		return nil
	}
	m := event.Failure(class, status, msg, notLookedUp, src)
	if suppressed > 0 {
		m.MISP.Suppressed = strconv.Itoa(suppressed)
	}
	return &m
}

// key is the cache identity of an indicator: where it was found does not
// change MISP's answer.
func key(ind ioc.Indicator) ioc.Indicator {
	return ioc.Indicator{Kind: ind.Kind, Value: ind.Value}
}

// ask makes the one MISP request of this run, for every indicator the
// cache could not answer.
func ask(ctx context.Context, cfg *config.Config, sv Server, env Env, unknown []ioc.Indicator) (misp.Answer, error) {
	client, err := sv.Client()
	if err != nil {
		return misp.Answer{}, err
	}
	if !env.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, env.Deadline)
		defer cancel()
	}
	q := cfg.Query()
	kinds := map[ioc.Kind]bool{}
	for _, ind := range unknown {
		q.Values = append(q.Values, ind.Value)
		if !kinds[ind.Kind] {
			kinds[ind.Kind] = true
			q.Types = append(q.Types, ind.Kind.MISPTypes()...)
		}
	}
	slices.Sort(q.Types)
	q.Types = slices.Compact(q.Types)
	env.Log.Debugf("asking MISP about %d values", len(q.Values))
	return client.Search(ctx, q)
}

// describe turns any error of the lookup into the fields of an error event.
func describe(err error) (class misp.Class, status int, msg string, reset time.Time) {
	var me *misp.Error
	if errors.As(err, &me) {
		return me.Class, me.Status, me.Message, me.Reset
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return misp.ClassTimeout, 0, "run deadline exceeded", time.Time{}
	}
	return misp.ClassBadResponse, 0, err.Error(), time.Time{}
}

// Matching returns the attributes that answer for ind, best first. MISP
// matches either half of a composite (filename|sha256, ip-dst|port,
// domain|ip), case-insensitively, so we do the same to share out the
// answer of one batched request. Only the types of ind's kind count: the
// batched request asks for the types of every kind in the alert, so
// without that a domain would match a url attribute holding a bare host
// name only when the alert also held a URL (and never from the mirror).
func Matching(ind ioc.Indicator, attrs []misp.Attribute) []misp.Attribute {
	var mine []misp.Attribute
	types := ind.Kind.MISPTypes()
	for _, a := range attrs {
		if !slices.Contains(types, string(a.Type)) {
			continue
		}
		v := string(a.Value)
		if strings.EqualFold(v, ind.Value) {
			mine = append(mine, a)
			continue
		}
		if first, second, ok := strings.Cut(v, "|"); ok && (strings.EqualFold(first, ind.Value) || strings.EqualFold(second, ind.Value)) {
			mine = append(mine, a)
		}
	}
	SortBest(mine)
	return mine
}

// SortBest orders attributes for an analyst: detection-grade first, then
// the most severe event, then the newest, then the highest id. The last
// rule makes the order total: MISP returns attributes of equal timestamp
// (an event imported at once) in whatever order its index gives, the
// mirror in id order, and the first one names the event's attribute and
// tags, so without it live and mirror runs could pick different ones.
func SortBest(attrs []misp.Attribute) { slices.SortStableFunc(attrs, better) }

func better(a, b misp.Attribute) int {
	if a.ToIDs != b.ToIDs {
		if a.ToIDs {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(threatRank(string(a.Event.ThreatLevelID)), threatRank(string(b.Event.ThreatLevelID))); c != 0 {
		return c
	}
	if c := compareNumeric(string(a.Timestamp), string(b.Timestamp)); c != 0 {
		return -c
	}
	return -compareNumeric(string(a.ID), string(b.ID))
}

// compareNumeric compares decimal strings (MISP timestamps) without parsing.
func compareNumeric(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func threatRank(id string) int {
	switch id {
	case "1", "2", "3":
		return int(id[0] - '0')
	}
	return 4
}

// NoCache is the Cache used when caching is off: it remembers nothing and
// never holds MISP back.
type NoCache struct{}

func (NoCache) Get(ioc.Indicator) ([]misp.Attribute, bool) { return nil, false }
func (NoCache) Put(ioc.Indicator, []misp.Attribute)        {}
func (NoCache) Gate() cache.Gate                           { return cache.Gate{Allow: true} }
func (NoCache) Failed(misp.Class, time.Time)               {}
func (NoCache) Succeeded()                                 {}
func (NoCache) ShouldReport(misp.Class) (bool, int)        { return true, 0 }
