package enrich

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// Alert is one whole run on cfg.AlertFile: read the alert, look it up
// (the cache, then client for the rest), and emit the events. integratord
// mode and `check` differ only in client and emit. Errors come back as
// cli errors with their exit code: alert files 3 and 4, configuration 5,
// emit's own as they are.
func Alert(ctx context.Context, cfg *config.Config, log Logger, client func() (Searcher, error), emit Emit) error {
	if cfg.InsecureSkipVerify {
		log.Warnf("insecure_skip_verify is set: the MISP server's certificate is not verified; use ca_file instead")
	}
	if cfg.AllowHTTP && strings.HasPrefix(strings.ToLower(cfg.MISPURL), "http://") {
		log.Warnf("allow_http is set and hook_url is http://: the API key crosses the network in clear text; use https")
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
	var opened *cache.Cache
	env := Env{
		Log:      log,
		Policy:   policy,
		Deadline: deadline,
		Client:   client,
		OpenCache: func() Cache {
			if !cfg.CacheOn {
				return NoCache{}
			}
			c, warn := cache.Open(cache.OptionsFor(cfg))
			if warn != nil {
				log.Warnf("%v", warn) // the cache's messages name it
			}
			opened = c
			return c
		},
	}
	if cfg.Lookup != config.LookupLive {
		env.OpenMirror = func() mirror.View { return OpenMirror(cfg, time.Now()) }
	}
	res, err := Run(ctx, cfg, al, env)
	if opened != nil {
		if cerr := opened.Close(); cerr != nil {
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
	if len(res.Events) == 0 {
		return nil
	}
	return emit(deadline, al, res.Events)
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
