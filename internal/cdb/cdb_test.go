package cdb

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/google/go-cmp/cmp"
)

func TestNetworkKeys(t *testing.T) {
	seq := func(format string, from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf(format, i))
		}
		return out
	}
	tests := []struct {
		name      string
		prefix    string
		keys      []string
		split, ok bool
	}{
		{"slash8", "10.0.0.0/8", []string{"10."}, false, true},
		{"slash16", "10.1.0.0/16", []string{"10.1."}, false, true},
		{"slash24", "10.1.2.0/24", []string{"10.1.2."}, false, true},
		{"slash32", "10.1.2.3/32", []string{"10.1.2.3"}, false, true},
		{"unmasked", "10.1.2.3/24", []string{"10.1.2."}, false, true},
		{"slash20 is sixteen /24s", "10.1.16.0/20", seq("10.1.%d.", 16, 31), true, true},
		{"slash9 is 128 /16s", "10.128.0.0/9", seq("10.%d.", 128, 255), true, true},
		{"slash25 is 128 addresses", "192.0.2.128/25", seq("192.0.2.%d", 128, 255), true, true},
		{"slash30", "192.0.2.4/30", seq("192.0.2.%d", 4, 7), true, true},
		{"slash7 too broad", "2.0.0.0/7", nil, false, false},
		{"ipv6 network", "2001:db8::/32", nil, false, false},
		{"ipv6 slash128", "2001:db8::1/128", []string{"2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001"}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, split, ok := NetworkKeys(netip.MustParsePrefix(tc.prefix))
			if diff := cmp.Diff(tc.keys, keys); diff != "" || split != tc.split || ok != tc.ok {
				t.Errorf("NetworkKeys(%s): split %v ok %v, want %v %v; keys (-want +got):\n%s", tc.prefix, split, ok, tc.split, tc.ok, diff)
			}
		})
	}
}

// The keys of a network, written and read back as analysisd does, match
// with address_match_key exactly the addresses inside it: checked with
// random networks of every length from /8 and random addresses near them.
func TestNetworkKeys_AddressMatchKeyIsContains(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		bits := 8 + r.IntN(25)
		var b [4]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		p := netip.PrefixFrom(netip.AddrFrom4(b), bits).Masked()
		keys, _, ok := NetworkKeys(p)
		if !ok {
			t.Fatalf("%s: not listed", p)
		}
		var text []byte
		for _, k := range keys {
			text = AppendLine(text, k, "e1 tl1")
		}
		tab := Parse(text)
		for range 20 {
			a := p.Addr().As4()
			// Flip a few low bits: sometimes inside p, sometimes not.
			x := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
			x ^= r.Uint32() & (1<<(33-bits+r.IntN(3)) - 1)
			addr := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
			_, _, hit := tab.AddressMatchKey(addr.String())
			if hit != p.Contains(addr) {
				t.Fatalf("%s (keys %q): address_match_key(%s) = %v, contains %v", p, keys, addr, hit, p.Contains(addr))
			}
		}
	}
}

