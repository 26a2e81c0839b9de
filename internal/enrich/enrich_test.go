package enrich

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

func TestMatching_SharesOneAnswerOutByValue(t *testing.T) {
	// One batched answer: MISP matches either half of a composite,
	// case-insensitively (shared/misp-responses/restsearch_composite_*).
	attrs := []misp.Attribute{
		{ID: "1", Value: "198.51.100.7|8443", Type: "ip-dst|port", ToIDs: true},
		{ID: "2", Value: "evil.example", Type: "domain", ToIDs: true},
		{ID: "3", Value: "invoice.exe|E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", Type: "filename|sha256"},
		{ID: "4", Value: "evil.example|198.51.100.7", Type: "domain|ip"},
		{ID: "5", Value: "notevil.example", Type: "domain"},
		{ID: "6", Value: "SHOUTING.Example", Type: "domain"},
		{ID: "7", Value: "www.whitewall.top", Type: "url"},
	}
	tests := []struct {
		name string
		ind  ioc.Indicator
		want []string
	}{
		{"ip in two composites", ioc.Indicator{Kind: ioc.IP, Value: "198.51.100.7"}, []string{"1", "4"}},
		{"domain whole and half", ioc.Indicator{Kind: ioc.Domain, Value: "evil.example"}, []string{"2", "4"}},
		{"hash half, other case", ioc.Indicator{Kind: ioc.SHA256, Value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, []string{"3"}},
		{"no substring matches", ioc.Indicator{Kind: ioc.Domain, Value: "example"}, nil},
		// An analyst may type EVIL.example; MISP matches it to evil.example.
		{"whole value, other case", ioc.Indicator{Kind: ioc.Domain, Value: "shouting.example"}, []string{"6"}},
		// The real MISP's event 8 has a url attribute whose value is a bare
		// host name; an alert holding that name and a URL asks for the url
		// types too, and MISP returns it: not a match for the domain.
		{"another kind's type", ioc.Indicator{Kind: ioc.Domain, Value: "www.whitewall.top"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range Matching(tt.ind, attrs) {
				got = append(got, string(a.ID))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("matching (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBetter_DetectionThenSeverityThenNewest(t *testing.T) {
	attrs := []misp.Attribute{
		{ID: "ctx-high", ToIDs: false, Event: misp.Event{ThreatLevelID: "1"}, Timestamp: "1795793792"},
		{ID: "ioc-low-new", ToIDs: true, Event: misp.Event{ThreatLevelID: "3"}, Timestamp: "1795793799"},
		{ID: "ioc-high-old", ToIDs: true, Event: misp.Event{ThreatLevelID: "1"}, Timestamp: "999999999"},
		{ID: "ioc-high-new", ToIDs: true, Event: misp.Event{ThreatLevelID: "1"}, Timestamp: "1795793792"},
		{ID: "ioc-undefined", ToIDs: true, Event: misp.Event{ThreatLevelID: "4"}, Timestamp: "1795793799"},
	}
	got := Matching(ioc.Indicator{}, nil) // empty input stays empty
	if len(got) != 0 {
		t.Fatalf("Matching(nil) = %v", got)
	}
	sorted := append([]misp.Attribute(nil), attrs...)
	SortBest(sorted)
	var ids []string
	for _, a := range sorted {
		ids = append(ids, string(a.ID))
	}
	want := []string{"ioc-high-new", "ioc-high-old", "ioc-low-new", "ioc-undefined", "ctx-high"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// Two attributes of one event with the same value and timestamp (the real
// MISP's VMRay event 12: 50.19.252.36 as ip-dst in objects 100 and 145,
// attributes 978 and 1112) came back in one order from MISP and in the
// other from the mirror, so the two paths named different attributes and
// tags. The higher id wins, whatever order they arrive in.
func TestBetter_EqualTimestampsHighestIDFirst(t *testing.T) {
	a978 := misp.Attribute{ID: "978", Type: "ip-dst", Value: "50.19.252.36", ToIDs: true, Event: misp.Event{ThreatLevelID: "4"}, Timestamp: "1796542024"}
	a1112 := a978
	a1112.ID = "1112"
	for _, in := range [][]misp.Attribute{{a978, a1112}, {a1112, a978}} {
		got := Matching(ioc.Indicator{Kind: ioc.IP, Value: "50.19.252.36"}, in)
		if len(got) != 2 || got[0].ID != "1112" || got[1].ID != "978" {
			t.Errorf("Matching(%s, %s) = %v, want 1112 then 978", in[0].ID, in[1].ID, got)
		}
	}
}
