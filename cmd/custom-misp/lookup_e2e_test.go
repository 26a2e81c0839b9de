package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLookup_SameEventAsIntegratord: `lookup --json VALUE` prints the event
// integratord mode sends for an alert carrying VALUE, but for what only an
// alert has (where the value was found, the alert it came from). Both come
// from the same binary and the same fake MISP in this one test, so neither
// side is a pasted literal.
func TestLookup_SameEventAsIntegratord(t *testing.T) {
	srvURL, ca, sock, queue, stop := goldenWorld(t)
	defer stop()
	dir := t.TempDir()
	opts, _ := json.Marshal(map[string]any{"ca_file": ca, "socket_path": sock, "log_file": filepath.Join(dir, "log"), "cache": "off"})
	optsFile := filepath.Join(dir, "options")
	if err := os.WriteFile(optsFile, opts, 0o644); err != nil {
		t.Fatal(err)
	}
	alert, _ := filepath.Abs("../../testdata/alerts/sysmon-eid22-malicious-domain-cname-mapped-ipv4.json")
	const value = "update-check-cdn.com" // the alert's DNS query, a demo-event attribute

	run := &exec.Cmd{Path: builtBinary, Args: []string{"integrations", alert, testKey, srvURL, "", optsFile, "10", "3", "> /dev/null 2>&1"}}
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("integratord mode: %v: %s", err, out)
	}
	var fromAlert map[string]any
	for _, d := range drain(queue) {
		_, body, _ := strings.Cut(string(d), "->misp:")
		var ev map[string]any
		if err := json.Unmarshal([]byte(body), &ev); err != nil {
			t.Fatalf("datagram %q: %v", d, err)
		}
		if ev["misp"].(map[string]any)["indicator"] == value {
			fromAlert = ev
		}
	}
	if fromAlert == nil {
		t.Fatalf("integratord mode sent no event for %s", value)
	}

	var stdout, stderr bytes.Buffer
	lookup := &exec.Cmd{Path: builtBinary, Args: []string{"custom-misp", "lookup", "--json", "--options", optsFile, "--url", srvURL, value},
		Env: []string{"CUSTOM_MISP_API_KEY=" + testKey}, Stdout: &stdout, Stderr: &stderr}
	if err := lookup.Run(); err != nil {
		t.Fatalf("lookup: %v: %s", err, stderr.String())
	}
	var fromLookup map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &fromLookup); err != nil {
		t.Fatalf("lookup output %q: %v", stdout.String(), err)
	}

	// Only an alert knows these.
	alertOnly := []string{"alert_field", "source"}
	for _, ev := range []map[string]any{fromAlert, fromLookup} {
		for _, k := range alertOnly {
			delete(ev["misp"].(map[string]any), k)
		}
	}
	if diff := cmp.Diff(fromAlert, fromLookup); diff != "" {
		t.Errorf("lookup's event differs from integratord mode's (-integratord +lookup):\n%s", diff)
	}
}
