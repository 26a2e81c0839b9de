package main

// Shared plumbing of the operator commands doctor, lookup and feeds: the
// flags, the configuration (the same loader as integratord mode, fed from
// ossec.conf) and the MISP client (the same constructor).

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/custom-misp/custom-misp/internal/cli"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/doctor"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispclient"
	"github.com/custom-misp/custom-misp/internal/mispproc"
	"github.com/custom-misp/custom-misp/internal/ossecconf"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

// opFlagsUsage documents the shared flags for the usage lines.
const opFlagsUsage = `[--wazuh-home DIR] [--options FILE] [--url URL] [--key-file FILE] [--instance NAME] [--timeout DURATION] [--json]`

// opFlags are the flags every operator command takes. The API key is never
// a flag, because ps shows flags: it comes from the configuration
// (api_key_file, <api_key>), from $CUSTOM_MISP_API_KEY, or from the file
// --key-file names (e.g. a site admin's key for feeds fetch).
type opFlags struct {
	home     string
	homeSet  bool
	options  string
	url      string
	keyFile  string
	instance string
	timeout  time.Duration
	json     bool
	flagsSet *flag.FlagSet
}

func newOpFlags(name string) (*flag.FlagSet, *opFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &opFlags{flagsSet: fs}
	fs.StringVar(&f.home, "wazuh-home", wazuh.Home(), "Wazuh installation directory, the one holding etc/ossec.conf")
	fs.StringVar(&f.options, "options", "", "options JSON file replacing the <options> of ossec.conf")
	fs.StringVar(&f.url, "url", "", "MISP base URL replacing <hook_url>")
	fs.StringVar(&f.keyFile, "key-file", "", "file holding the API key to use instead of the configured one")
	fs.StringVar(&f.instance, "instance", "", "only the MISP server of this name (option \"instances\"; the hook_url server is \"misp\" unless option \"name\" says otherwise); default every configured one")
	fs.DurationVar(&f.timeout, "timeout", 0, "timeout of each MISP request (default: <timeout>, else 10s)")
	fs.BoolVar(&f.json, "json", false, "machine-readable output")
	return fs, f
}

// help prints usage and every flag of the command, for -h: on stdout,
// exit 0, as an operator asked for it.
func (f *opFlags) help(w io.Writer, usage string) int {
	fmt.Fprintf(w, "usage: %s\n\nflags:\n", usage)
	f.flagsSet.SetOutput(w)
	f.flagsSet.PrintDefaults()
	return cli.ExitOK
}

// parse parses flags and positional arguments in any order, so that
// `lookup 1.2.3.4 --json` works as well as `lookup --json 1.2.3.4`.
func (f *opFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.flagsSet.Parse(args); err != nil {
			return nil, err
		}
		rest := f.flagsSet.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // everything after "--" is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	f.flagsSet.Visit(func(fl *flag.Flag) {
		if fl.Name == "wazuh-home" {
			f.homeSet = true
		}
	})
	return pos, nil
}

// opConfig is an operator command's configuration and where it came from.
type opConfig struct {
	cfg      config.Config
	err      error
	confPath string
	conf     *config.OssecConf // nil when ossec.conf could not be read
	confErr  error
	source   string        // for doctor's first line
	cacheCfg config.Config // integratord's view (without --key-file), for the cache scope
}

// load reads ossec.conf and builds the configuration with the flags on
// top, exactly as config.LoadOperator documents.
func (f *opFlags) load() opConfig {
	oc := opConfig{confPath: filepath.Join(f.home, "etc", "ossec.conf")}
	oc.conf, oc.confErr = ossecconf.Read(oc.confPath)
	src := config.Sources{Home: f.home, OptionsFile: f.options, HookURL: f.url, KeyFile: f.keyFile, EnvKey: os.Getenv(config.KeyEnv)}
	var from []string
	switch {
	case oc.conf == nil:
		from = append(from, "no ossec.conf at "+oc.confPath)
	case len(oc.conf.Find(doctor.IntegrationName)) == 0:
		from = append(from, "no custom-misp block in "+oc.confPath)
	default:
		b := oc.conf.Find(doctor.IntegrationName)[0]
		src.Block = &b
		from = append(from, oc.confPath)
	}
	if f.options != "" {
		from = append(from, "options from "+f.options)
	}
	if f.url != "" {
		from = append(from, "URL from --url")
	}
	oc.cfg, oc.err = config.LoadOperator(src)
	oc.cacheCfg = oc.cfg
	if f.keyFile != "" {
		own := src
		own.KeyFile = ""
		if c, err := config.LoadOperator(own); err == nil {
			oc.cacheCfg = c
		}
	}
	if f.timeout > 0 {
		oc.cfg.Timeout = f.timeout
	}
	oc.source = fmt.Sprintf("%s; %s; MISP %s, timeout %s", strings.Join(from, ", "), keySource(src), oc.cfg.MISPURL, oc.cfg.Timeout)
	return oc
}

