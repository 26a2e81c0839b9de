package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/layout"
)

const repoRoot = "../.."

// testEpoch is the mtime of the test builds: 2024-01-02 03:04:05 UTC.
var testEpoch = time.Unix(1704164645, 0).UTC()

func fakeBuild(t *testing.T, bins, out string) []artifact {
	t.Helper()
	c := &config{version: "v1.2.3", arches: []string{"amd64", "arm64"}, out: out, repo: repoRoot, binDir: bins, mtime: testEpoch}
	arts, err := build(c)
	if err != nil {
		t.Fatal(err)
	}
	return arts
}

// shared is one fake build (small stand-ins for the programs: these
// tests check placement, not compilation; TestMakeDistRealBuild builds
// the real ones) the read-only tests share.
var shared struct {
	once sync.Once
	dir  string
	bins string
	err  string
}

func sharedBuild(t *testing.T) (dir, bins string) {
	t.Helper()
	shared.once.Do(func() {
		d, err := os.MkdirTemp("", "custom-misp-dist-test-")
		if err != nil {
			shared.err = err.Error()
			return
		}
		shared.dir = d
		b := filepath.Join(d, "bins")
		shared.bins = b
		c := &config{version: "v1.2.3", arches: []string{"amd64", "arm64"}, out: filepath.Join(d, "out"), repo: repoRoot, binDir: b, mtime: testEpoch}
		for _, arch := range []string{"amd64", "arm64"} {
			os.MkdirAll(filepath.Join(b, "linux-"+arch), 0o755)
			for _, p := range []string{layout.IntegrationName, layout.NetProgram} {
				os.WriteFile(filepath.Join(b, "linux-"+arch, p), []byte("#!/bin/sh\necho fake "+p+" "+arch+"\n"), 0o755)
			}
		}
		if _, err := build(c); err != nil {
			shared.err = err.Error()
		}
	})
	if shared.err != "" {
		t.Fatal(shared.err)
	}
	return filepath.Join(shared.dir, "out"), shared.bins
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// wantArtifacts are the names make dist writes for v1.2.3.
var wantArtifacts = []string{
	"SHA256SUMS",
	"custom-misp-1.2.3-1.aarch64.rpm",
	"custom-misp-1.2.3-1.x86_64.rpm",
	"custom-misp-v1.2.3-linux-amd64.tar.gz",
	"custom-misp-v1.2.3-linux-arm64.tar.gz",
	"custom-misp_1.2.3-1_amd64.deb",
	"custom-misp_1.2.3-1_arm64.deb",
}

// TestReproducible: two builds from the same tree and time into two
// directories are byte-identical, and SHA256SUMS lists every artifact
// with its real digest.
func TestReproducible(t *testing.T) {
	t.Parallel()
	a, bins := sharedBuild(t)
	b := t.TempDir()
	fakeBuild(t, bins, b)
	for _, dir := range []string{a, b} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, wantArtifacts) {
			t.Fatalf("artifacts %v, want %v", names, wantArtifacts)
		}
	}
	for _, n := range wantArtifacts {
		x, _ := os.ReadFile(filepath.Join(a, n))
		y, _ := os.ReadFile(filepath.Join(b, n))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds", n)
		}
	}
	sums, _ := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	var listed []string
	for _, l := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(l, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", l)
		}
		data, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256(data)
		if hex.EncodeToString(d[:]) != sum {
			t.Errorf("SHA256SUMS: %s has another digest", name)
		}
		listed = append(listed, name)
	}
	if !slices.Equal(listed, wantArtifacts[1:]) {
		t.Errorf("SHA256SUMS lists %v", listed)
	}
}

// TestReproducible_Time: the source date is what the artifacts carry,
// so another date gives other bytes (the test above is not vacuous).
func TestReproducible_Time(t *testing.T) {
	t.Parallel()
	a, bins := sharedBuild(t)
	b := t.TempDir()
	c := &config{version: "v1.2.3", arches: []string{"amd64"}, out: b, repo: repoRoot, binDir: bins, mtime: testEpoch.Add(time.Hour)}
	if _, err := build(c); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"custom-misp_1.2.3-1_amd64.deb", "custom-misp-v1.2.3-linux-amd64.tar.gz", "custom-misp-1.2.3-1.x86_64.rpm"} {
		x, _ := os.ReadFile(filepath.Join(a, n))
		y, _ := os.ReadFile(filepath.Join(b, n))
		if bytes.Equal(x, y) {
			t.Errorf("%s: same bytes with another mtime", n)
		}
	}
}

func TestSourceDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1704164645")
	got, err := sourceDate("", repoRoot)
	if err != nil || !got.Equal(testEpoch) {
		t.Errorf("SOURCE_DATE_EPOCH: %v, %v", got, err)
	}
	got, err = sourceDate("86400", repoRoot)
	if err != nil || got.Unix() != 86400 {
		t.Errorf("flag: %v, %v", got, err)
	}
	if _, err := sourceDate("yesterday", repoRoot); err == nil || !strings.Contains(err.Error(), "hint:") {
		t.Errorf("bad date: %v", err)
	}
}

func TestPackageVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":            "1.2.3",
		"v1.2.3-rc1":        "1.2.3.rc1",
		"v1.2.3-4-gabcdef0": "1.2.3.4.gabcdef0",
		"2d1c9ea-dirty":     "0.0.0+git2d1c9ea.dirty",
		"c875630":           "0.0.0+gitc875630",
	} {
		if got := packageVersion(in); got != want {
			t.Errorf("packageVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// expectedPayload is what a package must hold, from the layout table and
// the release tree: the layout's payload files every install has, under
// /var/ossec with the table's owner, group and mode; the tree without
// the binaries under /usr/share/custom-misp. Nothing is configuration:
// the key and the directories of state are made by postinst.
func expectedPayload(t *testing.T, bins, arch string) map[string]pkgFile {
	t.Helper()
	want := map[string]pkgFile{}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, e := range layout.Entries() {
		if e.Kind != layout.Payload || e.Option != "" {
			continue
		}
		src := filepath.Join(repoRoot, e.Source)
		if strings.HasPrefix(e.Source, "bin/") {
			src = filepath.Join(bins, "linux-"+arch, filepath.Base(e.Source))
		}
		want["/var/ossec/"+e.Path] = pkgFile{path: "/var/ossec/" + e.Path, owner: e.Owner, group: e.Group, perm: e.Perm, data: read(src)}
	}
	share := func(rel string, perm fs.FileMode) {
		want["/usr/share/custom-misp/"+rel] = pkgFile{path: "/usr/share/custom-misp/" + rel, owner: "root", group: "root", perm: perm, data: read(filepath.Join(repoRoot, rel))}
	}
	share("README.md", 0o644)
	share("install.sh", 0o755)
	for _, d := range []string{"decoders", "docs", "ossec-snippets", "rules"} {
		ents, err := os.ReadDir(filepath.Join(repoRoot, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			share(d+"/"+e.Name(), 0o644)
		}
	}
	return want
}

// checkFiles compares a package's regular files with want: path, owner,
// group, mode, configuration marking and content.
func checkFiles(t *testing.T, name string, got map[string]pkgFile, want map[string]pkgFile) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", name, p)
		case g.dir:
			t.Errorf("%s: %s is a directory", name, p)
		case g.owner != w.owner || g.group != w.group || g.perm != w.perm:
			t.Errorf("%s: %s is %s:%s %04o, the layout says %s:%s %04o", name, p, g.owner, g.group, g.perm, w.owner, w.group, w.perm)
		case g.config || g.noreplace:
			t.Errorf("%s: %s is marked as configuration", name, p)
		case !bytes.Equal(g.data, w.data):
			t.Errorf("%s: %s has other content than its source", name, p)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok && !g.dir {
			t.Errorf("%s: %s is not in the layout or the release tree", name, p)
		}
	}
	for _, e := range layout.Entries() {
		if e.Kind == layout.Config || e.Kind == layout.State || e.Kind == layout.Output {
			if _, ok := got["/var/ossec/"+e.Path]; ok {
				t.Errorf("%s: %s (%s) is in the package: removal or upgrade would touch it", name, e.Path, e.Kind)
			}
		}
	}
}

func checkScripts(t *testing.T, name string, scripts map[string]string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(repoRoot, "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(body), "\n")
	for step, text := range scripts {
		if !strings.HasPrefix(text, "#!/bin/sh\n") || !strings.Contains(text, "\nset -- --package-"+step+` "$@"`+"\n") || !strings.HasSuffix(text, rest) {
			t.Errorf("%s: %s is not install.sh --package-%s", name, step, step)
		}
	}
}

func TestDebPayload(t *testing.T) {
	t.Parallel()
	dir, bins := sharedBuild(t)
	for _, arch := range []string{"amd64", "arm64"} {
		name := "custom-misp_1.2.3-1_" + arch + ".deb"
		t.Run(arch, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			p, err := readDeb(b)
			if err != nil {
				t.Fatal(err)
			}
			if p.debBinary != "2.0\n" {
				t.Errorf("debian-binary %q", p.debBinary)
			}
			checkFiles(t, name, p.files, expectedPayload(t, bins, arch))
			// Parent directories: none writable by others; the ones under
			// /var/ossec are root-owned with a stock manager's modes.
			for path, f := range p.files {
				if f.dir && (f.perm&0o002 != 0 || f.owner != "root") {
					t.Errorf("%s: directory %s is %s:%s %04o", name, path, f.owner, f.group, f.perm)
				}
			}
			if c := strings.TrimSpace(string(p.control["conffiles"])); c != "" {
				t.Errorf("%s: conffiles %q, want none", name, c)
			}
			control := string(p.control["control"])
			for _, field := range []string{"Depends:", "Pre-Depends:", "Recommends:"} {
				if strings.Contains(control, field) {
					t.Errorf("%s: control has %s", name, field)
				}
			}
			if !strings.Contains(control, "Version: 1.2.3-1\n") || !strings.Contains(control, "Architecture: "+arch+"\n") {
				t.Errorf("%s: control:\n%s", name, control)
			}
			checkScripts(t, name, map[string]string{"preinst": string(p.control["preinst"]), "postinst": string(p.control["postinst"]), "postrm": string(p.control["postrm"])})
		})
	}
}

func TestRPMPayload(t *testing.T) {
	t.Parallel()
	dir, bins := sharedBuild(t)
	for _, arch := range []string{"amd64", "arm64"} {
		name := "custom-misp-1.2.3-1." + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch] + ".rpm"
		t.Run(arch, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			p, err := readRPM(b)
			if err != nil {
				t.Fatal(err)
			}
			checkFiles(t, name, p.files, expectedPayload(t, bins, arch))
			for path, f := range p.files {
				if f.dir {
					t.Errorf("%s: owns directory %s (rpm would set its mode on the manager's)", name, path)
				}
				if m, ok := p.payload[path]; !ok || m&0o7777 != uint32Perm(f.perm) {
					t.Errorf("%s: %s in the header but not as %04o in the payload (%v)", name, path, f.perm, m)
				}
			}
			reqs, _ := p.header[tagRequireName].([]string)
			for _, r := range reqs {
				if !strings.HasPrefix(r, "rpmlib(") {
					t.Errorf("%s: requires %s", name, r)
				}
			}
			scripts := map[string]string{}
			for step, tag := range map[string]int32{"preinst": tagPreIn, "postinst": tagPostIn, "postrm": tagPostUn} {
				s, _ := p.header[tag].(string)
				scripts[step] = s
			}
			checkScripts(t, name, scripts)
		})
	}
}

