package ruleset

// The CDB list rules of rules/0992-misp_cdb_rules.xml (issue #13): their
// own checks, and a cross-check of every sample alert's fields against the
// lists exported from a mirror, with analysisd's lookups (internal/cdb's
// Table) and its rule tree (the model: if_level and if_group attach a rule
// under every earlier rule of that level or group, level 0 counting as 99;
// children are tried highest level first; the deepest match fires).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/cdb"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/mirror/mirrortest"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/google/go-cmp/cmp"
)

const (
	cdbRulesFile = "0992-misp_cdb_rules.xml"
	alertsDir    = "../../testdata/alerts"
)

// cdbParents are the stock rules 0992 names in if_sid (Wazuh 4.14.7):
// Suricata's base rule and its per-type rules, FIM's changed and added.
var cdbParents = map[int]bool{86600: true, 86601: true, 86602: true, 86603: true, 86604: true, 550: true, 554: true}

// maxIfLevel: each if_level rule doubles the rule tree (see the file's
// header); three is what it documents.
const maxIfLevel = 3

// checkCDBRule checks one rule of 0992.
func checkCDBRule(r *rule) []string {
	where := fmt.Sprintf("%s: rule %d", r.file, r.id)
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, where+": "+fmt.Sprintf(format, args...)) }
	if r.level < 3 {
		add("level %d raises no alert (log_alert_level 3)", r.level)
	}
	if !r.hasGroup("misp_list") {
		add("not in group misp_list (the hits-only integration runs on it)")
	}
	if r.hasGroup("misp") {
		add("in group misp: custom-misp would skip its alerts as its own")
	}
	parents := 0
	for _, set := range []bool{len(r.ifSID) > 0, r.ifLevel > 0, r.ifGroup != ""} {
		if set {
			parents++
		}
	}
	if parents != 1 {
		add("want exactly one of if_sid, if_level, if_group")
	}
	for _, sid := range r.ifSID {
		if !cdbParents[sid] {
			add("if_sid %d is not a documented stock parent", sid)
		}
	}
	if len(r.lists) != 1 {
		add("want one <list>, got %d", len(r.lists))
	}
	for _, l := range r.lists {
		name, ok := strings.CutPrefix(l.path, cdb.Dir+"/")
		if !ok || !slices.Contains(cdb.Lists, cdb.List(name)) {
			add("list %s is not one export cdb writes", l.path)
			continue
		}
		if want := "MISP list " + name + ": "; !strings.HasPrefix(r.description, want) {
			add("description %q does not start with %q", r.description, want)
		}
		if !strings.Contains(r.description, "$("+l.field+")") {
			add("description does not show the looked-up field $(%s)", l.field)
		}
		if (l.lookup == "address_match_key") != (name == string(cdb.IP)) {
			add("list %s with lookup %s: the ip list takes address_match_key, the others match_key", name, l.lookup)
		}
	}
	return problems
}

func TestCDBRules_IfLevelCount(t *testing.T) {
	rules, names, err := loadDir(rulesDir)
	if err != nil || !slices.Contains(names, cdbRulesFile) {
		t.Fatalf("%s: %v", cdbRulesFile, err)
	}
	rs, err := parseRules(cdbRulesFile, rules[cdbRulesFile], 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.ifLevel > 0 {
			n++
		}
	}
	if n > maxIfLevel {
		t.Errorf("%d if_level rules, the header documents %d (each doubles analysisd's rule tree)", n, maxIfLevel)
	}
}

// sampleAlert is what the cross-check reads of a sample alert.
type sampleAlert struct {
	Rule struct {
		ID     string   `json:"id"`
		Groups []string `json:"groups"`
	} `json:"rule"`
	Decoder struct {
		Name string `json:"name"`
	} `json:"decoder"`
	Data     map[string]any `json:"data"`
	Syscheck map[string]any `json:"syscheck"`
}

