package alert

import (
	"os"
	"testing"
)

// benchAlerts: a typical Sysmon alert, the largest real alert (a Windows
// frequency alert with previous_output) and the largest alert in testdata
// (a GuardDuty port probe with 1500 sources).
var benchAlerts = []struct{ name, path string }{
	{"sysmon-eid1", "../../testdata/alerts/sysmon-eid1-word-spawns-encoded-powershell.json"},
	{"largest-shared", "../../testdata/alerts/windows-security-60204-multiple-logon-failures-same-source.json"},
	{"largest", "../../testdata/alerts/extra/aws-guardduty-port-probe-1500-sources.json"},
}

func BenchmarkExtract(b *testing.B) {
	for _, bb := range benchAlerts {
		a, err := Read(bb.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Extract(a, nil, 0)
			}
		})
	}
}

// BenchmarkParse is the decoding that precedes Extract in each run.
func BenchmarkParse(b *testing.B) {
	for _, bb := range benchAlerts {
		data, err := os.ReadFile(bb.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
