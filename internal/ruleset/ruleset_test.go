package ruleset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

// Repository paths, relative to this package.
const (
	rulesDir    = "../../rules"
	decodersDir = "../../decoders"
	snippetsDir = "../../ossec-snippets"
	goldenDir   = "../../testdata/golden"
	classesFile = "../misp/types.go"
)

// watchedTag is the tag the shipped watched-tags placeholder (117622,
// 117625) matches.
const watchedTag = "custom-misp:watched"

// kind is one kind of event the binary can produce, with the rule the spec
// (rules/README.md) says must turn it into an alert.
type kind struct {
	name      string
	msg       event.Message
	wantID    int
	wantLevel int
}

func source() event.Source {
	return event.Source{AlertID: "1732716000.4242", RuleID: "61605", RuleLevel: "3", Description: "Sysmon - Event 3: Network connection"}
}

// attribute is a MISP attribute as restSearch returns it with context.
func attribute(toIDs bool, threatLevelID string, tags ...string) misp.Attribute {
	a := misp.Attribute{
		ID: "52114", EventID: "1337", Category: "Network activity", Type: "ip-dst",
		Value: "185.225.74.19", ToIDs: misp.FlexBool(toIDs), UUID: "5f1c2b9e-8d1a-4f0e-9c55-0a6f6b1d2e3f",
		Comment: "C2 server",
		Event: misp.Event{
			ID: "1337", UUID: "a7c1e1c4-2f0b-4b8e-9d8e-3b6c1f2a9e10", Info: "Emotet epoch 5 C2 servers",
			Date: "2024-10-01", ThreatLevelID: misp.FlexString(threatLevelID), Published: true,
			Orgc: misp.Org{Name: "CIRCL"},
			Tags: []misp.Tag{{Name: `misp-galaxy:mitre-attack-pattern="Application Layer Protocol - T1071"`}},
		},
	}
	for _, t := range tags {
		a.Tags = append(a.Tags, misp.Tag{Name: misp.FlexString(t)})
	}
	return a
}

func match(toIDs bool, threatLevelID string, tags ...string) event.Message {
	ind := ioc.Indicator{Kind: ioc.IP, Value: "185.225.74.19", Raw: "185.225.74.19", Field: "data.win.eventdata.destinationIp"}
	second := attribute(toIDs, threatLevelID)
	second.EventID = "1402"
	return event.Match(ind, []misp.Attribute{attribute(toIDs, threatLevelID, tags...), second}, "https://misp.example.org", source())
}

func failure(c misp.Class) event.Message {
	return event.Failure(c, 503, "misp "+string(c)+": status 503: Service Unavailable", 3, source())
}

// throttled is the error event of class c sent after the cache held n of
// its class back (enrich sets misp.suppressed from cache.ShouldReport).
func throttled(c misp.Class, n int) event.Message {
	m := failure(c)
	m.MISP.Suppressed = strconv.Itoa(n)
	return m
}

// foreignMatch is a match event that custom-misp never sends (it always
// sets to_ids and a threat level): what the catch-all 117617 is for, such
// as an event of an older or another producer.
func foreignMatch() event.Message {
	return event.Message{Integration: event.Integration, MISP: event.Payload{Value: "185.225.74.19", EventID: "1337", Indicator: "185.225.74.19"}}
}

// job is the line "custom-misp feeds fetch --json" prints; there is no
// constructor for it in internal/event, so the schema fields are set here.
func job(op, result string) event.Message {
	return event.Message{Integration: event.Integration, MISP: event.Payload{Operation: op, Result: result, Message: "fetched 12 feeds"}}
}

// MISP threat_level_id values (event.ThreatLevel).
const (
	high, medium, low, undefined = "1", "2", "3", "4"
)

