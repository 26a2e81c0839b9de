package cache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// rawStore is a store file's bytes, read the way bbolt lays them out
// (go.etcd.io/bbolt/internal/common: 16-byte page headers and elements,
// native byte order), so that a test can damage chosen bytes. It is written
// apart from verify.go on purpose: the tests' model of the format is not the
// code under test.
type rawStore struct {
	b        []byte
	pageSize int
}

func readRaw(t *testing.T, path string) *rawStore {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &rawStore{b: b, pageSize: os.Getpagesize()}
}

func (r *rawStore) write(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, r.b, 0o660); err != nil {
		t.Fatal(err)
	}
}

func (r *rawStore) u16(off int) uint16         { return binary.NativeEndian.Uint16(r.b[off:]) }
func (r *rawStore) u32(off int) uint32         { return binary.NativeEndian.Uint32(r.b[off:]) }
func (r *rawStore) u64(off int) uint64         { return binary.NativeEndian.Uint64(r.b[off:]) }
func (r *rawStore) put16(off int, v uint16)    { binary.NativeEndian.PutUint16(r.b[off:], v) }
func (r *rawStore) put32(off int, v uint32)    { binary.NativeEndian.PutUint32(r.b[off:], v) }
func (r *rawStore) put64(off int, v uint64)    { binary.NativeEndian.PutUint64(r.b[off:], v) }
func (r *rawStore) pageOff(id uint64) int      { return int(id) * r.pageSize }
func (r *rawStore) isBranch(off int) bool      { return r.u16(off+8) == 0x01 }
func (r *rawStore) count(off int) int          { return int(r.u16(off + 10)) }
func (r *rawStore) elem(off, i int) int        { return off + 16 + 16*i }
func (r *rawStore) metaField(field int) uint64 { return r.u64(r.newerMeta() + 16 + field) } // root 16, free list 32, pages 40, txid 48

// newerMeta returns the offset of the meta page with the higher txid
// (the stores the tests damage have two valid ones).
func (r *rawStore) newerMeta() int {
	if r.u64(r.pageSize+16+48) > r.u64(16+48) {
		return r.pageSize
	}
	return 0
}

func (r *rawStore) pages() uint64    { return r.metaField(40) }
func (r *rawStore) freelist() uint64 { return r.metaField(32) }

// key returns the key of element i of the page (or inline page) at off.
func (r *rawStore) key(off, i int) []byte {
	e := r.elem(off, i)
	if r.isBranch(off) {
		return r.b[e+int(r.u32(e)):][:r.u32(e+4)]
	}
	return r.b[e+int(r.u32(e+4)):][:r.u32(e+8)]
}

// bucket returns the offset of the value (bucket header) of the top-level
// bucket name; the root bucket is a single leaf in these stores.
func (r *rawStore) bucket(t *testing.T, name string) int {
	t.Helper()
	root := r.pageOff(r.metaField(16))
	for i := range r.count(root) {
		if string(r.key(root, i)) == name {
			e := r.elem(root, i)
			return e + int(r.u32(e+4)) + int(r.u32(e+8))
		}
	}
	t.Fatalf("no bucket %q in the root page", name)
	return 0
}

// path returns the pages from the root of bucket down to the leaf where
// key belongs, as bbolt's cursor descends.
func (r *rawStore) path(t *testing.T, bucket, key string) []uint64 {
	t.Helper()
	id := r.u64(r.bucket(t, bucket))
	if id == 0 {
		t.Fatalf("bucket %q is inline", bucket)
	}
	path := []uint64{id}
	for off := r.pageOff(id); r.isBranch(off); off = r.pageOff(id) {
		i := 0
		for i+1 < r.count(off) && bytes.Compare(r.key(off, i+1), []byte(key)) <= 0 {
			i++
		}
		id = r.u64(r.elem(off, i) + 8)
		path = append(path, id)
	}
	return path
}

