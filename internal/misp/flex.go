package misp

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// FlexString decodes a JSON string, number, bool or null into a string.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
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
