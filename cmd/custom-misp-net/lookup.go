package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/custom-misp/custom-misp/internal/cli"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/enrich"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

const lookupUsage = "custom-misp lookup [--live] " + opFlagsUsage + " VALUE..."

// Column caps of the lookup table: an analyst's terminal, not a report.
// In bytes, event.Cut's 3-byte ellipsis included.
const (
	maxInfoColumn = 51
	maxTagsColumn = 63
)

// lookupRow is one value given on the command line and what became of it.
type lookupRow struct {
	raw   string
	ind   ioc.Indicator
	valid bool
	why   string           // when not valid: why it was not looked up
	attrs []misp.Attribute // matches, best first
	// unsure: no match, but MISP's answer was cut at limit, so a match
	// may have been left out.
	unsure bool
}

// runLookup looks values up as integratord mode would (same
// classification, normalisation, exclusions and filters; the local mirror
// when the lookup option says a run would use it, else MISP without the
// cache) and prints a table, or with --json the events integratord would
// send.
func runLookup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newOpFlags("lookup")
	live := fs.Bool("live", false, "ask MISP even when integratord would answer from the local mirror")
	values, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, lookupUsage)
	}
	if err != nil {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("lookup: %w", err), lookupUsage))
	}
	if len(values) == 0 {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("lookup: no value to look up"), lookupUsage))
	}
	if len(values) > misp.MaxValues {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("lookup: %d values, at most %d", len(values), misp.MaxValues), ""))
	}
	oc, servers, err := f.loadServers()
	if err != nil {
		return cli.Report(stderr, err)
	}
	policy, err := ioc.NewPolicy(oc.cfg.Exclude, oc.cfg.AllowSuffixes)
	if err != nil {
		return cli.Report(stderr, configError(err))
	}
	rows := make([]lookupRow, 0, len(values))
	for _, v := range values {
		rows = append(rows, classify(policy, v))
	}
	// Every server on its own, as integratord asks each: one table (or
	// set of event lines) per server, named when several are configured.
	code := cli.ExitOK
	for _, srv := range servers {
		if *live {
			srv.Lookup = config.LookupLive
		}
		if oc.cfg.Several() && !f.json {
			fmt.Fprintf(stdout, "MISP %s (%s):\n", srv.Name, srv.MISPURL)
		}
		l := lookupOn{cfg: srv, json: f.json, stdout: stdout, stderr: stderr}
		if oc.cfg.Several() {
			l.instance = srv.Name
		}
		if c := l.run(ctx, slices.Clone(rows)); c != cli.ExitOK && code == cli.ExitOK {
			code = c
		}
	}
	return code
}

// lookupOn looks the rows up on one MISP server.
type lookupOn struct {
	cfg            config.Config
	json           bool
	instance       string // set when several servers are configured
	stdout, stderr io.Writer
}

func (l lookupOn) run(ctx context.Context, rows []lookupRow) int {
	cfg, stderr := l.cfg, l.stderr
	q := cfg.Query()
	seen := map[ioc.Indicator]bool{}
	for _, r := range rows {
		key := ioc.Indicator{Kind: r.ind.Kind, Value: r.ind.Value}
		if !r.valid || seen[key] {
			continue
		}
		seen[key] = true
		q.Values = append(q.Values, r.ind.Value)
		q.Types = append(q.Types, r.ind.Kind.MISPTypes()...)
	}
	slices.Sort(q.Types)
	q.Types = slices.Compact(q.Types)

	if v, ok := enrich.UseMirror(&cfg, func() mirror.View { return enrich.OpenMirror(&cfg, time.Now()) }, stderrLog{stderr}, l.what()); ok {
		return l.inMirror(v, rows)
	}
	if len(q.Values) > 0 {
		client, err := opClient(cfg, cfg.Retries)
		if err != nil {
			return cli.Report(stderr, configError(err))
		}
		ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
		defer cancel()
		answer, err := client.SearchAnswer(ctx, q)
		if err != nil {
			return cli.Report(stderr, mispError(l.what(), err))
		}
		if answer.Skipped.Count > 0 {
			fmt.Fprintf(stderr, "custom-misp: %s: %s\n", l.what(), answer.Skipped)
		}
		// The rule of integratord mode (enrich.Enrich): MISP returns at
		// most Limit attributes, newest first, so a full page may have cut
		// off the matches of other values.
		truncated := len(answer.Attributes)+answer.Skipped.Count >= cfg.Limit
		unsure := 0
		for i := range rows {
			if rows[i].valid {
				rows[i].attrs = enrich.Matching(rows[i].ind, answer.Attributes)
				rows[i].unsure = truncated && len(rows[i].attrs) == 0
				if rows[i].unsure {
					unsure++
				}
			}
		}
		if l.json && unsure > 0 {
			fmt.Fprintf(stderr, "custom-misp: %s: %s\n", l.what(), cutOff(cfg.Limit, fmt.Sprintf("%d value(s) without a match", unsure)))
		}
	}
	if l.json {
		return cli.Report(stderr, printLookupJSON(l.stdout, rows, cfg.MISPURL, l.mark(nil)))
	}
	return cli.Report(stderr, printLookupTable(l.stdout, rows, cfg.MISPURL, cfg.Limit))
}

