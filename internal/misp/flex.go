package misp

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// FlexString decodes a JSON string, number, bool or null into a string.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if v, ok := plainString(b); ok {
		*s = FlexString(v)
		return nil
	}
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = FlexString(v)
	default:
		var v json.Number
		if err := json.Unmarshal(b, &v); err == nil {
			*s = FlexString(v.String())
			return nil
		}
		var t bool
		if err := json.Unmarshal(b, &t); err != nil {
			return err
		}
		*s = FlexString(strconv.FormatBool(t))
	}
	return nil
}

// FlexBool decodes true/false, 0/1, "0"/"1", "true"/"false" or null.
type FlexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	switch string(s) {
	case "1", "true", "True":
		*f = true
	default:
		*f = false
	}
	return nil
}

// plainString is the fast path of FlexString: a JSON string without
// escapes, quotes, control characters or invalid UTF-8 inside is its own
// bytes, exactly what json.Unmarshal would make of it. A sync decodes
// every field of a million attributes, and a nested json.Unmarshal per
// field (validation, decoder state) was most of its CPU time.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}
