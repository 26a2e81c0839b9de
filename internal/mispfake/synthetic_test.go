package mispfake

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/custom-misp/custom-misp/internal/ioc"
)

func synthetic(t testing.TB, attrs, events int, seed int64) *Server {
	t.Helper()
	// The clock is fixed a day after the set's newest timestamp: changes
	// made in a test must not depend on when it runs.
	now := time.Unix(syntheticEpoch+86400, 0)
	s, err := New(Options{Keys: capturedKeys(), Events: fstest.MapFS{}, Now: func() time.Time { return now },
		Synthetic: Synthetic{Attributes: attrs, Events: events, Seed: seed}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSynthetic_Deterministic(t *testing.T) {
	everything := query{context: true, eventTags: true}
	dump := func(s *Server) []byte {
		b, err := s.encodeSearch(everything, s.db.attrs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, other := dump(synthetic(t, 5000, 100, 42)), dump(synthetic(t, 5000, 100, 42)), dump(synthetic(t, 5000, 100, 43))
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave two different sets")
	}
	if bytes.Equal(a, other) {
		t.Error("another seed gave the same set")
	}
}

func TestSynthetic_Counts(t *testing.T) {
	for _, tc := range []struct{ attrs, events int }{{1000, 10}, {10, 50}, {0, 3}, {1, 1}} {
		s := synthetic(t, tc.attrs, tc.events, 1)
		if len(s.db.attrs) != tc.attrs || len(s.db.events) != tc.events {
			t.Errorf("%dx%d: got %d attributes over %d events", tc.attrs, tc.events, len(s.db.attrs), len(s.db.events))
		}
		empty := 0
		for _, ev := range s.db.events {
			if len(ev.attrs) == 0 {
				empty++
			}
		}
		if tc.attrs >= tc.events && empty > 0 {
			t.Errorf("%dx%d: %d events without attributes", tc.attrs, tc.events, empty)
		}
	}
}

// TestSynthetic_ValuesAreValid checks every generated value the way the
// project reads indicators: each half normalises (as a global address, a
// public domain, a URL, a hash) to itself, networks are masked global
// CIDRs, ports are ports.
func TestSynthetic_ValuesAreValid(t *testing.T) {
	s := synthetic(t, 200_000, 2000, 7)
	isIP := func(v string) bool {
		n, ok := ioc.Normalize(ioc.IP, v)
		return ok && n == v
	}
	isNet := func(v string) bool {
		p, err := netip.ParsePrefix(v)
		return err == nil && p.Masked() == p && ioc.IsGlobal(p.Addr())
	}
	is := func(k ioc.Kind) func(string) bool {
		return func(v string) bool {
			n, ok := ioc.Normalize(k, v)
			return ok && n == v
		}
	}
	isFile := func(v string) bool { return v != "" && !strings.ContainsAny(v, "|/\\") }
	isPort := func(v string) bool {
		n, err := strconv.Atoi(v)
		return err == nil && n > 0 && n < 65536
	}
	checks := map[string][]func(string) bool{
		"ip-dst":          {func(v string) bool { return isIP(v) || isNet(v) }},
		"ip-src":          {func(v string) bool { return isIP(v) || isNet(v) }},
		"ip-dst|port":     {isIP, isPort},
		"domain":          {is(ioc.Domain)},
		"hostname":        {is(ioc.Domain)},
		"domain|ip":       {is(ioc.Domain), isIP},
		"url":             {func(v string) bool { _, ok := ioc.Normalize(ioc.URL, v); return ok }},
		"md5":             {is(ioc.MD5)},
		"sha1":            {is(ioc.SHA1)},
		"sha256":          {is(ioc.SHA256)},
		"filename|sha256": {isFile, is(ioc.SHA256)},
		"filename|md5":    {isFile, is(ioc.MD5)},
	}
	count := map[string]int{}
	values := map[string]bool{}
	var nets4, nets6, ips6, toIDs int
	for _, a := range s.db.attrs {
		count[a.typ]++
		values[a.value] = true
		if a.toIDs {
			toIDs++
		}
		check, ok := checks[a.typ]
		if !ok {
			t.Fatalf("attribute %d: unexpected type %q", a.num, a.typ)
		}
		parts := []string{a.value}
		if len(check) == 2 {
			v1, v2, ok := strings.Cut(a.value, "|")
			if !ok {
				t.Fatalf("attribute %d: %s value %q has no |", a.num, a.typ, a.value)
			}
			parts = []string{v1, v2}
		}
		for i, c := range check {
			if !c(parts[i]) {
				t.Errorf("attribute %d: %s value %q: part %q is not valid", a.num, a.typ, a.value, parts[i])
			}
		}
		if strings.Contains(a.value, "/") && strings.HasPrefix(a.typ, "ip-") {
			if strings.Contains(a.value, ":") {
				nets6++
			} else {
				nets4++
			}
		} else if strings.HasPrefix(a.typ, "ip-") && strings.Contains(a.value, ":") {
			ips6++
		}
	}
	n := float64(len(s.db.attrs))
	near := func(what string, got, want, tolerance float64) {
		t.Helper()
		if got < want-tolerance || got > want+tolerance {
			t.Errorf("%s: %.2f%%, want %.0f%% ± %.1f", what, got, want, tolerance)
		}
	}
	pct := func(k int) float64 { return 100 * float64(k) / n }
	near("ip-src and ip-dst", pct(count["ip-src"]+count["ip-dst"]), 30, 1)
	near("ip-dst|port", pct(count["ip-dst|port"]), 5, 0.5)
	near("domain and hostname", pct(count["domain"]+count["hostname"]), 20, 1)
	near("domain|ip", pct(count["domain|ip"]), 3, 0.5)
	near("url", pct(count["url"]), 15, 1)
	near("hashes", pct(count["md5"]+count["sha1"]+count["sha256"]+count["filename|sha256"]+count["filename|md5"]), 27, 1)
	near("to_ids", pct(toIDs), 80, 1)
	ipAttrs := float64(count["ip-src"] + count["ip-dst"])
	near("IPv4 networks among addresses", 100*float64(nets4)/ipAttrs, 1, 0.3)
	if nets6 == 0 || ips6 == 0 {
		t.Errorf("no IPv6 networks (%d) or addresses (%d)", nets6, ips6)
	}
	if distinct := 100 * float64(len(values)) / n; distinct < 99 {
		t.Errorf("only %.2f%% of values are distinct", distinct)
	}

	var unpublished, tlp, attack int
	for _, ev := range s.db.events {
		if !ev.published {
			unpublished++
		}
		for _, tg := range ev.tags {
			if strings.HasPrefix(tg.name, "tlp:") {
				tlp++
			}
			if strings.HasPrefix(tg.name, "misp-galaxy:mitre-attack-pattern=") {
				attack++
				break
			}
		}
		if ev.eventTS > syntheticEpoch+86400 || ev.publishTS > ev.eventTS+600 {
			t.Errorf("event %s: timestamp %d, publish_timestamp %d", ev.id, ev.eventTS, ev.publishTS)
		}
	}
	m := float64(len(s.db.events))
	near("unpublished events", 100*float64(unpublished)/m, 10, 2)
	near("events with a TLP tag", 100*float64(tlp)/m, 85, 3)
	near("events with ATT&CK techniques", 100*float64(attack)/m, 30, 3)
}

func TestParseSynthetic(t *testing.T) {
	g, err := ParseSynthetic("1000000x20000")
	if err != nil || g.Attributes != 1_000_000 || g.Events != 20_000 {
		t.Errorf("ParseSynthetic = %+v, %v", g, err)
	}
	for _, bad := range []string{"", "1000", "x10", "10x", "-1x5", "5x0", "1x2x3", "100000000x1"} {
		if _, err := ParseSynthetic(bad); err == nil {
			t.Errorf("ParseSynthetic(%q) accepted", bad)
		}
	}
}
