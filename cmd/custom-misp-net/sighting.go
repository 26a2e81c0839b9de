package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispclient"
)

const sightingUsage = "custom-misp sighting [--type sighting|false-positive|expiration] [--source S] " +
	opFlagsUsage + " VALUE|UUID..."

// sightingRow is what one argument became on one MISP server.
type sightingRow struct {
	Instance string `json:"instance"`
	Argument string `json:"argument"`
	By       string `json:"by"`              // "uuid" or "value"
	Value    string `json:"value,omitempty"` // the value as sent (normalised), when by value
	Added    int    `json:"added"`           // sightings MISP added: one per attribute
	Unknown  bool   `json:"unknown"`         // MISP has no attribute for it
	Error    string `json:"error,omitempty"` // why it was not sent or not taken
}

// runSighting reports sightings to MISP by hand: an analyst, or a Wazuh
// active response, saying that a match was a false positive (--type
// false-positive), that an indicator expired, or that it was seen.
// Arguments that are attribute UUIDs name one attribute; others are
// values (an IP address, domain, URL or hash, normalised as integratord
// does) and reach every attribute holding them. Each argument is one
// request per server, so that the answer says which of them MISP has no
// attribute for.
func runSighting(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newOpFlags("sighting")
	typeName := fs.String("type", misp.Seen.String(), "sighting, false-positive or expiration")
	source := fs.String("source", "", `the sighting's source (default: the "sightings" option's source, else wazuh-<this host>)`)
	argv, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, sightingUsage)
	}
	if err != nil {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("sighting: %w", err), sightingUsage))
	}
	typ, err := misp.ParseSightingType(*typeName)
	if err != nil {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("sighting: %w", err), sightingUsage))
	}
	if len(argv) == 0 {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, errors.New("sighting: no value or attribute UUID"), sightingUsage))
	}
	if len(argv) > misp.MaxValues {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("sighting: %d arguments, at most %d", len(argv), misp.MaxValues), ""))
	}
	if s := strings.TrimSpace(*source); len(s) > mispclient.MaxSightingSource || !printableLine(s) {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("sighting: --source: want printable text of at most %d bytes", mispclient.MaxSightingSource), ""))
	}
	// Every argument is checked before anything is sent: a typo must not
	// leave half of a list reported.
	sightings := make([]misp.Sighting, len(argv))
	for i, a := range argv {
		s, err := sightingOf(a, typ)
		if err != nil {
			return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("sighting: %w", err),
				"give an IP address, domain, http(s) URL or hash as it is in MISP, or the attribute's UUID (any other attribute type goes by UUID)"))
		}
		sightings[i] = s
	}

	_, servers, err := f.loadServers()
	if err != nil {
		return cli.Report(stderr, err)
	}
	host, _ := os.Hostname()

	// Every argument on every server, whatever fails on the way: adding
	// is not idempotent, so the output must say what was added before a
	// failure, or a retry would add it twice.
	var rows []sightingRow
	var failed error // the first failure, reported after the rows
	for _, srv := range servers {
		client, err := opClient(srv, srv.Retries)
		if err != nil {
			failed = cmp.Or(failed, configError(err))
		}
		src := strings.TrimSpace(*source)
		if src == "" {
			src = srv.Sightings.SourceFor(host)
		}
		var refused error // a key that may not: the server's other arguments are not tried
		for i, s := range sightings {
			row := sightingRow{Instance: srv.Name, Argument: argv[i], By: "uuid"}
			if s.AttributeUUID == "" {
				row.By, row.Value = "value", s.Value
			}
			switch {
			case client == nil:
				row.Error = "not sent: " + cli.OneLine(err.Error())
			case refused != nil:
				row.Error = "not sent: " + cli.OneLine(refused.Error())
			default:
				s.Source = src
				// Each request gets a run's deadline, as a lookup does.
				rctx, cancel := context.WithTimeout(ctx, srv.Deadline)
				res, err := client.AddSightings(rctx, []misp.Sighting{s})
				cancel()
				if err != nil {
					row.Error = cli.OneLine(err.Error())
					failed = cmp.Or(failed, sightingError(&srv, err))
					if c := misp.ClassOf(err); c == misp.ClassForbidden || c == misp.ClassAuth || c == misp.ClassConfig {
						refused = err
					}
				}
				row.Added, row.Unknown = res.Added, len(res.Unknown) > 0
			}
			rows = append(rows, row)
		}
	}
	if err := printSightings(stdout, rows, typ, f.json); err != nil {
		return cli.Report(stderr, err)
	}
	if failed != nil {
		return cli.Report(stderr, failed)
	}
	if missing := unknownEverywhere(rows); len(missing) > 0 {
		return cli.Report(stderr, cli.Fail(cli.ExitNoAttribute,
			fmt.Errorf("sighting: no attribute for %s on %s", strings.Join(missing, ", "), strings.Join(namesOf(servers), ", ")),
			"custom-misp lookup VALUE shows what MISP holds; a value must be as MISP stores it, a UUID an attribute's (not an event's)"))
	}
	return cli.ExitOK
}

