package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"

	"github.com/custom-misp/custom-misp/internal/layout"
)

type config struct {
	version string
	arches  []string
	out     string
	repo    string // the repository's root
	binDir  string // prebuilt binaries, DIR/linux-ARCH/<program>
	mtime   time.Time
}

type artifact struct {
	name string
	size int64
}

// Package facts.
const (
	pkgName    = "custom-misp"
	wazuhHome  = "/var/ossec" // where the packages install; install.sh takes --wazuh-home
	shareDir   = "/usr/share/custom-misp"
	maintainer = "custom-misp maintainers <custom-misp@users.noreply.github.com>"
)

// treeDirs are the repository directories a release tree carries whole,
// next to the binaries, README.md and install.sh.
var treeDirs = []string{"decoders", "docs", "ossec-snippets", "rules"}

// treeFile is one file of a release tree.
type treeFile struct {
	name string // slash-separated, relative to the tree
	src  string // file on disk
	mode fs.FileMode
}

func build(c *config) ([]artifact, error) {
	if err := os.RemoveAll(c.out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "custom-misp-dist-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	common, err := commonTree(c.repo)
	if err != nil {
		return nil, err
	}
	scripts, err := maintainerScripts(c.repo, work)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, arch := range c.arches {
		bins, err := binaries(c, arch, work)
		if err != nil {
			return nil, err
		}
		tree := append(slices.Clone(common), bins...)
		slices.SortFunc(tree, func(a, b treeFile) int { return strings.Compare(a.name, b.name) })

		tgz := fmt.Sprintf("%s-%s-linux-%s.tar.gz", pkgName, c.version, arch)
		if err := writeTarball(filepath.Join(c.out, tgz), strings.TrimSuffix(tgz, ".tar.gz"), tree, c.mtime); err != nil {
			return nil, err
		}
		names = append(names, tgz)
		for _, p := range []nfpm.Packager{deb.Default, rpm.DefaultRPM} {
			name, err := writePackage(c, p, arch, tree, scripts)
			if err != nil {
				return nil, err
			}
			names = append(names, name)
		}
	}
	if err := writeSums(c.out, names); err != nil {
		return nil, err
	}
	names = append(names, "SHA256SUMS")
	var arts []artifact
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(c.out, n))
		if err != nil {
			return nil, err
		}
		arts = append(arts, artifact{n, fi.Size()})
	}
	return arts, nil
}

// commonTree lists the files every architecture's tree shares.
func commonTree(repo string) ([]treeFile, error) {
	tree := []treeFile{
		{"README.md", filepath.Join(repo, "README.md"), 0o644},
		{"install.sh", filepath.Join(repo, "install.sh"), 0o755},
	}
	for _, d := range treeDirs {
		ents, err := os.ReadDir(filepath.Join(repo, d))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			tree = append(tree, treeFile{d + "/" + e.Name(), filepath.Join(repo, d, e.Name()), 0o644})
		}
	}
	return tree, nil
}

// binaries builds (or, with -bin-dir, takes) the two programs for arch:
// static, without paths of the build machine, stamped like make build.
func binaries(c *config, arch, work string) ([]treeFile, error) {
	progs := []string{layout.IntegrationName, layout.NetProgram}
	var out []treeFile
	for _, prog := range progs {
		var bin string
		if c.binDir != "" {
			bin = filepath.Join(c.binDir, "linux-"+arch, prog)
		} else {
			bin = filepath.Join(work, "linux-"+arch, prog)
			cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
				"-ldflags", "-s -w -X github.com/custom-misp/custom-misp/internal/cli.version="+c.version,
				"-o", bin, "./cmd/"+prog)
			cmd.Dir = c.repo
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("go build %s for linux/%s: %v", prog, arch, err)
			}
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, err
		}
		out = append(out, treeFile{"bin/" + prog, bin, 0o755})
	}
	return out, nil
}

