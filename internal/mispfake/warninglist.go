package mispfake

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
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
	description, version     string
	builtin, enabled         bool     // "default" (shipped with MISP); in use
	types                    []string // matching_attributes, in the file's order
	list                     []string // the entries as given
	matching                 map[string]bool
	prefixes                 []netip.Prefix
	entries                  map[string]bool // lowercased
	// first4 and first6 mark the first bytes of the addresses a cidr
	// list covers, so most addresses are turned away without a scan.
	first4, first6 [256]bool
}

type rawWarninglist struct {
	Name               string      `json:"name"`
	Type               string      `json:"type"`
	Category           string      `json:"category"`
	Description        string      `json:"description"`
	Version            json.Number `json:"version"`
	MatchingAttributes []string    `json:"matching_attributes"`
	List               []string    `json:"list"`
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
		// A file named "58-public-dns-v4.json" keeps the id 58.
		if prefix, _, cut := strings.Cut(name, "-"); cut && !ok {
			if _, err := strconv.Atoi(prefix); err == nil {
				id, ok = prefix, true
			}
		}
		if !ok {
			id = strconv.Itoa(next)
			next++
		}
		w, err := newWarninglist(id, r)
		if err != nil {
			return nil, fmt.Errorf("warninglist %s: %w", name, err)
		}
		w.builtin, w.enabled = true, true
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

// newWarninglist builds a list and its lookup tables.
func newWarninglist(id string, r rawWarninglist) (*warninglist, error) {
	w := &warninglist{
		id: id, name: r.Name, kind: r.Type, category: r.Category, description: r.Description,
		version: r.Version.String(), types: r.MatchingAttributes, list: r.List,
		matching: map[string]bool{}, entries: map[string]bool{},
	}
	if w.category == "" {
		w.category = "false_positive" // MISP's default category
	}
	if w.version == "" {
		w.version = "1"
	}
	for _, t := range r.MatchingAttributes {
		w.matching[t] = true
	}
	for _, e := range r.List {
		if w.kind != "cidr" {
			w.entries[strings.ToLower(e)] = true
			continue
		}
		p, err := parsePrefix(e)
		if err != nil {
			return nil, err
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
	}
	return w, nil
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

// listsByType maps each attribute type to the enabled lists that apply
// to it (their matching_attributes), in list order.
func listsByType(lists []*warninglist) map[string][]*warninglist {
	m := map[string][]*warninglist{}
	for _, w := range lists {
		if !w.enabled {
			continue
		}
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

// warninglistOut is a list as /warninglists/index writes it.
type warninglistOut struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	Description     string `json:"description"`
	Version         string `json:"version"`
	Enabled         bool   `json:"enabled"`
	Default         bool   `json:"default"`
	Category        string `json:"category"`
	EntryCount      string `json:"warninglist_entry_count"`
	ValidAttributes string `json:"valid_attributes"`
}

// warninglistIndex serves GET /warninglists/index and POST /warninglists
// (whose body may filter on "enabled"): every list, newest id first, as
// captured. The version, enabled flag and entry count are what a client
// fingerprints: enabling, disabling and editing a list change no event or
// attribute timestamp.
func (s *Server) warninglistIndex(w http.ResponseWriter, r *http.Request, body []byte) {
	f, ok := requestFilters(body)
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid JSON input.", r.URL.Path)
		return
	}
	enabled, filter := flagSet(f["enabled"])
	type entry struct {
		Warninglist warninglistOut `json:"Warninglist"`
	}
	out := []entry{}
	s.dbMu.RLock()
	for _, l := range s.sortedLists() {
		if filter && !enabled[l.enabled] {
			continue
		}
		out = append(out, entry{warninglistOut{
			ID: l.id, Name: l.name, Type: l.kind, Description: l.description, Version: l.version,
			Enabled: l.enabled, Default: l.builtin, Category: l.category,
			EntryCount: strconv.Itoa(len(l.list)), ValidAttributes: strings.Join(l.types, ", "),
		}})
	}
	s.dbMu.RUnlock()
	writePretty(w, http.StatusOK, struct {
		Warninglists []entry `json:"Warninglists"`
	}{out})
}

// sortedLists are the lists by id, newest first; the caller holds dbMu.
func (s *Server) sortedLists() []*warninglist {
	out := slices.Clone(s.warninglists)
	slices.SortFunc(out, func(a, b *warninglist) int {
		x, _ := strconv.Atoi(a.id)
		y, _ := strconv.Atoi(b.id)
		return y - x
	})
	return out
}

func (s *Server) listNamed(id string) *warninglist {
	for _, l := range s.warninglists {
		if l.id == id {
			return l
		}
	}
	return nil
}

// warninglistView serves GET /warninglists/view/ID. Entry and type ids
// are made up (the fake has no such rows): list id × 100000 + position.
func (s *Server) warninglistView(w http.ResponseWriter, r *http.Request, id string) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	l := s.listNamed(id)
	if l == nil {
		writeError(w, http.StatusNotFound, "Invalid Warninglist.", r.URL.Path)
		return
	}
	type entryOut struct {
		ID            string  `json:"id"`
		Value         string  `json:"value"`
		WarninglistID string  `json:"warninglist_id"`
		Comment       *string `json:"comment"`
	}
	type typeOut struct {
		ID            string `json:"id"`
		Type          string `json:"type"`
		WarninglistID string `json:"warninglist_id"`
	}
	base, _ := strconv.Atoi(l.id)
	var entries []entryOut
	for i, e := range l.list {
		entries = append(entries, entryOut{strconv.Itoa(base*100000 + i), e, l.id, nil})
	}
	var types []typeOut
	for i, t := range l.types {
		types = append(types, typeOut{strconv.Itoa(base*100 + i), t, l.id})
	}
	writePretty(w, http.StatusOK, map[string]any{"Warninglist": struct {
		ID               string     `json:"id"`
		Name             string     `json:"name"`
		Type             string     `json:"type"`
		Description      string     `json:"description"`
		Version          string     `json:"version"`
		Enabled          bool       `json:"enabled"`
		Default          bool       `json:"default"`
		Category         string     `json:"category"`
		WarninglistEntry []entryOut `json:"WarninglistEntry"`
		WarninglistType  []typeOut  `json:"WarninglistType"`
	}{l.id, l.name, l.kind, l.description, l.version, l.enabled, l.builtin, l.category, entries, types}})
}

// warninglistToggle serves POST /warninglists/toggleEnable
// {"id": "67", "enabled": 1}, for keys with perm_warninglist.
func (s *Server) warninglistToggle(w http.ResponseWriter, r *http.Request, k Key, body []byte) {
	if !perms(k).Warninglist {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	f, ok := requestFilters(body)
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid JSON input.", r.URL.Path)
		return
	}
	ids := parseCond(f["id"]).or
	on := !phpEmpty(f["enabled"])
	n := 0
	for _, id := range ids {
		if s.EnableWarninglist(id, on) == nil {
			n++
		}
	}
	if n == 0 {
		writePretty(w, http.StatusOK, map[string]any{"saved": false, "errors": "Warninglist(s) not found."})
		return
	}
	verb := "disabled"
	if on {
		verb = "enabled"
	}
	writePretty(w, http.StatusOK, struct {
		Saved   bool   `json:"saved"`
		Success string `json:"success"`
	}{true, fmt.Sprintf("%d warninglist(s) %s", n, verb)})
}

// warninglistCheck serves POST /warninglists/checkValue ["v", ...]: for
// each value on an enabled list, the lists and what matched.
func (s *Server) warninglistCheck(w http.ResponseWriter, r *http.Request, body []byte) {
	var values []string
	if err := json.Unmarshal(body, &values); err != nil {
		var one string
		if json.Unmarshal(body, &one) != nil {
			writeError(w, http.StatusBadRequest, "Invalid JSON input.", r.URL.Path)
			return
		}
		values = []string{one}
	}
	type hit struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Matched string `json:"matched"`
	}
	out := map[string][]hit{}
	s.dbMu.RLock()
	for _, v := range values {
		p := newProbe(normValue(v))
		for _, l := range s.warninglists {
			if !l.enabled {
				continue
			}
			if m, ok := l.match(&p); ok {
				out[v] = append(out[v], hit{l.id, l.name, m})
			}
		}
	}
	s.dbMu.RUnlock()
	if len(out) == 0 {
		writePretty(w, http.StatusOK, []any{}) // PHP's empty array
		return
	}
	writePretty(w, http.StatusOK, out)
}

// EnableWarninglist turns a list on or off (its id: 63 is RFC 5735, 58
// the public DNS resolvers; README lists the rest). MISP changes no event
// or attribute for it: searches with enforceWarninglist drop the covered
// values from then on, and /warninglists shows the new flag.
func (s *Server) EnableWarninglist(id string, on bool) error {
	return s.change(func(int64) error {
		l := s.listNamed(id)
		if l == nil {
			return fmt.Errorf("%w: warninglist %q", ErrNotFound, id)
		}
		l.enabled = on
		s.listsFor = listsByType(s.warninglists)
		return nil
	})
}

// AddWarninglist adds a custom list (kind "string", "substring",
// "hostname" or "cidr", for the given attribute types) and returns its
// id. Like MISP's /warninglists/add it starts disabled, at version 1.
func (s *Server) AddWarninglist(name, kind string, entries, types []string) (string, error) {
	var id string
	err := s.change(func(int64) error {
		next := 1
		for _, l := range s.warninglists {
			if n, _ := strconv.Atoi(l.id); n >= next {
				next = n + 1
			}
		}
		l, err := newWarninglist(strconv.Itoa(next), rawWarninglist{Name: name, Type: kind, List: entries, MatchingAttributes: types})
		if err != nil {
			return fmt.Errorf("mispfake: warninglist %q: %w", name, err)
		}
		s.warninglists = append(s.warninglists, l)
		id = l.id
		return nil
	})
	return id, err
}