// what names the command, and the server when several are configured.
func (l lookupOn) what() string {
	if l.instance == "" {
		return "lookup"
	}
	return "lookup on MISP " + l.instance
}

// mark returns what to add to each event: the path's marks (more), then
// the instance.
func (l lookupOn) mark(more func(*event.Message)) func(*event.Message) {
	return func(m *event.Message) {
		if more != nil {
			more(m)
		}
		if l.instance != "" {
			m.MISP.SetInstance(l.instance)
		}
	}
}

// lookupInMirror answers the rows from the local mirror, as a run with
// lookup "auto" (fresh mirror) or "mirror" does.
func (l lookupOn) inMirror(v mirror.View, rows []lookupRow) int {
	cfg, stdout, stderr := l.cfg, l.stdout, l.stderr
	if v.Mirror == nil {
		return cli.Report(stderr, cli.Fail(cli.ExitMISP, errors.New(l.what()+": "+enrich.NoMirrorMessage(v)), "or add --live to ask MISP"))
	}
	defer v.Mirror.Close()
	for i := range rows {
		if !rows[i].valid {
			continue
		}
		attrs, err := v.Mirror.Lookup(rows[i].ind)
		if err != nil {
			return cli.Report(stderr, cli.Fail(cli.ExitMISP, fmt.Errorf("%s: reading the mirror: %w", l.what(), err), "run custom-misp sync, or add --live to ask MISP"))
		}
		enrich.SortBest(attrs)
		rows[i].attrs = attrs
	}
	state := "fresh"
	if v.Status == mirror.Stale {
		state = fmt.Sprintf("STALE: over mirror_max_age %s", cfg.MirrorMaxAge)
	}
	fmt.Fprintf(stderr, "custom-misp: %s: answered from the local mirror, generation %d, last current %s ago (%s); --live asks MISP\n",
		l.what(), v.Mirror.Meta().Generation, v.Age.Truncate(time.Second), state)
	if l.json {
		age := strconv.FormatInt(int64(v.Age/time.Second), 10)
		return cli.Report(stderr, printLookupJSON(stdout, rows, cfg.MISPURL, l.mark(func(m *event.Message) {
			m.MISP.Lookup, m.MISP.MirrorAge = config.LookupMirror, age
		})))
	}
	return cli.Report(stderr, printLookupTable(stdout, rows, cfg.MISPURL, cfg.Limit))
}

// stderrLog is enrich.Logger for an operator command: warnings on stderr,
// no debug lines.
type stderrLog struct{ w io.Writer }

func (stderrLog) Debugf(string, ...any) {}
func (l stderrLog) Warnf(format string, args ...any) {
	fmt.Fprintf(l.w, "custom-misp: warning: "+format+"\n", args...)
}
func (l stderrLog) Errorf(format string, args ...any) {
	fmt.Fprintf(l.w, "custom-misp: "+format+"\n", args...)
}

