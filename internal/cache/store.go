package cache

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	bolt "go.etcd.io/bbolt"
)

// Layout of the bbolt file:
//
//	entries: scope NUL kind NUL value → entry (header + JSON attributes)
//	guard:   scope → JSON guard state
//	meta:    "count" → number of keys in entries, "bytes" → their
//	         keys and values in bytes (uint64, big endian)
const (
	bucketEntries = "entries"
	bucketGuard   = "guard"
	bucketMeta    = "meta"
	keyCount      = "count"
	keyBytes      = "bytes"
)

// counter reads a uint64 kept in meta; a missing or damaged one is 0, and
// the next eviction recounts.
func counter(b *bolt.Bucket, key string) uint64 {
	if v := b.Get([]byte(key)); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// An entry on disk is a fixed header, so eviction reads ages without
// decoding, followed by the attributes (see codec.go; nothing for a miss).
const (
	entryVersion = 2
	headerLen    = 1 + 8 + 8 + 4 // version, stored-at and expires-at (Unix ns), schema

)

// evictTo is the fraction of the bounds (in tenths) eviction shrinks the
// store to, so that it runs once per tenth of a bound, not every run.
const evictTo = 9

// Open returns a usable Cache whatever happens to the disk level; warn, when
// not nil, says in one line why the disk level is off or what was repaired,
// for the caller to log:
//   - o.Path == "": memory only, no warning;
//   - another process is writing the file for longer than o.LockWait:
//     memory only for this run;
//   - the path is a symbolic link (never followed) or not a regular file,
//     or the file cannot be opened (permission): memory only, the file is
//     left alone;
//   - the file is damaged (see verify.go): it is renamed to
//     <path>.corrupt-<unix ns> and a new one is created;
//   - the directory cannot be created or written: memory only.
//
// The store is opened read-only (a shared lock, no free-page list to load):
// the common run only reads. Flush (normally Close) reopens it for writing
// when there is something to write. The directory is created with mode 0770 and
// the file with 0660 (less the umask; a root run gives a new file its
// directory's group and 0660, see boltfile.OpenLocked): the store is shared
// with the Wazuh group, never with others.
func Open(o Options) (c *Cache, warn error) {
	o = o.withDefaults()
	mem, err := lru.New[string, entry](lruSize)
	if err != nil {
		panic(err) // unreachable: lruSize is positive
	}
	c = &Cache{o: o, mem: mem, schema: attrSchema, pending: make(map[string][]byte)}
	if o.Path == "" {
		return c, nil
	}
	s, waited, warn := openStore(o)
	c.db, c.file, c.chk, c.rw, c.guard = s.db, s.file, s.chk, s.rw, s.guard
	// Open and Flush share one LockWait, so that a run is delayed by
	// other processes for at most LockWait in all.
	c.lockLeft = o.LockWait - waited
	now := o.Now()
	c.apply(func(g *guard) bool { return g.clamp(now, o.ReportWindow) })
	return c, warn
}

// opened is a store as load leaves it.
type opened struct {
	db    *bolt.DB
	file  *os.File // db's
	chk   *checker // what was checked under this lock
	rw    bool
	guard guard
}

func openStore(o Options) (s opened, waited time.Duration, warn error) {
	const off = "continuing without the disk cache"
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o770); err != nil {
		return opened{}, 0, fmt.Errorf("cache: create the store's directory: %w; %s", err, off)
	}
	before, err := os.Lstat(o.Path)
	switch {
	case err == nil && before.Mode()&fs.ModeSymlink != 0:
		return opened{}, 0, refusal(o.Path, errSymlink, 0, off)
	case err == nil && !before.Mode().IsRegular():
		return opened{}, 0, refusal(o.Path, errNotRegular, 0, off)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return opened{}, 0, refusal(o.Path, err, 0, off)
	}
	// A missing or empty file must be created, which needs write mode.
	rw := err != nil || before.Size() == 0
	try := func(rw bool) (opened, error) {
		s, w, err := load(o, rw, o.LockWait-waited)
		waited += w
		return s, err
	}
	s, err = try(rw)
	if err == nil {
		return s, waited, nil
	}
	var notOpened *openError
	if errors.As(err, &notOpened) {
		return opened{}, waited, refusal(o.Path, err, o.LockWait, off)
	}
	if now, err := os.Lstat(o.Path); err == nil && before != nil && !os.SameFile(before, now) {
		// Another run replaced the file while we waited: use its copy.
		if s, err := try(false); err == nil {
			return s, waited, nil
		}
	}
	aside, mvErr := moveAside(o)
	if mvErr != nil {
		return opened{}, waited, fmt.Errorf("cache: store %s unusable (%v), cannot move it aside: %w; %s", o.Path, err, mvErr, off)
	}
	s, err2 := try(true)
	if err2 != nil {
		return opened{}, waited, fmt.Errorf("cache: store %s moved aside to %s (%v), cannot recreate it: %w; %s", o.Path, aside, err, err2, off)
	}
	return s, waited, fmt.Errorf("cache: store %s unusable (%w); moved aside to %s and recreated", o.Path, err, aside)
}

