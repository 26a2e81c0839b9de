package ioc

import (
	"net/netip"
	"strings"
)

// NOTE: first-cut implementations so that dependent packages compile; the
// ioc owner replaces them with complete ones (same signatures).

// Policy holds the operator's choices that change what is an indicator: the
// `exclude` option (own domains and networks) and special-use suffixes the
// operator wants treated as real domains. A nil *Policy applies the defaults.
type Policy struct {
	excludeNets    []netip.Prefix
	excludeDomains []string
	allowSuffixes  []string
}

// NewPolicy parses the exclude list (domains, IPs, CIDRs) and the suffixes
// the operator allows in spite of being special-use (e.g. "lan").
func NewPolicy(exclude, allowSuffixes []string) (*Policy, error) {
	p := &Policy{allowSuffixes: allowSuffixes}
	for _, e := range exclude {
		if pfx, err := netip.ParsePrefix(e); err == nil {
			p.excludeNets = append(p.excludeNets, pfx.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			p.excludeNets = append(p.excludeNets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p.excludeDomains = append(p.excludeDomains, strings.ToLower(strings.TrimSuffix(e, ".")))
	}
	return p, nil
}

// Indicator normalises raw as kind k and reports whether the result is an
// indicator worth sending to MISP under this policy.
func (p *Policy) Indicator(k Kind, raw, field string) (Indicator, bool) {
	v, ok := Normalize(k, raw)
	if !ok {
		return Indicator{}, false
	}
	return Indicator{Kind: k, Value: v, Raw: raw, Field: field}, true
}

// Normalize returns the canonical form of raw as kind k, and false when raw
// is not a valid, global, filter-syntax-free value of that kind.
func Normalize(k Kind, raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	switch k {
	case IP:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return "", false
		}
		a = a.Unmap()
		if !IsGlobal(a) {
			return "", false
		}
		return a.String(), true
	case MD5, SHA1, SHA256, SHA512, Imphash:
		s = strings.ToLower(s)
		if len(s) != hexLen(k) || strings.Trim(s, "0123456789abcdef") != "" || strings.Trim(s, "0") == "" {
			return "", false
		}
		return s, true
	case Domain:
		s = strings.ToLower(strings.TrimSuffix(s, "."))
		if !strings.Contains(s, ".") || !Safe(s) {
			return "", false
		}
		return s, true
	case URL:
		if !(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) || !Safe(s) {
			return "", false
		}
		return s, true
	}
	return "", false
}

func hexLen(k Kind) int {
	switch k {
	case MD5, Imphash:
		return 32
	case SHA1:
		return 40
	case SHA256:
		return 64
	case SHA512:
		return 128
	}
	return -1
}

// IsGlobal reports whether a is globally routable (not in an IANA
// special-purpose range).
func IsGlobal(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate()
}

// Safe reports whether MISP would take v literally: no leading "!", no "%"
// at either end, no "&&" or "||".
func Safe(v string) bool {
	return v != "" && !strings.HasPrefix(v, "!") && !strings.HasPrefix(v, "%") && !strings.HasSuffix(v, "%") &&
		!strings.Contains(v, "&&") && !strings.Contains(v, "||")
}

// MISPTypes lists the MISP attribute types an indicator of kind k may match,
// composites included; the lookup scopes its type filter with them.
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
