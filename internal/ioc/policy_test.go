package ioc

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewPolicy_Error(t *testing.T) {
	tests := []struct {
		name           string
		exclude, allow []string
		wantErr        string
	}{
		{"bad cidr", []string{"example-corp.com", "10.0.0.0/33"}, nil, `exclude "10.0.0.0/33": not a domain, IP address or CIDR prefix`},
		{"cidr with zone", []string{"fe80::%eth0/64"}, nil, `exclude "fe80::%eth0/64": not a domain, IP address or CIDR prefix`},
		{"url", []string{"https://example-corp.com/"}, nil, `exclude "https://example-corp.com/": not a domain, IP address or CIDR prefix`},
		{"ip with port", []string{"203.0.113.7:443"}, nil, `exclude "203.0.113.7:443": not a domain, IP address or CIDR prefix`},
		{"truncated ip", []string{"10.0.0"}, nil, `exclude "10.0.0": not a domain, IP address or CIDR prefix`},
		{"empty", []string{""}, nil, `exclude "": not a domain, IP address or CIDR prefix`},
		{"space inside", []string{"example corp.com"}, nil, `exclude "example corp.com": not a domain, IP address or CIDR prefix`},
		{"bad allowed suffix", nil, []string{"lan", "corp..internal"}, `allowed suffix "corp..internal": not a domain name`},
		{"numeric allowed suffix", nil, []string{"10"}, `allowed suffix "10": not a domain name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(tc.exclude, tc.allow)
			if err == nil {
				t.Fatalf("NewPolicy(%q, %q) = %v, nil; want error %q", tc.exclude, tc.allow, p, tc.wantErr)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("NewPolicy error = %q, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestPolicy_Indicator(t *testing.T) {
	p, err := NewPolicy(
		[]string{"example-corp.com", "*.partner.net", " 198.51.0.0/16 ", "2a01:4f8::/32", "45.227.254.26", "::ffff:93.184.0.0/112", "10.20.0.0/16"},
		[]string{"lan", ".corp.internal", "LOCAL."},
	)
	if err != nil {
		t.Fatalf("NewPolicy: %v", err)
	}
	tests := []struct {
		name string
		k    Kind
		raw  string
		want string // "" means not an indicator
	}{
		{"excluded domain", Domain, "example-corp.com", ""},
		{"excluded subdomain", Domain, "WWW.Example-Corp.com.", ""},
		{"label boundary", Domain, "notexample-corp.com", "notexample-corp.com"},
		{"excluded with star prefix", Domain, "a.partner.net", ""},
		{"url on excluded host", URL, "https://mail.example-corp.com/owa", ""},
		{"url on other host", URL, "https://example-corp.com.evil.top/owa", "https://example-corp.com.evil.top/owa"},
		{"excluded cidr", IP, "198.51.7.7", ""},
		{"outside cidr", IP, "198.52.7.7", "198.52.7.7"},
		{"excluded ipv6 cidr", IP, "2a01:04f8:0c17:4bd2:0000:0000:0000:0001", ""},
		{"excluded single ip", IP, "45.227.254.26", ""},
		{"excluded single ip, mapped form", IP, "::ffff:45.227.254.26", ""},
		{"mapped cidr entry", IP, "93.184.216.34", ""},
		{"url on excluded ip", URL, "http://45.227.254.26/x", ""},
		{"url on excluded ipv6", URL, "http://[2a01:4f8::1]:80/x", ""},
		{"excluding private changes nothing", IP, "10.20.0.1", ""},
		{"allowed lan", Domain, "nas.lan", "nas.lan"},
		{"allowed local, given in upper case", Domain, "DC01.hlx.local", "dc01.hlx.local"},
		{"allowed corp.internal", Domain, "git.corp.internal", "git.corp.internal"},
		{"corp.internal does not allow internal", Domain, "git.other.internal", ""},
		{"url on allowed suffix", URL, "http://nas.lan/admin", "http://nas.lan/admin"},
		{"single label still refused", Domain, "lan", ""},
		{"undelegated tld refused", Domain, "nas.hlx", ""},
		{"url on undelegated tld refused", URL, "http://config.json/x", ""},
		{"other special-use still refused", Domain, "www.test", ""},
		{"hash unaffected", SHA1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := p.Indicator(tc.k, tc.raw, "data.x")
			if ok != (tc.want != "") {
				t.Fatalf("Indicator(%s, %q) = %+v, %v; want %q", tc.k, tc.raw, got, ok, tc.want)
			}
			if !ok {
				return
			}
			want := Indicator{Kind: tc.k, Value: tc.want, Raw: tc.raw, Field: "data.x"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Indicator(%s, %q) mismatch (-want +got):\n%s", tc.k, tc.raw, diff)
			}
		})
	}
}

// TestPolicy_Nil checks that a nil policy applies the defaults.
func TestPolicy_Nil(t *testing.T) {
	var p *Policy
	if got, ok := p.Indicator(Domain, "nas.lan", "f"); ok {
		t.Errorf("nil policy let a special-use name through: %+v", got)
	}
	got, ok := p.Indicator(IP, "::ffff:45.227.254.26", "data.win.eventdata.ipAddress")
	want := Indicator{Kind: IP, Value: "45.227.254.26", Raw: "::ffff:45.227.254.26", Field: "data.win.eventdata.ipAddress"}
	if !ok {
		t.Fatal("nil policy refused a global address")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	empty, err := NewPolicy(nil, nil)
	if err != nil {
		t.Fatalf("NewPolicy(nil, nil): %v", err)
	}
	if got2, ok := empty.Indicator(IP, "::ffff:45.227.254.26", "data.win.eventdata.ipAddress"); !ok || got2 != got {
		t.Errorf("empty policy = %+v, %v; want %+v as the nil policy", got2, ok, got)
	}
}
