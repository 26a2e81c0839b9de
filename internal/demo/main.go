// Command demo is `make demo`: it runs the real custom-misp binary the way
// Wazuh's integratord does, over the sample alerts, against a fake MISP
// loaded with real MISP events, and prints what Wazuh's analysisd would
// receive on its queue socket. It needs nothing but Go.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/mispfake"
)

// demoKey is the fake MISP's key; MISP keys are 40 alphanumerics.
const demoKey = "DemoKeyDemoKeyDemoKeyDemoKeyDemoKey01234"

func main() {
	bin := flag.String("bin", "bin/custom-misp", "the built custom-misp binary")
	alerts := flag.String("alerts", "testdata/alerts", "directory of sample alerts (one alerts.json line each)")
	raw := flag.Bool("raw", false, "print every datagram in full")
	flag.Parse()
	if err := run(os.Stdout, *bin, *alerts, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type world struct {
	dir, bin, options, url string
	fake                   *mispfake.Server
	queue                  *net.UnixConn
}

func run(w io.Writer, bin, alertDir string, raw bool) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	alertDir, err = filepath.Abs(alertDir)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(alertDir, "*.json"))
	if err != nil {
		return err
	}
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "expected.json" })
	if len(files) == 0 {
		return fmt.Errorf("no alerts in %s", alertDir)
	}
	wd, err := setup(bin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(wd.dir)
	defer wd.queue.Close()

	fmt.Fprintf(w, "custom-misp demo\n")
	fmt.Fprintf(w, "  MISP    %s  (fake MISP 2.5.1 over TLS, loaded with real MISP events; its CA is given as ca_file)\n", wd.url)
	fmt.Fprintf(w, "  queue   %s  (unix datagram socket, as analysisd's)\n", filepath.Join(wd.dir, "queue", "sockets", "queue"))
	fmt.Fprintf(w, "  binary  %s, started as integratord 4.14 starts it:\n", bin)
	fmt.Fprintf(w, "          integrations <alert> <api_key> %s \"\" <options> 10 3 \"> /dev/null 2>&1\"\n\n", wd.url)

	var total, matches, failures int
	start := time.Now()
	for i, f := range files {
		code, dur, grams, err := wd.runAlert(f, demoKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "[%2d/%d] %-62s exit %d  %5.1f ms  %d event(s)\n", i+1, len(files), filepath.Base(f), code, float64(dur.Microseconds())/1000, len(grams))
		for _, g := range grams {
			total++
			line, isMatch := describe(g)
			if isMatch {
				matches++
			} else {
				failures++
			}
			fmt.Fprintf(w, "         %s\n", line)
			if raw {
				fmt.Fprintf(w, "         %s\n", g)
			}
		}
	}
	firstPass := len(wd.fake.Requests())
	fmt.Fprintf(w, "\nfirst pass: %d alerts in %s, %d events (%d matches, %d errors), %d MISP requests (at most one per alert; values seen before come from the cache)\n",
		len(files), time.Since(start).Round(time.Millisecond), total, matches, failures, firstPass)

	// A second pass: every answer is now in the on-disk cache.
	start = time.Now()
	var second int
	for _, f := range files {
		_, _, grams, err := wd.runAlert(f, demoKey)
		if err != nil {
			return err
		}
		second += len(grams)
	}
	fmt.Fprintf(w, "second pass: %d alerts in %s, %d events again (hits are reported every time), %d new MISP requests (answers came from the cache)\n",
		len(files), time.Since(start).Round(time.Millisecond), second, len(wd.fake.Requests())-firstPass)

	// A wrong key: MISP's 403 becomes an error event, not silence.
	if err := os.Remove(filepath.Join(wd.dir, "cache.db")); err != nil && !os.IsNotExist(err) {
		return err
	}
	example := files[0]
	for _, f := range files {
		if strings.Contains(f, "sysmon-eid22-malicious") {
			example = f
		}
	}
	_, _, grams, err := wd.runAlert(example, "WrongKeyWrongKeyWrongKeyWrongKey00000000")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nwith a wrong API key (%s):\n", filepath.Base(example))
	for _, g := range grams {
		line, _ := describe(g)
		fmt.Fprintf(w, "         %s\n         %s\n", line, g)
	}
	if err := wd.mirrorPart(w, files); err != nil {
		return err
	}
	if err := wd.severalPart(w, example); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nanalysisd decodes each datagram \"1:<location>:<json>\" with the bundled decoder; the bundled rules turn it into an alert.\n")
	return nil
}

