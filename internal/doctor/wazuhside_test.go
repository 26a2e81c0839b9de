package doctor

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/cache"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/ossecconf"
)

// testHome is a Wazuh installation in a temporary directory, laid out as
// rules/README.md installs custom-misp, with a live queue socket.
type testHome struct {
	dir   string
	queue *net.UnixConn
}

const goodBlock = `<integration>
    <name>custom-misp</name>
    <hook_url>https://misp.example.org:8443</hook_url>
    <level>3</level>
    <group>ids,suricata,sysmon_event3,sysmon_event_22</group>
    <alert_format>json</alert_format>
    <options>{"api_key_file": "KEYFILE", "to_ids": true}</options>
    <timeout>5</timeout>
    <retries>2</retries>
  </integration>`

func newTestHome(t *testing.T) *testHome {
	t.Helper()
	// Under /tmp, not t.TempDir: socket paths are limited to ~104 bytes.
	dir, err := os.MkdirTemp("", "wh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &testHome{dir: dir}
	for _, d := range []string{"etc/rules", "etc/decoders", "integrations", "logs", "queue/sockets", "var"} {
		if err := os.MkdirAll(h.path(d), 0o770); err != nil {
			t.Fatal(err)
		}
	}
	chmodTree(t, dir, 0o770) // whatever the umask
	// As make install leaves it: only root may replace the programs.
	if err := os.Chmod(h.path("integrations"), 0o750); err != nil {
		t.Fatal(err)
	}
	h.write(t, "etc/custom-misp.key", keyReadOnly, 0o640)
	h.conf(t, goodBlock)
	h.write(t, "integrations/custom-misp", "\x7fELF...", 0o750)
	h.write(t, "integrations/custom-misp-net", "\x7fELF...", 0o750)
	// As make install leaves them (InstallModes): the test's own uid
	// stands for user wazuh as their owner (Input.WazuhUID).
	h.write(t, "etc/decoders/"+DecoderFile, `<decoder name="json-misp"><prematch>^{"integration":"misp"</prematch></decoder>`, 0o660)
	h.write(t, "etc/rules/"+RulesFile, `<group name="misp,"><rule id="117600" level="0"></rule></group>`, 0o660)
	h.write(t, "etc/rules/"+SysmonFile, `<group name="sysmon,"><rule id="61605" level="3" overwrite="yes"></rule></group>`, 0o660)
	h.write(t, "logs/integrations.log", "", 0o660)
	h.queue, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: h.path("queue/sockets/queue"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.queue.Close() })
	if err := os.Chmod(h.path("queue/sockets/queue"), 0o660); err != nil {
		t.Fatal(err)
	}
	return h
}

func chmodTree(t *testing.T, root string, mode os.FileMode) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mkStore creates the cache store as integratord would (group wazuh may
// write it: 0660 under Wazuh's umask), after op.
func (h *testHome) mkStore(t *testing.T, in *Input, op func(c *cache.Cache)) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(in.Cache.Path), 0o770); err != nil {
		t.Fatal(err)
	}
	chmodTree(t, h.path("var"), 0o770)
	c, warn := cache.Open(in.Cache)
	if warn != nil {
		t.Fatal(warn)
	}
	op(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(in.Cache.Path, 0o660); err != nil {
		t.Fatal(err)
	}
}

func (h *testHome) path(rel string) string { return filepath.Join(h.dir, rel) }

