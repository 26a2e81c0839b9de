package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoad_Instances(t *testing.T) {
	key := writeFile(t, "circl.key", "CIRCLKEY01234\n")
	ca := writeFile(t, "circl.pem", "not read here")
	opts := writeFile(t, "o.options", `{"name":"local","to_ids":false,"tags":["tlp:green"],"sightings":{"enabled":true,"window":"2h"},
		"instances":[{"name":"circl","url":"https://misp.circl.lu","api_key_file":"`+key+`","ca_file":"`+ca+`","to_ids":true,"lookup":"live","sightings":{"enabled":false}}]}`)
	cfg, err := Load(Args{AlertFile: "/tmp/a", APIKey: "HOOKKEY", HookURL: "https://misp.local", OptionsFile: opts, Retries: -1}, "/var/ossec")
	if err != nil {
		t.Fatal(err)
	}
	all := cfg.All()
	if got := cfg.Names(); !cmp.Equal(got, []string{"local", "circl"}) {
		t.Fatalf("names: %v", got)
	}
	if !cfg.Several() {
		t.Error("two servers are several")
	}
	hook, circl := all[0], all[1]
	if hook.APIKey != "HOOKKEY" || circl.APIKey != "CIRCLKEY01234" || circl.MISPURL != "https://misp.circl.lu" {
		t.Errorf("keys/URLs not each its own: %q %q %q", hook.MISPURL, circl.MISPURL, circl.CAFile)
	}
	if hook.CAFile != "" || circl.CAFile != ca {
		t.Errorf("ca_file: hook %q, circl %q: the CA is per server", hook.CAFile, circl.CAFile)
	}
	// Filters inherit unless the instance sets them.
	if hook.ToIDs != nil || circl.ToIDs == nil || !*circl.ToIDs {
		t.Errorf("to_ids: hook %v circl %v", hook.ToIDs, circl.ToIDs)
	}
	if !cmp.Equal(circl.Tags, []string{"tlp:green"}) {
		t.Errorf("tags not inherited: %v", circl.Tags)
	}
	if hook.Lookup != LookupAuto || circl.Lookup != LookupLive {
		t.Errorf("lookup: %q %q", hook.Lookup, circl.Lookup)
	}
	if !hook.Sightings.Enabled || hook.Sightings.Window != 2*time.Hour || circl.Sightings.Enabled || circl.Sightings.Window != DefaultSightingWindow {
		t.Errorf("sightings: hook %+v circl %+v", hook.Sightings, circl.Sightings)
	}
	// Each server has its own files; the hook's keep their names, so an
	// upgrade keeps its cache and mirror.
	wantFiles := [][3]string{
		{"/var/ossec/var/custom-misp/cache.db", "/var/ossec/var/custom-misp/mirror.db", "/var/ossec/var/custom-misp/sightings.db"},
		{"/var/ossec/var/custom-misp/cache-circl.db", "/var/ossec/var/custom-misp/mirror-circl.db", "/var/ossec/var/custom-misp/sightings-circl.db"},
	}
	for i, c := range all {
		if got := [3]string{c.CachePath, c.MirrorPath, c.SightingsPath}; got != wantFiles[i] {
			t.Errorf("%s files: %v, want %v", c.Name, got, wantFiles[i])
		}
	}
	if circl.SocketPath != cfg.SocketPath || circl.Deadline != cfg.Deadline || circl.MaxEvents != cfg.MaxEvents {
		t.Error("shared settings not shared")
	}
	if cfg.Instance("circl") != circl || cfg.Instance("nope") != nil {
		t.Error("Instance lookup")
	}
}

func TestLoad_InstancesInsteadOfHook(t *testing.T) {
	key := writeFile(t, "a.key", "AKEY")
	opts := writeFile(t, "o.options", `{"instances":[{"name":"a","url":"https://a.example.org","api_key_file":"`+key+`"}]}`)
	cfg, err := Load(Args{AlertFile: "/tmp/a", OptionsFile: opts, Retries: -1}, "/var/ossec")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Names(); !cmp.Equal(got, []string{"a"}) || cfg.Several() {
		t.Errorf("an empty <hook_url> leaves only the instances: %v", got)
	}
}

