package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every option an admin can write must take the fast path: a field added
// to Options without a case in setPlain would quietly cost every run the
// reflection decode again.
func TestParsePlainOptions_CoversEveryOption(t *testing.T) {
	typ := reflect.TypeFor[Options]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := strings.Split(f.Tag.Get("json"), ",")[0]
		var value string
		switch f.Type.String() {
		case "string":
			value = `"/var/ossec/x"`
		case "bool", "*bool":
			value = "false"
		case "[]string":
			value = `["a","b"]`
		case "int", "*int":
			value = "7"
		case "config.Duration":
			value = `"90s"`
		case "*config.SightingsOptions":
			value = `{"enabled": true, "source": "soc", "window": "2h"}`
		case "[]config.InstanceOptions":
			continue // left to encoding/json on purpose, see setPlain
		default:
			t.Fatalf("field %s: type %s has no plain form in this test; add one and a setter", f.Name, f.Type)
		}
		doc := fmt.Sprintf(`{%q: %s}`, key, value)
		got, ok := parsePlainOptions([]byte(doc))
		if !ok {
			t.Errorf("%s: not read by the fast path", doc)
			continue
		}
		want, err := decodeOptions([]byte(doc))
		if err != nil {
			t.Fatalf("%s: encoding/json: %v", doc, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: fast path differs from encoding/json (-want +got):\n%s", doc, diff)
		}
	}
}

// What the fast path must leave to encoding/json, and what ParseOptions
// then answers: the values encoding/json gives, or an error (its texts
// are checked through Load in config_test.go).
func TestParseOptions_UnplainDocumentsGoToEncodingJSON(t *testing.T) {
	cases := []struct {
		doc     string
		want    Options
		wantErr bool
	}{
		{doc: `{"CA_File":"/etc/ca.pem"}`, want: Options{CAFile: "/etc/ca.pem"}}, // keys match case-insensitively
		{doc: `{"ca_file":null}`, want: Options{}},                               // null leaves the zero value
		{doc: `{"ca_file":"C:\\ca.pem"}`, want: Options{CAFile: `C:\ca.pem`}},    // escapes
		{doc: `{"ca_file":"\u00e9"}`, want: Options{CAFile: "é"}},                // escapes
		{doc: "{\"ca_file\":\"\xff\"}", want: Options{CAFile: "\ufffd"}},         // invalid UTF-8 becomes U+FFFD
		{doc: `{"tags":["a",null]}`, want: Options{Tags: []string{"a", ""}}},     // null element
		{doc: `{"limit":1.0}`, wantErr: true},                                    // not an int for encoding/json
		{doc: `{"limit":1e2}`, wantErr: true},
		{doc: `{"limit":99999999999999999999}`, wantErr: true}, // overflows
		{doc: `{"deadline":"soon"}`, wantErr: true},
		{doc: `{"deadline":1e400}`, wantErr: true}, // out of range
		{doc: `{"tls_verify":false}`, wantErr: true},
		{doc: `{"tags":"a"}`, wantErr: true},
		{doc: `{"to_ids":"yes"}`, wantErr: true},
		{doc: `{} {}`, wantErr: true}, // trailing data
		{doc: `[]`, wantErr: true},
		{doc: `{"ca_file":"/a"`, wantErr: true},
		{doc: `{"ca_file":"/a",}`, wantErr: true},
		{doc: "\ufeff{}", wantErr: true}, // byte order mark
		{doc: `null`, want: Options{}},   // encoding/json reads null as no options
	}
	for _, tc := range cases {
		if _, ok := parsePlainOptions([]byte(tc.doc)); ok {
			t.Errorf("%s: the fast path took it", tc.doc)
		}
		got, err := ParseOptions([]byte(tc.doc))
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.doc, err, tc.wantErr)
			continue
		}
		if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.doc, diff)
		}
	}
}

// FuzzParseOptions holds the fast path to encoding/json: whatever it
// accepts, encoding/json must accept with the same result.
func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"ca_file":"/etc/ssl/misp-ca.pem","to_ids":true,"tags":["tlp:white"],"limit":100,"deadline":"20s","retries":0}`,
		`{"api_key_file":"/var/ossec/etc/misp.key","cache":"off","cache_ttl":3600,"cache_negative_ttl":"15m","exclude":["10.0.0.0/8"]}`,
		`{"published":false,"enforce_warninglist":false,"exclude_tags":[],"allow_suffixes":["corp.example"],"timeout":2.5}`,
		`{"socket_path":"/tmp/q","log_file":"/tmp/l","cache_path":"/tmp/c","wazuh_home":"/opt/wazuh","max_iocs_per_alert":-1}`,
		`{"limit":1,"limit":2,"tags":["a"],"tags":["b"]}`,
		`{"proxy":"http://proxy:3128","insecure_skip_verify":true,"allow_http":true,"client_cert":"c","client_key":"k"}`,
		` { "cache_max_entries" : 10 , "cache_lock_wait" : "100ms" } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := parsePlainOptions(data)
		if !ok {
			return
		}
		want, err := decodeOptions(data)
		if err != nil {
			t.Fatalf("%q: fast path accepted what encoding/json rejects: %v", data, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q: (-json +fast):\n%s", data, diff)
		}
	})
}

// A missing options file is named by its reason; one that cannot be read
// (here a directory) by its path too, as before the files were read with
// rawfile.
func TestReadOptions_Errors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing"), "options file: no such file or directory"},
		{dir, "options file: read " + dir + ": is a directory"},
	} {
		if _, err := ReadOptions(tc.path); err == nil || err.Error() != tc.want {
			t.Errorf("ReadOptions(%s) error = %v, want %q", tc.path, err, tc.want)
		}
	}
}
