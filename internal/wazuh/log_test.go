package wazuh

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newTestLog returns a log on path with a fixed clock whose fallback
// output is collected in the returned buffer.
func newTestLog(path string) (*Log, *bytes.Buffer) {
	var fallback bytes.Buffer
	l := NewLog(path, false)
	l.now = func() time.Time { return time.Date(2026, 11, 27, 16, 47, 5, 0, time.UTC) }
	l.fallback = &fallback
	return l, &fallback
}

func TestLog_AppendsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "integrations.log")
	if err := os.WriteFile(path, []byte("earlier line\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	l, fallback := newTestLog(path)
	l.Warnf("first")
	l.Errorf("second\nline")
	l.Debugf("not in debug mode")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	want := "earlier line\n" +
		"2026/11/27 16:47:05 custom-misp[" + strconv.Itoa(pid) + "]: WARNING: first\n" +
		"2026/11/27 16:47:05 custom-misp[" + strconv.Itoa(pid) + "]: ERROR: second line\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("log file (-want +got):\n%s", diff)
	}
	if fallback.Len() != 0 {
		t.Errorf("fallback output for a usable log: %q", fallback)
	}
}

// TestLog_RefusesPlantedFiles: logs/ is writable by user wazuh, so what is
// at integrations.log may have been planted for a root run to write to.
func TestLog_RefusesPlantedFiles(t *testing.T) {
	tests := []struct {
		name     string
		plant    func(t *testing.T, path, dir string)
		wantLine string // %s is the log path
	}{
		{
			name: "symbolic link to a file",
			plant: func(t *testing.T, path, dir string) {
				if err := os.Symlink(filepath.Join(dir, "precious"), path); err != nil {
					t.Fatal(err)
				}
			},
			wantLine: "custom-misp: log file %s: is a symbolic link, not followed (remove it: custom-misp creates the file)\n",
		},
		{
			name: "dangling symbolic link",
			plant: func(t *testing.T, path, dir string) {
				if err := os.Symlink(filepath.Join(dir, "created-through-the-link"), path); err != nil {
					t.Fatal(err)
				}
			},
			wantLine: "custom-misp: log file %s: is a symbolic link, not followed (remove it: custom-misp creates the file)\n",
		},
		{
			name: "named pipe with a reader",
			plant: func(t *testing.T, path, dir string) {
				if err := syscall.Mkfifo(path, 0o600); err != nil {
					t.Fatal(err)
				}
				// A reader makes the open itself succeed: only the
				// file type check stops the write.
				r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					buf := make([]byte, 512)
					if n, _ := r.Read(buf); n > 0 {
						t.Errorf("the pipe received %q", buf[:n])
					}
					r.Close()
				})
			},
			wantLine: "custom-misp: log file %s: is a named pipe, not a regular file: not written to\n",
		},
		{
			name: "named pipe without a reader",
			plant: func(t *testing.T, path, dir string) {
				if err := syscall.Mkfifo(path, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantLine: "custom-misp: log file %s: is a named pipe, not a regular file: not written to\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			precious := filepath.Join(dir, "precious")
			if err := os.WriteFile(precious, []byte("root's file\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "integrations.log")
			tt.plant(t, path, dir)
			l, fallback := newTestLog(path)
			l.Warnf("first")
			l.Warnf("second")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(precious); err != nil || string(got) != "root's file\n" {
				t.Errorf("the link's target now holds %q (%v)", got, err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "created-through-the-link")); !os.IsNotExist(err) {
				t.Errorf("a file was created through the link: %v", err)
			}
			// One line, naming the path, however many lines were logged.
			if diff := cmp.Diff(strings.Replace(tt.wantLine, "%s", path, 1), fallback.String()); diff != "" {
				t.Errorf("fallback output (-want +got):\n%s", diff)
			}
		})
	}
}
