package ioc

import (
	"strings"
	"testing"
)

func TestNormalize_Domain(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 4 labels of 61, each with its dot, + "com" = 251; with "a." in front, 253.
	long := strings.Repeat(strings.Repeat("b", 61)+".", 4) + "com"
	tests := []struct {
		name, in, want string // want "" means rejected
	}{
		{"plain", "update-check-cdn.com", "update-check-cdn.com"},
		// README quirks: the query name keeps the application's case and
		// trailing dot.
		{"mixed case", "Login.MicrosoftOnline.com", "login.microsoftonline.com"},
		{"trailing dot", "raw.githubusercontent.com.", "raw.githubusercontent.com"},
		{"two trailing dots", "raw.githubusercontent.com..", ""},
		{"leading dot", ".example-corp.com", ""},
		{"empty label", "www..example-corp.com", ""},
		{"surrounding space", " cdn-static-assets.xyz ", "cdn-static-assets.xyz"},
		{"digits and hyphens", "kq3v9x2m7ad.top", "kq3v9x2m7ad.top"},
		{"numeric labels under a tld", "1.2.3.4.nip.io", "1.2.3.4.nip.io"},
		{"idn", "münchen.de", "xn--mnchen-3ya.de"},
		{"idn upper case", "MÜNCHEN.DE", "xn--mnchen-3ya.de"},
		{"idn tld", "пример.рф", "xn--e1afmkfd.xn--p1ai"},
		{"idn cjk", "中国.公司", "xn--fiqs8s.xn--55qx5d"},
		{"a-label kept", "XN--MNCHEN-3YA.de", "xn--mnchen-3ya.de"},
		{"fake a-label with unicode", "xn--ü.de", ""},
		{"unicode symbol", "a☃b.com", ""},
		{"unicode space", "a\u00a0b.com", ""},
		{"invalid utf8", "a\xffb.com", ""},
		{"idn leading hyphen", "-ü.com", ""},
		{"label 63", label63 + ".com", label63 + ".com"},
		{"label 64", label63 + "a.com", ""},
		{"name 253", "a." + long, "a." + long},
		{"name 254", "ab." + long, ""},
		{"leading hyphen", "-evil.com", ""},
		{"trailing hyphen", "evil-.com", ""},
		{"inner underscore", "my_host.duckdns.org", "my_host.duckdns.org"},
		{"service label", "_ldap._tcp.dc._msdcs.example-corp.com", ""},
		{"dmarc", "_dmarc.example-corp.com", ""},
		{"underscore tld", "evil.c_m", ""},
		{"wildcard", "*.evil.com", ""},
		{"single label wpad", "wpad", ""},
		{"single label with dot", "wpad.", ""},
		{"localhost", "localhost", ""},
		{"under localhost", "app.localhost", ""},
		{"local", "dc01.hlx.local", ""},
		{"local trailing dot upper", "DC01.HLX.LOCAL.", ""},
		{"test", "www.test", ""},
		{"example tld", "www.example", ""},
		{"example.com", "www.example.com", ""},
		{"invalid", "foo.invalid", ""},
		{"internal", "corp.internal", ""},
		{"lan", "nas.lan", ""},
		{"home", "router.home", ""},
		{"corp", "intranet.corp", ""},
		{"intranet", "wiki.intranet", ""},
		{"onion", "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", ""},
		{"home.arpa", "printer.home.arpa", ""},
		{"reverse zone", "26.254.227.45.in-addr.arpa", ""},
		{"similar but public", "mylocal.com", "mylocal.com"},
		{"special word as inner label", "local.evil.com", "local.evil.com"},
		{"ip literal", "45.227.254.26", ""},
		{"ipv6 literal", "2a00:1450::1", ""},
		{"numeric tld", "evil.123", ""},
		{"one-letter tld", "evil.c", ""},
		{"alnum tld", "evil.c0m", ""},
		{"idn tld shape", "evil.xn--p1ai", "evil.xn--p1ai"},
		{"bad idn tld", "evil.xn--p1_ai", ""},
		{"port", "evil.com:443", ""},
		{"url", "http://evil.com", ""},
		{"path", "evil.com/x", ""},
		{"email", "user@evil.com", ""},
		{"filter syntax percent", "%evil.com", ""},
		{"filter syntax bang", "!evil.com", ""},
		{"filter syntax or", "a.com||b.com", ""},
		{"empty", "", ""},
		{"dot", ".", ""},
		// Issue 10 item 8: a domain needs a TLD IANA has delegated, so
		// file names on extensions that are no TLD are refused here.
		{"file name json", "config.json", ""},
		{"file name txt", "readme.txt", ""},
		{"file name exe", "svchost_upd.exe", ""},
		{"file name log", "access.log", ""},
		{"file name conf", "nginx.conf", ""},
		{"file name dll", "version.dll", ""},
		{"dotted file name", "jquery.min.js", ""},
		{"undelegated tld", "update-check.cdnx", ""},
		{"undelegated tld upper case", "CONFIG.JSON", ""},
		{"new gtld", "kq3v9x2m7ad.top", "kq3v9x2m7ad.top"},
		{"file-extension tld zip", "microsoft-update.zip", "microsoft-update.zip"},
		{"file-extension tld md", "readme.md", "readme.md"},
		{"cctld pl", "Allegro.PL", "allegro.pl"},
		{"idn tld in unicode", "пример.РФ", "xn--e1afmkfd.xn--p1ai"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Normalize(Domain, tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Normalize(domain, %q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

// TestPunycode checks the encoder on the RFC 3492 §7.1 samples (lower-cased
// basic code points, as DNS stores them) and on well-known domain labels.
func TestPunycode(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"rfc3492 A arabic", "\u0644\u064A\u0647\u0645\u0627\u0628\u062A\u0643\u0644\u0645\u0648\u0634\u0639\u0631\u0628\u064A\u061F", "egbpdaj6bu4bxfgehfvwxn"},
		{"rfc3492 B chinese simplified", "\u4ED6\u4EEC\u4E3A\u4EC0\u4E48\u4E0D\u8BF4\u4E2D\u6587", "ihqwcrb4cv8a8dqg056pqjye"},
		{"rfc3492 C chinese traditional", "\u4ED6\u5011\u7232\u4EC0\u9EBD\u4E0D\u8AAA\u4E2D\u6587", "ihqwctvzc91f659drss3x8bo0yb"},
		{"rfc3492 L mixed", "3\u5E74b\u7D44\u91D1\u516B\u5148\u751F", "3b-ww4c5e180e575a65lsy2b"},
		{"rfc3492 S all basic", "-> $1.00 <-", "-> $1.00 <--"},
		{"umlaut", "münchen", "mnchen-3ya"},
		{"bücher", "bücher", "bcher-kva"},
		{"sharp s", "faß", "fa-hia"},
		{"cyrillic", "пример", "e1afmkfd"},
		{"single", "ü", "tda"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			punycode(&b, tc.in)
			if got := b.String(); got != tc.want {
				t.Errorf("punycode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLooksLikeFileName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"readme.md", true},
		{"setup.zip", true},
		{"Invoice.ZIP", true},
		{" install.sh ", true},
		{"script.py", true},
		{"cgi.pl", true},
		{"main.rs", true},
		{"doc.ps", true},
		{"clip.mov", true},
		{"microsoft-office.zip", true},  // a host or a file: the field decides
		{"sklep.allegro.pl", false},     // three labels
		{"update-player.mov.", false},   // a trailing dot is DNS
		{"setup.zip:443", false},        // a port is a host
		{"config.json", false},          // no TLD at all: Normalize refuses it
		{"update-check-cdn.com", false}, // not a file extension
		{".md", false},
		{"md", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := LooksLikeFileName(tc.in); got != tc.want {
				t.Errorf("LooksLikeFileName(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// TestFileExtensionTLDs checks that every file-extension TLD is delegated:
// otherwise Normalize would refuse its names anyway.
func TestFileExtensionTLDs(t *testing.T) {
	for _, tld := range fileExtensionTLDs {
		if !isTLD(tld) {
			t.Errorf("%q is on fileExtensionTLDs but not a delegated TLD", tld)
		}
	}
}
