package ioc

import "strings"

// MaxValueLen caps every value: longer input is skipped without being
// parsed, and Safe rejects longer output. URLs are the longest kind, so the
// cap is the URL cap.
const MaxValueLen = MaxURLLen

// Normalize returns the canonical form of raw as kind k (the form MISP
// stores, see AttributeValidationTool), and false when raw is not a valid,
// global, filter-syntax-free value of that kind. Surrounding white space is
// ignored. The operator's policy is not applied; see Policy.Indicator.
func Normalize(k Kind, raw string) (string, bool) {
	return normalize(k, raw, nil, true)
}

// Classify reports the kind a bare value has the shape of: an IP address,
// an absolute http(s) URL, a hex hash (by length; 32 hex digits is MD5,
// since an imphash looks the same), or a domain name. It judges syntax only:
// a private address, a name under .local or a file name such as
// config.json still classifies, and
// Normalize or Policy.Indicator then decides whether it is worth a lookup.
func Classify(v string) (Kind, bool) {
	// The kinds' syntaxes are disjoint (a domain needs an alphabetic TLD, a
	// hash has no dot, an address has no letters outside hex and no scheme),
	// so the order only matters for speed: cheap, common checks first.
	for _, k := range [...]Kind{IP, MD5, SHA1, SHA256, SHA512, URL, Domain} {
		if _, ok := normalize(k, v, nil, false); ok {
			return k, true
		}
	}
	return "", false
}

// normalize is Normalize with the operator's allowed special-use suffixes.
// With vet false it checks syntax only (for Classify): globality,
// special-use names, placeholder hashes and Safe are not judged.
func normalize(k Kind, raw string, allow []string, vet bool) (string, bool) {
	if len(raw) > MaxValueLen {
		return "", false
	}
	s := strings.TrimSpace(raw)
	var (
		v  string
		ok bool
	)
	switch k {
	case IP:
		v, ok = normIP(s, vet)
	case Domain:
		v, ok = normDomain(s, allow, vet)
	case URL:
		v, ok = normURL(s, allow, vet)
	case MD5, SHA1, SHA256, SHA512, Imphash:
		v, ok = normHash(k, s, vet)
	}
	if !ok || (vet && !Safe(v)) {
		return "", false
	}
	return v, true
}