// addFree appends id to the free list.
func (r *rawStore) addFree(t *testing.T, id uint64) {
	t.Helper()
	off := r.pageOff(r.freelist())
	n := r.count(off)
	if n >= 0xFFFF-1 || 16+8*(n+1) > r.pageSize {
		t.Fatalf("free list of %d pages: no room to add one", n)
	}
	r.put64(off+16+8*n, id)
	r.put16(off+10, uint16(n+1))
}

// freeIDs returns the free list.
func (r *rawStore) freeIDs() []uint64 {
	off := r.pageOff(r.freelist())
	var ids []uint64
	for i := range r.count(off) {
		ids = append(ids, r.u64(off+16+8*i))
	}
	return ids
}

// hosts returns n domain indicators, in key order.
func hosts(n int) []ioc.Indicator {
	inds := make([]ioc.Indicator, n)
	for i := range inds {
		inds[i] = ioc.Indicator{Kind: ioc.Domain, Value: fmt.Sprintf("host-%03d.example.org", i)}
	}
	return inds
}

// filledStore writes a store holding hits for inds over two runs (so that
// 300 make the entries bucket branch, and the free list is not empty),
// with guard state.
func filledStore(t *testing.T, o Options, inds []ioc.Indicator) {
	t.Helper()
	attrs := realAttributes(t, hitIP.Value)
	run(t, o, func(c *Cache) {
		for _, ind := range inds[:len(inds)-1] {
			c.Put(ind, attrs)
		}
		c.Failed(misp.ClassUnavailable, time.Time{})
	})
	run(t, o, func(c *Cache) { c.Put(inds[len(inds)-1], attrs) })
}

// childEnv makes the test binary run one test as a child (see inChild); its
// value is for the test.
const childEnv = "CUSTOM_MISP_CACHE_TEST_CHILD"

// inChild runs the test t again in a child process, with childEnv=value,
// and fails unless the child passes. A damaged store can make the Go
// runtime abort (a fatal error, not a panic: nothing can recover it),
// which would end this process and every test after it; in a child it is
// one failing test, with the runtime's message.
func inChild(t *testing.T, value string) {
	t.Helper()
	// The top-level test: it runs the child's part before any subtest.
	name, _, _ := strings.Cut(t.Name(), "/")
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+value)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The runtime's verdict, then the end of the output (the test's
		// own failure, if it got that far).
		var verdict []string
		lines := strings.Split(string(out), "\n")
		for _, l := range lines {
			if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") {
				verdict = append(verdict, l)
			}
		}
		t.Fatalf("child for %s: %v\n%s\n…\n%s", value, err, strings.Join(verdict, "\n"), strings.Join(lines[max(0, len(lines)-12):], "\n"))
	}
}

// underGCPressure runs f with the garbage collector running all the time,
// so that a pointer bbolt makes into memory it does not own is found in
// every run, not one in a hundred: the collector aborts the process when
// it finds one.
func underGCPressure(f func()) {
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	// A recursion that never ends should fail in a moment, not after
	// filling a gigabyte of stack.
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20))
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer func() { close(stop); <-done }()
	f()
}

// TestCache_DamageNeverKills uses stores damaged where bbolt cannot survive
// reading or writing them, each in a child process. Reported in issue 16
// (item 1): with a damaged inline bucket, Close's write aborted the
// process ("found pointer to free object"), and every later run opening the
// file did the same. Each must end in a warning and the file moved aside
// untouched, never in a crash or a write.
func TestCache_DamageNeverKills(t *testing.T) {
	if src, ok := strings.CutPrefix(os.Getenv(childEnv), "damaged:"); ok {
		useDamagedStore(t, src)
		return
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, r *rawStore)
	}{
		{
			// The meta bucket lives inside the root page (inline) at an
			// offset that is not 8-byte aligned, so bbolt reads it from a
			// copy on the heap: an element offset past the copy makes it
			// keep pointers into other heap objects until the commit.
			name: "inline bucket element past its value",
			damage: func(t *testing.T, r *rawStore) {
				v := r.bucket(t, bucketMeta)
				if r.u64(v) != 0 || v%8 == 0 {
					t.Fatalf("meta bucket not inline and unaligned (root %d, offset %d)", r.u64(v), v)
				}
				inline := v + 16
				r.put32(r.elem(inline, 1)+4, 245) // the second key's offset, far past the 90-byte value
			},
		},
		{
			// The root of the entries bucket points to itself: bbolt's
			// cursor recurses until the stack overflows.
			name: "branch points to itself",
			damage: func(t *testing.T, r *rawStore) {
				root := r.u64(r.bucket(t, bucketEntries))
				if !r.isBranch(r.pageOff(root)) {
					t.Fatalf("entries root page %d is not a branch", root)
				}
				r.put64(r.elem(r.pageOff(root), 0)+8, root)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t, newClock())
			filledStore(t, o, hosts(300))
			r := readRaw(t, o.Path)
			tt.damage(t, r)
			src := filepath.Join(t.TempDir(), "damaged.db")
			r.write(t, src)
			inChild(t, "damaged:"+src)
		})
	}
}

