package enrich

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/cache"
	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/mirror"
)

// Emit hands a run's events on by the run's deadline: to the queue socket
// in integratord mode, to stdout for `check`.
type Emit func(deadline time.Time, a *alert.Alert, events []event.Message) error

// Hooks is what integratord mode and `check` do differently.
type Hooks struct {
	// Client reaches one MISP server (in integratord mode through the
	// custom-misp-net helper, in `check` in process).
	Client func(srv *config.Config) (Searcher, error)
	// Emit hands the events on.
	Emit Emit
	// Sighter, if set, reports the matches back to the servers that
	// have sightings enabled, after Emit (integratord mode only: `check`
	// is a dry run).
	Sighter func(srv *config.Config) (Sighter, error)
	// OpenSightings opens a server's memory of the sightings sent.
	OpenSightings func(srv *config.Config) (SightingMemory, error)
}

// Alert is one whole run on cfg.AlertFile: read the alert, look it up on
// every configured server (the cache, then the client for the rest), emit
// the events, then add the sightings. Errors come back as cli errors with
// their exit code: alert files 3 and 4, configuration 5, emit's own as
// they are.
func Alert(ctx context.Context, cfg *config.Config, log Logger, h Hooks) error {
	for _, srv := range cfg.All() {
		urlSetting := "hook_url"
		if srv != cfg {
			urlSetting = "instances[" + srv.Name + "].url"
		}
		warnRisky(srv, urlSetting, log)
	}
	// The deadline runs from here, but no timer is armed for it unless MISP
	// is asked (see Env.Deadline): arming one cost a run without
	// indicators about 0.15 ms (bench -compare).
	deadline := time.Now().Add(cfg.Deadline)

	al, err := alert.Read(cfg.AlertFile)
	if err != nil {
		log.Errorf("%v", err)
		return alertError(err)
	}
	policy, err := ioc.NewPolicy(cfg.Exclude, cfg.AllowSuffixes)
	if err != nil {
		// config.Validate parsed the same lists: only a caller that
		// skipped it gets here.
		return cli.Fail(cli.ExitConfig, err, "")
	}
	var mu sync.Mutex
	var opened []*cache.Cache
	env := Env{
		Log:      log,
		Policy:   policy,
		Deadline: deadline,
		Server: func(srv *config.Config) Server {
			sv := Server{
				Client: func() (Searcher, error) { return h.Client(srv) },
				OpenCache: func() Cache {
					c := openCache(srv, log)
					if c, ok := c.(*cache.Cache); ok {
						mu.Lock()
						opened = append(opened, c)
						mu.Unlock()
					}
					return c
				},
			}
			if srv.Lookup != config.LookupLive {
				sv.OpenMirror = func() mirror.View { return OpenMirror(srv, time.Now()) }
			}
			return sv
		},
	}
	res, err := Run(ctx, cfg, al, env)
	// Closed before the events are sent: other runs wait for the cache.
	for _, c := range opened {
		if cerr := c.Close(); cerr != nil {
			log.Warnf("%v", cerr)
		}
	}
	if err != nil {
		return err
	}
	how := fmt.Sprintf("%d cached, %d asked", res.Cached, res.Asked)
	if res.FromMirror > 0 {
		how = fmt.Sprintf("%d from the mirror", res.FromMirror)
	}
	log.Debugf("alert %s: %d indicators (%s), %d matched, %d events%s",
		al.ID, res.Indicators, how, res.Matched, len(res.Events), skipped(res.Skipped))
	if len(res.Events) > 0 {
		err = h.Emit(deadline, al, res.Events)
	}
	// The sightings come last, so that they never delay an event; a
	// failed Emit does not undo the match they report.
	if h.Sighter != nil && h.OpenSightings != nil && len(res.Matches) > 0 {
		sight(ctx, cfg, al, res.Matches, deadline, time.Now(), log, h)
	}
	return err
}

// warnRisky logs the settings that weaken one server's connection;
// urlSetting names its URL's setting.
func warnRisky(srv *config.Config, urlSetting string, log Logger) {
	if srv.InsecureSkipVerify {
		log.Warnf("insecure_skip_verify is set for %s: the MISP server's certificate is not verified; use ca_file instead", urlSetting)
	}
	if srv.AllowHTTP && strings.HasPrefix(strings.ToLower(srv.MISPURL), "http://") {
		log.Warnf("allow_http is set and %s is http://: the API key crosses the network in clear text; use https", urlSetting)
	}
}

// openCache opens one server's cache, or NoCache when caching is off.
func openCache(srv *config.Config, log Logger) Cache {
	if !srv.CacheOn {
		return NoCache{}
	}
	c, warn := cache.Open(cache.OptionsFor(srv))
	if warn != nil {
		log.Warnf("%v", warn) // the cache's messages name it
	}
	return c
}

func skipped(why string) string {
	if why == "" {
		return ""
	}
	return "; " + why
}

// alertError gives an alert file's failure its exit code.
func alertError(err error) error {
	switch {
	case errors.Is(err, alert.ErrNotFound):
		return cli.Fail(cli.ExitAlertFile, err, "")
	case errors.Is(err, alert.ErrNotJSON):
		return cli.Fail(cli.ExitAlertData, err, "set <alert_format>json</alert_format> in the <integration> block")
	}
	return cli.Fail(cli.ExitAlertData, err, "")
}

// Source is what an event says of the alert it enriches.
func Source(a *alert.Alert) event.Source {
	return event.Source{AlertID: a.ID, RuleID: a.RuleID, RuleLevel: strconv.Itoa(a.RuleLevel), Description: a.RuleDescription}
}
