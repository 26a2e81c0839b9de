package doctor

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/custom-misp/custom-misp/internal/config"
)

// A server of option "instances" after the first: its MISP checks and its
// own files (cache, mirror) are named by it; the shared Wazuh side is not
// checked again.
func TestRun_ServerFilesOfAnInstance(t *testing.T) {
	cfg := config.Default(t.TempDir())
	cfg.Name = "circl"
	cfg.CachePath = filepath.Join(t.TempDir(), "cache-circl.db")
	cfg.Lookup = config.LookupMirror
	cfg.MirrorPath = filepath.Join(t.TempDir(), "mirror-circl.db")
	in := Input{Config: cfg, ConfigErr: errTest, Instance: "circl", ServerFiles: true}
	var checks []string
	for _, r := range Run(context.Background(), in) {
		checks = append(checks, r.Check)
		if !strings.HasPrefix(r.Check, "circl: ") {
			t.Errorf("check %q is not named by its server", r.Check)
		}
	}
	for _, want := range []string{"circl: cache", "circl: mirror"} {
		if !slices.Contains(checks, want) {
			t.Errorf("checks %v lack %q", checks, want)
		}
	}
	for _, shared := range []string{"circl: ossec.conf", "circl: socket", "circl: binary"} {
		if slices.Contains(checks, shared) {
			t.Errorf("the shared Wazuh side was checked again: %q", shared)
		}
	}
}

var errTest = &config.FieldError{Field: "api_key_file", Reason: "test: no key"}