// kinds lists every kind of event; errorKinds adds one per error class.
func kinds(t *testing.T) []kind {
	ks := []kind{
		{"ioc high", match(true, high), 117610, 12},
		{"ioc medium", match(true, medium), 117611, 10},
		{"ioc undefined", match(true, undefined), 117612, 8},
		{"ioc low", match(true, low), 117613, 7},
		{"context high", match(false, high), 117614, 6},
		{"context medium", match(false, medium), 117615, 5},
		{"context low", match(false, low), 117616, 3},
		{"context undefined", match(false, undefined), 117616, 3},
		{"ioc high tlp red", match(true, high, "tlp:red"), 117620, 13},
		{"ioc low tlp red", match(true, low, "tlp:red"), 117620, 13},
		{"ioc low tlp amber", match(true, low, "tlp:amber"), 117621, 11},
		{"ioc medium tlp amber strict", match(true, medium, "TLP:AMBER+STRICT"), 117621, 11},
		{"ioc high tlp amber keeps 12", match(true, high, "tlp:amber"), 117610, 12},
		{"ioc low tlp green", match(true, low, "tlp:green"), 117613, 7},
		{"context low tlp red", match(false, low, "tlp:red"), 117623, 7},
		{"context medium tlp amber", match(false, medium, "tlp:amber"), 117624, 6},
		{"context high tlp amber keeps 6", match(false, high, "tlp:amber"), 117614, 6},
		{"ioc watched tag", match(true, medium, "tlp:red", watchedTag), 117622, 14},
		{"context watched tag", match(false, low, watchedTag), 117625, 9},
		{"context tag containing the watched one", match(false, low, watchedTag+"-not"), 117616, 3},
		{"feeds fetch ok", job("feeds_fetch", "ok"), 117660, 3},
		{"feeds fetch failed", job("feeds_fetch", "failed"), 117661, 8},
		{"other job failed", job("warninglists_update", "failed"), 117662, 8},
		{"mirror sync ok", job("mirror_sync", "ok"), 117663, 2},
		{"mirror sync failed", job("mirror_sync", "failed"), 117664, 8},
		{"error class unknown to the rules", failure(misp.Class("quota")), 117649, 3},
		{"config error before the alert was read", event.Failure(misp.ClassConfig, 0, "configuration: options: unknown key \"toids\"", 0, event.Source{}), 117640, 12},
		{"match of another producer", foreignMatch(), 117617, 3},
		// Lookups keep failing: 9 or more of a transient class held back
		// (117650); fewer, or a class that is not transient, stay on the
		// class's own rule.
		{"unavailable after 9 held back", throttled(misp.ClassUnavailable, 9), 117650, 10},
		{"rate_limited after 12 held back", throttled(misp.ClassRateLimited, 12), 117650, 10},
		{"timeout after 100000 held back", throttled(misp.ClassTimeout, 100000), 117650, 10},
		{"timeout after 8 held back", throttled(misp.ClassTimeout, 8), 117646, 4},
		{"unavailable after 1 held back", throttled(misp.ClassUnavailable, 1), 117644, 6},
		{"auth after 30 held back", throttled(misp.ClassAuth, 30), 117641, 12},
		{"tls after 9 held back", throttled(misp.ClassTLS, 9), 117642, 10},
		{"unknown class after 20 held back", throttled(misp.Class("quota"), 20), 117649, 3},
	}
	want := map[misp.Class]struct{ id, level int }{
		misp.ClassConfig:      {117640, 12},
		misp.ClassAuth:        {117641, 12},
		misp.ClassTLS:         {117642, 10},
		misp.ClassBadResponse: {117643, 7},
		misp.ClassUnavailable: {117644, 6},
		misp.ClassRateLimited: {117645, 5},
		misp.ClassTimeout:     {117646, 4},
		misp.ClassStaleMirror: {117647, 7},
		misp.ClassNoMirror:    {117648, 12},
		misp.ClassForbidden:   {117652, 5},
	}
	// Every class declared in internal/misp must have its own rule: a class
	// added there without a rule here fails this test.
	for _, c := range declaredClasses(t) {
		w, ok := want[c]
		if !ok {
			t.Errorf("misp.Class %q has no rule in rules/0990-misp_rules.xml (add one and list it here)", c)
			continue
		}
		ks = append(ks, kind{"error " + string(c), failure(c), w.id, w.level})
	}
	return ks
}

// declaredClasses reads the misp.Class constants from internal/misp.
func declaredClasses(t *testing.T) []misp.Class {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), classesFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var classes []misp.Class
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Class" {
				continue
			}
			for _, val := range v.Values {
				if lit, ok := val.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					classes = append(classes, misp.Class(s))
				}
			}
		}
	}
	if len(classes) == 0 {
		t.Fatalf("%s: no misp.Class constants found", classesFile)
	}
	return classes
}

// datagram is what the binary sends: manager form for agent 000, agent form
// otherwise (location escaped as analysisd 4.4+ expects).
func datagram(t *testing.T, m event.Message, agent bool) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if agent {
		return "1:[003] (WIN-DC01) 10.20.0.15->misp:" + string(b)
	}
	return "1:misp:" + string(b)
}

