package doctor

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/cdb"
)

// rulesetLists is ossec-snippets/ruleset-lists.xml's <ruleset>.
const rulesetLists = `<ruleset>
    <list>etc/lists/misp/ip</list>
    <list>etc/lists/misp/domain</list>
    <list>etc/lists/misp/url</list>
    <list>etc/lists/misp/md5</list>
    <list>etc/lists/misp/sha1</list>
    <list>etc/lists/misp/sha256</list>
    <list>etc/lists/misp/sha512</list>
    <list>etc/lists/misp/imphash</list>
  </ruleset>`

// exported is when the test's lists were written; the compiled .cdb files
// are a second later, and the checks run two hours after that.
var exported = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// withLists installs what docs/cdb.md sets up: the rules file, the lists
// (three entries in ip, one in each other list) and their compiled .cdb,
// declared in ossec.conf, with export_cdb on.
func withLists(t *testing.T, h *testHome, in *Input, extra ...string) {
	t.Helper()
	h.write(t, "etc/rules/"+CDBRulesFile, `<group name="misp_list,"><rule id="117670" level="10"></rule></group>`, 0o660)
	if err := os.MkdirAll(h.path(CDBListsDir), 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.path(CDBListsDir), 0o770); err != nil {
		t.Fatal(err)
	}
	for _, l := range cdb.Lists {
		text := "k" + string(l) + ":e1 tl1\n"
		if l == cdb.IP {
			text = "203.0.113.5:e7 tl1\n10.1.:e8 tl2\n\"2001:db8::1\":e9 tl3 +1\n"
		}
		h.write(t, l.Path(), text, 0o640)
		h.write(t, l.Path()+".cdb", "compiled", 0o660)
		setTime(t, h.path(l.Path()), exported)
		setTime(t, h.path(l.Path()+".cdb"), exported.Add(time.Second))
	}
	h.conf(t, append([]string{goodBlock, rulesetLists}, extra...)...)
	*in = h.input(t)
	in.Config.ExportCDB = true
	in.Now = func() time.Time { return exported.Add(2 * time.Hour) }
}

