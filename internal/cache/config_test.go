package cache

import (
	"testing"

	"github.com/custom-misp/custom-misp/internal/config"
)

// Every filter option must reach the scope: a setting that changes MISP's
// answer but not the scope would serve answers given under the old one.
func TestOptionsFor_EveryFilterChangesTheScope(t *testing.T) {
	no, yes := false, true
	base := config.Default("/var/ossec")
	base.MISPURL, base.APIKey = "https://misp.example", "k"
	variants := map[string]func(c *config.Config){
		"to_ids off":      func(c *config.Config) { c.ToIDs = nil },
		"published only":  func(c *config.Config) { c.Published = &yes },
		"drafts only":     func(c *config.Config) { c.Published = &no },
		"warninglist off": func(c *config.Config) { c.EnforceWarninglist = false },
		"tags":            func(c *config.Config) { c.Tags = []string{"tlp:white"} },
		"exclude_tags":    func(c *config.Config) { c.ExcludeTags = []string{"false-positive"} },
		"limit":           func(c *config.Config) { c.Limit = 7 },
		"url":             func(c *config.Config) { c.MISPURL = "https://misp2.example" },
		"key":             func(c *config.Config) { c.APIKey = "k2" },
	}
	seen := map[string]string{OptionsFor(&base).Scope: "defaults"}
	for name, change := range variants {
		cfg := base
		change(&cfg)
		scope := OptionsFor(&cfg).Scope
		if other, dup := seen[scope]; dup {
			t.Errorf("%s: same scope as %s", name, other)
		}
		seen[scope] = name
	}
}
