package ioc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// quirkSeeds are the README's quirks and the filter-syntax hazards, added to
// the values pulled from the real alerts.
var quirkSeeds = []string{
	"::ffff:45.227.254.26", "2a0e:97c0:03e3:0a5f:0000:0000:0000:0001", "fe80::1%eth0", "64:ff9b::808:808",
	"Login.MicrosoftOnline.com", "raw.githubusercontent.com.", "münchen.de", "xn--mnchen-3ya.de",
	"1.0.0.1", "00000000000000000000000000000000", "wpad", "dc01.hlx.local", "45.227.254.26",
	"%evil.com", "evil.com%", "!1.2.3.4", "a||b", "a&&b", "http://user:pass@evil.com/",
	"HTTP://Evil.COM.:8080/A?b=C&&d", "http://[2A00:1450::0001]:8443/x", "type:  5 cdn.example-corp.com",
}

// seedValues returns every string in testdata/alerts/*.json, plus the
// pieces of each split on the separators Wazuh and Sysmon use (",", ";",
// "=", white space), so that hashes ("MD5=…,SHA256=…") and DNS results
// ("::ffff:1.2.3.4;") appear alone. It fails the test when there are no
// alerts, so the fuzz targets never run unseeded.
func seedValues(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "alerts", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed alerts in testdata/alerts (%v)", err)
	}
	set := make(map[string]bool)
	for _, s := range quirkSeeds {
		set[s] = true
	}
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			for _, e := range n {
				walk(e)
			}
		case []any:
			for _, e := range n {
				walk(e)
			}
		case string:
			set[n] = true
			for _, f := range strings.FieldsFunc(n, func(r rune) bool {
				return r == ',' || r == ';' || r == '=' || r == ' ' || r == '\t' || r == '\n'
			}) {
				set[f] = true
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(v)
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	if len(out) < len(files) {
		t.Fatalf("only %d seed values from %d alerts", len(out), len(files))
	}
	return out
}

// fuzzPolicy allows a few special-use suffixes and excludes some ranges, so
// the fuzzers also cover the policy paths.
func fuzzPolicy(t testing.TB) *Policy {
	p, err := NewPolicy([]string{"example-corp.com", "45.227.0.0/16", "2a01:4f8::/32"}, []string{"lan", "corp.internal"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkOutput asserts the properties every normalised value has: it is a
// fixed point of normalisation (under policy p, if not nil), classifies as
// its own kind, passes Safe, and for addresses and URL hosts is global.
func checkOutput(t *testing.T, p *Policy, k Kind, raw, out string) {
	t.Helper()
	if p == nil {
		if again, ok := Normalize(k, out); !ok || again != out {
			t.Fatalf("Normalize(%s, %q) = %q; Normalize of that = %q, %v", k, raw, out, again, ok)
		}
	} else if again, ok := p.Indicator(k, out, ""); !ok || again.Value != out {
		t.Fatalf("Indicator(%s, %q) = %q; Indicator of that = %q, %v", k, raw, out, again.Value, ok)
	}
	want := k
	if k == Imphash {
		want = MD5 // same shape; the field decides
	}
	if got, ok := Classify(out); !ok || got != want {
		t.Fatalf("Normalize(%s, %q) = %q, which classifies as %q, %v", k, raw, out, got, ok)
	}
	if !Safe(out) {
		t.Fatalf("Normalize(%s, %q) = %q, which is not Safe", k, raw, out)
	}
	switch k {
	case IP:
		if a, ok := parseIP(out); !ok || !IsGlobal(a) || a.String() != out {
			t.Fatalf("Normalize(ip, %q) = %q: not a canonical global address", raw, out)
		}
	case URL:
		if _, a, isAddr := urlHost(out); isAddr && !IsGlobal(a) {
			t.Fatalf("Normalize(url, %q) = %q: host not global", raw, out)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, v := range seedValues(f) {
		for i := range allKinds {
			f.Add(uint8(i), v)
		}
	}
	p := fuzzPolicy(f)
	f.Fuzz(func(t *testing.T, ki uint8, raw string) {
		k := allKinds[int(ki)%len(allKinds)]
		if out, ok := Normalize(k, raw); ok {
			checkOutput(t, nil, k, raw, out)
			// The policy can only remove defaults' values by exclusion.
			if ind, ok := p.Indicator(k, raw, "f"); ok && ind.Value != out {
				t.Fatalf("Indicator(%s, %q) = %q, Normalize = %q", k, raw, ind.Value, out)
			}
		}
		if ind, ok := p.Indicator(k, raw, "f"); ok {
			checkOutput(t, p, k, raw, ind.Value)
		}
	})
}

func FuzzClassify(f *testing.F) {
	for _, v := range seedValues(f) {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		k, ok := Classify(v)
		if ok {
			if out, ok := Normalize(k, v); ok {
				checkOutput(t, nil, k, v, out)
			}
		}
		// Any kind that accepts v must be the kind v classifies as: the
		// kinds do not overlap, except imphash, which looks like md5.
		for _, kk := range allKinds {
			out, nok := Normalize(kk, v)
			if !nok {
				continue
			}
			want := kk
			if kk == Imphash {
				want = MD5
			}
			if !ok || k != want {
				t.Fatalf("Normalize(%s, %q) = %q, but Classify = %q, %v", kk, v, out, k, ok)
			}
		}
	})
}
