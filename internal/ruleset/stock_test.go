package ruleset

// The <group> list of the ossec-snippets, derived from a stock Wazuh
// ruleset. integratord runs custom-misp for an alert when one of the
// alert's rule.groups is in the list (exact strcmp), so the list must
// name a group of every stock rule whose alerts can carry an indicator.
//
// Criterion (reproducible, applied by deriveGroups):
//
//  1. A decoder family (a parent decoder and its children) carries
//     indicators when one of the fields it decodes is one custom-misp
//     reads: a field whose name says it holds an address (it ends in ip,
//     addr or address: srcip, dstip, src_ip, ip_address, ...; the
//     extractor takes any data field whose value is a global address),
//     or a field the extractor itself turns into an indicator when it
//     holds a domain, a URL or a hash (url, hostname, qname, *hash*,
//     *md5*, ...: internal/alert decides, called here with those
//     values). A family with a plugin decoder always carries: JSON_Decoder
//     decodes whatever the log holds, and PF, SonicWall, SymantecWS and
//     OSSECAlert set srcip (src/analysisd/decoders/plugins). analysisd's
//     built-in decoders: syscheck_* (FIM: syscheck.*_after hashes) and
//     windows_eventchannel (data.win.*) carry; rootcheck, sca,
//     syscollector, hostinfo_* and ciscat do not.
//  2. A rule's events come from the family its decoded_as names; without
//     decoded_as, from its parents' (if_sid, if_matched_sid, or every rule
//     of its if_group / if_matched_group); without either, from the
//     decoders of its category (syslog and ossec count as any decoder).
//     A rule whose events may come from any decoder (a text rule such as
//     "syslog: User authentication failure") is counted as not carrying:
//     nothing ties it to decoded fields.
//  3. Only rules of level 3 or more raise alerts that integratord sees
//     (log_alert_level), after the overwrites of rules/0991 (the Sysmon
//     base rules, raised to 3).
//  4. The list is every rule.groups entry of every carrying rule, as
//     analysisd writes it in the alert (the <group name> and <group>
//     texts concatenated, split at commas, compliance tags such as
//     pci_dss_* moved out), except names with spaces: integratord
//     compares names exactly and doctor flags spaces in the list. Every
//     carrying rule must keep a listed group, or deriving fails.
//
// Regenerate after a Wazuh upgrade or an extractor change:
//
//	go test ./internal/ruleset -run TestStockGroups -stock /path/to/wazuh/ruleset -update
//
// which rewrites testdata/alert-groups.txt and the <group> of every
// ossec-snippets/integration-*.xml that has one.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/alert"
)

var (
	stockDir = flag.String("stock", "", "a stock Wazuh ruleset directory (with rules/ and decoders/) to derive the <group> list from")
	update   = flag.Bool("update", false, "with -stock: rewrite "+groupsFile+" and the <group> of the ossec-snippets")
)

// groupsFile holds the derived list, one group per line after a header.
const groupsFile = "testdata/alert-groups.txt"

// stockVersion is the Wazuh version groupsFile was derived from.
const stockVersion = "4.14.7"

// alertLevel is the default log_alert_level: lower rules raise no alert.
const alertLevel = 3

// stockRule is what the derivation needs of one stock rule.
type stockRule struct {
	id, level   int
	groups      []string // rule.groups of its alerts, in order
	parents     []int    // if_sid, if_matched_sid
	parentGroup string   // if_group, if_matched_group
	decodedAs   string
	category    string
}

// decoderFamily is one parent decoder with its children.
type decoderFamily struct {
	name, typ string
	fields    []string
	plugin    bool
}

// stockRuleset is a stock ruleset as the derivation sees it.
type stockRuleset struct {
	rules    map[int]*stockRule
	families map[string]*decoderFamily // by the name of any decoder of the family
}

// builtinCarries says whether the events of one of analysisd's built-in
// decoders (no XML, named by decoded_as) carry indicators; ok is false for
// a name it does not know.
func builtinCarries(name string) (carries, ok bool) {
	switch {
	case strings.HasPrefix(name, "syscheck_"), name == "windows_eventchannel":
		return true, true
	case name == "rootcheck", name == "sca", name == "syscollector", name == "ciscat", strings.HasPrefix(name, "hostinfo_"):
		return false, true
	}
	return false, false
}

