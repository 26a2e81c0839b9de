package mispfake

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/custom-misp/custom-misp/internal/ioc"
)

// Synthetic asks for a generated data set: Attributes attributes spread
// over Events events, the same for the same Seed. It is for benchmarks and
// the demo, where the embedded events are too few to measure a sync.
type Synthetic struct {
	Attributes int
	Events     int
	Seed       int64
}

// maxSynthetic caps a generated set: ten million attributes take a few
// GiB, which no benchmark here needs.
const maxSynthetic = 10_000_000

// ParseSynthetic reads "NxM", N attributes over M events (as the fakemisp
// flag -synthetic takes it).
func ParseSynthetic(s string) (Synthetic, error) {
	n, m, ok := strings.Cut(strings.ToLower(s), "x")
	attrs, err1 := strconv.Atoi(n)
	events, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil {
		return Synthetic{}, fmt.Errorf("synthetic %q: want ATTRIBUTESxEVENTS, e.g. 1000000x20000", s)
	}
	g := Synthetic{Attributes: attrs, Events: events}
	return g, g.check()
}

func (g Synthetic) check() error {
	switch {
	case g.Attributes < 0 || g.Events < 0:
		return fmt.Errorf("synthetic: negative counts (%d attributes, %d events)", g.Attributes, g.Events)
	case g.Attributes > maxSynthetic || g.Events > maxSynthetic:
		return fmt.Errorf("synthetic: at most %d attributes and events", maxSynthetic)
	case g.Attributes > 0 && g.Events == 0:
		return fmt.Errorf("synthetic: %d attributes need at least one event", g.Attributes)
	}
	return nil
}

// syntheticEpoch is the newest timestamp of a generated set
// (2026-01-01T00:00:00Z); events spread over the year before it. It is
// fixed so that a set is the same whatever day it is generated; changes
// made later (changes.go) carry the fake's clock and are newer.
const (
	syntheticEpoch = 1767225600
	syntheticSpan  = 365 * 86400
)

// The generated set's vocabulary. Tag names and colours are MISP's
// (taxonomies and galaxies); technique names are ATT&CK's.
var (
	synthOrgs = []rawOrg{
		{Name: text{s: "CIRCL"}, UUID: text{s: "55f6ea5e-2c60-40e5-964f-47a8950d210f"}},
		{Name: text{s: "Synthetic CERT-A"}},
		{Name: text{s: "Synthetic ISAC-B"}},
		{Name: text{s: "Vendor-C Threat Intel"}},
	}
	synthTLP = []struct {
		name, colour string
		weight       int
	}{
		{"tlp:white", "#ffffff", 20}, {"tlp:green", "#33FF00", 35}, {"tlp:amber", "#FFC000", 30},
		{"tlp:red", "#CC0033", 5}, {"tlp:clear", "#ffffff", 10},
	}
	synthTechniques = []string{
		"Ingress Tool Transfer - T1105", "Exploit Public-Facing Application - T1190",
		"Spearphishing Attachment - T1566.001", "Spearphishing Link - T1566.002", "Web Protocols - T1071.001",
		"DNS - T1071.004", "PowerShell - T1059.001", "Windows Command Shell - T1059.003",
		"Malicious File - T1204.002", "Registry Run Keys / Startup Folder - T1547.001",
		"Scheduled Task - T1053.005", "Process Injection - T1055", "Obfuscated Files or Information - T1027",
		"Data Encrypted for Impact - T1486", "Exfiltration Over C2 Channel - T1041",
		"Application Layer Protocol - T1071", "Encrypted Channel - T1573", "Proxy - T1090",
		"Valid Accounts - T1078", "Phishing - T1566",
	}
	synthFamilies = []string{"Emotet", "QakBot", "IcedID", "Cobalt Strike", "AgentTesla", "Formbook", "RedLine",
		"AsyncRAT", "Lumma", "SmokeLoader", "Remcos", "njRAT", "LockBit", "BlackCat", "Raccoon", "DarkGate"}
	synthSectors = []string{"finance", "healthcare", "energy", "government", "retail", "telecom", "manufacturing", "education"}
	synthTLDs    = []string{"com", "net", "org", "info", "xyz", "top", "ru", "cn", "io", "biz", "online", "site", "club", "de", "shop", "live"}
	synthSubs    = []string{"www", "mail", "cdn", "api", "update", "login", "static", "ns1", "portal", "secure", "dl", "files"}
	synthSyll    = []string{"ba", "be", "bo", "ca", "co", "da", "de", "di", "do", "fa", "fe", "ga", "go", "ha", "ka", "ke", "ki",
		"la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "no", "pa", "pe", "po", "ra", "re", "ri", "ro", "sa",
		"se", "si", "so", "ta", "te", "ti", "to", "va", "ve", "vo", "za", "zo", "tor", "net", "sec", "lab", "cor", "dex"}
	synthExts     = []string{".exe", ".dll", ".ps1", ".js", ".vbs", ".doc", ".xlsm", ".zip", ".iso", ".lnk", ".bat", ".hta"}
	synthURLExts  = []string{"", "", ".php", ".exe", ".zip", ".js", ".html", ".bin"}
	synthPorts    = []int{80, 443, 8080, 8443, 4444, 53, 22, 3389, 445, 1337, 5555, 9001}
	synthComments = []string{"C2 server", "dropper", "phishing landing page", "payload", "beacon", "exfiltration endpoint"}
)

