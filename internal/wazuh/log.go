package wazuh

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Log appends lines to integrations.log, the file Wazuh's own integrations
// write to. Warnings and errors are always written, one line each; Debug
// lines only when integratord passed "debug". The file is opened on the
// first line, so a quiet run costs no system call.
type Log struct {
	path  string
	debug bool
	now   func() time.Time

	mu   sync.Mutex
	file *os.File
	dead bool // opening failed once; stop trying
}

// NewLog returns a log writing to path.
func NewLog(path string, debug bool) *Log {
	return &Log{path: path, debug: debug, now: time.Now}
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
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			l.dead = true
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
