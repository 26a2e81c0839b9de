package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/custom-misp/custom-misp/internal/layout"
)

// releaseTree unpacks the amd64 tarball of the shared fake build into a
// temporary directory and returns its top directory: install.sh runs
// from there as an administrator would.
func releaseTree(t *testing.T) string {
	t.Helper()
	dir, _ := sharedBuild(t)
	b, err := os.ReadFile(filepath.Join(dir, "custom-misp-v1.2.3-linux-amd64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	err = readTarGz(b, func(h *tar.Header, data []byte) error {
		p := filepath.Join(root, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			return os.MkdirAll(p, 0o755)
		}
		return os.WriteFile(p, data, fs.FileMode(h.Mode))
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "custom-misp-v1.2.3-linux-amd64")
}

// fakeHome makes the directories of a Wazuh manager that install.sh
// needs, and a VERSION file naming the version.
func fakeHome(t *testing.T, version string) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "ossec")
	for _, d := range []string{"etc/rules", "etc/decoders", "etc/lists", "integrations", "var", "bin"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(home, "VERSION"), version+"\n", 0o644)
	return home
}

func write(t *testing.T, p, s string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

// me is the user and group the tests install as: install.sh's
// --wazuh-user/--wazuh-group, so the test runs as root or not.
func me(t *testing.T) (uid, gid int, flags []string) {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return os.Getuid(), os.Getgid(), []string{"--wazuh-user", u.Username, "--wazuh-group", g.Name}
}

type result struct {
	out, errOut string
	code        int
}

func runInstall(t *testing.T, tree string, args ...string) result {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command("sh", append([]string{filepath.Join(tree, "install.sh")}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := result{out: o.String(), errOut: e.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkInstalled: every entry of the layout that is wanted is there with
// the layout's mode, owned by uid:gid (the user and group the test named
// for both root and wazuh when running as root; the test's own when not).
func checkInstalled(t *testing.T, home string, uid, gid int, options ...string) {
	t.Helper()
	for _, e := range layout.Entries() {
		fi, err := os.Lstat(filepath.Join(home, e.Path))
		if e.Option != "" && !slices.Contains(options, e.Option) {
			if err == nil {
				t.Errorf("%s installed without %s", e.Path, e.Option)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", e.Path, err)
			continue
		}
		if fi.IsDir() != e.Dir || fi.Mode().Perm() != e.Perm {
			t.Errorf("%s: %v, the layout says %s (dir %v)", e.Path, fi.Mode(), e, e.Dir)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s: owned by %d:%d, want %d:%d", e.Path, st.Uid, st.Gid, uid, gid)
		}
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// TestInstallScriptLifecycle: install -> upgrade -> uninstall -> purge
// against a fake Wazuh home, from the unpacked release tarball.
func TestInstallScriptLifecycle(t *testing.T) {
	t.Parallel()
	tree := releaseTree(t)
	home := fakeHome(t, "v4.14.7")
	uid, gid, who := me(t)
	args := func(a ...string) []string { return append(append([]string{"--wazuh-home", home}, who...), a...) }
	key := filepath.Join(home, layout.KeyFile)
	cache := filepath.Join(home, layout.StateDir, "cache.db")

	// install
	r := runInstall(t, tree, args(layout.OptCDB)...)
	if r.code != 0 {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	checkInstalled(t, home, uid, gid, layout.OptCDB)
	if !exists(filepath.Join(home, "etc/rules", layout.CDBRulesFile)) || !exists(filepath.Join(home, layout.CDBListsDir)) {
		t.Errorf("--cdb did not install the CDB rules and their directory")
	}
	for _, want := range []string{"created empty etc/custom-misp.key", "<timeout>5</timeout>", `"api_key_file": "` + home + `/etc/custom-misp.key"`, home + "/integrations/custom-misp doctor", "systemctl restart wazuh-manager"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("install output lacks %q:\n%s", want, r.out)
		}
	}
	if b, _ := os.ReadFile(key); len(b) != 0 {
		t.Errorf("new key file not empty")
	}

	// the administrator's key and the cache
	write(t, key, "the-misp-key\n", 0o640)
	write(t, cache, "cache", 0o660)

	// install again: the key stays
	r = runInstall(t, tree, args()...)
	if r.code != 0 || !strings.Contains(r.out, "kept etc/custom-misp.key") || !strings.Contains(r.out, "unchanged integrations/custom-misp ") {
		t.Errorf("second install: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	// upgrade from a newer tree: one program and the rules changed
	write(t, filepath.Join(tree, "bin", layout.IntegrationName), "#!/bin/sh\necho newer\n", 0o755)
	rules := filepath.Join(tree, "rules", layout.RulesFile)
	old, _ := os.ReadFile(rules)
	write(t, rules, string(old)+"<!-- newer -->\n", 0o644)
	r = runInstall(t, tree, args("--upgrade")...)
	if r.code != 0 {
		t.Fatalf("upgrade: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, want := range []string{"replaced integrations/custom-misp: sha256 ", "unchanged integrations/custom-misp-net", "replaced etc/rules/0990-misp_rules.xml: sha256 ",
		"unchanged etc/rules/0992-misp_cdb_rules.xml", "kept etc/custom-misp.key", "kept var/custom-misp", "PUT /manager/analysisd/reload", "no restart needed for them"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("upgrade output lacks %q:\n%s", want, r.out)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(home, "etc/rules", layout.RulesFile)); !bytes.HasSuffix(got, []byte("<!-- newer -->\n")) {
		t.Errorf("upgrade did not replace the rules")
	}
	checkInstalled(t, home, uid, gid, layout.OptCDB)
	if b, _ := os.ReadFile(key); string(b) != "the-misp-key\n" || !exists(cache) {
		t.Errorf("upgrade lost the key or the cache")
	}

	// uninstall: the payload goes, key and cache stay
	r = runInstall(t, tree, "--uninstall", "--wazuh-home", home)
	if r.code != 0 {
		t.Fatalf("uninstall: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, e := range layout.Entries() {
		gone := e.Kind == layout.Payload || e.Kind == layout.Output
		if exists(filepath.Join(home, e.Path)) == gone {
			t.Errorf("after uninstall, %s (%s) exists: %v", e.Path, e.Kind, !gone)
		}
	}
	if b, _ := os.ReadFile(key); string(b) != "the-misp-key\n" || !exists(cache) {
		t.Errorf("uninstall lost the key or the cache")
	}

	// purge: key and cache go too; the manager's own directories stay
	r = runInstall(t, tree, "--purge", "--wazuh-home", home)
	if r.code != 0 || !strings.Contains(r.out, "removed etc/custom-misp.key") || !strings.Contains(r.out, "removed var/custom-misp") {
		t.Fatalf("purge: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, e := range layout.Entries() {
		if exists(filepath.Join(home, e.Path)) != (e.Kind == layout.Shared) {
			t.Errorf("after purge, %s (%s) exists: %v", e.Path, e.Kind, e.Kind != layout.Shared)
		}
	}
	for _, d := range []string{"etc/rules", "etc/decoders", "var"} {
		if !exists(filepath.Join(home, d)) {
			t.Errorf("purge removed the manager's %s", d)
		}
	}
}

// TestInstallScriptRefuses: each refusal is one line with a hint on
// stderr and its documented exit code, and installs nothing.
func TestInstallScriptRefuses(t *testing.T) {
	t.Parallel()
	tree := releaseTree(t)
	_, _, who := me(t)
	tests := []struct {
		name    string
		version string
		args    []string
		code    int
		msg     string
	}{
		{"wazuh 5", "v5.0.0", nil, 4, "has no integratord"},
		{"wazuh 4.2", "v4.2.5", nil, 4, "older than 4.3"},
		{"no version", "", nil, 3, "cannot tell the Wazuh version"},
		{"no group", "v4.9.0", []string{"--wazuh-group", "no-such-group-custom-misp"}, 5, "no group no-such-group-custom-misp"},
		{"no user", "v4.9.0", []string{"--wazuh-user", "no-such-user-custom-misp"}, 5, "no user no-such-user-custom-misp"},
		{"unknown argument", "v4.9.0", []string{"--force"}, 2, "unknown argument: --force"},
		{"no manager", "v4.9.0", []string{"--wazuh-home", "/nonexistent/ossec"}, 3, "no Wazuh manager at /nonexistent/ossec"},
		{"upgrade without install", "v4.9.0", []string{"--upgrade"}, 3, "nothing to upgrade"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := fakeHome(t, tt.version)
			// who first: a test's own --wazuh-user/--wazuh-group comes later and wins
			r := runInstall(t, tree, append(append([]string{"--wazuh-home", home}, who...), tt.args...)...)
			lines := strings.Split(strings.TrimSpace(r.errOut), "\n")
			if r.code != tt.code || len(lines) != 1 || !strings.Contains(lines[0], tt.msg) || !strings.Contains(lines[0], "(hint: ") {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q and a hint", r.code, r.errOut, tt.code, tt.msg)
			}
			if exists(filepath.Join(home, "integrations", layout.IntegrationName)) {
				t.Errorf("installed although refused")
			}
		})
	}
}

// TestInstallScriptSnippets: the block printed is the one for the
// detected version, and wazuh-control info wins over VERSION.
func TestInstallScriptSnippets(t *testing.T) {
	t.Parallel()
	tree := releaseTree(t)
	_, _, who := me(t)
	for _, tt := range []struct {
		version, control, want, notWant string
	}{
		{"v4.7.5", "", "ossec-snippets/integration-4.7.xml", "<timeout>"},
		{"v4.5.0", "", "ossec-snippets/integration-4.3-4.6.xml", "<options>"},
		{"v4.3.0", "", "ossec-snippets/integration-4.3-4.6.xml", "<options>"},
		{"v5.0.0", `WAZUH_VERSION="v4.8.0"`, "ossec-snippets/integration-4.8plus.xml", "integration-4.7"},
	} {
		t.Run(tt.version+tt.control, func(t *testing.T) {
			home := fakeHome(t, tt.version)
			if tt.control != "" {
				write(t, filepath.Join(home, "bin", "wazuh-control"), "#!/bin/sh\n[ \"$1\" = info ] && echo '"+tt.control+"'\n", 0o755)
			}
			r := runInstall(t, tree, append([]string{"--wazuh-home", home}, who...)...)
			if r.code != 0 || !strings.Contains(r.out, tt.want) || strings.Contains(r.out, tt.notWant) {
				t.Errorf("exit %d; want %q and not %q in:\n%s%s", r.code, tt.want, tt.notWant, r.out, r.errOut)
			}
		})
	}
}

// TestInstallScriptLinks: a symbolic link planted where a ruleset file
// goes (etc/rules is writable by group wazuh) is replaced, never written
// through.
func TestInstallScriptLinks(t *testing.T) {
	t.Parallel()
	tree := releaseTree(t)
	home := fakeHome(t, "v4.9.0")
	_, _, who := me(t)
	victim := filepath.Join(t.TempDir(), "victim")
	write(t, victim, "precious\n", 0o600)
	dest := filepath.Join(home, "etc/rules", layout.RulesFile)
	if err := os.Symlink(victim, dest); err != nil {
		t.Fatal(err)
	}
	r := runInstall(t, tree, append([]string{"--wazuh-home", home}, who...)...)
	if r.code != 0 || !strings.Contains(r.out, "was a symbolic link") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("install wrote through the link")
	}
	if fi, _ := os.Lstat(victim); fi.Mode().Perm() != 0o600 {
		t.Errorf("install changed the link target's mode: %v", fi.Mode())
	}
	if fi, err := os.Lstat(dest); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s is not a regular file: %v", dest, err)
	}
}

// TestInstallScriptShellcheck runs shellcheck in POSIX sh mode where it
// is installed (CI has none: skipped there).
func TestInstallScriptShellcheck(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("no shellcheck on this machine")
	}
	out, err := exec.Command("shellcheck", "-s", "sh", filepath.Join(repoRoot, "install.sh")).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
