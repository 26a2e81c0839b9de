package mispclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/custom-misp/custom-misp/internal/misp"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNew_Config(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name string
		mut  func(*Config)
		msg  string
	}{
		{"empty url", func(c *Config) { c.BaseURL = "" }, "hook_url: empty"},
		{"plain http", func(c *Config) { c.BaseURL = "http://misp.example"; c.AllowHTTP = false },
			"hook_url http://misp.example: https required (the API key would travel in clear; set allow_http to accept that)"},
		{"other scheme", func(c *Config) { c.BaseURL = "ftp://misp.example" }, "hook_url ftp://misp.example: scheme must be https"},
		{"no scheme", func(c *Config) { c.BaseURL = "misp.example:8443" }, "hook_url misp.example:8443: scheme must be https"},
		{"no host", func(c *Config) { c.BaseURL = "https:///misp" }, "hook_url https:///misp: no host"},
		{"credentials", func(c *Config) { c.BaseURL = "https://admin:s3cret@misp.example" },
			"hook_url https://misp.example: credentials in the URL are not allowed; use api_key"},
		// The user name alone can be the key: it is not shown either
		// (asError fails on the key in a message).
		{"key as user name", func(c *Config) { c.BaseURL = "https://" + testKey + "@misp.example" },
			"hook_url https://misp.example: credentials in the URL are not allowed; use api_key"},
		{"query", func(c *Config) { c.BaseURL = "https://misp.example/?key=" + testKey }, "hook_url https://misp.example/: must not have a query or fragment"},
		{"fragment", func(c *Config) { c.BaseURL = "https://misp.example/#" + testKey }, "hook_url https://misp.example/: must not have a query or fragment"},
		{"empty key", func(c *Config) { c.APIKey = "" }, "api_key: empty"},
		{"key with newline", func(c *Config) { c.APIKey = testKey + "\n" },
			"api_key: contains whitespace or non-ASCII characters (a trailing newline in api_key_file?)"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout -1s: want a positive duration up to 5m0s"},
		{"huge timeout", func(c *Config) { c.Timeout = time.Hour }, "timeout 1h0m0s: want a positive duration up to 5m0s"},
		{"negative retries", func(c *Config) { c.Retries = -1 }, "retries -1: want 0 to 10"},
		{"many retries", func(c *Config) { c.Retries = 11 }, "retries 11: want 0 to 10"},
		{"missing ca_file", func(c *Config) { c.CAFile = missing }, "ca_file: open " + missing + ": no such file or directory"},
		{"ca_file not PEM", func(c *Config) { c.CAFile = notPEM }, "ca_file " + notPEM + ": no PEM certificate in it"},
		{"cert without key", func(c *Config) { c.ClientCert = notPEM }, "client_key: required with client_cert"},
		{"key without cert", func(c *Config) { c.ClientKey = notPEM }, "client_cert: required with client_key"},
		{"bad pair", func(c *Config) { c.ClientCert, c.ClientKey = notPEM, notPEM },
			"client_cert " + notPEM + " / client_key " + notPEM + ": tls: failed to find any PEM data in certificate input"},
		{"proxy scheme", func(c *Config) { c.Proxy = "ftp://proxy.example:21" }, "proxy ftp://proxy.example:21: scheme must be http, https or socks5"},
		{"proxy without host", func(c *Config) { c.Proxy = "http://user:pw@" }, "proxy http:: no host"},
		{"proxy with key as user name", func(c *Config) { c.Proxy = "ftp://" + testKey + "@proxy.example" },
			"proxy ftp://proxy.example: scheme must be http, https or socks5"},
		{"user agent", func(c *Config) { c.UserAgent = "x\r\nInjected: 1" }, `user agent "x\r\nInjected: 1": must be printable ASCII`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{BaseURL: "https://misp.example", APIKey: testKey}
			tc.mut(&cfg)
			_, err := New(cfg)
			e := asError(t, err)
			if e.Class != misp.ClassConfig || e.Message != tc.msg {
				t.Errorf("got %s %q\nwant config %q", e.Class, e.Message, tc.msg)
			}
			if strings.Contains(e.Message, "s3cret") {
				t.Errorf("message holds a URL password: %q", e.Message)
			}
		})
	}
}