// Parse follows Lists_OP_MakeCDB line by line (src/analysisd/lists_make.c
// of Wazuh 4.14.7); the cases are read off that code.
func TestParse_AsWazuhReadsLines(t *testing.T) {
	text := strings.Join([]string{
		`10.1.2.3:e1 tl2`,                       // plain
		`"2001:db8::1":e2 tl1`,                  // quoted key holding ':'
		`"http://evil.example/a?b=c":e3 tl3 +1`, // quoted URL
		`k:a:b`,                                 // the value runs to the end, colons and all
		`q:"quoted" tail`,                       // a quoted value is the text between the quotes
		`no separator`,                          // skipped
		`"open:x`,                               // unterminated quoted key: skipped
		`v:"open`,                               // unterminated quoted value: skipped
		`crlf:yes` + "\r",                       // a CR ends the line
		`10.1.2.3:second`,                       // a second line of a key: the first wins
		`empty:`,                                // an empty value is a value
	}, "\n")
	want := Table{
		"10.1.2.3":                  "e1 tl2",
		"2001:db8::1":               "e2 tl1",
		"http://evil.example/a?b=c": "e3 tl3 +1",
		"k":                         "a:b",
		"q":                         "quoted",
		"crlf":                      "yes",
		"empty":                     "",
	}
	if diff := cmp.Diff(want, Parse([]byte(text))); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestAddressMatchKey(t *testing.T) {
	tab := Table{"10.": "a", "192.168.1.": "b", "203.0.113.5": "c", "2001:db8::1": "d"}
	tests := []struct{ field, key string }{
		{"10.9.9.9", "10."},
		{"192.168.1.77", "192.168.1."},
		{"192.168.10.1", ""}, // "192.168.1." is not a prefix ending at a dot of it
		{"203.0.113.5", "203.0.113.5"},
		{"203.0.113.50", ""},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:db8::2", ""},
		{"110.1.1.1", ""}, // "10." is no dot-ended prefix of it
	}
	for _, tc := range tests {
		key, _, ok := tab.AddressMatchKey(tc.field)
		if key != tc.key || ok != (tc.key != "") {
			t.Errorf("AddressMatchKey(%s) = %q %v, want %q", tc.field, key, ok, tc.key)
		}
	}
}

// source is a mirror for Build: attributes with their events.
type source []struct {
	a misp.Attribute
	e misp.Event
}

func (s source) Each(fn func(misp.Attribute, misp.Event) error) error {
	for _, x := range s {
		if err := fn(x.a, x.e); err != nil {
			return err
		}
	}
	return nil
}

func attr(event, level, typ, value string) struct {
	a misp.Attribute
	e misp.Event
} {
	return struct {
		a misp.Attribute
		e misp.Event
	}{misp.Attribute{Type: misp.FlexString(typ), Value: misp.FlexString(value)}, misp.Event{ID: misp.FlexString(event), ThreatLevelID: misp.FlexString(level)}}
}

func TestBuild_ListsAndText(t *testing.T) {
	md5 := strings.Repeat("a1", 16)
	sha1 := strings.Repeat("B2", 20)
	src := source{
		attr("7", "2", "ip-dst", "203.0.113.5"),
		attr("9", "1", "ip-src", "203.0.113.5"), // a second event: the more severe one is named, +1
		attr("7", "2", "ip-dst|port", "198.51.100.7|8443"),
		attr("7", "2", "ip-src", "192.0.2.0/24"),
		attr("7", "2", "ip-src", "198.18.0.0/15"), // off a boundary: two /16 keys
		attr("7", "2", "ip-dst", "2001:db8::/48"), // IPv6 network: left to the mirror
		attr("7", "2", "ip-dst", "2001:DB8::5"),
		attr("8", "3", "domain|ip", "Evil.Example.COM.|198.51.100.9"),
		attr("8", "3", "hostname|port", "c2.example.net|443"),
		attr("8", "3", "url", "http://Evil.Example.com/Pay"),
		attr("8", "3", "uri", "/index.php"),                // a path: not a list entry
		attr("8", "3", "url", `http://x.example/"quoted"`), // unwritable
		attr("8", "", "filename|md5", "a.exe|"+md5),
		attr("8", "9", "sha1", sha1), // unknown threat level: 4
		attr("8", "3", "sha256", "not-a-hash"),
	}
	s, err := Build(src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[List]string{
		IP: "192.0.2.:e7 tl2\n198.18.:e7 tl2\n198.19.:e7 tl2\n198.51.100.7:e7 tl2\n198.51.100.9:e8 tl3\n" +
			"\"2001:0db8:0000:0000:0000:0000:0000:0005\":e7 tl2\n\"2001:db8::5\":e7 tl2\n203.0.113.5:e9 tl1 +1\n",
		Domain: "c2.example.net:e8 tl3\nevil.example.com:e8 tl3\n",
		URL:    "\"http://Evil.Example.com/Pay\":e8 tl3\n\"http://evil.example.com/pay\":e8 tl3\n",
		MD5:    md5 + ":e8 tl4\n",
		SHA1:   strings.ToLower(sha1) + ":e8 tl4\n",
	}
	for _, l := range Lists {
		if diff := cmp.Diff(want[l], string(s.Text(l))); diff != "" {
			t.Errorf("list %s (-want +got):\n%s", l, diff)
		}
	}
	wantStats := Stats{Attributes: len(src), NetworksSplit: 1, NetworksLeft: 1, Unwritable: 2}
	if s.Stats != wantStats {
		t.Errorf("stats %+v, want %+v", s.Stats, wantStats)
	}
	// What analysisd compiles from the text is what Build meant.
	tab := Parse(s.Text(IP))
	if _, v, ok := tab.AddressMatchKey("2001:db8::5"); !ok || v != "e7 tl2" {
		t.Errorf("quoted IPv6 key read back: %q %v", v, ok)
	}
}

// A key is a copy, not a part of the attribute's value: the mirror decodes
// each attribute record into one string, and a key sharing its memory
// would keep the whole record alive (at a million attributes, most of the
// export's memory).
func TestBuild_KeysDoNotHoldTheRecord(t *testing.T) {
	record := "evil.example.net|a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1 and the rest of the record"
	src := source{
		attr("1", "1", "domain", record[:16]),
		attr("1", "1", "md5", record[17:49]),
		attr("2147483647", "1", "domain", record[:16]), // the largest MISP id (MySQL INT)
	}
	s, err := Build(src)
	if err != nil {
		t.Fatal(err)
	}
	lo := uintptr(unsafe.Pointer(unsafe.StringData(record)))
	hi := lo + uintptr(len(record))
	for _, l := range []List{Domain, MD5} {
		if len(s.keys[l]) != 1 {
			t.Fatalf("list %s: %d keys, want 1", l, len(s.keys[l]))
		}
		for k := range s.keys[l] {
			if p := uintptr(unsafe.Pointer(unsafe.StringData(k))); p >= lo && p < hi {
				t.Errorf("list %s: key %q shares the record's memory", l, k)
			}
		}
	}
	if got, want := string(s.Text(Domain)), "evil.example.net:e2147483647 tl1 +1\n"; got != want {
		t.Errorf("domain list %q, want %q", got, want)
	}
}
