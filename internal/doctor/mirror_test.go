package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/mirror/mirrortest"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// oneEvent is a MISP with one event and two attributes, one of them a
// network.
func oneEvent(down bool) *mirrortest.Source {
	return &mirrortest.Source{
		Down:   down,
		Events: []misp.Event{{ID: "7", Info: "c2", Timestamp: "1700000000", Published: true}},
		Attributes: []misp.Attribute{
			{ID: "1", EventID: "7", Type: "ip-dst", Value: "203.0.113.5", ToIDs: true},
			{ID: "2", EventID: "7", Type: "ip-src", Value: "198.51.100.0/24", ToIDs: true},
		},
	}
}

func TestMirrorCheck(t *testing.T) {
	synced := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	sync := func(t *testing.T, path string, at time.Time, src *mirrortest.Source) {
		t.Helper()
		_, _ = mirrortest.Sync(t, path, "S", at, src)
	}
	for _, tc := range []struct {
		name   string
		lookup string
		setup  func(t *testing.T, path string)
		now    time.Time
		scope  string
		want   []string // status and a part of the detail, per result
	}{
		{"live", config.LookupLive, nil, synced, "S", []string{`OK lookup "live"`}},
		{"auto without mirror", config.LookupAuto, nil, synced, "S", []string{`OK lookup "auto" asks MISP for every alert`}},
		{"mirror mode without mirror", config.LookupMirror, nil, synced, "S", []string{`FAIL nothing is looked up`}},
		{"fresh", config.LookupAuto, func(t *testing.T, p string) { sync(t, p, synced, oneEvent(false)) }, synced.Add(10 * time.Minute), "S",
			[]string{`OK generation 1, 2 attributes (1 networks) over 1 events`, `OK full, 1 events read`}},
		{"stale in auto", config.LookupAuto, func(t *testing.T, p string) { sync(t, p, synced, oneEvent(false)) }, synced.Add(2 * time.Hour), "S",
			[]string{`WARN lookup "auto" asks MISP instead`, `OK last sync`}},
		{"stale in mirror mode", config.LookupMirror, func(t *testing.T, p string) { sync(t, p, synced, oneEvent(false)) }, synced.Add(2 * time.Hour), "S",
			[]string{`WARN still answers from it and sends stale_mirror events`, `OK last sync`}},
		{"other scope", config.LookupAuto, func(t *testing.T, p string) { sync(t, p, synced, oneEvent(false)) }, synced, "T",
			[]string{`WARN built for another MISP URL, key or filters`, `OK last sync`}},
		{"last sync failed", config.LookupAuto, func(t *testing.T, p string) {
			sync(t, p, synced, oneEvent(false))
			sync(t, p, synced.Add(time.Hour), oneEvent(true))
		}, synced.Add(70 * time.Minute), "S",
			[]string{`WARN older than mirror_max_age`, `WARN failed after`}},
		{"symlink", config.LookupAuto, func(t *testing.T, p string) {
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Fatal(err)
			}
		}, synced, "S", []string{`FAIL symbolic link`}},
		{"anyone can write", config.LookupAuto, func(t *testing.T, p string) {
			sync(t, p, synced, oneEvent(false))
			if err := os.Chmod(p, 0o666); err != nil {
				t.Fatal(err)
			}
		}, synced, "S", []string{`FAIL anyone can write it`}},
		{"damaged", config.LookupMirror, func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("CMMIRR\x00\x01 not a mirror at all, just bytes to fill a footer's room ........................................."), 0o640); err != nil {
				t.Fatal(err)
			}
		}, synced, "S", []string{`FAIL damaged mirror file`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mirror.db")
			if tc.setup != nil {
				tc.setup(t, path)
			}
			cfg := config.Default(t.TempDir())
			cfg.Lookup, cfg.MirrorPath = tc.lookup, path
			in := Input{Config: cfg, MirrorScope: tc.scope, User: wazuhID(), Now: func() time.Time { return tc.now }}
			rs := mirrorCheck(in)
			if len(rs) != len(tc.want) {
				t.Fatalf("%d results, want %d: %+v", len(rs), len(tc.want), rs)
			}
			for i, w := range tc.want {
				status, part, _ := strings.Cut(w, " ")
				if string(rs[i].Status) != status || !strings.Contains(rs[i].Detail, part) {
					t.Errorf("result %d: %s %q, want %s containing %q", i, rs[i].Status, rs[i].Detail, status, part)
				}
				if rs[i].Status != OK && rs[i].Hint == "" {
					t.Errorf("result %d: %s without a hint", i, rs[i].Status)
				}
			}
		})
	}
}