func TestNew_Accepts(t *testing.T) {
	for _, tc := range []struct {
		name, url, base string
	}{
		{"https with port", "https://misp.example:8443", "https://misp.example:8443"},
		{"trailing slash", "https://misp.example/", "https://misp.example"},
		{"sub path", "https://misp.example/misp/", "https://misp.example/misp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{BaseURL: tc.url, APIKey: testKey, Proxy: "socks5://127.0.0.1:1080"})
			if err != nil {
				t.Fatal(err)
			}
			if c.base != tc.base || c.timeout != DefaultTimeout || c.retries != 0 || c.agent != DefaultUserAgent {
				t.Errorf("got base %q timeout %s retries %d agent %q", c.base, c.timeout, c.retries, c.agent)
			}
		})
	}
}

// TestNew_Cheap: New runs once per alert, before any work. It must not
// load the system roots or touch the network; about ten allocations are
// its whole cost.
func TestNew_Cheap(t *testing.T) {
	cfg := Config{BaseURL: "https://misp.example:8443", APIKey: testKey, Timeout: 10 * time.Second, Retries: 3}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := New(cfg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 15 {
		t.Errorf("New allocates %.0f times, want at most 15", allocs)
	}
}

func BenchmarkNew(b *testing.B) {
	cfg := Config{BaseURL: "https://misp.example:8443", APIKey: testKey, Timeout: 10 * time.Second, Retries: 3}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGetPost(t *testing.T) {
	type call struct{ method, path, body, ctype string }
	var got []call
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, call{r.Method, r.URL.Path, string(b), r.Header.Get("Content-Type")})
		if r.Header.Get("Authorization") != testKey || r.Header.Get("Accept") != "application/json" {
			t.Errorf("%s: auth or accept header missing", r.URL.Path)
		}
		switch r.URL.Path {
		case "/servers/getVersion":
			w.Header().Set("X-Auth-Key-Expiration", "2026-12-01T00:00:00+00:00")
			reply(w, 200, testdata(t, "getVersion.json"))
		case "/feeds/fetchFromAllFeeds":
			reply(w, 200, testdata(t, "feeds_fetchFromAllFeeds.json"))
		case "/servers/serverSettings.json":
			reply(w, 500, testdata(t, "servers_serverSettings_internal_error.json"))
		default:
			reply(w, 404, testdata(t, "servers_getSetting_unknown.json"))
		}
	})
	c, _ := newClient(t, srv.URL, func(c *Config) { c.Retries = 0 })
	ctx := context.Background()

	var version struct {
		Version      string `json:"version"`
		PermSighting bool   `json:"perm_sighting"`
	}
	h, err := c.Get(ctx, "/servers/getVersion", &version)
	if err != nil {
		t.Fatal(err)
	}
	if version.Version != "2.5.1" || !version.PermSighting {
		t.Errorf("getVersion decoded as %+v, want 2.5.1 with perm_sighting", version)
	}
	if exp := h.Get("X-Auth-Key-Expiration"); exp != "2026-12-01T00:00:00+00:00" {
		t.Errorf("X-Auth-Key-Expiration = %q", exp)
	}

	var fetch struct {
		Result string `json:"result"`
	}
	if _, err := c.Post(ctx, "/feeds/fetchFromAllFeeds", nil, &fetch); err != nil {
		t.Fatal(err)
	}
	if fetch.Result != "No feed enabled." {
		t.Errorf("fetch result %q", fetch.Result)
	}
	if _, err := c.Post(ctx, "/feeds/fetchFromFeed/1", map[string]int{"x": 1}, nil); err == nil {
		t.Error("404 gave no error")
	}

	h, err = c.Get(ctx, "/servers/serverSettings.json", nil)
	e := asError(t, err)
	if e.Class != misp.ClassUnavailable || e.Status != 500 || e.Message != "An Internal Error Has Occurred." || h == nil {
		t.Errorf("got %v with headers %v, want unavailable 500 with MISP's reason and headers", e, h)
	}

	want := []call{
		{"GET", "/servers/getVersion", "", ""},
		{"POST", "/feeds/fetchFromAllFeeds", "{}", "application/json"},
		{"POST", "/feeds/fetchFromFeed/1", `{"x":1}`, "application/json"},
		{"GET", "/servers/serverSettings.json", "", ""},
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("calls\n got %v\nwant %v", got, want)
	}
}

