package cache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/digest"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// allRealAttributes returns every attribute of the real MISP answer.
func allRealAttributes(t testing.TB) []misp.Attribute {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "restsearch_context_and_tags.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Response struct{ Attribute []misp.Attribute }
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Response.Attribute) == 0 {
		t.Fatal("no attributes in testdata")
	}
	return r.Response.Attribute
}

func TestCodec_RoundTrip(t *testing.T) {
	attrs := allRealAttributes(t)
	tests := map[string][]misp.Attribute{
		"real answer":    attrs,
		"one attribute":  attrs[:1],
		"zero value":     {{}},
		"odd characters": {{Value: "a\x00b\xff", Comment: "é\n", Tags: []misp.Tag{{Name: "", Inherited: true}}}},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := encodeAttrs(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := decodeAttrs(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(in, out); diff != "" {
				t.Errorf("round trip (-in +out):\n%s", diff)
			}
		})
	}
}

func TestCodec_DamagedInput(t *testing.T) {
	b, err := encodeAttrs(nil, allRealAttributes(t))
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation fails cleanly.
	for n := range len(b) {
		if _, err := decodeAttrs(b[:n]); err == nil {
			t.Fatalf("decode of %d of %d bytes: no error", n, len(b))
		}
	}
	tests := map[string][]byte{
		"trailing byte":      append(append([]byte(nil), b...), 0),
		"huge count":         {0xff, 0xff, 0xff, 0xff, 0x0f},
		"count beyond input": {0x05, 0x00},
		"bad bool":           append(append([]byte{1}, make([]byte, 7)...), 2),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeAttrs(in); err == nil {
				t.Errorf("decodeAttrs(%x): no error", in)
			}
		})
	}
}

func TestSchema_FollowsTypes(t *testing.T) {
	type a struct{ X, Y string }
	type renamed struct{ X, Z string }
	type retyped struct {
		X string
		Y bool
	}
	type nested struct{ X []a }
	type nestedRenamed struct{ X []renamed }
	fps := map[[4]byte]string{}
	for name, typ := range map[string]reflect.Type{
		"a":              reflect.TypeFor[a](),
		"renamed field":  reflect.TypeFor[renamed](),
		"retyped field":  reflect.TypeFor[retyped](),
		"nested":         reflect.TypeFor[nested](),
		"nested renamed": reflect.TypeFor[nestedRenamed](),
	} {
		fp := schemaOf(typ)
		if other, ok := fps[fp]; ok {
			t.Errorf("%s and %s have the same fingerprint", name, other)
		}
		fps[fp] = name
	}
}

// schemaOf fingerprints a type's layout: field names and kinds,
// recursively.
func schemaOf(t reflect.Type) [4]byte {
	var desc []byte
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		desc = append(append(desc, t.Kind().String()...), '(')
		switch t.Kind() {
		case reflect.Struct:
			for i := range t.NumField() {
				desc = append(append(desc, t.Field(i).Name...), ':')
				walk(t.Field(i).Type)
			}
		case reflect.Slice:
			walk(t.Elem())
		}
		desc = append(desc, ')')
	}
	walk(t)
	sum := digest.Sum256(desc)
	return [4]byte(sum[:4])
}

// The stored fingerprint must follow the attribute types: after a change
// to package misp, entries written by the old layout must read as misses.
func TestAttrSchema_MatchesTypes(t *testing.T) {
	if got := schemaOf(reflect.TypeFor[[]misp.Attribute]()); got != attrSchema {
		t.Fatalf("misp.Attribute's layout changed: set attrSchema in codec.go to %#v", got)
	}
}

func FuzzDecodeAttrs(f *testing.F) {
	attrs := allRealAttributes(f)
	for i := range attrs {
		b, err := encodeAttrs(nil, attrs[i:i+1])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := decodeAttrs(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := encodeAttrs(nil, out)
		if err != nil {
			t.Fatal(err)
		}
		out2, err := decodeAttrs(again)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(out, out2); diff != "" {
			t.Errorf("re-decode differs:\n%s", diff)
		}
	})
}
