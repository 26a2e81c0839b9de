package main

// End-to-end tests: the real binary, built once with the release flags, is
// started exactly as integratord starts it (argv[0] "integrations", empty
// strings as real empty arguments, the redirect as a plain argument) against
// a fake MISP over real HTTPS and a real unix datagram socket. Scripts live
// in testdata/script; custom commands are documented in scriptCmds.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	bolt "go.etcd.io/bbolt"

	"github.com/custom-misp/custom-misp/internal/mispfake"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

// testKey is the fake MISP's key. It is distinctive so that the key-leak
// check cannot miss it.
const testKey = "TestKeyK3yK3yK3yK3yK3yK3yK3yK3yK3ySECRET"

// testKey2 is the second fake MISP's key (option "instances"), in
// $WORK/key2 for its api_key_file.
const testKey2 = "SecondK3yK3yK3yK3yK3yK3yK3yK3yK3yK3yK3y2"

// readOnlyRoleKey is a key of a user whose role is MISP's "Read Only":
// it may search, not add sightings.
const readOnlyRoleKey = "ReadOnlyRoleKeyNoSightingsNoSightings000"

var builtBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "custom-misp-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Both programs, side by side as installed: custom-misp starts
	// custom-misp-net from its own directory. The binary takes the
	// directory above its own as the Wazuh home (wazuh.Home), so it sits
	// in integrations/ of a directory of this test's: a run without an
	// options file finds no queue, log or cache there, and never touches
	// a real manager's /var/ossec on the machine running the tests.
	integrations := filepath.Join(dir, "integrations")
	if err := os.Mkdir(integrations, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	builtBinary = filepath.Join(integrations, "custom-misp")
	for pkg, out := range map[string]string{".": builtBinary, "../custom-misp-net": filepath.Join(integrations, "custom-misp-net")} {
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/custom-misp/custom-misp/internal/cli.version=e2e", "-o", out, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestScripts(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/script",
		Setup: func(env *testscript.Env) error { return setupWorld(env, repo) },
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"integratord": cmdIntegratord,
			"custom-misp": cmdCustomMISP,
			"datagrams":   cmdDatagrams,
			"fault":       cmdFault,
			"requests":    cmdRequests,
			"status":      cmdStatus,
			"nokey":       cmdNoKey,
			"mkoptions":   cmdMkOptions,
			"bigresponse": cmdBigResponse,
			"stopqueue":   cmdStopQueue,
			"tookunder":   cmdTookUnder,
			"pad":         cmdPad,
			"sizes":       cmdSizes,
			"age":         cmdAge,
			"sighted":     cmdSighted,
		},
	})
}

// world is one script's fake MISP and queue socket, and a second fake
// MISP for the scripts that configure several (option "instances").
type world struct {
	fake   *mispfake.Server
	srv    *httptest.Server
	fake2  *mispfake.Server
	queue  *net.UnixConn
	sock   string
	status int
	took   time.Duration
}

func worldOf(ts *testscript.TestScript) *world {
	return ts.Value("world").(*world)
}

// newWorld starts a fake MISP over TLS and a queue socket; ca is the path
// of the fake's certificate, written under workDir for ca_file.
func newWorld(workDir string) (w *world, ca string, cleanup func(), err error) {
	return newWorldWith(workDir, mispfake.Options{})
}

// newWorldWith is newWorld with the fake's options (its clock, say); the
// test key is added to them.
func newWorldWith(workDir string, opts mispfake.Options) (w *world, ca string, cleanup func(), err error) {
	opts.Keys = map[string]mispfake.Key{testKey: {}, readOnlyRoleKey: {ReadOnlyRole: true}}
	fake, err := mispfake.New(opts)
	if err != nil {
		return nil, "", nil, err
	}
	srv, caPEM := fake.ServeTLS()
	// Socket paths are limited to ~104 bytes; $WORK can be longer.
	sockDir, err := os.MkdirTemp("", "q")
	if err != nil {
		return nil, "", nil, err
	}
	sock := filepath.Join(sockDir, "queue")
	queue, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return nil, "", nil, err
	}
	queue.SetReadBuffer(4 << 20)
	cleanup = func() {
		queue.Close()
		fake.Close()
		srv.Close()
		os.RemoveAll(sockDir)
	}
	ca = filepath.Join(workDir, "misp-ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		cleanup()
		return nil, "", nil, err
	}
	return &world{fake: fake, srv: srv, queue: queue, sock: sock}, ca, cleanup, nil
}

