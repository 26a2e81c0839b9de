package sighting

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

const (
	u1 = "19f709e1-c921-4939-87cf-669935e4a78b"
	u2 = "81e779f5-a80b-429c-94a9-51de7291b663"
	u3 = "1d1e00a5-33df-4657-831b-c23ad892064a"
)

func openT(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Notice() != nil {
		t.Errorf("notice on a sound file: %v", s.Notice())
	}
	return s
}

func closeT(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDue_OncePerAgentAndWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sightings.db")
	const window = time.Hour
	s := openT(t, path)
	if due := s.Due(t0, window, "001", []string{u1, u2, u1}); !slices.Equal(due, []string{u1, u2}) {
		t.Fatalf("empty store: due %v, want [u1 u2]", due)
	}
	if err := s.Sent(t0, time.Hour, "001", []string{u1, u2}); err != nil {
		t.Fatal(err)
	}
	closeT(t, s)

	// A later run: the memory is the file's.
	s = openT(t, path)
	defer closeT(t, s)
	for _, tt := range []struct {
		name  string
		now   time.Time
		agent string
		in    []string
		want  []string
	}{
		{"within the window", t0.Add(window - time.Second), "001", []string{u1, u2, u3}, []string{u3}},
		{"upper-case UUID is the same attribute", t0.Add(time.Minute), "001", []string{strings.ToUpper(u1)}, nil},
		{"another agent", t0.Add(time.Minute), "002", []string{u1}, []string{u1}},
		{"window over", t0.Add(window), "001", []string{u1, u2}, []string{u1, u2}},
		{"clock set back before the sighting", t0.Add(-time.Minute), "001", []string{u1}, []string{u1}},
	} {
		if due := s.Due(tt.now, window, tt.agent, tt.in); !slices.Equal(due, tt.want) {
			t.Errorf("%s: due %v, want %v", tt.name, due, tt.want)
		}
	}
	// A longer window holds the same pairs back longer.
	if due := s.Due(t0.Add(2*window), 3*window, "001", []string{u1}); len(due) != 0 {
		t.Errorf("window 3h after 2h: due %v, want none", due)
	}
}

func TestRefused_OnceAWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sightings.db")
	const window = time.Hour
	s := openT(t, path)
	if !s.RefusedUntil().IsZero() {
		t.Fatalf("new store refused until %v", s.RefusedUntil())
	}
	if !s.Refused(t0, window) {
		t.Error("first refusal not logged")
	}
	closeT(t, s)
	s = openT(t, path)
	defer closeT(t, s)
	if got := s.RefusedUntil(); !got.Equal(t0.Add(window)) {
		t.Errorf("refused until %v, want %v", got, t0.Add(window))
	}
	if s.Refused(t0.Add(window/2), window) {
		t.Error("second refusal within the window logged")
	}
	if !s.Refused(t0.Add(window/2+window), window) {
		t.Error("refusal a window after the logged one not logged")
	}
	// MISP took sightings again: the refusal is over.
	if err := s.Sent(t0.Add(3*window), time.Hour, "001", []string{u1}); err != nil {
		t.Fatal(err)
	}
	if got := s.RefusedUntil(); !got.IsZero() {
		t.Errorf("refused until %v after sightings were taken", got)
	}
}

func TestOpen_Busy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sightings.db")
	s := openT(t, path)
	defer closeT(t, s)
	_, err := Open(path, 20*time.Millisecond)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("second open: %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestOpen_RefusesLinksAndOddFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link, time.Second); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlink: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "not ours" {
		t.Errorf("link target changed: %q", b)
	}
	fifo := filepath.Join(dir, "fifo.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fifo, time.Second); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo: %v", err)
	}
}

func TestOpen_DamagedFileRebuilt(t *testing.T) {
	for _, tt := range []struct {
		name    string
		content func(t *testing.T, path string) []byte
	}{
		{"garbage", func(*testing.T, string) []byte { return []byte(strings.Repeat("\xff", 16384)) }},
		{"truncated", func(t *testing.T, path string) []byte {
			s := openT(t, path)
			if err := s.Sent(t0, time.Hour, "001", []string{u1}); err != nil {
				t.Fatal(err)
			}
			closeT(t, s)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return b[:len(b)/2]
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sightings.db")
			b := tt.content(t, path)
			if err := os.WriteFile(path, b, 0o660); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer closeT(t, s)
			if s.Notice() == nil || !strings.Contains(s.Notice().Error(), "moved aside") {
				t.Errorf("notice = %v, want one saying it moved the file aside", s.Notice())
			}
			if due := s.Due(t0, time.Hour, "001", []string{u1}); !slices.Equal(due, []string{u1}) {
				t.Errorf("rebuilt store: due %v", due)
			}
			if err := s.Sent(t0, time.Hour, "001", []string{u1}); err != nil {
				t.Errorf("rebuilt store: %v", err)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("moved-aside copies %v, want 1", aside)
			}
			if got, _ := os.ReadFile(aside[0]); string(got) != string(b) {
				t.Error("the moved-aside copy is not the damaged file")
			}
		})
	}
}

func TestOpen_FileMode(t *testing.T) {
	old := syscall.Umask(0o007)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "var")
	path := filepath.Join(dir, "sightings.db")
	closeT(t, openT(t, path))
	for p, want := range map[string]os.FileMode{path: 0o660, dir: 0o770 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
}

func pairs(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucketSent)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n
}

func TestSent_Bounded(t *testing.T) {
	defer func(n int) { maxPairs = n }(maxPairs)
	maxPairs = 100
	path := filepath.Join(t.TempDir(), "sightings.db")
	s := openT(t, path)
	uuid := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", i) }
	// 150 pairs, one a second: past the bound, the oldest go first.
	for i := range 150 {
		if err := s.Sent(t0.Add(time.Duration(i)*time.Second), time.Hour, "001", []string{uuid(i)}); err != nil {
			t.Fatal(err)
		}
	}
	closeT(t, s)
	if n := pairs(t, path); n > 100 {
		t.Errorf("%d pairs kept, bound 100", n)
	}
	s = openT(t, path)
	defer closeT(t, s)
	now := t0.Add(150 * time.Second)
	if due := s.Due(now, time.Hour, "001", []string{uuid(0), uuid(149)}); !slices.Equal(due, []string{uuid(0)}) {
		t.Errorf("due %v, want the oldest only (pruned), not the newest", due)
	}
}

func TestSent_PrunesOutOfWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sightings.db")
	s := openT(t, path)
	if err := s.Sent(t0, time.Hour, "001", []string{u1, u2}); err != nil {
		t.Fatal(err)
	}
	// A day later, a run with the same window prunes the old pairs (the
	// window Sent is given, not MaxAge: Due is called on another open).
	later := t0.Add(pruneEvery)
	if err := s.Sent(later, time.Hour, "002", []string{u3}); err != nil {
		t.Fatal(err)
	}
	closeT(t, s)
	if n := pairs(t, path); n != 1 {
		t.Errorf("%d pairs kept, want 1 (the two out of the window pruned)", n)
	}
}