func (h *testHome) write(t *testing.T, rel, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(h.path(rel), []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.path(rel), mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// conf writes ossec.conf with a stock-looking first section and blocks.
func (h *testHome) conf(t *testing.T, blocks ...string) {
	t.Helper()
	body := strings.ReplaceAll(strings.Join(blocks, "\n  "), "KEYFILE", h.path("etc/custom-misp.key"))
	h.write(t, "etc/ossec.conf", "<!-- Wazuh - Manager -->\n<ossec_config>\n  <global><jsonout_output>yes</jsonout_output></global>\n</ossec_config>\n\n<ossec_config>\n  "+body+"\n</ossec_config>\n", 0o640)
}

// wazuhID is the wazuh user of the tests: not the files' owner, but in
// their group, as on a manager where root owns the files, group wazuh.
func wazuhID() Identity {
	g := os.Getgid()
	return Identity{Known: true, Name: "wazuh", UID: os.Getuid() + 4242, GID: g, Groups: []int{g}}
}

func (h *testHome) input(t *testing.T) Input {
	t.Helper()
	conf, confErr := ossecconf.Read(h.path("etc/ossec.conf"))
	var block *config.Integration
	if confErr == nil {
		if b := conf.Find(IntegrationName); len(b) > 0 {
			block = &b[0]
		}
	}
	cfg, _ := config.LoadOperator(config.Sources{Home: h.dir, Block: block})
	me := os.Getuid()
	return Input{Config: cfg, Home: h.dir, Conf: conf, ConfErr: confErr, Wazuh: true, User: wazuhID(), Root: me, WazuhUID: &me,
		Cache: cache.Options{Path: cfg.CachePath, Scope: "doctor-test"}, Now: func() time.Time { return testNow }}
}

var orderWazuh = []string{"wazuh user", "ossec.conf", "integration block", "alert_format", "options", "api key file", "group filter",
	"integrations dir", "binary", "helper binary", "decoder", "rules", "sysmon levels", "queue socket", "integrations.log", "cache", "mirror", "cdb lists"}

// insertAfter returns order with check added after the check named after.
func insertAfter(order []string, after, check string) []string {
	i := slices.Index(order, after)
	return slices.Insert(slices.Clone(order), i+1, check)
}

// without returns order without the named checks.
func without(order []string, drop ...string) []string {
	var out []string
	for _, c := range order {
		keep := true
		for _, d := range drop {
			keep = keep && c != d
		}
		if keep {
			out = append(out, c)
		}
	}
	return out
}

// homeCase is one state of a test Wazuh home: setup changes it, and the
// checks then give results in order, with wants (a hint's %HOME% is the
// home's path).
type homeCase struct {
	name  string
	setup func(t *testing.T, h *testHome, in *Input)
	order []string
	wants map[string]want
}

// runHomeCases runs each case on a fresh healthy home and compares what
// check gives.
func runHomeCases(t *testing.T, cases []homeCase, check func(Input) []Result) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHome(t)
			in := h.input(t)
			if tt.setup != nil {
				tt.setup(t, h, &in)
			}
			wants := map[string]want{}
			for k, w := range tt.wants {
				w.hint = strings.ReplaceAll(w.hint, "%HOME%", h.dir)
				wants[k] = w
			}
			checkResults(t, check(in), tt.order, wants)
		})
	}
}

