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
