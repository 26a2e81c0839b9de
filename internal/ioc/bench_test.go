package ioc

import "testing"

// BenchmarkNormalize covers the values a typical alert carries; Normalize
// runs for every candidate value of every alert.
func BenchmarkNormalize(b *testing.B) {
	cases := []struct {
		name string
		k    Kind
		in   string
	}{
		{"ipv4", IP, "45.227.254.26"},
		{"ipv4-mapped", IP, "::ffff:45.227.254.26"},
		{"ipv6-expanded", IP, "2a0e:97c0:03e3:0a5f:0000:0000:0000:0001"},
		{"ipv4-private", IP, "10.20.30.41"},
		{"domain-canonical", Domain, "update-check-cdn.com"},
		{"domain-mixed-case-dot", Domain, "Login.MicrosoftOnline.com."},
		{"domain-idn", Domain, "münchen.de"},
		{"url-canonical", URL, "http://zonedatapro.info/wp-content/uploads/2026/11/inv.php?id=88213&u=aokafor"},
		{"url-upper-host", URL, "HTTP://Update-Check-CDN.com/dl/setup_x64.exe?build=2291"},
		{"sha256-upper", SHA256, "E2E4D5236AAFCF20BB5C53450822ABAB83F07329D403B90E0D4C333AB74738E3"},
		{"md5-lower", MD5, "44d88612fea8a8f36de82e1278abb02f"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Normalize(c.k, c.in)
			}
		})
	}
}

// BenchmarkClassify covers the generic pass over data.* leaves, most of
// which are not indicators.
func BenchmarkClassify(b *testing.B) {
	for _, c := range []struct{ name, in string }{
		{"ip", "45.227.254.26"},
		{"domain", "Login.MicrosoftOnline.com"},
		{"sha256", "E2E4D5236AAFCF20BB5C53450822ABAB83F07329D403B90E0D4C333AB74738E3"},
		{"not-an-ioc", "C:\\\\Windows\\\\System32\\\\svchost.exe"},
		{"number", "1290676619397068.000000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Classify(c.in)
			}
		})
	}
}
