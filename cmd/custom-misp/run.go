package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/enrich"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispproc"
	"github.com/custom-misp/custom-misp/internal/sighting"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

const usage = `usage:
  custom-misp ALERT_FILE API_KEY HOOK_URL [debug] [OPTIONS_FILE] [TIMEOUT] [RETRIES]
                         how Wazuh's integratord runs it, once per alert
  custom-misp check [--wazuh-home DIR] [--options FILE] [--url URL] [--key-file FILE] [--instance NAME] [--debug] ALERT_FILE
                         look one alert up as integratord would (ossec.conf's custom-misp block)
                         and print the events instead of sending them
  custom-misp doctor [--wazuh-home DIR] [--options FILE] [--url URL] [--key-file FILE] [--instance NAME] [--json]
                         check MISP and the Wazuh side, one line per check with a hint
  custom-misp lookup [flags] VALUE...
                         look values up in MISP as integratord would and print the matches
  custom-misp feeds fetch [--feed ID] [--json] | feeds list [--all] [--json]
                         make MISP fetch its feeds (daily, from a command wodle), or list them
  custom-misp sync [--full] [--json] [flags]
                         bring the local MISP mirror up to date (every few minutes, from a command wodle)
  custom-misp export cdb [--dir DIR] [--no-reload] [--json] [flags]
                         write the mirror as Wazuh CDB lists (etc/lists/misp) and ask analysisd to reload them
  custom-misp sighting [--type sighting|false-positive|expiration] [--source S] [--instance NAME] [--json] VALUE|UUID...
                         report sightings to MISP by hand, e.g. a false positive (from an analyst or an active response)
  custom-misp version    print the version

With several MISP servers (option "instances"), check, doctor, lookup, feeds
and sync work on each of them, or only on the one --instance NAME names;
export cdb uses the first server's mirror unless --instance names another.
`

// run dispatches on the first argument. integratord calls us with argv[0]
// "integrations" and the alert file first, so anything that is not a known
// subcommand is integratord mode.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) >= 2 {
		switch args[1] {
		case "version", "-version", "--version":
			fmt.Fprintln(stdout, "custom-misp", cli.Version())
			return cli.ExitOK
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return cli.ExitOK
		case "check", "doctor", "lookup", "feeds", "sync", "export", "sighting":
			// The operator commands talk to MISP and read ossec.conf:
			// they live in the helper, which links the HTTP client and
			// the XML parser that integratord mode never needs.
			return cli.Report(stderr, execHelper(args[1:]))
		}
	}
	return cli.Report(stdout, integratord(ctx, args[1:]))
}

// integratord handles one alert exactly as Wazuh's integratord invokes us.
func integratord(ctx context.Context, argv []string) error {
	a, err := config.ParseArgs(argv)
	if err != nil {
		return cli.Fail(cli.ExitUsage, fmt.Errorf("bad arguments: %w", err), "run by integratord as: custom-misp ALERT_FILE API_KEY HOOK_URL [debug] [OPTIONS_FILE] [TIMEOUT] [RETRIES]")
	}
	cfg, cfgErr := config.Load(a, wazuh.Home())
	log := wazuh.NewLog(cfg.LogFile, cfg.Debug)
	defer log.Close()
	if cfgErr != nil {
		log.Errorf("configuration: %v", cfgErr)
		reportConfigError(&cfg, cfgErr, log)
		return cli.Fail(cli.ExitConfig, fmt.Errorf("configuration: %w", cfgErr), "fix the <integration> block or its <options>; see README \"Options\"")
	}
	sendTo := func(deadline time.Time, al *alert.Alert, events []event.Message) error {
		return send(deadline, cfg.SocketPath, al, events, log)
	}
	return enrich.Alert(ctx, &cfg, log, enrich.Hooks{
		Client:        func(srv *config.Config) (enrich.Searcher, error) { return newSearcher(srv, log) },
		Emit:          sendTo,
		Sighter:       func(srv *config.Config) (enrich.Sighter, error) { return newSearcher(srv, log) },
		OpenSightings: func(srv *config.Config) (enrich.SightingMemory, error) { return openSightings(srv, log) },
	})
}

// newSearcher returns the MISP lookup of this run: the helper program,
// started only if the cache cannot answer.
func newSearcher(cfg *config.Config, log *wazuh.Log) (*mispproc.Searcher, error) {
	path, err := mispproc.Path()
	if err != nil {
		return nil, &misp.Error{Class: misp.ClassConfig, Message: "locating " + mispproc.Program + ": " + err.Error()}
	}
	return &mispproc.Searcher{
		Path:   path,
		Client: mispproc.ClientOf(cfg, "custom-misp/"+cli.Version()),
		Debug:  log.DebugEnabled(),
		Logf:   log.Debugf,
	}, nil
}

