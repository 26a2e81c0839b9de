package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes. integratord logs any non-zero status with the last line we
// printed; 126 and 127 are left to the shell and to integratord itself
// (127 means it could not execute us at all).
const (
	exitOK          = 0
	exitInternal    = 1  // a bug: please report it
	exitUsage       = 2  // bad arguments
	exitAlertFile   = 3  // alert file missing or unreadable
	exitAlertData   = 4  // alert file empty, not JSON, too large or not an alert
	exitConfig      = 5  // invalid options or configuration
	exitNotRunning  = 6  // the queue socket refused: analysisd is not running
	exitTooLong     = 7  // an event did not fit in a queue datagram
	exitNoSocket    = 8  // the queue socket does not exist
	exitSocket      = 9  // other queue socket failure (permissions, ...)
	exitCheckFailed = 10 // doctor: at least one check failed
	exitMISP        = 11 // an operator command (lookup, feeds) got no usable answer from MISP
)

// exitError carries the exit code and an optional hint for the operator.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error, hint string) error {
	return &exitError{code: code, err: err, hint: hint}
}

// report prints the one line integratord copies into ossec.log and returns
// the exit code. The line is prefixed, lowercase and never holds the key.
func report(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	code, hint := exitInternal, ""
	var ee *exitError
	if errors.As(err, &ee) {
		code, hint = ee.code, ee.hint
	}
	line := "custom-misp: " + oneLine(err.Error())
	if hint != "" {
		line += " (hint: " + hint + ")"
	}
	fmt.Fprintln(w, line)
	return code
}

func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
