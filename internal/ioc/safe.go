package ioc

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Safe reports whether MISP would take v literally in a restSearch value
// filter and can store it. MISP's filter syntax (AppModel generic filter
// handling) reads a leading "!" as negation, a "%" at either end as a SQL
// LIKE pattern, and splits a string on "&&" and "||". Beyond that, Safe
// refuses empty and over-long values (MaxValueLen), control characters,
// invalid UTF-8 (and U+FFFD, its usual replacement), and runes outside the
// Basic Multilingual Plane: MISP's value columns are utf8mb3, which cannot
// hold them, so such a value can match nothing and may make MySQL fail the
// whole query.
func Safe(v string) bool {
	if v == "" || len(v) > MaxValueLen || v[0] == '!' || v[0] == '%' || v[len(v)-1] == '%' {
		return false
	}
	if strings.Contains(v, "&&") || strings.Contains(v, "||") {
		return false
	}
	for _, r := range v {
		if r == utf8.RuneError || r > 0xFFFF || unicode.IsControl(r) {
			return false
		}
	}
	return true
}
