// Package wazuh speaks to the Wazuh manager: it formats enrichment events as
// analysisd expects them on the queue socket and sends them, one unix
// datagram each.
package wazuh

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/custom-misp/custom-misp/internal/event"
)

// MaxDatagram is the largest message analysisd reads from its queue socket
// (OS_MAXSTR-1 in analysisd.c, prefix included). A longer datagram is cut by
// the kernel without an error and its JSON no longer decodes, so we never
// send one. Code and tests take the limit from here; only this package's
// tests write 65535 out, as the oracle the constant is checked against.
const MaxDatagram = 65535

// writeTimeout bounds one send: analysisd drains the socket continuously; if
// it stops, we must not hang integratord.
const writeTimeout = 2 * time.Second

// Errors a caller maps to exit codes.
var (
	ErrSocketMissing = errors.New("wazuh queue socket not found")
	ErrNotRunning    = errors.New("wazuh is not running (queue socket refused the connection)")
	ErrNotSocket     = errors.New("wazuh queue socket path is not a socket")
	ErrTooLong       = errors.New("message too long for the wazuh queue")
)

// Agent is the agent an alert came from; its id, name and address become
// the location of our events so that the enrichment alert is attributed to
// the same agent.
type Agent struct {
	ID, Name, IP string
}

// Location returns the location part of a queue message, built as Wazuh's
// own integrations build it: "misp" for the manager (agent 000) or no agent,
// otherwise "[id] (name) ip->misp" with '|' and ':' escaped (analysisd 4.4+
// splits the message at the first ':' not escaped by '|').
//
// The agent fields come from the alert file, so they are cleaned first:
// analysisd takes the agent id up to the first ']', the name up to the
// first ')', the agent address up to the first '-' and the event's location
// from the first '>', and a NUL ends the whole message. The rule:
//   - id: one to eight ASCII digits, as Wazuh's OS_IsValidID accepts. Any
//     other id is not an agent's: the events then go out as the manager's
//     ("misp") and idRejected is true, so that the caller can log it.
//   - name: only the characters Wazuh allows in agent names (ASCII letters,
//     digits, '-', '_' and '.'; VALID_AGENT_NAME_CHARS) are kept, every
//     other character, control bytes and invalid UTF-8 included, is
//     removed, as Wazuh's OS_ConvertToValidAgentName does.
//   - ip: an IP address or CIDR prefix without a zone, in its canonical
//     form; anything else, like an empty ip, becomes "any".
//
// The name's length is left alone (Wazuh's names have at most 128 bytes):
// a location that leaves no room for the event makes Format fail.
func Location(a Agent) (loc string, idRejected bool) {
	if a.ID == "" || a.ID == "000" {
		return event.Integration, false
	}
	if !isAgentID(a.ID) {
		return event.Integration, true
	}
	loc = "[" + a.ID + "] (" + agentName(a.Name) + ") " + agentIP(a.IP)
	loc = strings.ReplaceAll(loc, "|", "||")
	loc = strings.ReplaceAll(loc, ":", "|:")
	return loc + "->" + event.Integration, false
}

// isAgentID reports whether id has the form of a Wazuh agent id.
func isAgentID(id string) bool {
	if len(id) < 1 || len(id) > 8 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

// agentName drops every character Wazuh does not allow in an agent name.
func agentName(name string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return -1
	}, name)
}

// agentIP returns ip in canonical form if it is an address or a prefix
// (an agent registered for a network), else "any".
func agentIP(ip string) string {
	if addr, err := netip.ParseAddr(ip); err == nil && addr.Zone() == "" {
		return addr.String()
	}
	if prefix, err := netip.ParsePrefix(ip); err == nil {
		return prefix.String()
	}
	return "any"
}

// Format renders one queue message: "1:<location>:<json>". The event is
// shrunk (see fit) so that the whole message fits in MaxDatagram; if even
// the smallest form does not fit (a huge location), the error is ErrTooLong.
func Format(location string, m event.Message) ([]byte, error) {
	prefix := "1:" + location + ":"
	body := fit(m, MaxDatagram-len(prefix))
	if n := len(prefix) + len(body); n > MaxDatagram {
		return nil, fmt.Errorf("%w: %d bytes (the event %d after shrinking, the location %d), limit %d", ErrTooLong, n, len(body), len(location), MaxDatagram)
	}
	return append([]byte(prefix), body...), nil
}

