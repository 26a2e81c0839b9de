package wazuh

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/misp"
)

func TestLocation(t *testing.T) {
	// Expected strings follow Wazuh 4.14.7 integrations/virustotal.py:309-316:
	// "[id] (name) ip" with '|'→'||' then ':'→'|:', then "->" + name.
	tests := []struct {
		name  string
		agent Agent
		want  string
	}{
		{"no agent", Agent{}, "misp"},
		{"manager", Agent{ID: "000", Name: "wazuh-manager"}, "misp"},
		{"agent ipv4", Agent{ID: "003", Name: "WS-FIN-0042", IP: "10.20.30.41"}, "[003] (WS-FIN-0042) 10.20.30.41->misp"},
		{"agent without ip", Agent{ID: "007", Name: "ids01"}, "[007] (ids01) any->misp"},
		{"agent ipv6", Agent{ID: "016", Name: "ws6", IP: "fd00:20::16"}, "[016] (ws6) fd00|:20|:|:16->misp"},
		{"agent registered for a network", Agent{ID: "021", Name: "dmz_web.01", IP: "192.0.2.0/24"}, "[021] (dmz_web.01) 192.0.2.0/24->misp"},
		{"eight-digit id", Agent{ID: "12345678", Name: "big", IP: "any"}, "[12345678] (big) any->misp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rejected := Location(tt.agent)
			if got != tt.want || rejected {
				t.Errorf("Location(%+v) = %q, %v; want %q, false", tt.agent, got, rejected, tt.want)
			}
		})
	}
}

// TestLocation_HostileAgentFields feeds agent fields that would break
// analysisd's parse of the location (cleanevent.c: id up to the first ']',
// name up to the first ')', address up to the first '-', location after
// the first '>', and a NUL ends the message) or that are not text at all.
// The names keep only Wazuh's agent-name characters (manage_agents.h
// VALID_AGENT_NAME_CHARS: letters, digits, '-', '_', '.').
func TestLocation_HostileAgentFields(t *testing.T) {
	tests := []struct {
		name         string
		agent        Agent
		want         string
		wantRejected bool
	}{
		{"nul in name", Agent{ID: "001", Name: "web\x0001", IP: "10.0.0.1"}, "[001] (web01) 10.0.0.1->misp", false},
		{"newline and esc in name", Agent{ID: "001", Name: "web\n01\x1b[31m", IP: "10.0.0.1"}, "[001] (web0131m) 10.0.0.1->misp", false},
		{"invalid utf-8 in name", Agent{ID: "001", Name: "web\xff\xfe01", IP: "10.0.0.1"}, "[001] (web01) 10.0.0.1->misp", false},
		{"non-ascii letters in name", Agent{ID: "001", Name: "caf\u00e9", IP: "10.0.0.1"}, "[001] (caf) 10.0.0.1->misp", false},
		{"parentheses and arrow in name", Agent{ID: "001", Name: "a) 1.2.3.4->evil (b", IP: "10.0.0.1"}, "[001] (a1.2.3.4-evilb) 10.0.0.1->misp", false},
		{"brackets in name", Agent{ID: "001", Name: "[002] x]", IP: "10.0.0.1"}, "[001] (002x) 10.0.0.1->misp", false},
		{"pipe and colon in name", Agent{ID: "001", Name: "a|b:c", IP: "10.0.0.1"}, "[001] (abc) 10.0.0.1->misp", false},
		{"nul in ip", Agent{ID: "001", Name: "web01", IP: "10.0.0.1\x00"}, "[001] (web01) any->misp", false},
		{"arrow in ip", Agent{ID: "001", Name: "web01", IP: "10.0.0.1->evil"}, "[001] (web01) any->misp", false},
		{"zone in ip", Agent{ID: "001", Name: "web01", IP: "fe80::1%eth0)"}, "[001] (web01) any->misp", false},
		{"ip that is a word", Agent{ID: "001", Name: "web01", IP: "localhost"}, "[001] (web01) any->misp", false},
		{"id with a letter", Agent{ID: "00a", Name: "web01", IP: "10.0.0.1"}, "misp", true},
		{"id with a bracket", Agent{ID: "001] (x", Name: "web01", IP: "10.0.0.1"}, "misp", true},
		{"id with nul", Agent{ID: "001\x00", Name: "web01", IP: "10.0.0.1"}, "misp", true},
		{"id with newline", Agent{ID: "\n001", Name: "web01", IP: "10.0.0.1"}, "misp", true},
		{"nine-digit id", Agent{ID: "123456789", Name: "web01", IP: "10.0.0.1"}, "misp", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rejected := Location(tt.agent)
			if got != tt.want || rejected != tt.wantRejected {
				t.Errorf("Location(%+q) = %q, %v; want %q, %v", tt.agent, got, rejected, tt.want, tt.wantRejected)
			}
		})
	}
}

func TestFormat_PrefixAndKeyOrder(t *testing.T) {
	m := event.Failure(misp.ClassTimeout, 0, "deadline exceeded", 2, event.Source{AlertID: "1.2", RuleID: "554"})
	got, err := Format("misp", m)
	if err != nil {
		t.Fatal(err)
	}
	want := `1:misp:{"integration":"misp","misp":{"error":"timeout","message":"deadline exceeded","indicators":"2","source":{"alert_id":"1.2","rule_id":"554"}}}`
	if string(got) != want {
		t.Errorf("Format:\n got %s\nwant %s", got, want)
	}
}

