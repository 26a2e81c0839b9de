// Package cli holds what the two custom-misp programs share on their
// surface: exit codes, the one-line error report integratord copies into
// ossec.log, and the version. (custom-misp, the program integratord runs,
// and custom-misp-net, which talks to MISP; see README "Two binaries".)
package cli

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Exit codes. integratord logs any non-zero status with the last line we
// printed; 126 and 127 are left to the shell and to integratord itself
// (127 means it could not execute us at all).
const (
	ExitOK          = 0
	ExitInternal    = 1  // a bug: please report it
	ExitUsage       = 2  // bad arguments
	ExitAlertFile   = 3  // alert file missing or unreadable
	ExitAlertData   = 4  // alert file empty, not JSON, too large or not an alert
	ExitConfig      = 5  // invalid options or configuration
	ExitNotRunning  = 6  // the queue socket refused: analysisd is not running
	ExitTooLong     = 7  // an event did not fit in a queue datagram
	ExitNoSocket    = 8  // the queue socket does not exist
	ExitSocket      = 9  // other queue socket failure (permissions, ...)
	ExitCheckFailed = 10 // doctor: at least one check failed
	ExitMISP        = 11 // an operator command (lookup, feeds, sync) got no usable answer from MISP
	ExitBusy        = 12 // sync: another sync of the same mirror is running
	ExitStore       = 13 // sync: the new mirror could not be written (disk full, permissions); the old one still serves
	ExitNoAttribute = 14 // sighting: no configured MISP server has an attribute for at least one argument (the others were sighted)
)

// exitError carries the exit code and an optional hint for the operator.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Fail wraps err with the exit code it ends the program with and a hint
// that says what to do next.
func Fail(code int, err error, hint string) error {
	return &exitError{code: code, err: err, hint: hint}
}

// Report prints the one line integratord copies into ossec.log and returns
// the exit code. The line is prefixed, lowercase, never holds the key and
// always ends with a hint: the error's own, else its exit code's.
func Report(w io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	code, hint := ExitInternal, ""
	var ee *exitError
	if errors.As(err, &ee) {
		code, hint = ee.code, ee.hint
	}
	if hint == "" {
		hint = defaultHints[code]
	}
	line := "custom-misp: " + OneLine(err.Error()) + " (hint: " + hint + ")"
	fmt.Fprintln(w, line)
	return code
}

// defaultHints say what to do for an error that brought no hint of its
// own, so that every line Report prints ends with one.
var defaultHints = map[int]string{
	ExitInternal:    "a bug or an output that cannot be written: please report this line",
	ExitUsage:       "custom-misp help lists the commands; COMMAND -h lists a command's flags",
	ExitAlertFile:   "integratord writes the alert file and removes it after the run; for check, give the path of a readable alert file",
	ExitAlertData:   "integratord hands over one alert as one JSON object (<alert_format>json</alert_format>); anything else is not an alert",
	ExitConfig:      "fix the <integration> block or its <options>; custom-misp doctor says what is wrong",
	ExitNotRunning:  "start the manager: systemctl start wazuh-manager",
	ExitTooLong:     "the alert's agent fields are longer than any Wazuh writes: look at the alert",
	ExitNoSocket:    "is the Wazuh manager installed here? set \"socket_path\" or \"wazuh_home\" if it lives elsewhere",
	ExitSocket:      "custom-misp doctor checks the queue socket: who may write it, and whether analysisd reads it",
	ExitCheckFailed: "follow the hint under each FAIL, from the top",
	ExitMISP:        "custom-misp doctor says why MISP gave no usable answer",
	ExitBusy:        "a sync is still running (the wodle's interval is shorter than a sync takes?); this one did nothing",
	ExitNoAttribute: "custom-misp lookup VALUE shows what MISP holds; give a value as MISP stores it, or an attribute's UUID",
	ExitStore:       "free disk space under var/custom-misp or fix its owner (root:wazuh 0770); the previous mirror keeps serving",
}

// OneLine folds line breaks so that a message stays one log line.
func OneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// version is stamped by the Makefile
// (-ldflags -X github.com/custom-misp/custom-misp/internal/cli.version=...).
var version = ""

// Version returns the stamped version, else the module's, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
