package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// encodingJSON is the reference: what wazuh.Marshal wrote before
// AppendJSON existed.
func encodingJSON(t testing.TB, m Message) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// everyField sets every field of a Payload, by reflection, so that a field
// added to the schema but not to AppendJSON fails the test.
func everyField(t *testing.T) Message {
	var p Payload
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + " <&> é")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Pointer:
			switch f.Type().Elem().Kind() {
			case reflect.Bool:
				b := false
				f.Set(reflect.ValueOf(&b))
			case reflect.Struct:
				f.Set(reflect.ValueOf(&Source{AlertID: "1764261993.84201", RuleID: "92052", RuleLevel: "12", Description: `cmd.exe "x"`}))
			default:
				t.Fatalf("field %s: pointer to %s not covered by this test", name, f.Type().Elem())
			}
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{name, "tlp:amber"}))
		default:
			t.Fatalf("field %s: kind %s not covered by this test", name, f.Kind())
		}
	}
	return Message{Integration: Integration, MISP: p}
}

func TestAppendJSON_IsEncodingJSON(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		m    Message
	}{
		{"every field", everyField(t)},
		{"empty payload", Message{Integration: Integration}},
		{"empty source", Message{Integration: Integration, MISP: Payload{Source: &Source{}}}},
		{"failure", Failure("rate_limited", 429, "MISP said: Rate limit exceeded.", 3, Source{AlertID: "a", RuleID: "r"})},
		{"job", Job("feeds_fetch", "ok", "feeds fetched")},
		{"bools", Message{Integration: Integration, MISP: Payload{Published: &no, ToIDs: &yes, Cached: &yes, Truncated: true}}},
		{"empty lists", Message{Integration: Integration, MISP: Payload{Tags: []string{}, Techniques: nil}}},
		{"escapes", Message{Integration: Integration, MISP: Payload{
			Value:     "a\"b\\c/d\x00\x01\x07\b\f\n\r\t\x1f\x7f",
			Comment:   "<script>&amp; \u2028 \u2029 \u00e9 \U0001F600",
			EventInfo: "bad \xff\xfe utf-8 \xe2\x80 cut",
			Tags:      []string{`misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"`, "\x00"},
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := encodingJSON(t, tc.m)
			if got := string(tc.m.AppendJSON(nil)); got != want {
				t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// AppendJSON appends: what is already in the buffer stays.
func TestAppendJSON_Appends(t *testing.T) {
	m := Job("feeds_fetch", "ok", "done")
	got := string(m.AppendJSON([]byte("1:misp:")))
	if want := "1:misp:" + encodingJSON(t, m); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("185.220.101.47", "tlp:amber", "Sysmon - Event 22: DNS query", true)
	f.Add("a\"\\\x00\u2028\xff", "<&>", "\xe2\x80", false)
	f.Fuzz(func(t *testing.T, value, tag, description string, flag bool) {
		m := Message{Integration: Integration, MISP: Payload{
			Value: value, Comment: description, Tags: []string{tag, value},
			ToIDs: &flag, Truncated: flag,
			Source: &Source{Description: description, RuleID: tag},
		}}
		if got, want := string(m.AppendJSON(nil)), encodingJSON(t, m); got != want {
			t.Fatalf("AppendJSON:\n got %q\nwant %q", got, want)
		}
	})
}