func setupWorld(env *testscript.Env, repo string) error {
	w, ca, cleanup, err := newWorld(env.WorkDir)
	if err != nil {
		return err
	}
	env.Values["world"] = w
	env.Defer(cleanup)
	// The second MISP: same data, its own key and certificate.
	fake2, err := mispfake.New(mispfake.Options{Keys: map[string]mispfake.Key{testKey2: {}}})
	if err != nil {
		return err
	}
	srv2, ca2PEM := fake2.ServeTLS()
	env.Defer(func() { fake2.Close(); srv2.Close() })
	w.fake2 = fake2
	env.Setenv("MISP2_URL", srv2.URL)
	env.Setenv("CA2", filepath.Join(env.WorkDir, "misp2-ca.pem"))
	if err := os.WriteFile(filepath.Join(env.WorkDir, "misp2-ca.pem"), ca2PEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(env.WorkDir, "key2"), []byte(testKey2+"\n"), 0o600); err != nil {
		return err
	}
	env.Setenv("MISP_URL", w.srv.URL)
	env.Setenv("MISP_KEY", testKey)
	env.Setenv("MISP_READONLY_ROLE_KEY", readOnlyRoleKey)
	env.Setenv("QUEUE", w.sock)
	env.Setenv("CA", ca)
	env.Setenv("ALERTS", filepath.Join(repo, "testdata", "alerts"))
	env.Setenv("BIN", builtBinary)
	env.Setenv("TESTHOME", filepath.Dir(filepath.Dir(builtBinary)))
	env.Setenv("NETBIN", filepath.Join(filepath.Dir(builtBinary), "custom-misp-net"))
	env.Setenv("REDIRECT", "> /dev/null 2>&1")
	// doctor judges file access as this user: one no machine has, so
	// that a machine with a wazuh user (any manager, a testbed) gives the
	// same results.
	env.Setenv("NOUSER", "custom-misp-test-no-such-user")
	return nil
}

// integratord ARGS... runs the binary with argv[0] "integrations" and ARGS
// verbatim. Its combined output is the command's stdout and is appended to
// $WORK/outputs for the key-leak check; `status N` asserts the exit code.
func cmdIntegratord(ts *testscript.TestScript, neg bool, args []string) {
	runBinary(ts, neg, append([]string{"integrations"}, args...))
}

// custom-misp ARGS... runs the binary as an operator would.
func cmdCustomMISP(ts *testscript.TestScript, neg bool, args []string) {
	runBinary(ts, neg, append([]string{"custom-misp"}, args...))
}

func runBinary(ts *testscript.TestScript, neg bool, argv []string) {
	cmd := &exec.Cmd{Path: builtBinary, Args: argv, Dir: ts.Getenv("WORK"), Env: []string{"PATH=/usr/bin:/bin"}}
	if k := ts.Getenv("CUSTOM_MISP_API_KEY"); k != "" {
		cmd.Env = append(cmd.Env, "CUSTOM_MISP_API_KEY="+k)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	w := worldOf(ts)
	w.took = time.Since(start)
	w.status = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			ts.Fatalf("running the binary: %v", err)
		}
		w.status = ee.ExitCode()
	}
	fmt.Fprint(ts.Stdout(), stdout.String())
	fmt.Fprint(ts.Stderr(), stderr.String())
	appendFile(ts, "outputs", stdout.String()+stderr.String())
	if w.status != 0 && !neg {
		ts.Fatalf("exit status %d", w.status)
	}
	if w.status == 0 && neg {
		ts.Fatalf("unexpected success")
	}
}

