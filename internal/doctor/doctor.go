// Package doctor holds the checks of `custom-misp doctor`: the MISP side
// (name, connection, TLS, key, permissions, search, server health) and the
// Wazuh side (binary, ossec.conf block, ruleset, socket, log, cache). Each
// check gives one Result with a status and, unless it is OK, a hint that
// says exactly what to do. Checks read files and talk to MISP through the
// one mispclient.Client (plus bare DNS, TCP and TLS probes that send nothing);
// they change nothing on either side, send nothing to Wazuh and never
// print the API key.
package doctor

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/cache"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/mispclient"
)

// Status is the outcome of one check.
type Status string

// Statuses. FAIL means enrichment does not work (or alerts are lost) until
// the hint is followed; WARN means it works, degraded or at a risk.
const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Result is one check's outcome.
type Result struct {
	Status Status `json:"status"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
	Hint   string `json:"hint,omitempty"`
}

// Input is everything the checks look at.
type Input struct {
	// Config is the configuration as loaded (its paths are set even when
	// ConfigErr is not nil); Source says where it came from.
	Config    config.Config
	ConfigErr error
	Source    string
	// KeyOverride is set when the key came from --key-file rather than
	// from what integratord uses. The key is judged all the same (it may
	// be the next integratord key); the hints then say what a site
	// admin's key is right for.
	KeyOverride bool
	// Client is the MISP client built from Config; nil when ConfigErr.
	Client *mispclient.Client
	// Instance names the MISP server when several are configured: every
	// MISP-side check then starts with it.
	Instance string
	// Resolve looks a host name up; nil means the system resolver.
	Resolve func(ctx context.Context, host string) ([]string, error)
	Now     func() time.Time

	// Wazuh side; skipped unless Wazuh is set. ServerFiles checks only
	// this server's cache and mirror (a server of option "instances"
	// after the first, whose Wazuh side is the first's).
	Wazuh       bool
	ServerFiles bool
	Home        string
	Conf        *config.OssecConf // nil when ossec.conf could not be read (ConfErr)
	ConfErr     error
	User        Identity      // the wazuh user, for permission checks
	Root        int           // uid that should own installed files: 0 except in tests
	Cache       cache.Options // the cache integratord opens (path, scope)
	// MirrorScope is the mirror scope of integratord's configuration
	// (mirror.Scope): a mirror built for another is not used.
	MirrorScope string
	// OptionsFile is the --options file, if any: root's operator commands
	// read it, so who can write it matters.
	OptionsFile string
	// WazuhUID, when set, is the uid that the owner "wazuh" of
	// InstallModes stands for instead of User.UID. Tests set it to their
	// own uid: they cannot give a file to another user.
	WazuhUID *int
}

// Run runs every check in order: the MISP side, then the Wazuh side.
func Run(ctx context.Context, in Input) []Result {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Resolve == nil {
		in.Resolve = net.DefaultResolver.LookupHost
	}
	rs := MISP(ctx, in)
	if in.Instance != "" {
		for i := range rs {
			rs[i].Check = in.Instance + ": " + rs[i].Check
		}
	}
	switch {
	case in.Wazuh:
		rs = append(rs, Wazuh(in)...)
	case in.ServerFiles:
		rs = append(rs, serverFiles(in)...)
	}
	return rs
}

// serverFiles checks the files of one more MISP server (option
// "instances"): its cache and its mirror are its own, the rest of the
// Wazuh side is shared and checked once.
func serverFiles(in Input) []Result {
	rs := append([]Result{storeCheck(in)}, mirrorCheck(in)...)
	for i := range rs {
		rs[i].Check = in.Instance + ": " + rs[i].Check
	}
	return rs
}

// Failed reports whether any check failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// checkWidth aligns the detail column; check names are at most this long.
const checkWidth = 20

// Write prints one line per result, "STATUS  check  detail", and an
// indented hint line under every result that is not OK.
func Write(w io.Writer, rs []Result) error {
	for _, r := range rs {
		if _, err := fmt.Fprintf(w, "%-4s  %-*s  %s\n", r.Status, checkWidth, r.Check, oneLine(r.Detail)); err != nil {
			return err
		}
		if r.Status != OK && r.Hint != "" {
			if _, err := fmt.Fprintf(w, "      hint: %s\n", oneLine(r.Hint)); err != nil {
				return err
			}
		}
	}
	return nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func ok(check, detail string) Result { return Result{Status: OK, Check: check, Detail: detail} }

func warn(check, detail, hint string) Result {
	return Result{Status: Warn, Check: check, Detail: detail, Hint: hint}
}

func fail(check, detail, hint string) Result {
	return Result{Status: Fail, Check: check, Detail: detail, Hint: hint}
}

// ago says how long ago t was, for an operator.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// until says how long until t, for an operator.
func until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d < 0:
		return ago(now, t)
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d h", int(d.Hours()))
	}
	return fmt.Sprintf("in %d days", int(d.Hours()/24))
}
