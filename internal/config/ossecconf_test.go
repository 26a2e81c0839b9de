package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ossecConfSample has the shape of a real manager's ossec.conf: a stock
// first <ossec_config> (abridged), comments, a second <ossec_config>
// appended by an admin, a built-in integration before ours, a commented
// out block, a command wodle, and an options JSON with a bare "&".
const ossecConfSample = `<!--
  Wazuh - Manager - Default configuration for ubuntu 22.04
  More info at: https://documentation.wazuh.com
-->

<ossec_config>
  <global>
    <jsonout_output>yes</jsonout_output>
    <alerts_log>yes</alerts_log>
  </global>

  <integration>
    <name>virustotal</name>
    <api_key>VTKEY</api_key>
    <group>syscheck</group>
    <alert_format>json</alert_format>
  </integration>

  <!--
  <integration>
    <name>custom-misp</name>
    <hook_url>https://old-misp.example.org</hook_url>
  </integration>
  -->

  <ruleset>
    <decoder_dir>ruleset/decoders</decoder_dir>
    <rule_dir>ruleset/rules</rule_dir>
  </ruleset>
</ossec_config>

<ossec_config>
  <integration>
    <name>custom-misp</name>
    <hook_url> https://misp.example.org:8443 </hook_url>
    <level>3</level>
    <group>sysmon_event3,ids,suricata</group>
    <alert_format>json</alert_format>
    <options>{"api_key_file": "/var/ossec/etc/custom-misp.key", "proxy": "http://proxy:3128/?a=1&b=2"}</options>
    <timeout>5</timeout>
    <retries>2</retries>
  </integration>

  <wodle name="command">
    <disabled>no</disabled>
    <tag>misp-feeds-fetch</tag>
    <command>/var/ossec/integrations/custom-misp feeds fetch --json</command>
    <interval>1d</interval>
    <ignore_output>no</ignore_output>
  </wodle>
  <wodle name="syscollector">
    <disabled>no</disabled>
  </wodle>
</ossec_config>
`

func TestParseOssecConf_RealShape(t *testing.T) {
	for _, tt := range []struct {
		name   string
		prefix string
	}{
		{"plain", ""},
		{"xml declaration", `<?xml version="1.0" encoding="UTF-8"?>` + "\n"},
		{"byte order mark", "\xef\xbb\xbf"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOssecConf([]byte(tt.prefix + ossecConfSample))
			if err != nil {
				t.Fatal(err)
			}
			want := &OssecConf{
				Integrations: []Integration{
					{Name: "virustotal", APIKey: "VTKEY", Group: "syscheck", AlertFormat: "json"},
					{Name: "custom-misp", HookURL: "https://misp.example.org:8443", Level: "3", Group: "sysmon_event3,ids,suricata",
						AlertFormat: "json", Options: `{"api_key_file": "/var/ossec/etc/custom-misp.key", "proxy": "http://proxy:3128/?a=1&b=2"}`,
						Timeout: "5", Retries: "2"},
				},
				Commands: []CommandWodle{{Tag: "misp-feeds-fetch", Command: "/var/ossec/integrations/custom-misp feeds fetch --json",
					Interval: "1d", Disabled: "no", IgnoreOutput: "no"}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseOssecConf mismatch (-want +got):\n%s", diff)
			}
			if n := len(got.Find("custom-misp")); n != 1 {
				t.Errorf("Find(custom-misp) = %d blocks, want 1 (the commented-out one does not count)", n)
			}
		})
	}
}

