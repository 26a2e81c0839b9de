package event

import (
	"testing"

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
		Value: "203.0.113.5", Type: "ip-dst", EventID: "1", EventUUID: "e1", EventInfo: "phishing infra",
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
}

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefghij…"},
		{"ééééé", 3, "é…"}, // never half a UTF-8 sequence
	}
	for _, tt := range tests {
		if got := Cut(tt.in, tt.n); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
