package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/misp"
)

const redir = "> /dev/null 2>&1"

func TestParseArgs_IntegratordShapes(t *testing.T) {
	// argv shapes from integrator.c as documented in
	// shared/reference/wazuh-integration-contract.md §1 (argv[0] removed).
	tests := []struct {
		name string
		argv []string
		want Args
	}{
		{"4.3-4.6 quiet", []string{"/tmp/a.alert", "KEY", "https://misp", " " + redir}, Args{AlertFile: "/tmp/a.alert", APIKey: "KEY", HookURL: "https://misp", Retries: -1}},
		{"4.3-4.6 debug", []string{"/tmp/a.alert", "KEY", "https://misp", "debug"}, Args{AlertFile: "/tmp/a.alert", APIKey: "KEY", HookURL: "https://misp", Debug: true, Retries: -1}},
		{"4.7 quiet with options", []string{"/tmp/a.alert", "KEY", "https://misp", "", "/tmp/a.options", redir}, Args{AlertFile: "/tmp/a.alert", APIKey: "KEY", HookURL: "https://misp", OptionsFile: "/tmp/a.options", Retries: -1}},
		{"4.7 debug no options", []string{"/tmp/a.alert", "KEY", "https://misp", "debug", ""}, Args{AlertFile: "/tmp/a.alert", APIKey: "KEY", HookURL: "https://misp", Debug: true, Retries: -1}},
		{"4.14 quiet", []string{"/tmp/a.alert", "KEY", "https://misp", "", "/tmp/a.options", "10", "3", redir}, Args{AlertFile: "/tmp/a.alert", APIKey: "KEY", HookURL: "https://misp", OptionsFile: "/tmp/a.options", Timeout: 10 * time.Second, Retries: 3}},
		{"4.14 debug", []string{"/tmp/a.alert", "KEY", "https://misp", "debug", "", "5", "0"}, Args{AlertFile: "/tmp/a.alert", APIKey: "KEY", HookURL: "https://misp", Debug: true, Timeout: 5 * time.Second, Retries: 0}},
		{"4.14 no key no hook", []string{"/tmp/a.alert", "", "", "", "", "10", "3", redir}, Args{AlertFile: "/tmp/a.alert", Timeout: 10 * time.Second, Retries: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.argv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseArgs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseArgs_Bad(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"too few", []string{"/tmp/a.alert", "KEY"}, "expected at least 3 arguments (alert file, api key, hook url), got 2"},
		{"too many", []string{"a", "b", "c", "", "", "10", "3", "x"}, "expected at most 7 arguments, got 8 (a space inside api_key or hook_url shifts them)"},
		{"key shifted into debug", []string{"/tmp/a.alert", "SECRET", "PART", "OF-KEY", "", "10", "3"}, `argv[4] must be "debug" or empty (a space inside api_key or hook_url shifts the arguments)`},
		{"timeout not a number", []string{"a", "k", "u", "", "", "ten", "3"}, "argv[6] (timeout) must be whole seconds from 1 to 3600"},
		{"retries negative", []string{"a", "k", "u", "", "", "10", "-1"}, "argv[7] (retries) must be a whole number from 0 to 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArgs(tt.argv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParseArgs error = %v, want %q", err, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_DefaultsAndOptions(t *testing.T) {
	keyFile := writeFile(t, "key", "  FILEKEY0123456789\n")
	opts := writeFile(t, "o.options", `{"api_key_file":"`+keyFile+`","to_ids":false,"published":true,"deadline":"5s","cache_ttl":3600,"tags":["tlp:red"],"socket_path":"/run/q"}`+"\n")
	cfg, err := Load(Args{AlertFile: "/tmp/a", APIKey: "ARGKEY", HookURL: "https://misp.example.org", OptionsFile: opts, Retries: -1}, "/var/ossec")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIKey != "FILEKEY0123456789" {
		t.Error("api_key_file did not win over the argv key")
	}
	if cfg.ToIDs != nil || cfg.Published == nil || !*cfg.Published {
		t.Errorf("to_ids/published: got %v/%v", cfg.ToIDs, cfg.Published)
	}
	if cfg.Deadline != 5*time.Second || cfg.CacheTTL != time.Hour || cfg.Timeout != DefaultTimeout || cfg.Retries != DefaultRetries {
		t.Errorf("durations: deadline %v cache_ttl %v timeout %v retries %d", cfg.Deadline, cfg.CacheTTL, cfg.Timeout, cfg.Retries)
	}
	if cfg.SocketPath != "/run/q" || cfg.LogFile != "/var/ossec/logs/integrations.log" || cfg.CachePath != "/var/ossec/var/custom-misp/cache.db" {
		t.Errorf("paths: %q %q %q", cfg.SocketPath, cfg.LogFile, cfg.CachePath)
	}
	if !cfg.EnforceWarninglist || !cfg.CacheOn {
		t.Error("enforce_warninglist and cache default to on")
	}
}

func TestLoad_BadConfig(t *testing.T) {
	// One fixture per validation rule, with the exact operator message.
	tests := []struct {
		name    string
		hook    string
		key     string
		options string
		want    string
	}{
		{"no hook", "", "K", "", "hook_url: empty: set <hook_url> to the MISP base URL, e.g. https://misp.example.org"},
		{"relative hook", "misp.local", "K", "", `hook_url: "misp.local" is not an absolute http(s) URL`},
		{"http refused", "http://misp.example.org", "K", "", `hook_url: "http://misp.example.org" is not https; the API key would cross the network in clear text (set "allow_http": true to accept that)`},
		{"query in hook", "https://misp.example.org/?key=SECRET", "K", "", "hook_url: must be the MISP base URL, without query or fragment"},
		{"userinfo", "https://u:SECRET@misp.example.org", "K", "", "hook_url: must not contain user:password; MISP authenticates with the API key"},
		{"no key", "https://m.example.org", "", "", `api_key: empty: set <api_key> or "api_key_file" in <options>`},
		{"unknown option", "https://m.example.org", "K", `{"tls_verify":false}`, `options: unknown key "tls_verify"`},
		{"wrong type", "https://m.example.org", "K", `{"to_ids":"yes"}`, "options: to_ids: want bool, got JSON string"},
		{"bad duration", "https://m.example.org", "K", `{"deadline":"soon"}`, `options: deadline: want a duration such as "30s", got "soon"`},
		{"not json", "https://m.example.org", "K", `to_ids=1`, "options: not valid JSON at byte 2: invalid character 'o' in literal true (expecting 'r')"},
		{"trailing data", "https://m.example.org", "K", `{} {}`, "options: unexpected data after the JSON object"},
		{"deadline too long", "https://m.example.org", "K", `{"deadline":"1h"}`, "deadline: want 1s to 10m0s, got 1h0m0s"},
		{"max iocs zero", "https://m.example.org", "K", `{"max_iocs_per_alert":-1}`, "max_iocs_per_alert: want 1 to 1000, got -1"},
		{"cache word", "https://m.example.org", "K", `{"cache":"no"}`, `cache: want "on" or "off", got "no"`},
		{"negated tag", "https://m.example.org", "K", `{"tags":["!tlp:white"]}`, `tags: "!tlp:white": tags must be plain names (use exclude_tags to negate)`},
		{"half a client cert", "https://m.example.org", "K", `{"client_cert":"/c.pem"}`, "client_cert: client_cert and client_key go together"},
		{"bad proxy", "https://m.example.org", "K", `{"proxy":"socks5://p:1080"}`, `proxy: "socks5://p:1080" is not an http(s) proxy URL`},
		{"missing key file", "https://m.example.org", "", `{"api_key_file":"/nonexistent/key"}`, "api_key_file: no such file or directory: /nonexistent/key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Args{AlertFile: "/tmp/a", APIKey: tt.key, HookURL: tt.hook, Retries: -1}
			if tt.options != "" {
				a.OptionsFile = writeFile(t, "x.options", tt.options)
			}
			cfg, err := Load(a, "/var/ossec")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load error:\n got %v\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks a secret: %v", err)
			}
			if cfg.SocketPath == "" || cfg.LogFile == "" {
				t.Error("paths not derived on a bad configuration; the error could not be reported")
			}
		})
	}
}

func TestLoad_HTTPAllowedExplicitly(t *testing.T) {
	opts := writeFile(t, "o", `{"allow_http":true}`)
	if _, err := Load(Args{AlertFile: "a", APIKey: "K", HookURL: "http://misp.lab:8080", OptionsFile: opts, Retries: -1}, "/h"); err != nil {
		t.Fatal(err)
	}
}

func TestLoad_UnparsableURLNotEchoed(t *testing.T) {
	// Found in review: a URL that does not parse was quoted in the error,
	// which is logged and sent to Wazuh, password included.
	_, err := Load(Args{AlertFile: "a", APIKey: "K", HookURL: "https://admin:s3cret@misp host/", Retries: -1}, "/h")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v: want one that does not quote the URL", err)
	}
}

// Query is the one place the filter options become a MISP search.
func TestConfig_Query(t *testing.T) {
	yes, no := true, false
	c := Config{ToIDs: &yes, Published: &no, EnforceWarninglist: true, Tags: []string{"tlp:white"}, ExcludeTags: []string{"false-positive"}, Limit: 42,
		Exclude: []string{"ignored.example"}, MaxIOCs: 3}
	want := misp.Query{ToIDs: &yes, Published: &no, EnforceWarninglist: true, Tags: []string{"tlp:white"}, ExcludeTags: []string{"false-positive"}, Limit: 42}
	if diff := cmp.Diff(want, c.Query()); diff != "" {
		t.Errorf("Query (-want +got):\n%s", diff)
	}
}

// TestRedactURL: what RedactURL shows of a URL holding secrets. Every
// secret below is spelt with "SECRET" so that one check covers them all.
// The credential forms are RFC 3986's userinfo ("user:password@", "user@",
// percent-encoded reserved characters); the raw "#", "?" and "/" cases are
// passwords pasted without encoding, which url.Parse splits elsewhere.
func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain base URL", "https://misp.example.org:8443/misp/", "https://misp.example.org:8443/misp/"},
		{"user and password", "https://admin:SECRET@misp.example.org/", "https://misp.example.org/"},
		{"user only: it may be the key", "https://SECRETKEY0123@misp.example.org", "https://misp.example.org"},
		{"empty user, password", "https://:SECRET@misp.example.org", "https://misp.example.org"},
		{"password with percent-encoded @ : /", "https://admin:p%40SECRET%3Aw%2Frd@misp.example.org:8443/", "https://misp.example.org:8443/"},
		{"password with a raw @", "https://admin:p@SECRET@misp.example.org", "https://misp.example.org"},
		{"password with a raw # after digits", "https://admin:123#SECRET@misp.example.org", "(URL not shown: it may hold a password)"},
		{"password with a raw ? after digits", "https://admin:123?SECRET@misp.example.org", "(URL not shown: it may hold a password)"},
		{"password with a raw /", "https://admin:pa/SECRET@misp.example.org", "(unparsable URL)"},
		{"password with a space", "https://admin:pa SECRET@misp.example.org", "(unparsable URL)"},
		{"unparsable host", "https://admin:SECRET@misp host/", "(unparsable URL)"},
		{"bad escape", "https://misp.example.org/%zzSECRET", "(unparsable URL)"},
		{"query", "https://misp.example.org/?key=SECRET", "https://misp.example.org/"},
		{"empty query", "https://misp.example.org/?", "https://misp.example.org/"},
		{"fragment", "https://misp.example.org/misp#SECRET", "https://misp.example.org/misp"},
		{"everything at once", "https://admin:SECRET@misp.example.org:8443/misp?key=SECRET#SECRET", "https://misp.example.org:8443/misp"},
		{"proxy with credentials", "http://proxyuser:SECRET@proxy.example.org:3128", "http://proxy.example.org:3128"},
		{"relative", "misp.local", "misp.local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactURL(tt.in)
			if got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "SECRET") {
				t.Errorf("RedactURL(%q) = %q shows a secret", tt.in, got)
			}
		})
	}
}

