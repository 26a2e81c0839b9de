// Package mispproc runs MISP lookups in a second process, custom-misp-net.
//
// Why two programs: integratord starts custom-misp once per alert, and most
// alerts either carry no indicator or only cached ones. Linking Go's HTTP
// and TLS stack costs every run its package initialisation, measured at
// about 0.9x the whole start-up of an empty Go program (BENCHMARKS.md), even
// when no request is made. So custom-misp links no HTTP or TLS code, and
// starts custom-misp-net, which holds the MISP client, only when MISP must
// be asked. The request, API key included, travels on a pipe, never on a
// command line or in the environment.
//
// The request is one JSON line on the helper's standard input, which
// custom-misp keeps open until the helper has answered. The helper takes
// EOF there to mean that custom-misp is gone (killed by integratord, by
// SIGKILL, by the OOM killer: the kernel closes the pipe in every case)
// and stops at once instead of running on to the deadline. Linux's
// parent-death signal (SysProcAttr.Pdeathsig) is not used: it fires when
// the thread that started the child ends, not the process, and Go may
// start the child from any thread (golang/go#27505); the pipe has no
// such catch and works on every system.
//
// This package has the wire format and the calling side; the serving side
// is in cmd/custom-misp-net. It must not import net/http or crypto/tls.
package mispproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Program is the file name of the helper, installed next to custom-misp.
const Program = "custom-misp-net"

// maxResponse caps what we read back: the helper itself caps MISP's answer
// at 16 MiB, and re-encoding it does not grow it much.
const maxResponse = 32 << 20

// Client is how to reach MISP: the fields of the MISP client's
// configuration (mispclient.Config) that travel to the helper.
type Client struct {
	BaseURL            string        `json:"base_url"`
	APIKey             string        `json:"api_key"`
	Timeout            time.Duration `json:"timeout"`
	Retries            int           `json:"retries"`
	CAFile             string        `json:"ca_file,omitempty"`
	ClientCert         string        `json:"client_cert,omitempty"`
	ClientKey          string        `json:"client_key,omitempty"`
	InsecureSkipVerify bool          `json:"insecure_skip_verify,omitempty"`
	Proxy              string        `json:"proxy,omitempty"`
	AllowHTTP          bool          `json:"allow_http,omitempty"`
	UserAgent          string        `json:"user_agent,omitempty"`
}

// Request is what custom-misp writes to the helper's standard input, as
// one JSON line.
type Request struct {
	Client Client     `json:"client"`
	Query  misp.Query `json:"query"`
	// Sightings, when not empty, makes the request one to add these
	// sightings instead of a search.
	Sightings []misp.Sighting `json:"sightings,omitempty"`

	Deadline time.Time `json:"deadline"` // the run's deadline; the helper stops by it
	Debug    bool      `json:"debug"`    // write debug lines to standard error
}

// Response is what the helper writes to its standard output: MISP's
// answer (the attributes, and the count of those it could not read; or
// the sightings added), or the failure.
type Response struct {
	misp.Answer
	// Sightings is what MISP did with the request's sightings, also when
	// it failed part way.
	Sightings *misp.SightingResult `json:"sightings,omitempty"`
	Error     *Failure             `json:"error,omitempty"`
}

// Failure is a misp.Error on the wire.
type Failure struct {
	Class   misp.Class `json:"class"`
	Status  int        `json:"status,omitempty"`
	Message string     `json:"message"`
	Reset   time.Time  `json:"reset,omitzero"`
}

// FailureOf turns a lookup error into its wire form.
func FailureOf(err error) *Failure {
	var me *misp.Error
	if errors.As(err, &me) {
		return &Failure{Class: me.Class, Status: me.Status, Message: me.Message, Reset: me.Reset}
	}
	return &Failure{Class: misp.ClassOf(err), Message: err.Error()}
}

// Path returns where the helper lives: next to the running executable
// (os.Executable is /proc/self/exe on Linux, already free of symbolic
// links, as wazuh.Home relies on too).
func Path() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(exe), Program), nil
}

// Searcher asks MISP through the helper; it implements enrich.Searcher
// and enrich.Sighter.
type Searcher struct {
	Path   string                           // the helper program
	Client Client                           // how to reach MISP
	Debug  bool                             // pass the helper's debug lines to Logf
	Logf   func(format string, args ...any) // where they go
}

// Search runs the helper once for q. Every failure, the helper's own
// included, comes back as a *misp.Error so that it becomes an error event.
func (s *Searcher) Search(ctx context.Context, q misp.Query) (misp.Answer, error) {
	resp, err := s.run(ctx, Request{Query: q})
	return resp.Answer, err
}