// servers returns the MISP servers the command works on: every configured
// one (cfg.All), or only the one --instance names. Each is a whole
// configuration of its own (URL, key, files), with --timeout applied.
// --url and --key-file replace the hook_url server's settings only.
func (oc *opConfig) servers(f *opFlags) ([]config.Config, error) {
	all := oc.cfg.All()
	if f.instance != "" {
		one := oc.cfg.Instance(f.instance)
		if one == nil {
			return nil, cli.Fail(cli.ExitUsage, fmt.Errorf("--instance %q: no such MISP server; configured: %s", f.instance, strings.Join(oc.cfg.Names(), ", ")),
				`the names are option "name" (the hook_url server, default "misp") and those of option "instances"`)
		}
		all = []*config.Config{one}
	}
	out := make([]config.Config, len(all))
	for i, c := range all {
		out[i] = *c
		if f.timeout > 0 {
			out[i].Timeout = f.timeout
		}
	}
	return out, nil
}

// loadServers is load, then servers, for the commands that stop on an
// unusable configuration; the error is the one to report.
func (f *opFlags) loadServers() (opConfig, []config.Config, error) {
	oc := f.load()
	if oc.err != nil {
		return oc, nil, configError(oc.err)
	}
	servers, err := oc.servers(f)
	return oc, servers, err
}

// label names a server in the output of a command that covers several:
// "MISP NAME: ", or nothing when only one is configured.
func (oc *opConfig) label(srv config.Config) string {
	if !oc.cfg.Several() {
		return ""
	}
	return "MISP " + srv.Name + ": "
}

// keySource says where the key comes from, in LoadOperator's order.
func keySource(s config.Sources) string {
	if s.KeyFile != "" {
		return "key from --key-file " + s.KeyFile
	}
	var o config.Options
	switch {
	case s.OptionsFile != "":
		o, _ = config.ReadOptions(s.OptionsFile)
	case s.Block != nil:
		o, _ = config.ParseOptions([]byte(s.Block.Options))
	}
	switch {
	case o.APIKeyFile != "":
		return "key from api_key_file " + o.APIKeyFile
	case s.Block != nil && strings.TrimSpace(s.Block.APIKey) != "":
		return "key from <api_key>"
	case s.EnvKey != "":
		return "key from $" + config.KeyEnv
	}
	return "no key"
}

// opClient is the MISP client of an operator command: the integratord
// constructor, with the command's retry count.
func opClient(cfg config.Config, retries int) (*mispclient.Client, error) {
	cfg.Retries = retries
	return newClient(mispproc.ClientOf(&cfg, "custom-misp/"+cli.Version()), nil)
}

// configError is the exit error for an unusable configuration.
func configError(err error) error {
	return cli.Fail(cli.ExitConfig, fmt.Errorf("configuration: %w", err),
		`the commands read the custom-misp block of <wazuh home>/etc/ossec.conf (--wazuh-home); --url and --options replace parts of it; the key comes from api_key_file, <api_key>, $`+config.KeyEnv+` or --key-file`)
}

// mispError is the exit error for a MISP call that failed.
func mispError(what string, err error) error {
	hint := "custom-misp doctor checks the way to MISP step by step"
	switch misp.ClassOf(err) {
	case misp.ClassAuth:
		hint = "custom-misp doctor says why MISP refused the key"
	case misp.ClassTLS:
		hint = "custom-misp doctor shows MISP's certificate and whether ca_file fixes it"
	}
	return cli.Fail(cli.ExitMISP, fmt.Errorf("%s: %w", what, err), hint)
}

// job is how an operator job that a command wodle runs (feeds fetch, sync,
// export cdb) reports its outcome. With --json it prints exactly one event
// line and nothing else, not even on stderr: the wodle merges stderr into
// what it hands to analysisd, so every outcome, a bad flag included, must
// be that one line. Otherwise a line on stdout (with report, if any, as
// indented JSON), or the error report on stderr.
type job struct {
	name, operation string // "sync", "mirror_sync"
	json            bool
	stdout, stderr  io.Writer
	// instance names the MISP server, when several are configured: the
	// event carries it and the message starts with it.
	instance string
}

func (j job) done(code int, msg, hint string, report any) int {
	if j.instance != "" {
		msg = "MISP " + j.instance + ": " + msg
	}
	if j.json {
		result := "ok"
		if code != cli.ExitOK {
			result = "failed"
			if hint != "" {
				msg += " (hint: " + hint + ")"
			}
		}
		m := event.Job(j.operation, result, event.Cut(cli.OneLine(msg), maxJobMessage))
		m.MISP.Instance = j.instance
		fmt.Fprintf(j.stdout, "%s\n", wazuh.Marshal(m))
		return code
	}
	if code != cli.ExitOK {
		return cli.Report(j.stderr, cli.Fail(code, errors.New(j.name+": "+msg), hint))
	}
	fmt.Fprintln(j.stdout, j.name+": "+msg)
	if report != nil && !reflect.ValueOf(report).IsNil() {
		enc := json.NewEncoder(j.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(report)
	}
	return code
}

// forEach runs a job on every server the command covers, each with its
// own outcome line (a command wodle sends each line as an event), and
// returns the first failure's exit code, or ExitOK.
func forEach(servers []config.Config, several bool, j job, run func(srv config.Config, j job) int) int {
	code := cli.ExitOK
	for _, srv := range servers {
		if several {
			j.instance = srv.Name
		}
		if c := run(srv, j); c != cli.ExitOK && code == cli.ExitOK {
			code = c
		}
	}
	return code
}

// jsonFlag says whether --json was asked for, also when the flags could
// not be parsed: then too the wodle must get its one line.
func jsonFlag(f *opFlags, args []string) bool {
	return f.json || slices.Contains(args, "--json") || slices.Contains(args, "-json")
}
