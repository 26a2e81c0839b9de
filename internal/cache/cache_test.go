package cache

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// holdEnv makes the test binary a helper that holds a store open (see
// TestOpen_HeldByAnotherProcess).
const holdEnv = "CUSTOM_MISP_CACHE_TEST_HOLD"

func TestMain(m *testing.M) {
	if mode, path, ok := strings.Cut(os.Getenv(holdEnv), ":"); ok {
		os.Exit(holdStore(path, mode == "ro"))
	}
	os.Exit(m.Run())
}

// holdStore opens path for writing (exclusive lock) or reading (shared
// lock), says "ready", and keeps the lock until stdin closes.
func holdStore(path string, readOnly bool) int {
	db, err := bolt.Open(path, 0o660, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: readOnly})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = db.Close()
	return 0
}

// clock is an injectable Now.
type clock struct{ t time.Time }

func (k *clock) Now() time.Time          { return k.t }
func (k *clock) Advance(d time.Duration) { k.t = k.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)} }
func testOptions(t *testing.T, k *clock) Options {
	t.Helper()
	return Options{
		Path:  filepath.Join(t.TempDir(), "state", "cache.db"),
		Scope: Scope("https://misp.example", "test-key", "to_ids=1"),
		Now:   k.Now,
	}
}

// run is one process lifetime: open (which must not warn), f, close.
func run(t *testing.T, o Options, f func(c *Cache)) {
	t.Helper()
	c, warn := Open(o)
	if warn != nil {
		t.Fatalf("Open: unexpected warning: %v", warn)
	}
	f(c)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// realAttributes returns the attributes of a real MISP 2.5.1 restSearch
// answer (includeContext, includeEventTags) for value.
func realAttributes(t testing.TB, value string) []misp.Attribute {
	t.Helper()
	var out []misp.Attribute
	for _, a := range allRealAttributes(t) {
		if string(a.Value) == value {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no attribute %q in testdata", value)
	}
	return out
}

var (
	hitIP  = ioc.Indicator{Kind: ioc.IP, Value: "203.0.113.5"}
	missIP = ioc.Indicator{Kind: ioc.IP, Value: "198.51.100.99"}
)

func TestCache_Expiry(t *testing.T) {
	tests := []struct {
		name   string
		hit    bool          // MISP's answer was a hit (else a miss)
		after  time.Duration // time between Put and Get
		reopen bool          // Get in a later run
		wantOK bool
	}{
		{name: "hit same run", hit: true, wantOK: true},
		{name: "hit next run", hit: true, after: time.Minute, reopen: true, wantOK: true},
		{name: "hit just before TTL", hit: true, after: DefaultTTL - time.Nanosecond, reopen: true, wantOK: true},
		{name: "hit expired at TTL", hit: true, after: DefaultTTL, reopen: true},
		{name: "hit expired same run", hit: true, after: DefaultTTL},
		{name: "miss same run", wantOK: true},
		{name: "miss next run", after: time.Minute, reopen: true, wantOK: true},
		{name: "miss just before negative TTL", after: DefaultNegativeTTL - time.Nanosecond, reopen: true, wantOK: true},
		{name: "miss expired at negative TTL", after: DefaultNegativeTTL, reopen: true},
		{name: "miss expired same run", after: DefaultNegativeTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			ind, answer := missIP, []misp.Attribute(nil)
			if tt.hit {
				ind, answer = hitIP, realAttributes(t, hitIP.Value)
			}
			want := answer
			if !tt.wantOK {
				want = nil
			}
			check := func(c *Cache) {
				// Ask several times: a hit stays a hit on every repeat.
				for range 3 {
					got, ok := c.Get(ind)
					if ok != tt.wantOK {
						t.Fatalf("Get ok = %v, want %v", ok, tt.wantOK)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("Get attributes (-want +got):\n%s", diff)
					}
				}
			}
			run(t, o, func(c *Cache) {
				c.Put(ind, answer)
				if !tt.reopen {
					k.Advance(tt.after)
					check(c)
				}
			})
			if tt.reopen {
				k.Advance(tt.after)
				run(t, o, check)
			}
		})
	}
}

func TestCache_PutCapsAttributes(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	many := make([]misp.Attribute, MaxAttributes+5)
	for i := range many {
		many[i] = misp.Attribute{ID: misp.FlexString(fmt.Sprint(i)), Value: "203.0.113.5"}
	}
	run(t, o, func(c *Cache) {
		c.Put(hitIP, many)
		got, _ := c.Get(hitIP)
		if diff := cmp.Diff(many[:MaxAttributes], got); diff != "" {
			t.Errorf("same run (-want +got):\n%s", diff)
		}
	})
	run(t, o, func(c *Cache) {
		got, _ := c.Get(hitIP)
		if diff := cmp.Diff(many[:MaxAttributes], got); diff != "" {
			t.Errorf("next run (-want +got):\n%s", diff)
		}
	})
}

func TestCache_KeyedByScopeKindAndValue(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	longURL := "https://evil.example/" + strings.Repeat("a", 2*maxValueInKey)
	stored := []ioc.Indicator{
		hitIP,
		{Kind: ioc.URL, Value: longURL},
	}
	attrs := realAttributes(t, hitIP.Value)
	run(t, o, func(c *Cache) {
		for _, ind := range stored {
			c.Put(ind, attrs)
		}
	})
	tests := []struct {
		name   string
		scope  string
		ind    ioc.Indicator
		wantOK bool
	}{
		{name: "same", scope: o.Scope, ind: hitIP, wantOK: true},
		{name: "long value", scope: o.Scope, ind: stored[1], wantOK: true},
		{name: "other long value", scope: o.Scope, ind: ioc.Indicator{Kind: ioc.URL, Value: longURL + "b"}},
		{name: "other kind", scope: o.Scope, ind: ioc.Indicator{Kind: ioc.Domain, Value: hitIP.Value}},
		{name: "other key", scope: Scope("https://misp.example", "other-key", "to_ids=1"), ind: hitIP},
		{name: "other url", scope: Scope("https://misp2.example", "test-key", "to_ids=1"), ind: hitIP},
		{name: "other filters", scope: Scope("https://misp.example", "test-key", "to_ids=0"), ind: hitIP},
		{name: "url trailing slash", scope: Scope("https://misp.example/", "test-key", "to_ids=1"), ind: hitIP, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := o
			o.Scope = tt.scope
			run(t, o, func(c *Cache) {
				if _, ok := c.Get(tt.ind); ok != tt.wantOK {
					t.Errorf("Get ok = %v, want %v", ok, tt.wantOK)
				}
			})
		})
	}
}

