package ioc

import (
	_ "embed"
	"strings"
	"sync"
)

// tldList is the set of top-level domains IANA has delegated, one a line,
// lower case, IDN TLDs in A-label (xn--) form, after a header of "#"
// comment lines that names its source and how to regenerate it.
//
//go:embed tlds.txt
var tldList string

// tlds returns tldList as a set. It is built on first use: most runs vet
// no domain at all, and each run is a fresh process.
var tlds = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 1600)
	for line := range strings.Lines(tldList) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			set[line] = struct{}{}
		}
	}
	return set
})

// isTLD reports whether label, in lower case and IDN labels in A-label
// form, is a top-level domain IANA has delegated.
func isTLD(label string) bool {
	_, ok := tlds()[label]
	return ok
}
