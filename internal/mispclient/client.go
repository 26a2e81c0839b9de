// Package mispclient is the one MISP HTTP client of custom-misp: the integratord
// lookup and the operator commands (doctor, lookup, feeds) all go through
// it. It owns the transport (TLS, proxy), retries with a deadline-bounded
// backoff, response size caps, the wire types and the mapping from HTTP
// outcomes to error classes.
package mispclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Defaults for Config fields left zero, and limits on them.
const (
	DefaultTimeout   = 10 * time.Second // integratord's argv[6] when absent
	DefaultRetries   = 3                // integratord's argv[7] when absent; config applies it, 0 here means no retry
	DefaultUserAgent = "custom-misp"
	maxTimeout       = 5 * time.Minute // a per-request timeout beyond this is a typo, not a choice
	maxRetries       = 10              // each retry is load on a MISP that is already failing
)

// Caps on what we read from the network and disk.
const (
	// MaxResponseBytes caps a response body. A restSearch answer is bounded by
	// MaxLimit attributes of a few KiB each (with context and tags), and the
	// largest operator answers (/feeds/index, describeTypes) are well under
	// 1 MiB; 16 MiB leaves room for big events while keeping a broken or
	// hostile server from exhausting a process that runs once per alert.
	MaxResponseBytes = 16 << 20

	// maxErrorBody caps what we read of a non-2xx body: we only want MISP's
	// one-line reason out of it.
	maxErrorBody = 64 << 10

	// maxHeaderBytes caps response headers; MISP sends a dozen short ones.
	maxHeaderBytes = 256 << 10

	// maxPEMBytes caps ca_file, client_cert and client_key: a full public CA
	// bundle is about 250 KiB.
	maxPEMBytes = 1 << 20

	// maxMessage is the longest message we keep in an Error: long enough for
	// every MISP reason we know, short enough for one log line.
	maxMessage = 200
)

// Retry timing. Waits never pass the context deadline (see retryPolicy).
const (
	backoffMin = 200 * time.Millisecond
	backoffMax = 2 * time.Second
	// maxRetryWait caps a single wait, notably a 429's X-Rate-Limit-Reset
	// when the caller set no deadline: MISP's window is 900 s, and an
	// operator command should report that rather than hang.
	maxRetryWait = 30 * time.Second
	// maxResetAhead caps X-Rate-Limit-Reset: a bogus huge value must not
	// make a caller skip MISP for days.
	maxResetAhead = time.Hour
)

// Config configures a Client. Error messages name the fields by their
// option names (hook_url, api_key, ca_file, ...), the names operators know.
type Config struct {
	BaseURL            string        // MISP base URL (integratord's hook_url); https unless AllowHTTP
	APIKey             string        // sent only in the Authorization header
	Timeout            time.Duration // per attempt; 0 means DefaultTimeout
	Retries            int           // retries after the first attempt; 0 means none
	CAFile             string        // PEM bundle that replaces the system roots
	ClientCert         string        // PEM client certificate, with ClientKey
	ClientKey          string        // PEM private key of ClientCert
	InsecureSkipVerify bool          // no certificate verification: last resort
	// Proxy is an http, https or socks5 proxy URL. Empty means a direct
	// connection: the HTTP_PROXY/HTTPS_PROXY environment is deliberately
	// ignored, so that what the options say is what happens, whatever
	// environment integratord or a shell passes down.
	Proxy     string
	AllowHTTP bool   // permit an http:// BaseURL (the key then travels in clear)
	UserAgent string // e.g. "custom-misp/1.2.0"; empty means DefaultUserAgent
	// Logf receives debug lines (attempts, retries, waits). It may be nil.
	// It never receives the API key, a request body or a response body.
	Logf func(format string, args ...any)
}

// Client talks to one MISP server. It is safe for concurrent use.
type Client struct {
	base    string // BaseURL without trailing slash
	key     string
	agent   string
	timeout time.Duration
	retries int
	logf    func(format string, args ...any)
	hc      *http.Client
	tune    tuning
}

// tuning holds timings and caps that tests shrink.
type tuning struct {
	backoffMin, backoffMax time.Duration
	maxWait                time.Duration
	resetUnit              time.Duration // what one X-Rate-Limit-Reset unit means
	maxBody                int64
}