func TestGet_RefusesPaths(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, []byte("{}")) })
	c, _ := newClient(t, srv.URL, nil)
	for _, p := range []string{"", "servers/getVersion", "//evil.example/x", "/a/../b", "/x?y=1", "/x#y", "/a b", "/%2e%2e/x", "/x\n"} {
		_, err := c.Get(context.Background(), p, nil)
		if misp.ClassOf(err) != misp.ClassConfig {
			t.Errorf("Get(%q): %v, want a config error", p, err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Errorf("%d request(s) sent", n)
	}
}

// newTLSServer starts an httptest TLS server that does not log the
// handshake failures the tests provoke.
func newTLSServer(t *testing.T, cfg *tls.Config, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// writeCertPEM writes srv's certificate as a PEM file for ca_file.
func writeCertPEM(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLS(t *testing.T) {
	srv := newTLSServer(t, nil, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, testdata(t, "restsearch_no_match.json"))
	})
	caFile := writeCertPEM(t, srv.Certificate())
	// httptest's certificate holds 127.0.0.1, ::1 and example.com, not localhost.
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	plain := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, []byte("{}")) })

	for _, tc := range []struct {
		name    string
		url     string
		mut     func(*Config)
		class   misp.Class
		message string // prefix
	}{
		{"self-signed without ca_file", srv.URL, nil, misp.ClassTLS, "certificate signed by unknown authority; set ca_file"},
		{"with ca_file", srv.URL, func(c *Config) { c.CAFile = caFile }, "", ""},
		{"insecure skip verify", srv.URL, func(c *Config) { c.InsecureSkipVerify = true }, "", ""},
		{"name not in certificate", byName, func(c *Config) { c.CAFile = caFile }, misp.ClassTLS,
			"certificate is valid for example.com, *.example.com, not localhost; use a name the certificate holds in hook_url"},
		{"https to a plain http server", strings.Replace(plain.URL, "http:", "https:", 1), nil, misp.ClassTLS,
			"server answered plain HTTP to https; check hook_url's scheme and port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newClient(t, tc.url, tc.mut)
			_, err := c.Search(context.Background(), oneValue)
			if tc.class == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := asError(t, err)
			if e.Class != tc.class || !strings.HasPrefix(e.Message, tc.message) {
				t.Errorf("got %v, want %s %q", e, tc.class, tc.message)
			}
			if n := logs.count("attempt"); n != 1 {
				t.Errorf("%d attempts, want 1 (TLS failures are not retried)", n)
			}
		})
	}

	t.Run("certificate chain for doctor", func(t *testing.T) {
		c, _ := newClient(t, srv.URL, nil)
		_, err := c.Search(context.Background(), oneValue)
		chain := CertificateChain(err)
		if len(chain) == 0 || !chain[0].Equal(srv.Certificate()) {
			t.Errorf("chain %v, want the server's certificate first", chain)
		}
		if CertificateChain(errors.New("x")) != nil {
			t.Error("chain from a foreign error")
		}
	})
}

// TestTLS_ClientCertificate: a MISP behind mutual TLS refuses a client
// without certificate and accepts one with client_cert/client_key.
func TestTLS_ClientCertificate(t *testing.T) {
	certFile, keyFile, cert := newClientCert(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv := newTLSServer(t, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, testdata(t, "restsearch_no_match.json"))
	})
	caFile := writeCertPEM(t, srv.Certificate())

	c, _ := newClient(t, srv.URL, func(c *Config) { c.CAFile = caFile })
	_, err := c.Search(context.Background(), oneValue)
	if e := asError(t, err); e.Class != misp.ClassTLS || !strings.Contains(e.Message, "tls") {
		t.Errorf("without client certificate: %v, want a tls error", e)
	}

	c, _ = newClient(t, srv.URL, func(c *Config) { c.CAFile, c.ClientCert, c.ClientKey = caFile, certFile, keyFile })
	if _, err := c.Search(context.Background(), oneValue); err != nil {
		t.Errorf("with client certificate: %v", err)
	}
}

