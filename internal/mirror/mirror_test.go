package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func yes() *bool { t := true; return &t }

// fixture: a MISP with three events and a mirror path in a temp dir.
type fixture struct {
	t   testing.TB
	src *memSource
	opt Options
	now time.Time
}

func newFixture(t testing.TB) *fixture {
	src := newMemSource()
	src.addEvent(1, "phishing infra", true, "tlp:amber", `misp-galaxy:mitre-attack-pattern="Phishing - T1566"`)
	src.addAttr(1, "ip-dst", "203.0.113.5", true, "kill-chain:c2")
	src.addAttr(1, "domain", "Evil.Example.COM", true)
	src.addAttr(1, "ip-dst|port", "198.51.100.7|8443", true)
	src.addAttr(1, "filename|sha256", "dropper.exe|"+strings.Repeat("ab", 32), true)
	src.addEvent(2, "scanner ranges", true, "tlp:green")
	src.addAttr(2, "ip-src", "192.0.2.0/24", true)
	src.addAttr(2, "ip-dst", "2001:db8:abcd::/48", true)
	src.addAttr(2, "ip-src", "0.0.0.0/0", true) // too broad: never matched
	src.addAttr(2, "url", "https://evil.example.com/a", false)
	src.addEvent(3, "draft", false)
	src.addAttr(3, "ip-dst", "203.0.113.99", true)
	f := &fixture{t: t, src: src, now: t0}
	f.opt = Options{
		Path: filepath.Join(t.TempDir(), "mirror.db"), Scope: "scope-A", URL: "https://misp.example", Filters: "f",
		Query:            misp.Query{ToIDs: yes(), Published: yes(), EnforceWarninglist: true},
		FullSyncInterval: 24 * time.Hour,
		Now:              func() time.Time { return f.now },
		EventsPerRequest: 2, PageSize: 2, // several requests and pages even here
	}
	return f
}

func (f *fixture) sync() Result {
	f.t.Helper()
	f.now = f.now.Add(5 * time.Minute)
	res, err := Sync(context.Background(), f.src, f.opt)
	if err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	return res
}

// lookup opens the current generation and returns "type value event" of
// each match, sorted.
func (f *fixture) lookup(kind ioc.Kind, value string) []string {
	f.t.Helper()
	m, err := Open(f.opt.Path)
	if err != nil {
		f.t.Fatalf("open: %v", err)
	}
	defer m.Close()
	attrs, err := m.Lookup(ioc.Indicator{Kind: kind, Value: value})
	if err != nil {
		f.t.Fatalf("lookup %s: %v", value, err)
	}
	var out []string
	for _, a := range attrs {
		out = append(out, string(a.Type)+" "+string(a.Value)+" ev"+string(a.Event.ID))
	}
	slices.Sort(out)
	return out
}

func (f *fixture) want(kind ioc.Kind, value string, want ...string) {
	f.t.Helper()
	got := f.lookup(kind, value)
	if !slices.Equal(got, want) {
		f.t.Errorf("lookup %s %s = %q, want %q", kind, value, got, want)
	}
}

