// Package ioc defines indicators of compromise (kind + normalised value) and
// the pure functions that classify, normalise and vet them. It does no I/O.
//
// Classify says what a bare value looks like; Normalize returns the
// canonical form MISP stores and rejects values that are not worth a lookup
// (non-global addresses, special-use names, names under a TLD IANA has not
// delegated, placeholder hashes, anything MISP would read as filter syntax). Policy adds the operator's exclusions
// and allowed special-use suffixes on top of Normalize.
package ioc

// Kind is the class of an indicator.
type Kind string

// Indicator kinds, in the order of specificity used when an alert has more
// indicators than we are allowed to look up (most specific first).
const (
	SHA512  Kind = "sha512"
	SHA256  Kind = "sha256"
	SHA1    Kind = "sha1"
	MD5     Kind = "md5"
	Imphash Kind = "imphash"
	URL     Kind = "url"
	Domain  Kind = "domain"
	IP      Kind = "ip"
)

// Indicator is one normalised value found in an alert.
type Indicator struct {
	Kind  Kind   // what the value is
	Value string // normalised form, the one sent to MISP and used as cache key
	Raw   string // the value as found in the alert
	Field string // dotted path of the alert field it came from (e.g. data.win.eventdata.hashes)
}

// Rank orders kinds by specificity: lower ranks are kept first when an alert
// carries more indicators than max_iocs_per_alert.
func (k Kind) Rank() int {
	switch k {
	case SHA512, SHA256, SHA1, MD5, Imphash:
		return 0
	case URL:
		return 1
	case Domain:
		return 2
	case IP:
		return 3
	}
	return 4
}