// useDamagedStore is the child of TestCache_DamageNeverKills: it runs ten
// times over a copy of the damaged store src, looking up and storing as a
// run does, under constant garbage collection.
func useDamagedStore(t *testing.T, src string) {
	damaged, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	k := newClock()
	o := testOptions(t, k)
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o770); err != nil {
		t.Fatal(err)
	}
	inds := hosts(300) // the damaged store's
	underGCPressure(func() {
		for round := range 10 {
			if err := os.WriteFile(o.Path, damaged, 0o660); err != nil {
				t.Fatal(err)
			}
			c, warn := Open(o)
			for _, ind := range inds[:50] {
				c.Get(ind)
			}
			c.Put(ioc.Indicator{Kind: ioc.IP, Value: "192.0.2.1"}, nil)
			err := c.Close()
			if !strings.Contains(fmt.Sprint(warn, err), "moved aside") {
				t.Fatalf("round %d: Open warning %v, Close %v; want the store moved aside", round, warn, err)
			}
			aside := fmt.Sprintf("%s.corrupt-%d", o.Path, k.t.UnixNano())
			if got, err := os.ReadFile(aside); err != nil || !bytes.Equal(got, damaged) {
				t.Fatalf("round %d: moved-aside copy: %v, unchanged %v (want the damaged store as it was: nothing written)", round, err, bytes.Equal(got, damaged))
			}
			k.Advance(time.Second)
		}
	})
}

// TestCache_RandomDamageNeverKills flips random bytes of a filled store, the
// way a disk or an interrupted copy damages it, and uses it as a run would,
// in a child process under constant garbage collection (see
// TestCache_DamageNeverKills). bbolt reads the file through mmap, so a
// damaged page offset used to make it touch memory it does not own: a
// fatal fault that killed the process (no events, no log line, and the
// same crash on every later alert), found in review with byte flips like
// these. Every damaged store must end in answers or a warning, never a
// crash.
func TestCache_RandomDamageNeverKills(t *testing.T) {
	if os.Getenv(childEnv) != "random" {
		inChild(t, "random")
		return
	}
	k := newClock()
	o := testOptions(t, k)
	var inds []ioc.Indicator
	run(t, o, func(c *Cache) {
		attrs := realAttributes(t, "203.0.113.5")
		for i := 0; i < 300; i++ {
			ind := ioc.Indicator{Kind: ioc.Domain, Value: fmt.Sprintf("host-%d.example.org", i)}
			inds = append(inds, ind)
			c.Put(ind, attrs)
		}
	})
	pristine, err := os.ReadFile(o.Path)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	underGCPressure(func() {
		for seed := 0; seed < 120; seed++ {
			damaged := append([]byte(nil), pristine...)
			for n := 1 + r.IntN(40); n > 0; n-- {
				damaged[r.IntN(len(damaged))] ^= byte(1 + r.IntN(255))
			}
			if err := os.WriteFile(o.Path, damaged, 0o660); err != nil {
				t.Fatal(err)
			}
			c, _ := Open(o) // a warning is fine: the file may be moved aside
			for _, ind := range inds[:50] {
				c.Get(ind)
			}
			c.Put(ioc.Indicator{Kind: ioc.IP, Value: "8.8.8.8"}, nil)
			c.Close() // an error is fine too
			// Start the next round from the pristine file.
			os.Remove(o.Path)
		}
	})
}