// New validates cfg and returns a client. It does no network I/O and does
// not load the system certificate pool (Go does that lazily, on the first
// verified handshake); it reads only the files cfg names. Errors are
// *Error with ClassConfig.
func New(cfg Config) (*Client, error) {
	base, err := parseBase(cfg.BaseURL, cfg.AllowHTTP)
	if err != nil {
		return nil, err
	}
	if err := checkKey(cfg.APIKey); err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0 || timeout > maxTimeout:
		return nil, configErr("timeout %s: want a positive duration up to %s", cfg.Timeout, maxTimeout)
	}
	if cfg.Retries < 0 || cfg.Retries > maxRetries {
		return nil, configErr("retries %d: want 0 to %d", cfg.Retries, maxRetries)
	}
	agent := cfg.UserAgent
	if agent == "" {
		agent = DefaultUserAgent
	}
	if !printable(agent) {
		return nil, configErr("user agent %q: must be printable ASCII", agent)
	}

	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // opt-in, warned about by the caller
	if cfg.CAFile != "" {
		pem, err := readPEM("ca_file", cfg.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, configErr("ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case cfg.ClientCert != "" && cfg.ClientKey != "":
		certPEM, err := readPEM("client_cert", cfg.ClientCert)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPEM("client_key", cfg.ClientKey)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, configErr("client_cert %s / client_key %s: %v", cfg.ClientCert, cfg.ClientKey, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	case cfg.ClientCert != "":
		return nil, configErr("client_key: required with client_cert")
	case cfg.ClientKey != "":
		return nil, configErr("client_cert: required with client_key")
	}

	tr := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: timeout}).DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
	}
	if cfg.Proxy != "" {
		pu, err := parseProxy(cfg.Proxy)
		if err != nil {
			return nil, err
		}
		tr.Proxy = http.ProxyURL(pu)
	}
	hc := &http.Client{
		Transport: tr,
		Timeout:   timeout, // per attempt, body read included
		// A redirect is a misconfigured hook_url (http→https, a login page):
		// report it instead of following it and turning a POST into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Client{
		base:    base,
		key:     cfg.APIKey,
		agent:   agent,
		timeout: timeout,
		retries: cfg.Retries,
		logf:    cfg.Logf,
		hc:      hc,
		tune: tuning{
			backoffMin: backoffMin,
			backoffMax: backoffMax,
			maxWait:    maxRetryWait,
			resetUnit:  time.Second,
			maxBody:    MaxResponseBytes,
		},
	}, nil
}

func parseBase(raw string, allowHTTP bool) (string, error) {
	if raw == "" {
		return "", configErr("hook_url: empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input, which may hold a password: say less.
		return "", configErr("hook_url: not a URL")
	}
	shown := config.RedactURL(raw)
	switch {
	case u.Scheme == "http" && !allowHTTP:
		return "", configErr("hook_url %s: https required (the API key would travel in clear; set allow_http to accept that)", shown)
	case u.Scheme != "https" && u.Scheme != "http":
		return "", configErr("hook_url %s: scheme must be https", shown)
	case u.Host == "" || u.Opaque != "":
		return "", configErr("hook_url %s: no host", shown)
	case u.User != nil:
		return "", configErr("hook_url %s: credentials in the URL are not allowed; use api_key", shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", configErr("hook_url %s: must not have a query or fragment", shown)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

func checkKey(key string) error {
	if key == "" {
		return configErr("api_key: empty")
	}
	for _, r := range key {
		if r <= ' ' || r >= 0x7f {
			// Never echo the key, not even part of it.
			return configErr("api_key: contains whitespace or non-ASCII characters (a trailing newline in api_key_file?)")
		}
	}
	return nil
}

func parseProxy(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configErr("proxy: not a URL")
	}
	switch u.Scheme {
	case "http", "https", "socks5":
	default:
		return nil, configErr("proxy %s: scheme must be http, https or socks5", config.RedactURL(raw))
	}
	if u.Host == "" {
		return nil, configErr("proxy %s: no host", config.RedactURL(raw))
	}
	return u, nil
}

func readPEM(field, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, configErr("%s: %v", field, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMBytes+1))
	if err != nil {
		return nil, configErr("%s %s: %v", field, path, err)
	}
	if len(b) > maxPEMBytes {
		return nil, configErr("%s %s: larger than %d bytes", field, path, maxPEMBytes)
	}
	return b, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < ' ' || r >= 0x7f {
			return false
		}
	}
	return true
}

func configErr(format string, args ...any) *misp.Error {
	return &misp.Error{Class: misp.ClassConfig, Message: fmt.Sprintf(format, args...)}
}

// Get sends GET path (e.g. "/servers/getVersion") and decodes the JSON
// answer into out, unless out is nil. It returns the response headers
// whenever a response arrived, also with an error, so that callers can read
// X-Auth-Key-Expiration or X-Rate-Limit-*.
func (c *Client) Get(ctx context.Context, path string, out any) (http.Header, error) {
	return c.call(ctx, http.MethodGet, path, nil, out)
}

// Post sends body as JSON to path (e.g. "/feeds/fetchFromAllFeeds") and
// decodes the answer like Get. A nil body sends "{}".
func (c *Client) Post(ctx context.Context, path string, body, out any) (http.Header, error) {
	b := []byte("{}")
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, configErr("post %s: encode body: %v", path, err)
		}
	}
	return c.call(ctx, http.MethodPost, path, b, out)
}

