package cache

import (
	"os"
	"time"

	"github.com/custom-misp/custom-misp/internal/boltfile"
)

// The store's file handling is boltfile's, shared with the sighting
// memory; these names keep this package's code and tests short.
var (
	errLocked     = boltfile.ErrLocked
	errSymlink    = boltfile.ErrSymlink
	errNotRegular = boltfile.ErrNotRegular
	errDamaged    = boltfile.ErrDamaged
)

type (
	openError = boltfile.OpenError
	lockClock = boltfile.LockClock
	realClock = boltfile.RealClock
	checker   = boltfile.Checker
)

const (
	keepAside  = boltfile.KeepAside
	asideInfix = boltfile.AsideInfix
)

func newChecker(f *os.File, forWrite bool) (*checker, error) { return boltfile.NewChecker(f, forWrite) }

// openLocked opens the store for bbolt: see boltfile.OpenLocked.
func openLocked(o Options, path string, flag int, perm os.FileMode, exclusive bool, wait time.Duration) (*os.File, time.Duration, error) {
	return boltfile.OpenLocked(o.openFile, o.lockClock, path, flag, perm, exclusive, wait)
}

// refusal says in one line why the store at path was not opened.
func refusal(path string, err error, wait time.Duration, instead string) error {
	return boltfile.Refusal("cache", path, err, wait, instead)
}

// moveAside moves a damaged store out of the way: see boltfile.MoveAside.
func moveAside(o Options) (string, error) { return boltfile.MoveAside(o.Path, o.Now()) }