func setTime(t *testing.T, path string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestListsCheck(t *testing.T) {
	healthy := []string{"cdb rules", "cdb lists", "cdb ruleset", "cdb compiled"}
	tests := []homeCase{
		{name: "not in use", order: []string{"cdb lists"}, wants: map[string]want{
			"cdb lists": {OK, "not in use (no export_cdb option, no etc/lists/misp, no 0992-misp_cdb_rules.xml)", ""},
		}},
		{name: "export_cdb on, nothing exported yet", setup: func(t *testing.T, h *testHome, in *Input) {
			in.Config.ExportCDB = true
		}, order: []string{"cdb rules", "cdb lists", "cdb ruleset"}, wants: map[string]want{
			"cdb rules":   {Warn, CDBRulesFile + " is not installed: nothing looks the lists up", "install -o wazuh -g wazuh -m 0660 rules/0992-misp_cdb_rules.xml %HOME%/etc/rules/"},
			"cdb lists":   {Warn, "etc/lists/misp does not exist: no export has run yet", "custom-misp export cdb"},
			"cdb ruleset": {Warn, "does not declare etc/lists/misp/ip, etc/lists/misp/domain", "ruleset-lists.xml"},
		}},
		{name: "healthy", setup: func(t *testing.T, h *testHome, in *Input) { withLists(t, h, in) }, order: healthy, wants: map[string]want{
			"cdb rules":    {OK, CDBRulesFile, ""},
			"cdb lists":    {OK, "ip 3, domain 1, url 1, md5 1, sha1 1, sha256 1, sha512 1, imphash 1 entries; last changed 2026-05-04 10:00 UTC (2 h ago)", ""},
			"cdb ruleset":  {OK, "declares all 8 lists", ""},
			"cdb compiled": {OK, "compiled the latest text of all 8 lists", ""},
		}},
		{name: "lists without the rules file", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.Remove(h.path("etc/rules/" + CDBRulesFile))
		}, order: healthy, wants: map[string]want{
			"cdb rules": {Warn, "is not installed: nothing looks the lists up, so no misp_list alert is raised", "install -o wazuh -g wazuh -m 0660"},
		}},
		{name: "rules file writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.Chmod(h.path("etc/rules/"+CDBRulesFile), 0o666)
		}, order: healthy, wants: map[string]want{
			"cdb rules": {Fail, "anyone can write it", "chown wazuh:wazuh %HOME%/etc/rules/0992-misp_cdb_rules.xml; chmod 0660"},
		}},
		{name: "not our rules file", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			h.write(t, "etc/rules/"+CDBRulesFile, `<group name="local,"></group>`, 0o660)
		}, order: healthy, wants: map[string]want{
			"cdb rules": {Warn, `does not hold id="117670"`, "install -o wazuh -g wazuh -m 0660"},
		}},
		{name: "a list missing", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.Remove(h.path(cdb.SHA512.Path()))
		}, order: healthy, wants: map[string]want{
			"cdb lists":    {Warn, "missing: sha512: analysisd leaves out the rules on them (warning 7616)", "export cdb"},
			"cdb compiled": {OK, "all 7 lists", ""},
		}},
		{name: "export_cdb off, no wodle", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			in.Config.ExportCDB = false
		}, order: healthy, wants: map[string]want{
			"cdb lists": {Warn, "export_cdb is off and no command wodle runs export cdb, so the lists do not follow the mirror", `"export_cdb": true`},
		}},
		{name: "export_cdb off, a wodle exports", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in, `<wodle name="command"><disabled>no</disabled><tag>misp-cdb</tag>
				<command>/var/ossec/integrations/custom-misp export cdb --json</command><interval>1h</interval></wodle>`)
			in.Config.ExportCDB = false
		}, order: healthy, wants: map[string]want{
			"cdb lists": {OK, "ip 3", ""},
		}},
		{name: "lists not declared, rules installed", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			h.conf(t, goodBlock, `<ruleset><list>etc/lists/misp/ip</list><list>etc/lists/misp/domain.cdb</list></ruleset>`)
			export := in.Config.ExportCDB
			*in = h.input(t)
			in.Config.ExportCDB = export
		}, order: healthy, wants: map[string]want{
			"cdb ruleset":  {Fail, "does not declare etc/lists/misp/url, etc/lists/misp/md5, etc/lists/misp/sha1, etc/lists/misp/sha256, etc/lists/misp/sha512, etc/lists/misp/imphash: analysisd ignores", "ruleset-lists.xml"},
			"cdb compiled": {OK, "all 8 lists", ""},
		}},
		{name: "a list newer than its .cdb", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			setTime(t, h.path(cdb.URL.Path()), exported.Add(time.Minute))
		}, order: healthy, wants: map[string]want{
			"cdb compiled": {Warn, "has not compiled the latest url (no .cdb, or one older than the list)", "export cdb asks analysisd (Wazuh 4.13+) to reload"},
		}},
		{name: "a list and its .cdb in the same second", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in) // analysisd compares whole seconds: not newer, so compiled
			setTime(t, h.path(cdb.URL.Path()), exported.Add(1500*time.Millisecond))
		}, order: healthy, wants: map[string]want{
			"cdb compiled": {OK, "all 8 lists", ""},
		}},
		{name: "no .cdb, lists not declared", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.Remove(h.path(cdb.IP.Path() + ".cdb"))
			os.Remove(h.path(cdb.MD5.Path() + ".cdb"))
			h.conf(t, goodBlock)
			*in = h.input(t)
			in.Config.ExportCDB = true
		}, order: healthy, wants: map[string]want{
			"cdb ruleset":  {Fail, "does not declare etc/lists/misp/ip", "ruleset-lists.xml"},
			"cdb compiled": {Warn, "has not compiled the latest ip, md5", "analysisd compiles only declared lists"},
		}},
		{name: "lists directory is a link", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.RemoveAll(h.path(CDBListsDir))
			os.Symlink(t.TempDir(), h.path(CDBListsDir))
		}, order: []string{"cdb rules", "cdb lists", "cdb ruleset"}, wants: map[string]want{
			"cdb lists": {Fail, "is a symbolic link: export cdb refuses to write through it", "rm %HOME%/etc/lists/misp"},
		}},
		{name: "lists directory writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.Chmod(h.path(CDBListsDir), 0o777)
		}, order: []string{"cdb rules", "cdb lists", "cdb ruleset"}, wants: map[string]want{
			"cdb lists": {Fail, "anyone can write it, so any local user can plant or hide indicators", "chown root:wazuh %HOME%/etc/lists/misp; chmod 0770"},
		}},
		{name: "lists directory closed to wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.Chmod(h.path(CDBListsDir), 0o750)
		}, order: []string{"cdb rules", "cdb lists", "cdb ruleset"}, wants: map[string]want{
			"cdb lists": {Fail, "user wazuh cannot write in it, so analysisd cannot compile the lists", "chmod 0770"},
		}},
		{name: "a list wazuh cannot read", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in)
			os.Chmod(h.path(cdb.Domain.Path()), 0o600)
		}, order: healthy, wants: map[string]want{
			"cdb lists":    {Fail, "etc/lists/misp/domain", "root:wazuh 0640"},
			"cdb compiled": {OK, "all 1 lists", ""}, // the lists found before it
		}},
		{name: "cluster disabled", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in, `<cluster><node_name>node01</node_name><node_type>master</node_type><disabled>yes</disabled></cluster>`)
		}, order: append(healthy[:4:4], "cluster node"), wants: map[string]want{
			"cluster node": {OK, "cluster disabled in ossec.conf: a single manager", ""},
		}},
		{name: "cluster master", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in, `<cluster><node_name>m1</node_name><node_type>master</node_type><disabled>no</disabled></cluster>`)
		}, order: append(healthy[:4:4], "cluster node"), wants: map[string]want{
			"cluster node": {OK, "master node m1: export here; Wazuh syncs etc/lists to the workers", ""},
		}},
		{name: "cluster without disabled or node_type is an enabled master", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in, `<cluster><name>wazuh</name></cluster>`)
		}, order: append(healthy[:4:4], "cluster node"), wants: map[string]want{
			"cluster node": {OK, "master node node01", ""},
		}},
		{name: "cluster worker exporting", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in, `<cluster><node_name>w2</node_name><node_type>worker</node_type><disabled>no</disabled></cluster>`)
		}, order: append(healthy[:4:4], "cluster node"), wants: map[string]want{
			"cluster node": {Warn, "worker node w2 with export_cdb on: the master's etc/lists replaces what this node exports", `remove "export_cdb" from this node's options`},
		}},
		{name: "cluster worker", setup: func(t *testing.T, h *testHome, in *Input) {
			withLists(t, h, in, `<cluster><node_name>w2</node_name><node_type>worker</node_type><disabled>no</disabled></cluster>`)
			in.Config.ExportCDB = false
		}, order: append(healthy[:4:4], "cluster node"), wants: map[string]want{
			"cdb lists":    {Warn, "export_cdb is off", "export_cdb"}, // no wodle either: said on a worker too
			"cluster node": {OK, "worker node w2: the lists come from the master", ""},
		}},
		{name: "only declared", setup: func(t *testing.T, h *testHome, in *Input) {
			h.conf(t, goodBlock, rulesetLists)
			*in = h.input(t)
		}, order: []string{"cdb rules", "cdb lists", "cdb ruleset"}, wants: map[string]want{
			"cdb rules": {Warn, "is not installed", "install"},
			"cdb lists": {Warn, "does not exist: no export has run yet", "export cdb"},
		}},
	}
	runHomeCases(t, tests, listsCheck)
}

func TestCountLines(t *testing.T) {
	for _, tt := range []struct {
		text string
		want int
	}{
		{"", 0},
		{"a:1\n", 1},
		{"a:1\nb:2\nc:3", 2}, // export cdb ends every line; a last line without one is not counted
		{strings.Repeat("x", 100<<10) + ":1\nb:2\n", 2},
	} {
		p := t.TempDir() + "/l"
		if err := os.WriteFile(p, []byte(tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if n, err := countLines(p); err != nil || n != tt.want {
			t.Errorf("countLines(%d bytes) = %d, %v; want %d", len(tt.text), n, err, tt.want)
		}
	}
}
