package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// oneEventMISP is a MISP with one event and two attributes, one of them a
// network, as the mirror's sync reads it.
type oneEventMISP struct{ fail bool }

func (s oneEventMISP) EventIndex(context.Context) ([]misp.EventStamp, error) {
	if s.fail {
		return nil, &misp.Error{Class: misp.ClassUnavailable, Status: 503, Message: "Service Unavailable"}
	}
	return []misp.EventStamp{{ID: "7", Timestamp: "1700000000", Published: true}}, nil
}

func (oneEventMISP) EventMetadata(context.Context, []string) ([]misp.Event, error) {
	return []misp.Event{{ID: "7", Info: "c2", Timestamp: "1700000000", Published: true}}, nil
}

func (oneEventMISP) AttributePage(_ context.Context, _ misp.Query, _ []string, page, _ int) (misp.Answer, error) {
	if page > 1 {
		return misp.Answer{}, nil
	}
	return misp.Answer{Attributes: []misp.Attribute{
		{ID: "1", EventID: "7", Type: "ip-dst", Value: "203.0.113.5", ToIDs: true},
		{ID: "2", EventID: "7", Type: "ip-src", Value: "198.51.100.0/24", ToIDs: true},
	}}, nil
}

func (oneEventMISP) WarninglistFingerprint(context.Context) (string, error) { return "0:", nil }

func TestMirrorCheck(t *testing.T) {
	synced := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	sync := func(t *testing.T, path string, at time.Time, src mirror.Source) {
		t.Helper()
		_, err := mirror.Sync(context.Background(), src, mirror.Options{Path: path, Scope: "S", Filters: "to_ids=true", FullSyncInterval: 24 * time.Hour, Now: func() time.Time { return at }})
		if err != nil && !strings.Contains(err.Error(), "Unavailable") {
			t.Fatal(err)
		}
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
		{"fresh", config.LookupAuto, func(t *testing.T, p string) { sync(t, p, synced, oneEventMISP{}) }, synced.Add(10 * time.Minute), "S",
			[]string{`OK generation 1, 2 attributes (1 networks) over 1 events`, `OK full, 1 events read`}},
		{"stale in auto", config.LookupAuto, func(t *testing.T, p string) { sync(t, p, synced, oneEventMISP{}) }, synced.Add(2 * time.Hour), "S",
			[]string{`WARN lookup "auto" asks MISP instead`, `OK last sync`}},
		{"stale in mirror mode", config.LookupMirror, func(t *testing.T, p string) { sync(t, p, synced, oneEventMISP{}) }, synced.Add(2 * time.Hour), "S",
			[]string{`WARN still answers from it and sends stale_mirror events`, `OK last sync`}},
		{"other scope", config.LookupAuto, func(t *testing.T, p string) { sync(t, p, synced, oneEventMISP{}) }, synced, "T",
			[]string{`WARN built for another MISP URL, key or filters`, `OK last sync`}},
		{"last sync failed", config.LookupAuto, func(t *testing.T, p string) {
			sync(t, p, synced, oneEventMISP{})
			sync(t, p, synced.Add(time.Hour), oneEventMISP{fail: true})
		}, synced.Add(70 * time.Minute), "S",
			[]string{`WARN older than mirror_max_age`, `WARN failed after`}},
		{"symlink", config.LookupAuto, func(t *testing.T, p string) {
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Fatal(err)
			}
		}, synced, "S", []string{`FAIL symbolic link`}},
		{"anyone can write", config.LookupAuto, func(t *testing.T, p string) {
			sync(t, p, synced, oneEventMISP{})
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
