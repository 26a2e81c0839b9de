package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/mispfake"
)

// mirrorSpec sizes the mirror benchmark (issue #12): the synthetic set the
// fake serves, how many times the full and incremental syncs are measured,
// and how many changes each incremental sync picks up.
type mirrorSpec struct {
	attrs, events, rounds, changes int
}

// changeSeed is the seed of RandomChanges: every round makes the same
// changes to the same data, so the rounds measure the same work.
const changeSeed = 1

// mirrorWorld is the fake MISP serving the synthetic set, and the mirror
// `custom-misp sync` built from it, as the mirror cases' runs use it.
type mirrorWorld struct {
	dir, mirrorPath, options, url string
	fake                          *mispfake.Server
	srv                           *httptest.Server
}

// syncSample is one measured sync process.
type syncSample struct {
	sample
	fakeCPU    time.Duration // CPU this process (the fake MISP) spent during the sync
	requests   int           // requests the fake received during the sync
	diskBytes  int64         // the mirror's files after the sync
	attributes int           // attributes in the mirror
	events     int           // events the sync read from MISP
	attrsRead  int           // attributes the sync read from MISP
	changes    int           // changes made in the fake before this sync
}

// newMirrorWorld starts a fake MISP with the synthetic set alone on TLS
// loopback, in this process (its memory is not the sync's), and writes
// the options file of the sync and of the mirror cases' runs.
func newMirrorWorld(b *bench, spec mirrorSpec) (*mirrorWorld, error) {
	fake, err := mispfake.New(mispfake.Options{
		Keys:      map[string]mispfake.Key{benchKey: {}},
		Events:    fstest.MapFS{},
		Synthetic: mispfake.Synthetic{Attributes: spec.attrs, Events: spec.events, Seed: 1},
	})
	if err != nil {
		return nil, err
	}
	srv, caPEM := fake.ServeTLS()
	w := &mirrorWorld{dir: filepath.Join(b.dir, "mirror"), fake: fake, srv: srv, url: srv.URL}
	w.mirrorPath = filepath.Join(w.dir, "db", "mirror.db")
	if err := os.MkdirAll(filepath.Dir(w.mirrorPath), 0o755); err != nil {
		return nil, err
	}
	ca := filepath.Join(w.dir, "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		return nil, err
	}
	opts, _ := json.Marshal(map[string]any{
		"ca_file": ca, "socket_path": b.socket, "lookup": "mirror", "mirror_path": w.mirrorPath,
		"log_file": filepath.Join(w.dir, "integrations.log"), "cache_path": filepath.Join(w.dir, "cache.db"),
	})
	w.options = filepath.Join(w.dir, "options")
	return w, os.WriteFile(w.options, opts, 0o644)
}

func (w *mirrorWorld) close() {
	w.fake.Close()
	w.srv.Close()
}

// syncArgv is `custom-misp sync` as an operator or the command wodle runs
// it; the key comes from $CUSTOM_MISP_API_KEY (set by the launcher's
// environment, see syncN), never from the command line.
func (w *mirrorWorld) syncArgv(bin string) []string {
	return []string{bin, "sync", "--options", w.options, "--url", w.url, "--wazuh-home", w.dir}
}

