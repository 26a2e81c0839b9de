package misp

import (
	"encoding/json"
	"testing"
)

func TestFlex_AcceptsWhatMISPVersionsSend(t *testing.T) {
	// MISP 2.5 sends ids as strings and flags as booleans; older servers
	// and proxies send numbers, "0"/"1" and null (misp-and-peers.md §4.4).
	var v struct {
		ID    FlexString `json:"id"`
		Num   FlexString `json:"num"`
		Null  FlexString `json:"null"`
		Bool  FlexString `json:"bool"`
		ToIDs FlexBool   `json:"to_ids"`
		One   FlexBool   `json:"one"`
		Str1  FlexBool   `json:"str1"`
		Zero  FlexBool   `json:"zero"`
		Nil   FlexBool   `json:"nil"`
	}
	in := `{"id":"12","num":29791818362,"null":null,"bool":true,"to_ids":true,"one":1,"str1":"1","zero":"0","nil":null}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != "12" || v.Num != "29791818362" || v.Null != "" || v.Bool != "true" {
		t.Errorf("strings: %+v", v)
	}
	if !v.ToIDs || !v.One || !v.Str1 || v.Zero || v.Nil {
		t.Errorf("bools: %+v", v)
	}
	if err := json.Unmarshal([]byte(`{"id":{"x":1}}`), &v); err == nil {
		t.Error("an object as an id was accepted")
	}
}

// slowFlexString is FlexString's decoding without the plain-string fast
// path: what json.Unmarshal makes of a JSON string.
func slowFlexString(b []byte) (string, error) {
	var v string
	err := json.Unmarshal(b, &v)
	return v, err
}

// TestFlexString_PlainPathSameAsJSON: the fast path takes a string only
// when it means its own bytes, and then gives what json.Unmarshal gives.
func TestFlexString_PlainPathSameAsJSON(t *testing.T) {
	for _, in := range []string{
		`""`, `"12"`, `"evil.example"`, `"https://a.example/p?q=1&r=2"`, `"ünïcödé"`, `"日本"`,
		`"a\"b"`, `"a\\b"`, `"\u00e9"`, `"tab\there"`, "\"raw\ttab\"", "\"bad\xffutf8\"", `"a"b"`, `"`, `"abc`, `abc"`,
	} {
		got, ok := plainString([]byte(in))
		want, err := slowFlexString([]byte(in))
		if ok && (err != nil || got != want) {
			t.Errorf("%q: fast path %q, json.Unmarshal %q (%v)", in, got, want, err)
		}
		var s FlexString
		ferr := s.UnmarshalJSON([]byte(in))
		if (ferr == nil) != (err == nil) || (err == nil && string(s) != want) {
			t.Errorf("%q: FlexString %q (%v), json.Unmarshal %q (%v)", in, s, ferr, want, err)
		}
	}
	for _, in := range []string{`"evil.example"`, `"ünïcödé"`, `""`} {
		if _, ok := plainString([]byte(in)); !ok {
			t.Errorf("%s: not taken by the fast path", in)
		}
	}
}

func FuzzFlexString(f *testing.F) {
	for _, s := range []string{`"a"`, `"a\"b"`, "\"\xff\"", `12`, `null`, `true`, `"\u0000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := plainString(b)
		if !ok {
			return
		}
		want, err := slowFlexString(b)
		if err != nil || got != want {
			t.Fatalf("%q: fast path %q, json.Unmarshal %q (%v)", b, got, want, err)
		}
	})
}