func uint32Perm(m fs.FileMode) fs.FileMode { return m & 0o7777 }

// TestRPMReaderAgreesWithRPM checks the test's own rpm reader against
// rpm(8) where it is installed (CI has none: skipped there).
func TestRPMReaderAgreesWithRPM(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("no rpm on this machine")
	}
	dir, _ := sharedBuild(t)
	file := filepath.Join(dir, "custom-misp-1.2.3-1.x86_64.rpm")
	out, err := exec.Command("rpm", "-qp", "--qf", `[%{FILEMODES:octal} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS} %{FILENAMES}\n]`, file).Output()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	p, err := readRPM(b)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(p.files) {
		t.Fatalf("rpm lists %d files, the reader %d", len(lines), len(p.files))
	}
	for _, l := range lines {
		f := strings.Fields(l)
		g, ok := p.files[f[4]]
		if !ok || g.owner != f[1] || g.group != f[2] || !strings.HasSuffix(f[0], fmt.Sprintf("%o", g.perm)) || (f[3] != "0") != (g.config || g.noreplace) {
			t.Errorf("rpm says %q, the reader %+v", l, g)
		}
	}
}

// TestMakeDistRealBuild runs what make dist runs, for one architecture,
// as a process of its own (in-process, the race detector makes gzip of
// the real programs take a minute): the real programs compiled static
// and stamped, then tarball, .deb, .rpm and SHA256SUMS.
func TestMakeDistRealBuild(t *testing.T) {
	t.Parallel() // the compiler's time overlaps the install.sh tests' processes
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./internal/dist", "-version", "v9.8.7-test", "-arch", "amd64", "-out", out, "-source-date-epoch", "1704164645")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./internal/dist: %v\n%s", err, b)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"SHA256SUMS", "custom-misp-9.8.7.test-1.x86_64.rpm", "custom-misp-v9.8.7-test-linux-amd64.tar.gz", "custom-misp_9.8.7.test-1_amd64.deb"}
	if !slices.Equal(names, want) {
		t.Fatalf("artifacts %v, want %v", names, want)
	}
	b, err := os.ReadFile(filepath.Join(out, "custom-misp-v9.8.7-test-linux-amd64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	progs := map[string][]byte{}
	err = readTarGz(b, func(h *tar.Header, data []byte) error {
		if p, ok := strings.CutPrefix(h.Name, "custom-misp-v9.8.7-test-linux-amd64/bin/"); ok && p != "" {
			progs[p] = data
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{layout.IntegrationName, layout.NetProgram} {
		data := progs[prog]
		e, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", prog, err)
		}
		if e.Machine != elf.EM_X86_64 {
			t.Errorf("%s: machine %v", prog, e.Machine)
		}
		for _, ph := range e.Progs {
			if ph.Type == elf.PT_INTERP || ph.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: not static (%v)", prog, ph.Type)
			}
		}
		if e.Section(".symtab") != nil {
			t.Errorf("%s: not stripped (-s -w)", prog)
		}
		if !bytes.Contains(data, []byte("v9.8.7-test")) {
			t.Errorf("%s: version not stamped", prog)
		}
		if wd, _ := os.Getwd(); bytes.Contains(data, []byte(filepath.Dir(filepath.Dir(wd)))) {
			t.Errorf("%s: holds the repository's path (-trimpath)", prog)
		}
	}
}