// mirrorPart shows the local mirror: a sync, every alert matched from the
// mirror while MISP answers nothing, and a change in MISP picked up by the
// next sync (an address range added, which then matches an address
// inside it).
func (wd *world) mirrorPart(w io.Writer, files []string) error {
	fmt.Fprintf(w, "\n== the local mirror (lookup \"mirror\") ==\n")
	opts := map[string]any{
		"ca_file": filepath.Join(wd.dir, "misp-ca.pem"), "socket_path": filepath.Join(wd.dir, "queue", "sockets", "queue"),
		"log_file": filepath.Join(wd.dir, "logs", "integrations.log"), "to_ids": false,
		"lookup": "mirror", "mirror_path": filepath.Join(wd.dir, "mirror.db"),
	}
	b, _ := json.Marshal(opts)
	mirrorOpts := filepath.Join(wd.dir, "custom-misp-mirror.options")
	if err := os.WriteFile(mirrorOpts, b, 0o640); err != nil {
		return err
	}
	sync := func() error {
		cmd := exec.Command(wd.bin, "sync", "--options", mirrorOpts, "--url", wd.url, "--wazuh-home", wd.dir)
		cmd.Env = append(os.Environ(), "CUSTOM_MISP_API_KEY="+demoKey)
		out, err := cmd.CombinedOutput()
		first, _, _ := strings.Cut(string(out), "\n")
		fmt.Fprintf(w, "  $ custom-misp sync\n    %s\n", first)
		if err != nil {
			return fmt.Errorf("sync: %v: %s", err, out)
		}
		return nil
	}
	if err := sync(); err != nil {
		return err
	}

	// MISP now fails every request: the mirror answers alone.
	wd.fake.Inject(mispfake.Fault{Status: 503})
	before := len(wd.fake.Requests())
	var events, matches int
	start := time.Now()
	for _, f := range files {
		_, _, grams, err := wd.runAlertWith(f, demoKey, mirrorOpts)
		if err != nil {
			return err
		}
		for _, g := range grams {
			events++
			if _, isMatch := describe(g); isMatch {
				matches++
			}
		}
	}
	fmt.Fprintf(w, "  with MISP answering 503 to everything: %d alerts in %s, %d events (%d matches, each with \"lookup\":\"mirror\"), %d MISP requests\n",
		len(files), time.Since(start).Round(time.Millisecond), events, matches, len(wd.fake.Requests())-before)
	wd.fake.ClearFaults()

	// A change in MISP: a network added to the demo event.
	example := ""
	for _, f := range files {
		if strings.Contains(f, "sshd-accepted-publickey-public-ipv4") {
			example = f
		}
	}
	if example == "" {
		return nil
	}
	if _, err := wd.fake.AddAttribute("3", mispfake.NewAttribute{Type: "ip-src", Value: "86.12.0.0/16", Category: "Network activity", ToIDs: true, Comment: "a scanner range"}); err != nil {
		return err
	}
	fmt.Fprintf(w, "  in MISP: ip-src 86.12.0.0/16 added to event 3\n")
	if err := sync(); err != nil {
		return err
	}
	_, _, grams, err := wd.runAlertWith(example, demoKey, mirrorOpts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  %s (source 86.12.145.33):\n", filepath.Base(example))
	for _, g := range grams {
		line, _ := describe(g)
		fmt.Fprintf(w, "         %s\n", line)
		var m struct {
			MISP event.Payload `json:"misp"`
		}
		if _, js, ok := strings.Cut(g, ":{"); ok && json.Unmarshal([]byte("{"+js), &m) == nil && m.MISP.MatchedRange != "" {
			fmt.Fprintf(w, "         matched_range %s, lookup %s, mirror_age %s s\n", m.MISP.MatchedRange, m.MISP.Lookup, m.MISP.MirrorAge)
		}
	}
	return nil
}

// severalPart shows two MISP servers (option "instances") with sightings:
// every match once per server, named, and each server told what was seen,
// once per attribute, agent and window.
func (wd *world) severalPart(w io.Writer, example string) error {
	fmt.Fprintf(w, "\n== two MISP servers (option \"instances\"), with sightings ==\n")
	const key2 = "SecondDemoKeySecondDemoKeySecondDemoKey2"
	fake2, err := mispfake.New(mispfake.Options{Keys: map[string]mispfake.Key{key2: {}}})
	if err != nil {
		return err
	}
	defer fake2.Close()
	srv2, ca2 := fake2.ServeTLS()
	defer srv2.Close()
	dir := filepath.Join(wd.dir, "several")
	if err := os.Mkdir(dir, 0o750); err != nil {
		return err
	}
	files := map[string][]byte{"misp2-ca.pem": ca2, "misp2.key": []byte(key2 + "\n")}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
			return err
		}
	}
	var opts map[string]any
	b, err := os.ReadFile(wd.options)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &opts); err != nil {
		return err
	}
	opts["cache_path"] = filepath.Join(dir, "cache.db")
	opts["sightings_path"] = filepath.Join(dir, "sightings.db")
	opts["name"] = "corp"
	opts["sightings"] = map[string]any{"enabled": true, "window": "1h"}
	opts["instances"] = []map[string]any{{"name": "community", "url": srv2.URL,
		"api_key_file": filepath.Join(dir, "misp2.key"), "ca_file": filepath.Join(dir, "misp2-ca.pem")}}
	if b, err = json.Marshal(opts); err != nil {
		return err
	}
	options := filepath.Join(dir, "custom-misp.options")
	if err := os.WriteFile(options, b, 0o640); err != nil {
		return err
	}
	fmt.Fprintf(w, "  options: \"name\": \"corp\" (%s), \"instances\": [{\"name\": \"community\", \"url\": %q, ...}], \"sightings\": {\"enabled\": true}\n", wd.url, srv2.URL)
	for pass := 1; pass <= 2; pass++ {
		before1, before2 := len(wd.fake.Sightings()), len(fake2.Sightings())
		_, _, grams, err := wd.runAlertWith(example, demoKey, options)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s, run %d:\n", filepath.Base(example), pass)
		for _, g := range grams {
			line, _ := describe(g)
			fmt.Fprintf(w, "         %s\n", line)
		}
		fmt.Fprintf(w, "         sightings added: corp %d, community %d", len(wd.fake.Sightings())-before1, len(fake2.Sightings())-before2)
		if pass == 2 {
			fmt.Fprintf(w, " (the same attributes on the same agent within the window are not sighted again)")
		}
		fmt.Fprintln(w)
	}
	return nil
}

