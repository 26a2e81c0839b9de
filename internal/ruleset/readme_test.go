package ruleset

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// docFiles are the documents that may show an <integration> block.
func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../../README.md", "../../rules/README.md"}, docs...)
}

// fence matches a fenced code block marked xml, with its indentation (a
// block inside a list item is indented) and its body.
var fence = regexp.MustCompile("(?ms)^([ \t]*)```xml[ \t]*\n(.*?)^[ \t]*```[ \t]*$")

// xmlBlocks returns the ```xml blocks of a Markdown text that hold an
// <integration> element, each dedented by its fence's indentation and
// with its line number.
func xmlBlocks(text string) (blocks []string, lines []int) {
	for _, m := range fence.FindAllStringSubmatchIndex(text, -1) {
		indent, body := text[m[2]:m[3]], text[m[4]:m[5]]
		if !strings.Contains(body, "<integration>") {
			continue
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			out = append(out, strings.TrimPrefix(l, indent))
		}
		blocks = append(blocks, normalized(strings.Join(out, "\n")))
		lines = append(lines, strings.Count(text[:m[0]], "\n")+1)
	}
	return blocks, lines
}

// normalized drops trailing blanks of every line and blank lines around
// the text: the only differences a Markdown copy may have.
func normalized(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// snippetForms returns, for every snippet file with an <integration>
// element, the forms a document may show: the element alone (without the
// file's comment), or the whole file.
func snippetForms(t *testing.T) map[string][]string {
	t.Helper()
	files, names, err := loadDir(snippetsDir)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]string{}
	for _, n := range names {
		s := string(files[n])
		i, j := strings.Index(s, "<integration>"), strings.LastIndex(s, "</integration>")
		if i < 0 || j < i {
			continue
		}
		forms[n] = []string{normalized(s[i : j+len("</integration>")]), normalized(s)}
	}
	if len(forms) == 0 {
		t.Fatalf("%s: no snippet with an <integration> element", snippetsDir)
	}
	return forms
}

// TestDocs_IntegrationBlocks: a document that shows an <integration>
// block shows a snippet file of ossec-snippets/ verbatim (the whole file
// or its <integration> element): README step 4 once showed 12 groups
// where the snippet had 31, and following it would have dropped 23
// enriched alerts of the test corpus.
func TestDocs_IntegrationBlocks(t *testing.T) {
	forms := snippetForms(t)
	for _, doc := range docFiles(t) {
		b, err := readCapped(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks, lines := xmlBlocks(string(b))
		for k, block := range blocks {
			t.Run(fmt.Sprintf("%s:%d", filepath.Base(doc), lines[k]), func(t *testing.T) {
				best, bestDiff, bestScore := "", "", 0
				for _, name := range slices.Sorted(maps.Keys(forms)) {
					for _, f := range forms[name] {
						diff := cmp.Diff(strings.Split(f, "\n"), strings.Split(block, "\n"))
						if diff == "" {
							return
						}
						if score := tagDistance(f, block); best == "" || score < bestScore {
							best, bestDiff, bestScore = name, diff, score
						}
					}
				}
				t.Errorf("%s:%d: the <integration> block is no snippet of %s; nearest %s (-snippet +document):\n%s",
					doc, lines[k], snippetsDir, best, bestDiff)
			})
		}
	}
}

// elementTag matches the element a line of a snippet starts with.
var elementTag = regexp.MustCompile(`^\s*<([a-z_]+)>`)

// tagDistance counts the elements one text has and the other lacks, so
// that a wrong block is compared with the snippet of its own shape.
func tagDistance(a, b string) int {
	tags := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			if t := elementTag.FindStringSubmatch(l); t != nil {
				m[t[1]] = true
			}
		}
		return m
	}
	ta, tb := tags(a), tags(b)
	n := 0
	for t := range ta {
		if !tb[t] {
			n++
		}
	}
	for t := range tb {
		if !ta[t] {
			n++
		}
	}
	return n
}

// TestXMLBlocks checks the block finder on the forms Markdown allows.
func TestXMLBlocks(t *testing.T) {
	text := "intro\n\n```xml\n<integration>\n  <name>a</name>\n</integration>\n```\n\n" +
		"1. step\n\n   ```xml\n   <integration>\n     <name>b</name>   \n   </integration>\n   ```\n\n" +
		"```xml\n<ruleset/>\n```\n\n```sh\necho <integration>\n```\n"
	blocks, lines := xmlBlocks(text)
	want := []string{"<integration>\n  <name>a</name>\n</integration>", "<integration>\n  <name>b</name>\n</integration>"}
	if diff := cmp.Diff(want, blocks); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 11}, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