// sightingOf reads one argument: an attribute UUID, or a value that
// integratord would look up (normalised as it would be).
func sightingOf(arg string, typ misp.SightingType) (misp.Sighting, error) {
	if misp.IsUUID(arg) {
		return misp.Sighting{AttributeUUID: strings.ToLower(arg), Type: typ}, nil
	}
	k, ok := ioc.Classify(arg)
	if !ok {
		return misp.Sighting{}, fmt.Errorf("%q is neither an attribute UUID nor an IP address, domain, http(s) URL or hash", cutArg(arg))
	}
	v, ok := ioc.Normalize(k, arg)
	if !ok {
		return misp.Sighting{}, fmt.Errorf("%q is not a valid %s", cutArg(arg), k)
	}
	return misp.Sighting{Value: v, Type: typ}, nil
}

func cutArg(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func printableLine(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// sightingError is the exit error of a refused or failed request; a key
// without the right names the permission.
func sightingError(srv *config.Config, err error) error {
	if misp.ClassOf(err) == misp.ClassForbidden {
		return cli.Fail(cli.ExitMISP, fmt.Errorf("sighting on %s: %w", srv.Name, err),
			"give MISP a key whose user's role has perm_sighting and that is not read-only (--key-file, or api_key_file); custom-misp doctor checks it")
	}
	return mispError("sighting on "+srv.Name, err)
}

// unknownEverywhere lists the arguments no server had an attribute for.
func unknownEverywhere(rows []sightingRow) []string {
	found := map[string]bool{}
	var order []string
	for _, r := range rows {
		if _, ok := found[r.Argument]; !ok {
			order = append(order, r.Argument)
		}
		found[r.Argument] = found[r.Argument] || !r.Unknown && r.Error == ""
	}
	var missing []string
	for _, a := range order {
		if !found[a] {
			missing = append(missing, a)
		}
	}
	return missing
}

func namesOf(servers []config.Config) []string {
	var n []string
	for _, s := range servers {
		n = append(n, s.Name)
	}
	return n
}

// printSightings prints one line per argument and server, or with --json
// one object with them all.
func printSightings(w io.Writer, rows []sightingRow, typ misp.SightingType, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(struct {
			Type    string        `json:"type"`
			Results []sightingRow `json:"results"`
		}{typ.String(), rows})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MISP\tARGUMENT\tRESULT")
	for _, r := range rows {
		result := fmt.Sprintf("%d %s(s) added", r.Added, typ)
		switch {
		case r.Error != "":
			result = "FAILED: " + r.Error
		case r.Unknown:
			result = "no attribute"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Instance, r.Argument, result)
	}
	return tw.Flush()
}
