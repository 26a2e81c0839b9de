package alert

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/tidwall/gjson"
)

// MaxValueSize caps the JSON-encoded length of a field value that extraction
// looks at. Indicators and the lists that carry them (Sysmon hashes and
// queryResults, URLs) are far shorter; longer values are command lines,
// messages or payloads, which are not sources, so they are skipped unparsed.
const MaxValueSize = 8 << 10

// maxDepth caps how deep extraction descends into the alert. Parse already
// empties every part nested beyond MaxNesting; this bounds the walk of an
// Alert whose Root was built some other way.
const maxDepth = MaxNesting

// dedupIndexAt is how many indicators an alert may yield before duplicates
// are found through a map instead of a scan: most alerts yield a handful.
const dedupIndexAt = 32

// Extract returns the indicators in alert a, normalised and vetted by policy
// p (nil means the defaults), without duplicates. They are ordered by kind
// specificity (hashes, URLs, domains, IPs), then by where they first appear.
// When max > 0 only the first max are returned and capped says how many were
// dropped.
//
// Only the alert's data and syscheck objects are sources: agent.ip, location,
// full_log and previous_output never are. Which fields yield what is decided
// by the rules table below, from the field's path and name, never from the
// rule groups.
func Extract(a *Alert, p *ioc.Policy, max int) (inds []ioc.Indicator, capped int) {
	if a == nil {
		return nil, 0
	}
	x := extractor{policy: p, out: make([]ioc.Indicator, 0, 8)}
	x.path = make([]byte, 0, 128)
	x.key = make([]byte, 0, 128)
	// Get, not ForEach over the top level: ForEach would unescape full_log
	// and previous_output, the longest strings of an alert.
	for _, root := range [...]string{"data", "syscheck"} {
		v := a.Root.Get(root)
		if !v.Exists() {
			continue
		}
		x.path = append(x.path[:0], root...)
		x.key = append(x.key[:0], root...)
		x.walk(v, gjson.Result{}, 0)
	}
	slices.SortStableFunc(x.out, func(a, b ioc.Indicator) int {
		return cmp.Compare(a.Kind.Rank(), b.Kind.Rank())
	})
	if max > 0 && len(x.out) > max {
		capped = len(x.out) - max
		x.out = x.out[:max:max]
	}
	return x.out, capped
}

// A parser turns one field value into indicators through x.emit.
type parser func(x *extractor, v string, parent gjson.Result)

// rule says how the values of the fields matching pattern are read.
type rule struct {
	// pattern is matched against the field's path, lower-cased, without
	// array indexes (data.office365.attachmentdata.sha256):
	//   "data.url"      the whole path;
	//   ".tls.sni"      the path ends with these segments, at any depth;
	//   "~hash"         the field's own name contains this text.
	pattern string
	parse   parser
}