func TestWazuh(t *testing.T) {
	tests := []homeCase{
		{name: "healthy installation", order: orderWazuh, wants: map[string]want{
			"integration block": {OK, "custom-misp, hook_url https://misp.example.org:8443, level >= 3", ""},
			"group filter":      {OK, "4 groups (2 Sysmon)", ""},
			"sysmon levels":     {OK, SysmonFile + " installed", ""},
			"queue socket":      {OK, "analysisd is listening", ""},
			"cache":             {OK, "does not exist yet; integratord creates it on its first lookup", ""},
			"cdb lists":         {OK, "not in use", ""},
		}},
		{name: "binary writable by group wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("integrations/custom-misp"), 0o770)
		}, order: orderWazuh, wants: map[string]want{
			"binary": {Fail, `user wazuh can write it, so integratord refuses to run it ("At wpopenv(): file ... has write permissions")`, "chown root:wazuh " + "%HOME%/integrations/custom-misp; chmod 0750"},
		}},
		{name: "binary owned by wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			in.User.UID = os.Getuid() // the files' owner is now the wazuh user
		}, order: orderWazuh, wants: map[string]want{
			"integrations dir": {Fail, "user wazuh can write it", "chmod 0750"},
			"binary":           {Fail, "user wazuh can write it", "chmod 0750"},
			"helper binary":    {Fail, "user wazuh can write it, so it could swap what runs with the MISP key", "chmod 0750"},
			"api key file":     {Warn, "user wazuh can replace the MISP key", "chmod 0640"},
		}},
		{name: "binary not executable by wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("integrations/custom-misp"), 0o700)
		}, order: orderWazuh, wants: map[string]want{
			"binary": {Fail, `user wazuh cannot execute it ("Couldn't execute command")`, "chmod 0750"},
		}},
		{name: "binary not owned by root", setup: func(t *testing.T, h *testHome, in *Input) {
			in.Root = os.Getuid() + 1
		}, order: orderWazuh, wants: map[string]want{
			"binary":        {Warn, "not owned by root", "chown root:wazuh"},
			"helper binary": {Warn, "not owned by root", "chown root:wazuh"},
		}},
		{name: "helper missing", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Remove(h.path("integrations/custom-misp-net"))
		}, order: orderWazuh, wants: map[string]want{
			"helper binary": {Fail, "integrations/custom-misp-net does not exist: every cache miss becomes a config error event instead of a lookup", "install -o root -g wazuh -m 0750 custom-misp-net"},
		}},
		{name: "binary missing", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Remove(h.path("integrations/custom-misp"))
		}, order: orderWazuh, wants: map[string]want{
			"binary": {Fail, "integrations/custom-misp does not exist: integratord logs \"File not found inside 'integrations'\"", "install -o root -g wazuh -m 0750 custom-misp"},
		}},
		{name: "no alert_format, bad options, spaced groups", setup: func(t *testing.T, h *testHome, in *Input) {
			h.conf(t, `<integration><name>custom-misp</name><hook_url>https://misp.example.org</hook_url>
				<group>ids, suricata</group><options>{"api_key_file": "KEYFILE", "cache_ttl": 6}</options></integration>`)
			*in = h.input(t)
		}, order: without(orderWazuh, "api key file", "sysmon levels"), wants: map[string]want{
			"alert_format": {Fail, "missing: integratord writes the alert as text", "<alert_format>json</alert_format>"},
			"options":      {Fail, "cache_ttl: want 1m0s to 720h0m0s, got 6s", `README "Options"`},
			"group filter": {Warn, `2 groups; " suricata" never match`, "remove the spaces"},
		}},
		{name: "no custom-misp block", setup: func(t *testing.T, h *testHome, in *Input) {
			h.conf(t, `<integration><name>virustotal</name><api_key>VT</api_key></integration>`)
			*in = h.input(t)
		}, order: []string{"wazuh user", "ossec.conf", "integration block", "integrations dir", "binary", "helper binary", "decoder", "rules", "queue socket", "integrations.log", "cache", "mirror", "cdb lists"}, wants: map[string]want{
			"integration block": {Fail, "no <integration> named custom-misp", "ossec-snippets/integration-*.xml"},
		}},
		{name: "two blocks, key in ossec.conf", setup: func(t *testing.T, h *testHome, in *Input) {
			h.conf(t, goodBlock, `<integration><name>custom-misp</name><hook_url>https://misp</hook_url><api_key>`+keyUser+`</api_key></integration>`)
			*in = h.input(t)
		}, order: orderWazuh, wants: map[string]want{
			"integration block": {Warn, "and 1 more custom-misp blocks", "keep one <integration>"},
		}},
		{name: "key in ossec.conf", setup: func(t *testing.T, h *testHome, in *Input) {
			h.conf(t, `<integration><name>custom-misp</name><hook_url>https://misp.example.org</hook_url><api_key>`+keyUser+`</api_key><group>ids</group><alert_format>json</alert_format></integration>`)
			*in = h.input(t)
		}, order: without(orderWazuh, "api key file", "sysmon levels"), wants: map[string]want{
			"integration block": {Warn, "<api_key> holds the key", `"api_key_file"`},
			"options":           {OK, "none: defaults", ""},
		}},
		{name: "key file unreadable by wazuh, then readable by all", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("etc/custom-misp.key"), 0o600)
		}, order: orderWazuh, wants: map[string]want{
			"api key file": {Fail, "user wazuh cannot read it", "chmod 0640"},
		}},
		{name: "key file readable by everyone", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("etc/custom-misp.key"), 0o644)
		}, order: orderWazuh, wants: map[string]want{
			"api key file": {Warn, "every local user can read the MISP key", "chmod 0640"},
		}},
		{name: "ruleset missing or foreign", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Remove(h.path("etc/decoders/" + DecoderFile))
			h.write(t, "etc/rules/"+RulesFile, "<group name=\"local,\"></group>", 0o660)
			os.Remove(h.path("etc/rules/" + SysmonFile))
		}, order: orderWazuh, wants: map[string]want{
			"decoder":       {Fail, DecoderFile + " does not exist: custom-misp's events raise no alert", "it must sort before the stock 0006-json_decoders.xml"},
			"rules":         {Warn, `does not hold id="117600"`, "install -o wazuh -g wazuh -m 0660 rules/" + RulesFile + " %HOME%/etc/rules/, then wazuh-analysisd -t"},
			"sysmon levels": {Warn, "names 2 Sysmon groups, but the Sysmon base rules are still level 0", "install -o wazuh -g wazuh -m 0660 rules/" + SysmonFile + " %HOME%/etc/rules/ (it can raise"},
		}},
		{name: "ruleset files as root:wazuh 0640", setup: func(t *testing.T, h *testHome, in *Input) {
			other := os.Getuid() + 4242 // the files' owner is not the wazuh user
			in.WazuhUID = &other
			for _, f := range []string{"etc/decoders/" + DecoderFile, "etc/rules/" + RulesFile, "etc/rules/" + SysmonFile} {
				os.Chmod(h.path(f), 0o640)
			}
		}, order: orderWazuh, wants: map[string]want{
			"decoder":       {Warn, DecoderFile + " " + ownerName(t) + " 0640: make install and a stock manager's own ruleset files use wazuh:wazuh 0660", "chown wazuh:wazuh %HOME%/etc/decoders/" + DecoderFile + "; chmod 0660 %HOME%/etc/decoders/" + DecoderFile},
			"rules":         {Warn, RulesFile + " " + ownerName(t) + " 0640: make install and a stock manager's own ruleset files use wazuh:wazuh 0660", "chown wazuh:wazuh %HOME%/etc/rules/" + RulesFile + "; chmod 0660 %HOME%/etc/rules/" + RulesFile},
			"sysmon levels": {Warn, SysmonFile + " " + ownerName(t) + " 0640: make install and a stock manager's own ruleset files use wazuh:wazuh 0660", "chown wazuh:wazuh %HOME%/etc/rules/" + SysmonFile + "; chmod 0660 %HOME%/etc/rules/" + SysmonFile},
		}},
		{name: "ruleset file owned by wazuh, mode 0640", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("etc/rules/"+RulesFile), 0o640) // the owner is right, the mode is not
		}, order: orderWazuh, wants: map[string]want{
			"rules": {Warn, RulesFile + " " + ownerName(t) + " 0640: make install and a stock manager's own ruleset files use wazuh:wazuh 0660", "chmod 0660 %HOME%/etc/rules/" + RulesFile},
		}},
		{name: "decoder writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("etc/decoders/"+DecoderFile), 0o666)
		}, order: orderWazuh, wants: map[string]want{
			"decoder": {Fail, DecoderFile + " " + ownerName(t) + " 0666: anyone can write it, so any local user can change or silence the alerts it raises", "chown wazuh:wazuh %HOME%/etc/decoders/" + DecoderFile + "; chmod 0660"},
		}},
		{name: "sysmon raised in local_rules.xml, level filter too high", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Remove(h.path("etc/rules/" + SysmonFile))
			h.write(t, "etc/rules/local_rules.xml", `<group name="local,"><rule overwrite="yes" id="61605" level="3"></rule></group>`, 0o640)
			h.conf(t, strings.Replace(goodBlock, "<level>3</level>", "<level>7</level>", 1))
			*in = h.input(t)
		}, order: orderWazuh, wants: map[string]want{
			"integration block": {OK, "level >= 7", ""},
			"sysmon levels":     {Warn, "Sysmon base rules overwritten in local_rules.xml, but <level>7</level> filters out the level-3 Sysmon alerts", "lower <level>"},
		}},
		{name: "analysisd stopped", setup: func(t *testing.T, h *testHome, in *Input) {
			h.queue.Close() // the socket file stays, as after a crash
		}, order: orderWazuh, wants: map[string]want{
			"queue socket": {Fail, "nobody reads it, analysisd is not running", "systemctl start wazuh-manager"},
		}},
		{name: "socket not writable by wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("queue/sockets/queue"), 0o600)
		}, order: orderWazuh, wants: map[string]want{
			"queue socket": {Fail, "user wazuh cannot write to it", "systemctl restart wazuh-manager"},
		}},
		{name: "no manager here", setup: func(t *testing.T, h *testHome, in *Input) {
			h.queue.Close()
			os.Remove(h.path("queue/sockets/queue"))
		}, order: orderWazuh, wants: map[string]want{
			"queue socket": {Fail, "queue/sockets/queue does not exist", "is the manager installed here (--wazuh-home)"},
		}},
		{name: "log and cache not writable by wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("logs/integrations.log"), 0o640)
			h.mkStore(t, in, func(c *cache.Cache) { c.Put(iocFor("evil.example.net"), nil) })
			os.Chmod(in.Cache.Path, 0o640)
		}, order: orderWazuh, wants: map[string]want{
			"integrations.log": {Warn, "user wazuh cannot write it", "chown wazuh:wazuh"},
			"cache":            {Warn, "user wazuh cannot write it, so integratord runs without the disk cache", "chmod 0660"},
		}},
		{name: "cache paused after a rate limit", setup: func(t *testing.T, h *testHome, in *Input) {
			h.mkStore(t, in, func(c *cache.Cache) { c.Failed(misp.ClassRateLimited, testNow.Add(10*time.Minute)) })
		}, order: orderWazuh, wants: map[string]want{
			"cache": {Warn, "integratord has paused MISP lookups until", "the pause ends by itself"},
		}},
		{name: "cache healthy", setup: func(t *testing.T, h *testHome, in *Input) {
			h.mkStore(t, in, func(c *cache.Cache) { c.Put(iocFor("evil.example.net"), nil) })
		}, order: orderWazuh, wants: map[string]want{
			"cache": {OK, "healthy, MISP lookups not paused", ""},
		}},
		{name: "cache damaged", setup: func(t *testing.T, h *testHome, in *Input) {
			os.MkdirAll(h.path("var/custom-misp"), 0o770)
			h.write(t, "var/custom-misp/cache.db", strings.Repeat("not a bbolt file ", 512), 0o660)
		}, order: orderWazuh, wants: map[string]want{
			"cache": {Warn, "unusable", "integratord moves a damaged store aside"},
		}},
		{name: "cache directory not creatable", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("var"), 0o750)
		}, order: orderWazuh, wants: map[string]want{
			"cache": {Warn, "user wazuh cannot create it", "install -d -o root -g wazuh -m 0770"},
		}},
		// Issue #10 item 11: state that lets another user change what runs,
		// what is read or what is logged is never OK.
		{name: "integrations dir writable by wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("integrations"), 0o770)
		}, order: orderWazuh, wants: map[string]want{
			"integrations dir": {Fail, "user wazuh can write it, so can replace the programs that root and integratord run", "chown root:wazuh %HOME%/integrations; chmod 0750 %HOME%/integrations"},
		}},
		{name: "integrations dir writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("integrations"), 0o757)
		}, order: orderWazuh, wants: map[string]want{
			"integrations dir": {Fail, "anyone can write it", "chmod 0750 %HOME%/integrations"},
		}},
		{name: "binary writable by anyone, wazuh user unknown", setup: func(t *testing.T, h *testHome, in *Input) {
			in.User = Identity{}
			os.Chmod(h.path("integrations/custom-misp-net"), 0o757)
		}, order: orderWazuh, wants: map[string]want{
			"wazuh user":    {Warn, "there is no user wazuh here", ""},
			"helper binary": {Fail, "anyone can write it", "chmod 0750 %HOME%/integrations/custom-misp-net"},
		}},
		{name: "key file writable by wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("etc/custom-misp.key"), 0o660)
		}, order: orderWazuh, wants: map[string]want{
			"api key file": {Warn, "user wazuh can replace the MISP key", "chown root:wazuh %HOME%/etc/custom-misp.key; chmod 0640"},
		}},
		{name: "key file writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("etc/custom-misp.key"), 0o642)
		}, order: orderWazuh, wants: map[string]want{
			"api key file": {Fail, "anyone can replace the MISP key", "chmod 0640"},
		}},
		{name: "options file as installed", setup: func(t *testing.T, h *testHome, in *Input) {
			h.write(t, "etc/custom-misp.options", "{}", 0o640)
			in.OptionsFile = h.path("etc/custom-misp.options")
		}, order: insertAfter(orderWazuh, "group filter", "options file"), wants: map[string]want{
			"options file": {OK, "etc/custom-misp.options", ""},
		}},
		{name: "options file writable by wazuh", setup: func(t *testing.T, h *testHome, in *Input) {
			h.write(t, "etc/custom-misp.options", "{}", 0o660)
			in.OptionsFile = h.path("etc/custom-misp.options")
		}, order: insertAfter(orderWazuh, "group filter", "options file"), wants: map[string]want{
			"options file": {Warn, "user wazuh can write it, so can choose the CA, key file and paths that root's commands use", "chown root:wazuh %HOME%/etc/custom-misp.options; chmod 0640 %HOME%/etc/custom-misp.options"},
		}},
		{name: "options file writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			h.write(t, "etc/custom-misp.options", "{}", 0o666)
			in.OptionsFile = h.path("etc/custom-misp.options")
		}, order: insertAfter(orderWazuh, "group filter", "options file"), wants: map[string]want{
			"options file": {Fail, "anyone can write it", "chmod 0640"},
		}},
		{name: "log writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Chmod(h.path("logs/integrations.log"), 0o666)
		}, order: orderWazuh, wants: map[string]want{
			"integrations.log": {Warn, "anyone can write it, so its lines can be forged", "chmod 0640 %HOME%/logs/integrations.log"},
		}},
		{name: "log is a planted link", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Remove(h.path("logs/integrations.log"))
			os.Symlink("/etc/passwd", h.path("logs/integrations.log"))
		}, order: orderWazuh, wants: map[string]want{
			"integrations.log": {Fail, "is a symbolic link: custom-misp refuses to write through it", "rm %HOME%/logs/integrations.log"},
		}},
		{name: "cache writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			h.mkStore(t, in, func(c *cache.Cache) { c.Put(iocFor("evil.example.net"), nil) })
			os.Chmod(in.Cache.Path, 0o666)
		}, order: orderWazuh, wants: map[string]want{
			"cache": {Fail, "anyone can write it, so any local user can plant answers that hide indicators", "chmod 0660"},
		}},
		{name: "cache directory writable by anyone", setup: func(t *testing.T, h *testHome, in *Input) {
			os.MkdirAll(h.path("var/custom-misp"), 0o770)
			os.Chmod(h.path("var/custom-misp"), 0o777)
		}, order: orderWazuh, wants: map[string]want{
			"cache": {Fail, "anyone can write it, so any local user can replace the store", "chmod 0770 %HOME%/var/custom-misp"},
		}},
		{name: "cache is a planted link", setup: func(t *testing.T, h *testHome, in *Input) {
			os.MkdirAll(h.path("var/custom-misp"), 0o770)
			os.Symlink("/etc/passwd", h.path("var/custom-misp/cache.db"))
		}, order: orderWazuh, wants: map[string]want{
			"cache": {Fail, "is a symbolic link: integratord refuses to follow it", "rm %HOME%/var/custom-misp/cache.db"},
		}},
		{name: "cache off", setup: func(t *testing.T, h *testHome, in *Input) {
			in.Config.CacheOn = false
		}, order: orderWazuh, wants: map[string]want{
			"cache": {OK, `off ("cache": "off")`, ""},
		}},
		{name: "not a manager", setup: func(t *testing.T, h *testHome, in *Input) {
			in.User = Identity{}
		}, order: orderWazuh, wants: map[string]want{
			"wazuh user": {Warn, "there is no user wazuh here", "run doctor on the Wazuh manager"},
		}},
		{name: "ossec.conf missing", setup: func(t *testing.T, h *testHome, in *Input) {
			os.Remove(h.path("etc/ossec.conf"))
			*in = h.input(t)
		}, order: []string{"wazuh user", "ossec.conf"}, wants: map[string]want{
			"ossec.conf": {Fail, "etc/ossec.conf does not exist", "--wazuh-home"},
		}},
	}
	runHomeCases(t, tests, Wazuh)
}

