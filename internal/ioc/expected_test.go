package ioc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// expectation is one entry of testdata/alerts/expected.json (a copy of the
// sample set's expectations, see testdata/alerts/README.md).
type expectation struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
	Field string `json:"field"`
	Why   string `json:"why"`
}

func loadExpected(t testing.TB) map[string]struct{ Must, MustNot []expectation } {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "alerts", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]struct {
		Must    []expectation `json:"must"`
		MustNot []expectation `json:"must_not"`
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp) == 0 {
		t.Fatal("expected.json holds no alerts")
	}
	out := make(map[string]struct{ Must, MustNot []expectation }, len(exp))
	for f, e := range exp {
		out[f] = struct{ Must, MustNot []expectation }{e.Must, e.MustNot}
	}
	return out
}

// TestNormalize_Expected runs the normaliser over the sample alerts'
// expectations: every `must` value is already canonical (normalising it
// changes nothing), the raw value at its field normalises to it where the
// field holds the value alone, and every `must_not` value is refused.
func TestNormalize_Expected(t *testing.T) {
	var must, raw, mustNot int
	for file, e := range loadExpected(t) {
		alert := readAlert(t, filepath.Join("..", "..", "testdata", "alerts", file))
		for _, m := range e.Must {
			if got, ok := Normalize(m.Kind, m.Value); !ok || got != m.Value {
				t.Errorf("%s: must %s %q: Normalize = %q, %v", file, m.Kind, m.Value, got, ok)
			}
			must++
			// Composite fields (Sysmon ALG=HEX lists, queryResults, the
			// joined Suricata URL) are split by the extraction package.
			if strings.Contains(m.Field, "+") || strings.HasSuffix(m.Field, ".hashes") ||
				strings.HasSuffix(m.Field, ".hash") || strings.HasSuffix(m.Field, ".queryResults") {
				continue
			}
			v, ok := lookup(alert, m.Field)
			if !ok {
				t.Errorf("%s: field %s not found or not a string", file, m.Field)
				continue
			}
			if got, ok := Normalize(m.Kind, v); !ok || got != m.Value {
				t.Errorf("%s: %s = %q: Normalize(%s) = %q, %v; want %q", file, m.Field, v, m.Kind, got, ok, m.Value)
			}
			raw++
		}
		for _, m := range e.MustNot {
			if strings.Contains(m.Why, "version") {
				continue // excluded by field name in the extraction package
			}
			if got, ok := Normalize(m.Kind, m.Value); ok {
				t.Errorf("%s: must_not %s %q (%s): Normalize = %q, true", file, m.Kind, m.Value, m.Why, got)
			}
			mustNot++
		}
	}
	t.Logf("must values canonical: %d, raw field values normalised: %d, must_not refused: %d", must, raw, mustNot)
	if must == 0 || raw == 0 || mustNot == 0 {
		t.Error("an expectation list is empty")
	}
}

func readAlert(t testing.TB, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// lookup follows a dotted path (array indexes are segments) to a string.
func lookup(v any, path string) (string, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch n := v.(type) {
		case map[string]any:
			v = n[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n) {
				return "", false
			}
			v = n[i]
		default:
			return "", false
		}
	}
	s, ok := v.(string)
	return s, ok
}
