package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/misp"
)

const syncUsage = "custom-misp sync [--full] " + opFlagsUsage

// syncOperation names the job in the event (rules 117663/117664).
const syncOperation = "mirror_sync"

// runSync brings the local mirror up to date with MISP. With --json it
// prints exactly one event line and nothing else, as feeds fetch does,
// for the command wodle of ossec-snippets/mirror-sync-wodle.xml; with
// option export_cdb, a second one for the export (see syncExport).
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newOpFlags("sync")
	full := fs.Bool("full", false, "read every event again, whatever the mirror holds")
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, syncUsage)
	}
	jsonOut := jsonFlag(f, args)
	done := job{name: "sync", operation: syncOperation, json: jsonOut, stdout: stdout, stderr: stderr}.done
	switch {
	case err != nil:
		return done(cli.ExitUsage, "bad arguments: "+err.Error(), syncUsage, nil)
	case len(pos) != 0:
		return done(cli.ExitUsage, fmt.Sprintf("unexpected argument %q", pos[0]), syncUsage, nil)
	}
	oc := f.load()
	if oc.err != nil {
		return done(cli.ExitConfig, "configuration: "+oc.err.Error(), "custom-misp doctor shows what is wrong", nil)
	}
	servers, err := oc.servers(f)
	if err != nil {
		return done(cli.ExitUsage, err.Error(), syncUsage, nil)
	}
	// Each server's mirror is synced on its own, one outcome line each:
	// one MISP down leaves the others' mirrors current.
	j := job{name: "sync", operation: syncOperation, json: jsonOut, stdout: stdout, stderr: stderr}
	return forEach(servers, oc.cfg.Several(), j, func(cfg config.Config, j job) int {
		return syncOne(ctx, oc, f, cfg, *full, j)
	})
}

// syncOne syncs one server's mirror, then, with option export_cdb, writes
// the CDB lists from the first server's mirror (see runExport).
func syncOne(ctx context.Context, oc opConfig, f *opFlags, cfg config.Config, full bool, j job) int {
	client, err := opClient(cfg, cfg.Retries)
	if err != nil {
		return j.done(cli.ExitConfig, "configuration: "+err.Error(), "custom-misp doctor shows what is wrong", nil)
	}
	q := cfg.Query()
	res, err := mirror.Sync(ctx, client, mirror.Options{
		Path:             cfg.MirrorPath,
		Scope:            mirror.Scope(cfg.MISPURL, cfg.APIKey, q),
		URL:              cfg.MISPURL,
		Filters:          mirror.Filters(q),
		Query:            q,
		FullSyncInterval: cfg.MirrorFullSyncInterval,
		Full:             full,
	})
	switch {
	case errors.Is(err, mirror.ErrBusy):
		return j.done(cli.ExitBusy, err.Error(), "", nil)
	case isMISP(err):
		return j.done(cli.ExitMISP, err.Error()+"; the previous mirror keeps serving", "custom-misp doctor checks the way to MISP", nil)
	case err != nil:
		return j.done(cli.ExitStore, err.Error(), "", nil)
	}
	if f.keyFile != "" && cfg.Name == oc.cfg.Name && mirror.Scope(oc.cacheCfg.MISPURL, oc.cacheCfg.APIKey, oc.cacheCfg.Query()) != mirror.Scope(cfg.MISPURL, cfg.APIKey, q) {
		fmt.Fprintln(j.stderr, "custom-misp: warning: --key-file names another key than the integration's: integratord runs will not use this mirror (it holds what that key sees)")
	}
	code := j.done(cli.ExitOK, summary(res), "", &res)
	if cfg.ExportCDB && cfg.MirrorPath == oc.cfg.All()[0].MirrorPath && (res.Changed || listsMissing(cfg.WazuhHome)) {
		code = syncExport(ctx, cfg.WazuhHome, cfg.MirrorPath, j.json, j.stdout, j.stderr)
	}
	return code
}

// syncExport runs the export of option export_cdb after a sync that changed
// the mirror; with --json it is a second event line (a command wodle sends
// each line as an event), so the sync's own result stays its own.
func syncExport(ctx context.Context, home, mirrorPath string, jsonOut bool, stdout, stderr io.Writer) int {
	rep, code, err := exportCDB(ctx, home, mirrorPath, "", true)
	msg := ""
	if err != nil {
		msg = err.Error()
	} else {
		msg = exportSummary(rep)
	}
	if err == nil {
		code = cli.ExitOK
	}
	return job{name: "export cdb", operation: exportOperation, json: jsonOut, stdout: stdout, stderr: stderr}.done(code, msg, exportHint(code), nil)
}

// isMISP tells a failed MISP call from a local failure.
func isMISP(err error) bool {
	var me *misp.Error
	return errors.As(err, &me)
}

// summary is the one line a sync reports.
func summary(r mirror.Result) string {
	kind := "incremental"
	if r.Full {
		kind = "full (" + r.Why + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sync in %s, %d requests: ", kind, r.Duration, r.Requests)
	if r.Changed {
		fmt.Fprintf(&b, "generation %d with %d attributes (%d networks) over %d events; %d events read, %d gone",
			r.Generation, r.Meta.Attributes, r.Meta.CIDRs, r.Meta.Events, r.Events, r.Deleted)
	} else {
		fmt.Fprintf(&b, "no change, generation %d is current", r.Generation)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "; %d unreadable attributes skipped", r.Skipped)
	}
	if r.TooBroad > 0 {
		fmt.Fprintf(&b, "; %d networks broader than /%d (IPv4) or /%d (IPv6) left out", r.TooBroad, mirror.MinV4Prefix, mirror.MinV6Prefix)
	}
	return b.String()
}