func (c *Client) call(ctx context.Context, method, path string, body []byte, out any) (http.Header, error) {
	raw, h, err := c.do(ctx, method, path, body)
	if err != nil {
		return h, err
	}
	if out == nil {
		return h, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return h, c.notJSON(h, err)
	}
	return h, nil
}

func (c *Client) notJSON(h http.Header, err error) *misp.Error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "none"
	}
	msg := fmt.Sprintf("response is not the expected JSON (content-type %s): %v", ct, err)
	return c.newErr(misp.ClassBadResponse, http.StatusOK, msg, nil)
}

// checkPath refuses paths that could leave the MISP API or smuggle a query:
// the operator commands build them from user input (setting names, feed ids).
func checkPath(path string) error {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") ||
		strings.Contains(path, "..") || strings.ContainsAny(path, "?#%\\ ") || !printable(path) {
		return configErr("path %q: want an absolute MISP API path", path)
	}
	return nil
}

// do sends one request with retries and returns the capped body of a 2xx
// answer, or an *Error.
func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, http.Header, error) {
	return c.doWith(ctx, method, path, body, nil, c.retries)
}

// doWith is do with extra request headers (never Authorization) and its
// own number of retries (for a request that must not be repeated).
func (c *Client) doWith(ctx context.Context, method, path string, body []byte, extra http.Header, retries int) ([]byte, http.Header, error) {
	if err := checkPath(path); err != nil {
		return nil, nil, err
	}
	var rb any // retryablehttp wants an untyped nil for no body
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, c.base+path, rb)
	if err != nil {
		return nil, nil, configErr("%s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", c.key) // MISP wants the bare key, no "Bearer"
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, v := range extra {
		if http.CanonicalHeaderKey(name) != "Authorization" {
			req.Header[http.CanonicalHeaderKey(name)] = v
		}
	}

	p := &retryPolicy{c: c, what: method + " " + path, retries: retries}
	rc := &retryablehttp.Client{
		HTTPClient: c.hc,
		Logger:     nil, // its lines carry URLs and are not ours to format; we log in CheckRetry
		RetryMax:   retries,
		CheckRetry: p.check,
		Backoff:    p.backoff,
		// Hand back the last response or transport error untouched, instead
		// of "giving up after N attempt(s)" wrapping; we classify it below.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	resp, err := rc.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		e, _ := c.classify(ctx, err)
		return nil, nil, e
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.Header, c.statusErr(ctx, resp)
	}
	raw, err := c.readBody(ctx, resp, c.tune.maxBody)
	if err != nil {
		return nil, resp.Header, err
	}
	return raw, resp.Header, nil
}