// load opens the store at o.Path for reading or writing, waiting at most
// lockWait for other processes, checks it (see verify.go) and reads this
// scope's guard state. It returns how long it waited for the lock. An
// error is an openError when the file was not opened; anything else means
// the file is damaged.
func load(o Options, rw bool, lockWait time.Duration) (s opened, waited time.Duration, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if s.db != nil {
				_ = s.db.Close() // View rolled its transaction back
			} else if s.file != nil {
				_ = s.file.Close() // bbolt panicked in Open
			}
			s, err = opened{}, fmt.Errorf("%w: %v", errDamaged, r)
		}
	}()
	openFile := func(path string, flag int, perm os.FileMode) (*os.File, error) {
		f, w, err := openLocked(o, path, flag, perm, rw, lockWait)
		waited = w
		if err != nil {
			return nil, err
		}
		// An empty file is bbolt's to initialise; it is checked below,
		// once bbolt has.
		fi, err := f.Stat()
		if err == nil && fi.Size() > 0 {
			s.chk, err = newChecker(f, rw)
		}
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		s.file = f
		return f, nil
	}
	// NoSync stays off: without fsync a power loss can leave a meta page
	// pointing at pages that never reached the disk, which bbolt reports
	// by panicking mid-read, not at Open. Only runs that learned something
	// from MISP (or held an error event back) write and sync; cached runs
	// write nothing. NoFreelistSync
	// stays off too: with it, every writable open rebuilds the free list
	// by scanning the whole file. The lock is taken in openFile; bbolt's
	// own try on the same file succeeds at once (Timeout: one try).
	db, err := bolt.Open(o.Path, 0o660, &bolt.Options{Timeout: time.Nanosecond, ReadOnly: !rw, OpenFile: openFile})
	if err != nil {
		return opened{}, waited, err
	}
	s.db, s.rw = db, rw
	if s.chk == nil {
		if s.chk, err = newChecker(s.file, rw); err != nil {
			_ = db.Close()
			return opened{}, waited, err
		}
	}
	err = db.View(func(tx *bolt.Tx) error {
		if err := s.chk.Path(bucketGuard, []byte(o.Scope)); err != nil {
			return err
		}
		if b := tx.Bucket([]byte(bucketGuard)); b != nil {
			s.guard = decodeGuard(b.Get([]byte(o.Scope)))
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return opened{}, waited, err
	}
	return s, waited, nil
}

// Flush writes the buffered entries and the protection state in one
// transaction. Close calls it; a caller may call it earlier.
func (c *Cache) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flush()
}

// Close flushes and closes the store. A store found damaged during the run
// is moved aside so that the next run starts afresh; the returned error
// says so. The Cache keeps working in memory after Close.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := errors.Join(c.flush(), c.closeStore())
	if c.broken != nil {
		aside, mvErr := moveAside(c.o)
		if mvErr != nil {
			err = errors.Join(err, fmt.Errorf("cache: store %s damaged (%v), cannot move it aside: %w", c.o.Path, c.broken, mvErr))
		} else {
			err = errors.Join(err, fmt.Errorf("cache: store %s damaged (%v); moved aside to %s", c.o.Path, c.broken, aside))
		}
		c.broken = nil
	}
	return err
}

// closeStore closes the bbolt file, if open, which releases its lock.
func (c *Cache) closeStore() error {
	var err error
	if c.db != nil {
		err = c.db.Close()
	}
	c.db, c.file, c.chk = nil, nil, nil
	return err
}

