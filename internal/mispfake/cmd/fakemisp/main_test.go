package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

// TestRun_EventsDirWithBareEvent: -events loads every form MISP's
// /events/add takes, the bare event object of
// ../shared/misp-events/pymisp__existing_event.json (PyMISP's
// tests/mispevent_testfiles/existing_event.json, cut to one attribute)
// included, next to the usual {"Event": {...}} and an export's
// {"response": {"Event": {...}}}.
func TestRun_EventsDirWithBareEvent(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"bare.json": `{"Org": {"id": "2", "name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
			"Orgc": {"id": "2", "name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
			"analysis": "0", "date": "2017-12-21", "distribution": "3", "id": "9747",
			"info": "OSINT - Sednit update: How Fancy Bear Spent the Year", "org_id": "2", "orgc_id": "2",
			"published": false, "threat_level_id": "3", "timestamp": "1513948642", "uuid": "5a3c2fcd-8328-42bb-a95e-4f4402de0b81",
			"Attribute": [{"category": "Network activity", "distribution": "5", "event_id": "9747", "id": "1188759",
				"timestamp": "1513893921", "to_ids": true, "type": "domain", "uuid": "5a3c2fdb-2f48-4ab5-9f2b-46da02de0b81", "value": "movieultimate.com"}]}`,
		"wrapped.json": `{"Event": {"info": "wrapped", "Attribute": [{"type": "domain", "category": "Network activity", "to_ids": true, "value": "wrapped.example.net"}]}}`,
		"export.json":  `{"response": {"Event": {"info": "export", "Attribute": [{"type": "domain", "category": "Network activity", "to_ids": true, "value": "export.example.net"}]}}}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base, stdin, done := start(t, "-key", testKey, "-events", dir)
	for _, value := range []string{"movieultimate.com", "wrapped.example.net", "export.example.net"} {
		req, _ := http.NewRequest(http.MethodPost, base+"/attributes/restSearch",
			strings.NewReader(`{"returnFormat":"json","value":"`+value+`"}`))
		req.Header.Set("Authorization", testKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"value":"`+value+`"`) {
			t.Errorf("search %s: status %d, body %.300s", value, resp.StatusCode, body)
		}
	}
	stdin.Close()
	waitDone(t, done)
}

func TestRun_EventsDirNotAnEvent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "list.json"), []byte(`[{"info": "a list is no event"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"-key", testKey, "-events", dir}, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "list.json") {
		t.Errorf("run: %v, want an error naming list.json", err)
	}
}

// TestRun_Synthetic serves a generated set alone and changes it through
// /mispfake/changes, as the benchmark does.
func TestRun_Synthetic(t *testing.T) {
	base, stdin, done := start(t, "-key", testKey, "-synthetic", "2000x20", "-seed", "4", "-embedded=false")
	do := func(path, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", testKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	status, body, _ := do("/events/index", `{"minimal":1}`)
	if status != 200 || strings.Count(body, `"orgc_uuid"`) != 20 {
		t.Errorf("events/index: %d, %d events, want 20", status, strings.Count(body, `"orgc_uuid"`))
	}
	_, _, h := do("/attributes/restSearch", `{"returnFormat":"json","deleted":[0,1]}`)
	if got := h.Get("X-Result-Count"); got != "2000" {
		t.Errorf("attributes: X-Result-Count %s, want 2000", got)
	}
	if status, body, _ := do("/mispfake/changes", `{"count":10,"seed":1}`); status != 200 || strings.Count(body, `"kind"`) != 10 {
		t.Errorf("changes: %d %s", status, body)
	}
	stdin.Close()
	waitDone(t, done)
}

func TestRun_SyntheticUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-key", testKey, "-synthetic", "lots"},
		{"-key", testKey, "-synthetic", "10x0"},
		{"-key", testKey, "-embedded=false"},
		{"-key", testKey, "-embedded=false", "-synthetic", "10x1", "-events", "."},
	} {
		var usage usageError
		if err := run(args, strings.NewReader(""), io.Discard, io.Discard); !errors.As(err, &usage) {
			t.Errorf("run(%q) = %v, want a usage error (exit 2)", args, err)
		}
	}
}

// TestRun_ReportSightings: with -report-sightings the fake prints, once
// stopped, each sighting a client added (here one for attribute
// 19f709e1-... of the embedded event 1, testdata/events/01-misp251-event-1.json)
// and the count; a refused one (wrong key) is not among them.
func TestRun_ReportSightings(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"-key", testKey, "-report-sightings"}, inR, outW, io.Discard)
		outW.Close()
	}()
	out := bufio.NewReader(outR)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v", err)
	}
	base := strings.TrimSpace(line)
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(out); rest <- string(b) }()
	add := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/sightings/add",
			strings.NewReader(`{"uuid":"19f709e1-c921-4939-87cf-669935e4a78b","source":"wazuh"}`))
		req.Header.Set("Authorization", key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := add(testKey); got != 200 {
		t.Fatalf("sightings/add: %d", got)
	}
	if got := add(strings.Repeat("x", 40)); got != 403 {
		t.Errorf("sightings/add with another key: %d", got)
	}
	inW.Close()
	waitDone(t, done)
	want := `sighting event=1 attribute=19f709e1-c921-4939-87cf-669935e4a78b type=0 source="wazuh" request=1
sightings: 1 added by 1 requests
`
	if got := <-rest; got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}