// stockAncestors are the parents, in Wazuh 4.14.7, of the stock rules the
// sample alerts end on that 0992's if_sid names (a trace of wazuh-logtest
// with rules_debug on the testbed manager shows the same paths).
var stockAncestors = map[int][]int{
	86601: {86600},
	99915: {86601, 86600}, // malicious-ioc on a Suricata alert
	99917: {86602, 86600}, // malicious-ioc on a Suricata http event
}

// flattenAlert turns an alert's data into analysisd's dynamic field names:
// nested keys joined by dots; an array of objects stays one string (the
// JSON decoder keeps it as text), which no key of a list equals.
func flattenAlert(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flattenAlert(prefix+k+".", e, out)
		}
	case string:
		out[strings.ToLower(strings.TrimSuffix(prefix, "."))] = x
	case nil:
	default:
		b, _ := json.Marshal(x)
		out[strings.ToLower(strings.TrimSuffix(prefix, "."))] = string(b)
	}
}

// listsFromMirror builds a mirror through the real sync from a MISP
// holding every "must" indicator of testdata/alerts/expected.json (one
// event, to_ids) and exports it: the lists analysisd would load.
func listsFromMirror(t *testing.T) map[string]cdb.Table {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(alertsDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]struct {
		Must []struct{ Kind, Value string } `json:"must"`
	}
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	typeOf := map[string]string{"ip": "ip-dst", "domain": "domain", "url": "url", "md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha512": "sha512", "imphash": "imphash"}
	src := &mirrortest.Source{Events: []misp.Event{{ID: "1", Info: "planted", ThreatLevelID: "1", Published: true, Timestamp: "1"}}}
	for _, name := range sortedKeys(expected) {
		for _, m := range expected[name].Must {
			typ, ok := typeOf[m.Kind]
			if !ok {
				t.Fatalf("%s: kind %s has no MISP type here", name, m.Kind)
			}
			src.Attributes = append(src.Attributes, misp.Attribute{ID: misp.FlexString(strconv.Itoa(len(src.Attributes) + 1)), EventID: "1", Type: misp.FlexString(typ), Value: misp.FlexString(m.Value), ToIDs: true})
		}
	}
	path := filepath.Join(t.TempDir(), "mirror.db")
	if _, err := mirrortest.Sync(t, path, "scope", time.Unix(1_800_000_000, 0), src); err != nil {
		t.Fatal(err)
	}
	m, err := mirror.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	set, err := cdb.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]cdb.Table{}
	for _, l := range cdb.Lists {
		lists[l.Path()] = cdb.Parse(set.Text(l))
	}
	return lists
}

