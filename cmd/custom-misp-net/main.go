// Command custom-misp-net is the part of custom-misp that talks to MISP.
// custom-misp, which integratord runs once per alert, starts it only when
// the cache cannot answer (see internal/mispproc for why there are two
// programs); custom-misp's operator commands (doctor, lookup, feeds,
// sync, export, sighting) run here too. It is installed next to
// custom-misp, root:wazuh 0750.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/custom-misp/custom-misp/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage (normally through custom-misp):
  custom-misp-net search      one MISP search, request on stdin, answer on stdout (custom-misp's own use;
                              stdin must stay open: EOF means custom-misp is gone and stops the search)
  custom-misp-net check|doctor|lookup|feeds|sync|export|sighting ...   the operator commands, see custom-misp help
  custom-misp-net version
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return cli.ExitUsage
	}
	switch args[1] {
	case "search":
		return cli.Report(stderr, serveSearch(ctx, stdin, stdout, stderr))
	case "check":
		return runCheck(ctx, args[2:], stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[2:], stdout, stderr)
	case "lookup":
		return runLookup(ctx, args[2:], stdout, stderr)
	case "feeds":
		return runFeeds(ctx, args[2:], stdout, stderr)
	case "sync":
		return runSync(ctx, args[2:], stdout, stderr)
	case "export":
		return runExport(ctx, args[2:], stdout, stderr)
	case "sighting":
		return runSighting(ctx, args[2:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "custom-misp-net", cli.Version())
		return cli.ExitOK
	}
	fmt.Fprint(stderr, usage)
	return cli.ExitUsage
}