// AddSightings runs the helper once to add the sightings (it implements
// enrich.Sighter). Failures come back as for Search; the result then
// holds what MISP did before the failure.
func (s *Searcher) AddSightings(ctx context.Context, sightings []misp.Sighting) (misp.SightingResult, error) {
	if len(sightings) == 0 {
		return misp.SightingResult{}, nil
	}
	resp, err := s.run(ctx, Request{Sightings: sightings})
	var res misp.SightingResult
	if resp.Sightings != nil {
		res = *resp.Sightings
	}
	return res, err
}

// run sends req, completed with the client, deadline and debug flag, to a
// new helper and returns its answer.
func (s *Searcher) run(ctx context.Context, req Request) (Response, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	req.Client, req.Deadline, req.Debug = s.Client, deadline, s.Debug
	raw, err := json.Marshal(req)
	if err != nil {
		return Response{}, &misp.Error{Class: misp.ClassConfig, Message: "encoding the request: " + err.Error()}
	}
	cmd := exec.CommandContext(ctx, s.Path, "search")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return Response{}, &misp.Error{Class: misp.ClassConfig, Message: "running " + Program + ": " + err.Error()}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &stdout, n: maxResponse}
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	cmd.WaitDelay = 100 * time.Millisecond
	runErr := cmd.Start()
	if runErr == nil {
		// The request is one JSON line, and standard input stays open
		// until the helper has ended (Wait closes it): the helper takes
		// EOF as this process's death (see package doc). A write error
		// means the helper ended unread; Wait and its answer say why.
		_, _ = stdin.Write(append(raw, '\n'))
		runErr = cmd.Wait()
	}
	if s.Logf != nil {
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if line != "" {
				s.Logf("%s: %s", Program, line)
			}
		}
	}
	if ctx.Err() != nil {
		return Response{}, &misp.Error{Class: misp.ClassTimeout, Message: "deadline exceeded before MISP answered"}
	}
	var resp Response
	if err := decodeResponse(stdout.Bytes(), &resp); err != nil {
		return Response{}, &misp.Error{Class: misp.ClassConfig, Message: helperTrouble(s.Path, runErr, err)}
	}
	if f := resp.Error; f != nil {
		return resp, &misp.Error{Class: f.Class, Status: f.Status, Message: f.Message, Reset: f.Reset}
	}
	return resp, nil
}

// decodeResponse reads the helper's answer. It must be a JSON object: a
// bare null would decode as "no match" and be cached as such.
func decodeResponse(b []byte, resp *Response) error {
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(b, resp)
}

// helperTrouble explains a helper that did not answer: usually it is not
// installed, or not executable by the wazuh user.
func helperTrouble(path string, runErr, decodeErr error) string {
	var ee *exec.ExitError
	switch {
	case runErr == nil:
		return fmt.Sprintf("%s gave an unreadable answer: %v", Program, decodeErr)
	case errors.As(runErr, &ee):
		return fmt.Sprintf("%s exited with status %d without an answer", Program, ee.ExitCode())
	case errors.Is(runErr, os.ErrNotExist):
		return fmt.Sprintf("%s not found at %s: install it next to custom-misp (make install)", Program, path)
	case errors.Is(runErr, os.ErrPermission):
		return fmt.Sprintf("%s at %s is not executable: chown root:wazuh and chmod 0750 it", Program, path)
	}
	return fmt.Sprintf("running %s: %v", Program, runErr)
}

// limitedWriter keeps the first n bytes and drops the rest, so a runaway
// helper cannot fill our memory.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	keep := p
	if int64(len(keep)) > l.n {
		keep = keep[:l.n]
	}
	l.n -= int64(len(keep))
	if _, err := l.w.Write(keep); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ClientOf takes the MISP connection settings out of the configuration;
// every path to MISP (integratord runs and operator commands) goes through
// it, so they all reach MISP the same way.
func ClientOf(cfg *config.Config, userAgent string) Client {
	return Client{
		BaseURL:            cfg.MISPURL,
		APIKey:             cfg.APIKey,
		Timeout:            cfg.Timeout,
		Retries:            cfg.Retries,
		CAFile:             cfg.CAFile,
		ClientCert:         cfg.ClientCert,
		ClientKey:          cfg.ClientKey,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Proxy:              cfg.Proxy,
		AllowHTTP:          cfg.AllowHTTP,
		UserAgent:          userAgent,
	}
}
