package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/enrich"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispclient"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

const checkUsage = "custom-misp check " + opFlagsUsage + " [--debug] ALERT_FILE"

// runCheck looks one alert up as integratord mode would and prints the
// events, one JSON object per line, instead of sending them to Wazuh: for
// trying the configuration and the rules by hand. Its configuration is
// doctor's and lookup's (the custom-misp block of ossec.conf, with the
// flags on top); the lookup is enrich.Alert, integratord mode's own, with
// the MISP client in this process instead of behind the pipe.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags, f := newOpFlags("check")
	debug := flags.Bool("debug", false, "write debug lines to the log file")
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, checkUsage)
	}
	if err != nil {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("check: %w", err), checkUsage))
	}
	if len(pos) != 1 {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("check: want one alert file, got %d arguments", len(pos)), checkUsage))
	}
	oc := f.load()
	if oc.err != nil {
		return cli.Report(stderr, configError(oc.err))
	}
	cfg := oc.cfg
	if f.instance != "" {
		// That server alone, as if it were the only one configured.
		servers, err := oc.servers(f)
		if err != nil {
			return cli.Report(stderr, err)
		}
		cfg = servers[0]
		cfg.Others = nil
	}
	// A dry run leaves integratord's state alone: no cache (its answers,
	// 429 pauses, circuit and error-event window are integratord's; a
	// root check once used up that window on a real manager, and the
	// runs that followed sent no error event), no sightings.
	cfg.CacheOn = false
	cfg.Others = slices.Clone(cfg.Others)
	for i := range cfg.Others {
		cfg.Others[i].CacheOn = false
	}
	cfg.AlertFile = pos[0]
	cfg.Debug = cfg.Debug || *debug
	log := wazuh.NewLog(cfg.LogFile, cfg.Debug)
	defer log.Close()
	client := func(srv *config.Config) (enrich.Searcher, error) {
		c, err := opClient(*srv, srv.Retries)
		if err != nil {
			return nil, &misp.Error{Class: misp.ClassConfig, Message: err.Error()}
		}
		return answers{c}, nil
	}
	print := func(_ time.Time, _ *alert.Alert, events []event.Message) error {
		for _, m := range events {
			if _, err := fmt.Fprintf(stdout, "%s\n", wazuh.Marshal(m)); err != nil {
				return err
			}
		}
		return nil
	}
	return cli.Report(stderr, enrich.Alert(ctx, &cfg, log, enrich.Hooks{Client: client, Emit: print}))
}

// answers is the client as enrich asks it: the attributes with the count
// of those left out.
type answers struct{ *mispclient.Client }

func (a answers) Search(ctx context.Context, q misp.Query) (misp.Answer, error) {
	return a.SearchAnswer(ctx, q)
}