// synthTypes is the mix of attribute types, in percent.
var synthTypes = []struct {
	typ    string
	weight int
}{
	{"ip-dst", 20}, {"ip-src", 10}, {"ip-dst|port", 5}, {"domain", 12}, {"hostname", 8}, {"domain|ip", 3},
	{"url", 15}, {"md5", 8}, {"sha1", 6}, {"sha256", 9}, {"filename|sha256", 3}, {"filename|md5", 1},
}

// generator makes values from one seeded source, in a fixed order, so the
// same Synthetic always gives the same set.
type generator struct {
	r *rand.Rand
}

func newGenerator(seed int64, stream uint64) *generator {
	return &generator{r: rand.New(rand.NewPCG(uint64(seed), stream))}
}

// pick returns an index drawn by weight.
func (g *generator) pick(weights func(i int) int, n int) int {
	total := 0
	for i := range n {
		total += weights(i)
	}
	x := g.r.IntN(total)
	for i := range n {
		if x -= weights(i); x < 0 {
			return i
		}
	}
	return n - 1
}

func (g *generator) percent(p float64) bool { return g.r.Float64()*100 < p }

func (g *generator) ipv4() netip.Addr {
	for {
		var b [4]byte
		v := g.r.Uint32()
		b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		if a := netip.AddrFrom4(b); ioc.IsGlobal(a) {
			return a
		}
	}
}

func (g *generator) ipv6() netip.Addr {
	for {
		var b [16]byte
		hi, lo := g.r.Uint64(), g.r.Uint64()
		hi = hi&^(7<<61) | 1<<61 // inside 2000::/3
		for i := range 8 {
			b[i], b[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
		}
		if a := netip.AddrFrom16(b); ioc.IsGlobal(a) {
			return a
		}
	}
}

// cidr4 is a global network: mostly /24 and longer, a few as wide as /8.
func (g *generator) cidr4() string {
	for {
		var bits int
		switch x := g.r.IntN(10); {
		case x < 4:
			bits = 24
		case x < 7:
			bits = 16 + g.r.IntN(8)
		case x < 9:
			bits = 25 + g.r.IntN(6)
		default:
			bits = 8 + g.r.IntN(8)
		}
		p := netip.PrefixFrom(g.ipv4(), bits).Masked()
		if ioc.IsGlobal(p.Addr()) {
			return p.String()
		}
	}
}

func (g *generator) cidr6() string {
	for {
		p := netip.PrefixFrom(g.ipv6(), 32+g.r.IntN(33)).Masked()
		if ioc.IsGlobal(p.Addr()) {
			return p.String()
		}
	}
}

// ip is an address as an ip-src/ip-dst value: 1% IPv4 networks, 5%
// IPv6 (a few of them networks).
func (g *generator) ip() string {
	switch x := g.r.IntN(1000); {
	case x < 10:
		return g.cidr4()
	case x < 12:
		return g.cidr6()
	case x < 60:
		return g.ipv6().String()
	}
	return g.ipv4().String()
}

func (g *generator) label(minSyll, maxSyll int) string {
	var b strings.Builder
	for range minSyll + g.r.IntN(maxSyll-minSyll+1) {
		b.WriteString(synthSyll[g.r.IntN(len(synthSyll))])
	}
	if g.percent(20) {
		b.WriteString(strconv.Itoa(g.r.IntN(100)))
	}
	return b.String()
}

func (g *generator) domain() string {
	d := g.label(3, 5)
	if g.percent(15) {
		d += "-" + g.label(2, 3)
	}
	return d + "." + synthTLDs[g.r.IntN(len(synthTLDs))]
}

func (g *generator) hostname() string {
	return synthSubs[g.r.IntN(len(synthSubs))] + "." + g.domain()
}

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return hex.EncodeToString(b)
}

func (g *generator) port() int {
	if g.percent(70) {
		return synthPorts[g.r.IntN(len(synthPorts))]
	}
	return 1024 + g.r.IntN(64512)
}

