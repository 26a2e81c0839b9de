package doctor

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repoRoot is the repository, relative to this package.
const repoRoot = "../../"

// installed is one path an install(1), chown or chmod line sets, as the
// text says.
type installed struct {
	where string // file:line
	path  string // as written, variables expanded
	mode  string // "owner:group 0mode"
}

// installCommand parses one install(1) command line (its words after
// "install") into the paths it creates: dest, or dest/<base of each
// source> when dest is a directory (it ends in "/" or there are several
// sources).
func installCommand(words []string) (paths []string, mode string, err error) {
	owner, group, perm := "root", "root", "0755" // install(1)'s defaults
	var operands []string
	dir := false
	for i := 0; i < len(words); i++ {
		switch w := words[i]; w {
		case "-d":
			dir = true
		case "-o", "-g", "-m":
			if i+1 == len(words) {
				return nil, "", fmt.Errorf("%s without a value", w)
			}
			i++
			switch w {
			case "-o":
				owner = words[i]
			case "-g":
				group = words[i]
			case "-m":
				perm = words[i]
			}
		default:
			if strings.HasPrefix(w, "-") {
				return nil, "", fmt.Errorf("option %s is not modelled", w)
			}
			operands = append(operands, w)
		}
	}
	p, err := strconv.ParseUint(perm, 8, 32)
	if err != nil {
		return nil, "", fmt.Errorf("mode %q: %v", perm, err)
	}
	mode = fmt.Sprintf("%s:%s %04o", owner, group, p)
	switch {
	case len(operands) == 0:
		return nil, "", fmt.Errorf("no operand")
	case dir:
		return operands, mode, nil
	case len(operands) == 1:
		return nil, "", fmt.Errorf("one operand without -d")
	}
	dest, srcs := operands[len(operands)-1], operands[:len(operands)-1]
	if len(srcs) == 1 && !strings.HasSuffix(dest, "/") {
		return []string{dest}, mode, nil
	}
	for _, s := range srcs {
		paths = append(paths, path.Join(dest, path.Base(s)))
	}
	return paths, mode, nil
}

// commandWords splits an install(1) command, as it stands in a Makefile
// recipe or in prose, into its words: options, then operands up to the
// first word that is no path (prose such as "and keep the name") or a
// directory destination ending in "/". Quotes and trailing commas go.
func commandWords(s string) []string {
	if i := strings.IndexAny(s, ";&|#"); i >= 0 {
		s = s[:i]
	}
	var words []string
	option := false // the next word is an option's value
	for _, w := range strings.Fields(s) {
		w = strings.TrimRight(strings.Trim(w, `"'`+"`"), ",")
		switch {
		case option:
			option = false
		case w == "-d":
		case w == "-o" || w == "-g" || w == "-m":
			option = true
		case !pathWord.MatchString(w):
			return words
		}
		words = append(words, w)
		if !option && strings.HasSuffix(w, "/") && len(words) > 1 && !strings.HasPrefix(w, "-") {
			return words
		}
	}
	return words
}

// pathWord is a word that can be an operand of install(1) here: a path or
// a file name, with a dot, a slash or a dash in it.
var pathWord = regexp.MustCompile(`^[\w$%{}/.-]*[/.-][\w$%{}/.-]*$`)

// tableEntry returns the InstallModes entry whose path ends p, if any.
func tableEntry(p string) (InstallMode, bool) {
	p = strings.TrimSuffix(p, "/")
	for _, m := range InstallModes() {
		if p == m.Path || strings.HasSuffix(p, "/"+m.Path) {
			return m, true
		}
	}
	return InstallMode{}, false
}

// docInstalls finds the install(1) lines and "chown U:G P; chmod M P"
// fixes in a text file that set one of the table's paths.
func docInstalls(t *testing.T, name string) []installed {
	t.Helper()
	b, err := os.ReadFile(repoRoot + name)
	if err != nil {
		t.Fatal(err)
	}
	installRE := regexp.MustCompile(`(?:^|[\s(:])install(\s+-[dmog]\s.*)`)
	fixRE := regexp.MustCompile(`chown (\S+):(\S+) (\S+); chmod (0?[0-7]{3}) (\S+)`)
	var out []installed
	for n, line := range strings.Split(string(b), "\n") {
		where := fmt.Sprintf("%s:%d", name, n+1)
		if m := installRE.FindStringSubmatch(line); m != nil {
			paths, mode, err := installCommand(commandWords(m[1]))
			if err != nil {
				t.Errorf("%s: %v in %q", where, err, line)
				continue
			}
			for _, p := range paths {
				out = append(out, installed{where: where, path: p, mode: mode})
			}
		}
		for _, m := range fixRE.FindAllStringSubmatch(line, -1) {
			perm, _ := strconv.ParseUint(m[4], 8, 32)
			out = append(out, installed{where: where, path: m[3], mode: fmt.Sprintf("%s:%s %04o", m[1], m[2], perm)})
		}
	}
	return out
}