// readRepo loads the real rule and decoder files.
func readRepo(t *testing.T) (rules, decoders map[string][]byte) {
	t.Helper()
	rules, names, err := loadDir(rulesDir)
	if err != nil || len(names) == 0 {
		t.Fatalf("rules in %s: %v (%d files)", rulesDir, err, len(names))
	}
	decoders, names, err = loadDir(decodersDir)
	if err != nil || len(names) == 0 {
		t.Fatalf("decoders in %s: %v (%d files)", decodersDir, err, len(names))
	}
	return rules, decoders
}

// goldenEvents decodes every datagram in testdata/golden/*.golden, the
// binary's output for the sample alerts, when that directory exists.
func goldenEvents(t *testing.T, decs []decoder, dir string) []decoded {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []decoded
	for _, p := range paths {
		b, err := readCapped(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64<<10), wazuh.MaxDatagram+1)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			ev, err := decode(decs, fmt.Sprintf("%s:%d", filepath.Base(p), n), line)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if len(paths) > 0 && len(evs) == 0 {
		t.Fatalf("%s: golden files hold no datagram", dir)
	}
	t.Logf("%d golden datagrams from %d files", len(evs), len(paths))
	return evs
}

func TestRuleset_Check(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	var evs []decoded
	for _, k := range kinds(t) {
		for _, agent := range []bool{false, true} {
			ev, err := decode(rs.decoders, k.name, datagram(t, k.msg, agent))
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
	}
	evs = append(evs, goldenEvents(t, rs.decoders, goldenDir)...)
	for _, p := range check(rs, evs) {
		t.Error(p)
	}
}

func TestRuleset_EventKinds(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			for _, agent := range []bool{false, true} {
				ev, err := decode(rs.decoders, k.name, datagram(t, k.msg, agent))
				if err != nil {
					t.Fatal(err)
				}
				if ev.location != "misp" && ev.location != "[003] (WIN-DC01) 10.20.0.15->misp" {
					t.Errorf("location %q", ev.location)
				}
				got := rs.match(ev)
				if got == nil {
					t.Fatalf("agent=%v: no rule matches", agent)
				}
				if diff := cmp.Diff([]int{k.wantID, k.wantLevel}, []int{got.id, got.level}); diff != "" {
					t.Errorf("agent=%v: rule (-want id,level +got):\n%s", agent, diff)
				}
				if got.description == "" || strings.Contains(expand(got.description, ev), "$(") {
					t.Errorf("description %q does not expand", got.description)
				}
			}
		})
	}
}

// TestRuleset_Description pins how one alert reads, so that a renamed field
// shows up as a changed sentence.
func TestRuleset_Description(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := decode(rs.decoders, "ioc high", datagram(t, match(true, high), true))
	if err != nil {
		t.Fatal(err)
	}
	got := expand(rs.match(ev).description, ev)
	want := `MISP: IoC 185.225.74.19 (ip) seen in alert 61605 matches MISP event 1337 "Emotet epoch 5 C2 servers" - threat level high`
	if got != want {
		t.Errorf("description\n got %s\nwant %s", got, want)
	}
}

