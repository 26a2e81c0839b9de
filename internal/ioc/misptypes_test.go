package ioc

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var allKinds = [...]Kind{IP, Domain, URL, MD5, SHA1, SHA256, SHA512, Imphash}

// TestMISPTypes_Exist checks every type name against a copy of MISP's
// describeTypes (testdata/misp-describeTypes.json, from
// /attributes/describeTypes), so a typo cannot silently scope a search to
// a type that does not exist.
func TestMISPTypes_Exist(t *testing.T) {
	b, err := os.ReadFile("testdata/misp-describeTypes.json")
	if err != nil {
		t.Fatal(err)
	}
	var dt struct {
		Result struct {
			Types []string `json:"types"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &dt); err != nil {
		t.Fatal(err)
	}
	known := make(map[string]bool)
	for _, ty := range dt.Result.Types {
		known[ty] = true
	}
	if len(known) < 100 {
		t.Fatalf("describeTypes holds %d types; the copy looks truncated", len(known))
	}
	for _, k := range allKinds {
		types := k.MISPTypes()
		if len(types) == 0 {
			t.Errorf("%s: no MISP types", k)
		}
		for _, ty := range types {
			if !known[ty] {
				t.Errorf("%s: %q is not a MISP attribute type", k, ty)
			}
		}
	}
}

// TestMISPTypes_Composites pins the composite types each kind must include
// (issue 3: filename|sha256, domain|ip, ip-dst|port, hostname|port).
func TestMISPTypes_Composites(t *testing.T) {
	want := map[Kind][]string{
		IP:      {"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"},
		Domain:  {"domain", "hostname", "domain|ip", "hostname|port"},
		URL:     {"url", "link", "uri"},
		MD5:     {"md5", "filename|md5"},
		SHA1:    {"sha1", "filename|sha1"},
		SHA256:  {"sha256", "filename|sha256"},
		SHA512:  {"sha512", "filename|sha512"},
		Imphash: {"imphash", "filename|imphash"},
	}
	got := make(map[Kind][]string)
	for _, k := range allKinds {
		got[k] = k.MISPTypes()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MISPTypes mismatch (-want +got):\n%s", diff)
	}
	if Kind("email").MISPTypes() != nil {
		t.Error("unknown kind has MISP types")
	}
	// A caller appending to the result must not change the next call's.
	_ = append(IP.MISPTypes()[:1], "x")
	if IP.MISPTypes()[1] != "ip-dst" {
		t.Error("MISPTypes returns shared storage")
	}
}

func TestKind_Rank(t *testing.T) {
	// Issue 3: keep hashes, then URLs, then domains, then IPs.
	order := [][]Kind{{SHA512, SHA256, SHA1, MD5, Imphash}, {URL}, {Domain}, {IP}}
	for i, group := range order {
		for _, k := range group {
			if k.Rank() != i {
				t.Errorf("%s.Rank() = %d, want %d", k, k.Rank(), i)
			}
		}
	}
	if r := Kind("other").Rank(); r <= IP.Rank() {
		t.Errorf("unknown kind ranks %d, before ip", r)
	}
}
