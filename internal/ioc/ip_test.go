package ioc

import (
	"net/netip"
	"testing"
)

func TestNormalize_IP(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" means rejected
	}{
		{"ipv4", "45.227.254.26", "45.227.254.26"},
		{"surrounding space", " 45.227.254.26\n", "45.227.254.26"},
		// README quirks: Windows logon events and Sysmon DNS results.
		{"ipv4-mapped ipv6", "::ffff:45.227.254.26", "45.227.254.26"},
		{"ipv4-mapped ipv6 long form", "0:0:0:0:0:ffff:45.227.254.26", "45.227.254.26"},
		{"ipv4-mapped ipv6 hex", "::ffff:2de3:fe1a", "45.227.254.26"},
		{"ipv4-mapped private", "::ffff:10.20.0.1", ""},
		// Suricata prints IPv6 expanded; README gives the canonical form.
		{"expanded ipv6", "2a0e:97c0:03e3:0a5f:0000:0000:0000:0001", "2a0e:97c0:3e3:a5f::1"},
		{"upper-case ipv6", "2A00:1450:4007:80C::200E", "2a00:1450:4007:80c::200e"},
		// RFC 5952 §4.2.2: a single zero group is not compressed; §4.2.3:
		// the first of two equal runs is.
		{"rfc5952 single zero group", "2001:0db9:0:1:1:1:1:1", "2001:db9:0:1:1:1:1:1"},
		{"rfc5952 first longest run", "2a01:0:0:1:0:0:0:1", "2a01:0:0:1::1"},
		{"rfc5952 leftmost of equal runs", "2a01:0:0:1:1:0:0:1", "2a01::1:1:0:0:1"},
		// A version string is an address at this level; the extraction
		// package excludes fields named *version.
		{"version-like ipv4", "1.0.0.1", "1.0.0.1"},
		{"nat64 well-known prefix unwrapped", "64:ff9b::808:808", "8.8.8.8"},
		{"nat64 embedded private", "64:ff9b::a00:1", ""},
		{"private", "10.20.30.41", ""},
		{"ula", "fd7a:115c:a1e0:ab12:4843:cd96:6258:b240", ""},
		{"zone", "fe80::1%eth0", ""},
		{"global with zone", "2a00:1450::1%eth0", ""},
		{"ipv4 with port", "45.227.254.26:3389", ""},
		{"ipv6 with port", "[2a00:1450::1]:443", ""},
		{"bracketed ipv6", "[2a00:1450::1]", ""},
		{"cidr", "45.227.254.0/24", ""},
		{"leading zero octet", "045.227.254.26", ""},
		{"three octets", "45.227.254", ""},
		{"octet too large", "45.227.254.256", ""},
		{"domain", "example.org", ""},
		{"empty", "", ""},
		{"filter syntax", "!45.227.254.26", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Normalize(IP, tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Normalize(ip, %q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

// TestIsGlobal checks both edges of every range in the policy and an
// address just outside each, so a wrong prefix length shows up.
func TestIsGlobal(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0.0.0.0", false}, {"0.255.255.255", false}, {"1.0.0.0", true},
		{"9.255.255.255", true}, {"10.0.0.0", false}, {"10.255.255.255", false}, {"11.0.0.0", true},
		{"100.63.255.255", true}, {"100.64.0.0", false}, {"100.127.255.255", false}, {"100.128.0.0", true},
		{"126.255.255.255", true}, {"127.0.0.1", false}, {"127.255.255.255", false}, {"128.0.0.0", true},
		{"169.253.255.255", true}, {"169.254.0.0", false}, {"169.254.255.255", false}, {"169.255.0.0", true},
		{"172.15.255.255", true}, {"172.16.0.0", false}, {"172.31.255.255", false}, {"172.32.0.0", true},
		{"191.255.255.255", true}, {"192.0.0.0", false}, {"192.0.0.255", false}, {"192.0.1.0", true},
		{"192.0.2.0", false}, {"192.0.2.255", false}, {"192.0.3.0", true},
		{"192.88.98.255", true}, {"192.88.99.0", false}, {"192.88.99.255", false}, {"192.88.100.0", true},
		{"192.167.255.255", true}, {"192.168.0.0", false}, {"192.168.255.255", false}, {"192.169.0.0", true},
		{"198.17.255.255", true}, {"198.18.0.0", false}, {"198.19.255.255", false}, {"198.20.0.0", true},
		{"198.51.99.255", true}, {"198.51.100.0", false}, {"198.51.100.255", false}, {"198.51.101.0", true},
		{"203.0.112.255", true}, {"203.0.113.0", false}, {"203.0.113.255", false}, {"203.0.114.0", true},
		{"223.255.255.255", true}, {"224.0.0.0", false}, {"239.255.255.255", false},
		{"240.0.0.0", false}, {"255.255.255.254", false}, {"255.255.255.255", false},
		{"8.8.8.8", true}, {"1.1.1.1", true},

		{"::", false}, {"::1", false}, {"::2", false}, {"::ffff:8.8.8.8", true}, {"::ffff:10.0.0.1", false},
		{"64:ff9b::808:808", false}, {"64:ff9b:1::1", false}, {"100::", false}, {"100::ffff:ffff:ffff:ffff", false},
		{"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false}, {"2000::", true},
		{"2001::", false}, {"2001:0:4136:e378:8000:63bf:3fff:fdd2", false}, // Teredo
		{"2001:10::1", false}, {"2001:20::1", false}, // ORCHID, ORCHIDv2
		{"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false}, {"2001:200::", true},
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"2001:db8::", false},
		{"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false}, {"2001:db9::", true},
		{"2001:fff:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"2002::", false}, {"2002:c000:204::1", false},
		{"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false}, {"2003::", true},
		{"2a0e:97c0:3e3:a5f::1", true}, {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
		{"4000::", false}, {"fc00::", false}, {"fd7a:115c:a1e0:ab12:4843:cd96:6258:b240", false},
		{"fe80::1", false}, {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false}, {"ff02::1", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := IsGlobal(netip.MustParseAddr(tc.in)); got != tc.want {
				t.Errorf("IsGlobal(%s) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	if IsGlobal(netip.Addr{}) {
		t.Error("IsGlobal(zero Addr) = true")
	}
	if IsGlobal(netip.MustParseAddr("2a00:1450::1%eth0")) {
		t.Error("IsGlobal(address with zone) = true")
	}
}