// status N asserts the exit code of the last binary run.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: status N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	if got := worldOf(ts).status; (got == want) == neg {
		ts.Fatalf("exit status %d, want %s%d", got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// datagrams FILE drains the queue socket into FILE, one datagram a line,
// and appends them to $WORK/sent for the key-leak check.
func cmdDatagrams(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: datagrams FILE")
	}
	var out strings.Builder
	for _, d := range drain(worldOf(ts).queue) {
		if len(d) > wazuh.MaxDatagram {
			ts.Fatalf("datagram of %d bytes: over Wazuh's %d-byte limit", len(d), wazuh.MaxDatagram)
		}
		out.Write(d)
		out.WriteByte('\n')
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(out.String()), 0o644))
	appendFile(ts, "sent", out.String())
}

// fault KEY=VALUE... queues a fault in the fake MISP (mispfake.Fault):
// status=N reset=N times=N hang delay=DURATION drop body-file=FILE
// body-size=N path=PREFIX; misp=2 puts it on the second fake.
func cmdFault(ts *testscript.TestScript, neg bool, args []string) {
	f := mispfake.Fault{Path: "/attributes/restSearch"}
	fake := worldOf(ts).fake
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		var err error
		switch k {
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "reset":
			f.Reset, err = strconv.Atoi(v)
		case "times":
			f.Times, err = strconv.Atoi(v)
		case "hang":
			f.Hang = true
		case "drop":
			f.Drop = true
		case "delay":
			f.Delay, err = time.ParseDuration(v)
		case "body-file":
			f.Body = ts.ReadFile(v)
		case "body-size":
			f.BodySize, err = strconv.ParseInt(v, 10, 64)
		case "path":
			f.Path = v
		case "misp":
			fake = fakeOf(ts, v)
		default:
			ts.Fatalf("fault: unknown %q", k)
		}
		ts.Check(err)
	}
	fake.Inject(f)
}

// fakeOf returns the fake MISP that "misp=N" names.
func fakeOf(ts *testscript.TestScript, n string) *mispfake.Server {
	switch n {
	case "1":
		return worldOf(ts).fake
	case "2":
		return worldOf(ts).fake2
	}
	ts.Fatalf("misp=%s: want 1 or 2", n)
	return nil
}

// requests N [misp=2] asserts how many requests the fake MISP (or the
// second one) has received so far.
func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: requests N [misp=2]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	fake := worldOf(ts).fake
	if len(args) == 2 {
		n, ok := strings.CutPrefix(args[1], "misp=")
		if !ok {
			ts.Fatalf("usage: requests N [misp=2]")
		}
		fake = fakeOf(ts, n)
	}
	if got := len(fake.Requests()); (got == want) == neg {
		ts.Fatalf("fake MISP received %d requests, want %d", got, want)
	}
}

// nokey fails if the API key appears in anything the binary wrote: the
// datagrams, its output, the log file and the cache store.
func cmdNoKey(ts *testscript.TestScript, neg bool, args []string) {
	work := ts.Getenv("WORK")
	var checked int
	err := filepath.Walk(work, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		if filepath.Base(path) == "key" || filepath.Base(path) == "key2" { // the api_key_files themselves
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		if bytes.Contains(b, []byte(testKey)) || bytes.Contains(b, []byte(testKey2)) {
			return fmt.Errorf("an API key appears in %s", path)
		}
		return nil
	})
	ts.Check(err)
	if checked == 0 {
		ts.Fatalf("nokey: nothing to check")
	}
}

