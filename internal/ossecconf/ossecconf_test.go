package ossecconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/config"
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
    <list>etc/lists/audit-keys</list>
    <list>etc/lists/malicious-ioc/malicious-ip</list>
  </ruleset>

  <cluster>
    <name>wazuh</name>
    <node_name>node01</node_name>
    <node_type>master</node_type>
    <disabled>yes</disabled>
  </cluster>
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
  <ruleset>
    <list> etc/lists/misp/ip </list>
  </ruleset>
  <cluster>
    <node_type>worker</node_type>
    <disabled>no</disabled>
  </cluster>
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
			got, err := Parse([]byte(tt.prefix + ossecConfSample))
			if err != nil {
				t.Fatal(err)
			}
			want := &config.OssecConf{
				Integrations: []config.Integration{
					{Name: "virustotal", APIKey: "VTKEY", Group: "syscheck", AlertFormat: "json"},
					{Name: "custom-misp", HookURL: "https://misp.example.org:8443", Level: "3", Group: "sysmon_event3,ids,suricata",
						AlertFormat: "json", Options: `{"api_key_file": "/var/ossec/etc/custom-misp.key", "proxy": "http://proxy:3128/?a=1&b=2"}`,
						Timeout: "5", Retries: "2"},
				},
				Commands: []config.CommandWodle{{Tag: "misp-feeds-fetch", Command: "/var/ossec/integrations/custom-misp feeds fetch --json",
					Interval: "1d", Disabled: "no", IgnoreOutput: "no"}},
				// Every <ruleset>'s lists; the <cluster> blocks field by field, later over earlier.
				Lists:   []string{"etc/lists/audit-keys", "etc/lists/malicious-ioc/malicious-ip", "etc/lists/misp/ip"},
				Cluster: &config.Cluster{NodeName: "node01", NodeType: "worker", Disabled: "no"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
			if n := len(got.Find("custom-misp")); n != 1 {
				t.Errorf("Find(custom-misp) = %d blocks, want 1 (the commented-out one does not count)", n)
			}
		})
	}
}

func TestParseOssecConf_Bad(t *testing.T) {
	// Leniency has limits: a tag cut off mid-way is no configuration.
	_, err := Parse([]byte("<ossec_config>\n<integration>\n<name>custom-misp</name\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "not valid XML at line") {
		t.Errorf("error = %v, want a line-numbered XML error", err)
	}
}

func TestReadOssecConf_TooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ossec.conf")
	if err := os.WriteFile(path, []byte("<ossec_config>"+strings.Repeat(" ", MaxSize)+"</ossec_config>"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error = %v, want a size error", err)
	}
}