func iocFor(domain string) ioc.Indicator { return ioc.Indicator{Kind: ioc.Domain, Value: domain} }

func TestWazuh_StoreCheckLeavesTheStoreAlone(t *testing.T) {
	h := newTestHome(t)
	in := h.input(t)
	os.MkdirAll(h.path("var/custom-misp"), 0o770)
	damaged := strings.Repeat("not a bbolt file ", 512)
	h.write(t, "var/custom-misp/cache.db", damaged, 0o660)
	if r := storeCheck(in); r.Status != Warn {
		t.Fatalf("status %s, want WARN", r.Status)
	}
	b, err := os.ReadFile(in.Config.CachePath)
	if err != nil || string(b) != damaged {
		t.Errorf("the store was changed (err %v): doctor must inspect a copy", err)
	}
	if m, _ := filepath.Glob(in.Config.CachePath + ".corrupt-*"); len(m) != 0 {
		t.Errorf("the store was moved aside: %v", m)
	}
}

func TestIdentity_Can(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	me, g := os.Getuid(), os.Getgid()
	tests := []struct {
		mode os.FileMode
		id   Identity
		want uint32 // of read, write, exec
		ok   bool
	}{
		{0o750, Identity{UID: me + 1, Groups: []int{g}}, read | exec, true},
		{0o750, Identity{UID: me + 1, Groups: []int{g}}, write, false},
		{0o705, Identity{UID: me + 1, Groups: []int{g}}, read, false}, // the group triplet applies, not others'
		{0o075, Identity{UID: me, Groups: []int{g}}, read, false},     // the owner triplet applies
		{0o754, Identity{UID: me + 1, Groups: []int{g + 1}}, read, true},
		{0o754, Identity{UID: me + 1, Groups: []int{g + 1}}, write, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			if err := os.Chmod(f, tt.mode); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.id.can(fi, tt.want); got != tt.ok {
				t.Errorf("can(%04o, %o) = %t, want %t", tt.mode, tt.want, got, tt.ok)
			}
		})
	}
}

// ownerName is "user:group" of the files the test creates, named as
// ownerText names them.
func ownerName(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(ownerText(fi), " 0600")
}
