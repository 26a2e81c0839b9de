package ioc

import (
	"strings"
	"testing"
)

func TestNormalize_URL(t *testing.T) {
	longPath := "http://evil.com/" + strings.Repeat("a", MaxURLLen-len("http://evil.com/"))
	tests := []struct {
		name, in, want string // want "" means rejected
	}{
		// Values from the sample alerts' expected.json.
		{"squid absolute url", "http://zonedatapro.info/wp-content/uploads/2026/11/inv.php?id=88213&u=aokafor", "http://zonedatapro.info/wp-content/uploads/2026/11/inv.php?id=88213&u=aokafor"},
		{"https", "https://update-check-cdn.com/dl/setup_x64.exe?build=2291", "https://update-check-cdn.com/dl/setup_x64.exe?build=2291"},
		{"scheme and host lowered, path kept", "HTTPS://Update-Check-CDN.com/DL/Setup.EXE?A=B", "https://update-check-cdn.com/DL/Setup.EXE?A=B"},
		{"trailing dot on host", "http://raw.githubusercontent.com./x/y.ps1", "http://raw.githubusercontent.com/x/y.ps1"},
		{"encoded query kept", "https://evil.com/r?u=https%3A%2F%2Fx.com%2F&a=%41", "https://evil.com/r?u=https%3A%2F%2Fx.com%2F&a=%41"},
		{"fragment kept", "http://evil.com/a#Frag", "http://evil.com/a#Frag"},
		{"no path", "http://evil.com", "http://evil.com"},
		{"query without path", "http://evil.com?x=1", "http://evil.com?x=1"},
		{"port", "http://evil.com:8080/gate.php", "http://evil.com:8080/gate.php"},
		{"port with trailing dot host", "http://Evil.com.:8080/", "http://evil.com:8080/"},
		{"idn host", "http://münchen.de/ü", "http://xn--mnchen-3ya.de/ü"},
		{"ipv4 host", "http://45.227.254.26/x.sh", "http://45.227.254.26/x.sh"},
		{"ipv6 host", "http://[2A00:1450:4007:080C::200E]:8443/x", "http://[2a00:1450:4007:80c::200e]:8443/x"},
		{"max length", longPath, longPath},
		{"over max length", longPath + "a", ""},
		{"private ipv4 host", "http://10.20.0.5/admin", ""},
		{"private ipv6 host", "http://[fd7a:115c::1]/", ""},
		{"ipv6 zone host", "http://[fe80::1%25eth0]/", ""},
		{"unbracketed ipv6 host", "http://2a00:1450::1/", ""},
		{"bracketed ipv4", "http://[45.227.254.26]/", ""},
		{"unclosed bracket", "http://[2a00:1450::1/", ""},
		{"special-use host", "http://wpad/wpad.dat", ""},
		{"local host", "http://intranet.hlx.local/login", ""},
		{"host on undelegated tld", "http://config.json/x", ""},
		{"host on file-extension tld", "https://github-release.zip/v2/setup.exe", "https://github-release.zip/v2/setup.exe"},
		{"ip-like host", "http://45.227.254/", ""},
		{"decimal ip host", "http://767295002/", ""},
		{"userinfo", "http://user:pass@evil.com/", ""},
		{"userinfo disguise", "http://google.com@evil.com/", ""},
		{"empty host", "http:///path", ""},
		{"empty port", "http://evil.com:/", ""},
		{"port zero", "http://evil.com:0/", ""},
		{"port too large", "http://evil.com:65536/", ""},
		{"port leading zero", "http://evil.com:080/", ""},
		{"port not numeric", "http://evil.com:http/", ""},
		{"max port", "http://evil.com:65535/", "http://evil.com:65535/"},
		{"relative path", "/wp-login.php?action=register", ""},
		{"host only", "evil.com/x", ""},
		{"connect host:port", "evil.com:443", ""},
		{"ftp", "ftp://evil.com/x", ""},
		{"scheme-relative", "//evil.com/x", ""},
		{"one slash", "http:/evil.com/x", ""},
		{"space in path", "http://evil.com/a b", ""},
		{"control in path", "http://evil.com/a\tb", ""},
		{"backslash host", "http://evil.com\\@good.com/", ""},
		{"trailing percent", "http://evil.com/a%", ""},
		{"double ampersand", "http://evil.com/?a=1&&b=2", ""},
		{"double pipe", "http://evil.com/?a=1||b", ""},
		{"emoji path (utf8mb3)", "http://evil.com/😀", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Normalize(URL, tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Normalize(url, %q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}