// rules is the one place that decides which fields are sources and how
// they are read (read-only). The first matching rule wins, so exceptions
// come before the generic rules. A string field under data that matches no
// rule is an indicator only when its whole value is a global IP address
// (srcip, dstip, src_ip, dest_ip, destinationIp, ipAddress, ClientIP,
// SenderIp, ipAddressV4, publicIp, remote_address, ...). Fields under
// syscheck that match no rule are skipped.
var rules = []rule{
	// Values that look like indicators but are not.
	{"~version", skip},                                 // fileVersion 1.0.0.1 parses as an IP
	{".ja3.hash", skip},                                // TLS client fingerprints, not file hashes
	{".ja3s.hash", skip},                               //
	{"~ja4", skip},                                     //
	{".eventdata.sourcehostname", skip},                // Sysmon EID 3: normally our own machine
	{".aws.tlsdetails.clientprovidedhostheader", skip}, // the AWS endpoint that was called
	{".osquery.decorations.hostname", skip},            // the osquery host itself
	{".osquery.hostidentifier", skip},                  //
	{".office365.siteurl", skip},                       // the tenant's own SharePoint site

	// Sysmon (Windows EventChannel and Linux): ALG=HEX lists in EID 1, 6,
	// 7, 15 (hash), 23, 24, 26, 29; DNS names and answers in EID 22;
	// destinationHostname in EID 3.
	{".eventdata.hashes", hashes},
	{".eventdata.hash", hashes},
	{"~queryresults", queryResults}, // "type:  5 cname;::ffff:1.2.3.4;2a00::1;"
	{"~queryname", host},
	{".eventdata.destinationhostname", host},

	// Suricata eve.json.
	{"data.http.url", httpURL},        // path + http.hostname -> http://host/path
	{".http.hostname", host},          //
	{".tls.sni", host},                //
	{".dns.answers.rdata", ipOnly},    // CNAME targets are CDN names, not sources
	{".dns.answers.rrname", skip},     // the query name again, or a CNAME target
	{".dns.authorities.rrname", skip}, // a zone, not what was looked up
	{"~rrname", host},                 // dns.rrname, dns.query[].rrname, dns.queries[].rrname

	// FIM: the hashes are top level, not under data.
	{"syscheck.md5_after", hash},
	{"syscheck.sha1_after", hash},
	{"syscheck.sha256_after", hash},
	{"syscheck.md5_before", hash},
	{"syscheck.sha1_before", hash},
	{"syscheck.sha256_before", hash},

	// Syslog static fields (FortiGate, Squid, web access logs): url is a
	// source only when absolute (Squid CONNECT gives host:port).
	{"data.url", urlOrHost},
	{"data.hostname", host},
	{"data.analyticscksum", hash}, // FortiGate AV: SHA-256 of the file

	// Cloud: aws.sourceIPAddress may be a service name (not a source);
	// Office 365 Safe Links record the clicked Url.
	{".aws.sourceipaddress", ipOnly},
	{".office365.url", urlOrHost},

	// Generic, by field name: Office 365 AttachmentData[].SHA256, osquery
	// md5/sha1/sha256 columns, Suricata fileinfo, and any other family.
	{"~hash", hashes}, // a hash (imphash too), or an ALG=HEX list
	{"~md5", hash},
	{"~sha1", hash},
	{"~sha256", hash},
	{"~sha512", hash},
	{"~checksum", hash},
	{"~cksum", hash},
	{"~url", urlOrHost},
	{"~host", hostOrURL},
	{"~domain", hostOrURL},
	{"~query", hostOrURL},
	{"~qname", host},
	{"~sni", host},
}

type extractor struct {
	policy *ioc.Policy
	path   []byte // dotted path as written, with array indexes: the Field of what is found
	key    []byte // lower-cased path without array indexes: what rules match
	out    []ioc.Indicator
	index  map[dedupKey]struct{} // built once out grows past dedupIndexAt
}

type dedupKey struct {
	kind  ioc.Kind
	value string
}

// walk visits v, the value at x.path, in document order.
func (x *extractor) walk(v, parent gjson.Result, depth int) {
	if depth > maxDepth {
		return
	}
	switch {
	case v.IsObject():
		v.ForEach(func(k, c gjson.Result) bool {
			pl, kl := len(x.path), len(x.key)
			x.path = append(append(x.path, '.'), k.Str...)
			x.key = append(x.key, '.')
			for i := 0; i < len(k.Str); i++ {
				x.key = append(x.key, lower(k.Str[i]))
			}
			x.walk(c, v, depth+1)
			x.path, x.key = x.path[:pl], x.key[:kl]
			return true
		})
	case v.IsArray():
		i := 0
		v.ForEach(func(_, c gjson.Result) bool {
			pl := len(x.path)
			x.path = strconv.AppendInt(append(x.path, '.'), int64(i), 10)
			x.walk(c, parent, depth+1)
			x.path = x.path[:pl]
			i++
			return true
		})
	case v.Type == gjson.String:
		// Only strings: Wazuh turns every scalar under data into one, and
		// the numbers and booleans left inside arrays are never indicators.
		if len(v.Raw) > MaxValueSize {
			return
		}
		if parse := x.match(); parse != nil {
			parse(x, v.Str, parent)
		} else if hasPrefix(x.key, "data.") {
			ipOnly(x, v.Str, parent)
		}
	}
}

// match returns the parser of the first rule matching the current field.
func (x *extractor) match() parser {
	name := x.key[lastDot(x.key)+1:]
	for i := range rules {
		r := &rules[i]
		switch r.pattern[0] {
		case '~':
			if contains(name, r.pattern[1:]) {
				return r.parse
			}
		case '.':
			if hasSuffix(x.key, r.pattern) {
				return r.parse
			}
		default:
			if string(x.key) == r.pattern {
				return r.parse
			}
		}
	}
	return nil
}

