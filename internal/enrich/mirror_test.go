package enrich

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/mirror/mirrortest"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// The lookup modes, with a real mirror built by mirror.Sync from a MISP in
// memory: testAlert's dstip lies in a mirrored network, its hash is a
// mirrored attribute, the rest is not mirrored.
var syncedAt = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func mirrorAt(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mirror.db")
	src := &mirrortest.Source{
		Events: []misp.Event{{ID: "7", Info: "mirrored event", ThreatLevelID: "1", Timestamp: "1700000000", Published: true}},
		Attributes: []misp.Attribute{
			{ID: "1", EventID: "7", Type: "ip-dst", Value: "45.155.205.0/24", ToIDs: true},
			{ID: "2", EventID: "7", Type: "sha256", Value: misp.FlexString(hashValue), ToIDs: true},
		},
	}
	if _, err := mirrortest.Sync(t, path, "scope", syncedAt, src); err != nil {
		t.Fatal(err)
	}
	return path
}

type modeCase struct {
	lookup    string
	path      string // "" : no mirror file
	scope     string
	now       time.Time
	wantAsked bool     // MISP was asked
	wantMatch []string // indicators matched
	wantError misp.Class
}

func runMode(t *testing.T, tc modeCase) Result {
	t.Helper()
	cfg := config.Default("/var/ossec")
	cfg.Lookup = tc.lookup
	m := &fakeMISP{attrs: []misp.Attribute{attr("9", "domain", "evil-update.xyz", true)}}
	c := newFakeCache()
	al, err := alert.Parse([]byte(testAlert))
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := ioc.NewPolicy(nil, nil)
	path := tc.path
	if path == "" {
		path = filepath.Join(t.TempDir(), "none.db")
	}
	env := Env{
		Log: quietLog{}, Policy: policy,
		Server: every(Server{
			OpenCache:  func() Cache { return c },
			Client:     func() (Searcher, error) { return m, nil },
			OpenMirror: func() mirror.View { return mirror.ForRun(path, tc.scope, tc.now, 30*time.Minute) },
		}),
	}
	res, err := Run(context.Background(), &cfg, al, env)
	if err != nil {
		t.Fatal(err)
	}
	if asked := len(m.queries) > 0; asked != tc.wantAsked {
		t.Errorf("MISP asked: %v, want %v", asked, tc.wantAsked)
	}
	if got := matchedValues(res); !slices.Equal(got, tc.wantMatch) {
		t.Errorf("matched %q, want %q", got, tc.wantMatch)
	}
	var gotErr misp.Class
	for _, e := range res.Events {
		if e.MISP.Error != "" {
			gotErr = misp.Class(e.MISP.Error)
		}
	}
	if gotErr != tc.wantError {
		t.Errorf("error event %q, want %q", gotErr, tc.wantError)
	}
	return res
}

func TestRun_LookupModes(t *testing.T) {
	path := mirrorAt(t)
	fresh, stale := syncedAt.Add(10*time.Minute), syncedAt.Add(2*time.Hour)
	fromMirror := []string{dstIP.Value, hashValue} // the network and the hash; the domain is not mirrored
	live := []string{domain.Value}                 // what the fake MISP answers
	for name, tc := range map[string]modeCase{
		"auto, fresh: the mirror, MISP not asked": {config.LookupAuto, path, "scope", fresh, false, fromMirror, ""},
		"auto, stale: live":                       {config.LookupAuto, path, "scope", stale, true, live, ""},
		"auto, other scope: live":                 {config.LookupAuto, path, "other", fresh, true, live, ""},
		"auto, no mirror: live":                   {config.LookupAuto, "", "scope", fresh, true, live, ""},
		"mirror, fresh":                           {config.LookupMirror, path, "scope", fresh, false, fromMirror, ""},
		"mirror, stale: answers and warns":        {config.LookupMirror, path, "scope", stale, false, fromMirror, misp.ClassStaleMirror},
		"mirror, no mirror: nothing, no_mirror":   {config.LookupMirror, "", "scope", fresh, false, nil, misp.ClassNoMirror},
		"mirror, other scope: no_mirror":          {config.LookupMirror, path, "other", fresh, false, nil, misp.ClassNoMirror},
		"live ignores a fresh mirror":             {config.LookupLive, path, "scope", fresh, true, live, ""},
	} {
		t.Run(name, func(t *testing.T) { runMode(t, tc) })
	}
}

// Mirror events carry which path answered and the mirror's age; the
// network match names the range.
func TestRun_MirrorEventsSayWhereFrom(t *testing.T) {
	res := runMode(t, modeCase{config.LookupMirror, mirrorAt(t), "scope", syncedAt.Add(7 * time.Minute), false, []string{dstIP.Value, hashValue}, ""})
	for _, e := range res.Events {
		if e.MISP.Lookup != "mirror" || e.MISP.MirrorAge != "420" {
			t.Errorf("event %s: lookup %q age %q, want mirror 420", e.MISP.Indicator, e.MISP.Lookup, e.MISP.MirrorAge)
		}
		if e.MISP.Indicator == dstIP.Value && e.MISP.MatchedRange != "45.155.205.0/24" {
			t.Errorf("network match: matched_range %q", e.MISP.MatchedRange)
		}
		if e.MISP.Indicator == hashValue && e.MISP.MatchedRange != "" {
			t.Errorf("hash match: matched_range %q", e.MISP.MatchedRange)
		}
	}
	stale := runMode(t, modeCase{config.LookupMirror, mirrorAt(t), "scope", syncedAt.Add(2 * time.Hour), false, []string{dstIP.Value, hashValue}, misp.ClassStaleMirror})
	for _, e := range stale.Events {
		if e.MISP.Error != "" && (e.MISP.MirrorAge != "7200" || e.MISP.Lookup != "mirror") {
			t.Errorf("stale event: %+v", e.MISP)
		}
	}
}
