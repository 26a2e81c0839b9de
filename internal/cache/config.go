package cache

import "github.com/custom-misp/custom-misp/internal/config"

// OptionsFor maps the configuration to the cache's. The scope covers
// everything that changes MISP's answer, so changing a filter or the key
// starts from a clean slate instead of serving answers to another question.
func OptionsFor(cfg *config.Config) Options {
	return Options{
		Path:        cfg.CachePath,
		Scope:       Scope(cfg.MISPURL, cfg.APIKey, cfg.Query().FilterKey()),
		TTL:         cfg.CacheTTL,
		NegativeTTL: cfg.CacheNegativeTTL,
		MaxEntries:  cfg.CacheMaxEntries,
		LockWait:    cfg.CacheLockWait,
	}
}