// mkoptions FILE [JSON] writes an options file pointing the binary at this
// script's queue, log, cache and CA, merged with the JSON object given.
func cmdMkOptions(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: mkoptions FILE [JSON]")
	}
	work := ts.Getenv("WORK")
	opts := map[string]any{
		"socket_path": ts.Getenv("QUEUE"),
		"log_file":    filepath.Join(work, "integrations.log"),
		"cache_path":  filepath.Join(work, "cache.db"),
		"ca_file":     ts.Getenv("CA"),
		// sightings_path: the memory of sightings sent stays in $WORK.
		"sightings_path": filepath.Join(work, "sightings.db"),
	}
	if len(args) == 2 {
		var extra map[string]any
		ts.Check(json.Unmarshal([]byte(args[1]), &extra))
		for k, v := range extra {
			if v == nil {
				delete(opts, k)
				continue
			}
			opts[k] = v
		}
	}
	b, err := json.Marshal(opts)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), append(b, '\n'), 0o644))
}

// bigresponse FILE VALUE TYPE INFO_BYTES TAGS writes a restSearch answer
// with one attribute whose event info and tag list are huge, to exercise
// the datagram size limit.
func cmdBigResponse(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 5 {
		ts.Fatalf("usage: bigresponse FILE VALUE TYPE INFO_BYTES TAGS")
	}
	size, err := strconv.Atoi(args[3])
	ts.Check(err)
	ntags, err := strconv.Atoi(args[4])
	ts.Check(err)
	tags := make([]map[string]any, 0, ntags)
	for i := 0; i < ntags; i++ {
		tags = append(tags, map[string]any{"id": strconv.Itoa(i + 100), "name": fmt.Sprintf("misp-galaxy:threat-actor=\"Actor number %d with a long name\"", i), "inherited": 1})
	}
	resp := map[string]any{"response": map[string]any{"Attribute": []any{map[string]any{
		"id": "900", "event_id": "90", "category": "Network activity", "type": args[2], "to_ids": true,
		"uuid": "5e1b7e4c-0000-4000-8000-000000000900", "timestamp": "1795683600", "value": args[1], "comment": "",
		"Event": map[string]any{"id": "90", "uuid": "5e1b7e4c-0000-4000-8000-000000000090", "info": strings.Repeat("A", size),
			"threat_level_id": "1", "date": "2026-11-26", "published": true, "Orgc": map[string]any{"id": "1", "name": "TESTORG"}},
		"Tag": tags,
	}}}}
	b, err := json.Marshal(resp)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// padMark is what pad replaces in its template.
const padMark = "@PAD@"

// pad TEMPLATE OUT N [BASELINE] writes OUT: TEMPLATE with its one @PAD@
// replaced by a run of 'p'. Without BASELINE the run is N bytes long. With
// BASELINE, a datagrams file holding the one datagram a run produced from
// TEMPLATE padded to 0 bytes, N is the datagram size wanted instead: the
// run is N minus that datagram's length, so that the same run on OUT
// builds a datagram of exactly N bytes before any shrinking.
func cmdPad(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 && len(args) != 4 {
		ts.Fatalf("usage: pad TEMPLATE OUT N [BASELINE]")
	}
	tmpl := ts.ReadFile(args[0])
	if strings.Count(tmpl, padMark) != 1 {
		ts.Fatalf("pad: %s must hold %s exactly once", args[0], padMark)
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	if len(args) == 4 {
		base := strings.Split(strings.TrimSuffix(ts.ReadFile(args[3]), "\n"), "\n")
		if len(base) != 1 || base[0] == "" {
			ts.Fatalf("pad: %s holds %d datagrams, want 1", args[3], len(base))
		}
		n -= len(base[0])
	}
	if n < 0 {
		ts.Fatalf("pad: %d bytes of padding", n)
	}
	out := strings.Replace(tmpl, padMark, strings.Repeat("p", n), 1)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(out), 0o644))
}

// sizes FILE N... asserts the byte length of each datagram in a datagrams
// file, in order.
func cmdSizes(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: sizes FILE N...")
	}
	var got []string
	for _, d := range strings.Split(strings.TrimSuffix(ts.ReadFile(args[0]), "\n"), "\n") {
		got = append(got, strconv.Itoa(len(d)))
	}
	if (strings.Join(got, " ") == strings.Join(args[1:], " ")) == neg {
		ts.Fatalf("datagram sizes %v, want %v", got, args[1:])
	}
}