func TestScope_Format(t *testing.T) {
	// Field boundaries matter: moving text from one field to the next is
	// another scope.
	a := Scope("https://misp.example", "ab", "c")
	b := Scope("https://misp.example", "a", "bc")
	if a == b {
		t.Errorf("Scope ignores field boundaries: %q", a)
	}
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("Scope = %q, want 32 hex digits", a)
	}
}

func TestStore_HoldsNoAPIKey(t *testing.T) {
	const key = "SECRETKEYsecretkey0123456789SECRETKEYsec"
	k := newClock()
	o := testOptions(t, k)
	o.Scope = Scope("https://misp.example", key, "to_ids=1")
	run(t, o, func(c *Cache) {
		c.Put(hitIP, realAttributes(t, hitIP.Value))
		c.Put(missIP, nil)
		c.Failed(misp.ClassUnavailable, time.Time{})
		c.ShouldReport(misp.ClassUnavailable)
	})
	raw, err := os.ReadFile(o.Path)
	if err != nil {
		t.Fatal(err)
	}
	// The entries are there (so the grep below looks at a real store)...
	if !bytes.Contains(raw, []byte(hitIP.Value)) || !bytes.Contains(raw, []byte(o.Scope)) {
		t.Fatalf("store does not contain the entries written")
	}
	// ...and the key, in any case, is not.
	for _, s := range []string{key, strings.ToLower(key), key[:16]} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("store file contains %q", s)
		}
	}
}

func TestOpen_CorruptFile(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{name: "short garbage", content: []byte("this is not a bbolt file\n")},
		{name: "pages of garbage", content: bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4096)},
		{name: "truncated", content: nil}, // filled below from a real store
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			content := tt.content
			if content == nil {
				run(t, o, func(c *Cache) { c.Put(hitIP, realAttributes(t, hitIP.Value)) })
				full, err := os.ReadFile(o.Path)
				if err != nil {
					t.Fatal(err)
				}
				content = full[:100] // less than one meta page
			}
			if err := os.MkdirAll(filepath.Dir(o.Path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(o.Path, content, 0o600); err != nil {
				t.Fatal(err)
			}

			c, warn := Open(o)
			t.Logf("warning: %v", warn)
			if warn == nil || !strings.Contains(warn.Error(), "moved aside") {
				t.Fatalf("Open warning = %v, want one saying the store was moved aside", warn)
			}
			aside := fmt.Sprintf("%s.corrupt-%d", o.Path, k.t.UnixNano())
			if got, err := os.ReadFile(aside); err != nil || !bytes.Equal(got, content) {
				t.Errorf("moved-aside copy %s: err %v, same content %v", aside, err, bytes.Equal(got, content))
			}
			c.Put(missIP, nil)
			if _, ok := c.Get(missIP); !ok {
				t.Errorf("Get after recovery: not found")
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			run(t, o, func(c *Cache) {
				if _, ok := c.Get(missIP); !ok {
					t.Errorf("Get from the recreated store: not found")
				}
			})
		})
	}
}