// TestCDBRules_SampleAlerts: which 0992 rule each sample alert ends on
// when every planted indicator is in the lists. The sample alerts were
// made by the stock rules; 0992's rules hang under those (and their
// parents), so the event is tried against them there. The table was
// checked against the real Wazuh 4.14.7 analysisd fed the sample raw
// events with lists exported from the real MISP testbed (docs/cdb.md):
// every row agrees but where the real MISP lacks the planted value the
// row names (sshd-invalid-user, web-nginx-sqli, sysmon-eid22-google,
// sysmon-eid3-chrome, suricata-alert-tls-sni, suricata-http-listed: the
// real run then fell to the next field or to the stock rule), and the
// three alerts without a raw event (firewall-4151, sshd-5712,
// windows-60204).
func TestCDBRules_SampleAlerts(t *testing.T) {
	files, names, err := loadDir(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	var all []*rule
	for _, n := range names {
		if n != cdbRulesFile {
			continue
		}
		if all, err = parseRules(n, files[n], 0); err != nil {
			t.Fatal(err)
		}
	}
	lists := listsFromMirror(t)

	paths, err := filepath.Glob(filepath.Join(alertsDir, "*.json"))
	if err != nil || len(paths) < 30 {
		t.Fatalf("sample alerts: %v (%d)", err, len(paths))
	}
	got := map[string]int{}
	for _, p := range paths {
		name := filepath.Base(p)
		if name == "expected.json" {
			continue
		}
		b, err := readCapped(p)
		if err != nil {
			t.Fatal(err)
		}
		var a sampleAlert
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ev := decoded{name: name, decoder: a.Decoder.Name, fields: map[string]string{}, lists: lists}
		flattenAlert("", a.Data, ev.fields)
		// FIM: analysisd's syscheck decoder names the new values md5,
		// sha1, sha256 and the path file (decoders/syscheck.c).
		for k, v := range map[string]string{"md5": "md5_after", "sha1": "sha1_after", "sha256": "sha256_after", "file": "path"} {
			if x, ok := a.Syscheck[v].(string); ok {
				ev.fields[k] = x
			}
		}
		id, _ := strconv.Atoi(a.Rule.ID)
		onPath := append([]int{id}, stockAncestors[id]...)
		groups := strings.Join(a.Rule.Groups, ",")
		var candidates []*rule
		for _, r := range all {
			if r.ifLevel > 0 || r.ifGroup != "" && wordMatch(r.ifGroup, groups) || slices.ContainsFunc(r.ifSID, func(s int) bool { return slices.Contains(onPath, s) }) {
				candidates = append(candidates, r)
			}
		}
		// The candidates, and under each the later 0992 rules it has as
		// children, as newRuleset links them.
		rs := newRuleset(all, nil)
		if r := rs.descend(candidates, ev); r != nil {
			got[name] = r.id
		}
	}
	want := map[string]int{
		"aws-cloudtrail-console-login-failure-tor-exit.json":       117687,
		"aws-guardduty-ssh-bruteforce-finding.json":                117688,
		"fim-added-hidden-binary-in-tmp.json":                      117683,
		"fim-modified-etc-hosts-before-after.json":                 117683,
		"fim-windows-added-exe-in-public-documents.json":           117683,
		"firewall-4151-multiple-drops-same-source-ipv4.json":       117670,
		"fortigate-av-virus-blocked-with-analytics-checksum.json":  117672,
		"fortigate-webfilter-blocked-malicious-category.json":      117672,
		"office365-aad-user-login-failed-tor-exit.json":            117686,
		"osquery-process-open-sockets-reverse-shell.json":          117689,
		"squid-denied-get-absolute-url-query-string.json":          117672,
		"sshd-5712-bruteforce-non-existent-users.json":             117670,
		"sshd-accepted-publickey-public-ipv4.json":                 117670,
		"sshd-failed-password-root-public-ipv6.json":               117670,
		"sshd-invalid-user-public-ipv4.json":                       117670,
		"suricata-alert-dshield-listed-source-malicious-list.json": 117673,
		"suricata-alert-http-exe-download-malicious-domain.json":   117674,
		"suricata-alert-ipv6-ssh-scan-expanded-addresses.json":     117673,
		"suricata-alert-tls-sni-malicious-xyz.json":                117674,
		// dest_ip is tried before http.hostname; on the testbed, whose
		// MISP lacks 104.21.91.50, the hostname fired 117676.
		"suricata-http-listed-domain-redirect.json":              117674,
		"sysmon-eid22-google-com-aaaa-and-a.json":                117681,
		"sysmon-eid22-malicious-domain-cname-mapped-ipv4.json":   117681,
		"sysmon-eid3-chrome-to-public-ipv6.json":                 117678,
		"sysmon-eid3-dropped-binary-to-public-ipv4.json":         117678,
		"web-apache-error-client-denied.json":                    117670,
		"web-nginx-sqli-sqlmap-200.json":                         117670,
		"web-nginx-traversal-from-malicious-list-ip-200.json":    117670,
		"windows-security-4624-ntlm-logon-from-public-ipv4.json": 117682,
		"windows-security-4625-rdp-bruteforce-public-ipv4.json":  117682,
		// windows-security-60204: the frequency rule's groups
		// (authentication_failures) are none of 117682's if_group: the
		// alert stays 60204. Sysmon Hashes, Suricata dns.query (an
		// array) and office365.SenderIp are looked up by no rule.
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("0992 rule per sample alert (-want +got):\n%s", diff)
	}
}
