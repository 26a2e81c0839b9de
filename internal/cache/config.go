package cache

import (
	"strconv"

	"github.com/custom-misp/custom-misp/internal/config"
)

// OptionsFor maps the configuration to the cache's. The scope covers
// everything that changes MISP's answer, so changing a filter or the key
// starts from a clean slate instead of serving answers to another question.
func OptionsFor(cfg *config.Config) Options {
	return Options{
		Path:        cfg.CachePath,
		Scope:       Scope(cfg.MISPURL, cfg.APIKey, filters(cfg)),
		TTL:         cfg.CacheTTL,
		NegativeTTL: cfg.CacheNegativeTTL,
		MaxEntries:  cfg.CacheMaxEntries,
		LockWait:    cfg.CacheLockWait,
	}
}

// filters describes the configured MISP filters for the scope, byte for
// byte as the first versions wrote them with fmt ("to_ids=%s published=%s
// warninglist=%t tags=%q exclude_tags=%q limit=%d"), so that existing
// stores keep their answers; built by hand because fmt's first use of %q
// on a slice cost a cached run about 0.1 ms.
func filters(cfg *config.Config) string {
	b := make([]byte, 0, 128)
	b = append(b, "to_ids="...)
	b = append(b, boolPtr(cfg.ToIDs)...)
	b = append(b, " published="...)
	b = append(b, boolPtr(cfg.Published)...)
	b = append(b, " warninglist="...)
	b = strconv.AppendBool(b, cfg.EnforceWarninglist)
	b = append(b, " tags="...)
	b = appendQuoted(b, cfg.Tags)
	b = append(b, " exclude_tags="...)
	b = appendQuoted(b, cfg.ExcludeTags)
	b = append(b, " limit="...)
	b = strconv.AppendInt(b, int64(cfg.Limit), 10)
	return string(b)
}

// appendQuoted writes a list as fmt's %q does: ["a" "b"].
func appendQuoted(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendQuote(b, s)
	}
	return append(b, ']')
}

func boolPtr(b *bool) string {
	if b == nil {
		return "any"
	}
	return strconv.FormatBool(*b)
}
