package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custom-misp/custom-misp/internal/layout"
)

// TestDebInstallsIntoThrowawayRoot installs the .deb with the real dpkg
// into a root the test makes (dpkg --root, its own database, maintainer
// scripts run outside a chroot with DPKG_ROOT set), reinstalls it as an
// upgrade, removes it and purges it. It needs root, dpkg and the wazuh
// user and group (the scripts refuse without them): skipped otherwise,
// as in CI.
func TestDebInstallsIntoThrowawayRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("not root: dpkg cannot set owners")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg on this machine")
	}
	if exec.Command("id", "wazuh").Run() != nil {
		t.Skip("no wazuh user and group on this machine: the maintainer scripts refuse")
	}
	dir, _ := sharedBuild(t)
	deb := filepath.Join(dir, "custom-misp_1.2.3-1_amd64.deb")
	root := t.TempDir()
	home := filepath.Join(root, "var/ossec")
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/ossec/etc/rules", "var/ossec/etc/decoders", "var/ossec/integrations", "var/ossec/var"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(root, "var/lib/dpkg/status"), "", 0o644)
	write(t, filepath.Join(home, "VERSION"), "v4.14.7\n", 0o644)
	// The manager's own files, so its directories are not empty.
	stock := []string{"etc/rules/local_rules.xml", "etc/decoders/local_decoder.xml", "integrations/slack"}
	for _, f := range stock {
		write(t, filepath.Join(home, f), "stock\n", 0o640)
	}
	if err := os.Chmod(filepath.Join(home, "etc"), 0o770); err != nil {
		t.Fatal(err)
	}
	dpkg := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	entry := func(rel string) (os.FileInfo, error) { return os.Lstat(filepath.Join(home, rel)) }

	out := dpkg("-i", deb)
	if !strings.Contains(out, "created empty etc/custom-misp.key") || !strings.Contains(out, "/integrations/custom-misp doctor") {
		t.Errorf("postinst did not print the next steps:\n%s", out)
	}
	for _, e := range layout.Entries() {
		fi, err := entry(e.Path)
		if e.Option != "" {
			continue
		}
		if err != nil || fi.Mode().Perm() != e.Perm {
			t.Errorf("after dpkg -i: %s: %v %v, want %s", e.Path, fi, err, e)
		}
	}
	if fi, _ := entry("etc"); fi.Mode().Perm() != 0o770 {
		t.Errorf("dpkg changed the mode of the manager's etc: %v", fi.Mode())
	}

	write(t, filepath.Join(home, layout.KeyFile), "the-misp-key\n", 0o640)
	write(t, filepath.Join(home, layout.StateDir, "cache.db"), "cache", 0o660)
	out = dpkg("-i", deb) // the same version again: preinst upgrade, postinst configure <version>
	if !strings.Contains(out, "kept etc/custom-misp.key") || !strings.Contains(out, "restart the manager") {
		t.Errorf("reinstall:\n%s", out)
	}

	dpkg("-r", "custom-misp")
	if b, _ := os.ReadFile(filepath.Join(home, layout.KeyFile)); string(b) != "the-misp-key\n" {
		t.Errorf("dpkg -r lost the key")
	}
	if _, err := entry(layout.StateDir + "/cache.db"); err != nil {
		t.Errorf("dpkg -r lost the cache: %v", err)
	}
	for _, e := range layout.Entries() {
		if _, err := entry(e.Path); e.Kind == layout.Payload && err == nil {
			t.Errorf("dpkg -r left %s", e.Path)
		}
	}

	dpkg("-P", "custom-misp")
	for _, rel := range []string{layout.KeyFile, layout.StateDir} {
		if _, err := entry(rel); err == nil {
			t.Errorf("dpkg -P left %s", rel)
		}
	}
	for _, f := range stock {
		if _, err := entry(f); err != nil {
			t.Errorf("the manager's %s is gone: %v", f, err)
		}
	}
	if out, _ := exec.Command("dpkg", "--root="+root, "-l", "custom-misp").CombinedOutput(); strings.Contains(string(out), "ii ") || strings.Contains(string(out), "rc ") {
		t.Errorf("dpkg still lists the package:\n%s", out)
	}
}
