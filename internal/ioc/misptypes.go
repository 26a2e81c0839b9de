package ioc

// MISPTypes lists the MISP attribute types an indicator of kind k may match,
// composites included; the lookup scopes its type filter with them. MISP
// stores a composite (ip-dst|port, domain|ip, filename|sha256, …) split in
// two halves and matches a value against either, so leaving the composites
// out of the filter would hide those hits. The type names are those of
// MISP's describeTypes; the result is a new slice on every call.
//
//   - url also matches "link" (a reference URL, to_ids off by default, but
//     a hit still tells the analyst the URL is known) and "uri" (used by
//     some feeds for full URLs as well as paths).
//   - imphash has the same shape as md5, but each kind is only matched
//     against its own types: the extraction knows which one a field holds.
func (k Kind) MISPTypes() []string {
	switch k {
	case IP:
		return []string{"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"}
	case Domain:
		return []string{"domain", "hostname", "domain|ip", "hostname|port"}
	case URL:
		return []string{"url", "link", "uri"}
	case MD5:
		return []string{"md5", "filename|md5"}
	case SHA1:
		return []string{"sha1", "filename|sha1"}
	case SHA256:
		return []string{"sha256", "filename|sha256"}
	case SHA512:
		return []string{"sha512", "filename|sha512"}
	case Imphash:
		return []string{"imphash", "filename|imphash"}
	}
	return nil
}
