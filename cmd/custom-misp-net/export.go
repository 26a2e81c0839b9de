package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/cdb"
	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/mirror"
)

const exportUsage = "custom-misp export cdb [--dir DIR] [--no-reload] " + opFlagsUsage

// exportOperation names the job in the event (rule 117662 on failure).
const exportOperation = "cdb_export"

// reloadTimeout bounds the wait for analysisd's reload: it drains its
// queues and compiles the changed lists first.
const reloadTimeout = 2 * time.Minute

// cdbReport is what an export did.
type cdbReport struct {
	Generation uint64            `json:"mirror_generation"`
	Lists      []cdb.Written     `json:"lists"`
	Stats      cdb.Stats         `json:"stats"`
	Reload     *cdb.ReloadResult `json:"reload,omitempty"`
	Duration   string            `json:"duration"`
}

// runExport writes the mirror as Wazuh CDB lists (docs/cdb.md). With
// --json it prints one event line, for a command wodle.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newOpFlags("export")
	dir := fs.String("dir", "", "write the lists into DIR instead of <wazuh home>/"+cdb.Dir+" (no reload then)")
	noReload := fs.Bool("no-reload", false, "do not ask analysisd to reload the changed lists")
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, exportUsage)
	}
	done := job{name: "export cdb", operation: exportOperation, json: jsonFlag(f, args), stdout: stdout, stderr: stderr}.done
	switch {
	case err != nil:
		return done(cli.ExitUsage, "bad arguments: "+err.Error(), exportUsage, nil)
	case len(pos) == 0 || pos[0] != "cdb":
		return done(cli.ExitUsage, "say what to export: cdb", exportUsage, nil)
	case len(pos) > 1:
		return done(cli.ExitUsage, fmt.Sprintf("unexpected argument %q", pos[1]), exportUsage, nil)
	}
	oc := f.load()
	if oc.err != nil {
		return done(cli.ExitConfig, "configuration: "+oc.err.Error(), "custom-misp doctor shows what is wrong", nil)
	}
	// One mirror makes the lists: the first configured server's, or the
	// one --instance names (the lists have one name each; docs/cdb.md).
	servers, err := oc.servers(f)
	if err != nil {
		return done(cli.ExitUsage, err.Error(), exportUsage, nil)
	}
	rep, code, err := exportCDB(ctx, oc.cfg.WazuhHome, servers[0].MirrorPath, *dir, !*noReload && *dir == "")
	if err != nil {
		return done(code, err.Error(), exportHint(code), nil)
	}
	return done(code, exportSummary(rep), "", &rep)
}

// exportCDB is the export itself, for the command and for sync's
// export_cdb: the mirror at mirrorPath into dir (default: the Wazuh home's
// lists), then, if a list changed and reload is set, analysisd's reload.
func exportCDB(ctx context.Context, home, mirrorPath, dir string, reload bool) (cdbReport, int, error) {
	start := time.Now()
	var rep cdbReport
	if dir == "" {
		dir = filepath.Join(home, filepath.FromSlash(cdb.Dir))
	}
	m, err := mirror.Open(mirrorPath)
	switch {
	case errors.Is(err, mirror.ErrNoMirror):
		return rep, cli.ExitConfig, fmt.Errorf("no mirror at %s", mirrorPath)
	case err != nil:
		return rep, cli.ExitStore, err
	}
	defer m.Close()
	rep.Generation = m.Meta().Generation
	set, err := cdb.Build(m)
	if err != nil {
		return rep, cli.ExitStore, fmt.Errorf("reading the mirror: %w", err)
	}
	rep.Stats = set.Stats
	rep.Lists, err = cdb.Write(dir, set)
	if err != nil {
		return rep, cli.ExitStore, err
	}
	if reload && slices.ContainsFunc(rep.Lists, func(w cdb.Written) bool { return w.Changed }) {
		rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
		r, err := cdb.Reload(rctx, home)
		cancel()
		if err != nil {
			return rep, cli.ExitStore, fmt.Errorf("lists written; %w", err)
		}
		rep.Reload = &r
		if r.Outcome == cdb.ReloadFailed {
			return rep, cli.ExitStore, fmt.Errorf("lists written, but analysisd refused the reloaded ruleset and keeps the old one: %s", strings.Join(r.Messages, "; "))
		}
	}
	rep.Duration = time.Since(start).Round(time.Millisecond).String()
	return rep, cli.ExitOK, nil
}

func exportHint(code int) string {
	switch code {
	case cli.ExitConfig:
		return "run custom-misp sync first: the lists are made from its mirror"
	case cli.ExitStore:
		return "custom-misp doctor checks the lists and their directory"
	}
	return ""
}

// exportSummary is the one line an export reports.
func exportSummary(r cdbReport) string {
	var b strings.Builder
	var counts, changed []string
	for _, w := range r.Lists {
		counts = append(counts, fmt.Sprintf("%s %d", w.List, w.Entries))
		if w.Changed {
			changed = append(changed, string(w.List))
		}
	}
	fmt.Fprintf(&b, "mirror generation %d: %s", r.Generation, strings.Join(counts, ", "))
	if len(changed) == 0 {
		b.WriteString("; no list changed")
	} else {
		fmt.Fprintf(&b, "; changed: %s", strings.Join(changed, ", "))
	}
	if n := r.Stats.NetworksLeft; n > 0 {
		fmt.Fprintf(&b, "; %d networks left to the mirror lookup (IPv6 networks cannot be CDB keys)", n)
	}
	if r.Reload != nil {
		switch r.Reload.Outcome {
		case cdb.Reloaded:
			b.WriteString("; analysisd reloaded the ruleset")
		case cdb.RestartNeeded:
			b.WriteString("; analysisd cannot reload (Wazuh before 4.13): restart the manager to load the lists")
		case cdb.NotRunning:
			b.WriteString("; analysisd is not running: it loads the lists when it starts")
		}
		if len(r.Reload.Messages) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(r.Reload.Messages, "; "))
		}
	}
	return b.String()
}

// listsMissing says whether a list file is absent, so that sync exports
// once after export_cdb is turned on even if the mirror did not change.
func listsMissing(home string) bool {
	for _, l := range cdb.Lists {
		if _, err := os.Lstat(filepath.Join(home, filepath.FromSlash(l.Path()))); err != nil {
			return true
		}
	}
	return false
}