// readBody reads at most limit bytes of resp's body, and fails when there
// is more.
func (c *Client) readBody(ctx context.Context, resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, c.newErr(misp.ClassBadResponse, resp.StatusCode, fmt.Sprintf("response larger than %d bytes (content-length %d)", limit, resp.ContentLength), nil)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		e, _ := c.classify(ctx, err)
		e.Status = resp.StatusCode
		e.Message = c.clean("reading response: " + e.Message)
		return nil, e
	}
	if n > limit {
		return nil, c.newErr(misp.ClassBadResponse, resp.StatusCode, fmt.Sprintf("response larger than %d bytes", limit), nil)
	}
	return buf.Bytes(), nil
}

// statusErr maps a non-2xx answer to an error, keeping MISP's own reason.
func (c *Client) statusErr(ctx context.Context, resp *http.Response) *misp.Error {
	code := resp.StatusCode
	reason := ""
	if raw, err := c.readBody(ctx, resp, maxErrorBody); err == nil {
		reason = mispReason(raw)
	}
	if reason == "" {
		reason = strings.ToLower(http.StatusText(code))
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return c.newErr(misp.ClassAuth, code, reason, nil)
	case code == http.StatusMethodNotAllowed && strings.Contains(reason, "user role"):
		// "API searches are not allowed for this user role.": the key's
		// role has a rate limit of 0. Only an admin changing the role fixes
		// it, which is what the auth class tells the operator.
		return c.newErr(misp.ClassAuth, code, reason, nil)
	case code == http.StatusTooManyRequests:
		e := c.newErr(misp.ClassRateLimited, code, reason, nil)
		if d, ok := c.resetAfter(resp.Header); ok {
			e.Reset = time.Now().Add(d)
		}
		return e
	case code >= 500:
		return c.newErr(misp.ClassUnavailable, code, reason, nil)
	case code >= 300 && code < 400:
		loc := config.RedactURL(resp.Header.Get("Location"))
		return c.newErr(misp.ClassBadResponse, code, fmt.Sprintf("redirected to %s; check hook_url (scheme, port, path)", loc), nil)
	default:
		return c.newErr(misp.ClassBadResponse, code, reason, nil)
	}
}

// mispReason extracts MISP's error text from {"name","message","url"}.
func mispReason(raw []byte) string {
	var e struct {
		Name    misp.FlexString `json:"name"`
		Message misp.FlexString `json:"message"`
		Errors  misp.FlexString `json:"errors"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return ""
	}
	for _, s := range []misp.FlexString{e.Message, e.Name, e.Errors} {
		if s != "" {
			return string(s)
		}
	}
	return ""
}

// resetAfter reads how long MISP asks us to wait after a 429: its own
// X-Rate-Limit-Reset (seconds to the end of the window), else a proxy's
// Retry-After in seconds.
func (c *Client) resetAfter(h http.Header) (time.Duration, bool) {
	for _, name := range []string{"X-Rate-Limit-Reset", "Retry-After"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		d := time.Duration(n) * c.tune.resetUnit
		if n > int64(maxResetAhead/time.Second) || d > maxResetAhead {
			d = maxResetAhead
		}
		return d, true
	}
	return 0, false
}

// newErr builds an Error with a one-line message that cannot hold the key.
func (c *Client) newErr(class misp.Class, status int, msg string, cause error) *misp.Error {
	return &misp.Error{Class: class, Status: status, Message: c.clean(msg), Cause: cause}
}

// clean makes msg one short line and removes the API key should a server or
// proxy ever echo it back.
func (c *Client) clean(msg string) string {
	if c.key != "" {
		msg = strings.ReplaceAll(msg, c.key, "<api_key>")
	}
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if utf8.RuneCountInString(msg) > maxMessage {
		r := []rune(msg)
		msg = string(r[:maxMessage-1]) + "…"
	}
	return msg
}

func (c *Client) debugf(format string, args ...any) {
	if c.logf == nil {
		return
	}
	c.logf("%s", c.clean(fmt.Sprintf(format, args...)))
}

// CertificateChain returns the certificates a server presented when err is
// a certificate verification failure, leaf first, else nil. The doctor
// command prints their subject, issuer, names and expiry.
func CertificateChain(err error) []*x509.Certificate {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return cv.UnverifiedCertificates
	}
	return nil
}
