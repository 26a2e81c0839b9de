// Command dist builds the release (make dist): for each architecture,
// static binaries stamped with the version, a tarball with install.sh,
// a .deb and an .rpm built with nfpm as a library, and SHA256SUMS.
//
// Two runs from the same commit write byte-identical files: every mtime
// is the commit's time (SOURCE_DATE_EPOCH when set), entries are sorted,
// owners are fixed, and the gzip headers carry no name and no time.
// docs/packaging.md describes the artifacts and how to check them.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	var c config
	var arches, epoch string
	flag.StringVar(&c.version, "version", "", "the version stamped into the binaries and the packages (make dist passes git describe)")
	flag.StringVar(&arches, "arch", "amd64,arm64", "comma-separated linux architectures")
	flag.StringVar(&c.out, "out", "dist", "output directory (emptied first)")
	flag.StringVar(&c.binDir, "bin-dir", "", "take the binaries from DIR/linux-ARCH/ instead of building them (tests)")
	flag.StringVar(&epoch, "source-date-epoch", "", "mtime of every file, in seconds since 1970 (default $SOURCE_DATE_EPOCH, else the commit's time)")
	flag.Parse()
	c.arches = strings.Split(arches, ",")
	c.repo = "."
	if err := run(&c, epoch); err != nil {
		fmt.Fprintln(os.Stderr, "dist: "+err.Error())
		os.Exit(1)
	}
}

func run(c *config, epoch string) error {
	if c.version == "" {
		return fmt.Errorf("no -version (hint: make dist passes git describe)")
	}
	for _, a := range c.arches {
		if a != "amd64" && a != "arm64" {
			return fmt.Errorf("architecture %q (hint: amd64, arm64)", a)
		}
	}
	t, err := sourceDate(epoch, c.repo)
	if err != nil {
		return err
	}
	c.mtime = t
	start := time.Now()
	arts, err := build(c)
	if err != nil {
		return err
	}
	for _, a := range arts {
		fmt.Printf("%-60s %10d bytes\n", filepath.Join(c.out, a.name), a.size)
	}
	fmt.Printf("built %d files in %s (mtime %s)\n", len(arts), time.Since(start).Round(100*time.Millisecond), c.mtime.UTC().Format(time.RFC3339))
	return nil
}

// sourceDate is the time every file of the release carries: the flag,
// else $SOURCE_DATE_EPOCH (reproducible-builds.org), else the time of
// the commit being built.
func sourceDate(flagValue, repo string) (time.Time, error) {
	s := flagValue
	if s == "" {
		s = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if s == "" {
		cmd := exec.Command("git", "log", "-1", "--format=%ct")
		cmd.Dir = repo
		out, err := cmd.Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("git log -1 --format=%%ct: %v (hint: build from a git clone, or set SOURCE_DATE_EPOCH)", err)
		}
		s = strings.TrimSpace(string(out))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("source date %q is not seconds since 1970 (hint: SOURCE_DATE_EPOCH=$(git log -1 --format=%%ct))", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
