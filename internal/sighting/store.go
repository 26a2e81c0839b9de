// Package sighting is the memory of the sightings custom-misp sent to one
// MISP server, across runs: which attribute was sighted for which agent
// and when, so that an indicator matched again and again is sighted once
// per agent and window, and whether MISP refused sightings (a key without
// perm_sighting), so that a refused key is not tried on every alert.
//
// It is a small bbolt file (config's sightings_path, one per MISP
// instance), opened the way the cache opens its store (internal/boltfile):
// never through a symbolic link, locked with a bounded wait, checked page
// by page before bbolt reads it; a damaged file is moved aside and
// rebuilt. Every use writes (or may), so the lock is always exclusive; a
// run holds it only while it decides and sends its sightings.
package sighting

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/custom-misp/custom-misp/internal/boltfile"
)

// ErrBusy is the error (under Open's) when another run holds the file
// for longer than the lock wait.
var ErrBusy = boltfile.ErrLocked

// Bounds of the memory.
const (
	// MaxPairs bounds the agent/attribute pairs kept: 50,000 pairs of an
	// agent id, a UUID and a time are about 4 MB of file.
	MaxPairs = 50_000
	// MaxAge is how long a pair is kept when no window says otherwise:
	// a pair older than the window never holds a sighting back.
	MaxAge = 7 * 24 * time.Hour
	// pruneEvery is how often the whole file is walked for old pairs
	// when it is under MaxPairs.
	pruneEvery = 24 * time.Hour
	// pruneTo is the fraction (in tenths) of MaxPairs a prune over the
	// bound leaves, so that it runs once per tenth, not every run.
	pruneTo = 9
	// maxAgent bounds the agent id in a key: Wazuh's are 3 to 5 digits.
	maxAgent = 128
)

// maxPairs is MaxPairs; tests lower it.
var maxPairs = MaxPairs

// Layout of the bbolt file:
//
//	sent:  agent NUL lowercased UUID → when it was sighted (Unix ns, uint64 big endian)
//	state: "count" → pairs in sent; "pruned" → when they were last pruned;
//	       "refused" → when MISP last refused; "until" → no sightings
//	       before then; "logged" → when a refusal was last logged
//	       (Unix ns, uint64 big endian)
const (
	bucketSent  = "sent"
	bucketState = "state"
	keyCount    = "count"
	keyPruned   = "pruned"
	keyRefused  = "refused"
	keyUntil    = "until"
	keyLogged   = "logged"
)

// Store is one open sighting memory. It is not safe for concurrent use;
// a run opens it, uses it and closes it.
type Store struct {
	path   string
	db     *bolt.DB
	file   *os.File
	chk    *boltfile.Checker // what this hold of the lock has checked; nil after a write
	broken error             // damage found after Open: Close moves the file aside
	notice error             // what Open repaired, for the caller to log
	now    func() time.Time  // names a moved-aside copy
}

// options are for tests: the file opener, the lock-wait clock and the
// clock that names moved-aside copies.
type options struct {
	open  boltfile.OpenFunc
	clock boltfile.LockClock
	now   func() time.Time // names a moved-aside copy
}

// Open opens (creating if need be) the memory at path, waiting at most
// lockWait for another run. A file that is a symbolic link, not a regular
// file or not readable is refused (an error naming it and the fix); one
// held longer than lockWait is ErrBusy. A damaged file is moved aside to
// path.corrupt-<ns> and a new one is created: Open then succeeds, and
// Notice says so. The directory is created 0770 and the file 0660 (less
// the umask), like the cache's.
func Open(path string, lockWait time.Duration) (*Store, error) {
	return open(path, lockWait, options{})
}

