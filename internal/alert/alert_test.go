package alert

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRead_Errors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The text integratord writes without <alert_format>json</alert_format>
	// (integrator.c), here for an sshd alert.
	text := "alertdate='Nov 27, 2026 @ 16:20:11'\nalertlocation='/var/log/auth.log'\nruleid='5710'\nalertlevel='5'\n" +
		"ruledescription='sshd: Attempt to login using a non-existent user'\nalertlog='Nov 27 16:20:11 lnx-web-01 sshd[1]: Invalid user oracle from 61.177.172.140'\nsrcip='61.177.172.140'\n"
	huge := append([]byte(`{"rule":{"id":"1"},"data":{"x":"`), bytes.Repeat([]byte("a"), MaxAlertSize)...)
	huge = append(huge, `"}}`...)

	tests := []struct {
		name    string
		path    string
		want    error
		wantMsg string // a part of the message
	}{
		{"empty path", "", ErrNotFound, "no alert file path"},
		{"missing file", filepath.Join(dir, "nope.alert"), ErrNotFound, "no such file"},
		{"directory", dir, ErrNotFound, ""},
		{"empty file", write("empty.alert", nil), ErrEmpty, ""},
		{"white space only", write("blank.alert", []byte(" \n\t\n")), ErrEmpty, ""},
		{"text format", write("text.alert", []byte(text)), ErrNotJSON, "<alert_format>json</alert_format>"},
		{"not json", write("garbage.alert", []byte("{\"rule\":")), ErrNotJSON, "invalid json"},
		{"truncated line", write("cut.alert", []byte(`{"rule":{"id":"5710"},"data":{"srcip":"61.1`)), ErrNotJSON, ""},
		{"too large", write("huge.alert", huge), ErrTooLarge, "over 4194304 bytes"},
		{"array", write("array.alert", []byte(`[{"rule":{"id":"1"}}]`)), ErrShape, "array"},
		{"string", write("string.alert", []byte(`"alert"`)), ErrShape, "string"},
		{"no rule", write("norule.alert", []byte(`{"data":{"srcip":"61.177.172.140"}}`)), ErrShape, "no rule"},
		{"rule not an object", write("rulestr.alert", []byte(`{"rule":"5710"}`)), ErrShape, "no rule"},
		{"deep part with mismatched brackets", write("deepbad.alert", []byte(`{"rule":{},"data":`+strings.Repeat("[", 100)+"}"+strings.Repeat("]", 99)+`}`)), ErrNotJSON, "invalid json"},
		{"deep part cut off", write("deepcut.alert", []byte(`{"rule":{},"data":{"srcip":"61.177.172.140","x":`+strings.Repeat("[", 100))), ErrNotJSON, "invalid json"},
		{"deep part with an unterminated string", write("deepstr.alert", []byte(`{"rule":{},"data":`+strings.Repeat("[", 100)+`"x`+strings.Repeat("]", 100)+`}`)), ErrNotJSON, "invalid json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Read(tt.path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read = %v, %v; want error %v", a, err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not mention %q", msg, tt.wantMsg)
			}
			if msg != strings.ToLower(msg[:1])+msg[1:] || strings.HasSuffix(msg, ".") {
				t.Errorf("error %q: want lower case, no final period", msg)
			}
			if strings.Contains(msg, "61.177.172.140") || len(msg) > 300 {
				t.Errorf("error %q carries alert content", msg)
			}
		})
	}
}

func TestRead_Fields(t *testing.T) {
	a, err := Read("../../testdata/alerts/sysmon-eid3-svchost-to-internal-dc.json")
	if err != nil {
		t.Fatal(err)
	}
	want := &Alert{
		ID:              "1795797992.62780",
		RuleID:          "92105",
		RuleLevel:       3,
		RuleDescription: "Possible suspicious access to Windows admin shares",
		RuleGroups:      []string{"sysmon", "sysmon_eid3_detections", "windows"},
		Agent:           Agent{ID: "003", Name: "WS-FIN-0042", IP: "10.20.30.41"},
		Location:        "EventChannel",
	}
	if diff := cmp.Diff(want, a, cmpopts.IgnoreFields(Alert{}, "Root")); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
	if got := a.Root.Get("data.win.eventdata.destinationIp").String(); got != "10.20.1.10" {
		t.Errorf("Root: destinationIp = %q", got)
	}
}