// TestLoad_PEMFilesChecked: ca_file, client_cert and client_key are read
// only by the MISP client, on a cache miss; configuration checks them at
// start so that a missing one is an exit 5 on the first run, not an error
// event on the first lookup. A symbolic link is followed (the file is only
// read); a FIFO is refused without being opened, which would block.
func TestLoad_PEMFilesChecked(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(pem, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(pem, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "unreadable.pem")
	if err := os.WriteFile(unreadable, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	check := func(t *testing.T, options, want string) {
		t.Helper()
		a := Args{AlertFile: "/tmp/a", APIKey: "K", HookURL: "https://misp.example.org", Retries: -1, OptionsFile: writeFile(t, "o.options", options)}
		_, err := Load(a, "/var/ossec")
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("Load error:\n got %q\nwant %q", got, want)
		}
	}
	tests := []struct {
		name    string
		options string
		want    string // "" for no error
	}{
		{"ca_file present", `{"ca_file":"` + pem + `"}`, ""},
		{"ca_file through a symbolic link", `{"ca_file":"` + link + `"}`, ""},
		{"ca_file missing", `{"ca_file":"` + missing + `"}`, "ca_file: no such file or directory: " + missing},
		{"ca_file under a missing directory", `{"ca_file":"` + missing + `/ca.pem"}`, "ca_file: no such file or directory: " + missing + "/ca.pem"},
		{"ca_file is a directory", `{"ca_file":"` + dir + `"}`, "ca_file: " + dir + " is not a regular file"},
		{"ca_file is a fifo", `{"ca_file":"` + fifo + `"}`, "ca_file: " + fifo + " is not a regular file"},
		{"client pair present", `{"client_cert":"` + pem + `","client_key":"` + link + `"}`, ""},
		{"client_cert missing", `{"client_cert":"` + missing + `","client_key":"` + pem + `"}`, "client_cert: no such file or directory: " + missing},
		{"client_key missing", `{"client_cert":"` + pem + `","client_key":"` + missing + `"}`, "client_key: no such file or directory: " + missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.options, tt.want) })
	}
	t.Run("ca_file unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root may read any file: this case runs as any other user")
		}
		check(t, `{"ca_file":"`+unreadable+`"}`, "ca_file: permission denied: "+unreadable)
	})
}

// A bad exclude or allow_suffixes entry is a configuration error at load,
// named by its field, not a failure when the first alert is read.
func TestValidate_PolicyLists(t *testing.T) {
	for _, tc := range []struct {
		name          string
		exclude, allw []string
		want          string
	}{
		{"bad exclude", []string{"10.0.0.0/33"}, nil, `exclude: exclude "10.0.0.0/33": not a domain, IP address or CIDR prefix`},
		{"bad suffix", nil, []string{"-bad-"}, `allow_suffixes: allowed suffix "-bad-": not a domain name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default("/var/ossec")
			c.MISPURL, c.APIKey = "https://misp.example.org", strings.Repeat("k", 40)
			c.Exclude, c.AllowSuffixes = tc.exclude, tc.allw
			err := c.Validate()
			if err == nil || err.Error() != tc.want {
				t.Errorf("Validate = %v, want %s", err, tc.want)
			}
		})
	}
}