func open(path string, lockWait time.Duration, o options) (*Store, error) {
	if o.open == nil {
		o.open = os.OpenFile
	}
	if o.clock == nil {
		o.clock = boltfile.RealClock{}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if lockWait <= 0 {
		lockWait = time.Nanosecond // bbolt reads 0 as "wait forever"
	}
	const off = "no sightings this run"
	if path == "" {
		return nil, errors.New("sightings: no sightings_path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o770); err != nil {
		return nil, fmt.Errorf("sightings: create the store's directory: %w; %s", err, off)
	}
	before, err := os.Lstat(path)
	switch {
	case err == nil && before.Mode()&fs.ModeSymlink != 0:
		return nil, boltfile.Refusal("sightings", path, boltfile.ErrSymlink, 0, off)
	case err == nil && !before.Mode().IsRegular():
		return nil, boltfile.Refusal("sightings", path, boltfile.ErrNotRegular, 0, off)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, boltfile.Refusal("sightings", path, err, 0, off)
	}
	s, err := load(path, lockWait, o)
	if err == nil {
		return s, nil
	}
	var notOpened *boltfile.OpenError
	if errors.As(err, &notOpened) {
		return nil, boltfile.Refusal("sightings", path, err, lockWait, off)
	}
	aside, mvErr := boltfile.MoveAside(path, o.now())
	if mvErr != nil {
		return nil, fmt.Errorf("sightings: store %s unusable (%v), cannot move it aside: %w; %s", path, err, mvErr, off)
	}
	s, err2 := load(path, lockWait, o)
	if err2 != nil {
		return nil, fmt.Errorf("sightings: store %s moved aside to %s (%v), cannot recreate it: %w; %s", path, aside, err, err2, off)
	}
	s.notice = fmt.Errorf("sightings: store %s unusable (%w); moved aside to %s and recreated: attributes may be sighted again once", path, err, aside)
	return s, nil
}

// Notice says what Open repaired (a damaged file moved aside and
// rebuilt), or nil: one line for the caller to log.
func (s *Store) Notice() error { return s.notice }

// load opens and checks the file for writing. An error is an
// *boltfile.OpenError when the file was not opened; anything else means
// it is damaged.
func load(path string, lockWait time.Duration, o options) (s *Store, err error) {
	s = &Store{path: path, now: o.now}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if s.db != nil {
				_ = s.db.Close()
			} else if s.file != nil {
				_ = s.file.Close()
			}
			s, err = nil, fmt.Errorf("%w: %v", boltfile.ErrDamaged, r)
		}
	}()
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, _, err := boltfile.OpenLocked(o.open, o.clock, name, flag, perm, true, lockWait)
		if err != nil {
			return nil, err
		}
		// An empty file is bbolt's to initialise; it is checked below.
		fi, err := f.Stat()
		if err == nil && fi.Size() > 0 {
			s.chk, err = boltfile.NewChecker(f, true)
		}
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		s.file = f
		return f, nil
	}
	db, err := bolt.Open(path, 0o660, &bolt.Options{Timeout: time.Nanosecond, OpenFile: openFile})
	if err != nil {
		return nil, err
	}
	s.db = db
	if s.chk == nil {
		if s.chk, err = boltfile.NewChecker(s.file, true); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return s, nil
}

// checker returns what this hold of the lock has checked, afresh after a
// write.
func (s *Store) checker() (*boltfile.Checker, error) {
	if s.chk == nil {
		chk, err := boltfile.NewChecker(s.file, true)
		if err != nil {
			return nil, err
		}
		s.chk = chk
	}
	return s.chk, nil
}

// pairKey is the sent bucket's key for agent and uuid.
func pairKey(agent, uuid string) []byte {
	agent = strings.ReplaceAll(agent, "\x00", "")
	if len(agent) > maxAgent {
		agent = agent[:maxAgent]
	}
	return []byte(agent + "\x00" + strings.ToLower(uuid))
}

func u64(v []byte) (int64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v)), true
}

func put64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// view runs fn in a read transaction after checking the pages of the
// keys it reads; damage marks the store broken.
func (s *Store) view(paths [][2]string, fn func(tx *bolt.Tx) error) error {
	return s.checked(paths, nil, func() error { return s.db.View(fn) })
}

// update is view for a write: the free list must name none of the pages
// read (nor of the bucket whole, when set), and after it the checks start
// afresh.
func (s *Store) update(paths [][2]string, whole string, fn func(tx *bolt.Tx) error) error {
	more := func(chk *boltfile.Checker) error {
		if whole != "" {
			if err := chk.Tree(whole); err != nil {
				return err
			}
		}
		return chk.Reusable()
	}
	return s.checked(paths, more, func() error {
		defer func() { s.chk = nil }() // the transaction rewrites pages
		return s.db.Update(fn)
	})
}

