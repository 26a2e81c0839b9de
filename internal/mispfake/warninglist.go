package mispfake

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// realWarninglistID is the id the captured MISP 2.5.1 server gave a list
// (see testdata/captures/restsearch_include_warninglist_hits.json and the
// warninglists_checkValue capture). The other lists get made-up ids from
// 101 up: the real ones were not captured.
func realWarninglistID(file string) (string, bool) {
	switch file {
	case "rfc5735.json":
		return "63", true
	case "public-dns-v4.excerpt.json":
		return "58", true
	}
	return "", false
}

// warninglist is one MISP warninglist (list.json format).
type warninglist struct {
	id, name, category, kind string
	matching                 map[string]bool
	prefixes                 []netip.Prefix
	entries                  map[string]bool // lowercased
	// first4 and first6 mark the first bytes of the addresses a cidr
	// list covers, so most addresses are turned away without a scan.
	first4, first6 [256]bool
}

type rawWarninglist struct {
	Name               string   `json:"name"`
	Type               string   `json:"type"`
	Category           string   `json:"category"`
	MatchingAttributes []string `json:"matching_attributes"`
	List               []string `json:"list"`
}

// warning is one entry of an attribute's "warnings" list
// (includeWarninglistHits).
type warning struct {
	Match        string `json:"match"`
	Value        string `json:"value"`
	ListID       string `json:"warninglist_id"`
	ListName     string `json:"warninglist_name"`
	ListCategory string `json:"warninglist_category"`
}

func loadWarninglists(fsys fs.FS) ([]*warninglist, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("list warninglists: %w", err)
	}
	slices.Sort(names)
	next := 101
	var out []*warninglist
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("warninglist %s: %w", name, err)
		}
		var r rawWarninglist
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("warninglist %s: %w", name, err)
		}
		id, ok := realWarninglistID(name)
		if !ok {
			id = strconv.Itoa(next)
			next++
		}
		w := &warninglist{
			id: id, name: r.Name, kind: r.Type, category: r.Category,
			matching: map[string]bool{}, entries: map[string]bool{},
		}
		if w.category == "" {
			w.category = "false_positive" // MISP's default category
		}
		for _, t := range r.MatchingAttributes {
			w.matching[t] = true
		}
		for _, e := range r.List {
			if w.kind == "cidr" {
				p, err := parsePrefix(e)
				if err != nil {
					return nil, fmt.Errorf("warninglist %s: %w", name, err)
				}
				w.prefixes = append(w.prefixes, p)
				first := &w.first4
				if p.Addr().Is6() {
					first = &w.first6
				}
				lo := int(firstByte(p.Addr()))
				for b := lo; b < lo+1<<max(8-p.Bits(), 0) && b < 256; b++ {
					first[b] = true
				}
				continue
			}
			w.entries[strings.ToLower(e)] = true
		}
		out = append(out, w)
	}
	return out, nil
}

func firstByte(ip netip.Addr) byte {
	if ip.Is4() {
		return ip.As4()[0]
	}
	return ip.As16()[0]
}

// parsePrefix reads a CIDR block or a bare address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// listsByType maps each attribute type to the lists that apply to it
// (their matching_attributes), in list order.
func listsByType(lists []*warninglist) map[string][]*warninglist {
	m := map[string][]*warninglist{}
	for _, w := range lists {
		for t := range w.matching {
			m[t] = append(m[t], w)
		}
	}
	return m
}

// probe is one value half, parsed once for every list that checks it.
type probe struct {
	v     string
	ip    netip.Addr // valid when v is an address
	host  string     // for hostname lists, set on first use
	hosts bool
}

func newProbe(v string) probe {
	p := probe{v: v}
	if ip, err := netip.ParseAddr(v); err == nil {
		p.ip = ip
	}
	return p
}

// hostname is the value's host, or the value itself when it is no URL.
// Only a value with "//" can have one: url.Parse needs it for a Host.
func (p *probe) hostname() string {
	if !p.hosts {
		p.hosts, p.host = true, p.v
		if strings.Contains(p.v, "//") {
			if u, err := url.Parse(p.v); err == nil && u.Host != "" {
				p.host = u.Hostname()
			}
		}
		p.host = strings.TrimSuffix(strings.ToLower(p.host), ".")
	}
	return p.host
}

// hits lists the warninglists an attribute is on. As in MISP, a list only
// applies to its matching_attributes types, and each half of a composite
// value is checked on its own. The caller holds dbMu.
func (s *Server) hits(a *attribute) []warning {
	lists := s.listsFor[a.typ]
	if len(lists) == 0 {
		return nil
	}
	var probes [2]probe
	for i, h := range a.halves[:min(len(a.halves), 2)] {
		probes[i] = newProbe(h)
	}
	var out []warning
	for _, w := range lists {
		for i := range min(len(a.halves), 2) {
			if m, ok := w.match(&probes[i]); ok {
				out = append(out, warning{Match: m, Value: probes[i].v, ListID: w.id, ListName: w.name, ListCategory: w.category})
				break
			}
		}
	}
	return out
}

// match follows the list types of MISP's Warninglist::checkValue: cidr
// (network contains the address), string (exact), substring, and hostname
// (the value's host, or a parent domain of it, is listed). Regex lists are
// not supported: none is embedded.
func (w *warninglist) match(p *probe) (string, bool) {
	v := p.v
	switch w.kind {
	case "cidr":
		ip := p.ip
		if !ip.IsValid() {
			return "", false
		}
		if first := firstByte(ip); ip.Is4() && !w.first4[first] || ip.Is6() && !w.first6[first] {
			return "", false
		}
		for _, p := range w.prefixes {
			if p.Contains(ip) {
				return p.String(), true
			}
		}
	case "string":
		if w.entries[v] {
			return v, true
		}
	case "substring":
		for e := range w.entries {
			if strings.Contains(v, e) {
				return e, true
			}
		}
	case "hostname":
		host := p.hostname()
		for d := host; d != ""; {
			if w.entries[d] {
				return d, true
			}
			_, rest, ok := strings.Cut(d, ".")
			if !ok {
				break
			}
			d = rest
		}
	}
	return "", false
}