// emit vets raw as kind k under the policy and records it once, with field
// (the current path when empty). It reports whether raw is an indicator.
func (x *extractor) emit(k ioc.Kind, raw, field string) bool {
	ind, ok := x.policy.Indicator(k, raw, "")
	if !ok {
		return false
	}
	key := dedupKey{ind.Kind, ind.Value}
	if x.index != nil {
		if _, dup := x.index[key]; dup {
			return true
		}
	} else {
		for i := range x.out {
			if x.out[i].Kind == key.kind && x.out[i].Value == key.value {
				return true
			}
		}
	}
	if field == "" {
		field = string(x.path)
	}
	ind.Field = field
	x.out = append(x.out, ind)
	switch {
	case x.index != nil:
		x.index[key] = struct{}{}
	case len(x.out) > dedupIndexAt:
		x.index = make(map[dedupKey]struct{}, 2*len(x.out))
		for _, o := range x.out {
			x.index[dedupKey{o.Kind, o.Value}] = struct{}{}
		}
	}
	return true
}

// vet reports whether raw is an indicator of kind k, without recording it.
func (x *extractor) vet(k ioc.Kind, raw string) bool {
	_, ok := x.policy.Indicator(k, raw, "")
	return ok
}

func skip(*extractor, string, gjson.Result) {}

// ipOnly takes a value that is an IP address as a whole, nothing else
// (not ip:port, not a name).
func ipOnly(x *extractor, v string, _ gjson.Result) {
	if isIP(v) {
		x.emit(ioc.IP, v, "")
	}
}

// host takes an IP address or a domain name, optionally followed by a
// :port. An IP literal is never taken as a domain.
func host(x *extractor, v string, _ gjson.Result) {
	h, kind := hostKind(v)
	if kind != "" {
		x.emit(kind, h, "")
	}
}

// hostOrURL takes an absolute http(s) URL (and its host), or else a host
// as host does. Relative paths yield nothing.
func hostOrURL(x *extractor, v string, parent gjson.Result) {
	if isAbsURL(v) {
		x.url(v, "")
		return
	}
	host(x, v, parent)
}

// urlOrHost reads a field named for a URL: an absolute http(s) URL (and its
// host), or else a host as host does, unless the value reads as a file name.
//
// A name on a TLD that is also a file extension (ioc.LooksLikeFileName:
// readme.md, setup.zip, script.py) is a file name, and skipped, only when
// it is two labels without a port in a field named for a URL and is not an
// absolute URL: such a value is a relative reference, a link to a file.
// Everywhere else it is a host: the host of an absolute URL, a host:port,
// a name of three or more labels (sklep.allegro.pl), and any value of a
// field that holds host names (host, domain and sni fields, DNS query
// names). There a resolver or a TLS client was given the name, so it is a
// domain whatever it looks like: microsoft-office.zip in an SNI is the
// phishing the .zip TLD is known for, and allegro.pl a Polish site.
func urlOrHost(x *extractor, v string, parent gjson.Result) {
	if !isAbsURL(v) && ioc.LooksLikeFileName(v) {
		return
	}
	hostOrURL(x, v, parent)
}

// httpURL reads Suricata's http.url: a path joined with the sibling
// http.hostname into http://host/path, or an absolute URL (proxy requests).
func httpURL(x *extractor, v string, parent gjson.Result) {
	if isAbsURL(v) {
		x.url(v, "")
		return
	}
	if !strings.HasPrefix(v, "/") {
		return
	}
	h, kind := hostKind(parent.Get("hostname").Str)
	if kind == "" || !x.vet(kind, h) {
		return
	}
	if kind == ioc.IP && strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	dir := x.path[:lastDot(x.path)+1]
	field := string(dir) + "hostname+" + string(x.path)
	x.emit(ioc.URL, "http://"+h+v, field)
}

// url records an absolute URL together with its host, but only when the
// host is itself an indicator: a URL on a private address, a special-use
// or single-label name, or an excluded domain is not worth a lookup.
func (x *extractor) url(v, field string) {
	h, kind := hostKind(urlHost(v))
	if kind == "" || !x.vet(kind, h) {
		return
	}
	if x.emit(ioc.URL, v, field) {
		x.emit(kind, h, field)
	}
}

// hash takes one hex digest whose algorithm the field name gives, or
// whose length gives it when the name is generic (hash, checksum).
func hash(x *extractor, v string, _ gjson.Result) {
	name := x.key[lastDot(x.key)+1:]
	k, ok := hashKindOf(name)
	if !ok {
		return
	}
	if k == "" {
		k = hashKindByLen(len(strings.TrimSpace(v)))
	}
	if k != "" {
		x.emit(k, v, "")
	}
}

