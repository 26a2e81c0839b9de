// Package cdb exports the local MISP mirror as Wazuh CDB lists, so that
// wazuh-analysisd itself flags every event carrying a MISP indicator (rules
// in rules/0992-misp_cdb_rules.xml) and integratord runs custom-misp only on
// those hits.
//
// # The text format, as Wazuh 4.14.7 reads it
//
// analysisd compiles each list's text file into a .cdb when the text is
// newer (src/analysisd/lists_make.c, Lists_OP_MakeCDB). A line is
// "key:value": the key ends at the first ':' unless it is written in double
// quotes, which is how a key holding ':' (an IPv6 address, a URL) is
// written; the value is the rest of the line, or the text between double
// quotes. A key holding '"', a line break or NUL cannot be written at all.
//
// # How analysisd looks keys up (src/analysisd/lists_list.c)
//
//   - match_key: the field's value, byte for byte (case-sensitive).
//   - address_match_key: the value, then each of its prefixes that ends
//     in '.', longest first: "10.1.2.3" also finds "10.1.2.", "10.1." and
//     "10.". So an IPv4 network on an octet boundary is one key (/8, /16,
//     /24); any other length is written as the boundary prefixes it
//     covers. An IPv6 address has no '.': it matches only whole, so IPv6
//     networks other than /128 cannot be CDB lists (the integration's
//     mirror lookup still matches them).
//
// That is also why IPv4 and IPv6 share one list, ip: address_match_key on
// an IPv6 key is an exact match, so one rule per field covers both. Two
// lists would double the rules, and the rules on srcip and dstip hang
// under every rule of level 1 or more (if_level), where each more such
// rule doubles the nodes of analysisd's rule tree.
package cdb

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// List is one exported list: its file name under Dir, one per indicator
// kind, so a rule can say which kind matched.
type List string

// The lists, one per kind the extractor knows.
const (
	IP      List = "ip" // IPv4 and IPv6 addresses, IPv4 networks
	Domain  List = "domain"
	URL     List = "url"
	MD5     List = "md5"
	SHA1    List = "sha1"
	SHA256  List = "sha256"
	SHA512  List = "sha512"
	Imphash List = "imphash"
)

// Lists are every list, in the order they are reported.
var Lists = []List{IP, Domain, URL, MD5, SHA1, SHA256, SHA512, Imphash}

// Dir is where the lists go, relative to the Wazuh home. etc/lists is what
// a Wazuh cluster master syncs to its workers, subdirectories included.
const Dir = "etc/lists/misp"

// Path is how ossec.conf and the rules name a list (relative to the Wazuh
// home, without the .cdb analysisd adds).
func (l List) Path() string { return Dir + "/" + string(l) }

// MaxNetworkKeys caps the keys one IPv4 network becomes. A network on an
// octet boundary is one key; any other length ≥ /8 is at most 128 (a /9 is
// 128 /16 prefixes, a /25 is 128 addresses), so with the mirror's own
// floor of /8 (mirror.MinV4Prefix) nothing reaches the cap today: it is a
// guard for whatever a later change lets through. A network beyond it is
// left to the integration's mirror lookup and counted.
const MaxNetworkKeys = 256

// maxKey caps a key's length: analysisd reads lines of up to 64 KiB
// (OS_MAXSTR), and no useful indicator is near this.
const maxKey = 4096

// Stats says what an export left out, and why.
type Stats struct {
	Attributes int `json:"attributes"` // attributes of the mirror read
	// NetworksSplit are IPv4 networks off an octet boundary, written as
	// the boundary prefixes they cover.
	NetworksSplit int `json:"networks_split"`
	// NetworksLeft are networks CDB cannot hold (IPv6 other than /128,
	// IPv4 beyond MaxNetworkKeys): the integration's mirror lookup still
	// matches them.
	NetworksLeft int `json:"networks_left_to_mirror"`
	// Unwritable values hold '"', a line break or NUL, or are longer than
	// maxKey: the text format cannot carry them.
	Unwritable int `json:"values_unwritable"`
}

// hit is what one key's value sums up: the most severe event holding it
// (lowest MISP threat_level_id, then the highest event id) and how many
// attributes hold it (a count, not a set: a set per key costs hundreds of
// MB at a million attributes). 12 bytes, held in one slice that the maps
// index: with hundreds of thousands of keys, a pointer and an allocation
// per key count.
type hit struct {
	event, attrs int32
	level        int8
}