// sync runs one sync process through the launcher and reads what it did
// from the fake's request log and the mirror's state file.
func (w *mirrorWorld) sync(bin string, wantFull bool) (syncSample, error) {
	before := len(w.fake.Requests())
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	s, err := execEnv([]string{config.KeyEnv + "=" + benchKey}, 1, "", bin, w.syncArgv(bin)...)
	if err != nil {
		return syncSample{}, fmt.Errorf("sync: %w", err)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	st, err := mirror.ReadState(w.mirrorPath)
	if err != nil {
		return syncSample{}, fmt.Errorf("sync state: %w", err)
	}
	if !st.OK || st.Result.Full != wantFull {
		return syncSample{}, fmt.Errorf("sync: ok %v, full %v (%s), want full %v: %s", st.OK, st.Result.Full, st.Result.Why, wantFull, st.Error)
	}
	size, err := dirSize(filepath.Dir(w.mirrorPath))
	if err != nil {
		return syncSample{}, err
	}
	return syncSample{sample: s[0], fakeCPU: cpuTime(&ru1) - cpuTime(&ru0), requests: len(w.fake.Requests()) - before, diskBytes: size,
		attributes: st.Result.Meta.Attributes, events: st.Result.Events, attrsRead: st.Result.Attributes}, nil
}

// dirSize is the bytes the files in dir take on disk (allocated blocks,
// as du counts them).
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// syncRounds measures the full sync of the synthetic set and then the
// incremental sync of spec.changes random changes, spec.rounds times.
// Each round starts a fresh fake (the same seed gives the same data, and
// the same changes) and an empty mirror, so every round does the same
// work and no round sees another's changes as recent. The last round's
// fake and mirror stay for the whole-process cases and the replay.
func syncRounds(b *bench, spec mirrorSpec) (*mirrorWorld, []syncSample, []syncSample, error) {
	var full, incr []syncSample
	var w *mirrorWorld
	for r := 0; r < spec.rounds; r++ {
		if w != nil {
			w.close()
			w = nil
			runtime.GC() // the previous round's fake, before this one's is made
		}
		var err error
		if w, err = newMirrorWorld(b, spec); err != nil {
			return nil, nil, nil, err
		}
		if err := os.RemoveAll(filepath.Dir(w.mirrorPath)); err != nil {
			return nil, nil, nil, err
		}
		if err := os.MkdirAll(filepath.Dir(w.mirrorPath), 0o755); err != nil {
			return nil, nil, nil, err
		}
		runtime.GC() // the generation's garbage, not during the sync
		s, err := w.sync(b.bin, true)
		if err != nil {
			w.close()
			return nil, nil, nil, err
		}
		full = append(full, s)
		if _, err := w.fake.RandomChanges(spec.changes, changeSeed); err != nil {
			w.close()
			return nil, nil, nil, err
		}
		s, err = w.sync(b.bin, false)
		if err != nil {
			w.close()
			return nil, nil, nil, err
		}
		s.changes = spec.changes
		incr = append(incr, s)
		fmt.Fprintf(os.Stderr, "bench: sync round %d: full %s (%d requests, %.1f MiB RSS), incremental %s (%d events read)\n",
			r+1, s0(full[r]), full[r].requests, float64(full[r].maxRSS)/1024, s0(s), s.events)
	}
	return w, full, incr, nil
}

func s0(s syncSample) string { return s.wall.Round(time.Millisecond).String() }

// pickValues returns n values of the MISP type typ that a run matches in
// the mirror: asked of the fake with the integration's default filters
// (to_ids), then each checked against the mirror itself, the way a run
// looks it up; spread over the first page of 1,000 rows.
func (w *mirrorWorld) pickValues(typ string, kind ioc.Kind, n int) ([]string, error) {
	m, err := mirror.Open(w.mirrorPath)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var out []string
	for page := 1; len(out) < n && page <= 100; page++ {
		body, _ := json.Marshal(map[string]any{"returnFormat": "json", "type": typ, "to_ids": 1, "limit": 1000, "page": page})
		req := httptest.NewRequest(http.MethodPost, "/attributes/restSearch", strings.NewReader(string(body)))
		req.Header.Set("Authorization", benchKey)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		w.fake.ServeHTTP(rec, req)
		var res struct {
			Response struct {
				Attribute []struct {
					Value string `json:"value"`
				}
			} `json:"response"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			return nil, fmt.Errorf("picking %s values from the fake: %v", typ, err)
		}
		if len(res.Response.Attribute) == 0 {
			break
		}
		rows := res.Response.Attribute
		for i := 0; i < len(rows) && len(out) < n; i += max(1, len(rows)/n) {
			a := rows[i]
			if strings.Contains(a.Value, "/") {
				continue // a network: the alert needs an address
			}
			v, ok := ioc.Normalize(kind, a.Value)
			if !ok {
				continue
			}
			if hits, err := m.Lookup(ioc.Indicator{Kind: kind, Value: v}); err == nil && len(hits) > 0 {
				out = append(out, v)
			}
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("found %d of %d %s values in the mirror", len(out), n, typ)
	}
	return out, nil
}

// missValues returns nIPs global addresses and nDomains domains that the
// mirror does not hold: the synthetic set's wide networks cover much of
// the address space, so each candidate is checked.
func (w *mirrorWorld) missValues(nIPs, nDomains int) (ips, domains []string, err error) {
	m, err := mirror.Open(w.mirrorPath)
	if err != nil {
		return nil, nil, err
	}
	defer m.Close()
	for i := 0; len(ips) < nIPs && i < 100000; i++ {
		a := netip.AddrFrom4([4]byte{45, byte(10 + i/62500), byte(i / 250 % 250), byte(1 + i%250)}).String()
		if hits, err := m.Lookup(ioc.Indicator{Kind: ioc.IP, Value: a}); err != nil {
			return nil, nil, err
		} else if len(hits) == 0 {
			ips = append(ips, a)
		}
	}
	for i := 0; len(domains) < nDomains && i < 100000; i++ {
		d := fmt.Sprintf("miss-%d.bench-cdn.net", i)
		if hits, err := m.Lookup(ioc.Indicator{Kind: ioc.Domain, Value: d}); err != nil {
			return nil, nil, err
		} else if len(hits) == 0 {
			domains = append(domains, d)
		}
	}
	if len(ips) < nIPs || len(domains) < nDomains {
		return nil, nil, fmt.Errorf("found only %d addresses and %d domains the mirror misses", len(ips), len(domains))
	}
	return ips, domains, nil
}

// writeSyncReport writes the sync section of BENCHMARKS.md.
func writeSyncReport(md *strings.Builder, spec mirrorSpec, full, incr []syncSample) {
	last := full[len(full)-1]
	fmt.Fprintf(md, "## The local mirror: sync\n\n")
	fmt.Fprintf(md, "The fake MISP serves a synthetic set of %d attributes over %d events (`mispfake.Synthetic`, seed 1; %d of them in the mirror: to_ids, not deleted, not on a warninglist) over TLS on loopback, from the benchmark's process, so its memory is not the sync's. `custom-misp sync` runs as a fresh process as an operator or the command wodle runs it (`custom-misp sync --options FILE --url URL`, the key in $CUSTOM_MISP_API_KEY, the options file naming ca_file and mirror_path), timed by the launcher. %d rounds, each with a fresh fake (the same data) and an empty mirror: a full sync, then `RandomChanges(%d, %d)` in the fake (adds, edits, to_ids flips, soft and hard deletes), then the incremental sync that picks them up. CPU is user and system time, medians: the sync process's (from the launcher) and the benchmark process's while the sync ran (the fake MISP serving it; the machine has %d cores). Requests are those the fake received; events and attributes read are the sync's own count (its state file); the mirror's size is the disk its directory takes (allocated blocks).\n\n",
		spec.attrs, spec.events, last.attributes, spec.rounds, spec.changes, changeSeed, runtime.NumCPU())
	fmt.Fprintf(md, "| sync | median | slowest | CPU of the sync | CPU of the fake | peak RSS | requests | events read | attributes read | mirror on disk | goals (issue #12) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	row := func(name string, s []syncSample, goal string) {
		walls, cpus, fakes := make([]sample, len(s)), make([]sample, len(s)), make([]sample, len(s))
		var rss, size int64
		for i, x := range s {
			walls[i], cpus[i].wall, fakes[i].wall = x.sample, x.cpu, x.fakeCPU
			rss, size = max(rss, x.maxRSS), max(size, x.diskBytes)
		}
		fmt.Fprintf(md, "| %s | %s | %s | %s | %s | %.1f MiB | %d | %d | %d | %.1f MB | %s |\n", name, secs(median(walls)), secs(percentile(walls, 1)),
			secs(median(cpus)), secs(median(fakes)), float64(rss)/1024, s[len(s)-1].requests, s[len(s)-1].events, s[len(s)-1].attrsRead, float64(size)/1e6, goal)
	}
	row("full", full, "≤ 60 s, ≤ 256 MiB, ≤ 200 MB")
	row(fmt.Sprintf("incremental, %d changes", spec.changes), incr, "≤ 2 s")
	fmt.Fprintf(md, "\nEach round's wall time, full / incremental:")
	for i := range full {
		fmt.Fprintf(md, " %s / %s;", secs(full[i].wall), secs(incr[i].wall))
	}
	fmt.Fprintf(md, " peak RSS and size are the largest of the rounds, requests and reads the last round's (every round does the same work).\n\n")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