// hashes takes a Sysmon-style ALG=HEX,ALG=HEX list, or a single digest.
func hashes(x *extractor, v string, parent gjson.Result) {
	if !strings.Contains(v, "=") {
		hash(x, v, parent)
		return
	}
	for pair := range strings.SplitSeq(v, ",") {
		alg, hex, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		var name [16]byte
		alg = strings.TrimSpace(alg)
		if len(alg) > len(name) {
			continue
		}
		for i := 0; i < len(alg); i++ {
			name[i] = lower(alg[i])
		}
		if k, ok := hashKindOf(name[:len(alg)]); ok && k != "" {
			x.emit(k, hex, "")
		}
	}
}

// queryResults reads Sysmon EID 22 answers: ';'-terminated entries that are
// addresses (IPv4, ::ffff:-mapped IPv4, IPv6) or "type:  N name" records for
// other types (CNAMEs), which are CDN names and not sources.
func queryResults(x *extractor, v string, _ gjson.Result) {
	for e := range strings.SplitSeq(v, ";") {
		e = strings.TrimSpace(e)
		if e == "" || strings.HasPrefix(e, "type:") {
			continue
		}
		if isIP(e) {
			x.emit(ioc.IP, e, "")
		}
	}
}

// hashKindOf maps a lower-case field or algorithm name to a hash kind. It
// returns "" with ok when the name says hash without naming an algorithm
// (the length decides), and !ok for algorithms we have no kind for.
func hashKindOf(name []byte) (ioc.Kind, bool) {
	switch {
	case contains(name, "imphash"):
		return ioc.Imphash, true
	case contains(name, "sha512"):
		return ioc.SHA512, true
	case contains(name, "sha384"), contains(name, "sha224"), contains(name, "ssdeep"), contains(name, "tlsh"):
		return "", false
	case contains(name, "sha256"):
		return ioc.SHA256, true
	case contains(name, "sha1"):
		return ioc.SHA1, true
	case contains(name, "md5"):
		return ioc.MD5, true
	}
	return "", true
}

func hashKindByLen(n int) ioc.Kind {
	switch n {
	case 32:
		return ioc.MD5
	case 40:
		return ioc.SHA1
	case 64:
		return ioc.SHA256
	case 128:
		return ioc.SHA512
	}
	return ""
}

// hostKind splits an optional :port off v and says whether the rest is an
// IP address or a domain name by its syntax ("" when neither); ioc then
// judges whether it is worth a lookup. An IP with a port (ip:port) is
// neither: the README policy does not take it.
func hostKind(v string) (string, ioc.Kind) {
	v = strings.TrimSpace(v)
	if isIP(v) {
		return v, ioc.IP
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 && isPort(v[i+1:]) {
		v = v[:i]
		if isIP(v) || strings.HasPrefix(v, "[") {
			return "", ""
		}
	}
	if k, ok := ioc.Classify(v); ok && k == ioc.Domain {
		return v, ioc.Domain
	}
	return "", ""
}

// isIP is the cheap test run on every string under data: most values fail
// on their first bytes.
func isIP(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	// netip.ParseAddr allocates an error for every failure; most values
	// fail this byte test first.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			break // an IPv6 zone follows
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAbsURL(s string) bool {
	return hasPrefixFold(s, "http://") || hasPrefixFold(s, "https://")
}

// urlHost returns the host of an absolute URL: no userinfo, no port, IPv6
// without brackets.
func urlHost(s string) string {
	_, rest, _ := strings.Cut(s, "://")
	if i := strings.IndexAny(rest, "/?#\\"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			return rest[1:i]
		}
		return ""
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && isPort(rest[i+1:]) {
		rest = rest[:i]
	}
	return rest
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func lastDot(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '.' {
			return i
		}
	}
	return -1
}

// The byte-slice helpers below compare without converting the path to a
// string, which would allocate for every field of every alert.

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

func contains(b []byte, s string) bool {
	for len(b) >= len(s) {
		i := bytes.IndexByte(b[:len(b)-len(s)+1], s[0])
		if i < 0 {
			return false
		}
		if string(b[i:i+len(s)]) == s {
			return true
		}
		b = b[i+1:]
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