// checked runs tx once the pages of paths (and whatever more checks)
// are sound. Damage found, or a fault while bbolt reads a page, marks
// the store broken: every later call fails at once.
func (s *Store) checked(paths [][2]string, more func(*boltfile.Checker) error, tx func() error) (err error) {
	if s.broken != nil {
		return s.broken
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", boltfile.ErrDamaged, r)
		}
		if errors.Is(err, boltfile.ErrDamaged) {
			s.broken = err
		}
	}()
	chk, err := s.checker()
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := chk.Path(p[0], []byte(p[1])); err != nil {
			return err
		}
	}
	if more != nil {
		if err := more(chk); err != nil {
			return err
		}
	}
	return tx()
}

// live says whether a pair sighted at sent (Unix ns) still holds a
// sighting back at now. One sighted after now (a clock since set back)
// is of unknown age: it holds nothing back, so a clock step costs at
// most a repeated sighting, never a long silence.
func live(sent int64, now time.Time, window time.Duration) bool {
	n := now.UnixNano()
	return sent <= n && n-sent < int64(window)
}

// Due returns those of uuids not sighted for agent within window before
// now, in their order, each once. A store it cannot read answers all of
// them: a sighting sent twice costs less than one lost.
func (s *Store) Due(now time.Time, window time.Duration, agent string, uuids []string) []string {
	var paths [][2]string
	for _, u := range uuids {
		paths = append(paths, [2]string{bucketSent, string(pairKey(agent, u))})
	}
	var due []string
	seen := map[string]bool{}
	err := s.view(paths, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSent))
		for _, u := range uuids {
			k := pairKey(agent, u)
			if seen[string(k)] {
				continue
			}
			seen[string(k)] = true
			if b != nil {
				if sent, ok := u64(b.Get(k)); ok && live(sent, now, window) {
					continue
				}
			}
			due = append(due, u)
		}
		return nil
	})
	if err != nil {
		return slices.Compact(slices.Clone(uuids))
	}
	return due
}

// Sent remembers that uuids were sighted for agent at now, and that MISP
// took them (any refusal is forgotten). Past MaxPairs, or once a day, old
// pairs are pruned: those out of window (MaxAge when it is 0), then the
// oldest.
func (s *Store) Sent(now time.Time, window time.Duration, agent string, uuids []string) error {
	if len(uuids) == 0 {
		return nil
	}
	paths := [][2]string{{bucketState, keyCount}, {bucketState, keyPruned}, {bucketState, keyRefused}, {bucketState, keyUntil}}
	keys := make([][]byte, 0, len(uuids))
	for _, u := range uuids {
		k := pairKey(agent, u)
		keys = append(keys, k)
		paths = append(paths, [2]string{bucketSent, string(k)})
	}
	// In key order: bbolt inserts into sorted pages.
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	var prune bool
	err := s.view(paths[:2], func(tx *bolt.Tx) error {
		st := tx.Bucket([]byte(bucketState))
		if st == nil {
			return nil
		}
		count, _ := u64(st.Get([]byte(keyCount)))
		pruned, _ := u64(st.Get([]byte(keyPruned)))
		prune = count+int64(len(keys)) > int64(maxPairs) || now.UnixNano()-pruned >= int64(pruneEvery) || pruned > now.UnixNano()
		return nil
	})
	if err != nil {
		return s.failed("remember the sightings sent", err)
	}
	whole := ""
	if prune {
		whole = bucketSent
	}
	err = s.update(paths, whole, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketSent))
		if err != nil {
			return err
		}
		st, err := tx.CreateBucketIfNotExists([]byte(bucketState))
		if err != nil {
			return err
		}
		count, _ := u64(st.Get([]byte(keyCount)))
		for _, k := range keys {
			if b.Get(k) == nil {
				count++
			}
			if err := b.Put(k, put64(now.UnixNano())); err != nil {
				return err
			}
		}
		if prune {
			if count, err = s.prune(b, now, window); err != nil {
				return err
			}
			if err := st.Put([]byte(keyPruned), put64(now.UnixNano())); err != nil {
				return err
			}
		}
		for _, k := range []string{keyRefused, keyUntil} {
			if err := st.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return st.Put([]byte(keyCount), put64(count))
	})
	if err != nil {
		return s.failed("remember the sightings sent", err)
	}
	return nil
}

