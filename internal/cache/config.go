package cache

import (
	"fmt"
	"strconv"

	"github.com/custom-misp/custom-misp/internal/config"
)

// OptionsFor maps the configuration to the cache's. The scope covers
// everything that changes MISP's answer, so changing a filter or the key
// starts from a clean slate instead of serving answers to another question.
func OptionsFor(cfg *config.Config) Options {
	filters := fmt.Sprintf("to_ids=%s published=%s warninglist=%t tags=%q exclude_tags=%q limit=%d",
		boolPtr(cfg.ToIDs), boolPtr(cfg.Published), cfg.EnforceWarninglist, cfg.Tags, cfg.ExcludeTags, cfg.Limit)
	return Options{
		Path:        cfg.CachePath,
		Scope:       Scope(cfg.MISPURL, cfg.APIKey, filters),
		TTL:         cfg.CacheTTL,
		NegativeTTL: cfg.CacheNegativeTTL,
		MaxEntries:  cfg.CacheMaxEntries,
		LockWait:    cfg.CacheLockWait,
	}
}

func boolPtr(b *bool) string {
	if b == nil {
		return "any"
	}
	return strconv.FormatBool(*b)
}