// writeTarball writes tree under the directory prefix/: directories
// first in their sorted place, owners root:root, one mtime, and a gzip
// header without name or time.
func writeTarball(name, prefix string, tree []treeFile, mtime time.Time) error {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	hdr := func(name string, mode fs.FileMode, size int64, typ byte) *tar.Header {
		return &tar.Header{Typeflag: typ, Name: name, Mode: int64(mode), Size: size, ModTime: mtime,
			Uname: "root", Gname: "root", Format: tar.FormatPAX}
	}
	dirs := map[string]bool{}
	for _, f := range tree {
		for d := path.Dir(f.name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var entries []string
	entries = append(entries, "")
	for d := range dirs {
		entries = append(entries, d+"/")
	}
	for _, f := range tree {
		entries = append(entries, f.name)
	}
	slices.Sort(entries)
	byName := map[string]treeFile{}
	for _, f := range tree {
		byName[f.name] = f
	}
	for _, e := range entries {
		full := prefix + "/" + e
		if e == "" || strings.HasSuffix(e, "/") {
			if err := tw.WriteHeader(hdr(full, 0o755, 0, tar.TypeDir)); err != nil {
				return err
			}
			continue
		}
		f := byName[e]
		data, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr(full, f.mode, int64(len(data)), tar.TypeReg)); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(name, buf.Bytes(), 0o644)
}

// scriptFiles are the maintainer scripts, as files nfpm reads.
type scriptFiles struct{ preinst, postinst, postrm string }

// maintainerScripts makes the packages' scripts from install.sh itself,
// so that a package checks, creates and keeps exactly what install.sh
// does: each is install.sh with its package step put in front of the
// package manager's arguments.
func maintainerScripts(repo, work string) (scriptFiles, error) {
	b, err := os.ReadFile(filepath.Join(repo, "install.sh"))
	if err != nil {
		return scriptFiles{}, err
	}
	shebang, body, ok := strings.Cut(string(b), "\n")
	if !ok || !strings.HasPrefix(shebang, "#!") {
		return scriptFiles{}, fmt.Errorf("install.sh does not start with #!")
	}
	var s scriptFiles
	for _, step := range []struct {
		flag string
		dst  *string
	}{{"--package-preinst", &s.preinst}, {"--package-postinst", &s.postinst}, {"--package-postrm", &s.postrm}} {
		*step.dst = filepath.Join(work, strings.TrimPrefix(step.flag, "--"))
		text := shebang + "\n# custom-misp " + strings.TrimPrefix(step.flag, "--package-") + ": install.sh " + step.flag + "\nset -- " + step.flag + ` "$@"` + "\n" + body
		if err := os.WriteFile(*step.dst, []byte(text), 0o755); err != nil {
			return scriptFiles{}, err
		}
	}
	return s, nil
}

// packageContents places the tree: the payload entries of the layout
// that every install has go under the Wazuh home with the layout's
// owners and modes; the whole tree but the binaries goes to shareDir
// (install.sh, the snippets the next steps print, the optional rules).
// The key, the cache directory and integrations/ are not in the package:
// postinst creates what is missing, so no upgrade or removal touches
// them (an rpm config file that was edited is renamed .rpmsave when the
// package is removed).
func packageContents(tree []treeFile) (files.Contents, error) {
	src := map[string]string{}
	for _, f := range tree {
		src[f.name] = f.src
	}
	var cs files.Contents
	for _, e := range layout.Entries() {
		if e.Kind != layout.Payload || e.Option != "" {
			continue
		}
		s, ok := src[e.Source]
		if !ok {
			return nil, fmt.Errorf("layout source %s is not in the release tree", e.Source)
		}
		cs = append(cs, &files.Content{Source: s, Destination: wazuhHome + "/" + e.Path,
			FileInfo: &files.ContentFileInfo{Owner: e.Owner, Group: e.Group, Mode: e.Perm}})
	}
	// A .deb lists every parent directory; nfpm would give them the owner
	// of their first file (wazuh:wazuh /var/ossec). dpkg leaves an existing
	// directory as it is, but a package should not even claim other modes
	// than a stock manager's: these are its own (root:wazuh, group wazuh
	// can write only the ruleset directories). An .rpm lists no directory
	// it does not own, so rpm never touches them.
	for _, d := range []struct {
		path, owner, group string
		perm               fs.FileMode
	}{
		{"/var", "root", "root", 0o755},
		{wazuhHome, "root", layout.Wazuh, 0o750},
		{wazuhHome + "/etc", "root", layout.Wazuh, 0o770},
		{wazuhHome + "/etc/decoders", "root", layout.Wazuh, 0o770},
		{wazuhHome + "/etc/rules", "root", layout.Wazuh, 0o770},
		{wazuhHome + "/integrations", layout.Of("integrations").Owner, layout.Of("integrations").Group, layout.Of("integrations").Perm},
	} {
		cs = append(cs, &files.Content{Destination: d.path, Type: files.TypeDir, Packager: "deb",
			FileInfo: &files.ContentFileInfo{Owner: d.owner, Group: d.group, Mode: d.perm | fs.ModeDir}})
	}
	for _, f := range tree {
		if strings.HasPrefix(f.name, "bin/") {
			continue
		}
		cs = append(cs, &files.Content{Source: f.src, Destination: shareDir + "/" + f.name,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: f.mode}})
	}
	return cs, nil
}

// release is a tagged version: v1.2.3, maybe with a suffix (v1.2.3-rc1).
var release = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+`)

// packageVersion is the version as deb and rpm accept it: 1.2.3 from
// v1.2.3, and 0.0.0+<describe> for an untagged commit (0.0.0+git<describe> for an untagged commit (a version must
// start with a digit; rpm forbids "-").
func packageVersion(v string) string {
	if release.MatchString(v) {
		v = strings.TrimPrefix(v, "v")
	} else {
		v = "0.0.0+git" + v
	}
	return strings.ReplaceAll(v, "-", ".")
}

func writePackage(c *config, p nfpm.Packager, arch string, tree []treeFile, s scriptFiles) (string, error) {
	cs, err := packageContents(tree)
	if err != nil {
		return "", err
	}
	info := &nfpm.Info{
		Name:          pkgName,
		Arch:          arch,
		Platform:      "linux",
		Version:       packageVersion(c.version),
		VersionSchema: "none",
		Release:       "1",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    maintainer,
		Vendor:        "custom-misp",
		Homepage:      "https://github.com/custom-misp/custom-misp",
		License:       "see the repository",
		Description: "MISP threat intelligence for Wazuh 4.x alerts\n" +
			"custom-misp is run by the Wazuh manager's integratord once per alert: it looks the alert's\n" +
			"indicators up in MISP and writes one enrichment event per match. Needs a Wazuh 4.3-4.14 manager\n" +
			"in /var/ossec (the wazuh group must exist); it does not restart Wazuh.",
		MTime: c.mtime,
		Overridables: nfpm.Overridables{
			Contents: cs,
			Umask:    0o022,
			Scripts:  nfpm.Scripts{PreInstall: s.preinst, PostInstall: s.postinst, PostRemove: s.postrm},
			RPM: nfpm.RPM{
				BuildHost:   "custom-misp-dist", // not this machine's name: reproducible
				Compression: "gzip",
				Summary:     "MISP threat intelligence for Wazuh 4.x alerts",
				Group:       "System Environment/Daemons",
			},
			Deb: nfpm.Deb{Compression: "gzip"},
		},
	}
	if err := nfpm.PrepareForPackager(info, packagerName(p)); err != nil {
		return "", fmt.Errorf("%s %s: %v", packagerName(p), arch, err)
	}
	name := p.ConventionalFileName(info)
	var buf bytes.Buffer
	if err := p.Package(nfpm.WithDefaults(info), &buf); err != nil {
		return "", fmt.Errorf("%s: %v", name, err)
	}
	return name, os.WriteFile(filepath.Join(c.out, name), buf.Bytes(), 0o644)
}

func packagerName(p nfpm.Packager) string {
	if p == nfpm.Packager(deb.Default) {
		return "deb"
	}
	return "rpm"
}

// writeSums writes SHA256SUMS in the format sha256sum -c reads.
func writeSums(dir string, names []string) error {
	names = slices.Sorted(slices.Values(names))
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
