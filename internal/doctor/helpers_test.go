package doctor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/mispclient"
	"github.com/custom-misp/custom-misp/internal/mispfake"
)

// Keys of the fake MISP: 40 letters and digits, distinctive so that the
// leak check cannot miss them.
const (
	keyUser     = "UserKeyUserKeyUserKeyUserKeyUserKeySECRT"
	keyReadOnly = "ReadOnlyKeyReadOnlyKeyReadOnlyKeySECRET1"
	keyAdmin    = "AdminKeyAdminKeyAdminKeyAdminKeySECRET12"
	keyAdminRO  = "AdminReadOnlyKeyAdminReadOnlyKeySECRET12"
	keyExpired  = "ExpiredKeyExpiredKeyExpiredKeySECRET1234"
	keySoon     = "SoonKeySoonKeySoonKeySoonKeySoonKeySECRT"
	keyDisabled = "DisabledKeyDisabledKeyDisabledKeySECRET1"
	keyIPBound  = "IPBoundKeyIPBoundKeyIPBoundKeySECRET1234"
	keyLimited  = "LimitedKeyLimitedKeyLimitedKeySECRET1234"
	keyUnknown  = "UnknownKeyUnknownKeyUnknownKeySECRET1234"
	keyNoAPI    = "NoAPIKeyNoAPIKeyNoAPIKeyNoAPIKeySECRET12"
	keyRORole   = "ReadOnlyRoleKeyReadOnlyRoleKeySECRET1234" // role "Read Only": no perm_sighting
)

var allKeys = []string{keyUser, keyReadOnly, keyAdmin, keyAdminRO, keyExpired, keySoon, keyDisabled, keyIPBound, keyLimited, keyUnknown, keyNoAPI, keyRORole}

// testNow is the clock of the fake and of the checks.
var testNow = time.Now()

func fakeOptions() mispfake.Options {
	return mispfake.Options{Now: func() time.Time { return testNow }, Keys: map[string]mispfake.Key{
		keyUser:     {},
		keyReadOnly: {ReadOnly: true},
		keyAdmin:    {SiteAdmin: true},
		keyAdminRO:  {SiteAdmin: true, ReadOnly: true},
		keyExpired:  {Expires: testNow.Add(-time.Hour)},
		keySoon:     {Expires: testNow.Add(5 * 24 * time.Hour)},
		keyDisabled: {Disabled: true},
		keyIPBound:  {AllowedIPs: []string{"192.0.2.0/24"}},
		keyLimited:  {ReadOnly: true, RateLimit: 10},
		keyNoAPI:    {NoAPI: true},
		keyRORole:   {ReadOnlyRole: true},
	}}
}

// startFake serves a fake MISP over TLS with tlsCfg (nil: httptest's own
// self-signed certificate) and returns it, its URL and a CA file that
// trusts its certificate.
func startFake(t *testing.T, opts mispfake.Options, serverCert *tls.Certificate) (*mispfake.Server, string, string) {
	t.Helper()
	fake, err := mispfake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(fake)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are what some tests want
	if serverCert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*serverCert}}
	}
	srv.StartTLS()
	t.Cleanup(func() { fake.Close(); srv.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, ca, srv.Certificate().Raw)
	return fake, srv.URL, ca
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testCA issues certificates for the TLS cases httptest's own certificate
// cannot show: a leaf signed by a private CA, and an expired leaf.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, for ca_file
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Corp Internal CA"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "corp-ca.pem")
	writePEM(t, file, der)
	return &testCA{cert: cert, key: key, file: file}
}

func (ca *testCA) leaf(t *testing.T, notAfter time.Time) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := testNow.Add(-time.Hour)
	if notAfter.Before(notBefore) {
		notBefore = notAfter.Add(-48 * time.Hour)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "misp.example.org"},
		DNSNames: []string{"misp.example.org"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mispInput builds the Input for the MISP checks with the integratord
// constructor's settings.
func mispInput(t *testing.T, url, key string, edit func(*config.Config)) Input {
	t.Helper()
	cfg := config.Default(t.TempDir())
	cfg.MISPURL, cfg.APIKey, cfg.Timeout, cfg.Retries = url, key, 3*time.Second, 0
	if edit != nil {
		edit(&cfg)
	}
	cfg.DerivePaths()
	in := Input{Config: cfg, Source: "test", Now: func() time.Time { return testNow }}
	if err := cfg.Validate(); err != nil {
		in.ConfigErr = err
		return in
	}
	c, err := mispclient.New(mispclient.Config{BaseURL: cfg.MISPURL, APIKey: cfg.APIKey, Timeout: cfg.Timeout, CAFile: cfg.CAFile,
		InsecureSkipVerify: cfg.InsecureSkipVerify, AllowHTTP: cfg.AllowHTTP})
	if err != nil {
		in.ConfigErr = err
		return in
	}
	in.Client = c
	return in
}

// want is an expected result: status, and words the detail and the hint
// must hold.
type want struct {
	status Status
	detail string
	hint   string
}

// checkResults compares results with the expected ones, check by check
// and in order; a check expected but missing, or present but not
// expected, fails.
func checkResults(t *testing.T, got []Result, wantOrder []string, wants map[string]want) {
	t.Helper()
	var names []string
	for _, r := range got {
		names = append(names, r.Check)
	}
	if strings.Join(names, ",") != strings.Join(wantOrder, ",") {
		t.Errorf("checks:\n got %s\nwant %s", strings.Join(names, ","), strings.Join(wantOrder, ","))
	}
	for _, r := range got {
		w, ok := wants[r.Check]
		if !ok {
			w = want{status: OK}
		}
		if r.Status != w.status {
			t.Errorf("%s: status %s, want %s (detail %q, hint %q)", r.Check, r.Status, w.status, r.Detail, r.Hint)
		}
		if !strings.Contains(r.Detail, w.detail) {
			t.Errorf("%s: detail %q, want it to contain %q", r.Check, r.Detail, w.detail)
		}
		if !strings.Contains(r.Hint, w.hint) {
			t.Errorf("%s: hint %q, want it to contain %q", r.Check, r.Hint, w.hint)
		}
		if r.Status != OK && r.Hint == "" {
			t.Errorf("%s: %s without a hint", r.Check, r.Status)
		}
	}
	noKey(t, got)
}

// noKey fails if any key of the fake appears in the results.
func noKey(t *testing.T, rs []Result) {
	t.Helper()
	b, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := Write(&text, rs); err != nil {
		t.Fatal(err)
	}
	for _, k := range allKeys {
		if strings.Contains(string(b), k) || strings.Contains(text.String(), k) {
			t.Errorf("an API key appears in the results")
		}
	}
}

// notMISP answers every request like a web application that is not MISP
// (a dashboard's login page), over TLS.
func notMISP(t *testing.T) (string, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>Wazuh dashboard login</body></html>")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, ca, srv.Certificate().Raw)
	return srv.URL, ca
}
