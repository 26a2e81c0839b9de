// Command bench is `make bench`: it times whole runs of the built binary as
// integratord makes them (one process per alert, integratord 4.14's argv)
// against the fake MISP over TLS on loopback and a unix datagram listener,
// and writes the results to BENCHMARKS.md.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/mispfake"
)

const benchKey = "BenchKeyBenchKeyBenchKeyBenchKey00000000"

func main() {
	if len(os.Args) > 4 && os.Args[1] == "-launch" {
		launch(os.Args[2], os.Args[3], os.Args[4], os.Args[5:])
		return
	}
	bin := flag.String("bin", "bin/custom-misp", "the built binary")
	out := flag.String("out", "BENCHMARKS.md", "where to write the report")
	runs := flag.Int("runs", 300, "runs per case")
	replay := flag.Int("replay", 10000, "alerts in the replay")
	distinct := flag.Int("distinct", 2000, "distinct indicator values in the replay")
	compare := flag.String("compare", "", "another build of custom-misp: time it against -bin, interleaved, instead of writing the report")
	var spec mirrorSpec
	flag.IntVar(&spec.attrs, "mirror-attributes", 1_000_000, "attributes in the fake MISP's synthetic set for the mirror cases (issue #12: 1,000,000)")
	flag.IntVar(&spec.events, "mirror-events", 20_000, "events they are spread over (issue #12: 20,000)")
	flag.IntVar(&spec.rounds, "sync-rounds", 3, "full and incremental syncs measured, each from an empty mirror")
	flag.IntVar(&spec.changes, "changes", 1000, "random changes each incremental sync picks up (issue #12: 1,000)")
	flag.Parse()
	if *runs < rounds {
		fmt.Fprintf(os.Stderr, "bench: -runs must be at least %d (one run per round)\n", rounds)
		os.Exit(2)
	}
	if spec.attrs < spec.events || spec.events < 1 || spec.rounds < 1 || spec.changes < 1 {
		fmt.Fprintln(os.Stderr, "bench: -mirror-attributes ≥ -mirror-events ≥ 1, -sync-rounds ≥ 1 and -changes ≥ 1")
		os.Exit(2)
	}
	var err error
	if *compare != "" {
		err = compareBuilds(*bin, *compare, *runs)
	} else {
		err = run(*bin, *out, *runs, *replay, *distinct, spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type sample struct {
	wall   time.Duration
	maxRSS int64         // KiB
	cpu    time.Duration // user and system time of the run
}

type bench struct {
	dir, bin, url, options, socket string
	fake                           *mispfake.Server
	queue                          *net.UnixConn
	received                       atomic.Int64 // datagrams read from the queue
}

func run(binPath, out string, runs, replayN, distinct int, spec mirrorSpec) error {
	startLoad := loadavg()
	binPath, err := filepath.Abs(binPath)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cmbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := setup(dir, binPath)
	if err != nil {
		return err
	}
	defer b.queue.Close()
	go b.drain()

	noop, err := buildNoop(dir)
	if err != nil {
		return err
	}
	osTime, err := buildReference(dir, "ostime")
	if err != nil {
		return err
	}
	packages, err := buildReference(dir, "packages")
	if err != nil {
		return err
	}
	none, err := filepath.Abs("testdata/alerts/sysmon-eid3-svchost-to-internal-dc.json")
	if err != nil {
		return err
	}
	withIOCs, err := filepath.Abs("testdata/alerts/sysmon-eid22-malicious-domain-cname-mapped-ipv4.json")
	if err != nil {
		return err
	}
	cachePath := filepath.Join(dir, "cache.db")

	// The mirror first: its syncs are the heaviest part, measured while
	// nothing else runs; the last round's mirror then serves the cases.
	mw, fullSyncs, incrSyncs, err := syncRounds(b, spec)
	if err != nil {
		return err
	}
	defer mw.close()
	hitIPs, err := mw.pickValues("ip-dst", ioc.IP, 2)
	if err != nil {
		return err
	}
	hitDomains, err := mw.pickValues("domain", ioc.Domain, 1)
	if err != nil {
		return err
	}
	missIPs, missDomains, err := mw.missValues(2, 1)
	if err != nil {
		return err
	}
	hitAlert, missAlert := filepath.Join(mw.dir, "hit.alert"), filepath.Join(mw.dir, "miss.alert")
	if err := writeAlert(hitAlert, "hit", append(hitIPs, hitDomains...)); err != nil {
		return err
	}
	if err := writeAlert(missAlert, "miss", append(missIPs, missDomains...)); err != nil {
		return err
	}
	// Every mirror case must do what its name says: the hit raises an
	// event for each of its three indicators, the others none.
	for _, c := range []struct {
		alert string
		want  int64
	}{{hitAlert, 3}, {missAlert, 0}, {none, 0}} {
		got, err := b.eventsOf(c.alert, mw.url, mw.options)
		if err != nil {
			return err
		}
		if got != c.want {
			return fmt.Errorf("%s with the mirror: %d events, want %d", filepath.Base(c.alert), got, c.want)
		}
	}

	// Fill the disk cache for the cached case.
	if err := b.alert(withIOCs); err != nil {
		return err
	}
	names := []string{"floor: static Go binary doing nothing",
		"reference: Go binary that links os and time, doing nothing",
		"reference: custom-misp's package set initialised, doing nothing",
		"alert with no indicators", "alert, all indicators cached", "alert, all indicators miss the cache (MISP on loopback, TLS)",
		"mirror: alert with no indicators", "mirror: alert, all indicators hit", "mirror: alert, all indicators miss"}
	samples := make([][]sample, len(names))
	// Each case runs as a block of consecutive runs, as integratord runs the
	// same program alert after alert (interleaving with another program
	// measures cold CPU caches instead), after a short warm-up. Many short
	// rounds of blocks spread the drift of a shared machine over all cases;
	// each round's ratio to that round's floor shows how much it moved.
	type benchCase struct {
		fresh string // removed before each run
		path  string
		argv  []string
	}
	cases := []benchCase{
		{"", noop, nil},
		{"", osTime, nil},
		{"", packages, nil},
		{"", b.bin, b.argv(none)},
		{"", b.bin, b.argv(withIOCs)},
		{cachePath, b.bin, b.argv(withIOCs)}, // every answer forgotten: the run must ask MISP
		{"", b.bin, argvFor(none, mw.url, mw.options)},
		{"", b.bin, argvFor(hitAlert, mw.url, mw.options)},
		{"", b.bin, argvFor(missAlert, mw.url, mw.options)},
	}
	roundRatios := make([][]float64, len(names))
	mirrorRequests := len(mw.fake.Requests())
	for r := 0; r < rounds; r++ {
		var roundFloor time.Duration
		for i, c := range cases {
			s, err := execN(warmup+runs/rounds, c.fresh, c.path, c.argv...)
			if err != nil {
				return err
			}
			s = s[warmup:]
			samples[i] = append(samples[i], s...)
			if i == 0 {
				roundFloor = median(s)
			}
			roundRatios[i] = append(roundRatios[i], float64(median(s))/float64(roundFloor))
		}
	}
	mirrorRequests = len(mw.fake.Requests()) - mirrorRequests
	floor := median(samples[0])

	requestsBefore := len(b.fake.Requests())
	if err := os.Remove(cachePath); err != nil && !os.IsNotExist(err) {
		return err
	}
	rep, err := b.replay("replay", replayN, distinct, cacheTop, b.url, b.options)
	if err != nil {
		return err
	}
	rep.requests = len(b.fake.Requests()) - requestsBefore

	// The same replay with lookup "mirror": the top of the pool is values
	// the mirror holds, so hits recur; MISP must hear nothing.
	top := append(append([]string{}, hitIPs...), hitDomains...)
	more, err := mw.pickValues("hostname", ioc.Domain, 4)
	if err != nil {
		return err
	}
	top = append(top, more...)
	if more, err = mw.pickValues("ip-src", ioc.IP, 4); err != nil {
		return err
	}
	top = append(top, more...)
	mirrorBefore := len(mw.fake.Requests())
	mrep, err := b.replay("replay-mirror", replayN, distinct, top, mw.url, mw.options)
	if err != nil {
		return err
	}
	mrep.requests = len(mw.fake.Requests()) - mirrorBefore

	var md strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&md, "# Benchmarks\n\nRegenerated by `make bench` (%s, %s). Do not edit by hand.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), host)
	fmt.Fprintf(&md, "- machine: %s, %d cores, %s, %s\n", cpuModel(), runtime.NumCPU(), kernel(), runtime.Version())
	fmt.Fprintf(&md, "- load average when the run started: %s\n", startLoad)
	fmt.Fprintf(&md, "- command: `make bench` (= `go run ./internal/bench -bin bin/custom-misp -out BENCHMARKS.md` plus `go test -bench` of the store, extraction and normalisation); to weigh one change, `go run ./internal/bench -bin OLD -compare NEW` times two builds interleaved; `BENCHFLAGS` (`-mirror-attributes`, `-mirror-events`, `-sync-rounds`, `-changes`) scales the mirror cases, at %d×%d, %d rounds, %d changes here\n", spec.attrs, spec.events, spec.rounds, spec.changes)
	fmt.Fprintf(&md, "- each run is a fresh process started with integratord 4.14's argv (`integrations <alert> <key> <url> \"\" <options> 10 3 \"> /dev/null 2>&1\"`) the way integratord starts it: stdout and stderr on one pipe read to EOF, then wait; timed by a small launcher process; %d runs per case in %d rounds of %d consecutive runs, each after %d warm-up runs; the last column is the spread of the rounds' own ratios (10th to 90th percentile)\n", runs/rounds*rounds, rounds, runs/rounds, warmup)
	fmt.Fprintf(&md, "- peak RSS is the child's ru_maxrss as seen by the launcher; Linux carries a vfork parent's peak into the child, so a figure at the launcher's own size (about 7 MiB) means \"at most that\"\n\n")
	fmt.Fprintf(&md, "| case | median | p90 | ratio to floor | peak RSS | ratio by round |\n|---|---:|---:|---:|---:|---:|\n")
	for i, c := range names {
		m := median(samples[i])
		slices.Sort(roundRatios[i])
		lo, hi := roundRatios[i][len(roundRatios[i])/10], roundRatios[i][len(roundRatios[i])*9/10]
		fmt.Fprintf(&md, "| %s | %s | %s | %.2f× | %.1f MiB | %.2f–%.2f× |\n", c, ms(m), ms(percentile(samples[i], 0.9)), float64(m)/float64(floor), float64(peak(samples[i]))/1024, lo, hi)
	}
	fmt.Fprintf(&md, "\nTargets (issue #4): cached ≤ 2× floor, no indicators ≤ 1.5× floor, peak RSS ≤ 20 MiB. Issue #12: every mirror case ≤ 2× floor.\n\n")
	fmt.Fprintf(&md, "The reference rows are not targets. They show what the floor leaves out: any Go program that uses os and time pays their start-up, and the second row is the start-up of custom-misp's packages (gjson, golang-lru and bbolt among them) before it reads an alert. The difference between that row and the alert rows is custom-misp's own work.\n\n")
	fmt.Fprintf(&md, "The mirror rows run with `\"lookup\": \"mirror\"` against the mirror of the last incremental sync below (%d attributes): the hit alert holds two addresses and a domain taken from the synthetic set, the miss alert two addresses and a domain checked to be outside it (no attribute, no network holding them); each was run once first and raised 3 and 0 events. The fake MISP received %d requests from these %d runs.\n\n", incrSyncs[len(incrSyncs)-1].attributes, mirrorRequests, 3*rounds*(warmup+runs/rounds))
	writeSyncReport(&md, spec, fullSyncs, incrSyncs)
	fmt.Fprintf(&md, "## Replay\n\n%d alerts, one process each, drawing 3 indicators each from %d distinct values with a Zipf skew (s=1.1). With the cache (lookup \"live\", starting from an empty cache; the most frequent values are in the fake's embedded events) and with the mirror above (lookup \"mirror\"; the %d most frequent values are in the synthetic set):\n\n", replayN, distinct, len(top))
	fmt.Fprintf(&md, "| lookup | MISP requests | distinct values seen | events sent | total time | per alert |\n|---|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&md, "| live, cache | %d | %d | %d | %s | %s |\n", rep.requests, rep.distinctSeen, rep.events, rep.total.Round(time.Millisecond), ms(rep.total/time.Duration(replayN)))
	fmt.Fprintf(&md, "| mirror | %d | %d | %d | %s | %s |\n\n", mrep.requests, mrep.distinctSeen, mrep.events, mrep.total.Round(time.Millisecond), ms(mrep.total/time.Duration(replayN)))
	fmt.Fprintf(&md, "Targets: with the cache, at most one MISP request per distinct value per TTL (≤ %d); with the mirror, none (issue #12).\n", distinct)
	if err := os.WriteFile(out, []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	return nil
}

func setup(dir, bin string) (*bench, error) {
	fake, err := mispfake.New(mispfake.Options{Keys: map[string]mispfake.Key{benchKey: {}}})
	if err != nil {
		return nil, err
	}
	srv, caPEM := fake.ServeTLS()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "queue")
	queue, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	queue.SetReadBuffer(8 << 20)
	opts, _ := json.Marshal(map[string]any{
		"ca_file": ca, "socket_path": sock,
		"log_file": filepath.Join(dir, "integrations.log"), "cache_path": filepath.Join(dir, "cache.db"),
	})
	options := filepath.Join(dir, "options")
	if err := os.WriteFile(options, opts, 0o644); err != nil {
		return nil, err
	}
	return &bench{dir: dir, bin: bin, url: srv.URL, options: options, socket: sock, fake: fake, queue: queue}, nil
}

func (b *bench) drain() {
	buf := make([]byte, 1<<16)
	for {
		if _, err := b.queue.Read(buf); err != nil {
			return
		}
		b.received.Add(1)
	}
}

// argv is integratord 4.14's command line for one alert file.
func (b *bench) argv(alert string) []string { return argvFor(alert, b.url, b.options) }

func argvFor(alert, url, options string) []string {
	return []string{"integrations", alert, benchKey, url, "", options, "10", "3", "> /dev/null 2>&1"}
}

// alert runs the binary once, straight from this process (for the replay,
// where only the total time counts).
func (b *bench) alert(path string) error { return b.alertWith(path, b.url, b.options) }

func (b *bench) alertWith(path, url, options string) error {
	cmd := &exec.Cmd{Path: b.bin, Args: argvFor(path, url, options)}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// eventsOf runs one alert and counts the datagrams it sent. A run sends
// before it exits, so they are in the socket's buffer; the drain
// goroutine is given a moment to count them.
func (b *bench) eventsOf(path, url, options string) (int64, error) {
	before := b.received.Load()
	if err := b.alertWith(path, url, options); err != nil {
		return 0, err
	}
	return b.settle() - before, nil
}

// settle waits until the drain goroutine has counted every datagram
// already queued (the count stops moving) and returns the count.
func (b *bench) settle() int64 {
	n := b.received.Load()
	for stable := 0; stable < 5; {
		time.Sleep(20 * time.Millisecond)
		if m := b.received.Load(); m != n {
			n, stable = m, 0
		} else {
			stable++
		}
	}
	return n
}

// writeAlert writes the replay's Suricata alert holding values (at most
// three; see suricataAlert).
func writeAlert(path, id string, values []string) error {
	if len(values) > 3 {
		return fmt.Errorf("alert %s: %d values, at most 3", id, len(values))
	}
	return os.WriteFile(path, suricataAlert(id, values), 0o644)
}

// suricataAlert is a Suricata alert as Wazuh writes it. Each value goes
// into a field extraction reads for its kind: the i-th value, an address,
// into the i-th of dest_ip, src_ip, dest_ip_alt; a name into the i-th of
// the HTTP host, the TLS SNI, the DNS query.
func suricataAlert(id string, values []string) []byte {
	ipFields := []string{"dest_ip", "src_ip", "dest_ip_alt"}
	nameFields := []string{"http", "tls", "dns"}
	data := map[string]any{"event_type": "alert"}
	for j, x := range values {
		if _, err := netip.ParseAddr(x); err == nil {
			data[ipFields[j]] = x
			continue
		}
		switch nameFields[j] {
		case "http":
			data["http"] = map[string]string{"hostname": x}
		case "tls":
			data["tls"] = map[string]string{"sni": x}
		default:
			data["dns"] = map[string]string{"rrname": x}
		}
	}
	alert := map[string]any{
		"timestamp": "2026-11-27T16:47:04.947+0000",
		"rule":      map[string]any{"level": 3, "description": "Suricata: Alert", "id": "86601", "groups": []string{"ids", "suricata"}},
		"agent":     map[string]any{"id": "007", "name": "ids-sensor-01", "ip": "10.20.0.5"},
		"id":        "1795798099." + id,
		"decoder":   map[string]any{"name": "json"},
		"data":      data,
		"location":  "/var/log/suricata/eve.json",
	}
	line, _ := json.Marshal(alert)
	return append(line, '\n')
}

// execN runs a program n times in a row and measures each run's wall time
// and peak RSS.
//
// The runs are started by a small launcher process (this binary in -launch
// mode), not from here: this process holds the fake MISP, and Linux
// carries a vfork parent's peak RSS into the child (signal->maxrss survives
// exec), so measured from here every child would look as big as the fake
// MISP. A peak below the launcher's own size shows as the launcher's. If
// fresh is set, that file is removed before each run (untimed).
func execN(n int, fresh, path string, argv ...string) ([]sample, error) {
	return execEnv(nil, n, fresh, path, argv...)
}

// execEnv is execN with env added to the environment of the launcher and
// so of the runs.
func execEnv(env []string, n int, fresh, path string, argv ...string) ([]sample, error) {
	if len(argv) == 0 {
		argv = []string{path}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"-launch", strconv.Itoa(n), fresh, path}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", filepath.Base(path), err, errOut.String())
	}
	var samples []sample
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var s sample
		var wall, cpu int64
		if _, err := fmt.Sscan(line, &wall, &s.maxRSS, &cpu); err != nil {
			return nil, fmt.Errorf("launcher said %q: %v", line, err)
		}
		s.wall, s.cpu = time.Duration(wall), time.Duration(cpu)
		samples = append(samples, s)
	}
	return samples, nil
}

// launch is the launcher: it runs path with argv (argv[0] included) count
// times, each the way integratord's wpopenv does (stdout and stderr on one
// pipe, read to EOF, then wait), and prints for each run the wall time in
// nanoseconds, the peak RSS in KiB and the CPU time (user and system) in
// nanoseconds.
func launch(count, fresh, path string, argv []string) {
	n, err := strconv.Atoi(count)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; i < n; i++ {
		if fresh != "" {
			if err := os.Remove(fresh); err != nil && !os.IsNotExist(err) {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cmd := &exec.Cmd{Path: path, Args: argv, Stdout: w, Stderr: w}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w.Close()
		out, _ := io.ReadAll(r)
		err = cmd.Wait()
		wall := time.Since(start)
		r.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v: %s", err, out)
			os.Exit(1)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		fmt.Println(wall.Nanoseconds(), ru.Maxrss, cpuTime(ru).Nanoseconds())
	}
}

type replayResult struct {
	requests, distinctSeen int
	events                 int64 // datagrams the runs sent
	total                  time.Duration
}

// cacheTop heads the cache replay's pool: values of the fake's embedded
// events.
var cacheTop = []string{"185.220.101.47", "185.225.74.19", "update-check-cdn.com", "cdn-static-assets.xyz"}

// replay runs n alerts whose indicators follow a Zipf law over a pool of
// distinct values, with the given MISP URL and options file; the pool
// starts with top, values MISP knows, so hits recur and must raise an
// event every time. name is the directory of its alert files.
func (b *bench) replay(name string, n, distinct int, top []string, url, options string) (replayResult, error) {
	pool := append([]string{}, top...)
	for i := len(pool); i < distinct; i++ {
		if i%2 == 0 {
			pool = append(pool, fmt.Sprintf("45.%d.%d.%d", 10+i/60000, (i/250)%250+1, i%250+1))
		} else {
			pool = append(pool, fmt.Sprintf("host-%d.bench-cdn.net", i))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(distinct-1))
	seen := map[string]bool{}
	dir := filepath.Join(b.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return replayResult{}, err
	}
	files := make([]string, n)
	for i := range files {
		var v [3]string
		for j := range v {
			v[j] = pool[zipf.Uint64()]
			seen[v[j]] = true
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("%05d.alert", i))
		if err := os.WriteFile(files[i], suricataAlert(strconv.Itoa(i), v[:]), 0o644); err != nil {
			return replayResult{}, err
		}
	}
	res := replayResult{distinctSeen: len(seen)}
	before := b.settle()
	start := time.Now()
	for _, f := range files {
		if err := b.alertWith(f, url, options); err != nil {
			return res, err
		}
	}
	res.total = time.Since(start)
	res.events = b.settle() - before
	return res, nil
}

func buildNoop(dir string) (string, error) {
	src := filepath.Join(dir, "noop")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module noop\n\ngo 1.26\n"), 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "noop-bin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the no-op floor: %v: %s", err, out)
	}
	return bin, nil
}

// Rounds and warm-up runs per case; runs are split evenly over the rounds.
const rounds, warmup = 20, 2

// buildReference builds one of the reference programs in
// internal/bench/reference with the flags of the floor and of custom-misp.
func buildReference(dir, name string) (string, error) {
	bin := filepath.Join(dir, "reference-"+name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./internal/bench/reference/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building reference %s: %v: %s", name, err, out)
	}
	return bin, nil
}

func cpuTime(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(s []sample) time.Duration { return percentile(s, 0.5) }

func percentile(s []sample, p float64) time.Duration {
	w := make([]time.Duration, len(s))
	for i, x := range s {
		w[i] = x.wall
	}
	slices.Sort(w)
	return w[int(float64(len(w)-1)*p)]
}

func peak(s []sample) int64 {
	var m int64
	for _, x := range s {
		m = max(m, x.maxRSS)
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// compareBuilds times two builds of custom-misp on the no-indicator and
// the cached alert, in alternating short blocks so that the drift of a
// shared machine falls on both alike: the way to tell whether one change
// is worth its code, when a whole `make bench` moves more than the change.
func compareBuilds(binA, binB string, runs int) error {
	dir, err := os.MkdirTemp("", "cmcompare")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := setup(dir, "")
	if err != nil {
		return err
	}
	defer b.queue.Close()
	go b.drain()
	alerts := []string{"testdata/alerts/sysmon-eid3-svchost-to-internal-dc.json", "testdata/alerts/sysmon-eid22-malicious-domain-cname-mapped-ipv4.json"}
	bins := []string{binA, binB}
	for i := range bins {
		if bins[i], err = filepath.Abs(bins[i]); err != nil {
			return err
		}
	}
	for i := range alerts {
		if alerts[i], err = filepath.Abs(alerts[i]); err != nil {
			return err
		}
	}
	b.bin = bins[0]
	if err := b.alert(alerts[1]); err != nil { // fill the cache
		return err
	}
	const block = 8
	samples := make([][]sample, len(bins)*len(alerts))
	for r := 0; r < max(1, runs/block); r++ {
		for ai, al := range alerts {
			for k := range bins {
				bi := (k + r) % len(bins) // alternate which build goes first
				s, err := execN(warmup+block, "", bins[bi], b.argv(al)...)
				if err != nil {
					return err
				}
				samples[ai*len(bins)+bi] = append(samples[ai*len(bins)+bi], s[warmup:]...)
			}
		}
	}
	for ai, al := range alerts {
		a, c := median(samples[ai*len(bins)]), median(samples[ai*len(bins)+1])
		fmt.Printf("%s\n  %s  %s\n  %s  %s  (%+.2f ms)\n", filepath.Base(al), ms(a), bins[0], ms(c), bins[1], float64(c-a)/1e6)
	}
	return nil
}