func (g *generator) url() string {
	var b strings.Builder
	b.WriteString([]string{"http://", "https://"}[g.r.IntN(2)])
	switch x := g.r.IntN(100); {
	case x < 15:
		b.WriteString(g.ipv4().String())
		if g.percent(50) {
			b.WriteString(":" + strconv.Itoa(g.port()))
		}
	case x < 50:
		b.WriteString(g.hostname())
	default:
		b.WriteString(g.domain())
	}
	for range 1 + g.r.IntN(3) {
		b.WriteString("/" + g.label(1, 3))
	}
	b.WriteString(synthURLExts[g.r.IntN(len(synthURLExts))])
	if g.percent(30) {
		b.WriteString("?id=" + g.hex(4))
	}
	return b.String()
}

// uuid writes a random (version 4) uuid.
func (g *generator) uuid(b *strings.Builder) {
	var u [16]byte
	hi, lo := g.r.Uint64(), g.r.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var x [36]byte
	hex.Encode(x[0:8], u[0:4])
	hex.Encode(x[9:13], u[4:6])
	hex.Encode(x[14:18], u[6:8])
	hex.Encode(x[19:23], u[8:10])
	hex.Encode(x[24:36], u[10:16])
	x[8], x[13], x[18], x[23] = '-', '-', '-', '-'
	b.Write(x[:])
}

func (g *generator) filename() string {
	return g.label(2, 4) + synthExts[g.r.IntN(len(synthExts))]
}

// value makes a value of type typ and the category it is filed under.
func (g *generator) value(typ string) (value, category string) {
	category = "Network activity"
	switch typ {
	case "ip-dst", "ip-src":
		value = g.ip()
	case "ip-dst|port":
		value = g.ipv4().String() + "|" + strconv.Itoa(g.port())
	case "domain":
		value = g.domain()
	case "hostname":
		value = g.hostname()
	case "domain|ip":
		value = g.domain() + "|" + g.ipv4().String()
	case "url":
		value = g.url()
		if g.percent(30) {
			category = "Payload delivery"
		}
	case "md5", "sha1", "sha256", "filename|md5", "filename|sha256":
		category = []string{"Payload delivery", "Payload delivery", "Payload delivery", "Artifacts dropped", "Payload installation"}[g.r.IntN(5)]
		n := map[string]int{"md5": 16, "sha1": 20, "sha256": 32, "filename|sha256": 32, "filename|md5": 16}[typ]
		value = g.hex(n)
		if strings.HasPrefix(typ, "filename|") {
			value = g.filename() + "|" + value
		}
	default: // a type the mix has not (an edit of a loaded attribute)
		category, value = "Other", "synthetic-"+g.hex(6)
	}
	return value, category
}

// eventSizes splits attrs over events: every event gets at least one when
// there are enough, the rest follows a log-normal spread, as real feeds
// hold a few large events among many small ones.
func (g *generator) eventSizes(attrs, events int) []int {
	sizes := make([]int, events)
	if events == 0 {
		return sizes
	}
	base := 0
	if attrs >= events {
		base = 1
	}
	weights := make([]float64, events)
	total := 0.0
	for i := range weights {
		weights[i] = math.Exp(1.2 * g.r.NormFloat64())
		total += weights[i]
	}
	rest, given := attrs-base*events, 0
	for i, w := range weights {
		sizes[i] = base + int(float64(rest)*w/total)
		given += sizes[i]
	}
	for given < attrs {
		sizes[g.r.IntN(events)]++
		given++
	}
	return sizes
}

