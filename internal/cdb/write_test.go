package cdb

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func home(t *testing.T) string {
	h := t.TempDir()
	if err := os.MkdirAll(filepath.Join(h, "etc", "lists"), 0o770); err != nil {
		t.Fatal(err)
	}
	return h
}

func lists(home string) string { return filepath.Join(home, "etc", "lists", "misp") }

func built(t *testing.T, src source) *Set {
	s, err := Build(src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func inode(t *testing.T, p string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func changed(w []Written) []string {
	var out []string
	for _, x := range w {
		if x.Changed {
			out = append(out, string(x.List))
		}
	}
	return out
}

func TestWrite_AtomicOnlyWhenChanged(t *testing.T) {
	h := home(t)
	s1 := built(t, source{attr("1", "1", "ip-dst", "203.0.113.5"), attr("1", "1", "domain", "evil.example")})
	w, err := Write(lists(h), s1)
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(w); len(got) != len(Lists) {
		t.Errorf("first write changed %q, want every list (empty ones too, so the rules' lists exist)", got)
	}
	dir := filepath.Join(h, "etc", "lists", "misp")
	ipList := filepath.Join(dir, "ip")
	b, err := os.ReadFile(ipList)
	if err != nil || string(b) != "203.0.113.5:e1 tl1\n" {
		t.Fatalf("ip list: %q %v", b, err)
	}
	fi, _ := os.Stat(ipList)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o640 || di.Mode().Perm() != 0o770 {
		t.Errorf("modes: list %v dir %v, want 0640 and 0770", fi.Mode().Perm(), di.Mode().Perm())
	}

	// The same content again: nothing is touched.
	ino := inode(t, ipList)
	w, err = Write(lists(h), s1)
	if err != nil || len(changed(w)) != 0 || inode(t, ipList) != ino {
		t.Errorf("unchanged write: changed %q err %v, inode kept %v", changed(w), err, inode(t, ipList) == ino)
	}

	// A new address: only that list is replaced, by rename (a new inode:
	// a reader holding the old file reads the old list whole).
	s2 := built(t, source{attr("1", "1", "ip-dst", "203.0.113.5"), attr("2", "3", "ip-dst", "203.0.113.6"), attr("1", "1", "domain", "evil.example")})
	w, err = Write(lists(h), s2)
	if err != nil || strings.Join(changed(w), ",") != "ip" {
		t.Fatalf("changed write: %q %v", changed(w), err)
	}
	if inode(t, ipList) == ino {
		t.Error("the list was rewritten in place, not renamed over")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// analysisd recompiles a list only when its text is newer than its .cdb,
// in whole seconds: a list written in the second of the last compile is
// dated a second later.
func TestWrite_NewerThanCompiled(t *testing.T) {
	h := home(t)
	if _, err := Write(lists(h), built(t, source{attr("1", "1", "ip-dst", "203.0.113.5")})); err != nil {
		t.Fatal(err)
	}
	ipList := filepath.Join(h, "etc", "lists", "misp", "ip")
	future := time.Unix(4102444800, 0) // the .cdb's time, whatever the clock says
	if err := os.WriteFile(ipList+".cdb", nil, 0o660); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(ipList+".cdb", future, future); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(lists(h), built(t, source{attr("1", "1", "ip-dst", "203.0.113.6")})); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(ipList)
	if fi.ModTime().Unix() <= future.Unix() {
		t.Errorf("list dated %v, not after its .cdb %v", fi.ModTime(), future)
	}
}

func TestWrite_RefusesLinks(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		h := home(t)
		dir := filepath.Join(h, "etc", "lists", "misp")
		if err := os.Mkdir(dir, 0o770); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(h, "elsewhere")
		if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, "ip")); err != nil {
			t.Fatal(err)
		}
		_, err := Write(lists(h), built(t, source{attr("1", "1", "ip-dst", "203.0.113.5")}))
		if !errors.Is(err, errSymlink) {
			t.Errorf("write over a link: %v, want %v", err, errSymlink)
		}
		if b, _ := os.ReadFile(target); string(b) != "keep\n" {
			t.Errorf("the link's target was written: %q", b)
		}
	})
	t.Run("dir", func(t *testing.T) {
		h := home(t)
		if err := os.Symlink(t.TempDir(), filepath.Join(h, "etc", "lists", "misp")); err != nil {
			t.Fatal(err)
		}
		if _, err := Write(lists(h), built(t, nil)); !errors.Is(err, errSymlink) {
			t.Errorf("write into a linked directory: %v, want %v", err, errSymlink)
		}
	})
	t.Run("no etc/lists", func(t *testing.T) {
		_, err := Write(lists(t.TempDir()), built(t, nil))
		if err == nil || !strings.Contains(err.Error(), "Wazuh manager") {
			t.Errorf("write without etc/lists: %v", err)
		}
	})
}

// A killed export leaves its temporary files; the next export removes
// those whose process is gone and leaves a running export's alone.
func TestWrite_RemovesStaleTemps(t *testing.T) {
	h := home(t)
	dir := lists(h)
	if err := os.MkdirAll(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	// A pid that existed and is gone: a child that has exited and been waited for.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	live := os.Getppid() // the go tool, running while the test runs
	for _, name := range []string{
		".ip.tmp-" + strconv.Itoa(dead),
		".sha256.tmp-" + strconv.Itoa(dead),
		".ip.tmp-" + strconv.Itoa(live),
		".ip.tmp-notapid",
		"ip.tmp", // analysisd's own temporary file while it compiles
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("half a list"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, ".md5.tmp-"+strconv.Itoa(dead))); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, built(t, source{attr("1", "1", "ip-dst", "203.0.113.5")})); err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			left = append(left, e.Name())
		}
	}
	want := []string{".ip.tmp-" + strconv.Itoa(live), ".ip.tmp-notapid", "ip.tmp"}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("temporary files left %q, want %q", left, want)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("the link's target: %v", err)
	}
}
