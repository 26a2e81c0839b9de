package ioc

import (
	"fmt"
	"net/netip"
	"strings"
)

// Policy holds the operator's choices that change what is an indicator: the
// `exclude` option (own domains and networks) and special-use suffixes the
// operator wants treated as real domains. A nil *Policy applies the defaults.
type Policy struct {
	excludeNets    []netip.Prefix
	excludeDomains []string // canonical names, matched on a label boundary
	allowSuffixes  []string // canonical names, matched on a label boundary
}

// NewPolicy parses the exclude list and the suffixes the operator allows in
// spite of being special-use (e.g. "lan", "corp.internal").
//
// An exclude entry is an IP address, a CIDR prefix (IPv4 or IPv6; host bits
// are ignored) or a domain name, which also excludes every name under it and
// URLs on those hosts ("example-corp.com" excludes "www.example-corp.com";
// a leading "." or "*." is accepted and means the same). An allowed suffix
// is a domain name of one or more labels. Any other entry is an error that
// names it.
func NewPolicy(exclude, allowSuffixes []string) (*Policy, error) {
	p := &Policy{}
	for _, e := range exclude {
		s := strings.TrimSpace(e)
		if strings.IndexByte(s, '/') >= 0 {
			pfx, err := netip.ParsePrefix(s)
			if err != nil || pfx.Addr().Zone() != "" {
				return nil, fmt.Errorf("exclude %q: not a domain, IP address or CIDR prefix", e)
			}
			p.excludeNets = append(p.excludeNets, unmapPrefix(pfx.Masked()))
			continue
		}
		if a, ok := parseIP(s); ok {
			a = a.Unmap()
			p.excludeNets = append(p.excludeNets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		d, ok := parseSuffix(s)
		if !ok {
			return nil, fmt.Errorf("exclude %q: not a domain, IP address or CIDR prefix", e)
		}
		p.excludeDomains = append(p.excludeDomains, d)
	}
	for _, a := range allowSuffixes {
		d, ok := parseSuffix(strings.TrimSpace(a))
		if !ok {
			return nil, fmt.Errorf("allowed suffix %q: not a domain name", a)
		}
		p.allowSuffixes = append(p.allowSuffixes, d)
	}
	return p, nil
}

// parseSuffix returns the canonical form of a domain suffix of one or more
// labels, written with or without a leading "." or "*.".
func parseSuffix(s string) (string, bool) {
	s = strings.TrimPrefix(s, "*")
	s = strings.TrimPrefix(s, ".")
	return canonName(s, 1)
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// the IPv4 prefix it covers, since indicators are unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// Indicator normalises raw as kind k (see Normalize; names under an allowed
// suffix pass) and reports whether the result is an indicator worth sending
// to MISP under this policy: not excluded by address, network or domain.
// field is recorded as the indicator's origin.
func (p *Policy) Indicator(k Kind, raw, field string) (Indicator, bool) {
	var allow []string
	if p != nil {
		allow = p.allowSuffixes
	}
	v, ok := normalize(k, raw, allow, true)
	if !ok || p.excluded(k, v) {
		return Indicator{}, false
	}
	return Indicator{Kind: k, Value: v, Raw: raw, Field: field}, true
}

// excluded reports whether the normalised value v of kind k is on the
// operator's exclude list.
func (p *Policy) excluded(k Kind, v string) bool {
	if p == nil || len(p.excludeNets)+len(p.excludeDomains) == 0 {
		return false
	}
	switch k {
	case IP:
		a, _ := parseIP(v)
		return p.excludedAddr(a)
	case Domain:
		return p.excludedName(v)
	case URL:
		name, a, isAddr := urlHost(v)
		if isAddr {
			return p.excludedAddr(a.Unmap())
		}
		return p.excludedName(name)
	}
	return false
}

func (p *Policy) excludedAddr(a netip.Addr) bool {
	for _, n := range p.excludeNets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

func (p *Policy) excludedName(name string) bool {
	for _, d := range p.excludeDomains {
		if underSuffix(name, d) {
			return true
		}
	}
	return false
}
