// Command fakemisp serves the fake MISP of package mispfake on a local
// port, for the demo, benchmarks and manual testing. It prints the base
// URL as the first line on stdout, then serves until stdin is closed (with
// -stdin, the default) or it receives SIGINT or SIGTERM.
//
//	fakemisp -key $(printf 'k%.0s' $(seq 40)) -tls -cert-out /tmp/misp.pem
//	fakemisp -key ... -synthetic 1000000x20000 -embedded=false   # a million generated attributes
//
// POST /mispfake/changes {"count": K, "seed": S} then changes the running
// fake (see the package README).
//
// It is a test tool: the production binary never contains it.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/custom-misp/custom-misp/internal/mispfake"
)

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "fakemisp: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "fakemisp: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("fakemisp", flag.ContinueOnError)
	fl.SetOutput(stderr)
	listen := fl.String("listen", "127.0.0.1:0", "address to listen on")
	key := fl.String("key", "", "the API key to accept (40 letters and digits, required)")
	admin := fl.Bool("admin", false, "the key belongs to a site admin (server settings, feed fetching)")
	readOnly := fl.Bool("readonly", false, "the key is a read-only key")
	readOnlyRole := fl.Bool("readonly-role", false, `the key's user has MISP's "Read Only" role: no perm_sighting, so sightings get 403`)
	rateLimit := fl.Int("rate-limit", 0, "restSearch calls per 900 s window for the key (0 = unlimited)")
	redisDown := fl.Bool("redis-down", false, "MISP's Redis is unreachable: queuing a feed fetch fails with MISP's internal error")
	useTLS := fl.Bool("tls", false, "serve HTTPS with a fresh self-signed certificate")
	certOut := fl.String("cert-out", "", "with -tls, write the certificate (PEM) here, for a client's ca_file")
	eventsDir := fl.String("events", "", "load MISP events from this directory instead of the embedded set")
	embeddedEvents := fl.Bool("embedded", true, "load the embedded events; -embedded=false with -synthetic serves the generated set alone")
	synthetic := fl.String("synthetic", "", "add a generated data set of N attributes over M events, given as NxM (e.g. 1000000x20000)")
	seed := fl.Int64("seed", 1, "with -synthetic, the seed of the generated set (the same seed gives the same set)")
	watchStdin := fl.Bool("stdin", true, "stop when stdin is closed")
	reportSightings := fl.Bool("report-sightings", false, "at exit, print every sighting added (one line each) and their count, to check a client's sightings from outside")
	if err := fl.Parse(args); err != nil {
		return usageError{err}
	}
	if *key == "" {
		return usageError{errors.New("-key is required")}
	}
	if *certOut != "" && !*useTLS {
		return usageError{errors.New("-cert-out needs -tls")}
	}

	opts := mispfake.Options{
		Keys:      map[string]mispfake.Key{*key: {SiteAdmin: *admin, ReadOnly: *readOnly, ReadOnlyRole: *readOnlyRole, RateLimit: *rateLimit}},
		RedisDown: *redisDown,
	}
	if *eventsDir != "" {
		opts.Events = os.DirFS(*eventsDir)
	}
	if *synthetic != "" {
		g, err := mispfake.ParseSynthetic(*synthetic)
		if err != nil {
			return usageError{err}
		}
		g.Seed = *seed
		opts.Synthetic = g
	}
	if !*embeddedEvents {
		if *eventsDir != "" || *synthetic == "" {
			return usageError{errors.New("-embedded=false needs -synthetic and no -events")}
		}
		opts.Events = fstest.MapFS{}
	}
	fake, err := mispfake.New(opts)
	if err != nil {
		return err
	}
	defer fake.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if *useTLS {
		cert, pemBytes, err := selfSigned()
		if err != nil {
			ln.Close()
			return fmt.Errorf("certificate: %w", err)
		}
		if *certOut != "" {
			if err := os.WriteFile(*certOut, pemBytes, 0o644); err != nil {
				ln.Close()
				return fmt.Errorf("certificate: %w", err)
			}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "%s://%s\n", scheme, ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		go func() {
			io.Copy(io.Discard, stdin)
			stop()
		}()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fake.Close() // release hung handlers so Shutdown can finish
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if *reportSightings {
		printSightings(stdout, fake.Sightings(), fake.SightingRequests())
	}
	return err
}

// printSightings writes what -report-sightings promises: a sighting a
// line, then the totals. The fake keeps no log, so this is how a loop
// run (a real Wazuh manager driving the binary) checks what reached MISP.
func printSightings(w io.Writer, recs []mispfake.SightingRecord, requests int) {
	for _, r := range recs {
		fmt.Fprintf(w, "sighting event=%s attribute=%s type=%s source=%q request=%d\n",
			r.EventID, r.AttributeUUID, r.Type, r.Source, r.Request)
	}
	fmt.Fprintf(w, "sightings: %d added by %d requests\n", len(recs), requests)
}

// selfSigned makes a certificate for the loopback names, valid for a day.
func selfSigned() (tls.Certificate, []byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fakemisp", Organization: []string{"custom-misp test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, pemBytes, nil
}
