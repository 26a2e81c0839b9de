package cdb

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"time"
)

// AnalysisSocket is analysisd's request socket, relative to the Wazuh home
// (ANLSYS_LOCAL_SOCK in src/headers/defs.h).
const AnalysisSocket = "queue/sockets/analysis"

// maxAnswer caps analysisd's answer: it sends at most OS_MAXSTR (64 KiB).
const maxAnswer = 64 << 10

// Reload outcomes.
const (
	Reloaded      = "reloaded"       // analysisd switched to the new ruleset, lists compiled
	ReloadFailed  = "reload_failed"  // analysisd kept the old ruleset (Messages say why)
	RestartNeeded = "restart_needed" // analysisd is older than 4.13: no reload command
	NotRunning    = "not_running"    // no analysisd listens: the lists load when it starts
)

// ReloadResult is analysisd's answer to reload-ruleset.
type ReloadResult struct {
	Outcome  string   `json:"outcome"`
	Messages []string `json:"messages,omitempty"` // analysisd's warnings or errors, as it words them
}

// Reload asks analysisd to reload its ruleset, which recompiles every list
// whose text is newer than its .cdb and switches rules and lists without a
// restart (Wazuh 4.13+: the "reload-ruleset" command of
// src/analysisd/asyscom.c). The request and answer are framed as
// OS_SendSecureTCP frames them: a 4-byte little-endian length, then the
// JSON. An analysisd that does not know the command (before 4.13) answers
// "Unrecognized command": that is RestartNeeded. Wazuh is never restarted
// from here.
func Reload(ctx context.Context, home string) (ReloadResult, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", filepath.Join(home, AnalysisSocket))
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return ReloadResult{Outcome: NotRunning}, nil
		}
		return ReloadResult{}, fmt.Errorf("reload: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		// A reload drains analysisd's queues first; on a busy manager
		// with large lists that takes a while, but not forever.
		_ = conn.SetDeadline(time.Now().Add(5 * time.Minute))
	}
	req := []byte(`{"command":"reload-ruleset"}`)
	frame := binary.LittleEndian.AppendUint32(nil, uint32(len(req)))
	if _, err := conn.Write(append(frame, req...)); err != nil {
		return ReloadResult{}, fmt.Errorf("reload: sending the request: %w", err)
	}
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return ReloadResult{}, fmt.Errorf("reload: reading the answer: %w", err)
	}
	n := binary.LittleEndian.Uint32(head[:])
	if n > maxAnswer {
		return ReloadResult{}, fmt.Errorf("reload: answer of %d bytes, more than analysisd sends", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return ReloadResult{}, fmt.Errorf("reload: reading the answer: %w", err)
	}
	return parseAnswer(body)
}

// Error codes of asyscom.c's answers.
const (
	answerOK           = 0
	answerDue          = 1 // the new ruleset did not load: the old one runs on
	answerUnrecognized = 4
)

func parseAnswer(body []byte) (ReloadResult, error) {
	var a struct {
		Error   *int            `json:"error"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Error == nil {
		return ReloadResult{}, errors.New("reload: analysisd's answer is not the JSON it sends")
	}
	var msgs []string
	_ = json.Unmarshal(a.Data, &msgs) // an object when there are none
	r := ReloadResult{}
	if len(msgs) > 0 {
		r.Messages = msgs
	}
	switch *a.Error {
	case answerOK:
		r.Outcome = Reloaded
	case answerDue:
		r.Outcome = ReloadFailed
	case answerUnrecognized:
		r.Outcome = RestartNeeded
	default:
		return r, fmt.Errorf("reload: analysisd answered error %d (%s)", *a.Error, a.Message)
	}
	return r, nil
}