func TestParse_ManagerAgentHasNoIP(t *testing.T) {
	a, err := Read("../../testdata/alerts/aws-guardduty-ssh-bruteforce-finding.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Agent{ID: "000", Name: "wazuh-manager"}, a.Agent); diff != "" {
		t.Errorf("Agent (-want +got):\n%s", diff)
	}
}

// TestIsOwnEnrichment checks the loop guard: it rests only on what
// analysisd sets (the location of our events, the group of our rules),
// never on the decoded data or the decoder, which a log line controls.
func TestIsOwnEnrichment(t *testing.T) {
	tests := []struct {
		name string
		json string
		want bool
	}{
		{"our match event, agent form", `{"rule":{"level":12,"id":"117610","groups":["misp","misp_match","misp_ioc"]},"agent":{"id":"003","name":"WS-FIN-0042","ip":"10.20.30.41"},"decoder":{"name":"json-misp"},"data":{"integration":"misp","misp":{"value":"185.225.74.19","indicator":"185.225.74.19"}},"location":"misp"}`, true},
		{"our error event, manager form", `{"rule":{"level":5,"id":"117650","groups":["misp","misp_error"]},"agent":{"id":"000","name":"wazuh-manager"},"decoder":{"name":"json-misp"},"data":{"integration":"misp","misp":{"error":"timeout"}},"location":"misp"}`, true},
		{"location misp only", `{"rule":{"id":"1","groups":["local"]},"decoder":{"name":"json"},"data":{},"location":"misp"}`, true},
		// A log line that starts like our events is decoded by json-misp
		// wherever it comes from: only the location tells it is ours.
		{"decoder json-misp elsewhere is not ours", `{"rule":{"id":"1","groups":["local"]},"decoder":{"name":"json-misp"},"location":"/var/log/app.json","data":{"integration":"misp","srcip":"185.220.101.47"}}`, false},
		{"group misp only", `{"rule":{"id":"100622","groups":["threat_intel","misp"]},"location":"x"}`, true},
		{"data.integration misp from a log line", `{"rule":{"id":"86601","groups":["web"]},"decoder":{"name":"json"},"data":{"integration":"misp","srcip":"185.225.74.19"},"location":"/var/log/app/audit.json"}`, false},
		{"virustotal", `{"rule":{"id":"87105","groups":["virustotal"]},"decoder":{"name":"json"},"data":{"integration":"virustotal"},"location":"virustotal"}`, false},
		{"location ending in misp is a log file", `{"rule":{"id":"1","groups":["local"]},"location":"/var/log/misp"}`, false},
		{"group misp_custom is not ours", `{"rule":{"id":"1","groups":["misp_custom"]},"location":"/var/log/misp.log"}`, false},
		{"decoder misp-like is not ours", `{"rule":{"id":"1","groups":["local"]},"decoder":{"name":"json-misp-old"},"location":"x"}`, false},
		{"sysmon", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.json)
			if tt.json == "" {
				var err error
				if data, err = os.ReadFile("../../testdata/alerts/sysmon-eid22-google-com-aaaa-and-a.json"); err != nil {
					t.Fatal(err)
				}
			}
			a, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.IsOwnEnrichment(); got != tt.want {
				t.Errorf("IsOwnEnrichment = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestIsOwnEnrichment_DataCannotOptOut is issue 10 item 3: a sample Sysmon
// EID 3 alert whose decoded data also carries "integration":"misp" (any log
// line can say so) is not our event and still yields its indicators.
func TestIsOwnEnrichment_DataCannotOptOut(t *testing.T) {
	data, err := os.ReadFile("../../testdata/alerts/sysmon-eid3-dropped-binary-to-public-ipv4.json")
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(data, []byte(`"data":{`), []byte(`"data":{"integration":"misp",`), 1)
	if bytes.Equal(forged, data) {
		t.Fatal("the sample has no data object to add to")
	}
	a, err := Parse(forged)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Root.Get("data.integration").String(); got != "misp" {
		t.Fatalf("data.integration = %q: the forged field is missing", got)
	}
	if a.IsOwnEnrichment() {
		t.Error("IsOwnEnrichment = true: the alert's own data opted it out of enrichment")
	}
	// The sample's expected indicator (testdata/alerts/expected.json).
	inds, _ := Extract(a, nil, 0)
	var got []string
	for _, in := range inds {
		got = append(got, string(in.Kind)+" "+in.Value+" "+in.Field)
	}
	want := []string{"ip 185.225.74.19 data.win.eventdata.destinationIp"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Extract mismatch (-want +got):\n%s", diff)
	}
}

// nested returns n arrays nested in each other around inner.
func nested(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

// TestParse_DeepNesting is issue 10 item 6: nesting deeper than MaxNesting
// anywhere in the alert costs only the part below the limit, which is
// counted so that the run can log it; the indicators above it are kept.
// The alert object is level 1 and data level 2, so the innermost of n
// arrays under data is at level n+2.
func TestParse_DeepNesting(t *testing.T) {
	const head = `{"rule":{"id":"1"},"data":{"srcip":"45.148.10.67",`
	tests := []struct {
		name        string
		json        string
		wantSkipped int
		want        []string // kind value field
	}{
		{
			name:        "100 levels beside an indicator",
			json:        head + `"deep":` + nested(100, `"185.225.74.19"`) + `}}`,
			wantSkipped: 1,
			want:        []string{"ip 45.148.10.67 data.srcip"},
		},
		{
			name:        "1,000,000 levels",
			json:        head + `"deep":` + nested(1_000_000, "") + `}}`,
			wantSkipped: 1,
			want:        []string{"ip 45.148.10.67 data.srcip"},
		},
		{
			name:        "deep objects, then more data",
			json:        head + `"deep":` + strings.Repeat(`{"a":`, 80) + `"185.225.74.19"` + strings.Repeat("}", 80) + `,"dstip":"91.215.85.147"}}`,
			wantSkipped: 1,
			want:        []string{"ip 45.148.10.67 data.srcip", "ip 91.215.85.147 data.dstip"},
		},
		{
			name:        "two deep parts, each counted",
			json:        head + `"a":` + nested(70, "1") + `,"b":[` + nested(70, "2") + `,"91.215.85.147"]}}`,
			wantSkipped: 2,
			want:        []string{"ip 45.148.10.67 data.srcip", "ip 91.215.85.147 data.b.1"},
		},
		{
			name:        "innermost array at the limit is read",
			json:        head + `"deep":` + nested(MaxNesting-2, `"185.225.74.19"`) + `}}`,
			wantSkipped: 0,
			want:        []string{"ip 45.148.10.67 data.srcip", "ip 185.225.74.19 data.deep" + strings.Repeat(".0", MaxNesting-2)},
		},
		{
			name:        "innermost array one level past the limit is not",
			json:        head + `"deep":` + nested(MaxNesting-1, `"185.225.74.19"`) + `}}`,
			wantSkipped: 1,
			want:        []string{"ip 45.148.10.67 data.srcip"},
		},
		{
			name:        "brackets in strings are not nesting",
			json:        head + `"text":"` + strings.Repeat("[{", 100) + `\"]"}}`,
			wantSkipped: 0,
			want:        []string{"ip 45.148.10.67 data.srcip"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse([]byte(tt.json))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if a.SkippedDeep != tt.wantSkipped {
				t.Errorf("SkippedDeep = %d, want %d", a.SkippedDeep, tt.wantSkipped)
			}
			if a.RuleID != "1" {
				t.Errorf("RuleID = %q, want 1", a.RuleID)
			}
			inds, _ := Extract(a, nil, 0)
			var got []string
			for _, in := range inds {
				got = append(got, string(in.Kind)+" "+in.Value+" "+in.Field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
