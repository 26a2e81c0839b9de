package layout

import (
	"flag"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/mispproc"
)

var update = flag.Bool("update", false, "rewrite the LAYOUT block of install.sh from the table")

const repoRoot = "../../"

// TestInstallScriptLayout: install.sh carries the table as its LAYOUT
// block, so the script cannot install anything with other modes than
// doctor expects.
func TestInstallScriptLayout(t *testing.T) {
	name := repoRoot + "install.sh"
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	begin := strings.Index(text, BlockBegin+"\n")
	end := strings.Index(text, BlockEnd+"\n")
	if begin < 0 || end < begin {
		t.Fatalf("install.sh: no block between %q and %q", BlockBegin, BlockEnd)
	}
	got := text[begin : end+len(BlockEnd)+1]
	if got == ScriptBlock() {
		return
	}
	if *update {
		if err := os.WriteFile(name, []byte(text[:begin]+ScriptBlock()+text[end+len(BlockEnd)+1:]), 0o755); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("install.sh's LAYOUT block is not the table (-table +install.sh); run go test ./internal/layout -update:\n%s", cmp.Diff(ScriptBlock(), got))
}

// TestMakefileRunsInstallScript: make install, upgrade and uninstall
// hand over to install.sh instead of installing anything themselves.
func TestMakefileRunsInstallScript(t *testing.T) {
	b, err := os.ReadFile(repoRoot + "Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"install", "upgrade", "uninstall"} {
		m := regexp.MustCompile(`(?m)^` + target + `:.*\n((?:\t.*\n)+)`).FindStringSubmatch(string(b))
		if m == nil {
			t.Errorf("Makefile: no %s target", target)
			continue
		}
		if !strings.Contains(m[1], "./install.sh") {
			t.Errorf("Makefile %s: does not run ./install.sh:\n%s", target, m[1])
		}
		if regexp.MustCompile(`(?m)(^|[\s;])(install|chmod|chown|cp|rm)\s`).MatchString(m[1]) {
			t.Errorf("Makefile %s: installs or removes files itself instead of leaving it to install.sh:\n%s", target, m[1])
		}
	}
}

// TestEntries keeps the table coherent: sources exist, parents come
// before children, every kind has what it needs, and the modes are the
// ones the comments justify.
func TestEntries(t *testing.T) {
	if NetProgram != mispproc.Program {
		t.Errorf("NetProgram %q, custom-misp starts %q", NetProgram, mispproc.Program)
	}
	seen := map[string]bool{}
	for _, e := range Entries() {
		t.Run(e.Path, func(t *testing.T) {
			if dir := path.Dir(e.Path); dir != "." {
				for p := dir; p != "."; p = path.Dir(p) {
					if _, listed := find(p); listed && !seen[p] {
						t.Errorf("%s comes before its parent %s", e.Path, p)
					}
				}
			}
			seen[e.Path] = true
			switch e.Kind {
			case Payload:
				if e.Dir || e.Source == "" {
					t.Errorf("a payload entry is a file with a source")
				}
				if !strings.HasPrefix(e.Source, "bin/") {
					if _, err := os.Stat(repoRoot + e.Source); err != nil {
						t.Error(err)
					}
				}
			case Shared, State, Output:
				if !e.Dir || e.Source != "" {
					t.Errorf("a %s entry is a directory without a source", e.Kind)
				}
			case Config:
				if e.Dir || e.Source != "" {
					t.Errorf("a config entry is a file created empty")
				}
			default:
				t.Errorf("kind %q", e.Kind)
			}
			switch {
			case strings.HasPrefix(e.Path, "integrations"):
				if e.Owner != Root || e.Perm&0o022 != 0 {
					t.Errorf("%s: integratord refuses a program user wazuh can write", e)
				}
			case strings.HasPrefix(e.Path, "etc/rules/"), strings.HasPrefix(e.Path, "etc/decoders/"):
				if e.String() != "wazuh:wazuh 0660" {
					t.Errorf("%s, a stock manager installs etc/rules/local_rules.xml wazuh:wazuh 0660", e)
				}
			case e.Path == KeyFile:
				if e.Perm&0o007 != 0 || e.Owner != Root {
					t.Errorf("%s: others can read the key, or wazuh can write it", e)
				}
			}
			if strings.ContainsAny(e.Path+e.Source+e.Option, " \t\n") {
				t.Errorf("a blank in a column of the LAYOUT block")
			}
		})
	}
}

func find(rel string) (Entry, bool) {
	for _, e := range entries {
		if e.Path == rel {
			return e, true
		}
	}
	return Entry{}, false
}