func (c *Cache) flush() error {
	if c.db == nil || c.broken != nil || (len(c.pending) == 0 && len(c.ops) == 0) {
		return nil
	}
	// Not retried: a failed write only costs MISP calls in later runs.
	defer func() {
		clear(c.pending)
		c.ops = nil
	}()
	if !c.rw {
		// Trade the shared lock for the exclusive one, waiting for other
		// runs that read only as long as Open left of LockWait.
		_ = c.closeStore() // read-only: nothing to lose
		s, waited, err := load(c.o, true, c.lockLeft)
		c.lockLeft -= waited
		const lost = "this run's answers are not saved"
		var notOpened *openError
		if errors.As(err, &notOpened) {
			return refusal(c.o.Path, err, c.o.LockWait, lost)
		}
		if err != nil {
			c.broken = err
			return fmt.Errorf("cache: reopen %s for writing: %w; %s", c.o.Path, err, lost)
		}
		c.db, c.file, c.chk, c.rw = s.db, s.file, s.chk, true
	}
	if err := c.write(c.o.Now()); err != nil {
		return fmt.Errorf("cache: write %s: %w", c.o.Path, err)
	}
	return nil
}

// checker returns what this hold of the lock has checked, starting afresh
// after a write.
func (c *Cache) checker() (*checker, error) {
	if c.chk == nil {
		chk, err := newChecker(c.file, c.rw)
		if err != nil {
			return nil, err
		}
		c.chk = chk
	}
	return c.chk, nil
}

// write stores the pending entries and replays the guard changes in one
// transaction. Damage, found by the checks before the transaction touches
// a page or by a fault during it, marks the store broken: nothing is
// written, and Close moves the file aside.
func (c *Cache) write(now time.Time) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errDamaged, r)
		}
		if errors.Is(err, errDamaged) {
			c.broken = err
		}
	}()
	chk, err := c.checker()
	if err != nil {
		return err
	}
	// In key order: bbolt inserts into sorted pages, so a sorted batch
	// touches each page once instead of splitting at random.
	keys := slices.Sorted(maps.Keys(c.pending))
	if err := c.checkWrite(chk, keys); err != nil {
		return err
	}
	defer func() { c.chk = nil }() // the transaction rewrites pages
	return c.db.Update(func(tx *bolt.Tx) error {
		if len(c.ops) > 0 {
			// Replay this run's changes on the state as stored now.
			b, err := tx.CreateBucketIfNotExists([]byte(bucketGuard))
			if err != nil {
				return err
			}
			g := decodeGuard(b.Get([]byte(c.o.Scope)))
			for _, op := range c.ops {
				op(&g)
			}
			if err := b.Put([]byte(c.o.Scope), g.encode(now)); err != nil {
				return err
			}
			c.guard = g
		}
		if len(c.pending) == 0 {
			return nil
		}
		eb, err := tx.CreateBucketIfNotExists([]byte(bucketEntries))
		if err != nil {
			return err
		}
		mb, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
		if err != nil {
			return err
		}
		n, size := counter(mb, keyCount), counter(mb, keyBytes)
		for _, k := range keys {
			v := c.pending[k]
			if old := eb.Get([]byte(k)); old == nil {
				n++
			} else {
				size -= min(size, uint64(len(k)+len(old)))
			}
			size += uint64(len(k) + len(v))
			if err := eb.Put([]byte(k), v); err != nil {
				return err
			}
		}
		if n > uint64(c.o.MaxEntries) || size > uint64(c.o.MaxBytes) {
			// Eviction reads every page of the bucket and may merge any
			// of them with a neighbour.
			if err := chk.Tree(bucketEntries); err != nil {
				return err
			}
			if err := chk.Reusable(); err != nil {
				return err
			}
			n, size, err = evict(eb, c.o, now, c.o.MaxEntries*evictTo/10, c.o.MaxBytes*evictTo/10)
			if err != nil {
				return err
			}
		}
		if err := mb.Put([]byte(keyBytes), binary.BigEndian.AppendUint64(nil, size)); err != nil {
			return err
		}
		return mb.Put([]byte(keyCount), binary.BigEndian.AppendUint64(nil, n))
	})
}

// checkWrite checks the pages a write of keys (and of the guard state)
// reads on its way, and that the free list names none of them.
func (c *Cache) checkWrite(chk *checker, keys []string) error {
	type path struct{ bucket, key string }
	var paths []path
	if len(c.ops) > 0 {
		paths = append(paths, path{bucketGuard, c.o.Scope})
	}
	if len(keys) > 0 {
		for _, k := range keys {
			paths = append(paths, path{bucketEntries, k})
		}
		paths = append(paths, path{bucketMeta, keyCount}, path{bucketMeta, keyBytes})
	}
	for _, p := range paths {
		if err := chk.Path(p.bucket, []byte(p.key)); err != nil {
			return err
		}
	}
	return chk.Reusable()
}