func TestLookup_MatchesAsMISPAndCIDRs(t *testing.T) {
	f := newFixture(t)
	res := f.sync()
	if !res.Full || !res.Changed || res.Meta.Events != 3 {
		t.Fatalf("first sync: %+v", res)
	}
	// Unpublished event 3 and the too-broad network are not mirrored.
	if res.Meta.Attributes != 6 || res.Meta.CIDRs != 2 || res.TooBroad != 1 {
		t.Errorf("attributes %d cidrs %d too broad %d, want 6, 2, 1", res.Meta.Attributes, res.Meta.CIDRs, res.TooBroad)
	}
	f.want(ioc.IP, "203.0.113.5", "ip-dst 203.0.113.5 ev1")
	f.want(ioc.Domain, "evil.example.com", "domain Evil.Example.COM ev1") // MISP compares case-insensitively
	f.want(ioc.IP, "198.51.100.7", "ip-dst|port 198.51.100.7|8443 ev1")   // either half of a composite
	f.want(ioc.SHA256, strings.Repeat("ab", 32), "filename|sha256 dropper.exe|"+strings.Repeat("ab", 32)+" ev1")
	f.want(ioc.Domain, "dropper.exe")                                      // a filename is no domain: the kind's types only
	f.want(ioc.IP, "192.0.2.77", "ip-src 192.0.2.0/24 ev2")                // inside a v4 network
	f.want(ioc.IP, "192.0.3.1")                                            // outside
	f.want(ioc.IP, "2001:db8:abcd:12::1", "ip-dst 2001:db8:abcd::/48 ev2") // inside a v6 network
	f.want(ioc.IP, "2001:db8:abce::1")
	f.want(ioc.IP, "8.8.8.8")                     // 0.0.0.0/0 is left out
	f.want(ioc.URL, "https://evil.example.com/a") // to_ids off: filtered by MISP
	f.want(ioc.IP, "203.0.113.99")                // unpublished

	// The match carries its event and tags as live answers do.
	m, _ := Open(f.opt.Path)
	defer m.Close()
	attrs, _ := m.Lookup(ioc.Indicator{Kind: ioc.IP, Value: "203.0.113.5"})
	if len(attrs) != 1 || attrs[0].Event.Info != "phishing infra" || attrs[0].Event.Orgc.Name != "ORG" || len(attrs[0].Event.Tags) != 2 || len(attrs[0].Tags) != 1 {
		t.Errorf("match context: %+v", attrs)
	}
}

func TestSync_ChangesArrive(t *testing.T) {
	f := newFixture(t)
	f.sync()
	src := f.src

	// No change: no new generation.
	if res := f.sync(); res.Changed || res.Full || res.Generation != 1 {
		t.Fatalf("idle sync: %+v", res)
	}

	// New attribute.
	src.addAttr(1, "ip-dst", "203.0.113.6", true)
	if res := f.sync(); !res.Changed || res.Full || res.Events != 1 || res.Generation != 2 {
		t.Fatalf("incremental sync: %+v", res)
	}
	f.want(ioc.IP, "203.0.113.6", "ip-dst 203.0.113.6 ev1")

	// Edited value.
	a := src.events[1].attrs[0]
	a.a.Value = "203.0.113.50"
	src.touch(1)
	f.sync()
	f.want(ioc.IP, "203.0.113.5")
	f.want(ioc.IP, "203.0.113.50", "ip-dst 203.0.113.50 ev1")

	// Soft delete, hard delete, to_ids off.
	src.events[1].attrs[1].deleted = true
	src.events[2].attrs = slices.Delete(src.events[2].attrs, 0, 1) // 192.0.2.0/24
	src.events[1].attrs[2].a.ToIDs = false
	src.touch(1)
	src.touch(2)
	f.sync()
	f.want(ioc.Domain, "evil.example.com")
	f.want(ioc.IP, "192.0.2.77")
	f.want(ioc.IP, "198.51.100.7")

	// Re-tagged event: the new TLP shows in the match.
	src.events[1].ev.Tags = []misp.Tag{{Name: "tlp:red"}}
	src.touch(1)
	f.sync()
	m, _ := Open(f.opt.Path)
	attrs, _ := m.Lookup(ioc.Indicator{Kind: ioc.IP, Value: "203.0.113.50"})
	m.Close()
	if len(attrs) != 1 || len(attrs[0].Event.Tags) != 1 || attrs[0].Event.Tags[0].Name != "tlp:red" {
		t.Errorf("re-tagged event: %+v", attrs)
	}

	// Unpublished event, deleted event.
	src.events[1].ev.Published = false
	src.touch(1)
	delete(src.events, 2)
	res := f.sync()
	if res.Deleted != 1 {
		t.Errorf("deleted events %d, want 1", res.Deleted)
	}
	f.want(ioc.IP, "203.0.113.50")
	f.want(ioc.IP, "2001:db8:abcd::1")

	// Published again: back.
	src.events[1].ev.Published = true
	src.touch(1)
	f.sync()
	f.want(ioc.IP, "203.0.113.50", "ip-dst 203.0.113.50 ev1")
	f.want(ioc.SHA256, strings.Repeat("ab", 32), "filename|sha256 dropper.exe|"+strings.Repeat("ab", 32)+" ev1")

	// A warninglist enabled that covers a mirrored value: nothing in the
	// attributes changes, the fingerprint does, and the sync is full.
	src.onWarnlist["203.0.113.50"] = true
	src.warninglists = "1:changed"
	if res := f.sync(); !res.Full || !strings.Contains(res.Why, "warninglists") {
		t.Errorf("after a warninglist change: %+v", res)
	}
	f.want(ioc.IP, "203.0.113.50")
	// A warninglisted row in a full page does not end the paging.
	f.want(ioc.IP, "203.0.113.6", "ip-dst 203.0.113.6 ev1")

	m, _ = Open(f.opt.Path)
	defer m.Close()
	if err := m.Verify(); err != nil {
		t.Errorf("verify after incremental syncs: %v", err)
	}
}

