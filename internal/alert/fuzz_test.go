package alert

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/custom-misp/custom-misp/internal/ioc"
)

// FuzzExtract feeds arbitrary bytes through Parse and Extract, seeded with
// every sample alert. Whatever the input: no panic, and every indicator is
// canonical (normalising it again changes nothing), of a kind the value
// classifies as, global when it is an address, and safe from MISP's filter
// syntax.
func FuzzExtract(f *testing.F) {
	var seeds []string
	for _, dir := range []string{"../../testdata/alerts", "../../testdata/alerts/extra"} {
		seeds = append(seeds, alertFiles(f, dir)...)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 64<<10 {
			continue // the mutator gets nowhere on huge inputs
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			return
		}
		a.IsOwnEnrichment()
		inds, capped := Extract(a, nil, 0)
		if capped != 0 {
			t.Fatalf("capped %d without a cap", capped)
		}
		seen := map[ioc.Indicator]bool{}
		for i, in := range inds {
			if v, ok := ioc.Normalize(in.Kind, in.Value); !ok || v != in.Value {
				t.Errorf("%s %q from %s: Normalize gives %q, %v", in.Kind, in.Value, in.Field, v, ok)
			}
			if !ioc.Safe(in.Value) {
				t.Errorf("%s %q from %s: not Safe", in.Kind, in.Value, in.Field)
			}
			if k, ok := ioc.Classify(in.Value); !ok || (k != in.Kind && !(k == ioc.MD5 && in.Kind == ioc.Imphash)) {
				t.Errorf("%s %q from %s: classifies as %q, %v", in.Kind, in.Value, in.Field, k, ok)
			}
			if in.Kind == ioc.IP {
				if addr, err := netip.ParseAddr(in.Value); err != nil || !ioc.IsGlobal(addr) {
					t.Errorf("ip %q from %s is not a global address", in.Value, in.Field)
				}
			}
			if in.Field == "" {
				t.Errorf("%s %q has no field", in.Kind, in.Value)
			}
			k := ioc.Indicator{Kind: in.Kind, Value: in.Value}
			if seen[k] {
				t.Errorf("%s %q twice", in.Kind, in.Value)
			}
			seen[k] = true
			if i > 0 && inds[i-1].Kind.Rank() > in.Kind.Rank() {
				t.Errorf("%s %q after %s: not ordered by rank", in.Kind, in.Value, inds[i-1].Kind)
			}
		}
		if len(inds) > 1 {
			capped, n := Extract(a, nil, 1)
			if len(capped) != 1 || n != len(inds)-1 || capped[0] != inds[0] {
				t.Errorf("cap 1: got %d kept, %d dropped; want the first of %d", len(capped), n, len(inds))
			}
		}
	})
}

// TestFuzzCorpus_Committed checks that the committed seeds exist, so the
// fuzz corpus cannot silently disappear.
func TestFuzzCorpus_Committed(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzExtract/*")
	if len(files) == 0 {
		t.Fatal("testdata/fuzz/FuzzExtract is empty: the seed corpus must be committed")
	}
}