// generate adds the synthetic set to s, with ids above every loaded one.
//
// Events: 90% published; the unpublished half never published, half
// edited after publishing. Distribution 3 (60%), 1 (30%), 2 or 0 (5%
// each), all owned by org 1 and created by one of a few organisations.
// Tags: a TLP tag on 85% of events, one to three ATT&CK techniques on
// 30%, osint:source-type on 10%, and a tag of its own on 2% of
// attributes. Attributes: the mix of synthTypes, to_ids on 80%, 0.5%
// soft-deleted, a comment on 5%.
func (s *store) generate(spec Synthetic) {
	if spec.Attributes == 0 && spec.Events == 0 {
		return
	}
	g := newGenerator(spec.Seed, 0x6d697370)
	l := s.l
	var orgs []*org
	for _, o := range synthOrgs {
		if o.UUID.s == "" {
			o.UUID = text{s: stableUUID("synthetic-org", o.Name.s)}
		}
		orgs = append(orgs, l.org(&o, ""))
	}
	orgs = append(orgs, l.orgs[adminOrgUUID])
	tagNamed := func(name, colour string) *tag {
		return l.tag(rawTag{Name: text{s: name}, Colour: text{s: colour}})
	}
	var tlps []*tag
	for _, t := range synthTLP {
		tlps = append(tlps, tagNamed(t.name, t.colour))
	}
	var techniques []*tag
	for _, name := range synthTechniques {
		techniques = append(techniques, tagNamed(`misp-galaxy:mitre-attack-pattern="`+name+`"`, "#0088cc"))
	}
	osint := tagNamed(`osint:source-type="blog-post"`, "#002b4a")
	var comments []*attrMeta
	for _, c := range synthComments {
		comments = append(comments, &attrMeta{distribution: "5", sharingGroupID: "0", comment: c})
	}
	attrTags := append([]*tag{tagNamed(`false-positive:risk="medium"`, "#ff9900"), tagNamed("tlp:red", "#CC0033")}, techniques[:5]...)
	seed := strconv.FormatInt(spec.Seed, 10)

	sizes := g.eventSizes(spec.Attributes, spec.Events)
	for j, size := range sizes {
		t0 := syntheticEpoch - syntheticSpan + int64(j)*syntheticSpan/int64(len(sizes)) + g.r.Int64N(3600)
		num := l.eventIDs.fresh()
		ev := &event{
			id:             itoa(num),
			num:            num,
			orgID:          adminOrgID,
			date:           unixDate(t0),
			threatLevelID:  strconv.Itoa(1 + g.r.IntN(4)),
			info:           fmt.Sprintf("%s campaign against %s (synthetic %d)", synthFamilies[g.r.IntN(len(synthFamilies))], synthSectors[g.r.IntN(len(synthSectors))], j+1),
			uuid:           stableUUID("synthetic", seed, "event", strconv.Itoa(j)),
			analysis:       strconv.Itoa(g.r.IntN(3)),
			distribution:   []string{"3", "3", "3", "3", "3", "3", "1", "1", "1", "2", "0"}[g.r.IntN(11)],
			sharingGroupID: "0",
			creatorEmail:   "admin@admin.test",
			orgc:           orgs[g.r.IntN(len(orgs))],
			eventTS:        t0,
		}
		if g.percent(85) {
			ev.tags = append(ev.tags, tlps[g.pick(func(i int) int { return synthTLP[i].weight }, len(synthTLP))])
		}
		if g.percent(30) {
			for _, i := range g.r.Perm(len(techniques))[:1+g.r.IntN(3)] {
				ev.tags = append(ev.tags, techniques[i])
			}
		}
		if g.percent(10) {
			ev.tags = append(ev.tags, osint)
		}
		s.addEvent(ev)
		// The event's values and uuids are cut from one string each,
		// not allocated one by one: a million small strings cost the
		// garbage collector more than the bytes they hold.
		var values, uuids strings.Builder
		uuids.Grow(36 * size)
		attrs := make([]attribute, size)
		ends := make([]int, size)
		for i := range attrs {
			a := &attrs[i]
			a.typ = synthTypes[g.pick(func(i int) int { return synthTypes[i].weight }, len(synthTypes))].typ
			var value string
			value, a.category = g.value(a.typ)
			values.WriteString(value)
			ends[i] = values.Len()
			g.uuid(&uuids)
			a.attrMeta, a.ev = plainMeta, ev
			a.toIDs, a.deleted = g.percent(80), g.percent(0.5)
			a.ts = min(t0+g.r.Int64N(7*86400), syntheticEpoch)
			a.num = l.attrIDs.fresh()
			if g.percent(5) {
				a.attrMeta = comments[g.r.IntN(len(comments))]
			}
			if g.percent(2) {
				a.tags = []*tag{attrTags[g.r.IntN(len(attrTags))]}
			}
			ev.eventTS = max(ev.eventTS, a.ts)
		}
		all, ids := values.String(), uuids.String()
		nHalves := 0
		for i := range attrs {
			a := &attrs[i]
			start := 0
			if i > 0 {
				start = ends[i-1]
			}
			a.value, a.uuid = all[start:ends[i]], ids[36*i:36*i+36]
			nHalves += len(splitValue(a.typ, a.value))
		}
		halves := make([]string, 0, nHalves)
		for i := range attrs {
			a := &attrs[i]
			n := len(halves)
			halves = append(halves, splitValue(a.typ, a.value)...)
			a.halves = halves[n:len(halves):len(halves)]
			s.add(a)
		}
		switch x := g.r.IntN(20); {
		case x == 0: // never published
		case x == 1: // edited after publishing
			ev.publishTS = ev.eventTS - 1 - g.r.Int64N(86400)
		default:
			ev.published = true
			ev.publishTS = ev.eventTS + g.r.Int64N(600)
		}
	}
}
