package codec

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type tag struct {
	Name      string
	Inherited bool
}

type record struct {
	ID    string
	N     int64
	Flag  bool
	Tags  []tag
	Inner struct{ A, B string }
}

func TestRoundTrip(t *testing.T) {
	in := record{ID: "42", N: -7, Flag: true, Tags: []tag{{"tlp:amber", false}, {"x", true}}}
	in.Inner.A, in.Inner.B = "a", ""
	b, err := Append([]byte("prefix"), in)
	if err != nil {
		t.Fatal(err)
	}
	var out record
	if err := Decode(b[len("prefix"):], &out); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, out); d != "" {
		t.Fatalf("round trip (-in +out):\n%s", d)
	}
}

// Every truncation and a trailing byte are damage, never a panic.
func TestDecode_Damaged(t *testing.T) {
	b, err := Append(nil, record{ID: "1", Tags: []tag{{"t", true}}})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		var out record
		if err := Decode(b[:n], &out); !errors.Is(err, ErrDamaged) {
			t.Errorf("Decode of %d of %d bytes: %v, want ErrDamaged", n, len(b), err)
		}
	}
	var out record
	if err := Decode(append(b, 0), &out); !errors.Is(err, ErrDamaged) {
		t.Errorf("trailing byte: %v, want ErrDamaged", err)
	}
	// A slice count beyond the bytes left is damage, not an allocation.
	if err := Decode([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, &[]tag{}); !errors.Is(err, ErrDamaged) {
		t.Errorf("huge count: %v, want ErrDamaged", err)
	}
}

func TestAppend_RefusesUnsupported(t *testing.T) {
	if _, err := Append(nil, map[string]string{}); err == nil {
		t.Fatal("a map encoded; want an error")
	}
}
