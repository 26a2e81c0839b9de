package config

import (
	"fmt"
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

// What the fast path must leave to encoding/json, and that ParseOptions
// then answers exactly as encoding/json does, error text included.
func TestParseOptions_UnplainDocumentsGoToEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"CA_File":"/etc/ca.pem"}`,      // encoding/json matches keys case-insensitively
		`{"ca_file":null}`,               // null leaves the zero value
		`{"ca_file":"C:\\ca.pem"}`,       // escapes
		`{"ca_file":"\u00e9"}`,           // escapes
		"{\"ca_file\":\"\xff\"}",         // invalid UTF-8 becomes U+FFFD
		`{"limit":1.0}`,                  // not an int for encoding/json
		`{"limit":1e2}`,                  // not an int for encoding/json
		`{"limit":99999999999999999999}`, // overflows
		`{"deadline":"soon"}`,            // our own decoder's message
		`{"deadline":1e400}`,             // out of range
		`{"tls_verify":false}`,           // unknown key
		`{"tags":["a",null]}`,            // null element
		`{"tags":"a"}`,                   // wrong type
		`{"to_ids":"yes"}`,               // wrong type
		`{} {}`,                          // trailing data
		`[]`,                             // not an object
		`null`,                           // not an object
		`{"ca_file":"/a"`,                // truncated
		`{"ca_file":"/a",}`,              // trailing comma
		"\ufeff{}",                       // byte order mark
	} {
		if _, ok := parsePlainOptions([]byte(doc)); ok {
			t.Errorf("%s: the fast path took it", doc)
		}
		want, wantErr := decodeOptions([]byte(doc))
		got, gotErr := ParseOptions([]byte(doc))
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: error %v, want %v", doc, gotErr, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", doc, diff)
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
