package misp

import "strconv"

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
	ExcludeDecayed     bool     // drop attributes MISP's decaying models score as decayed
	Limit              int      // 0 means DefaultLimit; at most MaxLimit
}

// FilterKey describes every field of q that is not a value to look up (all
// but Values and Types) as one canonical line. Whatever depends on "the
// same question to MISP" derives from it (the cache scope today), so a
// filter added to Query must be added here too: TestQuery_FilterKeyCoversEveryFilter
// fails otherwise.
//
// The text is byte for byte what the first versions wrote with fmt
// ("to_ids=%s published=%s warninglist=%t tags=%q exclude_tags=%q
// limit=%d"), so that existing stores keep their answers; it is built by
// hand because fmt's first use of %q on a slice cost a cached run about
// 0.1 ms.
func (q Query) FilterKey() string {
	b := make([]byte, 0, 128)
	b = append(b, "to_ids="...)
	b = append(b, boolPtr(q.ToIDs)...)
	b = append(b, " published="...)
	b = append(b, boolPtr(q.Published)...)
	b = append(b, " warninglist="...)
	b = strconv.AppendBool(b, q.EnforceWarninglist)
	b = append(b, " tags="...)
	b = appendQuoted(b, q.Tags)
	b = append(b, " exclude_tags="...)
	b = appendQuoted(b, q.ExcludeTags)
	b = append(b, " limit="...)
	b = strconv.AppendInt(b, int64(q.Limit), 10)
	if q.ExcludeDecayed {
		// Only when set, so that stores written before the option keep
		// their scope.
		b = append(b, " exclude_decayed=true"...)
	}
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