// guardBucket is the cache store's bucket of protection state (scope →
// JSON), see internal/cache/store.go.
const guardBucket = "guard"

// age STORE DURATION makes DURATION pass for the protection state in the
// cache store STORE: every instant in it (429 reset, auth pause, circuit,
// report windows) moves that far into the past, so that a script sees what
// the next run does after a wait, without waiting. Counts and cool-downs
// are left as they are. It fails when it found no instant to move.
func cmdAge(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: age STORE DURATION")
	}
	d, err := time.ParseDuration(args[1])
	ts.Check(err)
	db, err := bolt.Open(ts.MkAbs(args[0]), 0o600, &bolt.Options{Timeout: time.Second})
	ts.Check(err)
	defer db.Close()
	moved := 0
	var shift func(v any) any
	shift = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = shift(e)
			}
		case string:
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				moved++
				return t.Add(-d).Format(time.RFC3339Nano)
			}
		}
		return v
	}
	ts.Check(db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(guardBucket))
		if b == nil {
			return fmt.Errorf("age: no %q bucket in %s", guardBucket, args[0])
		}
		aged := map[string][]byte{} // bbolt forbids writes inside ForEach
		err := b.ForEach(func(k, v []byte) error {
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			var state any
			if err := dec.Decode(&state); err != nil {
				return fmt.Errorf("age: state of scope %x: %w", k, err)
			}
			out, err := json.Marshal(shift(state))
			aged[string(k)] = out
			return err
		})
		for k, v := range aged {
			if err == nil {
				err = b.Put([]byte(k), v)
			}
		}
		return err
	}))
	if moved == 0 {
		ts.Fatalf("age: no instant in the protection state of %s", args[0])
	}
}

// stopqueue closes the queue listener, leaving the socket file behind, as a
// stopped analysisd does.
func cmdStopQueue(ts *testscript.TestScript, neg bool, args []string) {
	ts.Check(worldOf(ts).queue.Close())
}

// tookunder DURATION asserts that the last binary run ended in time.
func cmdTookUnder(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: tookunder DURATION")
	}
	max, err := time.ParseDuration(args[0])
	ts.Check(err)
	if took := worldOf(ts).took; took >= max {
		ts.Fatalf("the run took %s, want under %s", took.Round(time.Millisecond), max)
	}
}

// drain returns the datagrams waiting on the queue socket. It is called
// after the binary has exited, so whatever it sent is already queued: the
// short read deadline only ends the loop, it races nothing.
func drain(queue *net.UnixConn) [][]byte {
	var out [][]byte
	buf := make([]byte, 1<<17)
	for {
		queue.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := queue.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
}

func appendFile(ts *testscript.TestScript, name, s string) {
	f, err := os.OpenFile(ts.MkAbs(name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	ts.Check(err)
	_, err = f.WriteString(s)
	ts.Check(err)
	ts.Check(f.Close())
}

// sighted [-misp 2] [-requests N] [UUID] N asserts what the fake MISP (or
// the second one) got as sightings: N sightings in all, or N of the
// attribute UUID; -requests also asserts how many POST /sightings/add
// requests added them.
func cmdSighted(ts *testscript.TestScript, neg bool, args []string) {
	fake := worldOf(ts).fake
	if len(args) >= 2 && args[0] == "-misp" {
		fake = fakeOf(ts, args[1])
		args = args[2:]
	}
	if len(args) >= 2 && args[0] == "-requests" {
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		if got := fake.SightingRequests(); (got == want) == neg {
			ts.Fatalf("fake MISP got sightings in %d request(s), want %d", got, want)
		}
		args = args[2:]
	}
	var got int
	switch len(args) {
	case 1:
		got = len(fake.Sightings())
	case 2:
		got = fake.SightingsOf(args[0])
		args = args[1:]
	default:
		ts.Fatalf("usage: sighted [-misp 2] [-requests N] [UUID] N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	if (got == want) == neg {
		ts.Fatalf("fake MISP has %d sighting(s), want %d: %+v", got, want, fake.Sightings())
	}
}
