package ioc

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var (
	tldsFrom    = flag.String("tlds-from", "", "regenerate tlds.txt from this copy of the Public Suffix List")
	tldsVersion = flag.String("tlds-version", "", "with -tlds-from: the version of that copy, written in the header")
)

// TestTLDList checks the embedded list of delegated TLDs. With -tlds-from
// (and -tlds-version) it first regenerates tlds.txt: see its header.
func TestTLDList(t *testing.T) {
	if *tldsFrom != "" {
		regenerateTLDs(t, *tldsFrom, *tldsVersion)
	}
	var list []string
	for line := range strings.Lines(tldList) {
		line = strings.TrimSuffix(line, "\n")
		if !strings.HasPrefix(line, "#") {
			list = append(list, line)
		}
	}
	if !slices.IsSorted(list) || len(slices.Compact(slices.Clone(list))) != len(list) {
		t.Error("tlds.txt is not sorted or has duplicates")
	}
	// About 1,450 TLDs have been delegated since 2014; far fewer means a
	// truncated list, far more that second-level rules leaked in.
	if len(list) < 1000 || len(list) > 2000 {
		t.Errorf("tlds.txt has %d TLDs, want 1000-2000", len(list))
	}
	for _, tld := range list {
		if !validTLD(tld) || strings.ToLower(tld) != tld {
			t.Errorf("tlds.txt: %q is not a lower-case TLD label", tld)
		}
	}
	for _, tld := range []string{"com", "io", "de", "zip", "mov", "md", "py", "sh", "pl", "rs", "ps", "top", "xyz", "xn--p1ai", "xn--55qx5d"} {
		if !isTLD(tld) {
			t.Errorf("isTLD(%q) = false, want true", tld)
		}
	}
	// Special-use names (RFC 6761 and others) and file extensions that
	// are no TLD.
	for _, tld := range []string{"example", "localhost", "local", "test", "invalid", "internal", "lan", "corp", "json", "exe", "txt", "log", "conf", "dll", "js", "COM", "рф", ""} {
		if isTLD(tld) {
			t.Errorf("isTLD(%q) = true, want false", tld)
		}
	}
}

// regenerateTLDs writes tlds.txt from a copy of the Public Suffix List: the
// last label of every rule in its ICANN section (wildcard and exception
// rules included, so that *.ck still yields ck), in A-label form.
func regenerateTLDs(t *testing.T, from, version string) {
	if version == "" {
		t.Fatal("-tlds-from needs -tlds-version: the header must say which copy it was")
	}
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var list []string
	inICANN := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.Contains(line, "===BEGIN ICANN DOMAINS==="):
			inICANN = true
		case strings.Contains(line, "===END ICANN DOMAINS==="):
			inICANN = false
		case !inICANN, line == "", strings.HasPrefix(line, "//"):
		default:
			rule := strings.Fields(line)[0]
			tld := rule[strings.LastIndexByte(rule, '.')+1:]
			tld = strings.TrimPrefix(tld, "!")
			a, ok := canonName(tld, 1)
			if !ok || !validTLD(a) {
				t.Fatalf("%s: rule %q: TLD %q is not a valid label", from, rule, tld)
			}
			list = append(list, a)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(list)
	list = slices.Compact(list)
	var b strings.Builder
	fmt.Fprintf(&b, "# Top-level domains delegated by IANA, one a line, lower case, IDN TLDs in\n")
	fmt.Fprintf(&b, "# A-label (xn--) form: the last label of every rule in the ICANN section of\n")
	fmt.Fprintf(&b, "# the Public Suffix List (https://publicsuffix.org/list/), which holds every\n")
	fmt.Fprintf(&b, "# TLD of the IANA root zone (and onion: special-use names are refused apart).\n")
	fmt.Fprintf(&b, "# Source: %s, %s.\n", from, version)
	fmt.Fprintf(&b, "# Regenerate: go test ./internal/ioc -run '^TestTLDList$' -tlds-from=FILE -tlds-version='VERSION'\n")
	for _, tld := range list {
		b.WriteString(tld + "\n")
	}
	if err := os.WriteFile("tlds.txt", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("wrote tlds.txt (%d TLDs): run the test again without -tlds-from to check it", len(list))
}
