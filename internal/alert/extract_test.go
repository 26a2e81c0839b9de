package alert

import (
	"strconv"
	"strings"
	"testing"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/google/go-cmp/cmp"
)

// ind is an indicator without Raw, which these tests do not pin.
type ind struct {
	Kind  ioc.Kind
	Value string
	Field string
}

func extractJSON(t *testing.T, data string, p *ioc.Policy, max int) ([]ind, int) {
	t.Helper()
	a, err := Parse([]byte(`{"rule":{"id":"1","level":3,"groups":["test"]},` + data + `}`))
	if err != nil {
		t.Fatal(err)
	}
	inds, capped := Extract(a, p, max)
	var got []ind
	for _, in := range inds {
		got = append(got, ind{in.Kind, in.Value, in.Field})
	}
	return got, capped
}

func TestExtract_Fields(t *testing.T) {
	tests := []struct {
		name string
		data string // members of the alert object besides rule
		want []ind
	}{
		{
			name: "sysmon hashes, every algorithm, zero imphash dropped",
			data: `"data":{"win":{"eventdata":{"hashes":"SHA1=A0643B288D5FE4494A509A87A33BF7932A7FEC1D,MD5=3B2C45100665994F5368AB30EA720722,SHA256=01AA278B07B58DC46C84BD0B1B5C8E9EE4E62EA0BF7A695862444AF32E87F1FD,IMPHASH=00000000000000000000000000000000"}}}`,
			want: []ind{
				{ioc.SHA1, "a0643b288d5fe4494a509a87a33bf7932a7fec1d", "data.win.eventdata.hashes"},
				{ioc.MD5, "3b2c45100665994f5368ab30ea720722", "data.win.eventdata.hashes"},
				{ioc.SHA256, "01aa278b07b58dc46c84bd0b1b5c8e9ee4e62ea0bf7a695862444af32e87f1fd", "data.win.eventdata.hashes"},
			},
		},
		{
			name: "hash list with sha384 and unknown algorithms skipped",
			data: `"data":{"eventdata":{"Hashes":"SHA384=` + strings.Repeat("ab", 48) + `,CRC32=1A2B3C4D,IMPHASH=82AA7F8CBD03E4DAFF52EAB60FCA116A"}}`,
			want: []ind{{ioc.Imphash, "82aa7f8cbd03e4daff52eab60fca116a", "data.eventdata.Hashes"}},
		},
		{
			name: "query results: cname skipped, mapped and plain addresses",
			data: `"data":{"win":{"eventdata":{"queryName":"Login.MicrosoftOnline.com.","queryResults":"type:  5 a.b.akadns.net;::ffff:20.190.159.2;40.126.31.67;2603:1037:1:c8::8;10.0.0.1;"}}}`,
			want: []ind{
				{ioc.Domain, "login.microsoftonline.com", "data.win.eventdata.queryName"},
				{ioc.IP, "20.190.159.2", "data.win.eventdata.queryResults"},
				{ioc.IP, "40.126.31.67", "data.win.eventdata.queryResults"},
				{ioc.IP, "2603:1037:1:c8::8", "data.win.eventdata.queryResults"},
			},
		},
		{
			name: "version fields are never addresses",
			data: `"data":{"win":{"eventdata":{"fileVersion":"1.0.0.1","destinationIp":"185.225.74.19"}},"agent_version":"8.8.8.8"}`,
			want: []ind{{ioc.IP, "185.225.74.19", "data.win.eventdata.destinationIp"}},
		},
		{
			name: "agent, location, full_log and previous_output are not sources",
			data: `"agent":{"id":"001","name":"a","ip":"185.225.74.19"},"full_log":"from 45.148.10.67","previous_output":"45.148.10.68","location":"91.215.85.147","data":{"srcuser":"root"}`,
			want: nil,
		},
		{
			name: "suricata http: domain, joined URL, expanded IPv6",
			data: `"data":{"src_ip":"2a02:8108:1f40:3c00:0000:0000:0000:0025","http":{"hostname":"Update-Check-CDN.com","url":"/dl/x.exe?a=1&b=2"}}`,
			want: []ind{
				{ioc.URL, "http://update-check-cdn.com/dl/x.exe?a=1&b=2", "data.http.hostname+data.http.url"},
				{ioc.Domain, "update-check-cdn.com", "data.http.hostname"},
				{ioc.IP, "2a02:8108:1f40:3c00::25", "data.src_ip"},
			},
		},
		{
			name: "suricata http to a private host yields no URL",
			data: `"data":{"http":{"hostname":"intranet.hlx.local","url":"/login"}}`,
			want: nil,
		},
		{
			name: "dns answers: addresses only, grouped lists, cname targets skipped",
			data: `"data":{"dns":{"queries":[{"rrname":"kq3v9x2m7ad.top"}],"answers":[{"rrname":"kq3v9x2m7ad.top","rrtype":"CNAME","ttl":300,"rdata":"edge.cdn-x.net"},{"rrname":"edge.cdn-x.net","rdata":"104.21.57.203"}],"grouped":{"A":["172.67.141.17"]}}}`,
			want: []ind{
				{ioc.Domain, "kq3v9x2m7ad.top", "data.dns.queries.0.rrname"},
				{ioc.IP, "104.21.57.203", "data.dns.answers.1.rdata"},
				{ioc.IP, "172.67.141.17", "data.dns.grouped.A.0"},
			},
		},
		{
			name: "ja3 is not a file hash, fileinfo is",
			data: `"data":{"tls":{"ja3":{"hash":"2f182f2480c07dd488804607a6f8f9b1"},"ja3s":{"hash":"a36e9afb5f46d31066c5727c18c3e378"}},"fileinfo":{"md5":"702A3FF95D7833A191251728C91F1884"}}`,
			want: []ind{{ioc.MD5, "702a3ff95d7833a191251728c91f1884", "data.fileinfo.md5"}},
		},
		{
			name: "fim before and after, nothing else under syscheck",
			data: `"syscheck":{"path":"/etc/hosts","diff":"> 91.215.85.147 x.com","md5_before":"b0dca180c8a42f892fb868c6a5513bc6","sha256_after":"B65CD59F36CAA186852DECA6439BB15B3DC6D50BDA021370595FEF2F773A8FEB","uid_after":"8.8.8.8"}`,
			want: []ind{
				{ioc.MD5, "b0dca180c8a42f892fb868c6a5513bc6", "syscheck.md5_before"},
				{ioc.SHA256, "b65cd59f36caa186852deca6439bb15b3dc6d50bda021370595fef2f773a8feb", "syscheck.sha256_after"},
			},
		},
		{
			name: "url fields: absolute only, host:port gives the host, relative nothing",
			data: `"data":{"url":"evil-proxy-target.com:443","office365":{"Url":"https://docs-sharepoint-files.top/a?b=%20c","SiteUrl":"https://tenant.sharepoint.com/sites/x"},"web":{"url":"/index.php?id=1"}}`,
			want: []ind{
				{ioc.URL, "https://docs-sharepoint-files.top/a?b=%20c", "data.office365.Url"},
				{ioc.Domain, "evil-proxy-target.com", "data.url"},
				{ioc.Domain, "docs-sharepoint-files.top", "data.office365.Url"},
			},
		},
		{
			name: "ip:port and service names are not addresses",
			data: `"data":{"office365":{"ClientIP":"45.133.216.71:51234"},"aws":{"sourceIPAddress":"autoscaling.amazonaws.com"}}`,
			want: nil,
		},
		{
			name: "IP literal in a name field is an IP, never a domain",
			data: `"data":{"hostname":"185.225.74.30","win":{"eventdata":{"queryName":"::ffff:45.227.254.26"}}}`,
			want: []ind{
				{ioc.IP, "185.225.74.30", "data.hostname"},
				{ioc.IP, "45.227.254.26", "data.win.eventdata.queryName"},
			},
		},
		{
			name: "generic pass: case-insensitive names at any depth, array elements",
			data: `"data":{"custom":{"Peers":[{"RemoteIP":"91.215.85.147"}],"SHA256_HashData":"` + strings.Repeat("A1", 32) + `","dest_domain":"Telemetry-Sync-API.net","list":["45.148.10.67","x"]}}`,
			want: []ind{
				{ioc.SHA256, strings.Repeat("a1", 32), "data.custom.SHA256_HashData"},
				{ioc.Domain, "telemetry-sync-api.net", "data.custom.dest_domain"},
				{ioc.IP, "91.215.85.147", "data.custom.Peers.0.RemoteIP"},
				{ioc.IP, "45.148.10.67", "data.custom.list.0"},
			},
		},
		{
			name: "sysmon source host name is not taken, destination is",
			data: `"data":{"win":{"eventdata":{"sourceHostname":"ws-0042.corp-example.com","destinationHostname":"vps-4471.hostingco.net"}}}`,
			want: []ind{{ioc.Domain, "vps-4471.hostingco.net", "data.win.eventdata.destinationHostname"}},
		},
		{
			name: "duplicates keep the first field",
			data: `"data":{"srcip":"45.148.10.67","flow":{"src_ip":"45.148.10.67"},"win":{"eventdata":{"hashes":"MD5=702A3FF95D7833A191251728C91F1884","hash":"MD5=702a3ff95d7833a191251728c91f1884"}}}`,
			want: []ind{
				{ioc.MD5, "702a3ff95d7833a191251728c91f1884", "data.win.eventdata.hashes"},
				{ioc.IP, "45.148.10.67", "data.srcip"},
			},
		},
		{
			name: "values over MaxValueSize are skipped",
			data: `"data":{"url":"http://update-check-cdn.com/` + strings.Repeat("a", MaxValueSize) + `","srcip":"45.148.10.67"}`,
			want: []ind{{ioc.IP, "45.148.10.67", "data.srcip"}},
		},
		{
			name: "numbers and booleans inside arrays are not values",
			data: `"data":{"answers":[{"ttl":300,"ok":true,"rdata":null}]}`,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, capped := extractJSON(t, tt.data, nil, 0)
			if capped != 0 {
				t.Errorf("capped = %d, want 0", capped)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtract_Cap(t *testing.T) {
	// Appearance order: IP, domain, md5, IP, URL; kept order: hashes, URLs,
	// domains, IPs, each by appearance.
	data := `"data":{"srcip":"45.148.10.67","hostname":"update-check-cdn.com","md5":"702a3ff95d7833a191251728c91f1884","dstip":"185.225.74.19","office365":{"Url":"https://zonedatapro.info/x"}}`
	all := []ind{
		{ioc.MD5, "702a3ff95d7833a191251728c91f1884", "data.md5"},
		{ioc.URL, "https://zonedatapro.info/x", "data.office365.Url"},
		{ioc.Domain, "update-check-cdn.com", "data.hostname"},
		{ioc.Domain, "zonedatapro.info", "data.office365.Url"},
		{ioc.IP, "45.148.10.67", "data.srcip"},
		{ioc.IP, "185.225.74.19", "data.dstip"},
	}
	tests := []struct {
		name       string
		max        int
		want       []ind
		wantCapped int
	}{
		{"no cap", 0, all, 0},
		{"negative is no cap", -1, all, 0},
		{"cap above count", 10, all, 0},
		{"cap equal to count", 6, all, 0},
		{"cap keeps most specific", 3, all[:3], 3},
		{"cap one", 1, all[:1], 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, capped := extractJSON(t, data, nil, tt.max)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
			if capped != tt.wantCapped {
				t.Errorf("capped = %d, want %d", capped, tt.wantCapped)
			}
		})
	}
}

func TestExtract_Policy(t *testing.T) {
	p, err := ioc.NewPolicy([]string{"halvorsen-logistics.com", "45.148.10.0/24"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := `"data":{"srcip":"45.148.10.67","dstip":"185.225.74.19","hostname":"www.halvorsen-logistics.com","url":"https://www.halvorsen-logistics.com/login"}`
	got, _ := extractJSON(t, data, p, 0)
	want := []ind{{ioc.IP, "185.225.74.19", "data.dstip"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Extract mismatch (-want +got):\n%s", diff)
	}
}

func TestExtract_Nil(t *testing.T) {
	if inds, capped := Extract(nil, nil, 5); inds != nil || capped != 0 {
		t.Errorf("Extract(nil) = %v, %d", inds, capped)
	}
}

// TestExtract_Many checks dedup and the cap past the point where
// duplicates are found through a map.
func TestExtract_Many(t *testing.T) {
	var b strings.Builder
	b.WriteString(`"data":{"list":[`)
	for i := range 3000 {
		if i > 0 {
			b.WriteByte(',')
		}
		// 1000 distinct addresses, each three times.
		b.WriteString(`"45.148.` + strconv.Itoa(10+(i%1000)/250) + `.` + strconv.Itoa(1+(i%1000)%250) + `"`)
	}
	b.WriteString(`]}`)
	got, capped := extractJSON(t, b.String(), nil, 0)
	if len(got) != 1000 || capped != 0 {
		t.Fatalf("got %d indicators, capped %d; want 1000, 0", len(got), capped)
	}
	if got[0].Value != "45.148.10.1" || got[999].Value != "45.148.13.250" || got[999].Field != "data.list.999" {
		t.Errorf("order: first %v, last %v", got[0], got[999])
	}
	got, capped = extractJSON(t, b.String(), nil, 100)
	if len(got) != 100 || capped != 900 {
		t.Errorf("cap 100: got %d, capped %d", len(got), capped)
	}
}

// TestExtract_FileNames is issue 10 item 8: file names are not sent as
// domains. A name needs a delegated TLD (config.json never is a domain);
// on a TLD that is also a file extension, a bare name.ext in a URL field
// is a relative link to a file, while in a field that holds host names,
// with a port, in an absolute URL or with more labels it is a host.
func TestExtract_FileNames(t *testing.T) {
	tests := []struct {
		name string
		data string // the data object
		want []ind
	}{
		// Dropped: no TLD.
		{"config.json in a host field", `{"hostname":"config.json"}`, nil},
		{"config.json in a url field", `{"url":"config.json"}`, nil},
		{"settings.conf in a domain field", `{"dest_domain":"settings.conf"}`, nil},
		{"access.log in a query field", `{"query":"access.log"}`, nil},
		{"setup.exe in an sni field", `{"tls":{"sni":"setup.exe"}}`, nil},
		{"jquery.min.js in a url field", `{"request_url":"jquery.min.js"}`, nil},
		{"absolute url on a file name", `{"url":"http://config.json/x"}`, nil},
		// Dropped: a file name in a URL field.
		{"readme.md in a url field", `{"url":"readme.md"}`, nil},
		{"install.sh in a url field", `{"web":{"url":"install.sh"}}`, nil},
		{"script.py in a url field", `{"request_url":"script.py"}`, nil},
		{"upper-case file name in a url field", `{"office365":{"Url":"Invoice.ZIP"}}`, nil},
		{"perl script in a url field", `{"referrer_url":" cgi.pl "}`, nil},
		// Kept: hosts on file-extension TLDs.
		{"zip name in a host field", `{"hostname":"microsoft-office.zip"}`,
			[]ind{{ioc.Domain, "microsoft-office.zip", "data.hostname"}}},
		{"mov name in an sni field", `{"tls":{"sni":"Update-Player.MOV"}}`,
			[]ind{{ioc.Domain, "update-player.mov", "data.tls.sni"}}},
		{"md name asked of a resolver", `{"win":{"eventdata":{"queryName":"readme.md"}}}`,
			[]ind{{ioc.Domain, "readme.md", "data.win.eventdata.queryName"}}},
		{"sh name in a query field", `{"query":"bun.sh"}`,
			[]ind{{ioc.Domain, "bun.sh", "data.query"}}},
		{"pl name in a domain field", `{"dest_domain":"allegro.pl"}`,
			[]ind{{ioc.Domain, "allegro.pl", "data.dest_domain"}}},
		{"rs name in a destination host name", `{"win":{"eventdata":{"destinationHostname":"b92.rs"}}}`,
			[]ind{{ioc.Domain, "b92.rs", "data.win.eventdata.destinationHostname"}}},
		{"absolute url on a zip host", `{"url":"https://github-release.zip/v2/setup.exe"}`,
			[]ind{{ioc.URL, "https://github-release.zip/v2/setup.exe", "data.url"}, {ioc.Domain, "github-release.zip", "data.url"}}},
		{"zip host with a port in a url field", `{"url":"github-release.zip:443"}`,
			[]ind{{ioc.Domain, "github-release.zip", "data.url"}}},
		{"three labels in a url field", `{"url":"sklep.allegro.pl"}`,
			[]ind{{ioc.Domain, "sklep.allegro.pl", "data.url"}}},
		{"trailing dot in a url field", `{"url":"update-player.mov."}`,
			[]ind{{ioc.Domain, "update-player.mov", "data.url"}}},
		{"other tld in a url field", `{"url":"update-check-cdn.com"}`,
			[]ind{{ioc.Domain, "update-check-cdn.com", "data.url"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := extractJSON(t, `"data":`+tt.data, nil, 0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