func newClientCert(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "custom-misp test client"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile, cert
}

// TestProxy: with proxy set, requests go to the proxy (in absolute form)
// even for a host that does not resolve.
func TestProxy(t *testing.T) {
	var target string
	proxy := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		target = r.URL.String()
		reply(w, 200, testdata(t, "restsearch_full_query.json"))
	})
	c, _ := newClient(t, "http://misp.invalid:8080", func(c *Config) { c.Proxy = proxy.URL })
	attrs, err := c.Search(context.Background(), oneValue)
	if err != nil || len(attrs) != 3 {
		t.Fatalf("got %d attributes, %v; want 3 through the proxy", len(attrs), err)
	}
	if target != "http://misp.invalid:8080/attributes/restSearch" {
		t.Errorf("proxy saw %q", target)
	}
}

func TestClassOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want misp.Class
	}{
		{"nil", nil, ""},
		{"ours", &misp.Error{Class: misp.ClassAuth}, misp.ClassAuth},
		{"wrapped", fmt.Errorf("lookup: %w", &misp.Error{Class: misp.ClassTLS}), misp.ClassTLS},
		{"deadline", context.DeadlineExceeded, misp.ClassTimeout},
		{"foreign", errors.New("boom"), misp.ClassUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := misp.ClassOf(tc.err); got != tc.want {
				t.Errorf("ClassOf = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestKeyNeverLeaks drives every failure path with debug logging on and
// searches all errors and log lines for the key. newLogSink's cleanup and
// asError do the searching.
func TestKeyNeverLeaks(t *testing.T) {
	tlsSrv := newTLSServer(t, nil, func(w http.ResponseWriter, r *http.Request) {})
	echo := func(w http.ResponseWriter, r *http.Request) {
		// A hostile or broken server that echoes the header back everywhere.
		k := r.Header.Get("Authorization")
		w.Header().Set("Location", "https://misp.example/login?k="+k)
		w.Header().Set("X-Rate-Limit-Reset", k)
		switch r.URL.Path {
		case "/401":
			reply(w, 401, mispError("bad key "+k))
		case "/429":
			reply(w, 429, mispError(k))
		case "/302":
			reply(w, 302, nil)
		case "/500":
			reply(w, 500, []byte(`{"message":"`+k+`"}`))
		default:
			reply(w, 200, []byte("<html>"+k+"</html>"))
		}
	}
	srv := newServer(t, echo)
	var all []string
	for _, path := range []string{"/401", "/429", "/302", "/500", "/200"} {
		c, logs := newClient(t, srv.URL, func(c *Config) { c.Retries = 1 })
		_, err := c.Get(context.Background(), path, &json.RawMessage{})
		e := asError(t, err)
		all = append(all, fmt.Sprintf("%v %+v %#v", err, e, e.Message))
		all = append(all, logs.all()...)
	}
	c, logs := newClient(t, srv.URL, nil)
	_, err := c.Search(context.Background(), misp.Query{Values: []string{"x.example"}})
	all = append(all, fmt.Sprint(err))
	for _, url := range []string{tlsSrv.URL, "http://127.0.0.1:1"} {
		c, _ := newClient(t, url, func(c *Config) { c.Retries = 1 })
		_, err := c.Search(context.Background(), oneValue)
		asError(t, err)
		all = append(all, err.Error())
	}
	_, err = New(Config{BaseURL: "https://misp.example", APIKey: testKey + " "})
	all = append(all, fmt.Sprint(err))
	all = append(all, logs.all()...)
	for _, s := range all {
		if strings.Contains(s, testKey) {
			t.Errorf("key in %q", s)
		}
	}
}