// Set is the content of every list, built from the mirror by Build.
type Set struct {
	// keys maps each list's keys to their hit in hits. A hit is updated
	// in place, never by assigning to the map: that would store the
	// caller's key string again (see put).
	keys  map[List]map[string]int32
	hits  []hit
	Stats Stats
}

// Source is what Build reads: *mirror.Mirror.
type Source interface {
	Each(fn func(a misp.Attribute, e misp.Event) error) error
}

// Build reads every attribute of the mirror into the lists. The mirror
// already holds only what the integration's filters allow (to_ids,
// published, tags, warninglists, decay), so Build filters nothing more.
func Build(src Source) (*Set, error) {
	s := &Set{keys: map[List]map[string]int32{}}
	err := src.Each(func(a misp.Attribute, e misp.Event) error {
		s.Stats.Attributes++
		s.add(string(a.Type), string(a.Value), e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// add files one attribute under the lists its type belongs to: each half
// of a composite under the kind of that half, as MISP matches either.
func (s *Set) add(typ, value string, e misp.Event) {
	value = strings.TrimSpace(value)
	first, second, _ := strings.Cut(value, "|")
	switch typ {
	case "ip-src", "ip-dst", "ip-src|port", "ip-dst|port":
		s.addIP(first, e)
	case "domain|ip":
		s.addDomain(first, e)
		s.addIP(second, e)
	case "domain", "hostname", "hostname|port":
		s.addDomain(first, e)
	case "url", "link", "uri":
		// A uri may be a bare path, which would match every web log's
		// path field: only whole URLs are listed.
		if strings.Contains(value, "://") {
			s.put(URL, value, e)
			s.put(URL, strings.ToLower(value), e)
		}
	case "md5", "sha1", "sha256", "sha512", "imphash":
		s.addHash(List(typ), first, e)
	case "filename|md5", "filename|sha1", "filename|sha256", "filename|sha512", "filename|imphash":
		s.addHash(List(strings.TrimPrefix(typ, "filename|")), second, e)
	}
}

func (s *Set) addDomain(v string, e misp.Event) {
	v = strings.TrimSuffix(strings.ToLower(v), ".")
	if v == "" || strings.ContainsAny(v, " :/") {
		return
	}
	s.put(Domain, v, e)
}

var hashLen = map[List]int{MD5: 32, SHA1: 40, SHA256: 64, SHA512: 128, Imphash: 32}

// addHash lists a hash in lower case, as FIM (syscheck) reports hashes.
func (s *Set) addHash(l List, v string, e misp.Event) {
	v = strings.ToLower(v)
	if len(v) != hashLen[l] || strings.Trim(v, "0123456789abcdef") != "" {
		return
	}
	s.put(l, v, e)
}

// addIP lists an address, or a network as the keys address_match_key
// finds it under.
func (s *Set) addIP(v string, e misp.Event) {
	if strings.IndexByte(v, '/') < 0 {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return
		}
		s.putAddr(a.Unmap(), e)
		return
	}
	p, err := netip.ParsePrefix(v)
	if err != nil || p.Addr().Zone() != "" {
		return
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	p = p.Masked()
	keys, split, ok := NetworkKeys(p)
	if !ok {
		s.Stats.NetworksLeft++
		return
	}
	if split {
		s.Stats.NetworksSplit++
	}
	for _, k := range keys {
		s.put(IP, k, e)
	}
}

// putAddr lists an address in the forms a log line may carry it: IPv4
// dotted; IPv6 both compressed (RFC 5952) and fully expanded, as Suricata
// writes it, since analysisd compares strings.
func (s *Set) putAddr(a netip.Addr, e misp.Event) {
	if a.Is4() {
		s.put(IP, a.String(), e)
		return
	}
	s.put(IP, a.String(), e)
	s.put(IP, a.StringExpanded(), e)
}

// NetworkKeys returns the keys under which address_match_key finds every
// address of p: "10." for 10.0.0.0/8, "10.1." for a /16, "10.1.2." for a
// /24, the address itself for a /32 (and /128); the covered boundary
// prefixes for other IPv4 lengths (10.1.16.0/20 is "10.1.16." to
// "10.1.31."). split says p was off a boundary; ok is false when p cannot
// be a list entry: IPv6 shorter than /128 (an IPv6 address has no '.' to
// cut at), IPv4 shorter than /8 or needing more than MaxNetworkKeys keys.
func NetworkKeys(p netip.Prefix) (keys []string, split, ok bool) {
	a, bits := p.Masked().Addr(), p.Bits()
	if !a.Is4() {
		if bits == 128 {
			return []string{a.String(), a.StringExpanded()}, false, true
		}
		return nil, false, false
	}
	if bits < 8 {
		return nil, false, false
	}
	octets := (bits + 7) / 8 // the boundary at or below p
	n := 1 << (octets*8 - bits)
	if n > MaxNetworkKeys {
		return nil, false, false
	}
	b := a.As4()
	base := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	step := uint32(1) << (32 - octets*8)
	for i := range n {
		x := base + uint32(i)*step
		o := []uint32{x >> 24, x >> 16 & 0xff, x >> 8 & 0xff, x & 0xff}
		var k strings.Builder
		for j := range octets {
			if j > 0 {
				k.WriteByte('.')
			}
			k.WriteString(strconv.Itoa(int(o[j])))
		}
		if octets < 4 {
			k.WriteByte('.')
		}
		keys = append(keys, k.String())
	}
	return keys, n > 1, true
}

func (s *Set) put(l List, key string, e misp.Event) {
	if key == "" || len(key) > maxKey || strings.ContainsAny(key, "\"\r\n\x00") {
		s.Stats.Unwritable++
		return
	}
	m := s.keys[l]
	if m == nil {
		m = map[string]int32{}
		s.keys[l] = m
	}
	id64, _ := strconv.ParseInt(string(e.ID), 10, 32)
	id := int32(id64)
	level := int8(4) // MISP's "undefined"
	if n, err := strconv.Atoi(string(e.ThreatLevelID)); err == nil && n >= 1 && n <= 4 {
		level = int8(n)
	}
	i, ok := m[key]
	if !ok {
		// A copy: key is a part of the attribute's decoded record
		// (internal/codec), which it would otherwise keep alive whole;
		// at a million attributes that is most of the memory.
		m[strings.Clone(key)] = int32(len(s.hits))
		s.hits = append(s.hits, hit{event: id, level: level, attrs: 1})
		return
	}
	h := &s.hits[i]
	if h.event == id && h.level == level {
		return // the same event again (both halves of a composite, case variants)
	}
	h.attrs++
	if level < h.level || level == h.level && id > h.event {
		h.event, h.level = id, level
	}
}

// Len is the number of keys in list l.
func (s *Set) Len(l List) int { return len(s.keys[l]) }

// Text is list l in Wazuh's text format, keys sorted (so that the same
// mirror always gives the same bytes and an unchanged list is not
// rewritten). Each value is "e<event id> tl<threat level>", plus " +<n>"
// when n more attributes (of this or other events) hold the key: the most severe event (MISP's
// threat_level_id, 1 high to 4 undefined), which a rule can test with
// lookup="match_key_value" check_value="tl1".
func (s *Set) Text(l List) []byte {
	m := s.keys[l]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Sized first, so that the text of a large list is one allocation,
	// not a trail of doubled copies.
	size := 0
	var val []byte
	for _, k := range keys {
		val = s.hits[m[k]].appendValue(val[:0])
		size += len(k) + 1 + len(val) + 1
		if strings.IndexByte(k, ':') >= 0 {
			size += 2
		}
	}
	b := make([]byte, 0, size)
	for _, k := range keys {
		val = s.hits[m[k]].appendValue(val[:0])
		b = appendLine(b, k, val)
	}
	return b
}

// appendValue appends the value "e<event> tl<level>[ +<more>]".
func (h hit) appendValue(b []byte) []byte {
	b = append(b, 'e')
	b = strconv.AppendInt(b, int64(h.event), 10)
	b = append(b, " tl"...)
	b = strconv.AppendInt(b, int64(h.level), 10)
	if h.attrs > 1 {
		b = append(b, " +"...)
		b = strconv.AppendInt(b, int64(h.attrs-1), 10)
	}
	return b
}

// AppendLine appends one "key:value" line, the key in double quotes when
// it holds ':' (the only way analysisd reads such a key). key and value
// must hold no '"', line break or NUL.
func AppendLine(b []byte, key, value string) []byte {
	return appendLine(b, key, value)
}

func appendLine[V string | []byte](b []byte, key string, value V) []byte {
	if strings.IndexByte(key, ':') >= 0 {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, '"')
	} else {
		b = append(b, key...)
	}
	b = append(b, ':')
	b = append(b, value...)
	return append(b, '\n')
}