// evict deletes dead entries (expired, undecodable, or stored in the
// future: see lifetime), then the oldest by stored-at until at most maxN
// entries of at most maxB bytes remain, and returns the new count and
// bytes. It walks the whole bucket twice, which is why it runs only past
// the bound.
func evict(b *bolt.Bucket, o Options, now time.Time, maxN int, maxB int64) (n, size uint64, err error) {
	type age struct{ stored, size int64 }
	var keep []age // the entries worth keeping
	var keepB int64
	nowNs := now.UnixNano()
	cur := b.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if stored, _, live := o.lifetime(v, nowNs); live {
			keep = append(keep, age{stored, int64(len(k) + len(v))})
			keepB += int64(len(k) + len(v))
		}
	}

	// Drop the oldest until under both bounds: everything stored before
	// cutoff, plus ties at cutoff up to the excess (a run stores its batch
	// at one instant, so ties are common).
	cutoff, ties := int64(-1<<63), 0
	slices.SortFunc(keep, func(a, b age) int { return cmp.Compare(a.stored, b.stored) })
	excess := 0
	for ; excess < len(keep) && (len(keep)-excess > maxN || keepB > maxB); excess++ {
		keepB -= keep[excess].size
	}
	if excess > 0 {
		cutoff = keep[excess-1].stored
		below, _ := slices.BinarySearchFunc(keep, cutoff, func(a age, t int64) int { return cmp.Compare(a.stored, t) })
		ties = excess - below
	}

	for k, v := cur.First(); k != nil; {
		stored, _, live := o.lifetime(v, nowNs)
		drop := !live || stored < cutoff
		if !drop && stored == cutoff && ties > 0 {
			drop = true
			ties--
		}
		if !drop {
			n++
			size += uint64(len(k) + len(v))
			k, v = cur.Next()
			continue
		}
		// Next after Delete skips a key; seek past the deleted one instead.
		k = bytes.Clone(k)
		if err := cur.Delete(); err != nil {
			return 0, 0, err
		}
		k, v = cur.Seek(k)
	}
	return n, size, nil
}

// lifetime returns when the stored entry v was stored and expires (Unix
// ns), and whether it is still an answer at now. An entry lives at most its TTL from
// when it was stored, whatever its header says (the TTL may have been
// shortened since, or the header damaged), and one stored after now, by a
// clock since set back, is of unknown age: it is dead. So a clock step back
// costs at most one TTL of answers, never as long as the step.
func (o Options) lifetime(v []byte, now int64) (stored, expires int64, live bool) {
	stored, expires, ok := header(v)
	if !ok || stored > now {
		return 0, 0, false
	}
	ttl := o.NegativeTTL
	if len(v) > headerLen {
		ttl = o.TTL
	}
	expires = min(expires, stored+int64(ttl))
	return stored, expires, now < expires
}

func header(v []byte) (stored, expires int64, ok bool) {
	if len(v) < headerLen || v[0] != entryVersion {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(v[1:9])), int64(binary.BigEndian.Uint64(v[9:17])), true
}

func encodeEntry(now time.Time, e entry, fp [4]byte) ([]byte, error) {
	v := make([]byte, headerLen, headerLen+512*len(e.attrs))
	v[0] = entryVersion
	binary.BigEndian.PutUint64(v[1:9], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(v[9:17], uint64(e.expires.UnixNano()))
	copy(v[17:21], fp[:])
	if len(e.attrs) == 0 {
		return v, nil
	}
	return encodeAttrs(v, e.attrs)
}

// readEntry looks k up on disk. An expired, oversized or undecodable entry,
// or one written for other attribute types, is a miss; only damage (found
// by the checks or by bbolt) is an error.
func (c *Cache) readEntry(k string, now time.Time) (e entry, ok bool, err error) {
	// bbolt reads the file through mmap: a damaged page offset makes it
	// touch memory it does not own, which Go reports as a fatal fault that
	// recover cannot catch unless faults are turned into panics.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			e, ok, err = entry{}, false, fmt.Errorf("%w: %v", errDamaged, r)
		}
	}()
	chk, err := c.checker()
	if err != nil {
		return entry{}, false, err
	}
	if err := chk.Path(bucketEntries, []byte(k)); err != nil {
		return entry{}, false, err
	}
	err = c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketEntries))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(k))
		_, expires, live := c.o.lifetime(v, now.UnixNano())
		if !live || len(v) > maxEntryBytes || [4]byte(v[17:21]) != c.schema {
			return nil
		}
		e.expires = time.Unix(0, expires)
		if body := v[headerLen:]; len(body) > 0 {
			attrs, err := decodeAttrs(body)
			if err != nil || len(attrs) == 0 {
				return nil
			}
			e.attrs = attrs
		}
		ok = true
		return nil
	})
	return e, ok, err
}