// cutOff says that MISP's answer was cut at limit and what that may
// have cost.
func cutOff(limit int, what string) string {
	return fmt.Sprintf(`MISP returned limit=%d attributes, so %s may have been cut off (raise "limit" in <options>)`, limit, what)
}

// classify validates and normalises one value exactly as integratord mode
// does with a value from an alert: ioc.Classify, then Policy.Indicator.
func classify(p *ioc.Policy, raw string) lookupRow {
	r := lookupRow{raw: raw}
	k, ok := ioc.Classify(raw)
	if !ok {
		r.why = "not an IP address, domain, http(s) URL or MD5/SHA-1/SHA-256/SHA-512 hash"
		return r
	}
	if r.ind, r.valid = p.Indicator(k, raw, ""); r.valid {
		return r
	}
	if _, ok := ioc.Normalize(k, raw); ok {
		r.why = `excluded by the "exclude" option`
		return r
	}
	switch k {
	case ioc.IP:
		r.why = "not a global address (private, loopback, link-local, CGNAT, documentation or another special-use range)"
	case ioc.Domain:
		r.why = `not a public name (a special-use suffix such as .local, .internal or .example; "allow_suffixes" admits your own)`
	case ioc.URL:
		r.why = "its host is not a global address or a public name"
	default:
		r.why = "a placeholder hash (all zeros, the empty file's hash, …)"
	}
	return r
}

// printLookupJSON prints one event per matched value, as event.Match
// builds it for integratord (without the alert's source fields).
// printLookupJSON prints the match events; mark, if set, adds to each
// what a mirror run adds.
func printLookupJSON(w io.Writer, rows []lookupRow, baseURL string, mark func(*event.Message)) error {
	for _, r := range rows {
		if len(r.attrs) == 0 {
			continue
		}
		m := event.Match(r.ind, r.attrs, baseURL, event.Source{})
		if mark != nil {
			mark(&m)
		}
		if _, err := fmt.Fprintf(w, "%s\n", wazuh.Marshal(m)); err != nil {
			return err
		}
	}
	return nil
}

func printLookupTable(w io.Writer, rows []lookupRow, baseURL string, limit int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VALUE\tTYPE\tEVENT\tTHREAT\tTAGS\tTO_IDS\tPERMALINK")
	matched, skipped, unsure := 0, 0, 0
	var notes []string
	for _, r := range rows {
		switch {
		case !r.valid:
			skipped++
			notes = append(notes, fmt.Sprintf("%s: not looked up: %s", r.raw, r.why))
			continue
		case r.unsure:
			unsure++
			fmt.Fprintf(tw, "%s\t%s\tunknown: MISP's answer was cut at limit=%d\t-\t-\t-\t-\n", r.ind.Value, r.ind.Kind, limit)
			continue
		case len(r.attrs) == 0:
			fmt.Fprintf(tw, "%s\t%s\tno match\t-\t-\t-\t-\n", r.ind.Value, r.ind.Kind)
			continue
		}
		matched++
		for _, a := range r.attrs {
			m := event.Match(r.ind, []misp.Attribute{a}, baseURL, event.Source{})
			tags := event.Cut(strings.Join(m.MISP.Tags, ","), maxTagsColumn)
			if tags == "" {
				tags = "-"
			}
			toIDs := "no"
			if bool(a.ToIDs) {
				toIDs = "yes"
			}
			info := event.Cut(clean(m.MISP.EventInfo), maxInfoColumn)
			fmt.Fprintf(tw, "%s\t%s\t#%s %s\t%s\t%s\t%s\t%s\n", clean(m.MISP.Value), m.MISP.Type, m.MISP.EventID, info, m.MISP.ThreatLevel, tags, toIDs, m.MISP.Permalink)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, clean(n))
	}
	summary := fmt.Sprintf("%d of %d values matched in MISP, %d not looked up", matched, len(rows), skipped)
	if unsure > 0 {
		summary += fmt.Sprintf(", %d unknown: %s", unsure, cutOff(limit, "their matches"))
	}
	_, err := fmt.Fprintln(w, summary)
	return err
}

// clean keeps a MISP-supplied text on one table cell and harmless to a
// terminal: tabs and line breaks would break the layout, and control
// characters (escape sequences) have no place in it.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
