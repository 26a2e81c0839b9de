// Package boltfile opens the bbolt files custom-misp keeps across runs
// (the cache, the sighting memory) safely: never through a symbolic link,
// only a regular file, locked as bbolt locks it with a bounded wait, and
// checked page by page before bbolt reads it (verify.go), so that a
// damaged file is found, moved aside (MoveAside) and rebuilt instead of
// crashing the run.
package boltfile

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Why a file could not be opened. None of them says anything about the
// file's contents, so the file is left where it is.
var (
	ErrLocked     = errors.New("held by another process")
	ErrSymlink    = errors.New("is a symbolic link, which is never followed")
	ErrNotRegular = errors.New("is not a regular file")
)

// OpenError is a failure to open or lock a file, before any of it was
// read: unlike damage, it never moves the file aside.
type OpenError struct{ Err error }

func (e *OpenError) Error() string { return e.Err.Error() }
func (e *OpenError) Unwrap() error { return e.Err }

// lockPoll is how often a run waiting for another process's lock tries
// again.
const lockPoll = 10 * time.Millisecond

// LockClock measures and passes the time a run waits for another
// process's lock. It is not the store's clock: a wait is measured on the
// monotonic clock, whatever the wall clock does. Tests replace it, so that
// the contention is real and the waiting is not.
type LockClock interface {
	Now() time.Time
	Sleep(time.Duration)
}

// RealClock is the LockClock of real runs.
type RealClock struct{}

func (RealClock) Now() time.Time        { return time.Now() }
func (RealClock) Sleep(d time.Duration) { time.Sleep(d) }

// OpenFunc opens a file as os.OpenFile does (tests replace it).
type OpenFunc func(name string, flag int, perm os.FileMode) (*os.File, error)

// OpenLocked opens the file for bbolt (its Options.OpenFile): never
// through a symbolic link, only a regular file, and locked as bbolt would
// lock it (shared to read, exclusive to write), waiting at most wait. bbolt
// then takes the lock again on the same open file, which succeeds at once.
// Taking it here lets the pages bbolt reads at open be checked under the
// lock, before bbolt reads them. Errors are *OpenError.
func OpenLocked(open OpenFunc, clock LockClock, path string, flag int, perm os.FileMode, exclusive bool, wait time.Duration) (f *os.File, waited time.Duration, err error) {
	// O_NONBLOCK: opening a FIFO planted at the path cannot hang the run
	// (it is then refused as not a regular file); it changes nothing for
	// a regular file.
	f, err = open(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, 0, &OpenError{ErrSymlink}
	}
	if err != nil {
		return nil, 0, &OpenError{err}
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotRegular
	}
	if err == nil && flag&os.O_CREATE != 0 && fi.Size() == 0 {
		shareWithDirGroup(f, filepath.Dir(path))
	}
	if err == nil {
		waited, err = lockFile(f, exclusive, wait, clock)
	}
	if err != nil {
		_ = f.Close()
		return nil, waited, &OpenError{err}
	}
	return f, waited, nil
}

// shareWithDirGroup gives a store that a root run (custom-misp check,
// lookup, doctor) has just created the group of its directory (root:wazuh
// after make install) and mode 0660, whatever root's umask: otherwise the
// file is root:root 0640 and every later run of integratord, as user
// wazuh, goes without it (and so, for the cache, without its one error
// event per class and window), as seen on a Wazuh 4.14.7 manager. Only
// root can give a file away; a file made by anyone else is theirs
// already. Best effort: a failure leaves the file as it was, which the
// wazuh user's run reports with its fix.
func shareWithDirGroup(f *os.File, dir string) {
	if os.Geteuid() != 0 {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return
	}
	if f.Chown(-1, int(st.Gid)) == nil {
		_ = f.Chmod(0o660)
	}
}