func TestSync_FullWhenDue(t *testing.T) {
	f := newFixture(t)
	f.sync()
	f.opt.Scope = "scope-B"
	if res := f.sync(); !res.Full || !strings.Contains(res.Why, "filters") {
		t.Errorf("other scope: %+v", res)
	}
	f.now = f.now.Add(24 * time.Hour)
	if res := f.sync(); !res.Full || !strings.Contains(res.Why, "periodic") {
		t.Errorf("a day later: %+v", res)
	}
	f.opt.Full = true
	if res := f.sync(); !res.Full {
		t.Errorf("--full: %+v", res)
	}
}

// Incremental syncs write the mirror compact: after several, the file is
// the size a full sync of the same data writes (give or take the meta's
// digits), however often the same events were read again.
func TestSync_IncrementalStaysCompact(t *testing.T) {
	f := newFixture(t)
	f.sync()
	for i := range 6 {
		f.src.touch(1)
		f.src.addAttr(2, "domain", fmt.Sprintf("host%d.evil-cdn.xyz", i), true)
		if res := f.sync(); res.Full {
			t.Fatalf("sync %d was full: %s", i, res.Why)
		}
	}
	f.want(ioc.Domain, "host3.evil-cdn.xyz", "domain host3.evil-cdn.xyz ev2")
	f.want(ioc.IP, "203.0.113.5", "ip-dst 203.0.113.5 ev1")
	size := func() int64 {
		fi, err := os.Stat(f.opt.Path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	incremental := size()
	f.opt.Full = true
	f.sync()
	if full := size(); incremental-full > 64 || full-incremental > 64 {
		t.Errorf("after 6 incremental syncs %d bytes, a full sync of the same data %d", incremental, full)
	}
}

// A sync that fails at any request leaves the previous generation as it
// was, its temporary file gone; the next sync completes.
func TestSync_FailureKeepsOldMirror(t *testing.T) {
	for _, call := range []string{"warninglists", "index", "attributes", "metadata"} {
		t.Run(call, func(t *testing.T) {
			f := newFixture(t)
			f.sync()
			before, _ := os.ReadFile(f.opt.Path)
			f.src.addAttr(1, "ip-dst", "203.0.113.7", true)
			f.src.fail = func(name string, n int) error {
				if name == call {
					return errInjected
				}
				return nil
			}
			f.now = f.now.Add(time.Minute)
			_, err := Sync(context.Background(), f.src, f.opt)
			if !errors.Is(err, errInjected) {
				t.Fatalf("sync: %v, want the injected error", err)
			}
			after, _ := os.ReadFile(f.opt.Path)
			if string(before) != string(after) {
				t.Error("the mirror changed after a failed sync")
			}
			st, err := ReadState(f.opt.Path)
			if err != nil || st.OK || !strings.Contains(st.Error, "injected") {
				t.Errorf("state after failure: %+v, %v", st, err)
			}
			if temps, _ := filepath.Glob(tempPrefix(f.opt.Path) + "*"); len(temps) != 0 {
				t.Errorf("temporary files left: %v", temps)
			}
			f.src.fail = nil
			f.sync()
			f.want(ioc.IP, "203.0.113.7", "ip-dst 203.0.113.7 ev1")
		})
	}
}

// What a killed sync leaves (its temporary file) is removed by the next.
func TestSync_RemovesKilledSyncsFile(t *testing.T) {
	f := newFixture(t)
	f.sync()
	left := tempPrefix(f.opt.Path) + "99999"
	if err := os.WriteFile(left, []byte("half a mirror"), 0o640); err != nil {
		t.Fatal(err)
	}
	f.sync()
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("killed sync's file still there: %v", err)
	}
}

func TestSync_OneAtATime(t *testing.T) {
	f := newFixture(t)
	unlock, err := lock(f.opt.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Sync(context.Background(), f.src, f.opt); !errors.Is(err, ErrBusy) {
		t.Fatalf("sync beside a held lock: %v, want ErrBusy", err)
	}
}

// Readers running while syncs replace the file always see one whole
// generation: the attribute count of the generation they opened and its
// own lookups agree.
func TestSync_ReadersSeeWholeGenerations(t *testing.T) {
	f := newFixture(t)
	f.sync()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				m, err := Open(f.opt.Path)
				if err != nil {
					mu.Lock()
					problems = append(problems, err.Error())
					mu.Unlock()
					return
				}
				gen := m.Meta().Generation
				attrs, err := m.Lookup(ioc.Indicator{Kind: ioc.IP, Value: "203.0.113.200"})
				// Generation g holds 203.0.113.200 from generation 2 on.
				if err != nil || (gen >= 2) != (len(attrs) == 1) {
					mu.Lock()
					if len(problems) < 5 {
						problems = append(problems, fmt.Sprintf("generation %d: %d matches, error %v", gen, len(attrs), err))
					}
					mu.Unlock()
				}
				m.Close()
			}
		}()
	}
	f.src.addAttr(1, "ip-dst", "203.0.113.200", true)
	for i := range 20 {
		if i > 0 {
			f.src.addAttr(1, "domain", "x"+strings.Repeat("y", i)+".example.net", true)
		}
		f.sync()
	}
	close(done)
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("readers saw: %q", problems)
	}
}

