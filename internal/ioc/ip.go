package ioc

import "net/netip"

// specialPurpose lists the blocks of the IANA IPv4 and IPv6 special-purpose
// address registries that are not globally routable, exactly as the
// project's extraction policy names them (shared/alerts/README.md, "Policy
// for must"). It is a read-only table; IsGlobal scans it.
//
// Deliberate choices:
//   - Whole blocks, even where IANA marks a sub-block globally reachable
//     (AS112 2001:4:112::/48, ORCHIDv2 2001:20::/28 and Teredo 2001::/32
//     all sit inside 2001::/23): an address there is either a tunnel
//     endpoint that says nothing about the remote host (Teredo, 6to4) or
//     infrastructure nobody lists as an indicator.
//   - 6to4 2002::/16 is not global for the same reason; its embedded IPv4
//     is not extracted.
//   - NAT64 64:ff9b::/96 lies outside 2000::/3 and is not global as an
//     IPv6 value, but normIP unwraps the IPv4 address it embeds (RFC 6052
//     §2.1 forbids non-global IPv4 there), the way ::ffff: is unmapped: on a
//     NAT64 network that IPv4 address is the real remote host.
//
// The IPv6 entries outside 2000::/3 are also caught by the global-unicast
// check in IsGlobal; they are listed so that the table reads as the policy.
var specialPurpose = [...]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network" (RFC 791)
	netip.MustParsePrefix("10.0.0.0/8"),         // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),      // shared address space, CGNAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),        // loopback
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local
	netip.MustParsePrefix("172.16.0.0/12"),      // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),       // documentation TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),     // deprecated 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),     // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking (RFC 2544)
	netip.MustParsePrefix("198.51.100.0/24"),    // documentation TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),     // documentation TEST-NET-3
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved
	netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast (inside 240/4, listed as the policy does)
	netip.MustParsePrefix("::/128"),             // unspecified
	netip.MustParsePrefix("::1/128"),            // loopback
	netip.MustParsePrefix("64:ff9b::/96"),       // NAT64 well-known prefix (see above)
	netip.MustParsePrefix("64:ff9b:1::/48"),     // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("100::/64"),           // discard-only (RFC 6666)
	netip.MustParsePrefix("2001::/23"),          // IETF protocol assignments (Teredo, ORCHID, AMT, ...)
	netip.MustParsePrefix("2001:db8::/32"),      // documentation
	netip.MustParsePrefix("2002::/16"),          // 6to4
	netip.MustParsePrefix("fc00::/7"),           // unique local
	netip.MustParsePrefix("fe80::/10"),          // link-local
	netip.MustParsePrefix("ff00::/8"),           // multicast
}

// globalUnicast6 is the IPv6 global unicast space: every IPv6 address
// outside it is unassigned or special-purpose.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// nat64 is the NAT64 well-known prefix (RFC 6052) whose last 32 bits are
// an IPv4 address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// IsGlobal reports whether a is globally routable, that is not in the IANA
// special-purpose ranges of specialPurpose and, for IPv6, inside 2000::/3.
// An IPv4-mapped IPv6 address is judged as the IPv4 address it maps; an
// address with a zone is scoped, so never global.
func IsGlobal(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return false
	}
	for _, p := range specialPurpose {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// parseIP parses a bare IPv4 or IPv6 address. Zones (fe80::1%eth0), ports
// and prefixes are refused; IPv4 with leading zeros is refused by netip
// because it is ambiguous (octal in some parsers).
func parseIP(s string) (netip.Addr, bool) {
	if !maybeIP(s) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// maxIPText is the longest textual address parseIP accepts:
// "0000:0000:0000:0000:0000:ffff:255.255.255.255".
const maxIPText = 45

// maybeIP is a cheap pre-check that spares netip.ParseAddr, which allocates
// its error, on the many values that cannot be an address: hex digits, dots
// and colons only, and either three dots (IPv4) or two or more colons.
func maybeIP(s string) bool {
	if len(s) < 2 || len(s) > maxIPText {
		return false
	}
	dots, colons := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c == ':':
			colons++
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return colons >= 2 || (colons == 0 && dots == 3)
}

// canonIP returns the address an indicator stands for: IPv4-mapped IPv6
// (::ffff:a.b.c.d, Windows logon events and Sysmon DNS results) and NAT64
// addresses become the IPv4 address they carry.
func canonIP(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return a
}

// normIP returns the canonical text of an address: dotted decimal for IPv4,
// RFC 5952 for IPv6 (lower case, leading zeros dropped, the longest run of
// two or more zero groups compressed), which netip.Addr.String produces.
func normIP(s string, vet bool) (string, bool) {
	a, ok := parseIP(s)
	if !ok {
		return "", false
	}
	a = canonIP(a)
	if vet && !IsGlobal(a) {
		return "", false
	}
	var buf [maxIPText]byte
	if out := a.AppendTo(buf[:0]); string(out) != s {
		return string(out), true
	}
	return s, true // already canonical: no allocation
}
