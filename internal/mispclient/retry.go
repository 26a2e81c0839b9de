package mispclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/custom-misp/custom-misp/internal/misp"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// retryPolicy decides, for one call, whether to try again and how long to
// wait first. It replaces retryablehttp's policy and backoff because those
// know nothing of the context deadline: here a wait that would end after
// the deadline is not started, and the caller gets the last real answer
// (a 503, a 429 with its Reset) now instead of a bare "deadline exceeded"
// later.
type retryPolicy struct {
	c        *Client
	what     string        // "POST /attributes/restSearch", for the log
	attempts int           // attempts made so far
	retries  int           // retries allowed after the first attempt
	next     time.Duration // wait chosen by check, returned by backoff
}

// check implements retryablehttp.CheckRetry. It is called once per attempt.
func (p *retryPolicy) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	p.attempts++
	if ctx.Err() != nil {
		return false, nil // classify reports the deadline
	}
	var wait time.Duration
	switch {
	case err != nil:
		e, retry := p.c.classify(ctx, err)
		p.c.debugf("misp: %s: attempt %d: %s", p.what, p.attempts, e.Message)
		if !retry {
			return false, nil
		}
		wait = p.c.backoff(p.attempts)
	case resp.StatusCode == http.StatusTooManyRequests:
		p.c.debugf("misp: %s: attempt %d: status 429", p.what, p.attempts)
		d, ok := p.c.resetAfter(resp.Header)
		if !ok {
			d = p.c.backoff(p.attempts)
		}
		wait = d
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		p.c.debugf("misp: %s: attempt %d: status %d", p.what, p.attempts, resp.StatusCode)
		wait = p.c.backoff(p.attempts)
	default: // success, or a 4xx that asking again will not change
		p.c.debugf("misp: %s: attempt %d: status %d", p.what, p.attempts, resp.StatusCode)
		return false, nil
	}
	if p.attempts > p.retries {
		return false, nil
	}
	if wait > p.c.tune.maxWait {
		p.c.debugf("misp: %s: not retrying: wait %s is too long", p.what, wait)
		return false, nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
		p.c.debugf("misp: %s: not retrying: a %s wait would pass the deadline", p.what, wait.Round(time.Millisecond))
		return false, nil
	}
	p.c.debugf("misp: %s: retrying in %s", p.what, wait.Round(time.Millisecond))
	p.next = wait
	return true, nil
}

// backoff implements retryablehttp.Backoff with the wait check chose.
func (p *retryPolicy) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return p.next
}

// backoff returns the wait before retry number n (1-based): exponential
// from backoffMin, capped at backoffMax, with "equal jitter" (half fixed,
// half random) so that many integratord runs failing together do not
// retry in lockstep.
func (c *Client) backoff(n int) time.Duration {
	d := c.tune.backoffMin
	for i := 1; i < n && d < c.tune.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.tune.backoffMax)
	half := d / 2
	return half + rand.N(half+1)
}

// classify maps a transport error (no HTTP status) to an *Error and says
// whether another attempt could help.
func (c *Client) classify(ctx context.Context, err error) (*misp.Error, bool) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		msg := "deadline exceeded before MISP answered"
		if errors.Is(ctxErr, context.Canceled) {
			msg = "canceled before MISP answered"
		}
		return c.newErr(misp.ClassTimeout, 0, msg, err), false
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	text := inner.Error()

	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		dnsErr    *net.DNSError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &unknownCA):
		return c.newErr(misp.ClassTLS, 0, "certificate signed by unknown authority; set ca_file to the CA that signed MISP's certificate", err), false
	case errors.As(err, &hostErr):
		return c.newErr(misp.ClassTLS, 0, x509Text(hostErr)+"; use a name the certificate holds in hook_url", err), false
	case errors.As(err, &invalid):
		return c.newErr(misp.ClassTLS, 0, x509Text(invalid), err), false
	case errors.As(err, &verify):
		return c.newErr(misp.ClassTLS, 0, x509Text(verify.Err), err), false
	case strings.Contains(text, "server gave HTTP response to HTTPS client"):
		return c.newErr(misp.ClassTLS, 0, "server answered plain HTTP to https; check hook_url's scheme and port", err), false
	case strings.Contains(text, "tls:"):
		if strings.Contains(text, "certificate required") {
			text += "; set client_cert and client_key"
		}
		return c.newErr(misp.ClassTLS, 0, "tls handshake failed: "+text, err), false
	case errors.As(err, &dnsErr):
		// A name that does not exist will not exist in 200 ms either.
		return c.newErr(misp.ClassUnavailable, 0, text, err), !dnsErr.IsNotFound
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return c.newErr(misp.ClassTimeout, 0, fmt.Sprintf("no answer within %s", c.timeout), err), true
	default: // connection refused or reset, EOF, proxy failures

		return c.newErr(misp.ClassUnavailable, 0, text, err), true
	}
}

// x509Text is err's text without Go's "x509: " prefix, which means nothing
// to an operator.
func x509Text(err error) string { return strings.TrimPrefix(err.Error(), "x509: ") }
