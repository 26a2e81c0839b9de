package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testKey = "FakemispTestKeyFakemispTestKey0123456789"

// start runs the command with a stdin pipe and returns the base URL, the
// pipe (close it to stop) and the run result.
func start(t *testing.T, args ...string) (string, io.Closer, <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(args, inR, outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v (run: %v)", err, <-done)
	}
	go io.Copy(io.Discard, outR)
	t.Cleanup(func() { inW.Close() })
	return strings.TrimSpace(line), inW, done
}

func version(t *testing.T, c *http.Client, base, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/servers/getVersion", nil)
	req.Header.Set("Authorization", key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitDone(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after stdin closed")
	}
}

func TestRun_HTTPUntilStdinCloses(t *testing.T) {
	base, stdin, done := start(t, "-key", testKey)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q, want the base URL", base)
	}
	if got := version(t, http.DefaultClient, base, testKey); got != 200 {
		t.Errorf("getVersion with the key: %d", got)
	}
	if got := version(t, http.DefaultClient, base, strings.Repeat("x", 40)); got != 403 {
		t.Errorf("getVersion with another key: %d", got)
	}
	stdin.Close()
	waitDone(t, done)
}

func TestRun_TLSWithCertFile(t *testing.T) {
	certFile := filepath.Join(t.TempDir(), "misp.pem")
	base, stdin, done := start(t, "-key", testKey, "-tls", "-cert-out", certFile)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("first line %q", base)
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("certificate file holds no certificate")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if got := version(t, c, base, testKey); got != 200 {
		t.Errorf("getVersion over TLS: %d", got)
	}
	// Without the certificate the handshake fails, as with a real
	// self-signed MISP.
	if _, err := http.Get(base + "/servers/getVersion"); err == nil {
		t.Error("self-signed certificate accepted without ca_file")
	}
	stdin.Close()
	waitDone(t, done)
}

func TestRun_UsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"-key", "short"}, {"-key", testKey, "-cert-out", "x.pem"}, {"-nope"}} {
		err := run(args, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