// TestInstallModes_Docs: every install(1) line and chown/chmod fix in the
// documentation that sets a path of the table uses the table's owner,
// group and mode, and the ruleset files say in their header how they are
// installed.
func TestInstallModes_Docs(t *testing.T) {
	docs := []string{"README.md", "rules/README.md", "decoders/" + DecoderFile, "rules/" + RulesFile, "rules/" + SysmonFile,
		"ossec-snippets/integration-4.8plus.xml", "ossec-snippets/integration-4.8plus-level.xml", "ossec-snippets/integration-4.7.xml", "ossec-snippets/integration-4.3-4.6.xml",
		"ossec-snippets/feeds-fetch-wodle.xml", "ossec-snippets/mirror-sync-wodle.xml", "ossec-snippets/ruleset-include.xml"}
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			for _, in := range docInstalls(t, doc) {
				m, ok := tableEntry(in.path)
				if ok && in.mode != m.String() {
					t.Errorf("%s: %s as %s, make install sets %s", in.where, in.path, in.mode, m)
				}
			}
		})
	}
	for _, f := range []string{"decoders/" + DecoderFile, "rules/" + RulesFile, "rules/" + SysmonFile} {
		rel := "etc/" + f
		says := slices.ContainsFunc(docInstalls(t, f), func(in installed) bool {
			m, ok := tableEntry(in.path)
			return ok && m.Path == rel
		})
		if !says {
			t.Errorf("%s: the header does not say how to install the file: %s", f, installModeOf(rel).Install(f, "/var/ossec/"+path.Dir(rel)+"/"))
		}
	}
}

// TestInstallModes_Entries keeps the table honest: the programs and
// their directory must not be writable by group wazuh (integratord
// refuses them), the ruleset files must be what a stock manager gives its
// own local_rules.xml, and the key must not be readable by others.
func TestInstallModes_Entries(t *testing.T) {
	for _, m := range InstallModes() {
		t.Run(m.Path, func(t *testing.T) {
			switch {
			case strings.HasPrefix(m.Path, "integrations"):
				if m.Owner != "root" || m.Perm&0o022 != 0 {
					t.Errorf("%s: %s: integratord refuses a program user wazuh can write", m.Path, m)
				}
			case strings.HasPrefix(m.Path, "etc/rules/"), strings.HasPrefix(m.Path, "etc/decoders/"):
				if m.String() != "wazuh:wazuh 0660" {
					t.Errorf("%s: %s, a stock manager installs etc/rules/local_rules.xml wazuh:wazuh 0660", m.Path, m)
				}
			case m.Path == keyFile:
				if m.Perm&0o007 != 0 {
					t.Errorf("%s: %s: others can read the key", m.Path, m)
				}
			}
		})
	}
}

// TestInstallCommand checks the parser on the forms the docs use.
func TestInstallCommand(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string
		wantMode   string
	}{
		{"two programs into a directory", "install -o root -g wazuh -m 0750 bin/custom-misp bin/custom-misp-net /var/ossec/integrations/",
			[]string{"/var/ossec/integrations/custom-misp", "/var/ossec/integrations/custom-misp-net"}, "root:wazuh 0750"},
		{"empty key file", "install -o root -g wazuh -m 0640 /dev/null /var/ossec/etc/custom-misp.key   # then put the key in it",
			[]string{"/var/ossec/etc/custom-misp.key"}, "root:wazuh 0640"},
		{"directory", "install -d -m 0770 -o root -g wazuh /var/ossec/var/custom-misp", []string{"/var/ossec/var/custom-misp"}, "root:wazuh 0770"},
		{"prose after the command", "install -o wazuh -g wazuh -m 0660 decoders/0005-misp_decoders.xml /x/etc/decoders/ and keep the file name: it must sort first",
			[]string{"/x/etc/decoders/0005-misp_decoders.xml"}, "wazuh:wazuh 0660"},
		{"comma after the directory", "install -o wazuh -g wazuh -m 0660 rules/0990-misp_rules.xml /x/etc/rules/, then wazuh-analysisd -t",
			[]string{"/x/etc/rules/0990-misp_rules.xml"}, "wazuh:wazuh 0660"},
		{"defaults", "install a.xml /x/", []string{"/x/a.xml"}, "root:root 0755"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			words := commandWords(strings.TrimPrefix(tt.line, "install "))
			got, mode, err := installCommand(words)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || mode != tt.wantMode {
				t.Errorf("paths (-want +got):\n%s\nmode %s, want %s", diff, mode, tt.wantMode)
			}
		})
	}
}