// TestOpen_DamagedTree damages the pages after the two meta pages, so
// that bbolt opens the file but fails (by panicking) when it reads.
func TestOpen_DamagedTree(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	run(t, o, func(c *Cache) {
		c.Put(hitIP, realAttributes(t, hitIP.Value))
		c.Failed(misp.ClassTimeout, time.Time{})
	})
	raw, err := os.ReadFile(o.Path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := os.Getpagesize()
	for i := 2 * pageSize; i < len(raw); i++ {
		raw[i] = 0xff
	}
	if err := os.WriteFile(o.Path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	c, warn := Open(o)
	t.Logf("warning: %v", warn)
	if warn == nil || !strings.Contains(warn.Error(), "moved aside") {
		t.Fatalf("Open warning = %v, want one saying the store was moved aside", warn)
	}
	c.Put(hitIP, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	run(t, o, func(c *Cache) {
		if _, ok := c.Get(hitIP); !ok {
			t.Errorf("Get from the recreated store: not found")
		}
	})
}

// holdInChild makes a child process (this test binary) hold the store at
// path open, for writing or for reading, until release is called or the
// test ends. Once release returns, the lock is free.
func holdInChild(t *testing.T, path string, readOnly bool) (release func()) {
	t.Helper()
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+mode+":"+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			stdin.Close() // lets the helper exit, which frees the lock
			if err := cmd.Wait(); err != nil {
				t.Errorf("helper: %v", err)
			}
		})
	}
	t.Cleanup(release)
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	return release
}

// fakeLockClock passes lock waits at once: Sleep moves Now on. The
// contention stays real (another process holds the lock), and the waits
// are exact whatever the machine's load.
type fakeLockClock struct {
	t       time.Time
	slept   time.Duration
	onSleep func(slept time.Duration) // called after each Sleep, if set
}

func (f *fakeLockClock) Now() time.Time { return f.t }
func (f *fakeLockClock) Sleep(d time.Duration) {
	f.t = f.t.Add(d)
	f.slept += d
	if f.onSleep != nil {
		f.onSleep(f.slept)
	}
}