func setup(bin string) (*world, error) {
	dir, err := os.MkdirTemp("", "cmdemo")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"queue/sockets", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, err
		}
	}
	fake, err := mispfake.New(mispfake.Options{Keys: map[string]mispfake.Key{demoKey: {}}})
	if err != nil {
		return nil, err
	}
	srv, pemBytes := fake.ServeTLS()
	ca := filepath.Join(dir, "misp-ca.pem")
	if err := os.WriteFile(ca, pemBytes, 0o640); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "queue", "sockets", "queue")
	queue, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	opts := map[string]any{
		"ca_file":     ca,
		"socket_path": sock,
		"log_file":    filepath.Join(dir, "logs", "integrations.log"),
		"cache_path":  filepath.Join(dir, "cache.db"),
		"to_ids":      false, // show context attributes too
	}
	b, _ := json.Marshal(opts)
	options := filepath.Join(dir, "custom-misp.options")
	if err := os.WriteFile(options, b, 0o640); err != nil {
		return nil, err
	}
	return &world{dir: dir, bin: bin, options: options, url: srv.URL, fake: fake, queue: queue}, nil
}

// runAlert runs the binary once with integratord 4.14's exact argv and
// returns what arrived on the queue socket.
func (wd *world) runAlert(alertFile, key string) (int, time.Duration, []string, error) {
	return wd.runAlertWith(alertFile, key, wd.options)
}

func (wd *world) runAlertWith(alertFile, key, options string) (int, time.Duration, []string, error) {
	cmd := &exec.Cmd{
		Path: wd.bin,
		Args: []string{"integrations", alertFile, key, wd.url, "", options, "10", "3", "> /dev/null 2>&1"},
		Dir:  wd.dir,
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	dur := time.Since(start)
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return 0, 0, nil, err
		}
		code = ee.ExitCode()
	}
	var grams []string
	buf := make([]byte, 1<<16)
	for {
		wd.queue.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := wd.queue.Read(buf)
		if err != nil {
			break
		}
		grams = append(grams, string(buf[:n]))
	}
	if code != 0 {
		grams = append(grams, "(binary said: "+strings.TrimSpace(out.String())+")")
	}
	return code, dur, grams, nil
}

// describe renders one datagram as a line an analyst reads.
func describe(gram string) (string, bool) {
	i := strings.Index(gram, ":{")
	if !strings.HasPrefix(gram, "1:") || i < 0 {
		return gram, false
	}
	loc := gram[2:i]
	var m event.Message
	if err := json.Unmarshal([]byte(gram[i+1:]), &m); err != nil {
		return "unreadable: " + err.Error(), false
	}
	p := m.MISP
	if p.Error != "" {
		return fmt.Sprintf("ERROR  %-12s %s  [location %s]", p.Error, p.Message, loc), false
	}
	var extra []string
	if p.ToIDs != nil && *p.ToIDs {
		extra = append(extra, "to_ids")
	} else {
		extra = append(extra, "context only")
	}
	if p.TLP != "" {
		extra = append(extra, "tlp:"+p.TLP)
	}
	if len(p.Techniques) > 0 {
		sort.Strings(p.Techniques)
		extra = append(extra, strings.Join(p.Techniques, ","))
	}
	if p.Cached != nil && *p.Cached {
		extra = append(extra, "cached")
	}
	return fmt.Sprintf("MATCH  %-7s %s (from %s) -> %s %q, threat %s, %s  [location %s]",
		p.IndicatorKind, p.Indicator, p.AlertField, p.EventRef, p.EventInfo, p.ThreatLevel, strings.Join(extra, ", "), loc), true
}