func TestParseOssecConf_Bad(t *testing.T) {
	// Leniency has limits: a tag cut off mid-way is no configuration.
	_, err := ParseOssecConf([]byte("<ossec_config>\n<integration>\n<name>custom-misp</name\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "not valid XML at line") {
		t.Errorf("error = %v, want a line-numbered XML error", err)
	}
}

func TestReadOssecConf_TooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ossec.conf")
	if err := os.WriteFile(path, []byte("<ossec_config>"+strings.Repeat(" ", MaxOssecConfSize)+"</ossec_config>"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadOssecConf(path)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error = %v, want a size error", err)
	}
}

func TestIntegration_StringHidesKey(t *testing.T) {
	s := Integration{Name: "custom-misp", APIKey: "SECRETSECRET"}.String()
	if strings.Contains(s, "SECRET") {
		t.Errorf("String() = %q shows the key", s)
	}
}

func TestIntegrationArgs(t *testing.T) {
	tests := []struct {
		name    string
		in      Integration
		want    Args
		wantErr string
	}{
		{"4.8 block", Integration{APIKey: "K", HookURL: "https://m", Timeout: "5", Retries: "0"}, Args{APIKey: "K", HookURL: "https://m", Timeout: 5 * time.Second, Retries: 0}, ""},
		{"4.7 block", Integration{HookURL: "https://m"}, Args{HookURL: "https://m", Retries: -1}, ""},
		{"timeout words", Integration{Timeout: "5s"}, Args{}, `timeout: <timeout> must be whole seconds from 1 to 3600, got "5s"`},
		{"retries too many", Integration{Retries: "11"}, Args{}, `retries: <retries> must be a whole number from 0 to 10, got "11"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Args()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Args mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadOperator_Precedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const (
		blockKey   = "BlockKey0000000000000000000000000000000a"
		envKey     = "EnvKey00000000000000000000000000000000ab"
		optionsKey = "OptionsKey00000000000000000000000000000a"
		adminKey   = "AdminKey000000000000000000000000000000ab"
	)
	optKeyFile := write("options.key", optionsKey+"\n")
	adminKeyFile := write("admin.key", adminKey)
	altOptions := write("alt.options", `{"to_ids": false, "socket_path": "/run/q"}`)
	block := &Integration{Name: "custom-misp", HookURL: "https://misp.example.org", APIKey: blockKey, Timeout: "5", Retries: "1",
		Options: `{"api_key_file": "` + optKeyFile + `", "cache": "off"}`}
	noKeyFile := &Integration{Name: "custom-misp", HookURL: "https://misp.example.org", Options: `{"limit": 5}`}

	tests := []struct {
		name  string
		src   Sources
		check func(t *testing.T, c Config)
	}{
		{"api_key_file beats api_key and env", Sources{Home: "/var/ossec", Block: block, EnvKey: envKey}, func(t *testing.T, c Config) {
			want := []any{optionsKey, "https://misp.example.org", 5 * time.Second, 1, false, "/var/ossec/queue/sockets/queue"}
			got := []any{c.APIKey, c.MISPURL, c.Timeout, c.Retries, c.CacheOn, c.SocketPath}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"env when the block has no key", Sources{Home: "/h", Block: noKeyFile, EnvKey: envKey}, func(t *testing.T, c Config) {
			if c.APIKey != envKey || c.Limit != 5 || c.Timeout != DefaultTimeout || c.Retries != DefaultRetries {
				t.Errorf("key from env %t, limit %d, timeout %s, retries %d", c.APIKey == envKey, c.Limit, c.Timeout, c.Retries)
			}
		}},
		{"block api_key beats env", Sources{Home: "/h", Block: &Integration{HookURL: "https://m.example", APIKey: blockKey}, EnvKey: envKey}, func(t *testing.T, c Config) {
			if c.APIKey != blockKey {
				t.Error("want the block's key")
			}
		}},
		{"key file beats everything", Sources{Home: "/h", Block: block, EnvKey: envKey, KeyFile: adminKeyFile}, func(t *testing.T, c Config) {
			if c.APIKey != adminKey {
				t.Error("want the --key-file key")
			}
		}},
		{"flags replace url and options", Sources{Home: "/h", Block: block, HookURL: "https://other.example", OptionsFile: altOptions, EnvKey: envKey}, func(t *testing.T, c Config) {
			// The options file replaces the block's options (and its
			// api_key_file), so the block's <api_key> is used.
			want := []any{blockKey, "https://other.example", (*bool)(nil), true, "/run/q", 5 * time.Second}
			got := []any{c.APIKey, c.MISPURL, c.ToIDs, c.CacheOn, c.SocketPath, c.Timeout}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"no ossec.conf at all", Sources{Home: "/h", HookURL: "https://m.example", EnvKey: envKey}, func(t *testing.T, c Config) {
			if c.APIKey != envKey || c.MISPURL != "https://m.example" || c.LogFile != "/h/logs/integrations.log" {
				t.Errorf("got url %q log %q", c.MISPURL, c.LogFile)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadOperator(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadOperator_Errors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.key")
	tests := []struct {
		name      string
		src       Sources
		wantField string
		wantText  string
	}{
		{"bad options JSON", Sources{Block: &Integration{HookURL: "https://m.example", APIKey: "K", Options: `{"to_ids": tru}`}}, "", "options: not valid JSON"},
		{"unknown option", Sources{Block: &Integration{HookURL: "https://m.example", APIKey: "K", Options: `{"toids": true}`}}, "", `options: unknown key "toids"`},
		{"bad timeout", Sources{Block: &Integration{HookURL: "https://m.example", APIKey: "K", Timeout: "0"}}, "timeout", ""},
		{"no key anywhere", Sources{Block: &Integration{HookURL: "https://m.example"}}, "api_key", ""},
		{"no url anywhere", Sources{EnvKey: "K"}, "hook_url", ""},
		{"key file missing", Sources{Block: &Integration{HookURL: "https://m.example", APIKey: "K"}, KeyFile: missing}, "--key-file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadOperator(tt.src)
			if err == nil {
				t.Fatal("want an error")
			}
			if c.SocketPath == "" {
				t.Error("paths not derived on error")
			}
			if tt.wantField != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.wantField {
					t.Errorf("error = %v, want a %s field error", err, tt.wantField)
				}
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantText)
			}
		})
	}
}
