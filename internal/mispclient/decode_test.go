package mispclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// TestDecodeSearch_SameAsEncodingJSON holds the gjson reader to the
// encoding/json decoder it replaced (kept below as the reference, as it
// stood at 1899f7a): the same answer for every restSearch capture of the
// real MISP in testdata, and for each of them with every attribute field
// turned into each odd JSON type.
func TestDecodeSearch_SameAsEncodingJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("compares thousands of answers")
	}
	var pages [][]byte
	for _, dir := range []string{"testdata", "../mispfake/testdata/captures"} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
				return nil
			}
			b, _ := os.ReadFile(p)
			if ans := gjson.GetBytes(b, "answer"); ans.Exists() {
				b = []byte(ans.Raw) // a capture with its request
			}
			if gjson.GetBytes(b, "response.Attribute").IsArray() {
				pages = append(pages, b)
			}
			return nil
		})
	}
	if len(pages) < 20 {
		t.Fatalf("only %d restSearch captures found", len(pages))
	}
	odd := []string{`{"x":1}`, `[1]`, `null`, `true`, `7`, `"s"`, `[]`, `{}`}
	n := 0
	for i, page := range pages {
		compare(t, page)
		n++
		// Mutations of every 10th page keep the test to seconds; the
		// fields are the same in all of them.
		if i%10 != 0 {
			continue
		}
		attrs := gjson.GetBytes(page, "response.Attribute").Array()
		if len(attrs) == 0 {
			continue
		}
		// Every top-level field of the first attribute, and of its Event,
		// as each odd type.
		var paths []string
		attrs[0].ForEach(func(k, v gjson.Result) bool {
			paths = append(paths, "response.Attribute.0."+k.Str)
			if k.Str == "Event" && v.IsObject() {
				v.ForEach(func(k2, _ gjson.Result) bool {
					paths = append(paths, "response.Attribute.0.Event."+k2.Str)
					return true
				})
			}
			return true
		})
		for _, p := range paths {
			for _, o := range odd {
				mutated, err := setRaw(page, p, o)
				if err != nil {
					continue
				}
				compare(t, mutated)
				n++
			}
		}
	}
	t.Logf("%d answers compared", n)
}

func compare(t *testing.T, page []byte) {
	t.Helper()
	for _, drop := range []bool{false, true} {
		want, wantErr := referenceDecodeSearch(page, drop)
		got, gotErr := decodeSearch(page, drop)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("error %v, reference %v, for %.300s", gotErr, wantErr, page)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("answer differs from the reference (-reference +gjson):\n%s\nfor %.300s", d, page)
		}
	}
}

// setRaw replaces the JSON at a dotted path with raw JSON.
func setRaw(doc []byte, path, raw string) ([]byte, error) {
	r := gjson.GetBytes(doc, path)
	if !r.Exists() || r.Index == 0 {
		return nil, errors.New("no such path")
	}
	var b bytes.Buffer
	b.Write(doc[:r.Index])
	b.WriteString(raw)
	b.Write(doc[r.Index+len(r.Raw):])
	return b.Bytes(), nil
}

// decodeSearch reads {"response":{"Attribute":[...]}}. Some older MISPs
// answer a search without results with {"response":[]}; that is accepted
// as no match too. Each attribute is decoded on its own (see
// refAttributeOrFault), so a bad one is counted and left out.
//
// dropMarked leaves out the attributes MISP marked with warninglist hits
// (includeWarninglistHits) or as decayed by every decaying model that
// scored them (includeDecayScore), counting them in Answer.Filtered.
func referenceDecodeSearch(raw []byte, dropMarked bool) (misp.Answer, error) {
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return misp.Answer{}, err
	}
	r := bytes.TrimSpace(env.Response)
	switch {
	case len(r) == 0 || bytes.Equal(r, []byte("null")):
		return misp.Answer{}, fmt.Errorf(`no "response" key`)
	case bytes.Equal(r, []byte("[]")):
		return misp.Answer{}, nil
	case r[0] != '{':
		return misp.Answer{}, fmt.Errorf(`"response" is not an object`)
	}
	var body struct {
		Attribute []refAttributeOrFault `json:"Attribute"`
	}
	if err := json.Unmarshal(r, &body); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) { // refAttributeOrFault never fails: the list itself is wrong
			return misp.Answer{}, fmt.Errorf(`"Attribute" is not a list`)
		}
		return misp.Answer{}, err
	}
	var a misp.Answer
	for _, e := range body.Attribute {
		if e.unreadable {
			a.Skipped.Add(e.badField)
			continue
		}
		if dropMarked && (e.warned || e.decayed) {
			a.Filtered++
			continue
		}
		if !e.attr.Deleted {
			a.Attributes = append(a.Attributes, e.attr)
		}
	}
	return a, nil
}

// refAttributeOrFault is one element of the Attribute list. encoding/json
// hands UnmarshalJSON the element's own bytes (the whole answer was
// checked to be valid JSON first), so an element of the wrong shape spoils
// only itself.
type refAttributeOrFault struct {
	attr       misp.Attribute
	unreadable bool
	badField   string // what was wrong, e.g. "Event.info"; "" for the element itself
	warned     bool   // MISP listed warninglist hits for it (a non-empty "warnings")
	decayed    bool   // every "decay_score" entry says decayed, as excludeDecayed reads them
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (e *refAttributeOrFault) UnmarshalJSON(b []byte) error {
	err := json.Unmarshal(b, &e.attr)
	if err == nil && !bytes.Equal(b, []byte("null")) {
		if bytes.Contains(b, []byte(`"warnings"`)) {
			w := gjson.GetBytes(b, "warnings")
			e.warned = w.IsArray() && len(w.Array()) > 0
		}
		if bytes.Contains(b, []byte(`"decay_score"`)) {
			// MispAttribute::fetchAttributes: left out when ALL scores
			// say decayed.
			scores := gjson.GetBytes(b, "decay_score").Array()
			e.decayed = len(scores) > 0
			for _, sc := range scores {
				e.decayed = e.decayed && sc.Get("decayed").Bool()
			}
		}
		return nil
	}
	e.unreadable = true
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		e.badField = typeErr.Field // a path of Attribute's JSON tags
	}
	return nil
}

// FuzzDecodeSearch holds the gjson reader to the encoding/json reference
// on any input: the same answer, or an error from both.
func FuzzDecodeSearch(f *testing.F) {
	for _, name := range []string{"restsearch_full_query.json", "restsearch_context_and_tags.json", "restsearch_no_match.json", "sync/attributes-restsearch-includeWarninglistHits-event2.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"response":[]}`))
	f.Add([]byte(`{"response":{"Attribute":[{"id":1,"to_ids":"1","Event":{"info":null},"Tag":[{"name":2}],"warnings":[{}]}]}}`))
	f.Fuzz(func(t *testing.T, page []byte) {
		for _, drop := range []bool{false, true} {
			want, wantErr := referenceDecodeSearch(page, drop)
			got, gotErr := decodeSearch(page, drop)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("error %v, reference %v", gotErr, wantErr)
			}
			if wantErr == nil && !cmp.Equal(want, got) {
				t.Fatalf("answer differs from the reference:\n%s", cmp.Diff(want, got))
			}
		}
	})
}