// Marshal renders an event as compact JSON with the key order of the
// structs and without HTML escaping (analysisd reads '<' as is).
func Marshal(m event.Message) []byte { return m.AppendJSON(nil) }

// shrinkSteps cut an event down, least useful first: the tag list, then
// ever shorter free-text fields. Each step marks the event truncated.
var shrinkSteps = []func(p *event.Payload){
	func(p *event.Payload) { p.Tags = nil },
	func(p *event.Payload) { cutText(p, 1024) },
	func(p *event.Payload) { p.Techniques = nil; cutText(p, 128) },
}

func cutText(p *event.Payload, n int) {
	// Every free-form string: a hostile or broken MISP controls most of
	// them (a review found a huge uuid or type could otherwise keep the
	// event over the limit).
	for _, s := range []*string{&p.EventInfo, &p.Comment, &p.IndicatorRaw, &p.Value, &p.Indicator, &p.Message,
		&p.Permalink, &p.AlertField, &p.Org, &p.Category, &p.Type, &p.EventID, &p.EventRef, &p.EventUUID, &p.EventDate,
		&p.AttributeID, &p.AttributeUUID, &p.TLP, &p.MatchedAttributes, &p.MatchedEvents, &p.HTTPStatus} {
		*s = event.Cut(*s, n)
	}
	if p.Source != nil {
		src := *p.Source
		for _, s := range []*string{&src.Description, &src.AlertID, &src.RuleID, &src.RuleLevel} {
			*s = event.Cut(*s, n)
		}
		p.Source = &src
	}
}

// fit marshals m, shrinking it step by step until it is at most max
// bytes or no step is left; it returns the last, smallest form.
func fit(m event.Message, max int) []byte {
	body := Marshal(m)
	for _, step := range shrinkSteps {
		if len(body) <= max {
			return body
		}
		step(&m.MISP)
		m.MISP.Truncated = true
		body = Marshal(m)
	}
	return body
}

// Sender writes messages to the analysisd queue socket.
//
// It uses the socket system calls directly rather than package net: one
// connected datagram socket needs none of net's machinery, and net's
// package set-up is start-up time on every run.
type Sender struct {
	fd   int
	path string
}

// Dial connects to the queue socket at path.
func Dial(path string) (*Sender, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, socketError(path, err)
	}
	s := &Sender{fd: fd, path: path}
	if err := s.SetWriteTimeout(writeTimeout); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if err := connect(fd, path); err != nil {
		syscall.Close(fd)
		return nil, socketError(path, err)
	}
	return s, nil
}

func connect(fd int, path string) error {
	for {
		err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if err != syscall.EINTR {
			return err
		}
	}
}

// SetWriteTimeout bounds each later Send (default writeTimeout), so that a
// run near its deadline does not wait the full default.
func (s *Sender) SetWriteTimeout(d time.Duration) error {
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	if err := syscall.SetsockoptTimeval(s.fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); err != nil {
		return socketError(s.path, err)
	}
	return nil
}

// Send writes one message as one datagram.
func (s *Sender) Send(msg []byte) error {
	if len(msg) > MaxDatagram {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLong, len(msg), MaxDatagram)
	}
	for {
		n, err := syscall.Write(s.fd, msg)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return fmt.Errorf("wazuh queue socket %s: analysisd did not take the message in time (its queue is full?)", s.path)
		case err != nil:
			return socketError(s.path, err)
		case n != len(msg):
			return fmt.Errorf("wazuh queue socket %s: short write (%d of %d bytes)", s.path, n, len(msg))
		}
		return nil
	}
}

// Close closes the socket.
func (s *Sender) Close() error { return syscall.Close(s.fd) }

func socketError(path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w: %s", ErrSocketMissing, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		// Linux refuses a connect to a file that is no socket in the
		// same words as one to a socket nobody listens on.
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("%w: %s is %s", ErrNotSocket, path, fileKind(fi.Mode()))
		}
		return fmt.Errorf("%w: %s", ErrNotRunning, path)
	case errors.Is(err, syscall.EMSGSIZE):
		return fmt.Errorf("%w: %s", ErrTooLong, path)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("wazuh queue socket %s: permission denied (run as the wazuh user, as integratord does)", path)
	}
	return fmt.Errorf("wazuh queue socket %s: %w", path, err)
}
