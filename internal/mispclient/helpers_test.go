package mispclient

import (
	"context"
	"errors"
	"fmt"
	"github.com/custom-misp/custom-misp/internal/misp"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testKey looks like a real MISP key (40 alphanumerics) and is distinctive
// enough that finding it anywhere means a leak.
const testKey = "Zq7LEAKCANARYx9Tf3Wk2Rb8Nc5Hd1Jm6Pv4Sg0Y"

// logSink collects Logf lines and fails the test at cleanup if any holds
// the key.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func newLogSink(t *testing.T) *logSink {
	t.Helper()
	s := &logSink{}
	t.Cleanup(func() {
		for _, l := range s.all() {
			if strings.Contains(l, testKey) {
				t.Errorf("log line holds the API key: %q", l)
			}
		}
	})
	return s
}

func (s *logSink) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func (s *logSink) count(sub string) int {
	n := 0
	for _, l := range s.all() {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// newClient builds a client for baseURL with tiny backoffs; mut adjusts
// the Config first.
func newClient(t *testing.T, baseURL string, mut func(*Config)) (*Client, *logSink) {
	t.Helper()
	logs := newLogSink(t)
	cfg := Config{
		BaseURL:   baseURL,
		APIKey:    testKey,
		Timeout:   5 * time.Second,
		Retries:   3,
		AllowHTTP: true,
		Logf:      logs.logf,
	}
	if mut != nil {
		mut(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.tune.backoffMin = time.Millisecond
	c.tune.backoffMax = 4 * time.Millisecond
	return c, logs
}

// server is an httptest server that counts requests.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply writes a MISP-style JSON answer.
func reply(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

// mispError is MISP's error body shape ({"name","message","url"}, as in
// testdata/restsearch_bad_key.json) around msg.
func mispError(msg string) []byte {
	return fmt.Appendf(nil, `{"name":%q,"message":%q,"url":"\/attributes\/restSearch"}`, msg, msg)
}

// asError asserts err is an *Error, and that neither it nor its message
// holds the key.
func asError(t *testing.T, err error) *misp.Error {
	t.Helper()
	var e *misp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *Error", err, err)
	}
	if strings.Contains(err.Error(), testKey) || strings.Contains(e.Message, testKey) {
		t.Fatalf("error holds the API key: %q", err)
	}
	if strings.ContainsAny(e.Message, "\r\n") {
		t.Errorf("message is not one line: %q", e.Message)
	}
	return e
}

// nxdomainResolver returns a resolver that asks only a DNS server of the
// test's own, which answers every question with "no such name" (NXDOMAIN),
// and a count of the questions it got: a test of name errors must not
// depend on the host's DNS.
func nxdomainResolver(t *testing.T) (*net.Resolver, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var questions atomic.Int32
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if answer := nxdomain(buf[:n]); answer != nil {
				questions.Add(1)
				pc.WriteTo(answer, from)
			}
		}
	}()
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
		},
	}
	return r, &questions
}

// nxdomain answers a DNS query (RFC 1035 §4.1) with its header and
// question and RCODE 3, name error; nil when it is not a one-question query.
func nxdomain(query []byte) []byte {
	const header = 12
	if len(query) < header || query[4] != 0 || query[5] != 1 {
		return nil
	}
	end := header
	for end < len(query) && query[end] != 0 { // QNAME: labels up to the root
		end += 1 + int(query[end])
	}
	end += 1 + 4 // the root label, QTYPE and QCLASS
	if end > len(query) {
		return nil
	}
	answer := append([]byte(nil), query[:end]...)
	answer[2] = 0x80 | query[2]&0x79 // QR, the query's opcode and RD
	answer[3] = 0x80 | 3             // RA, RCODE name error
	clear(answer[6:header])          // no answer, authority or additional records
	return answer
}

// useResolver makes c resolve names with r.
func useResolver(c *Client, r *net.Resolver) {
	c.hc.Transport.(*http.Transport).DialContext = (&net.Dialer{Timeout: c.timeout, Resolver: r}).DialContext
}