// Every byte of a mirror file flipped, and every truncation, gives an
// error or a lookup, never a panic.
func TestOpen_DamagedFilesNeverPanic(t *testing.T) {
	f := newFixture(t)
	f.sync()
	good, err := os.ReadFile(f.opt.Path)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "damaged.db")
	try := func(b []byte) { readAll(t, path, b) }
	for i := range good {
		b := slices.Clone(good)
		b[i] ^= 0xff
		try(b)
	}
	for n := 0; n < len(good); n += 7 {
		try(good[:n])
	}
}

func TestOpen_RefusesLinksAndOddFiles(t *testing.T) {
	f := newFixture(t)
	f.sync()
	dir := t.TempDir()
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(f.opt.Path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlink: %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("a directory opened as a mirror")
	}
	if _, err := Open(filepath.Join(dir, "none.db")); !errors.Is(err, ErrNoMirror) {
		t.Errorf("missing: %v, want ErrNoMirror", err)
	}
}

func TestForRun_FreshStaleScope(t *testing.T) {
	f := newFixture(t)
	f.sync() // at t0+5m
	synced := f.now
	check := func(now time.Time, scope string, want Status, wantAge time.Duration) {
		t.Helper()
		v := ForRun(f.opt.Path, scope, now, 30*time.Minute)
		if v.Mirror != nil {
			defer v.Mirror.Close()
		}
		if v.Status != want || (v.Mirror != nil && v.Age != wantAge) {
			t.Errorf("at +%s scope %s: %s age %s, want %s age %s", now.Sub(synced), scope, v.Status, v.Age, want, wantAge)
		}
	}
	check(synced.Add(10*time.Minute), "scope-A", Fresh, 10*time.Minute)
	check(synced.Add(31*time.Minute), "scope-A", Stale, 31*time.Minute)
	check(synced.Add(time.Minute), "scope-B", OtherScope, 0)
	// A sync that found nothing new makes the same generation fresh again.
	f.now = synced.Add(40 * time.Minute)
	if _, err := Sync(context.Background(), f.src, f.opt); err != nil {
		t.Fatal(err)
	}
	check(synced.Add(45*time.Minute), "scope-A", Fresh, 5*time.Minute)
	// A failed sync does not.
	f.src.fail = func(string, int) error { return errInjected }
	f.now = synced.Add(80 * time.Minute)
	_, _ = Sync(context.Background(), f.src, f.opt)
	check(synced.Add(80*time.Minute), "scope-A", Stale, 40*time.Minute)
	if v := ForRun(filepath.Join(t.TempDir(), "none.db"), "scope-A", synced, time.Hour); v.Status != Missing {
		t.Errorf("no mirror: %s", v.Status)
	}
}

