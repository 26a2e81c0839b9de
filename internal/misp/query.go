package misp

// Search limits.
const (
	DefaultLimit = 100 // attributes per search when Query.Limit is 0
	// MaxLimit caps Query.Limit: MISP builds the whole page in PHP memory,
	// and MaxLimit attributes with context already make a few MiB.
	MaxLimit = 1000
	// MaxValues caps the values of one search: they become one SQL IN list,
	// and very long lists are slow on MISP (MISP/MISP#8267).
	MaxValues = 1000
)

// Query is one restSearch over attributes. Values are ORed; the other
// filters narrow the result.
type Query struct {
	Values             []string // normalised indicators; each must pass ioc.Safe
	Types              []string // MISP attribute types; empty means all
	ToIDs              *bool    // nil: either
	Published          *bool    // nil: either (drafts included)
	EnforceWarninglist bool     // drop attributes on an enabled warninglist
	Tags               []string // any of these tags, on the event or the attribute
	ExcludeTags        []string // none of these tags
	Limit              int      // 0 means DefaultLimit; at most MaxLimit
}
