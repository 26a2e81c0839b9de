package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/custom-misp/custom-misp/internal/cli"
	"io"
	"text/tabwriter"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/doctor"
)

const feedsUsage = "custom-misp feeds fetch [--feed ID] " + opFlagsUsage + "\n       custom-misp feeds list [--all] " + opFlagsUsage

// feedsOperation names the job in the event (rules 117660/117661).
const feedsOperation = "feeds_fetch"

// maxJobMessage caps the event's message: the rule description quotes it,
// and analysisd prints the raw "$(misp.message)" when a description
// passes 1024 bytes.
const maxJobMessage = 800

// runFeeds is `feeds fetch` and `feeds list`.
func runFeeds(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, errors.New("feeds: want fetch or list"), feedsUsage))
	}
	switch args[0] {
	case "fetch":
		return feedsFetch(ctx, args[1:], stdout, stderr)
	case "list":
		return feedsList(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprintf(stdout, "usage: %s\n", feedsUsage)
		return cli.ExitOK
	}
	return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("feeds: unknown command %q", args[0]), feedsUsage))
}

// feedsFetch asks MISP to fetch its feeds; with --json it prints one job
// event line (see job).
func feedsFetch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newOpFlags("feeds fetch")
	id := fs.String("feed", "", "fetch only the feed with this id")
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, feedsUsage)
	}
	j := job{name: "feeds fetch", operation: feedsOperation, json: jsonFlag(f, args), stdout: stdout, stderr: stderr}
	done := func(code int, res doctor.FetchResult) int { return j.done(code, res.Message, res.Hint, nil) }
	switch {
	case err != nil:
		return done(cli.ExitUsage, doctor.FetchResult{Message: "bad arguments: " + err.Error(), Hint: feedsUsage})
	case len(pos) != 0:
		return done(cli.ExitUsage, doctor.FetchResult{Message: fmt.Sprintf("unexpected argument %q", pos[0]), Hint: feedsUsage})
	case *id != "" && !doctor.ValidFeedID(*id):
		return done(cli.ExitUsage, doctor.FetchResult{Message: fmt.Sprintf("--feed %q is not a feed id", *id), Hint: "custom-misp feeds list shows the ids"})
	}
	oc := f.load()
	if oc.err != nil {
		return done(cli.ExitConfig, doctor.FetchResult{Message: "configuration: " + oc.err.Error(), Hint: "custom-misp doctor shows what is wrong"})
	}
	servers, err := oc.servers(f)
	if err != nil {
		return done(cli.ExitUsage, doctor.FetchResult{Message: err.Error(), Hint: feedsUsage})
	}
	return forEach(servers, oc.cfg.Several(), j, func(cfg config.Config, j job) int {
		// No retries: a retried fetch could queue the same pull twice,
		// and a failing one fails the same way a moment later.
		client, err := opClient(cfg, 0)
		if err != nil {
			return j.done(cli.ExitConfig, "configuration: "+err.Error(), "custom-misp doctor shows what is wrong", nil)
		}
		res := doctor.FetchFeeds(ctx, client, *id)
		if !res.OK {
			return j.done(cli.ExitMISP, res.Message, res.Hint, nil)
		}
		return j.done(cli.ExitOK, res.Message, res.Hint, nil)
	})
}

// feedsList prints MISP's feeds, enabled ones unless --all.
func feedsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newOpFlags("feeds list")
	all := fs.Bool("all", false, "also list disabled feeds")
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, feedsUsage)
	}
	if err != nil {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("feeds list: %w", err), feedsUsage))
	}
	if len(pos) != 0 {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("feeds list: unexpected argument %q", pos[0]), feedsUsage))
	}
	oc, servers, err := f.loadServers()
	if err != nil {
		return cli.Report(stderr, err)
	}
	code := cli.ExitOK
	for _, cfg := range servers {
		if oc.cfg.Several() && !f.json {
			fmt.Fprintf(stdout, "MISP %s (%s):\n", cfg.Name, cfg.MISPURL)
		}
		if c := listFeeds(ctx, cfg, oc.label(cfg), *all, f.json, stdout, stderr); c != cli.ExitOK && code == cli.ExitOK {
			code = c
		}
	}
	return code
}

// listFeeds prints one server's feeds; label names the server in errors
// when several are configured.
func listFeeds(ctx context.Context, cfg config.Config, label string, all, jsonOut bool, stdout, stderr io.Writer) int {
	client, err := opClient(cfg, cfg.Retries)
	if err != nil {
		return cli.Report(stderr, configError(err))
	}
	feeds, err := doctor.Feeds(ctx, client)
	if err != nil {
		return cli.Report(stderr, mispError(label+"feeds list", err))
	}
	shown := make([]doctor.Feed, 0, len(feeds))
	for _, fd := range feeds {
		if fd.Enabled || all {
			shown = append(shown, fd)
		}
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if label != "" {
			// Several servers: one line each, named.
			return cli.Report(stderr, enc.Encode(struct {
				Instance string        `json:"instance"`
				Feeds    []doctor.Feed `json:"feeds"`
			}{cfg.Name, shown}))
		}
		return cli.Report(stderr, enc.Encode(shown))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPROVIDER\tFORMAT\tENABLED\tCACHED\tURL")
	for _, fd := range shown {
		cached := "never"
		if !fd.CachedAt.IsZero() {
			cached = fd.CachedAt.Format("2006-01-02 15:04 UTC")
		}
		enabled := "no"
		if fd.Enabled {
			enabled = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(fd.ID), clean(fd.Name), clean(fd.Provider), clean(fd.SourceFormat), enabled, cached, clean(fd.URL))
	}
	if err := tw.Flush(); err != nil {
		return cli.Report(stderr, err)
	}
	enabled := 0
	for _, fd := range feeds {
		if fd.Enabled {
			enabled++
		}
	}
	fmt.Fprintf(stdout, "%d of %d feeds enabled; MISP records no fetch time, CACHED is when the feed's cache was last built\n", enabled, len(feeds))
	return cli.ExitOK
}