func TestOpen_HeldByAnotherProcess(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.LockWait = 200 * time.Millisecond
	run(t, o, func(c *Cache) { c.Put(hitIP, realAttributes(t, hitIP.Value)) })
	holdInChild(t, o.Path, false)
	lock := &fakeLockClock{}
	o.lockClock = lock

	c, warn := Open(o)
	t.Logf("warning: %v", warn)
	if lock.slept != o.LockWait {
		t.Errorf("Open waited %v, want LockWait %v", lock.slept, o.LockWait)
	}
	if warn == nil || !strings.Contains(warn.Error(), "held by another process") {
		t.Errorf("Open warning = %v, want one saying the store is held", warn)
	}
	// Memory only: the stored hit is out of reach, but the cache works.
	if _, ok := c.Get(hitIP); ok {
		t.Errorf("Get found a stored entry without the store")
	}
	c.Put(missIP, nil)
	if _, ok := c.Get(missIP); !ok {
		t.Errorf("memory-only Get after Put: not found")
	}
	if g := c.Gate(); !g.Allow {
		t.Errorf("memory-only Gate = %+v, want Allow", g)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if lock.slept != o.LockWait {
		t.Errorf("memory-only Close waited %v", lock.slept-o.LockWait)
	}

	// The real clock waits too, and gives up.
	o.lockClock = nil
	start := time.Now()
	c, warn = Open(o)
	elapsed := time.Since(start)
	c.Close()
	// The lower bound is exact (a monotonic clock; Open gives up only
	// once LockWait has passed). The upper one is generous, 25 times the
	// wait, more than an order of magnitude above what a loaded 2-core
	// machine adds to it, and still far below a wait without end.
	if elapsed < o.LockWait || elapsed > o.LockWait+5*time.Second || warn == nil {
		t.Errorf("Open with the real clock: %v after %v, want a warning after LockWait %v (+ at most 5 s)", warn, elapsed, o.LockWait)
	}
}

// TestOpen_ReadBySomeoneElse: another process reading the store does not
// delay Open; Close waits for it at most LockWait, then gives up saving.
func TestOpen_ReadBySomeoneElse(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.LockWait = 200 * time.Millisecond
	attrs := realAttributes(t, hitIP.Value)
	run(t, o, func(c *Cache) { c.Put(hitIP, attrs) })
	holdInChild(t, o.Path, true)
	lock := &fakeLockClock{}
	o.lockClock = lock

	c, warn := Open(o)
	if warn != nil || lock.slept != 0 {
		t.Fatalf("Open with another reader: %v, waited %v", warn, lock.slept)
	}
	if got, ok := c.Get(hitIP); !ok || !cmp.Equal(got, attrs) {
		t.Errorf("Get with another reader: ok %v, %d attributes", ok, len(got))
	}
	c.Put(missIP, nil)
	err := c.Close()
	t.Logf("Close waited %v: %v", lock.slept, err)
	if lock.slept != o.LockWait {
		t.Errorf("Close waited %v, want LockWait %v", lock.slept, o.LockWait)
	}
	if err == nil || !strings.Contains(err.Error(), "not saved") {
		t.Errorf("Close = %v, want an error saying the answers are not saved", err)
	}
}

// TestOpen_LockWaitShared: Open and Close share one LockWait, so that other
// processes delay a run by at most LockWait in all.
func TestOpen_LockWaitShared(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.LockWait = 200 * time.Millisecond
	run(t, o, func(c *Cache) { c.Put(hitIP, nil) })
	const writerLeft = 60 * time.Millisecond
	release := holdInChild(t, o.Path, false)
	lock := &fakeLockClock{onSleep: func(slept time.Duration) {
		if slept >= writerLeft {
			release()
		}
	}}
	o.lockClock = lock

	c, warn := Open(o)
	if warn != nil || lock.slept != writerLeft {
		t.Fatalf("Open: %v after waiting %v, want the store after %v", warn, lock.slept, writerLeft)
	}
	lock.onSleep = nil
	holdInChild(t, o.Path, true) // a reader now keeps Close from writing
	c.Put(missIP, nil)
	err := c.Close()
	if lock.slept != o.LockWait || err == nil || !strings.Contains(err.Error(), "not saved") {
		t.Errorf("Close: %v; Open and Close waited %v in all, want LockWait %v", err, lock.slept, o.LockWait)
	}
}

// TestCache_ConcurrentRunsMerge: two overlapping runs both change the
// protection state; whichever writes second replays its changes on what
// the first wrote, so neither is lost.
func TestCache_ConcurrentRunsMerge(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.LockWait = 5 * time.Second
	run(t, o, func(c *Cache) { c.Put(hitIP, nil) }) // the store exists
	a, warn := Open(o)
	if warn != nil {
		t.Fatal(warn)
	}
	b, warn := Open(o)
	if warn != nil {
		t.Fatal(warn)
	}
	reset := k.t.Add(time.Minute)
	b.Failed(misp.ClassRateLimited, reset)
	if report, _ := a.ShouldReport(misp.ClassUnavailable); !report {
		t.Fatal("ShouldReport: false on a fresh store")
	}
	a.Put(missIP, nil)
	done := make(chan error)
	go func() { done <- b.Close() }() // waits for a's shared lock
	if err := a.Close(); err != nil {
		t.Errorf("Close a: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Close b: %v", err)
	}
	run(t, o, func(c *Cache) {
		if diff := cmp.Diff(Gate{Class: misp.ClassRateLimited, Until: reset}, c.Gate()); diff != "" {
			t.Errorf("b's 429 lost (-want +got):\n%s", diff)
		}
		if report, _ := c.ShouldReport(misp.ClassUnavailable); report {
			t.Errorf("a's report window lost")
		}
		if _, ok := c.Get(missIP); !ok {
			t.Errorf("a's entry lost")
		}
	})
}

func TestOpen_MemoryOnly(t *testing.T) {
	tests := []struct {
		name     string
		path     func(t *testing.T) string
		wantWarn string
	}{
		{name: "no path", path: func(*testing.T) string { return "" }},
		{
			name: "directory under a file",
			path: func(t *testing.T) string {
				file := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(file, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(file, "dir", "cache.db")
			},
			wantWarn: "continuing without the disk cache",
		},
		{
			name: "path is a directory",
			path: func(t *testing.T) string {
				dir := filepath.Join(t.TempDir(), "cache.db")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantWarn: "continuing without the disk cache",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			o.Path = tt.path(t)
			c, warn := Open(o)
			t.Logf("warning: %v", warn)
			switch {
			case tt.wantWarn == "" && warn != nil:
				t.Errorf("Open warning = %v, want none", warn)
			case tt.wantWarn != "" && (warn == nil || !strings.Contains(warn.Error(), tt.wantWarn)):
				t.Errorf("Open warning = %v, want one containing %q", warn, tt.wantWarn)
			}
			c.Put(hitIP, realAttributes(t, hitIP.Value))
			if _, ok := c.Get(hitIP); !ok {
				t.Errorf("Get after Put: not found")
			}
			c.Failed(misp.ClassRateLimited, time.Time{})
			if g := c.Gate(); g.Allow {
				t.Errorf("Gate after 429 = %+v, want denied", g)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestOpen_Permissions(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	run(t, o, func(c *Cache) { c.Put(hitIP, nil) })
	for path, allowed := range map[string]os.FileMode{filepath.Dir(o.Path): 0o770, o.Path: 0o660} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if extra := fi.Mode().Perm() &^ allowed; extra != 0 {
			t.Errorf("%s mode %v has bits %v beyond %v", path, fi.Mode().Perm(), extra, allowed)
		}
	}
}

// TestCache_WritesOnlyWhenNeeded checks that a run that learned nothing
// leaves the file alone (cached runs must not pay for a sync) and that a
// run's entries reach the disk together at Close.
func TestCache_WritesOnlyWhenNeeded(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	run(t, o, func(c *Cache) {
		c.Put(hitIP, realAttributes(t, hitIP.Value))
		c.Put(missIP, nil)
	})
	txid := func() int {
		db, err := bolt.Open(o.Path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		tx, err := db.Begin(false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		return tx.ID()
	}
	before := txid()
	run(t, o, func(c *Cache) {
		c.Get(hitIP)
		c.Get(missIP)
		c.Gate()
		c.Succeeded()
	})
	if after := txid(); after != before {
		t.Errorf("a cached run wrote: transaction id %d → %d", before, after)
	}
	run(t, o, func(c *Cache) {
		for i := range 10 {
			c.Put(ioc.Indicator{Kind: ioc.IP, Value: fmt.Sprintf("198.51.100.%d", i)}, nil)
		}
	})
	if after := txid(); after != before+1 {
		t.Errorf("a run with 10 new entries made %d transactions, want 1", after-before)
	}
}

// storeCounts returns the number of entries and their bytes, counted, and
// as kept in meta.
func storeCounts(t *testing.T, path string) (keys int, size int, metaKeys, metaSize uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket([]byte(bucketEntries)).ForEach(func(k, v []byte) error {
			keys++
			size += len(k) + len(v)
			return nil
		})
		meta := tx.Bucket([]byte(bucketMeta))
		metaKeys = binary.BigEndian.Uint64(meta.Get([]byte(keyCount)))
		metaSize = binary.BigEndian.Uint64(meta.Get([]byte(keyBytes)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, size, metaKeys, metaSize
}

func TestStore_SizeBound(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	o.MaxEntries = 10 // evicts down to 9
	ip := func(prefix string, i int) ioc.Indicator {
		return ioc.Indicator{Kind: ioc.IP, Value: fmt.Sprintf("%s.%d", prefix, i)}
	}
	attrs := realAttributes(t, hitIP.Value)
	putRun := func(prefix string, n int, positive bool) {
		run(t, o, func(c *Cache) {
			for i := range n {
				if positive {
					c.Put(ip(prefix, i), attrs)
				} else {
					c.Put(ip(prefix, i), nil)
				}
			}
		})
	}
	present := func(prefix string, n int) int {
		found := 0
		run(t, o, func(c *Cache) {
			for i := range n {
				if _, ok := c.Get(ip(prefix, i)); ok {
					found++
				}
			}
		})
		return found
	}
	wantCount := func(want int) {
		t.Helper()
		keys, size, metaKeys, metaSize := storeCounts(t, o.Path)
		if keys != want || metaKeys != uint64(want) || metaSize != uint64(size) {
			t.Errorf("store has %d keys of %d bytes, meta says %d keys of %d bytes; want %d keys", keys, size, metaKeys, metaSize, want)
		}
	}

	putRun("192.0.2", 5, true) // p: old positives
	k.Advance(time.Minute)
	putRun("198.51.100", 4, false) // n: misses, expire 15 min later
	wantCount(9)
	// Re-putting an existing key does not count twice.
	putRun("198.51.100", 1, false)
	wantCount(9)

	k.Advance(20 * time.Minute)
	putRun("203.0.113", 3, true) // 12 > 10: the expired misses go first
	wantCount(8)
	if got := present("192.0.2", 5); got != 5 {
		t.Errorf("after evicting expired: %d of 5 old positives left, want 5", got)
	}

	k.Advance(time.Minute)
	putRun("233.252.0", 4, true) // 12 > 10, nothing expired: the 3 oldest go
	wantCount(9)
	if got := present("192.0.2", 5); got != 2 {
		t.Errorf("after evicting oldest: %d of 5 oldest left, want 2", got)
	}
	if got := present("203.0.113", 3) + present("233.252.0", 4); got != 7 {
		t.Errorf("after evicting oldest: %d of 7 newer entries left, want 7", got)
	}
}

// TestCache_DamagedMidRun damages the pages of the entries bucket only:
// the store opens, the first Get meets the damage, and Close moves the
// file aside so that the next run starts afresh.
func TestCache_DamagedMidRun(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	attrs := realAttributes(t, hitIP.Value)
	run(t, o, func(c *Cache) {
		// Enough data for the bucket to get pages of its own.
		for i := range 50 {
			c.Put(ioc.Indicator{Kind: ioc.IP, Value: fmt.Sprintf("192.0.2.%d", i)}, attrs)
		}
		c.Put(hitIP, attrs)
	})
	var root uint64
	var pageSize int
	db, err := bolt.Open(o.Path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	pageSize = db.Info().PageSize
	err = db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket([]byte(bucketEntries)).Root())
		return nil
	})
	db.Close()
	if err != nil || root == 0 {
		t.Fatalf("entries bucket root page %d, err %v: want a page of its own", root, err)
	}
	f, err := os.OpenFile(o.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, pageSize), int64(root)*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	c, warn := Open(o)
	if warn != nil {
		t.Fatalf("Open: %v (the damage should only show on reading entries)", warn)
	}
	if _, ok := c.Get(hitIP); ok {
		t.Errorf("Get from a damaged page: found")
	}
	c.Put(missIP, nil) // still works, in memory
	if _, ok := c.Get(missIP); !ok {
		t.Errorf("Get after Put in a damaged run: not found")
	}
	err = c.Close()
	t.Logf("Close: %v", err)
	if err == nil || !strings.Contains(err.Error(), "moved aside") {
		t.Fatalf("Close = %v, want an error saying the store was moved aside", err)
	}
	run(t, o, func(c *Cache) {
		if _, ok := c.Get(hitIP); ok {
			t.Errorf("Get from the recreated store: found an entry of the damaged one")
		}
	})
}

func TestStore_SizeBoundBytes(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	attrs := realAttributes(t, hitIP.Value)
	ip := func(i int) ioc.Indicator { return ioc.Indicator{Kind: ioc.IP, Value: fmt.Sprintf("192.0.2.%d", i)} }
	run(t, o, func(c *Cache) { c.Put(ip(0), attrs) })
	_, one, _, _ := storeCounts(t, o.Path)

	// Room for five and a half hits: the sixth evicts down to 90%, that
	// is four, oldest first.
	o.MaxBytes = int64(one*5 + one/2)
	for i := 1; i < 6; i++ {
		k.Advance(time.Minute)
		run(t, o, func(c *Cache) { c.Put(ip(i), attrs) })
	}
	keys, size, metaKeys, metaSize := storeCounts(t, o.Path)
	if keys != 4 || metaKeys != 4 || size != 4*one || metaSize != uint64(size) {
		t.Errorf("store has %d keys of %d bytes, meta says %d of %d; want 4 of %d", keys, size, metaKeys, metaSize, 4*one)
	}
	run(t, o, func(c *Cache) {
		for i := range 6 {
			if _, ok := c.Get(ip(i)); ok != (i >= 2) {
				t.Errorf("entry %d present = %v, want %v", i, ok, i >= 2)
			}
		}
	})
}

func TestCache_OversizedAnswerStaysInMemory(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	big := []misp.Attribute{{Value: "203.0.113.5", Comment: misp.FlexString(strings.Repeat("x", maxEntryBytes))}}
	run(t, o, func(c *Cache) {
		c.Put(hitIP, big)
		if got, ok := c.Get(hitIP); !ok || len(got) != 1 {
			t.Errorf("same run: Get = %d attributes, %v; want the answer", len(got), ok)
		}
	})
	run(t, o, func(c *Cache) {
		if _, ok := c.Get(hitIP); ok {
			t.Errorf("next run: an oversized answer was stored")
		}
	})
}

// A store that keeps getting damaged must not fill the disk with copies:
// only the newest keepAside moved-aside files stay. Files this package did
// not name (an admin's, a copy renamed for a look) and symbolic links are
// left alone, and the copy just made is kept even when the clock went
// back.
func TestOpen_KeepsFewMovedAsideCopies(t *testing.T) {
	k := newClock()
	o := testOptions(t, k)
	dir := filepath.Dir(o.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	admins := []string{"cache.db.keep-me", "cache.db.corrupt-old", "cache.db.corrupt-1700000000.inspected", "cache.db.corrupt-"}
	for _, name := range admins {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not ours"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A copy named by an older version (Unix seconds) is the oldest.
	old := "cache.db.corrupt-1763632800"
	if err := os.WriteFile(filepath.Join(dir, old), []byte("damaged long ago"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Symbolic links planted under names of copies, older than any: never
	// removed (nor what they point to).
	links := []string{"cache.db.corrupt-1", "cache.db.corrupt-2"}
	target := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	admins = append(admins, links...)
	damage := func() string {
		t.Helper()
		if err := os.WriteFile(o.Path, []byte("damaged"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, warn := Open(o)
		if warn == nil || !strings.Contains(warn.Error(), "moved aside") {
			t.Fatalf("Open warning = %v, want moved aside", warn)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("cache.db.corrupt-%d", k.t.UnixNano())
	}
	var made []string
	for range keepAside + 2 {
		k.Advance(time.Minute)
		made = append(made, damage())
	}
	// The clock steps back an hour: the new copy has the smallest number
	// but is the one to keep.
	k.Advance(-time.Hour)
	back := damage()

	var got []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := append([]string{"cache.db", back}, admins...)
	want = append(want, made[len(made)-(keepAside-1):]...)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files in the store's directory (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "precious" {
		t.Errorf("a planted link's target changed: %q, %v", b, err)
	}
}

// TestOpen_PermissionDenied: a store the run may not open (issue 10, item
// 9) is a permission problem to report, not damage: the file stays where
// it is, untouched, and the run goes on with the memory-only cache. The
// tests run as root, which permission bits do not stop, so the store is
// opened through an opener that fails as open(2) does for another user
// (os.OpenFile's *PathError with EACCES or EPERM); it is the hook bbolt
// opens the file through, so everything after it is the real path.
func TestOpen_PermissionDenied(t *testing.T) {
	denied := func(errno syscall.Errno, writing bool) func(string, int, os.FileMode) (*os.File, error) {
		return func(name string, flag int, perm os.FileMode) (*os.File, error) {
			if !writing || flag&(os.O_RDWR|os.O_WRONLY) != 0 {
				return nil, &os.PathError{Op: "open", Path: name, Err: errno}
			}
			return os.OpenFile(name, flag, perm)
		}
	}
	tests := []struct {
		name      string
		exists    bool
		open      func(string, int, os.FileMode) (*os.File, error)
		wantOpen  string // in Open's warning
		wantClose string // in Close's error
	}{
		{name: "unreadable store", exists: true, open: denied(syscall.EACCES, false), wantOpen: "permission denied"},
		{name: "store refused by EPERM", exists: true, open: denied(syscall.EPERM, false), wantOpen: "operation not permitted"},
		{name: "store not writable", exists: true, open: denied(syscall.EACCES, true), wantClose: "permission denied"},
		{name: "store cannot be created", open: denied(syscall.EACCES, false), wantOpen: "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			if err := os.MkdirAll(filepath.Dir(o.Path), 0o770); err != nil {
				t.Fatal(err)
			}
			if tt.exists {
				run(t, o, func(c *Cache) { c.Put(hitIP, realAttributes(t, hitIP.Value)) })
			}
			before, _ := os.ReadFile(o.Path)
			o.openFile = tt.open

			c, warn := Open(o)
			t.Logf("Open: %v", warn)
			c.Put(missIP, nil)
			if _, ok := c.Get(missIP); !ok {
				t.Errorf("Get after Put: not found (the cache must work in memory)")
			}
			err := c.Close()
			t.Logf("Close: %v", err)
			for _, got := range []struct {
				what string
				err  error
				want string
			}{{"Open warning", warn, tt.wantOpen}, {"Close error", err, tt.wantClose}} {
				if got.want == "" {
					if got.err != nil {
						t.Errorf("%s = %v, want none", got.what, got.err)
					}
					continue
				}
				if got.err == nil || !strings.Contains(got.err.Error(), got.want) || !strings.Contains(got.err.Error(), o.Path) ||
					!strings.Contains(got.err.Error(), "root:wazuh") || strings.Contains(got.err.Error(), "moved aside") {
					t.Errorf("%s = %v, want one line naming the path, %q and the fix (root:wazuh), nothing moved aside", got.what, got.err, got.want)
				}
			}
			after, _ := os.ReadFile(o.Path)
			if !bytes.Equal(before, after) {
				t.Errorf("the store changed")
			}
			entries, _ := os.ReadDir(filepath.Dir(o.Path))
			for _, e := range entries {
				if strings.Contains(e.Name(), asideInfix) {
					t.Errorf("store moved aside: %s", e.Name())
				}
			}
		})
	}
}

// TestOpen_RefusesSymlinks: the store's directory is writable by user
// wazuh, so a symbolic link planted there must never be followed, renamed
// onto or removed through when the program runs as root (issue 10, item
// 2). Each refusal is one line naming the path; the link and its target
// stay as they were.
func TestOpen_RefusesSymlinks(t *testing.T) {
	tests := []struct {
		name       string
		plant      func(t *testing.T, o Options, target string) (link string)
		damaged    bool   // the store itself is damaged, so Open moves it aside
		targetGone bool   // the link points to nothing
		wantWarn   string // besides the link's path
	}{
		{
			name:     "store path links to a store",
			plant:    func(t *testing.T, o Options, target string) string { return o.Path },
			wantWarn: "is a symbolic link, which is never followed; continuing without the disk cache",
		},
		{
			name: "store path links to nowhere",
			plant: func(t *testing.T, o Options, target string) string {
				if err := os.Remove(target); err != nil {
					t.Fatal(err)
				}
				return o.Path
			},
			targetGone: true,
			wantWarn:   "is a symbolic link, which is never followed; continuing without the disk cache",
		},
		{
			name: "moved-aside name is a link",
			plant: func(t *testing.T, o Options, target string) string {
				return fmt.Sprintf("%s.corrupt-%d", o.Path, o.Now().UnixNano())
			},
			damaged:  true,
			wantWarn: "already exists; continuing without the disk cache",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			// The target: a store of its own, outside the store's directory.
			elsewhere := o
			elsewhere.Path = filepath.Join(t.TempDir(), "target.db")
			run(t, elsewhere, func(c *Cache) { c.Put(hitIP, realAttributes(t, hitIP.Value)) })
			target, err := os.ReadFile(elsewhere.Path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(o.Path), 0o770); err != nil {
				t.Fatal(err)
			}
			store := []byte("damaged")
			if tt.damaged {
				if err := os.WriteFile(o.Path, store, 0o660); err != nil {
					t.Fatal(err)
				}
			}
			link := tt.plant(t, o, elsewhere.Path)
			if err := os.Symlink(elsewhere.Path, link); err != nil {
				t.Fatal(err)
			}

			c, warn := Open(o)
			t.Logf("Open: %v", warn)
			if warn == nil || !strings.Contains(warn.Error(), link) || !strings.Contains(warn.Error(), tt.wantWarn) {
				t.Errorf("Open warning = %v, want one naming %s and saying %q", warn, link, tt.wantWarn)
			}
			if _, ok := c.Get(hitIP); ok {
				t.Errorf("Get found the link target's entry")
			}
			c.Put(missIP, nil)
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if got, err := os.Readlink(link); err != nil || got != elsewhere.Path {
				t.Errorf("the link is now %q, %v; want it untouched, to %s", got, err, elsewhere.Path)
			}
			got, err := os.ReadFile(elsewhere.Path)
			switch {
			case tt.targetGone && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("the link's missing target was created (%v)", err)
			case !tt.targetGone && (err != nil || !bytes.Equal(got, target)):
				t.Errorf("the link's target changed (%v)", err)
			}
			if tt.damaged {
				if got, err := os.ReadFile(o.Path); err != nil || !bytes.Equal(got, store) {
					t.Errorf("the damaged store was not left in place: %v", err)
				}
			}
		})
	}
}

// TestLoad_NoFollow: the store is opened with O_NOFOLLOW, so a link planted
// after Open looked at the path (a race Lstat cannot close) is refused too.
func TestLoad_NoFollow(t *testing.T) {
	for _, rw := range []bool{false, true} {
		t.Run(fmt.Sprintf("rw=%v", rw), func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			elsewhere := o
			elsewhere.Path = filepath.Join(t.TempDir(), "target.db")
			run(t, elsewhere, func(c *Cache) { c.Put(hitIP, nil) })
			if err := os.MkdirAll(filepath.Dir(o.Path), 0o770); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere.Path, o.Path); err != nil {
				t.Fatal(err)
			}
			s, _, err := load(o.withDefaults(), rw, time.Second)
			if s.db != nil {
				s.db.Close()
			}
			var notOpened *openError
			if !errors.As(err, &notOpened) || !errors.Is(err, errSymlink) {
				t.Errorf("load through a link: %v, want the link refused", err)
			}
		})
	}
}

// TestOpen_RootSharesNewStore: a store created by a root run (custom-misp
// check or lookup on the manager) must stay usable by integratord's runs
// as user wazuh: it takes its directory's group (root:wazuh after make
// install) and mode 0660 whatever the umask. On a Wazuh 4.14.7 manager it
// was root:root 0640 and every later run went without the disk cache.
func TestOpen_RootSharesNewStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root creates a store for another user's runs (and can chown)")
	}
	const group = 4242 // any group but root's
	k := newClock()
	o := testOptions(t, k)
	dir := filepath.Dir(o.Path)
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 0, group); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o022) // root's usual umask, which alone gives 0640
	defer syscall.Umask(old)
	run(t, o, func(c *Cache) { c.Put(hitIP, nil) })
	var st syscall.Stat_t
	if err := syscall.Stat(o.Path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Gid != group || st.Mode&0o777 != 0o660 {
		t.Errorf("new store: gid %d mode %#o, want gid %d mode 0660", st.Gid, st.Mode&0o777, group)
	}
	// An existing store keeps what its owner gave it.
	if err := os.Chmod(o.Path, 0o640); err != nil {
		t.Fatal(err)
	}
	run(t, o, func(c *Cache) { c.Put(hitIP, nil) })
	if fi, err := os.Stat(o.Path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("existing store: mode %v, %v; want it left at 0640", fi.Mode().Perm(), err)
	}
}