type fullDisk struct {
	w    io.Writer
	left int
}

func (d *fullDisk) Write(b []byte) (int, error) {
	if len(b) > d.left {
		return 0, &os.PathError{Op: "write", Path: "mirror", Err: syscall.ENOSPC}
	}
	d.left -= len(b)
	return d.w.Write(b)
}

// A full disk fails the sync with a clear error; the old mirror serves on.
func TestSync_DiskFull(t *testing.T) {
	f := newFixture(t)
	f.sync()
	f.src.addAttr(1, "ip-dst", "203.0.113.8", true)
	testWrap = func(w io.Writer) io.Writer { return &fullDisk{w: w, left: 64} }
	defer func() { testWrap = func(w io.Writer) io.Writer { return w } }()
	f.now = f.now.Add(time.Minute)
	_, err := Sync(context.Background(), f.src, f.opt)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "previous mirror keeps serving") {
		t.Fatalf("sync on a full disk: %v", err)
	}
	f.want(ioc.IP, "203.0.113.5", "ip-dst 203.0.113.5 ev1")
	f.want(ioc.IP, "203.0.113.8")
	if temps, _ := filepath.Glob(tempPrefix(f.opt.Path) + "*"); len(temps) != 0 {
		t.Errorf("temporary files left: %v", temps)
	}
}

// A change in the same second as the sync's read leaves the event's
// timestamp as the sync read it: the next sync reads the event again all
// the same, because it changed within recheckOverlap of the read. One
// sync later, with nothing new, it is left alone.
func TestSync_SameSecondChangeIsNotLost(t *testing.T) {
	f := newFixture(t)
	f.sync()
	f.src.dateLag = 0 // the sync reads in the second of the last change
	a := f.src.addAttr(1, "ip-dst", "203.0.113.70", true)
	f.sync()
	f.want(ioc.IP, "203.0.113.70", "ip-dst 203.0.113.70 ev1")
	// The same second: MISP's clock has not moved, nor the timestamp.
	a.a.Value = "203.0.113.71"
	if res := f.sync(); !res.Changed || res.Events == 0 {
		t.Fatalf("sync after a same-second change: %+v", res)
	}
	f.want(ioc.IP, "203.0.113.71", "ip-dst 203.0.113.71 ev1")
	f.src.clock += 3600 // an hour later, nothing new
	f.sync()
	if res := f.sync(); res.Changed || res.Events != 0 {
		t.Errorf("idle sync an hour later read %d events", res.Events)
	}
}

// With to_ids not required, context attributes come back without
// warninglist marks (MISP marks to_ids ones only): the sync asks
// checkValue for them, and leaves out those on a list, as MISP's
// enforceWarninglist does.
func TestSync_ContextAttributesOnWarninglists(t *testing.T) {
	f := newFixture(t)
	f.opt.Query.ToIDs = nil
	f.src.addAttr(2, "ip-dst", "8.8.8.8", false)
	f.src.addAttr(2, "domain|ip", "dns.google|8.8.4.4", false)
	f.src.addAttr(2, "ip-dst", "9.9.9.9", true) // marked by MISP itself
	f.src.onWarnlist["8.8.8.8"] = true
	f.src.onWarnlist["8.8.4.4"] = true
	f.src.onWarnlist["9.9.9.9"] = true
	res := f.sync()
	if res.Filtered != 3 {
		t.Errorf("filtered %d, want 3", res.Filtered)
	}
	f.want(ioc.IP, "8.8.8.8")
	f.want(ioc.IP, "8.8.4.4") // one half of a composite on a list drops it
	f.want(ioc.IP, "9.9.9.9")
	f.want(ioc.URL, "https://evil.example.com/a", "url https://evil.example.com/a ev2") // context, not on a list: kept
}