func TestLoad_SingleServerUnchanged(t *testing.T) {
	cfg, err := Load(Args{AlertFile: "/tmp/a", APIKey: "K", HookURL: "https://m.example.org", Retries: -1}, "/var/ossec")
	if err != nil {
		t.Fatal(err)
	}
	if all := cfg.All(); len(all) != 1 || all[0] != &cfg || cfg.Name != DefaultName || cfg.Several() {
		t.Errorf("one server: %v", cfg.Names())
	}
	if cfg.Sightings.Enabled {
		t.Error("sightings are off by default")
	}
	if got := cfg.Sightings.SourceFor("wazuh-manager-1"); got != "wazuh-wazuh-manager-1" {
		t.Errorf("default source %q", got)
	}
	if got := (Sightings{Source: "soc"}).SourceFor("m"); got != "soc" {
		t.Errorf("set source %q", got)
	}
}

func TestLoad_BadInstances(t *testing.T) {
	key := writeFile(t, "k", "SECRETKEY")
	inst := func(fields string) string { return `{"instances":[{` + fields + `}]}` }
	ok := `"name":"b","url":"https://b.example.org","api_key_file":"` + key + `"`
	tests := []struct {
		name    string
		options string
		want    string
	}{
		{"bad name", inst(`"name":"B C","url":"https://b","api_key_file":"` + key + `"`), `instances[0].name: "B C": want 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit`},
		{"no url", inst(`"name":"b","api_key_file":"` + key + `"`), "instances[b].url: empty: set the MISP base URL"},
		{"no key file", inst(`"name":"b","url":"https://b.example.org"`), "instances[b].api_key_file: empty: each instance reads its key from a file (root:wazuh 0640)"},
		{"missing key file", inst(`"name":"b","url":"https://b.example.org","api_key_file":"/nonexistent/k"`), "instances[b].api_key_file: no such file or directory: /nonexistent/k"},
		{"http url", inst(`"name":"b","url":"http://b.example.org","api_key_file":"` + key + `"`), `instances[b].url: "http://b.example.org" is not https; the API key would cross the network in clear text (set "allow_http": true to accept that)`},
		{"key in url", inst(`"name":"b","url":"https://b.example.org/?k=SECRETKEY","api_key_file":"` + key + `"`), "instances[b].url: must be the MISP base URL, without query or fragment"},
		{"unknown key", inst(ok + `,"verify":false`), `options: unknown key "verify"`},
		{"bad lookup", inst(ok + `,"lookup":"cdb"`), `instances[b].lookup: want "auto", "mirror" or "live", got "cdb"`},
		{"name twice", `{"name":"b",` + inst(ok)[1:], `instances: the name "b" is used twice (the <hook_url> server is "b" unless option "name" says otherwise)`},
		{"shared mirror", inst(ok + `,"mirror_path":"/var/ossec/var/custom-misp/mirror.db"`), `instances[b]: /var/ossec/var/custom-misp/mirror.db is also "misp"'s: each instance needs its own cache, mirror and sightings files`},
		{"window too short", `{"sightings":{"enabled":true,"window":"1s"}}`, "sightings.window: want 1m0s to 168h0m0s, got 1s"},
		{"instance window", inst(ok + `,"sightings":{"window":"30d"}`), `options: instances: want a duration such as "30s", got "30d"`},
		{"source with newline", `{"sightings":{"enabled":true,"source":"a\nb"}}`, "sightings.source: want at most 128 printable characters"},
		{"bad top name", `{"name":"Main"}`, `name: "Main": want 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Args{AlertFile: "/tmp/a", APIKey: "K", HookURL: "https://m.example.org", Retries: -1, OptionsFile: writeFile(t, "x.options", tt.options)}
			_, err := Load(a, "/var/ossec")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load error:\n got %v\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRETKEY") {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}
