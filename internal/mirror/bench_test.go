package mirror

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// buildMirror writes a mirror of n attributes over n/50 events straight
// through the writer (the sync's own cost is measured by make bench).
func buildMirror(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "mirror.db")
	wr, err := newWriter(path)
	if err != nil {
		b.Fatal(err)
	}
	events := max(n/50, 1)
	for e := 1; e <= events; e++ {
		wr.addEvent(uint32(e), misp.Event{ID: misp.FlexString(strconv.Itoa(e)), Info: "synthetic event", ThreatLevelID: "2", Published: true,
			Timestamp: "1700000000", Orgc: misp.Org{Name: "ORG"}, Tags: []misp.Tag{{Name: "tlp:amber"}}})
	}
	for i := range n {
		ev := uint32(i%events + 1)
		a := misp.Attribute{ID: misp.FlexString(strconv.Itoa(i + 1)), EventID: misp.FlexString(strconv.Itoa(int(ev))), Category: "Network activity",
			ToIDs: true, UUID: "5f0c1a2b-0000-4000-8000-000000000000", Timestamp: "1700000000"}
		var typ, v string
		switch i % 4 {
		case 0:
			typ, v = "ip-dst", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		case 1:
			typ, v = "domain", fmt.Sprintf("host%d.example.net", i)
		case 2:
			typ, v = "sha256", fmt.Sprintf("%064x", i)
		default:
			typ, v = "url", fmt.Sprintf("https://host%d.example.net/path/%d", i, i)
		}
		if i%1000 == 0 {
			typ, v = "ip-src", fmt.Sprintf("172.%d.%d.0/24", 16+i>>16&15, i>>8&255)
		}
		a.Type, a.Value = misp.FlexString(typ), misp.FlexString(v)
		if err := wr.addAttribute(ev, a); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := wr.commit(Meta{Scope: "s"}); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkOpenLookupClose is what a run does with the mirror: open it,
// look one indicator up, close it.
func BenchmarkOpenLookupClose(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		path := buildMirror(b, n)
		fi, _ := os.Stat(path)
		b.Logf("%d attributes: %d MiB", n, fi.Size()>>20)
		for _, c := range []struct {
			name string
			ind  ioc.Indicator
		}{
			{"hit", ioc.Indicator{Kind: ioc.Domain, Value: "host5.example.net"}},
			{"miss", ioc.Indicator{Kind: ioc.IP, Value: "198.51.100.1"}},
		} {
			b.Run(fmt.Sprintf("%s/attributes=%d", c.name, n), func(b *testing.B) {
				for b.Loop() {
					m, err := Open(path)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := m.Lookup(c.ind); err != nil {
						b.Fatal(err)
					}
					m.Close()
				}
			})
		}
	}
}
