package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// peerChain reads the certificates a TLS server presents, leaf first, with
// a handshake of its own. It verifies nothing (InsecureSkipVerify) because
// its only purpose is to show the operator what the server sends; it
// writes nothing on the connection, so no request and no key ever goes
// over it. nil when the handshake fails.
func peerChain(ctx context.Context, addr, host string, timeout time.Duration) []*x509.Certificate {
	tc := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // reads the chain only; see above
	if net.ParseIP(host) == nil {
		tc.ServerName = host
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: tc}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates
}

// tlsCert adds the operator's view to a certificate.
type tlsCert struct{ *x509.Certificate }

// selfSigned reports whether the certificate signed itself.
func (c *tlsCert) selfSigned() bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c.Certificate) == nil
}

// names lists the names and addresses the certificate is valid for.
func (c *tlsCert) names() []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName + " (CN only, which TLS clients ignore)"}
	}
	return names
}

// describe is the one-line summary doctor prints: subject, issuer, names
// and expiry.
func (c *tlsCert) describe(now time.Time) string {
	issuer := fmt.Sprintf("issuer %q", c.Issuer.String())
	if c.selfSigned() {
		issuer = "self-signed"
	}
	return fmt.Sprintf("subject %q, %s, names [%s], expires %s (%s)",
		c.Subject.String(), issuer, strings.Join(c.names(), " "), c.NotAfter.UTC().Format("2006-01-02"), until(now, c.NotAfter))
}

// tlsFailure explains a failed verification: what the certificate is, and
// whether ca_file would fix it (an untrusted issuer) or not (wrong name,
// expired).
func tlsFailure(err error, msg string, chain []*x509.Certificate, host, addr, home string, now time.Time) (detail, hint string) {
	if len(chain) == 0 {
		return "tls handshake failed: " + msg,
			"check that hook_url's port speaks HTTPS, and client_cert/client_key if MISP asks for a client certificate. " + hintLastResort
	}
	leaf := &tlsCert{chain[0]}
	cert := leaf.describe(now)
	var (
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		unknownCA x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &hostErr):
		return fmt.Sprintf("the certificate does not name %s: %s", host, cert),
			fmt.Sprintf("ca_file would not fix this: use a name the certificate holds in hook_url (%s), or reissue MISP's certificate with %s among its names. %s",
				strings.Join(leaf.names(), ", "), host, hintLastResort)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the certificate has expired or is not valid yet: " + cert,
			"ca_file would not fix this: renew MISP's certificate (or correct this manager's clock). " + hintLastResort
	case errors.As(err, &unknownCA) && leaf.selfSigned():
		return "self-signed certificate, not trusted here: " + cert,
			fmt.Sprintf(`ca_file would fix this: save MISP's certificate on the manager (openssl s_client -connect %s -showcerts </dev/null | openssl x509 > %s) and set "ca_file": "%s" in <options>. %s`, addr, caPath(home), caPath(home), hintLastResort)
	case errors.As(err, &unknownCA):
		return "certificate signed by an authority this manager does not trust: " + cert,
			fmt.Sprintf(`ca_file would fix this: set "ca_file" in <options> to the PEM certificate of the CA %q that signed MISP's certificate (ask its admin, or take the last certificate of: openssl s_client -connect %s -showcerts </dev/null). %s`,
				leaf.Issuer.String(), addr, hintLastResort)
	}
	return msg + ": " + cert, "check MISP's certificate chain (openssl s_client -connect " + addr + " -showcerts). " + hintLastResort
}

// caPath is where the hints suggest keeping MISP's certificate.
func caPath(home string) string {
	if home == "" {
		home = "/var/ossec"
	}
	return filepath.Join(home, "etc", "misp-ca.pem")
}