// TestCache_NoWriteAfterDamage damages pages that a run's write reads or
// reuses but that opening the store does not read: the write must find
// the damage before bbolt touches a page, write nothing, and move the file
// aside as it was (issue 16, item 1: never write to a store after any read
// fault or inconsistency).
func TestCache_NoWriteAfterDamage(t *testing.T) {
	inds := hosts(300)
	last := inds[len(inds)-1]
	newLast := ioc.Indicator{Kind: ioc.Domain, Value: "zz-new.example.org"} // sorts after every host-
	// The pages from the entries bucket's root down to the leaf of the key
	// the run stores, and of the first key.
	type paths struct{ put, first []uint64 }
	leaf := func(path []uint64) uint64 { return path[len(path)-1] }
	tests := []struct {
		name       string
		maxEntries int           // 0: default; 300 makes the write evict
		put        ioc.Indicator // the one answer the run stores
		damage     func(t *testing.T, r *rawStore, p paths)
	}{
		{
			name: "element past its leaf on the write path",
			put:  last,
			damage: func(t *testing.T, r *rawStore, p paths) {
				r.put32(r.elem(r.pageOff(leaf(p.put)), 0)+4, uint32(r.pageSize)) // the first key starts past the page
			},
		},
		{
			name:   "free list names a page on the write path",
			put:    last,
			damage: func(t *testing.T, r *rawStore, p paths) { r.addFree(t, leaf(p.put)) },
		},
		{
			name:   "free list names a page past the end",
			put:    last,
			damage: func(t *testing.T, r *rawStore, p paths) { r.addFree(t, r.pages()+10) },
		},
		{
			name: "free list names a page twice",
			put:  last,
			damage: func(t *testing.T, r *rawStore, p paths) {
				free := r.freeIDs()
				if len(free) == 0 {
					t.Fatal("empty free list")
				}
				r.addFree(t, free[0])
			},
		},
		{
			// The new key's path is intact; eviction reads every leaf.
			name:       "element past its leaf, read by eviction",
			maxEntries: 300,
			put:        newLast,
			damage: func(t *testing.T, r *rawStore, p paths) {
				if leaf(p.first) == leaf(p.put) {
					t.Fatal("the first and the new key share a leaf")
				}
				r.put32(r.elem(r.pageOff(leaf(p.first)), 0)+4, uint32(r.pageSize))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newClock()
			o := testOptions(t, k)
			o.MaxEntries = tt.maxEntries
			filledStore(t, o, inds)
			r := readRaw(t, o.Path)
			key := func(ind ioc.Indicator) string { return (&Cache{o: o}).key(ind) }
			tt.damage(t, r, paths{put: r.path(t, bucketEntries, key(tt.put)), first: r.path(t, bucketEntries, key(inds[0]))})
			r.write(t, o.Path)

			c, warn := Open(o)
			if warn != nil {
				t.Fatalf("Open: %v (the damage is off the pages Open reads)", warn)
			}
			c.Put(tt.put, nil)
			err := c.Close()
			t.Logf("Close: %v", err)
			if err == nil || !strings.Contains(err.Error(), "moved aside") {
				t.Fatalf("Close = %v, want the store moved aside", err)
			}
			aside := fmt.Sprintf("%s.corrupt-%d", o.Path, k.t.UnixNano())
			if got, err := os.ReadFile(aside); err != nil || !bytes.Equal(got, r.b) {
				t.Errorf("moved-aside copy: %v, unchanged %v; want the damaged store as it was (nothing written)", err, bytes.Equal(got, r.b))
			}
			// The next run starts afresh.
			run(t, o, func(c *Cache) { c.Put(tt.put, nil) })
			run(t, o, func(c *Cache) {
				if _, ok := c.Get(tt.put); !ok {
					t.Errorf("Get from the new store: not found")
				}
			})
		})
	}
}
