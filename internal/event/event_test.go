package event

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

func TestTechnique(t *testing.T) {
	tests := []struct {
		tag, want string
		ok        bool
	}{
		// Tag names as a real MISP 2.5.1 returns them (shared/misp-responses).
		{`misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"`, "T1566.001", true},
		{`misp-galaxy:mitre-attack-pattern="Web Protocols - T1071.001"`, "T1071.001", true},
		{`misp-galaxy:mitre-attack-pattern="Exploit Public-Facing Application - T1190"`, "T1190", true},
		{`misp-galaxy:mitre-attack-pattern="Something without an id"`, "", false},
		{`misp-galaxy:threat-actor="APT28 - T1190"`, "", false},
		{`misp-galaxy:mitre-attack-pattern="x - T12"`, "", false},
		{`misp-galaxy:mitre-attack-pattern="x - T1234.56"`, "", false},
		{`misp-galaxy:mitre-attack-pattern=`, "", false},
		{`tlp:red`, "", false},
	}
	for _, tt := range tests {
		got, ok := Technique(tt.tag)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Technique(%q) = %q, %v; want %q, %v", tt.tag, got, ok, tt.want, tt.ok)
		}
	}
}

func TestThreatLevel(t *testing.T) {
	for id, want := range map[string]string{"1": "high", "2": "medium", "3": "low", "4": "undefined", "": "undefined", "9": "undefined"} {
		if got := ThreatLevel(id); got != want {
			t.Errorf("ThreatLevel(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestMatch_TagsTLPAndCounts(t *testing.T) {
	yes := true
	attrs := []misp.Attribute{
		{ID: "1", EventID: "1", Type: "ip-dst", Value: "203.0.113.5", ToIDs: true, UUID: "a1",
			Event: misp.Event{ID: "1", UUID: "e1", Info: "phishing infra", ThreatLevelID: "2", Orgc: misp.Org{Name: "TESTORG"},
				Tags: []misp.Tag{{Name: "tlp:white"}, {Name: `misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"`}}},
			Tags: []misp.Tag{{Name: "tlp:amber"}, {Name: "tlp:white", Inherited: true}}},
		{ID: "7", EventID: "2", Type: "ip-src", Value: "203.0.113.5"},
		{ID: "9", EventID: "2", Type: "domain|ip", Value: "evil.example|203.0.113.5"},
	}
	m := Match(ioc.Indicator{Kind: ioc.IP, Value: "203.0.113.5", Raw: "::ffff:203.0.113.5", Field: "data.srcip"}, attrs, "https://misp.example.org/", Source{AlertID: "1.2"})
	want := Payload{
		Value: "203.0.113.5", Type: "ip-dst", EventID: "1", EventRef: "MISP event 1", EventUUID: "e1", EventInfo: "phishing infra",
		ThreatLevel: "medium", Published: new(bool), Org: "TESTORG", AttributeID: "1", AttributeUUID: "a1", ToIDs: &yes,
		TLP: "amber", Tags: []string{"tlp:amber", "tlp:white", `misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"`},
		Techniques: []string{"T1566.001"}, Permalink: "https://misp.example.org/events/view/e1",
		MatchedAttributes: "3", MatchedEvents: "2", Indicator: "203.0.113.5", IndicatorKind: "ip",
		IndicatorRaw: "::ffff:203.0.113.5", AlertField: "data.srcip", Source: &Source{AlertID: "1.2"},
	}
	if diff := cmp.Diff(want, m.MISP); diff != "" {
		t.Errorf("Match payload (-want +got):\n%s", diff)
	}
	if m.Integration != "misp" {
		t.Errorf("integration = %q", m.Integration)
	}
	// With several MISP servers the instance joins the reference the rule
	// descriptions quote.
	m.MISP.SetInstance("circl")
	if m.MISP.Instance != "circl" || m.MISP.EventRef != "MISP event 1 on circl" {
		t.Errorf("SetInstance: instance %q, event_ref %q; want circl, \"MISP event 1 on circl\"", m.MISP.Instance, m.MISP.EventRef)
	}
}

func TestCut(t *testing.T) {
	// The result is at most n bytes, the 3-byte "…" included, and ends on a
	// whole UTF-8 sequence.
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"shorter", "short", 10, "short"},
		{"exactly n", "exactly10!", 10, "exactly10!"},
		{"one byte over", "abcdefghijk", 10, "abcdefg…"},
		{"two-byte runes, cut on a boundary", "éééééé", 9, "ééé…"},
		{"two-byte runes, cut inside one", "éééééé", 8, "éé…"},
		{"three-byte runes", "€€€€", 9, "€€…"},
		{"four-byte runes", "😀😀😀", 10, "😀…"},
		{"room for the mark only", "abcdef", 3, "…"},
		{"no room for the mark", "abcdef", 2, "ab"},
		{"no room for the mark, multibyte", "éé", 2, "é"},
		{"zero", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Cut(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("Cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if len(got) > tt.n || !utf8.ValidString(got) {
				t.Errorf("Cut(%q, %d) = %q: %d bytes, valid UTF-8 %v", tt.in, tt.n, got, len(got), utf8.ValidString(got))
			}
		})
	}
}

// TestMatch_EventInfoAtMostMaxInfoBytes: README documents misp.event_info
// as at most 300 bytes, ellipsis included.
func TestMatch_EventInfoAtMostMaxInfoBytes(t *testing.T) {
	tests := []struct {
		name string
		info string
		want string
	}{
		{"299 bytes", strings.Repeat("A", 299), strings.Repeat("A", 299)},
		{"300 bytes", strings.Repeat("A", 300), strings.Repeat("A", 300)},
		{"301 bytes", strings.Repeat("A", 301), strings.Repeat("A", 297) + "…"},
		{"300 bytes of two-byte runes", strings.Repeat("é", 150), strings.Repeat("é", 150)},
		{"302 bytes of two-byte runes", strings.Repeat("é", 151), strings.Repeat("é", 148) + "…"},
		{"303 bytes of three-byte runes", strings.Repeat("€", 101), strings.Repeat("€", 99) + "…"},
		{"304 bytes of four-byte runes", strings.Repeat("😀", 76), strings.Repeat("😀", 74) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := []misp.Attribute{{ID: "1", EventID: "1", Value: "203.0.113.5", Event: misp.Event{Info: misp.FlexString(tt.info)}}}
			m := Match(ioc.Indicator{Kind: ioc.IP, Value: "203.0.113.5"}, attrs, "", Source{})
			if got := m.MISP.EventInfo; got != tt.want || len(got) > 300 {
				t.Errorf("event_info of %d bytes: got %d bytes %q, want %q", len(tt.info), len(got), got, tt.want)
			}
		})
	}
}