// wazuhXML makes a Wazuh ruleset file parseable by encoding/xml: Wazuh's
// reader takes comments with "--" in them, regexes with a bare "<" and
// "&" in element text; the derivation needs none of those texts.
func wazuhXML(data []byte) []byte {
	data = regexp.MustCompile(`(?s)<!--.*?-->`).ReplaceAll(data, nil)
	data = regexp.MustCompile(`<([^A-Za-z/!?])`).ReplaceAll(data, []byte("&lt;$1"))
	return regexp.MustCompile(`&([^a-z#]|[a-z]+[^a-z;])`).ReplaceAll(data, []byte("&amp;$1"))
}

// readStock loads the rules and decoders of a stock ruleset directory,
// then the rule files in overwrites (ours: rules/0991), whose overwrite
// rules change the level of stock rules.
func readStock(dir string, overwrites ...string) (*stockRuleset, error) {
	rs := &stockRuleset{rules: map[int]*stockRule{}, families: map[string]*decoderFamily{}}
	decs, err := filepath.Glob(filepath.Join(dir, "decoders", "*.xml"))
	if err != nil || len(decs) == 0 {
		return nil, fmt.Errorf("%s/decoders: no decoder files (%v)", dir, err)
	}
	for _, p := range decs {
		if err := rs.addDecoders(p); err != nil {
			return nil, err
		}
	}
	rules, err := filepath.Glob(filepath.Join(dir, "rules", "*.xml"))
	if err != nil || len(rules) == 0 {
		return nil, fmt.Errorf("%s/rules: no rule files (%v)", dir, err)
	}
	for _, p := range append(rules, overwrites...) {
		if err := rs.addRules(p); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func readWazuhXML(path string) ([]node, error) {
	b, err := readCapped(path)
	if err != nil {
		return nil, err
	}
	var root node
	if err := xml.Unmarshal([]byte("<root>"+string(wazuhXML(b))+"</root>"), &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return root.Children, nil
}

func (rs *stockRuleset) addDecoders(path string) error {
	elems, err := readWazuhXML(path)
	if err != nil {
		return err
	}
	for _, d := range elems {
		if d.XMLName.Local != "decoder" {
			continue
		}
		name, _ := d.attr("name")
		famName := name
		var fields []string
		typ, plugin := "", false
		for _, c := range d.Children {
			text := strings.TrimSpace(c.Text)
			switch c.XMLName.Local {
			case "parent":
				famName = text
			case "order":
				fields = append(fields, splitList(text)...)
			case "plugin_decoder":
				plugin = true
			case "type":
				typ = text
			}
		}
		f := rs.families[famName]
		if f == nil {
			f = &decoderFamily{name: famName, typ: "syslog"}
			rs.families[famName] = f
		}
		rs.families[name] = f
		f.fields = append(f.fields, fields...)
		f.plugin = f.plugin || plugin
		if typ != "" && famName == name {
			f.typ = typ
		}
	}
	return nil
}

func (rs *stockRuleset) addRules(path string) error {
	elems, err := readWazuhXML(path)
	if err != nil {
		return err
	}
	for _, g := range elems {
		if g.XMLName.Local != "group" {
			continue
		}
		gname, _ := g.attr("name")
		for _, rn := range g.Children {
			if rn.XMLName.Local != "rule" {
				continue
			}
			id, err1 := strconv.Atoi(attrOf(rn, "id"))
			level, err2 := strconv.Atoi(attrOf(rn, "level"))
			if err1 != nil || err2 != nil {
				return fmt.Errorf("%s: rule %q level %q", path, attrOf(rn, "id"), attrOf(rn, "level"))
			}
			if attrOf(rn, "overwrite") == "yes" {
				r := rs.rules[id]
				if r == nil {
					return fmt.Errorf("%s: rule %d overwrites no stock rule", path, id)
				}
				r.level = level // our overwrites change only the level (checkOverwrite)
				continue
			}
			r := &stockRule{id: id, level: level}
			groupText := gname
			for _, c := range rn.Children {
				text := strings.TrimSpace(c.Text)
				switch c.XMLName.Local {
				case "group":
					groupText += c.Text
				case "if_sid", "if_matched_sid":
					for _, s := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' }) {
						sid, err := strconv.Atoi(s)
						if err != nil {
							return fmt.Errorf("%s: rule %d: %s %q", path, id, c.XMLName.Local, text)
						}
						r.parents = append(r.parents, sid)
					}
				case "if_group", "if_matched_group":
					r.parentGroup = text
				case "decoded_as":
					r.decodedAs = text
				case "category":
					r.category = text
				}
			}
			r.groups = alertGroups(groupText)
			rs.rules[id] = r
		}
	}
	return nil
}

func attrOf(n node, name string) string {
	v, _ := n.attr(name)
	return v
}

// complianceTags are the group prefixes analysisd moves from rule.groups
// to rule.pci_dss, rule.gdpr, ... (W_JSON_ParseGroups, json_extended.c).
var complianceTags = []string{"pci_dss_", "cis_", "gdpr_", "gpg13_", "hipaa_", "nist_800_53_", "tsc_"}

// alertGroups turns a rule's group text (the <group name> attribute and
// its <group> elements, concatenated as analysisd's loadmemory does) into
// the rule.groups of its alerts: newlines dropped, split at commas
// (strtok: no empty names), nothing trimmed, compliance tags moved out.
func alertGroups(text string) []string {
	var out []string
	for _, g := range strings.Split(strings.ReplaceAll(text, "\n", ""), ",") {
		if g == "" || slices.ContainsFunc(complianceTags, func(p string) bool { return strings.HasPrefix(g, p) }) {
			continue
		}
		out = append(out, g)
	}
	return out
}

// addressName matches the last segment of a field name that says it
// holds an address.
var addressName = regexp.MustCompile(`(?i)(ip|ip2|addr|address)$`)

// probes are values the extractor turns into an indicator when it reads
// the field that holds them.
var probes = []string{
	"update-check-cdn.com",
	"http://update-check-cdn.com/dl/setup.exe",
	"9f2c6b0e1d4a7c3b5e8f0a2d4c6b8e0f1a3c5e7d9b1f3a5c7e9d0b2f4a6c8e0d",
}

// fieldCarries reports whether custom-misp reads an indicator from the
// decoded field name (dotted, as the decoder's <order> names it).
func fieldCarries(name string) bool {
	parts := strings.Split(name, ".")
	if addressName.MatchString(parts[len(parts)-1]) {
		return true
	}
	for _, v := range probes {
		var data any = v
		for i := len(parts) - 1; i >= 0; i-- {
			data = map[string]any{parts[i]: data}
		}
		b, _ := json.Marshal(map[string]any{"rule": map[string]any{"id": "1", "level": 3}, "data": data})
		a, err := alert.Parse(b)
		if err != nil {
			panic(fmt.Sprintf("probe alert for %q: %v", name, err)) // json.Marshal wrote it: cannot happen
		}
		if inds, _ := alert.Extract(a, nil, 0); len(inds) > 0 {
			return true
		}
	}
	return false
}

func (f *decoderFamily) carries() bool {
	return f.plugin || slices.ContainsFunc(f.fields, fieldCarries)
}

// carries decides, for every rule, whether its alerts can carry an
// indicator (the criterion above).
func (rs *stockRuleset) carries() (map[int]bool, error) {
	inGroup := map[string][]int{}
	for _, r := range rs.rules {
		for _, g := range r.groups {
			inGroup[g] = append(inGroup[g], r.id)
		}
	}
	typeCarries := map[string]bool{}
	for _, f := range rs.families {
		typeCarries[f.typ] = typeCarries[f.typ] || f.carries()
	}
	done := map[int]bool{}
	var visit func(id int, path []int) (bool, error)
	visit = func(id int, path []int) (bool, error) {
		if v, ok := done[id]; ok {
			return v, nil
		}
		r := rs.rules[id]
		if r == nil || slices.Contains(path, id) {
			return false, nil // a missing parent or a loop gives no events
		}
		path = append(path, id)
		var v bool
		switch {
		case r.decodedAs != "":
			if f := rs.families[r.decodedAs]; f != nil {
				v = f.carries()
			} else if b, ok := builtinCarries(r.decodedAs); ok {
				v = b
			} else {
				return false, fmt.Errorf("rule %d: decoded_as %s is no decoder of the ruleset nor a known built-in one", id, r.decodedAs)
			}
		case len(r.parents) > 0 || r.parentGroup != "":
			parents := r.parents
			if r.parentGroup != "" {
				parents = inGroup[r.parentGroup]
			}
			for _, p := range parents {
				pv, err := visit(p, path)
				if err != nil {
					return false, err
				}
				v = v || pv
			}
		case r.category != "" && r.category != "syslog" && r.category != "ossec":
			v = typeCarries[r.category]
		}
		done[id] = v
		return v, nil
	}
	for id := range rs.rules {
		if _, err := visit(id, nil); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// deriveGroups returns the sorted group list of the criterion.
func deriveGroups(rs *stockRuleset) ([]string, error) {
	carries, err := rs.carries()
	if err != nil {
		return nil, err
	}
	listed := map[string]bool{}
	var alerting []*stockRule
	for _, r := range rs.rules {
		if r.level < alertLevel || !carries[r.id] {
			continue
		}
		alerting = append(alerting, r)
		for _, g := range r.groups {
			if !strings.ContainsAny(g, " \t") {
				listed[g] = true
			}
		}
	}
	for _, r := range alerting {
		if !slices.ContainsFunc(r.groups, func(g string) bool { return listed[g] }) {
			return nil, fmt.Errorf("rule %d carries indicators but all its groups %q have spaces", r.id, r.groups)
		}
	}
	groups := make([]string, 0, len(listed))
	for g := range listed {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	return groups, nil
}

// admitted counts the alert-raising rules that can carry an indicator and
// those that cannot, and how many of the latter the list lets through
// (a group they share with carrying rules, such as syslog).
func (rs *stockRuleset) admitted(list []string) (carrying, other, admitted int) {
	carries, _ := rs.carries()
	for _, r := range rs.rules {
		switch {
		case r.level < alertLevel:
		case carries[r.id]:
			carrying++
		default:
			other++
			if slices.ContainsFunc(r.groups, func(g string) bool { return slices.Contains(list, g) }) {
				admitted++
			}
		}
	}
	return carrying, other, admitted
}

// readGroupsFile returns the list in groupsFile.
func readGroupsFile(t *testing.T) []string {
	t.Helper()
	b, err := readCapped(groupsFile)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			groups = append(groups, line)
		}
	}
	if len(groups) == 0 {
		t.Fatalf("%s: no groups", groupsFile)
	}
	return groups
}

func writeGroupsFile(rs *stockRuleset, groups []string) error {
	carrying, other, admitted := rs.admitted(groups)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Alert groups whose alerts can carry an indicator: the <group> list of\n")
	fmt.Fprintf(&b, "# ossec-snippets/integration-*.xml. Derived from the stock Wazuh %s\n", stockVersion)
	fmt.Fprintf(&b, "# ruleset by internal/ruleset/stock_test.go (the criterion is there):\n")
	fmt.Fprintf(&b, "#   go test ./internal/ruleset -run TestStockGroups -stock DIR -update\n")
	fmt.Fprintf(&b, "# Of the %d stock rules that raise alerts, %d can carry an indicator; the\n", carrying+other, carrying)
	fmt.Fprintf(&b, "# list lets those through and, by groups they share, %d of the %d others.\n", admitted, other)
	fmt.Fprintf(&b, "# %d groups, one per line.\n", len(groups))
	for _, g := range groups {
		b.WriteString(g + "\n")
	}
	return os.WriteFile(groupsFile, b.Bytes(), 0o644)
}

// snippetGroup matches the <group> element of a snippet.
var snippetGroup = regexp.MustCompile(`<group>[^<]*</group>`)

// TestStockGroups derives the list from the stock ruleset given with
// -stock and compares it with groupsFile (-update rewrites it and the
// snippets). Without -stock (CI has no Wazuh source) it is skipped; the
// other tests check the committed list.
func TestStockGroups(t *testing.T) {
	if *stockDir == "" {
		t.Skip("no -stock ruleset directory given")
	}
	rs, err := readStock(*stockDir, filepath.Join(rulesDir, "0991-misp_sysmon_levels.xml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := deriveGroups(rs)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := writeGroupsFile(rs, got); err != nil {
			t.Fatal(err)
		}
		_, names, err := loadDir(snippetsDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := filepath.Join(snippetsDir, n)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			nb := snippetGroup.ReplaceAll(b, []byte("<group>"+strings.Join(got, ",")+"</group>"))
			if !bytes.Equal(b, nb) {
				if err := os.WriteFile(p, nb, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		return
	}
	if diff := cmp.Diff(readGroupsFile(t), got); diff != "" {
		t.Errorf("%s differs from the groups derived from %s (-file +derived); run with -update:\n%s", groupsFile, *stockDir, diff)
	}
}

// alertDirs hold real Wazuh 4.14.7 alerts: the sample set, its extra set,
// and ours (alerts of rules whose groups an earlier list missed).
var alertDirs = []string{"../../testdata/alerts", "../../testdata/alerts/extra", "testdata/alerts"}

// TestSnippets_CoverAlerts: integratord passes an alert on when one of
// its rule.groups is in the snippet's <group> list, so every real alert in which
// custom-misp finds an indicator must have a listed group. The list once
// missed rule 553 (syscheck_entry_deleted) and 99901 (malware), whose
// hashes check found but integratord never passed on.
func TestSnippets_CoverAlerts(t *testing.T) {
	const snippet = "integration-4.8plus.xml" // TestSnippets holds the others to the same list
	b, err := readCapped(filepath.Join(snippetsDir, snippet))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<group>([^<]*)</group>`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no <group>", snippet)
	}
	listed := strings.Split(string(m[1]), ",")
	n := 0
	for _, dir := range alertDirs {
		paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if filepath.Base(p) == "expected.json" {
				continue
			}
			t.Run(p, func(t *testing.T) {
				a, err := alert.Read(p)
				if err != nil {
					t.Fatal(err)
				}
				inds, _ := alert.Extract(a, nil, 0)
				if len(inds) == 0 {
					return
				}
				n++
				if !slices.ContainsFunc(a.RuleGroups, func(g string) bool { return slices.Contains(listed, g) }) {
					t.Errorf("rule %s, groups %q: none is listed, so integratord never passes on its %d indicators (first %s %s)",
						a.RuleID, a.RuleGroups, len(inds), inds[0].Kind, inds[0].Value)
				}
			})
		}
	}
	if n == 0 {
		t.Fatalf("no alert with indicators in %v", alertDirs)
	}
}

// TestDeriveGroups runs the criterion on a small ruleset with one case of
// each branch; the real one is in TestStockGroups.
func TestDeriveGroups(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("decoders/0001-test_decoders.xml", `<!-- a comment with -- in it -->
<decoder name="sshd"><program_name>^sshd</program_name></decoder>
<decoder name="sshd-fail"><parent>sshd</parent><regex>from (\S+) port</regex><order>srcip</order></decoder>
<decoder name="su"><program_name>^su$</program_name><order>srcuser, dstuser</order></decoder>
<decoder name="dns"><program_name>^named</program_name><order>qname</order></decoder>
<decoder name="noisy"><prematch>^noise</prematch><order>user, message</order></decoder>
<decoder name="json"><prematch>^{\s*"</prematch><plugin_decoder>JSON_Decoder</plugin_decoder></decoder>
<decoder name="snort"><type>ids</type><prematch>^\[\*\*\] </prematch><regex>&amp;x (\S+)</regex><order>srcip</order></decoder>
`)
	write("rules/0001-test_rules.xml", `<group name="syslog,sshd,">
  <rule id="100" level="0"><decoded_as>sshd</decoded_as><description>sshd</description></rule>
  <rule id="101" level="5"><if_sid>100</if_sid><match>Failed</match><group>authentication_failed,pci_dss_10.2.4,</group><description>failed</description></rule>
  <rule id="102" level="10" frequency="8" timeframe="120"><if_matched_sid>101</if_matched_sid><group>authentication_failures,</group><description>brute force</description></rule>
</group>
<group name="syslog,su,">
  <rule id="200" level="5"><decoded_as>su</decoded_as><group>authentication_failed,</group><description>su</description></rule>
</group>
<group name="dns,"><rule id="300" level="3"><decoded_as>dns</decoded_as><description>query</description></rule></group>
<group name="noise,"><rule id="400" level="3"><decoded_as>noisy</decoded_as><description>noise</description></rule></group>
<group name="syslog,errors,"><rule id="500" level="7"><match>error</match><description>any error</description></rule></group>
<group name="ossec,">
  <rule id="550" level="7"><category>ossec</category><decoded_as>syscheck_deleted</decoded_as><group>syscheck,syscheck_entry_deleted,</group><description>deleted</description></rule>
  <rule id="554" level="5"><category>ossec</category><decoded_as>syscheck_new_entry</decoded_as><group>syscheck,syscheck_entry_added,</group><description>added</description></rule>
  <rule id="510" level="7"><decoded_as>rootcheck</decoded_as><group>rootcheck,</group><description>rootcheck</description></rule>
</group>
<group name="malware,"><rule id="99901" level="14"><if_sid>554</if_sid><description>known hash</description></rule></group>
<group name="WAF, Cloudflare"><rule id="92511" level="7"><decoded_as>json</decoded_as><group>gpg13_4.3,</group><description>waf</description></rule></group>
<group name="windows,sysmon,"><rule id="61605" level="0"><decoded_as>windows_eventchannel</decoded_as><group>sysmon_event3,</group><description>eid 3</description></rule></group>
<group name="ids,"><rule id="20101" level="6"><category>ids</category><description>ids event</description></rule></group>
<group name="local,"><rule id="17101" level="9"><if_group>authentication_failed</if_group><group>login_time,</group><description>after hours</description></rule></group>
`)
	overwrites := write("local/0991.xml", `<group name="windows,sysmon,"><rule id="61605" level="3" overwrite="yes"><decoded_as>windows_eventchannel</decoded_as><group>sysmon_event3,</group><description>eid 3</description></rule></group>`)
	rs, err := readStock(dir, overwrites)
	if err != nil {
		t.Fatal(err)
	}
	got, err := deriveGroups(rs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"WAF",                                              // 92511 (JSON); " Cloudflaregpg13_4.3" has a space
		"authentication_failed", "authentication_failures", // 101, 102 (sshd: srcip), not the pci_dss tag
		"dns",                 // 300: the extractor reads qname
		"ids",                 // 20101: category ids, and snort decodes srcip
		"local", "login_time", // 17101: if_group authentication_failed holds 101
		"malware",                                                    // 99901: child of 554
		"ossec",                                                      // 550, 554
		"sshd",                                                       // 101
		"syscheck", "syscheck_entry_added", "syscheck_entry_deleted", // built-in syscheck decoders
		"syslog",                             // 101
		"sysmon", "sysmon_event3", "windows", // 61605, raised to 3 by the overwrite
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	// Not listed: su (200: no field custom-misp reads), noise (400), errors
	// (500: a text rule, no decoder), rootcheck (510), sshd's level-0 rule.

	write("rules/0002-unknown.xml", `<group name="x,"><rule id="900" level="5"><decoded_as>no-such-decoder</decoded_as><description>x</description></rule></group>`)
	rs, err = readStock(dir, overwrites)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deriveGroups(rs); err == nil || !strings.Contains(err.Error(), "rule 900: decoded_as no-such-decoder") {
		t.Errorf("an unknown decoder: error %v, want one naming rule 900", err)
	}
}

// TestFieldCarries pins which decoded field names count as sources.
func TestFieldCarries(t *testing.T) {
	for name, want := range map[string]bool{
		"srcip": true, "dstip": true, "src_ip": true, "ip_address": true, "mariadb.ip": true, "remip": true,
		"url": true, "hostname": true, "qname": true, "ChildHash": true, "cylance_threats.sha256": true, "sysmon.hashes": true,
		"srcuser": false, "dstuser": false, "action": false, "id": false, "message": false, "description": false, "protocol": false,
	} {
		if got := fieldCarries(name); got != want {
			t.Errorf("fieldCarries(%q) = %v, want %v", name, got, want)
		}
	}
}
