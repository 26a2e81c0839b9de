package ioc

import (
	"net/netip"
	"strings"
)

// MaxURLLen caps a URL indicator. Longer values are skipped unparsed: 2048
// is the long-standing practical limit of browsers and proxies, so longer
// strings are data blobs rather than addresses someone listed in MISP.
const MaxURLLen = 2048

// normURL accepts an absolute http or https URL with a host and returns it
// with scheme and host lower-cased, a trailing dot on the host removed and
// an IDN host in punycode. The port, path, query and fragment are kept
// exactly as given (MISP does not normalise url attributes, so re-encoding
// would only break exact matches). The host must be a public domain (as
// normDomain) or a global IP literal.
//
// URLs with userinfo (user:pass@host) are refused: a credential must not
// travel to MISP or into the cache and the enrichment events, and the
// user@host form is a phishing disguise whose real host is better taken
// from the DNS or proxy fields. Control characters and spaces cannot occur
// in a URL and are refused too.
func normURL(s string, allow []string, vet bool) (string, bool) {
	if len(s) > MaxURLLen {
		return "", false
	}
	scheme := urlScheme(s)
	if scheme == "" {
		return "", false
	}
	authority, tail := splitAuthority(s[len(scheme):])
	for i := 0; i < len(tail); i++ {
		if tail[i] <= ' ' || tail[i] == 0x7f {
			return "", false
		}
	}
	host, port, ok := splitHostPort(authority)
	if !ok {
		return "", false
	}
	h, ok := normHost(host, allow, vet)
	if !ok {
		return "", false
	}
	if h == host && s[:len(scheme)] == scheme {
		return s, true // already canonical: no allocation
	}
	return scheme + h + port + tail, true
}

// urlScheme returns "http://" or "https://" when s starts with either, in
// any case, and "" otherwise.
func urlScheme(s string) string {
	for _, p := range [...]string{"http://", "https://"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return p
		}
	}
	return ""
}

// splitAuthority splits what follows "scheme://" into the authority and
// the rest (path, query, fragment), which starts at the first '/', '?' or
// '#' (RFC 3986 §3.2).
func splitAuthority(s string) (authority, tail string) {
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// splitHostPort splits an authority into host and ":port" (or ""). It
// refuses userinfo and ports that are not 1–65535 in plain decimal.
func splitHostPort(a string) (host, port string, ok bool) {
	if strings.IndexByte(a, '@') >= 0 {
		return "", "", false
	}
	host = a
	if strings.HasPrefix(a, "[") {
		j := strings.IndexByte(a, ']')
		if j < 0 {
			return "", "", false
		}
		host, port = a[:j+1], a[j+1:]
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i:]
	}
	if port == "" {
		return host, "", true
	}
	// ":" then 1–5 digits without a leading zero, value 1–65535.
	d := port[1:]
	if port[0] != ':' || d == "" || len(d) > 5 || d[0] == '0' {
		return "", "", false
	}
	v := 0
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return "", "", false
		}
		v = v*10 + int(d[i]-'0')
	}
	return host, port, v <= 65535
}

// normHost returns the canonical form of a URL host: a bracketed IPv6
// literal in RFC 5952 form, a dotted-decimal IPv4 address, or a domain.
func normHost(host string, allow []string, vet bool) (string, bool) {
	if strings.HasPrefix(host, "[") {
		a, ok := parseIP(strings.TrimSuffix(host[1:], "]"))
		if !ok || !a.Is6() || !strings.HasSuffix(host, "]") || (vet && !IsGlobal(a)) {
			return "", false
		}
		return "[" + a.String() + "]", true
	}
	if a, ok := parseIP(host); ok {
		// netip parses IPv4 strictly, so the text is already canonical;
		// IPv6 must be bracketed.
		return host, a.Is4() && (!vet || IsGlobal(a))
	}
	return normDomain(host, allow, vet)
}

// urlHost returns the host of a URL produced by normURL, as an address if
// it is an IP literal.
func urlHost(u string) (name string, addr netip.Addr, isAddr bool) {
	authority, _ := splitAuthority(u[len(urlScheme(u)):])
	host, _, _ := splitHostPort(authority)
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if a, ok := parseIP(host); ok {
		return "", a, true
	}
	return host, netip.Addr{}, false
}