// openSightings opens one server's memory of the sightings sent, with the
// cache's lock wait: a run that finds it busy skips its sightings rather
// than keep integratord waiting.
func openSightings(srv *config.Config, log *wazuh.Log) (enrich.SightingMemory, error) {
	s, err := sighting.Open(srv.SightingsPath, srv.CacheLockWait)
	if err != nil {
		return nil, err
	}
	if n := s.Notice(); n != nil {
		log.Warnf("%v", n) // a damaged file was moved aside and rebuilt; the notice names it
	}
	return s, nil
}

// execHelper replaces this process with the helper for an operator
// command, so that its output, exit code and signals are the helper's own.
func execHelper(args []string) error {
	path, err := mispproc.Path()
	if err == nil {
		err = syscall.Exec(path, append([]string{path}, args...), os.Environ())
	}
	return cli.Fail(cli.ExitInternal, fmt.Errorf("running %s: %w", mispproc.Program, err), "install "+mispproc.Program+" next to custom-misp (make install)")
}

// Bounds of the queue socket's write timeout, see send.
const (
	minSendTime = 100 * time.Millisecond
	maxSendTime = 2 * time.Second
)

// send writes the events to the analysisd queue socket, one datagram each,
// attributed to the alert's agent.
func send(deadline time.Time, path string, al *alert.Alert, events []event.Message, log *wazuh.Log) error {
	loc := location(al, log)
	msgs := make([][]byte, 0, len(events))
	for _, m := range events {
		b, err := wazuh.Format(loc, m)
		if err != nil {
			return socketError(err)
		}
		msgs = append(msgs, b)
	}
	s, err := wazuh.Dial(path)
	if err != nil {
		return socketError(err)
	}
	defer s.Close()
	// The events are the run's result, so they get a moment even at the
	// deadline, but not the full default wait.
	if err := s.SetWriteTimeout(min(max(time.Until(deadline), minSendTime), maxSendTime)); err != nil {
		return socketError(err)
	}
	for _, b := range msgs {
		if err := s.Send(b); err != nil {
			return socketError(err)
		}
	}
	return nil
}

// location is the queue location of the alert's events; an agent id Wazuh
// could not have written is logged, and the events go out as the manager's.
func location(al *alert.Alert, log *wazuh.Log) string {
	loc, idRejected := wazuh.Location(wazuh.Agent{ID: al.Agent.ID, Name: al.Agent.Name, IP: al.Agent.IP})
	if idRejected {
		log.Warnf("alert %s: agent.id %q is not a Wazuh agent id (1 to 8 digits): its events are attributed to the manager", al.ID, event.Cut(al.Agent.ID, maxLoggedAgentID))
	}
	return loc
}

// maxLoggedAgentID bounds the bad agent id quoted in the log: the alert
// file can hold megabytes there.
const maxLoggedAgentID = 64

func socketError(err error) error {
	switch {
	case errors.Is(err, wazuh.ErrSocketMissing):
		return cli.Fail(cli.ExitNoSocket, err, "") // the exit code's own hint
	case errors.Is(err, wazuh.ErrNotRunning):
		return cli.Fail(cli.ExitNotRunning, err, "")
	case errors.Is(err, wazuh.ErrTooLong):
		return cli.Fail(cli.ExitTooLong, err, "")
	}
	hint := ""
	if errors.Is(err, wazuh.ErrNotSocket) {
		hint = "\"socket_path\" must name analysisd's queue socket (<wazuh home>/queue/sockets/queue); if it does, move that file away and restart the manager, which creates the socket"
	}
	return cli.Fail(cli.ExitSocket, err, hint)
}

// reportConfigError tells Wazuh, as an error event, that the integration is
// misconfigured: otherwise the only trace is a line in ossec.log and every
// alert goes unenriched in silence. Best effort; the exit code says the rest.
func reportConfigError(cfg *config.Config, cfgErr error, log *wazuh.Log) {
	if cfg.SocketPath == "" {
		return
	}
	loc := event.Integration
	src := event.Source{}
	if al, err := alert.Read(cfg.AlertFile); err == nil {
		if al.IsOwnEnrichment() {
			return
		}
		loc = location(al, log)
		src = enrich.Source(al)
	}
	m := event.Failure(misp.ClassConfig, 0, "configuration: "+cfgErr.Error(), 0, src)
	b, err := wazuh.Format(loc, m)
	if err != nil {
		return
	}
	s, err := wazuh.Dial(cfg.SocketPath)
	if err != nil {
		log.Errorf("could not report the configuration error to Wazuh: %v", err)
		return
	}
	defer s.Close()
	if err := s.Send(b); err != nil {
		log.Errorf("could not report the configuration error to Wazuh: %v", err)
	}
}
