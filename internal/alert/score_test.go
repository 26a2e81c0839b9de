package alert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/custom-misp/custom-misp/internal/ioc"
)

// expectation is one alert's entry in an expected.json (format described in
// testdata/alerts/README.md).
type expectation struct {
	Must []struct {
		Kind  ioc.Kind `json:"kind"`
		Value string   `json:"value"`
		Field string   `json:"field"`
	} `json:"must"`
	MustNot []struct {
		Kind  ioc.Kind `json:"kind"`
		Value string   `json:"value"`
		Why   string   `json:"why"`
	} `json:"must_not"`
}

// TestExtract_Score runs Extract (default policy, no cap) over every alert
// in a sample set and scores it against the set's expected.json: recall of
// `must` (kind and value) must be 100 % and no `must_not` (kind and value)
// may come out.
func TestExtract_Score(t *testing.T) {
	for _, set := range []struct{ name, dir string }{
		{"shared", "../../testdata/alerts"},
		{"extra", "../../testdata/alerts/extra"},
	} {
		t.Run(set.name, func(t *testing.T) { scoreSet(t, set.dir) })
	}
}

func scoreSet(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]expectation
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	files := alertFiles(t, dir)
	for _, f := range files {
		if _, ok := want[filepath.Base(f)]; !ok {
			t.Errorf("%s has no entry in expected.json", filepath.Base(f))
		}
	}
	if len(want) != len(files) {
		t.Errorf("expected.json has %d entries, %s has %d alerts", len(want), dir, len(files))
	}

	var must, found, mustNotSent, extracted int
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		exp := want[name]
		a, err := Read(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		inds, capped := Extract(a, nil, 0)
		if capped != 0 {
			t.Errorf("%s: capped %d with no cap", name, capped)
		}
		extracted += len(inds)
		got := make(map[string]bool, len(inds))
		field := make(map[string]string, len(inds))
		for _, in := range inds {
			got[string(in.Kind)+" "+in.Value] = true
			field[string(in.Kind)+" "+in.Value] = in.Field
		}
		for _, m := range exp.Must {
			must++
			if got[string(m.Kind)+" "+m.Value] {
				found++
			} else {
				t.Errorf("%s: missed %s %s (%s)", name, m.Kind, m.Value, m.Field)
			}
		}
		for _, m := range exp.MustNot {
			// Kind and value: "185.225.74.21" must come out as an IP
			// and must not as a domain (an IP literal posing as one).
			if f, ok := field[string(m.Kind)+" "+m.Value]; ok {
				mustNotSent++
				t.Errorf("%s: sent must_not %s %s from %s (%s)", name, m.Kind, m.Value, f, m.Why)
			}
		}
	}
	recall := 100.0
	if must > 0 {
		recall = 100 * float64(found) / float64(must)
	}
	summary := fmt.Sprintf("score %s: %d alerts, recall of must %d/%d = %.1f %%, must_not sent %d, indicators extracted %d",
		dir, len(files), found, must, recall, mustNotSent, extracted)
	t.Log(summary)
	if testing.Verbose() {
		fmt.Println(summary)
	}
	if found < must || mustNotSent > 0 {
		t.Errorf("score below threshold: recall %.1f %% (want 100), must_not sent %d (want 0)", recall, mustNotSent)
	}
}

// alertFiles lists the alert files of a sample directory: every *.json but
// expected.json.
func alertFiles(t testing.TB, dir string) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, string(filepath.Separator)+"expected.json") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no alert files in %s", dir)
	}
	return files
}
