package cache

import (
	"fmt"
	"testing"

	"github.com/custom-misp/custom-misp/internal/config"
)

// The scope hashes this text: it must stay what fmt wrote in the first
// versions, or every existing store would lose its answers on upgrade.
func TestFilters_AsFmtWroteThem(t *testing.T) {
	yes, no := true, false
	cases := []config.Config{
		config.Default("/var/ossec"),
		{ToIDs: &yes, Published: &no, EnforceWarninglist: true, Tags: []string{"tlp:white", `misp-galaxy:mitre-attack-pattern="Phishing - T1566"`}, ExcludeTags: []string{}, Limit: 100},
		{Tags: []string{"é", "\x00\xff", "a b"}, ExcludeTags: []string{"false-positive"}, Limit: 1},
	}
	for _, cfg := range cases {
		want := fmt.Sprintf("to_ids=%s published=%s warninglist=%t tags=%q exclude_tags=%q limit=%d",
			boolPtr(cfg.ToIDs), boolPtr(cfg.Published), cfg.EnforceWarninglist, cfg.Tags, cfg.ExcludeTags, cfg.Limit)
		if got := filters(&cfg); got != want {
			t.Errorf("filters:\n got %s\nwant %s", got, want)
		}
	}
}

// Two scopes pinned as literals, the form the first versions hashed.
func TestFilters_Literal(t *testing.T) {
	def := config.Default("/var/ossec")
	yes := true
	tagged := config.Config{ToIDs: &yes, Published: &yes, Tags: []string{"tlp:white", `a"b`}, ExcludeTags: []string{"false-positive"}, Limit: 50}
	for _, tc := range []struct {
		cfg  *config.Config
		want string
	}{
		{&def, `to_ids=true published=any warninglist=true tags=[] exclude_tags=[] limit=100`},
		{&tagged, `to_ids=true published=true warninglist=false tags=["tlp:white" "a\"b"] exclude_tags=["false-positive"] limit=50`},
	} {
		if got := filters(tc.cfg); got != tc.want {
			t.Errorf("filters:\n got %s\nwant %s", got, tc.want)
		}
	}
}

func FuzzFilters(f *testing.F) {
	f.Add("tlp:white", "", 100, true)
	f.Add("\"\\\x00\xff\u2028", "x y", -1, false)
	f.Fuzz(func(t *testing.T, tag, exclude string, limit int, flag bool) {
		cfg := config.Config{ToIDs: &flag, EnforceWarninglist: flag, Tags: []string{tag, exclude}, ExcludeTags: []string{exclude}, Limit: limit}
		want := fmt.Sprintf("to_ids=%s published=%s warninglist=%t tags=%q exclude_tags=%q limit=%d",
			boolPtr(cfg.ToIDs), boolPtr(cfg.Published), cfg.EnforceWarninglist, cfg.Tags, cfg.ExcludeTags, cfg.Limit)
		if got := filters(&cfg); got != want {
			t.Fatalf("filters:\n got %q\nwant %q", got, want)
		}
	})
}