// A link planted where the lock or the state file goes is never followed.
func TestSync_PlantedLinks(t *testing.T) {
	f := newFixture(t)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, f.opt.Path+".lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := Sync(context.Background(), f.src, f.opt); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("sync with a planted lock link: %v", err)
	}
	os.Remove(f.opt.Path + ".lock")
	if err := os.Symlink(victim, f.opt.Path+".state"); err != nil {
		t.Fatal(err)
	}
	f.sync()
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the state write went through the link: victim holds %q", b)
	}
	if _, err := ReadState(f.opt.Path); err != nil {
		t.Errorf("state after replacing the link: %v", err)
	}
}

// Each visits every live attribute once, with its event, after an
// incremental sync that replaced an event's records.
func TestEach_LiveRecordsOnce(t *testing.T) {
	f := newFixture(t)
	f.sync()
	a := f.src.events[1].attrs[0]
	a.a.Value = "203.0.113.50" // event 1 re-read: its old records are not copied
	f.src.touch(1)
	if res := f.sync(); res.Full {
		t.Fatalf("want an incremental sync: %+v", res)
	}
	m, err := Open(f.opt.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var got []string
	err = m.Each(func(a misp.Attribute, e misp.Event) error {
		got = append(got, string(a.Type)+" "+string(a.Value)+" ev"+string(e.ID)+" "+string(e.Info))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{
		"domain Evil.Example.COM ev1 phishing infra",
		"filename|sha256 dropper.exe|" + strings.Repeat("ab", 32) + " ev1 phishing infra",
		"ip-dst 2001:db8:abcd::/48 ev2 scanner ranges",
		"ip-dst 203.0.113.50 ev1 phishing infra",
		"ip-dst|port 198.51.100.7|8443 ev1 phishing infra",
		"ip-src 192.0.2.0/24 ev2 scanner ranges",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Each:\n got %q\nwant %q", got, want)
	}
	stop := errors.New("stop")
	if err := m.Each(func(misp.Attribute, misp.Event) error { return stop }); err != stop {
		t.Errorf("Each returns fn's error: %v", err)
	}
}

// parseMeta reads back every field the writer encodes: a field added to
// Meta but not to parseMeta fails here.
func TestParseMeta_EveryField(t *testing.T) {
	var m Meta
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 7))
		case reflect.Uint64:
			f.SetUint(uint64(i + 7))
		case reflect.String:
			f.SetString(fmt.Sprintf("s%d", i))
		case reflect.Slice:
			f.Set(reflect.ValueOf([]int{i, i + 1}))
		default:
			t.Fatalf("Meta.%s: kind %s not covered by this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := parseMeta(b)
	if !ok || !reflect.DeepEqual(got, m) {
		t.Errorf("parseMeta(%s) = %+v, want %+v", b, got, m)
	}
}

// FuzzOpenLookup: whatever bytes stand at the mirror's path, opening and
// looking up gives an answer or an error, never a panic.
func FuzzOpenLookup(f *testing.F) {
	fx := newFixture(f)
	fx.opt.Now = func() time.Time { return t0 }
	if _, err := Sync(context.Background(), fx.src, fx.opt); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(fx.opt.Path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) { readAll(t, filepath.Join(dir, "m.db"), b) })
}

// readAll writes b at path and does with it all a reader does: open,
// look up (an address inside a network, v4 and v6, and a name), walk every
// attribute, verify. Any of them may fail; none may panic.
func readAll(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		return
	}
	defer m.Close()
	for _, ind := range []ioc.Indicator{{Kind: ioc.IP, Value: "203.0.113.5"}, {Kind: ioc.IP, Value: "192.0.2.9"},
		{Kind: ioc.IP, Value: "2001:db8:abcd::1"}, {Kind: ioc.Domain, Value: "evil.example.com"}} {
		_, _ = m.Lookup(ind)
	}
	_ = m.Each(func(misp.Attribute, misp.Event) error { return nil })
	_ = m.Verify()
}