// prune deletes the pairs out of the retention (keep, or MaxAge when it
// is 0) or sighted after now, then the oldest until at most
// MaxPairs*pruneTo/10 remain, and returns how many remain.
func (s *Store) prune(b *bolt.Bucket, now time.Time, keep time.Duration) (int64, error) {
	if keep <= 0 {
		keep = MaxAge
	}
	var alive []int64
	c := b.Cursor()
	for k, v := c.First(); k != nil; {
		sent, ok := u64(v)
		if ok && live(sent, now, keep) {
			alive = append(alive, sent)
			k, v = c.Next()
			continue
		}
		k = bytes.Clone(k)
		if err := c.Delete(); err != nil {
			return 0, err
		}
		k, v = c.Seek(k)
	}
	limit := maxPairs * pruneTo / 10
	if len(alive) <= limit {
		return int64(len(alive)), nil
	}
	slices.SortFunc(alive, cmp.Compare)
	cutoff := alive[len(alive)-limit] // keep pairs sighted at or after it
	n := int64(0)
	for k, v := c.First(); k != nil; {
		if sent, _ := u64(v); sent >= cutoff {
			n++
			k, v = c.Next()
			continue
		}
		k = bytes.Clone(k)
		if err := c.Delete(); err != nil {
			return 0, err
		}
		k, v = c.Seek(k)
	}
	return n, nil
}

// Refused remembers that MISP refused sightings at now: none are tried
// before now+window (RefusedUntil). It returns true when the refusal is
// worth a log line: at most once per window.
func (s *Store) Refused(now time.Time, window time.Duration) (logNow bool) {
	paths := [][2]string{{bucketState, keyRefused}, {bucketState, keyUntil}, {bucketState, keyLogged}}
	err := s.update(paths, "", func(tx *bolt.Tx) error {
		st, err := tx.CreateBucketIfNotExists([]byte(bucketState))
		if err != nil {
			return err
		}
		logged, ok := u64(st.Get([]byte(keyLogged)))
		logNow = !ok || !live(logged, now, window)
		if logNow {
			if err := st.Put([]byte(keyLogged), put64(now.UnixNano())); err != nil {
				return err
			}
		}
		if err := st.Put([]byte(keyRefused), put64(now.UnixNano())); err != nil {
			return err
		}
		return st.Put([]byte(keyUntil), put64(now.Add(window).UnixNano()))
	})
	if err != nil {
		return true // unremembered: say it rather than stay silent
	}
	return logNow
}

// RefusedUntil is when sightings may be tried again after MISP refused
// them; the zero time when it did not, or took sightings since.
func (s *Store) RefusedUntil() time.Time {
	var until time.Time
	_ = s.view([][2]string{{bucketState, keyUntil}}, func(tx *bolt.Tx) error {
		if st := tx.Bucket([]byte(bucketState)); st != nil {
			if n, ok := u64(st.Get([]byte(keyUntil))); ok {
				until = time.Unix(0, n)
			}
		}
		return nil
	})
	return until
}

// failed describes an error of the store in one line.
func (s *Store) failed(what string, err error) error {
	if errors.Is(err, boltfile.ErrDamaged) {
		return fmt.Errorf("sightings: store %s damaged, cannot %s: %w (moved aside at close)", s.path, what, err)
	}
	return fmt.Errorf("sightings: store %s: cannot %s: %w", s.path, what, err)
}

// Close closes the file, which releases the lock. A file found damaged
// meanwhile is moved aside, so that the next run starts afresh; the error
// says so.
func (s *Store) Close() error {
	var err error
	if s.db != nil {
		err = s.db.Close()
		s.db, s.file, s.chk = nil, nil, nil
	}
	if s.broken != nil {
		aside, mvErr := boltfile.MoveAside(s.path, s.now())
		if mvErr != nil {
			err = errors.Join(err, fmt.Errorf("sightings: store %s damaged (%v), cannot move it aside: %w", s.path, s.broken, mvErr))
		} else {
			err = errors.Join(err, fmt.Errorf("sightings: store %s damaged (%v); moved aside to %s", s.path, s.broken, aside))
		}
		s.broken = nil
	}
	return err
}
