package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden from the binary's output (review the diff like code)")

// TestGolden runs the built binary, as integratord does, over every sample
// alert in testdata/alerts against the fake MISP, and compares the
// datagrams with testdata/golden/NAME.golden. The rules checker
// (internal/ruleset) reads the same files, so a schema change that breaks
// a rule shows up there too. to_ids is off so that context attributes are
// covered; the MISP URL is written as $MISP_URL.
func TestGolden(t *testing.T) {
	srvURL, ca, sock, queue, stop := goldenWorld(t)
	defer stop()
	dir := t.TempDir()
	opts, _ := json.Marshal(map[string]any{"ca_file": ca, "socket_path": sock, "log_file": filepath.Join(dir, "log"), "cache": "off", "to_ids": false})
	optsFile := filepath.Join(dir, "options")
	if err := os.WriteFile(optsFile, opts, 0o644); err != nil {
		t.Fatal(err)
	}
	sampleAlerts(t, func(t *testing.T, name, alert string) {
		got := datagramsOf(t, alert, srvURL, optsFile, queue, nil)
		golden := filepath.Join("..", "..", "testdata", "golden", name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it, then review it)", err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("datagrams differ from %s (-want +got):\n%s", golden, diff)
		}
	})
}

// sampleAlerts runs fn, as a subtest, for each sample alert of
// testdata/alerts.
func sampleAlerts(t *testing.T, fn func(t *testing.T, name, alert string)) {
	t.Helper()
	alerts, err := filepath.Glob("../../testdata/alerts/*.json")
	if err != nil || len(alerts) == 0 {
		t.Fatalf("no sample alerts: %v", err)
	}
	for _, alert := range alerts {
		name := strings.TrimSuffix(filepath.Base(alert), ".json")
		if name == "expected" {
			continue
		}
		t.Run(name, func(t *testing.T) { fn(t, name, alert) })
	}
}

// datagramsOf runs the built binary on alert with integratord's argv and
// returns the datagrams it sent, one per line, each passed through fix
// (if set) and with the MISP URL written as $MISP_URL.
func datagramsOf(t *testing.T, alert, srvURL, optsFile string, queue *net.UnixConn, fix func(d []byte) []byte) string {
	t.Helper()
	cmd := &exec.Cmd{Path: builtBinary, Args: []string{"integrations", alert, testKey, srvURL, "", optsFile, "10", "3", "> /dev/null 2>&1"}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v: %s", err, out)
	}
	var got bytes.Buffer
	for _, d := range drain(queue) {
		if fix != nil {
			d = fix(d)
		}
		got.Write(bytes.ReplaceAll(d, []byte(srvURL), []byte("$MISP_URL")))
		got.WriteByte('\n')
	}
	return got.String()
}

func goldenWorld(t *testing.T) (url, ca, sock string, queue *net.UnixConn, stop func()) {
	t.Helper()
	w, ca, cleanup, err := newWorld(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return w.srv.URL, ca, w.sock, w.queue, cleanup
}

// TestHelperMissing: custom-misp installed without custom-misp-net still
// serves what the cache knows and turns each miss into one config error
// event that says what to install, instead of failing silently.
func TestHelperMissing(t *testing.T) {
	srvURL, ca, sock, queue, stop := goldenWorld(t)
	defer stop()
	dir := t.TempDir()
	solo := filepath.Join(dir, "custom-misp")
	b, err := os.ReadFile(builtBinary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(solo, b, 0o750); err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(map[string]any{"ca_file": ca, "socket_path": sock, "log_file": filepath.Join(dir, "log"), "cache_path": filepath.Join(dir, "cache.db")})
	optsFile := filepath.Join(dir, "options")
	if err := os.WriteFile(optsFile, opts, 0o644); err != nil {
		t.Fatal(err)
	}
	alert, _ := filepath.Abs("../../testdata/alerts/sysmon-eid22-malicious-domain-cname-mapped-ipv4.json")
	cmd := &exec.Cmd{Path: solo, Args: []string{"integrations", alert, testKey, srvURL, "", optsFile, "10", "3", "> /dev/null 2>&1"}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v: %s", err, out)
	}
	buf := make([]byte, 1<<16)
	queue.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := queue.Read(buf)
	if err != nil {
		t.Fatalf("no error event: %v", err)
	}
	got := string(buf[:n])
	want := `"misp":{"error":"config","message":"custom-misp-net not found at ` + filepath.Join(dir, "custom-misp-net") + `: install it next to custom-misp (make install)","indicators":"3"`
	if !strings.Contains(got, want) {
		t.Errorf("datagram %s\ndoes not contain %s", got, want)
	}
}

// TestGolden_MirrorMatchesLive: after `custom-misp sync` against the same
// fake MISP, every sample alert run with lookup "mirror" (and the fake
// stopped, so nothing can be asked) sends exactly the golden datagrams of
// TestGolden plus "lookup":"mirror" and "mirror_age" in each event.
func TestGolden_MirrorMatchesLive(t *testing.T) {
	dir := t.TempDir()
	w, ca, cleanup, err := newWorld(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	opts, _ := json.Marshal(map[string]any{"ca_file": ca, "socket_path": w.sock, "log_file": filepath.Join(dir, "log"), "cache": "off", "to_ids": false,
		"lookup": "mirror", "mirror_path": filepath.Join(dir, "mirror.db")})
	optsFile := filepath.Join(dir, "options")
	if err := os.WriteFile(optsFile, opts, 0o644); err != nil {
		t.Fatal(err)
	}
	sync := exec.Command(builtBinary, "sync", "--options", optsFile, "--url", w.srv.URL, "--wazuh-home", dir)
	sync.Env = append(os.Environ(), "CUSTOM_MISP_API_KEY="+testKey)
	if out, err := sync.CombinedOutput(); err != nil {
		t.Fatalf("sync: %v: %s", err, out)
	}
	w.srv.Close() // from here on, MISP cannot answer anything
	mirrorFields := regexp.MustCompile(`,"lookup":"mirror","mirror_age":"[0-9]+"`)
	sampleAlerts(t, func(t *testing.T, name, alert string) {
		got := datagramsOf(t, alert, w.srv.URL, optsFile, w.queue, func(d []byte) []byte {
			if !mirrorFields.Match(d) {
				t.Errorf("datagram without the mirror's fields: %s", d)
			}
			return mirrorFields.ReplaceAll(d, nil)
		})
		want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("mirror datagrams differ from the live golden file beyond lookup and mirror_age (-live +mirror):\n%s", diff)
		}
	})
}