// TestDecode_Flatten checks the JSON_Decoder model on the shapes it must
// get right: nesting, booleans, numbers, null, arrays and escaped locations.
func TestDecode_Flatten(t *testing.T) {
	_, decoders := readRepo(t)
	rs, err := load(nil, decoders)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, line   string
		wantLocation string
		wantDecoder  string
		want         map[string]string
	}{
		{
			name:         "manager form",
			line:         `1:misp:{"integration":"misp","misp":{"to_ids":true,"published":false,"n":42,"f":1.5,"big":4294967296,"gone":null,"tags":["tlp:red","apt"],"mixed":[{"a":1},"x"],"source":{"rule_id":"5710"}}}`,
			wantLocation: "misp",
			wantDecoder:  "json-misp",
			want: map[string]string{
				"integration": "misp", "misp.to_ids": "true", "misp.published": "false", "misp.n": "42",
				"misp.f": "1.500000", "misp.big": "4294967296.000000", "misp.tags": "tlp:red,apt", "misp.mixed": "x",
				"misp.source.rule_id": "5710",
			},
		},
		{
			name:         "agent form with escaped colons",
			line:         `1:[004] (web|:01) 2001|:db8||x->misp:{"integration":"misp","misp":{"error":"timeout"}}`,
			wantLocation: "[004] (web:01) 2001:db8|x->misp",
			wantDecoder:  "json-misp",
			want:         map[string]string{"integration": "misp", "misp.error": "timeout"},
		},
		{
			name:         "spaces after the brace, as Python writes it",
			line:         `1:misp:{ "integration" : "misp", "misp": {"error": "auth"}}`,
			wantLocation: "misp",
			wantDecoder:  "json-misp",
			want:         map[string]string{"integration": "misp", "misp.error": "auth"},
		},
		{
			name:         "another integration is not ours",
			line:         `1:virustotal:{"integration":"virustotal","virustotal":{"found":0}}`,
			wantLocation: "virustotal",
			want:         map[string]string{},
		},
		{
			name:         "misp as a prefix is not ours",
			line:         `1:misp:{"integration":"misp-legacy","misp":{}}`,
			wantLocation: "misp",
			want:         map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := decode(rs.decoders, tt.name, tt.line)
			if err != nil {
				t.Fatal(err)
			}
			got := struct {
				Location, Decoder string
				Fields            map[string]string
			}{ev.location, ev.decoder, ev.fields}
			want := struct {
				Location, Decoder string
				Fields            map[string]string
			}{tt.wantLocation, tt.wantDecoder, tt.want}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOSRegex(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{`^misp$`, []string{"misp", "MISP"}, []string{"misp-legacy", "xmisp", ""}},
		{`^low$|^undefined$`, []string{"low", "undefined"}, []string{"lower", "medium"}},
		{`^amber`, []string{"amber", "amber+strict"}, []string{"xamber"}},
		{`\.`, []string{"1", "x"}, []string{""}},
		{`^{\s*"integration"\s*:\s*"misp"`, []string{`{"integration":"misp"}`, `{ "integration" : "misp",`}, []string{`{"integration":"virustotal"`}},
		{`^\d+.\d+$`, []string{"10.5"}, []string{"10x5"}},
		{`a\$b`, []string{"a$b"}, []string{"ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			re, err := osRegex(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.match {
				if !re.MatchString(s) {
					t.Errorf("%q does not match %q", tt.pattern, s)
				}
			}
			for _, s := range tt.nomatch {
				if re.MatchString(s) {
					t.Errorf("%q matches %q", tt.pattern, s)
				}
			}
		})
	}
	for _, bad := range []string{`a+`, `x\q`, `trailing\`} {
		if _, err := osRegex(bad); err == nil {
			t.Errorf("osRegex(%q): no error, OS_Regex does not support it", bad)
		}
	}
}

// TestDecoder_SortsBeforeJSON checks the claim in the decoder header:
// analysisd sorts the decoder files of all directories by basename (strcmp)
// and the first matching decoder wins, so ours must sort before the stock
// json decoder file, and must not share a basename with a stock file.
func TestDecoder_SortsBeforeJSON(t *testing.T) {
	_, names, err := loadDir(decodersDir)
	if err != nil {
		t.Fatal(err)
	}
	const stockJSON = "0006-json_decoders.xml"
	for _, n := range names {
		if n >= stockJSON {
			t.Errorf("%s sorts after %s: the stock json decoder would take our events", n, stockJSON)
		}
		if !strings.Contains(n, "misp") {
			t.Errorf("%s: keep \"misp\" in the name so it never equals a stock basename", n)
		}
	}
	// The order analysisd would see, with the stock neighbours and the
	// usual local file.
	all := append([]string{"0005-wazuh_decoders.xml", stockJSON, "0007-wazuh-api_decoders.xml", "local_decoder.xml"}, names...)
	sort.Strings(all)
	if i, j := slices.Index(all, names[0]), slices.Index(all, stockJSON); i > j {
		t.Errorf("order %v puts %s after %s", all, names[0], stockJSON)
	}
	// The order of the rule files matters too: overwrite copies must load
	// after the stock file, and before local_rules.xml so that an admin's
	// own overwrite there wins.
	_, rules, err := loadDir(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rules {
		if n <= "0595-win-sysmon_rules.xml" || n >= "local_rules.xml" {
			t.Errorf("rule file %s must sort between 0595-win-sysmon_rules.xml and local_rules.xml", n)
		}
	}
}

// TestCheck_Fails shows that each check can fail, on edited copies of the
// real rule file.
func TestCheck_Fails(t *testing.T) {
	rules, decoders := readRepo(t)
	const mainFile = "0990-misp_rules.xml"
	orig := string(rules[mainFile])
	if orig == "" {
		t.Fatalf("%s not found in %s", mainFile, rulesDir)
	}
	edit := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("%q not in %s: update this test", old, mainFile)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	cut := func(from, to string) func(string) string {
		return func(s string) string {
			i, j := strings.Index(s, from), strings.Index(s, to)
			if i < 0 || j < i {
				t.Fatalf("%q..%q not in %s: update this test", from, to, mainFile)
			}
			return s[:i] + s[j:]
		}
	}
	tests := []struct {
		name    string
		change  func(string) string
		wantErr string // from loading
		want    string // in one of the problems
	}{
		{name: "broken if_sid", change: edit(`<rule id="117646" level="4">
    <if_sid>117600</if_sid>`, `<rule id="117646" level="4">
    <if_sid>117699</if_sid>`), want: "rule 117646: parent rule 117699 is neither ours"},
		{name: "duplicate ID", change: edit(`id="117646"`, `id="117645"`), want: "rule 117645: duplicate ID"},
		{name: "ID outside the block", change: edit(`id="117646"`, `id="100620"`), want: "rule 100620: ID outside the documented block"},
		{name: "missing field", change: edit(`"misp.error">^timeout$`, `"misp.err">^timeout$`), want: "field misp.err is in no event"},
		{name: "missing description field", change: edit(`lookup timed out, indicators`, `lookup timed out, $(misp.indicator_count) indicators`), want: "$(misp.indicator_count)"},
		{name: "unmatched event kind", change: cut(`<rule id="117646"`, `<!-- Lookups keep failing`), want: "error timeout: matched by no rule below the root"},
		{name: "decoder name typo", change: edit(`<decoded_as>json-misp</decoded_as>`, `<decoded_as>json_misp</decoded_as>`), want: "decoded_as json_misp"},
		{name: "level 0 below the root", change: edit(`<rule id="117646" level="4">`, `<rule id="117646" level="0">`), want: "rule 117646: level 0 below the root"},
		{name: "unknown if_matched_group", change: edit(`<if_matched_group>misp_ioc</if_matched_group>`, `<if_matched_group>misp_iocs</if_matched_group>`), want: "if_matched_group misp_iocs"},
		{name: "malformed XML", change: edit(`</group>`, `</grop>`), wantErr: "not well-formed"},
		{name: "ampersand", change: edit(`MISP: feeds fetch finished`, `MISP: feeds fetch &amp; finished`), wantErr: "contains '&'"},
		{name: "static field", change: edit(`"misp.error">^timeout$`, `"url">^timeout$`), wantErr: "static field"},
		{name: "unmodelled element", change: edit(`<field name="misp.error">^timeout$</field>`, `<match>timeout</match>`), wantErr: "not modelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := map[string][]byte{}
			for k, v := range rules {
				edited[k] = v
			}
			edited[mainFile] = []byte(tt.change(orig))
			rs, err := load(edited, decoders)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("load error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var evs []decoded
			for _, k := range kinds(t) {
				ev, err := decode(rs.decoders, k.name, datagram(t, k.msg, true))
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
			}
			problems := check(rs, evs)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem contains %q; got:\n%s", tt.want, strings.Join(problems, "\n"))
			}
		})
	}
}

// TestCheck_FailsOnOverwrite shows the Sysmon overwrite checks can fail.
func TestCheck_FailsOnOverwrite(t *testing.T) {
	rules, decoders := readRepo(t)
	const file = "0991-misp_sysmon_levels.xml"
	orig := string(rules[file])
	tests := []struct{ name, old, new, want string }{
		{"changed condition", `<field name="win.system.eventID">^22$</field>`, `<field name="win.system.eventID">^2$</field>`, "rule 61650: fields differ"},
		{"unknown stock rule", `<rule id="61654" level="3" overwrite="yes">`, `<rule id="61655" level="3" overwrite="yes">`, "rule 61655: overwrites a rule that is not"},
		{"level too low", `<rule id="61605" level="3" overwrite="yes">`, `<rule id="61605" level="2" overwrite="yes">`, "rule 61605: level 2"},
		{"group dropped", `<group>sysmon_event3,</group>`, ``, "rule 61605: groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(orig, tt.old) {
				t.Fatalf("%q not in %s: update this test", tt.old, file)
			}
			edited := map[string][]byte{file: []byte(strings.Replace(orig, tt.old, tt.new, 1))}
			rs, err := load(edited, decoders)
			if err != nil {
				t.Fatal(err)
			}
			problems := check(rs, nil)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem contains %q; got:\n%s", tt.want, strings.Join(problems, "\n"))
			}
		})
	}
}

// TestGolden_Read checks the golden reader on the format the lead's golden
// files use: one datagram per line, both location forms, blank lines ignored.
func TestGolden_Read(t *testing.T) {
	_, decoders := readRepo(t)
	rs, err := load(nil, decoders)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lines := "1:misp:{\"integration\":\"misp\",\"misp\":{\"error\":\"timeout\"}}\n\n" +
		"1:[001] (web|:01) any->misp:{\"integration\":\"misp\",\"misp\":{\"to_ids\":true,\"threat_level\":\"high\"}}\n"
	if err := os.WriteFile(filepath.Join(dir, "sample.golden"), []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	evs := goldenEvents(t, rs.decoders, dir)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.name+" "+ev.location+" "+ev.fields["misp.error"]+ev.fields["misp.threat_level"])
	}
	want := []string{"sample.golden:1 misp timeout", "sample.golden:3 [001] (web:01) any->misp high"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCheck_FailsOnGolden shows a golden datagram that no rule turns into
// an alert is reported.
func TestCheck_FailsOnGolden(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := decode(rs.decoders, "x.golden:1", `1:misp:{"integration":"misp","misp":{"value":"x"}}`)
	if err != nil {
		t.Fatal(err)
	}
	problems := check(rs, []decoded{ev})
	if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "x.golden:1: matched by no rule below the root") }) {
		t.Errorf("got %q", problems)
	}
}

// TestSnippets checks every <integration> variant: name, alert_format,
// the elements each Wazuh version knows, and the filter. A variant with a
// <group> list must list exactly the groups derived from the stock ruleset
// (groupsFile, see stock_test.go); the one without must filter by <level>.
func TestSnippets(t *testing.T) {
	files, names, err := loadDir(snippetsDir)
	if err != nil || len(names) == 0 {
		t.Fatalf("snippets in %s: %v", snippetsDir, err)
	}
	want := strings.Join(readGroupsFile(t), ",")
	var withGroups, withLevel []string
	for _, n := range names {
		elems, err := parseElements(n, files[n])
		if err != nil {
			t.Error(err)
			continue
		}
		for _, e := range elems {
			if e.XMLName.Local != "integration" {
				continue
			}
			children := map[string]string{}
			for _, c := range e.Children {
				children[c.XMLName.Local] = strings.TrimSpace(c.Text)
			}
			if children["name"] != "custom-misp" || children["alert_format"] != "json" {
				t.Errorf("%s: want name custom-misp and alert_format json, got %q %q", n, children["name"], children["alert_format"])
			}
			_, hasOptions := children["options"]
			_, hasTimeout := children["timeout"]
			switch {
			case strings.Contains(n, "4.3-4.6") && (hasOptions || hasTimeout):
				t.Errorf("%s: 4.3-4.6 reject <options> and <timeout>", n)
			case strings.Contains(n, "4.7") && hasTimeout:
				t.Errorf("%s: 4.7 rejects <timeout>", n)
			}
			if o, ok := children["options"]; ok {
				var opts map[string]any
				if err := json.Unmarshal([]byte(o), &opts); err != nil {
					t.Errorf("%s: <options> is not JSON: %v", n, err)
				}
				if _, ok := opts["api_key_file"]; !ok {
					t.Errorf("%s: <options> should show api_key_file", n)
				}
			}
			g, hasGroup := children["group"]
			level, hasLevel := children["level"]
			switch {
			case hasGroup && hasLevel:
				t.Errorf("%s: <group> and <level> together: integratord ANDs them", n)
			case hasGroup && strings.Contains(n, "misp-list"):
				// The hits-only block: the alerts of rules/0992 (docs/cdb.md).
				if g != "misp_list" {
					t.Errorf("%s: <group> %q, want misp_list", n, g)
				}
			case hasGroup:
				if g != want {
					t.Errorf("%s: <group> is not the list in %s (regenerate: see stock_test.go)\n got %s\nwant %s", n, groupsFile, g, want)
				}
				withGroups = append(withGroups, n)
			case hasLevel:
				if level != strconv.Itoa(alertLevel) {
					t.Errorf("%s: <level>%s</level>, want %d (log_alert_level: every alert)", n, level, alertLevel)
				}
				withLevel = append(withLevel, n)
			default:
				t.Errorf("%s: neither <group> nor <level>", n)
			}
		}
	}
	if len(withGroups) != 3 || len(withLevel) != 1 {
		t.Errorf("want 3 <integration> variants with the group list and 1 with <level>, got %v and %v", withGroups, withLevel)
	}
	if _, err := os.Stat(filepath.Join(snippetsDir, "feeds-fetch-wodle.xml")); err != nil {
		t.Error(err)
	}
	// The sync wodle's tag makes the location the root rule takes
	// (command_<tag>, see TestRuleset_FeedsFetchLocation), and its command
	// prints the one JSON line the rules read.
	sync, err := os.ReadFile(filepath.Join(snippetsDir, "mirror-sync-wodle.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<tag>misp-sync</tag>", "custom-misp sync --json</command>", "<ignore_output>no</ignore_output>"} {
		if !strings.Contains(string(sync), want) {
			t.Errorf("mirror-sync-wodle.xml lacks %s", want)
		}
	}
}

// TestRuleset_OnlyOurLocation: our decoder takes any line that starts like
// our events, so the root rule also requires the location custom-misp
// sends. A log line from a file is neither a MISP alert nor put in group
// misp (which custom-misp would skip, issue #10 item 3); our own events
// match in both location forms.
func TestRuleset_OnlyOurLocation(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	const ours = `{"integration":"misp","misp":{"value":"185.220.101.47","type":"ip-src","event_id":"3","threat_level":"high","to_ids":true,"indicator":"185.220.101.47","indicator_kind":"ip","source":{"rule_id":"5710"}}}`
	for _, tc := range []struct {
		location string
		want     bool
	}{
		{"misp", true},
		{"[003] (WS-FIN-0042) 10.20.30.41->misp", true},
		{"[003] (WS-FIN-0042) any->misp", true},
		{"/var/log/app/audit.json", false},
		{"[003] (WS-FIN-0042) 10.20.30.41->/var/log/app/audit.json", false},
		{"[003] (WS-FIN-0042) 10.20.30.41->/var/log/misp/app.log", false},
	} {
		t.Run(tc.location, func(t *testing.T) {
			loc := strings.ReplaceAll(strings.ReplaceAll(tc.location, "|", "||"), ":", "|:")
			ev, err := decode(rs.decoders, "forged", "1:"+loc+":"+ours)
			if err != nil {
				t.Fatal(err)
			}
			r := rs.match(ev)
			got := r != nil && r.hasGroup("misp")
			if got != tc.want {
				t.Errorf("matched %v (rule %v), want a misp rule: %v", got, r, tc.want)
			}
		})
	}
}

// TestRuleset_FeedsFetchLocation: the command wodle of
// ossec-snippets/feeds-fetch-wodle.xml hands the line "custom-misp feeds
// fetch --json" prints to analysisd with location command_<tag>
// (wm_command.c: "command_misp-feeds-fetch"), never "misp": the root rule
// must take it, or 117660-117662 never fire. The same tag run by an
// agent's wodle (agent form, less trusted) is not ours.
func TestRuleset_FeedsFetchLocation(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		location string
		op       string
		wantID   int // 0: no rule of ours
	}{
		{"command_misp-feeds-fetch", "feeds_fetch", 117661},
		{"[003] (WS-FIN-0042) any->command_misp-feeds-fetch", "feeds_fetch", 0},
		{"command_other-job", "feeds_fetch", 0},
		// ossec-snippets/mirror-sync-wodle.xml, tag misp-sync.
		{"command_misp-sync", "mirror_sync", 117664},
		{"[003] (WS-FIN-0042) any->command_misp-sync", "mirror_sync", 0},
	} {
		t.Run(tc.location, func(t *testing.T) {
			body, err := json.Marshal(job(tc.op, "failed"))
			if err != nil {
				t.Fatal(err)
			}
			loc := strings.ReplaceAll(strings.ReplaceAll(tc.location, "|", "||"), ":", "|:")
			ev, err := decode(rs.decoders, tc.location, "1:"+loc+":"+string(body))
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			if r := rs.match(ev); r != nil && r.hasGroup("misp") {
				got = r.id
			}
			if got != tc.wantID {
				t.Errorf("matched rule %d, want %d", got, tc.wantID)
			}
		})
	}
}