func TestFormat_ShrinksToDatagramLimit(t *testing.T) {
	big := strings.Repeat("x", 40000)
	tags := make([]string, 0, 3000)
	for i := 0; i < 3000; i++ {
		tags = append(tags, "misp-galaxy:threat-actor=\"some actor with a long name\"")
	}
	p := event.Payload{Value: "evil.example", EventInfo: big, Comment: big, Tags: tags, Source: &event.Source{Description: "d"}}
	m := event.Message{Integration: "misp", MISP: p}
	loc, _ := Location(Agent{ID: "001", Name: "n", IP: "10.0.0.1"})
	got, err := Format(loc, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > analysisdMaxDatagram {
		t.Fatalf("message is %d bytes, limit %d", len(got), analysisdMaxDatagram)
	}
	body := got[len("1:"+loc+":"):]
	var back event.Message
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatalf("shrunk event is not JSON: %v", err)
	}
	if !back.MISP.Truncated {
		t.Error("shrunk event is not marked truncated")
	}
	if back.MISP.Value != "evil.example" {
		t.Errorf("value changed: %q", back.MISP.Value)
	}
	if back.MISP.Tags != nil {
		t.Error("tags were kept although they are dropped first")
	}
}

func TestFormat_SmallEventUntouched(t *testing.T) {
	m := event.Message{Integration: "misp", MISP: event.Payload{Value: "a<b>&c", Tags: []string{"tlp:red"}}}
	got, err := Format("misp", m)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("truncated")) {
		t.Errorf("small event marked truncated: %s", got)
	}
	if !bytes.Contains(got, []byte(`"a<b>&c"`)) {
		t.Errorf("HTML-escaped: %s", got)
	}
}

// analysisdMaxDatagram is written out, not taken from MaxDatagram, so that
// a wrong constant cannot pass its own test: analysisd binds the queue with
// SO_RCVBUF OS_MAXSTR+512 and reads with recvfrom(.., OS_MAXSTR-1), OS_MAXSTR
// being 65536 (defs.h:51, analysisd.c:1211, os_net.c:522-536; integration
// contract §3): at most 65535 bytes per datagram, "1:<location>:" included.
const analysisdMaxDatagram = 65535

func TestSender_RealSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ln.SetReadBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	s, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := append([]byte("1:misp:"), bytes.Repeat([]byte("a"), analysisdMaxDatagram-len("1:misp:"))...)
	if err := s.Send(msg); err != nil {
		t.Fatalf("send of exactly %d bytes: %v", analysisdMaxDatagram, err)
	}
	buf := make([]byte, 1<<17)
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != analysisdMaxDatagram {
		t.Errorf("received %d bytes, want %d", n, analysisdMaxDatagram)
	}
	if err := s.Send(append(msg, 'b')); !errors.Is(err, ErrTooLong) {
		t.Errorf("send of %d bytes: got %v, want ErrTooLong", analysisdMaxDatagram+1, err)
	}
}

func TestDial_Errors(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on any more: what a stopped analysisd leaves.
	stale := filepath.Join(dir, "stale")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: stale, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("not a socket\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	directory := filepath.Join(dir, "directory")
	if err := os.Mkdir(directory, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantIs  error
		wantMsg string
	}{
		{"missing", filepath.Join(dir, "missing"), ErrSocketMissing, "wazuh queue socket not found: " + filepath.Join(dir, "missing")},
		{"stale socket", stale, ErrNotRunning, "wazuh is not running (queue socket refused the connection): " + stale},
		{"regular file", regular, ErrNotSocket, "wazuh queue socket path is not a socket: " + regular + " is a regular file"},
		{"directory", directory, ErrNotSocket, "wazuh queue socket path is not a socket: " + directory + " is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Dial(tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Dial(%s) succeeded", tt.path)
			}
			if !errors.Is(err, tt.wantIs) || err.Error() != tt.wantMsg {
				t.Errorf("Dial(%s) = %q, want %q (wrapping %v)", tt.path, err, tt.wantMsg, tt.wantIs)
			}
		})
	}
}

func TestFormat_ShrinksEveryMISPString(t *testing.T) {
	// A hostile MISP controls uuid, type and other short-looking fields.
	huge := strings.Repeat("u", 70000)
	m := event.Message{Integration: "misp", MISP: event.Payload{Value: "x", Type: huge, EventUUID: huge, AttributeUUID: huge, Source: &event.Source{}}}
	got, err := Format("misp", m)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	if len(got) > analysisdMaxDatagram || !bytes.Contains(got, []byte(`"truncated":true`)) {
		t.Errorf("%d bytes, truncated marker present: %v", len(got), bytes.Contains(got, []byte(`"truncated":true`)))
	}
}

func TestFormat_LocationLeavesNoRoom(t *testing.T) {
	// A location can only be this long if the alert's agent name is: no
	// shrinking of the event can make the message fit.
	loc, _ := Location(Agent{ID: "001", Name: strings.Repeat("a", 66000), IP: "10.0.0.1"})
	m := event.Failure(misp.ClassTimeout, 0, "deadline exceeded", 2, event.Source{AlertID: "1.2"})
	got, err := Format(loc, m)
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("Format = %d bytes, %v; want ErrTooLong", len(got), err)
	}
	for _, want := range []string{"the location 66023", "limit 65535"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
