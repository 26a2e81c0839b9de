package ioc

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Kind // "" means not classified
	}{
		{"ipv4", "45.227.254.26", IP},
		{"private ipv4 still an ip", "10.20.0.1", IP},
		{"version-like", "1.0.0.1", IP},
		{"mapped", "::ffff:45.227.254.26", IP},
		{"expanded ipv6", "2a0e:97c0:03e3:0a5f:0000:0000:0000:0001", IP},
		{"md5 length", strings.Repeat("ab", 16), MD5},
		{"all-zero imphash shape", strings.Repeat("0", 32), MD5},
		{"sha1 length", strings.Repeat("AB", 20), SHA1},
		{"sha256 length", strings.Repeat("ab", 32), SHA256},
		{"sha512 length", strings.Repeat("ab", 64), SHA512},
		{"hex of no hash length", strings.Repeat("ab", 15), ""},
		{"url", "http://evil.com/x", URL},
		{"url on private host", "http://10.0.0.1/", URL},
		{"domain", "Login.MicrosoftOnline.com.", Domain},
		{"special-use domain", "dc01.hlx.local", Domain},
		{"file name: syntax only, Normalize refuses it", "config.json", Domain},
		{"idn", "münchen.de", Domain},
		{"single label", "wpad", ""},
		{"ip:port", "45.227.254.26:443", ""},
		{"relative url", "/index.php", ""},
		{"path", "C:\\Windows\\System32\\cmd.exe", ""},
		{"number", "443", ""},
		{"float", "52.382400", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Classify(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Classify(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}