// lockFile takes the flock bbolt uses on f, trying every lockPoll for at
// most wait, and returns how long it waited.
func lockFile(f *os.File, exclusive bool, wait time.Duration, clock LockClock) (waited time.Duration, err error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	start := clock.Now()
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		waited = clock.Now().Sub(start)
		switch {
		case err == nil:
			return waited, nil
		case !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR):
			return waited, fmt.Errorf("lock: %w", err)
		case waited >= wait:
			return waited, ErrLocked
		}
		clock.Sleep(min(lockPoll, wait-waited))
	}
}

// Refusal says in one line why the file at path was not opened (err is
// an OpenError, or what Lstat said) and what the run does instead. pkg
// names the store's owner for the reader: "cache", "sightings".
func Refusal(pkg, path string, err error, wait time.Duration, instead string) error {
	switch {
	case errors.Is(err, ErrLocked):
		return fmt.Errorf("%s: store %s %w for %v; %s", pkg, path, ErrLocked, wait, instead)
	case errors.Is(err, ErrSymlink):
		return fmt.Errorf("%s: store %s %w; %s", pkg, path, ErrSymlink, instead)
	case errors.Is(err, ErrNotRegular):
		return fmt.Errorf("%s: store %s %w; %s", pkg, path, ErrNotRegular, instead)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: store %s: %w: user wazuh must be able to read and write it (owner root:wazuh, mode 0660, in a directory root:wazuh 0770); %s",
			pkg, path, errnoOf(err), instead)
	}
	return fmt.Errorf("%s: open store %s: %w; %s", pkg, path, err, instead)
}

// errnoOf returns the system error under err (EACCES, EPERM), or err:
// the message names the path once, not as the PathError would again.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// KeepAside is how many moved-aside files are kept for a look: a disk
// that keeps damaging a file must not fill up with copies of it.
const KeepAside = 3

// AsideInfix names the moved-aside copies: <file>.corrupt-<Unix ns>.
const AsideInfix = ".corrupt-"

// MoveAside moves a damaged file out of the way, keeping it for a look,
// and removes the oldest earlier copies beyond KeepAside. Nanoseconds keep
// two damaged files of the same second apart.
//
// A link and a remove rather than a rename: a link never replaces what is
// at the new name, so a file or symbolic link planted at
// <file>.corrupt-<ns> stays as it was and the move is refused, naming it;
// and neither call follows a symbolic link at either name.
func MoveAside(path string, now time.Time) (string, error) {
	aside := path + AsideInfix + strconv.FormatInt(now.UnixNano(), 10)
	if err := os.Link(path, aside); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return aside, fmt.Errorf("%s already exists", aside)
		}
		return aside, err
	}
	if err := os.Remove(path); err != nil {
		return aside, err
	}
	pruneAside(path, aside)
	return aside, nil
}

// pruneAside removes all but the newest KeepAside copies of path moved
// aside, never keep (the copy just made, even if the clock went back).
// Only names this package writes count: <file>.corrupt-<number>, a
// regular file; a file an admin renamed or made, and a symbolic link
// (unlinking it would not touch its target, but it is not ours), are left
// alone. Best effort: a copy left behind costs only disk space.
func pruneAside(path, keep string) {
	// Listed by hand: filepath.Glob would read [ * ? in the admin's path
	// as patterns.
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type copyAside struct {
		name string
		at   int64
	}
	prefix := filepath.Base(path) + AsideInfix
	var copies []copyAside
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() || filepath.Join(dir, e.Name()) == keep {
			continue
		}
		if suffix == "" || strings.Trim(suffix, "0123456789") != "" {
			continue
		}
		if at, err := strconv.ParseInt(suffix, 10, 64); err == nil {
			copies = append(copies, copyAside{e.Name(), at})
		}
	}
	// The one just made is kept in any case, so KeepAside-1 others.
	if len(copies) < KeepAside {
		return
	}
	slices.SortFunc(copies, func(a, b copyAside) int { return cmp.Compare(a.at, b.at) })
	for _, c := range copies[:len(copies)-(KeepAside-1)] {
		_ = os.Remove(filepath.Join(dir, c.name))
	}
}
