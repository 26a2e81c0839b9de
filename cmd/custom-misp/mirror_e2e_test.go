package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/mispfake"
)

// The mirror end to end: the built binary's sync against the fake MISP
// over TLS, then runs with integratord's argv reading the mirror, with the
// datagrams read from a real unix socket.

type mirrorWorld struct {
	t       *testing.T
	w       *world
	dir     string
	options string
	cleanup func()
}

func newMirrorWorld(t *testing.T, extra map[string]any) *mirrorWorld {
	t.Helper()
	return newMirrorWorldWith(t, extra, mispfake.Options{})
}

func newMirrorWorldWith(t *testing.T, extra map[string]any, fakeOpts mispfake.Options) *mirrorWorld {
	t.Helper()
	dir := t.TempDir()
	w, ca, cleanup, err := newWorldWith(dir, fakeOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	opts := map[string]any{"ca_file": ca, "socket_path": w.sock, "log_file": filepath.Join(dir, "log"), "cache": "off",
		"lookup": "mirror", "mirror_path": filepath.Join(dir, "mirror.db"), "published": true}
	for k, v := range extra {
		opts[k] = v
	}
	b, _ := json.Marshal(opts)
	options := filepath.Join(dir, "options")
	if err := os.WriteFile(options, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return &mirrorWorld{t: t, w: w, dir: dir, options: options}
}

// syncCmd is `custom-misp sync --json` as the command wodle runs it, with
// the key in the environment.
func (m *mirrorWorld) syncCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(builtBinary, append([]string{"sync", "--json", "--options", m.options, "--url", m.w.srv.URL, "--wazuh-home", m.dir}, args...)...)
	cmd.Env = append(os.Environ(), "CUSTOM_MISP_API_KEY="+testKey)
	return cmd
}

// sync runs a sync and returns its one job line's message.
func (m *mirrorWorld) sync(args ...string) string {
	m.t.Helper()
	out, err := m.syncCmd(args...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("sync: %v: %s", err, out)
	}
	var line struct {
		MISP struct{ Operation, Result, Message string } `json:"misp"`
	}
	if json.Unmarshal(out, &line) != nil || line.MISP.Operation != "mirror_sync" || line.MISP.Result != "ok" || strings.Count(string(out), "\n") != 1 {
		m.t.Fatalf("sync printed %q, want one ok mirror_sync job line", out)
	}
	return line.MISP.Message
}

// run runs one alert whose data holds the given fields, as integratord
// does, and returns the datagrams.
func (m *mirrorWorld) run(data map[string]string) []string {
	m.t.Helper()
	alert, _ := json.Marshal(map[string]any{"id": "1700000000.1", "rule": map[string]any{"id": "5715", "level": 3, "description": "sshd: authentication success."},
		"agent": map[string]any{"id": "000", "name": "manager"}, "data": data})
	f := filepath.Join(m.dir, "alert.json")
	if err := os.WriteFile(f, alert, 0o644); err != nil {
		m.t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: builtBinary, Args: []string{"integrations", f, testKey, m.w.srv.URL, "", m.options, "10", "3", "> /dev/null 2>&1"}}
	if out, err := cmd.CombinedOutput(); err != nil {
		m.t.Fatalf("run: %v: %s", err, out)
	}
	var grams []string
	for _, d := range drain(m.w.queue) {
		grams = append(grams, string(d))
	}
	return grams
}

// matches says whether the run for an alert holding value in data.url
// (or srcip for an address) matched it from the mirror.
func (m *mirrorWorld) matches(field, value string) bool {
	m.t.Helper()
	for _, g := range m.run(map[string]string{field: value}) {
		if strings.Contains(g, `"error"`) {
			m.t.Fatalf("error event: %s", g)
		}
		if !strings.Contains(g, `"lookup":"mirror"`) {
			m.t.Fatalf("event not from the mirror: %s", g)
		}
		return true
	}
	return false
}

// TestMirror_ChangesArrive makes each kind of change of docs/mirror.md's
// table in the fake MISP (which records them with the timestamps a real
// MISP 2.5.1 does, see internal/mispfake) and checks that the next sync
// makes the run match, or stop matching.
func TestMirror_ChangesArrive(t *testing.T) {
	m := newMirrorWorld(t, nil)
	f := m.w.fake
	add := func(typ, value string) string {
		id, err := f.AddAttribute("3", mispfake.NewAttribute{Type: typ, Category: "Network activity", Value: value, ToIDs: true})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	publish := func() {
		if err := f.Publish("3"); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	m.sync()
	if m.matches("srcip", "185.100.87.77") {
		t.Fatal("matched before the attribute existed")
	}

	steps := []struct {
		name   string
		change func()
		field  string
		value  string
		want   bool
	}{
		{"new attribute", func() { add("ip-src", "185.100.87.77"); publish() }, "srcip", "185.100.87.77", true},
		{"edited value", func() {
			id := add("domain", "before-edit-cdn.xyz")
			publish()
			m.sync()
			must(f.EditValue(id, "after-edit-cdn.xyz"))
			publish()
		}, "hostname", "after-edit-cdn.xyz", true},
		{"the old value no longer", func() {}, "hostname", "before-edit-cdn.xyz", false},
		{"soft delete", func() { id := add("ip-dst", "185.100.87.78"); publish(); m.sync(); must(f.SoftDelete(id)); publish() }, "srcip", "185.100.87.78", false},
		{"hard delete", func() { id := add("ip-dst", "185.100.87.79"); publish(); m.sync(); must(f.HardDelete(id)); publish() }, "srcip", "185.100.87.79", false},
		{"to_ids off", func() {
			id := add("ip-dst", "185.100.87.80")
			publish()
			m.sync()
			must(f.SetToIDs(id, false))
			publish()
		}, "srcip", "185.100.87.80", false},
		{"network added: an address inside it", func() { add("ip-src", "45.9.148.0/24"); publish() }, "srcip", "45.9.148.200", true},
		{"IPv6 network", func() { add("ip-dst", "2a0e:1c80:beef::/48"); publish() }, "srcip", "2a0e:1c80:beef:1::5", true},
		{"event unpublished (published filter on)", func() { must(f.Unpublish("3")) }, "srcip", "185.100.87.77", false},
		{"published again", func() { publish() }, "srcip", "185.100.87.77", true},
		{"event deleted", func() { must(f.DeleteEvent("3")) }, "srcip", "185.100.87.77", false},
	}
	for _, s := range steps {
		s.change()
		m.sync()
		if got := m.matches(s.field, s.value); got != s.want {
			t.Fatalf("%s: %s %s matched %v, want %v", s.name, s.field, s.value, got, s.want)
		}
	}
}

// A re-tagged event: the next sync carries the new TLP into the event.
func TestMirror_RetaggedEvent(t *testing.T) {
	m := newMirrorWorld(t, nil)
	f := m.w.fake
	if _, err := f.AddAttribute("3", mispfake.NewAttribute{Type: "ip-src", Category: "Network activity", Value: "185.100.87.90", ToIDs: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("3"); err != nil {
		t.Fatal(err)
	}
	m.sync()
	if g := m.run(map[string]string{"srcip": "185.100.87.90"}); len(g) != 1 || !strings.Contains(g[0], `"tlp":"amber"`) {
		t.Fatalf("before: %q", g)
	}
	if err := f.UntagEvent("3", "tlp:amber"); err != nil {
		t.Fatal(err)
	}
	if err := f.TagEvent("3", "tlp:red"); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("3"); err != nil {
		t.Fatal(err)
	}
	m.sync()
	if g := m.run(map[string]string{"srcip": "185.100.87.90"}); len(g) != 1 || !strings.Contains(g[0], `"tlp":"red"`) {
		t.Fatalf("after re-tagging: %q", g)
	}
}

// A sync killed while it writes leaves the previous mirror answering and
// its temporary file behind; the next sync completes and removes it. A
// sync that hangs on MISP delays no run: 20 runs at once all answer from
// the mirror while it waits.
func TestMirror_KilledAndConcurrentSync(t *testing.T) {
	m := newMirrorWorld(t, nil)
	f := m.w.fake
	m.sync()
	if _, err := f.AddAttribute("3", mispfake.NewAttribute{Type: "ip-src", Category: "Network activity", Value: "185.100.87.91", ToIDs: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("3"); err != nil {
		t.Fatal(err)
	}
	// The metadata request comes after the attributes are written to the
	// temporary file: hanging there holds the sync mid-write.
	f.Inject(mispfake.Fault{Path: "/events/restSearch", Hang: true})
	cmd := m.syncCmd()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	temps := func() []string {
		l, _ := filepath.Glob(filepath.Join(m.dir, "mirror.db.tmp-*"))
		return l
	}
	waitFor(t, func() bool { return len(temps()) == 1 && len(requestsTo(f, "/events/restSearch")) > 0 })

	// analysisd reads its queue as the runs write: a unix datagram socket
	// holds only a few unread datagrams (net.unix.max_dgram_qlen).
	var got [][]byte
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		buf := make([]byte, 1<<17)
		for len(got) < 20 {
			m.w.queue.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := m.w.queue.Read(buf)
			if err != nil {
				return
			}
			got = append(got, append([]byte(nil), buf[:n]...))
		}
	}()
	var wg sync.WaitGroup
	results := make([][]string, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alert, _ := json.Marshal(map[string]any{"id": "1700000000.2", "rule": map[string]any{"id": "5715", "level": 3, "description": "x"},
				"agent": map[string]any{"id": "000", "name": "manager"}, "data": map[string]string{"hostname": "update-check-cdn.com"}})
			af := filepath.Join(m.dir, "alert-"+string(rune('a'+i))+".json")
			_ = os.WriteFile(af, alert, 0o644)
			run := &exec.Cmd{Path: builtBinary, Args: []string{"integrations", af, testKey, m.w.srv.URL, "", m.options, "10", "3", "> /dev/null 2>&1"}}
			out, err := run.CombinedOutput()
			if err != nil {
				results[i] = []string{"failed: " + err.Error() + ": " + string(out)}
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r != nil {
			t.Errorf("run %d beside the sync: %q", i, r)
		}
	}
	<-reading
	for _, g := range got {
		if !strings.Contains(string(g), `"lookup":"mirror"`) || strings.Contains(string(g), `"error"`) {
			t.Errorf("beside the sync: %s", g)
		}
	}
	if len(got) != 20 {
		t.Errorf("20 runs beside a hanging sync sent %d datagrams, want 20 matches", len(got))
	}
	if cmd.ProcessState != nil {
		t.Fatal("the sync ended while the runs ran: the test proves nothing")
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	f.ClearFaults()
	if len(temps()) != 1 {
		t.Fatalf("after the kill: temporary files %v, want the killed sync's one", temps())
	}
	if m.matches("srcip", "185.100.87.91") {
		t.Fatal("the killed sync's change is in the mirror")
	}
	if !m.matches("hostname", "update-check-cdn.com") {
		t.Fatal("the previous mirror does not answer after the kill")
	}
	m.sync()
	if len(temps()) != 0 {
		t.Errorf("temporary files after the next sync: %v", temps())
	}
	if !m.matches("srcip", "185.100.87.91") {
		t.Fatal("the next sync did not complete the change")
	}
}

// A stale mirror in each mode: "auto" asks MISP instead; "mirror" answers
// and sends one stale_mirror event. The state file's record of when the
// mirror was last current is moved back instead of waiting.
func TestMirror_StaleInEachMode(t *testing.T) {
	for _, mode := range []string{"auto", "mirror"} {
		t.Run(mode, func(t *testing.T) {
			m := newMirrorWorld(t, map[string]any{"lookup": mode, "mirror_max_age": "30m", "cache": "on", "cache_path": filepath.Join(t.TempDir(), "cache.db")})
			m.sync()
			backdate(t, filepath.Join(m.dir, "mirror.db.state"), 31*time.Minute)
			before := len(requestsTo(m.w.fake, "/attributes/restSearch"))
			grams := m.run(map[string]string{"hostname": "update-check-cdn.com"})
			asked := len(requestsTo(m.w.fake, "/attributes/restSearch")) - before
			joined := strings.Join(grams, "\n")
			switch mode {
			case "auto":
				if asked != 1 || strings.Contains(joined, `"lookup":"mirror"`) || !strings.Contains(joined, `"value":"update-check-cdn.com"`) {
					t.Errorf("auto with a stale mirror: %d requests, datagrams %s", asked, joined)
				}
			case "mirror":
				if asked != 0 || !strings.Contains(joined, `"error":"stale_mirror"`) || !strings.Contains(joined, `"lookup":"mirror"`) || len(grams) != 2 {
					t.Errorf("mirror with a stale mirror: %d requests, datagrams %s", asked, joined)
				}
				// One stale_mirror event per window, not per run.
				if again := strings.Join(m.run(map[string]string{"hostname": "update-check-cdn.com"}), "\n"); strings.Contains(again, "stale_mirror") {
					t.Errorf("second run sent stale_mirror again: %s", again)
				}
			}
		})
	}
}

// backdate moves the state file's current_at back by d.
func backdate(t *testing.T, path string, d time.Duration) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["current_at"] = st["current_at"].(float64) - d.Seconds()
	b, _ = json.Marshal(st)
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func requestsTo(f *mispfake.Server, path string) []mispfake.Request {
	var out []mispfake.Request
	for _, r := range f.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls cond; the bound only stops a broken test from hanging.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition never held")
}

// A warninglist enabled in MISP that covers a mirrored value changes no
// timestamp; the next sync sees the enabled lists change and is full, and
// the value stops matching.
func TestMirror_WarninglistEnabled(t *testing.T) {
	m := newMirrorWorld(t, nil)
	f := m.w.fake
	if _, err := f.AddAttribute("3", mispfake.NewAttribute{Type: "ip-src", Category: "Network activity", Value: "185.100.87.95", ToIDs: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("3"); err != nil {
		t.Fatal(err)
	}
	m.sync()
	if !m.matches("srcip", "185.100.87.95") {
		t.Fatal("not mirrored")
	}
	id, err := f.AddWarninglist("our scanners", "string", []string{"185.100.87.95"}, []string{"ip-src"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.EnableWarninglist(id, true); err != nil {
		t.Fatal(err)
	}
	if msg := m.sync(); !strings.Contains(msg, "full (MISP's enabled warninglists changed)") {
		t.Errorf("sync after enabling a warninglist: %s", msg)
	}
	if m.matches("srcip", "185.100.87.95") {
		t.Error("a warninglisted value still matches")
	}
}

// Decay (exclude_decayed) changes nothing in MISP: incremental syncs keep
// a decayed attribute, the full sync drops it (docs/mirror.md).
func TestMirror_DecayNeedsTheFullSync(t *testing.T) {
	// The change is made two hours before the syncs read MISP (whose Date
	// header is the real time): older than the sync's recheck overlap, so
	// only what MISP's timestamps say decides what is read again.
	now := time.Now().Add(-2 * time.Hour)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := newMirrorWorldWith(t, map[string]any{"exclude_decayed": true}, mispfake.Options{Now: clock})
	f := m.w.fake
	model := mispfake.NIDSSimpleDecayingModel()
	f.EnableDecayingModel(&model)
	if _, err := f.AddAttribute("3", mispfake.NewAttribute{Type: "ip-dst", Category: "Network activity", Value: "185.100.87.96", ToIDs: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("3"); err != nil {
		t.Fatal(err)
	}
	m.sync()
	if !m.matches("srcip", "185.100.87.96") {
		t.Fatal("a fresh attribute is not mirrored")
	}
	mu.Lock()
	now = now.Add(60 * 24 * time.Hour) // past the model's 46.9 days
	mu.Unlock()
	m.sync()
	if !m.matches("srcip", "185.100.87.96") {
		t.Fatal("an incremental sync dropped the decayed attribute: nothing in MISP says it decayed")
	}
	m.sync("--full")
	if m.matches("srcip", "185.100.87.96") {
		t.Error("the full sync kept a decayed attribute")
	}
}

// `custom-misp lookup` answers as a run would: from the mirror (saying
// so, with the mirror's fields in --json), or from MISP with --live.
func TestMirror_LookupCommand(t *testing.T) {
	m := newMirrorWorld(t, nil)
	m.sync()
	lookup := func(args ...string) (string, string) {
		cmd := exec.Command(builtBinary, append([]string{"lookup", "--options", m.options, "--url", m.w.srv.URL, "--wazuh-home", m.dir}, args...)...)
		cmd.Env = append(os.Environ(), "CUSTOM_MISP_API_KEY="+testKey)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("lookup %q: %v: %s", args, err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	before := len(requestsTo(m.w.fake, "/attributes/restSearch"))
	out, errOut := lookup("--json", "update-check-cdn.com")
	if !strings.Contains(out, `"lookup":"mirror"`) || !strings.Contains(errOut, "answered from the local mirror, generation 1") {
		t.Errorf("lookup from the mirror: stdout %s stderr %s", out, errOut)
	}
	if n := len(requestsTo(m.w.fake, "/attributes/restSearch")) - before; n != 0 {
		t.Errorf("lookup from the mirror asked MISP %d times", n)
	}
	out, errOut = lookup("--json", "--live", "update-check-cdn.com")
	if strings.Contains(out, `"lookup"`) || strings.Contains(errOut, "mirror") || !strings.Contains(out, `"value":"update-check-cdn.com"`) {
		t.Errorf("lookup --live: stdout %s stderr %s", out, errOut)
	}
	if n := len(requestsTo(m.w.fake, "/attributes/restSearch")) - before; n != 1 {
		t.Errorf("lookup --live asked MISP %d times, want 1", n)
	}
}

// The mirror's files never hold the API key, and are not world-readable.
func TestMirror_FilesHoldNoKey(t *testing.T) {
	m := newMirrorWorld(t, nil)
	m.sync()
	files, _ := filepath.Glob(filepath.Join(m.dir, "mirror.db*"))
	if len(files) != 3 {
		t.Fatalf("mirror files %v, want mirror.db, .state and .lock", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), testKey) {
			t.Errorf("%s holds the API key", f)
		}
		fi, _ := os.Stat(f)
		if fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s mode %v: others may read or write it", f, fi.Mode().Perm())
		}
	}
}
