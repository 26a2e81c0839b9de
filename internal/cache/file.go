package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Why the store could not be opened. None of them says anything about the
// file's contents, so the file is left where it is.
var (
	errLocked     = errors.New("held by another process")
	errSymlink    = errors.New("is a symbolic link, which is never followed")
	errNotRegular = errors.New("is not a regular file")
)

// openError is a failure to open or lock the store, before any of it was
// read: unlike damage, it never moves the file aside.
type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// lockPoll is how often a run waiting for another process's lock tries
// again.
const lockPoll = 10 * time.Millisecond

// lockClock measures and passes the time a run waits for another
// process's lock. It is not Options.Now: a wait is measured on the
// monotonic clock, whatever the wall clock does. Tests replace it, so that
// the contention is real and the waiting is not.
type lockClock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

// openLocked opens the store for bbolt (its Options.OpenFile): never
// through a symbolic link, only a regular file, and locked as bbolt would
// lock it (shared to read, exclusive to write), waiting at most wait. bbolt
// then takes the lock again on the same open file, which succeeds at once.
// Taking it here lets the pages bbolt reads at open be checked under the
// lock, before bbolt reads them.
func openLocked(o Options, path string, flag int, perm os.FileMode, exclusive bool, wait time.Duration) (f *os.File, waited time.Duration, err error) {
	// O_NONBLOCK: opening a FIFO planted at the path cannot hang the run
	// (it is then refused as not a regular file); it changes nothing for
	// a regular file.
	f, err = o.openFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, 0, &openError{errSymlink}
	}
	if err != nil {
		return nil, 0, &openError{err}
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotRegular
	}
	if err == nil && flag&os.O_CREATE != 0 && fi.Size() == 0 {
		shareWithDirGroup(f, filepath.Dir(path))
	}
	if err == nil {
		waited, err = lockFile(f, exclusive, wait, o.lockClock)
	}
	if err != nil {
		_ = f.Close()
		return nil, waited, &openError{err}
	}
	return f, waited, nil
}

// shareWithDirGroup gives a store that a root run (custom-misp check,
// lookup, doctor) has just created the group of its directory (root:wazuh
// after make install) and mode 0660, whatever root's umask: otherwise the
// file is root:root 0640 and every later run of integratord, as user
// wazuh, goes without the disk cache (and so without its one error event
// per class and window), as seen on a Wazuh 4.14.7 manager. Only root can
// give a file away; a file made by anyone else is theirs already. Best
// effort: a failure leaves the file as it was, which the wazuh user's run
// reports with its fix.
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
func lockFile(f *os.File, exclusive bool, wait time.Duration, clock lockClock) (waited time.Duration, err error) {
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
			return waited, errLocked
		}
		clock.Sleep(min(lockPoll, wait-waited))
	}
}

// refusal says in one line why the store at path was not opened (err is
// an openError) and what the run does instead.
func refusal(path string, err error, wait time.Duration, instead string) error {
	switch {
	case errors.Is(err, errLocked):
		return fmt.Errorf("cache: store %s %w for %v; %s", path, errLocked, wait, instead)
	case errors.Is(err, errSymlink):
		return fmt.Errorf("cache: store %s %w; %s", path, errSymlink, instead)
	case errors.Is(err, errNotRegular):
		return fmt.Errorf("cache: store %s %w; %s", path, errNotRegular, instead)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cache: store %s: %w: user wazuh must be able to read and write it (owner root:wazuh, mode 0660, in a directory root:wazuh 0770); %s",
			path, errnoOf(err), instead)
	}
	return fmt.Errorf("cache: open store %s: %w; %s", path, err, instead)
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
