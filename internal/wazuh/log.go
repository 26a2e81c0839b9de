package wazuh

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Log appends lines to integrations.log, the file Wazuh's own integrations
// write to. Warnings and errors are always written, one line each; Debug
// lines only when integratord passed "debug". The file is opened on the
// first line, so a quiet run costs no system call.
//
// The file is never reached through a symbolic link, nor written unless it
// is a regular file: logs/ is writable by user wazuh, and a root run
// (check, or integratord mode by hand) must not append to whatever a link
// planted there names, nor hang on a planted FIFO. If the file cannot be
// opened, the reason is written once to standard error instead (integratord
// reads it with the program's output) and the lines are dropped.
type Log struct {
	path     string
	debug    bool
	now      func() time.Time
	fallback io.Writer // where the one line saying why the file is unusable goes

	mu   sync.Mutex
	file *os.File
	dead bool // opening failed once; stop trying
}

// NewLog returns a log writing to path.
func NewLog(path string, debug bool) *Log {
	return &Log{path: path, debug: debug, now: time.Now, fallback: os.Stderr}
}

// Debugf logs a detail, only in debug mode.
func (l *Log) Debugf(format string, args ...any) {
	if l != nil && l.debug {
		l.write("DEBUG", fmt.Sprintf(format, args...))
	}
}

// Warnf logs a warning.
func (l *Log) Warnf(format string, args ...any) { l.write("WARNING", fmt.Sprintf(format, args...)) }

// Errorf logs an error.
func (l *Log) Errorf(format string, args ...any) { l.write("ERROR", fmt.Sprintf(format, args...)) }

// DebugEnabled reports whether debug lines are written.
func (l *Log) DebugEnabled() bool { return l != nil && l.debug }

func (l *Log) write(level, msg string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil && !l.dead {
		f, err := openLog(l.path)
		if err != nil {
			l.dead = true
			fmt.Fprintf(l.fallback, "custom-misp: %v\n", err)
			return
		}
		l.file = f
	}
	if l.file == nil {
		return
	}
	// One line per message: a newline inside would split it in two.
	msg = strings.NewReplacer("\n", " ", "\r", " ").Replace(msg)
	fmt.Fprintf(l.file, "%s custom-misp[%d]: %s: %s\n", l.now().Format("2006/01/02 15:04:05"), os.Getpid(), level, msg)
}

// openLog opens path for appending, creating it if need be, but refuses a
// symbolic link (O_NOFOLLOW) and anything else that is not a regular file
// (O_NONBLOCK, so that a FIFO fails instead of waiting for a reader).
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o640)
	if err != nil {
		// The errno of a refused link or FIFO (ELOOP, ENXIO) says little:
		// say what is there instead.
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, notRegularLog(path, fi.Mode())
		}
		return nil, fmt.Errorf("log file: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegularLog(path, fi.Mode())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func notRegularLog(path string, mode fs.FileMode) error {
	if mode&fs.ModeSymlink != 0 {
		return fmt.Errorf("log file %s: is a symbolic link, not followed (remove it: custom-misp creates the file)", path)
	}
	return fmt.Errorf("log file %s: is %s, not a regular file: not written to", path, fileKind(mode))
}

// fileKind names what a file of this mode is, for error messages.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// Close closes the file if it was opened.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}
