package ruleset

// A small model of what wazuh-analysisd 4.x does with our files: load rule
// and decoder XML, decode a queue datagram with the JSON_Decoder options we
// set, and walk the rule tree for one event. It covers only what our files
// use and refuses anything else, so that a condition it does not understand
// can never be silently ignored. wazuh-logtest stays the authority.

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/custom-misp/custom-misp/internal/cdb"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

// maxFileSize caps every file the tests read: rule, decoder and snippet
// files are a few KiB, golden files a few hundred KiB at most.
const maxFileSize = 4 << 20

func readCapped(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return b, nil
}

// node is any XML element with its attributes, text and children.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []node     `xml:",any"`
}

func (n node) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// parseElements parses a Wazuh XML file, which has several top-level
// elements and therefore is no XML document until wrapped.
func parseElements(name string, data []byte) ([]node, error) {
	if strings.Contains(string(data), "&") {
		// OS_XML and encoding/xml disagree about entities; keep them out.
		return nil, fmt.Errorf("%s: contains '&', which Wazuh's XML reader does not decode", name)
	}
	var root node
	wrapped := "<root>" + string(data) + "</root>"
	if err := xml.Unmarshal([]byte(wrapped), &root); err != nil {
		return nil, fmt.Errorf("%s: not well-formed XML: %w", name, err)
	}
	return root.Children, nil
}

// fieldCond is one <field name="..." [type="pcre2|osregex"]>pattern</field>.
type fieldCond struct {
	name    string
	pattern string
	re      *regexp.Regexp
}

// rule is one <rule> as analysisd would load it.
type rule struct {
	id, level      int
	frequency      int
	overwrite      bool
	file           string
	order          int // load order, the tie-breaker between equal levels
	groups         []string
	description    string
	decodedAs      string
	location       *osMatch
	fields         []fieldCond
	ifSID          []int
	ifMatchedSID   int
	ifMatchedGroup string
	sameFields     []string
	// differentLocation and globalFrequency are the frequency options
	// <different_location /> and <global_frequency />.
	differentLocation bool
	globalFrequency   bool
	// ifLevel and ifGroup attach the rule under every earlier rule of
	// that level or more (level 0 counting as 99), or whose groups hold
	// one of the '|'-separated words (OS_WordMatch: a substring).
	ifLevel int
	ifGroup string
	// lists are the <list> lookups, all of which must hit.
	lists []listCond
}

// listCond is one <list field="..." lookup="...">path</list>.
type listCond struct {
	field, lookup, path string
}

// hasGroup reports whether g is one of the rule's groups.
func (r *rule) hasGroup(g string) bool { return slices.Contains(r.groups, g) }

// ignored are rule elements that do not decide whether the rule matches.
var ignored = map[string]bool{
	"description": true, "options": true, "group": true, "mitre": true, "info": true,
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseRules loads the rules of one file; order continues from start.
func parseRules(name string, data []byte, start int) ([]*rule, error) {
	elems, err := parseElements(name, data)
	if err != nil {
		return nil, err
	}
	var rules []*rule
	for _, g := range elems {
		if g.XMLName.Local != "group" {
			return nil, fmt.Errorf("%s: top-level <%s>, only <group> is allowed", name, g.XMLName.Local)
		}
		gname, ok := g.attr("name")
		if !ok {
			return nil, fmt.Errorf("%s: <group> without name", name)
		}
		for _, rn := range g.Children {
			if rn.XMLName.Local != "rule" {
				return nil, fmt.Errorf("%s: <%s> inside <group>, only <rule> is allowed", name, rn.XMLName.Local)
			}
			r, err := parseRule(rn, splitList(gname))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			r.file = name
			r.order = start + len(rules)
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func parseRule(n node, groups []string) (*rule, error) {
	r := &rule{groups: slices.Clone(groups)}
	idText, _ := n.attr("id")
	id, err := strconv.Atoi(idText)
	if err != nil || id <= 0 || len(idText) > 6 {
		return nil, fmt.Errorf("rule id %q: want 1 to 6 digits", idText)
	}
	r.id = id
	lvText, _ := n.attr("level")
	if r.level, err = strconv.Atoi(lvText); err != nil || r.level < 0 || r.level > 16 {
		return nil, fmt.Errorf("rule %d: level %q: want 0 to 16", id, lvText)
	}
	if f, ok := n.attr("frequency"); ok {
		if r.frequency, err = strconv.Atoi(f); err != nil || r.frequency < 2 || r.frequency > 9999 {
			return nil, fmt.Errorf("rule %d: frequency %q: want 2 to 9999", id, f)
		}
		if _, ok := n.attr("timeframe"); !ok {
			return nil, fmt.Errorf("rule %d: frequency without timeframe", id)
		}
	}
	if o, ok := n.attr("overwrite"); ok {
		r.overwrite = o == "yes"
	}
	for _, c := range n.Children {
		text := strings.TrimSpace(c.Text)
		switch c.XMLName.Local {
		case "decoded_as":
			r.decodedAs = text
		case "location":
			if r.location, err = compileOSMatch(text); err != nil {
				return nil, fmt.Errorf("rule %d: location: %w", id, err)
			}
		case "field":
			name, _ := c.attr("name")
			typ, _ := c.attr("type")
			if name == "" {
				return nil, fmt.Errorf("rule %d: <field> without name", id)
			}
			if staticFields[strings.ToLower(name)] {
				return nil, fmt.Errorf("rule %d: <field name=%q> names a static field, analysisd rejects the rule", id, name)
			}
			re, err := compilePattern(text, typ)
			if err != nil {
				return nil, fmt.Errorf("rule %d: field %s: %w", id, name, err)
			}
			r.fields = append(r.fields, fieldCond{name: name, pattern: text, re: re})
		case "if_sid":
			for _, s := range splitList(text) {
				sid, err := strconv.Atoi(s)
				if err != nil {
					return nil, fmt.Errorf("rule %d: if_sid %q is not a number", id, s)
				}
				r.ifSID = append(r.ifSID, sid)
			}
		case "if_matched_sid":
			if r.ifMatchedSID, err = strconv.Atoi(text); err != nil {
				return nil, fmt.Errorf("rule %d: if_matched_sid %q is not a number", id, text)
			}
		case "if_matched_group":
			r.ifMatchedGroup = text
		case "if_level":
			if r.ifLevel, err = strconv.Atoi(text); err != nil || r.ifLevel < 1 || r.ifLevel > 16 {
				return nil, fmt.Errorf("rule %d: if_level %q: want 1 to 16", id, text)
			}
		case "if_group":
			if text == "" {
				return nil, fmt.Errorf("rule %d: empty if_group", id)
			}
			r.ifGroup = text
		case "list":
			field, _ := c.attr("field")
			lookup, _ := c.attr("lookup")
			switch lookup {
			case "match_key", "address_match_key":
			default:
				return nil, fmt.Errorf("rule %d: list lookup %q is not modelled (match_key, address_match_key)", id, lookup)
			}
			if field == "" || text == "" {
				return nil, fmt.Errorf("rule %d: <list> without field or path", id)
			}
			r.lists = append(r.lists, listCond{field: field, lookup: lookup, path: text})
		case "same_field":
			r.sameFields = append(r.sameFields, text)
		case "different_location":
			r.differentLocation = true
		case "global_frequency":
			r.globalFrequency = true
		case "description":
			r.description = text
		case "group":
			r.groups = append(r.groups, splitList(text)...)
		default:
			if !ignored[c.XMLName.Local] {
				return nil, fmt.Errorf("rule %d: <%s> is not modelled by this checker; extend it before using the element", id, c.XMLName.Local)
			}
		}
	}
	if (r.ifMatchedSID != 0 || r.ifMatchedGroup != "") && r.frequency == 0 {
		return nil, fmt.Errorf("rule %d: if_matched_* without frequency", id)
	}
	return r, nil
}

// staticFields are the decoder fields <field> may not name (analysisd:
// "Field 'x' is static", the rule is not loaded).
var staticFields = map[string]bool{
	"srcip": true, "dstip": true, "srcgeoip": true, "dstgeoip": true, "srcport": true, "dstport": true,
	"user": true, "srcuser": true, "dstuser": true, "url": true, "id": true, "data": true,
	"extra_data": true, "status": true, "protocol": true, "system_name": true, "action": true,
}

// compilePattern compiles a <field> or <prematch> pattern. PCRE2 patterns
// are used as they are (ours stay inside what Go's RE2 shares with PCRE2).
func compilePattern(p, typ string) (*regexp.Regexp, error) {
	switch typ {
	case "", "osregex":
		return osRegex(p)
	case "pcre2":
		return regexp.Compile(p)
	}
	return nil, fmt.Errorf("regex type %q is not modelled", typ)
}

// osRegex translates an OS_Regex pattern (Wazuh's default, documented in
// ruleset-xml-syntax/regex.rst) to Go. OS_Regex is case-insensitive unless
// compiled with OS_CASE_SENSITIVE, which rules never do; "|" splits whole
// patterns; "+" and "*" apply only to backslash classes; "." is a literal
// dot and "\." any character. Go backtracks where OS_Regex does not (e.g.
// "\p*:" never matches ":" there), so this is an approximation that errs
// towards matching: authority is wazuh-logtest.
func osRegex(p string) (*regexp.Regexp, error) {
	classes := map[byte]string{
		'w': `[A-Za-z0-9@_\-]`, 'd': `[0-9]`, 's': ` `, 't': `\t`,
		'p': `[()*+,\-.:;<=>?\[\]!"'#$%&|{}]`,
		'W': `[^A-Za-z0-9@_\-]`, 'D': `[^0-9]`, 'S': `[^ ]`, '.': `(?s:.)`,
	}
	literal := map[byte]bool{'$': true, '(': true, ')': true, '\\': true, '|': true, '<': true}
	var alts []string
	var b strings.Builder
	quantifiable := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return nil, fmt.Errorf("os_regex %q: trailing backslash", p)
			}
			i++
			if cls, ok := classes[p[i]]; ok {
				b.WriteString(cls)
				quantifiable = true
			} else if literal[p[i]] {
				b.WriteString(regexp.QuoteMeta(string(p[i])))
				quantifiable = false
			} else {
				return nil, fmt.Errorf("os_regex %q: unknown escape \\%c", p, p[i])
			}
		case c == '+' || c == '*':
			if !quantifiable {
				return nil, fmt.Errorf("os_regex %q: %c after a plain character is not supported by OS_Regex", p, c)
			}
			b.WriteByte(c)
			quantifiable = false
		case c == '|':
			alts = append(alts, b.String())
			b.Reset()
			quantifiable = false
		case c == '^' && b.Len() == 0:
			b.WriteByte('^')
		case c == '$' && (i+1 == len(p) || p[i+1] == '|'):
			b.WriteByte('$')
		case c == '(' || c == ')':
			b.WriteByte(c) // capture group; OS_Regex has no alternation inside
			quantifiable = false
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			quantifiable = false
		}
	}
	alts = append(alts, b.String())
	for i, a := range alts {
		alts[i] = "(?:" + a + ")"
	}
	return regexp.Compile("(?i)" + strings.Join(alts, "|"))
}

// decoder is one <decoder> of our decoder file.
type decoder struct {
	name, file string
	prematch   *regexp.Regexp
	plugin     string
	nullField  string
	arrays     string
}

func parseDecoders(name string, data []byte) ([]decoder, error) {
	elems, err := parseElements(name, data)
	if err != nil {
		return nil, err
	}
	var decs []decoder
	for _, e := range elems {
		if e.XMLName.Local != "decoder" {
			return nil, fmt.Errorf("%s: top-level <%s>, want <decoder>", name, e.XMLName.Local)
		}
		d := decoder{file: name}
		d.name, _ = e.attr("name")
		for _, c := range e.Children {
			text := strings.TrimSpace(c.Text)
			switch c.XMLName.Local {
			case "prematch":
				if d.prematch, err = osRegex(text); err != nil {
					return nil, fmt.Errorf("%s: decoder %s: %w", name, d.name, err)
				}
			case "plugin_decoder":
				d.plugin = text
			case "json_null_field":
				d.nullField = text
			case "json_array_structure":
				d.arrays = text
			default:
				return nil, fmt.Errorf("%s: decoder %s: <%s> is not modelled", name, d.name, c.XMLName.Local)
			}
		}
		decs = append(decs, d)
	}
	return decs, nil
}

// decoded is one datagram after analysisd's pre-decoding and decoding.
type decoded struct {
	name     string // where it came from, for messages
	location string
	decoder  string
	fields   map[string]string // lower-cased key → value (FindField is case-insensitive)
	// lists are the CDB lists analysisd has loaded, by the path rules
	// name them with; nil: none (every lookup misses).
	lists map[string]cdb.Table
}

// internalLocation is the location rules see: analysisd keeps "(name)
// ip->misp" of the agent form "[id] (name) ip->misp" (cleanevent.c), and
// the manager form as it is.
func (ev decoded) internalLocation() string {
	if rest, ok := strings.CutPrefix(ev.location, "["); ok {
		if _, after, ok := strings.Cut(rest, "] "); ok {
			return after
		}
	}
	return ev.location
}

// agentID is the agent an event belongs to: the id of the agent form
// "[id] (name) ip->misp", "000" (the manager) otherwise.
func (ev decoded) agentID() string {
	if rest, ok := strings.CutPrefix(ev.location, "["); ok {
		if id, _, ok := strings.Cut(rest, "]"); ok {
			return id
		}
	}
	return "000"
}

// osMatch is OSMatch's "sregex", what <location> uses: alternatives split
// by '|', each a literal, case-insensitive, anchored by a leading '^' and a
// trailing '$' where given, else found anywhere.
type osMatch []string

func compileOSMatch(p string) (*osMatch, error) {
	if p == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	for _, alt := range strings.Split(p, "|") {
		if strings.Trim(alt, "^$") == "" {
			return nil, fmt.Errorf("empty alternative in %q", p)
		}
	}
	m := osMatch(strings.Split(strings.ToLower(p), "|"))
	return &m, nil
}

func (m osMatch) match(s string) bool {
	s = strings.ToLower(s)
	for _, alt := range m {
		lit := strings.TrimSuffix(strings.TrimPrefix(alt, "^"), "$")
		start, end := strings.HasPrefix(alt, "^"), strings.HasSuffix(alt, "$")
		switch {
		case start && end && s == lit,
			start && !end && strings.HasPrefix(s, lit),
			!start && end && strings.HasSuffix(s, lit),
			!start && !end && strings.Contains(s, lit):
			return true
		}
	}
	return false
}

// splitDatagram undoes "1:<location>:<log>". The location ends at the first
// ':' not escaped by '|' (analysisd 4.4+, cleanevent.c); "||" is a '|'.
func splitDatagram(line string) (location, log string, err error) {
	rest, ok := strings.CutPrefix(line, "1:")
	if !ok {
		return "", "", fmt.Errorf("datagram does not start with \"1:\"")
	}
	var loc strings.Builder
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '|':
			if i+1 < len(rest) && (rest[i+1] == ':' || rest[i+1] == '|') {
				loc.WriteByte(rest[i+1])
				i++
				continue
			}
			loc.WriteByte('|')
		case ':':
			return loc.String(), rest[i+1:], nil
		default:
			loc.WriteByte(rest[i])
		}
	}
	return "", "", fmt.Errorf("datagram has no location separator")
}

// decode runs the first decoder whose prematch matches (our decoder file
// sorts before the stock "json" one) and flattens the JSON like
// JSON_Decoder does with our options.
func decode(decs []decoder, name, line string) (decoded, error) {
	if len(line) > wazuh.MaxDatagram {
		return decoded{}, fmt.Errorf("%s: datagram of %d bytes, analysisd reads at most %d", name, len(line), wazuh.MaxDatagram)
	}
	loc, log, err := splitDatagram(line)
	if err != nil {
		return decoded{}, fmt.Errorf("%s: %w", name, err)
	}
	ev := decoded{name: name, location: loc, fields: map[string]string{}}
	for _, d := range decs {
		if d.prematch != nil && d.prematch.MatchString(log) {
			ev.decoder = d.name
			if d.plugin != "JSON_Decoder" || d.nullField != "discard" || d.arrays != "csv" {
				return decoded{}, fmt.Errorf("decoder %s: the model only knows JSON_Decoder with json_null_field discard and json_array_structure csv", d.name)
			}
			var v any
			dec := json.NewDecoder(strings.NewReader(log))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return decoded{}, fmt.Errorf("%s: JSON_Decoder would fail: %w", name, err)
			}
			obj, ok := v.(map[string]any)
			if !ok {
				return decoded{}, fmt.Errorf("%s: log is not a JSON object", name)
			}
			flatten("", obj, ev.fields)
			return ev, nil
		}
	}
	return ev, nil // not ours: some other decoder would take it
}

// flatten mirrors readJSON: nested keys joined by '.', numbers as %i (int32)
// or %f, booleans as "true"/"false", null dropped (discard), arrays of
// scalars joined by ',' (csv); objects inside arrays are skipped.
func flatten(prefix string, obj map[string]any, out map[string]string) {
	for k, v := range obj {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if obj, ok := v.(map[string]any); ok {
			flatten(key, obj, out)
			continue
		}
		if arr, ok := v.([]any); ok {
			var parts []string
			for _, e := range arr {
				if s, ok := scalar(e); ok {
					parts = append(parts, s)
				}
			}
			if len(parts) > 0 {
				out[strings.ToLower(key)] = strings.Join(parts, ",")
			}
			continue
		}
		if s, ok := scalar(v); ok {
			out[strings.ToLower(key)] = s
		}
	}
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return "", false
		}
		if f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
			return strconv.Itoa(int(f)), true
		}
		return strconv.FormatFloat(f, 'f', 6, 64), true
	}
	return "", false // null (discarded) or an object inside an array
}

// ruleset is our loaded rules and decoders.
type ruleset struct {
	rules    []*rule
	byID     map[int]*rule
	decoders []decoder
	children map[int][]*rule
	roots    []*rule
}

// newRuleset builds the rule tree the way analysisd links it: if_sid makes
// a child of each listed rule; if_matched_sid without if_sid a child of that
// rule; if_matched_group without if_sid a child of every rule in the group.
// Overwrite copies of stock rules are not part of our tree.
func newRuleset(rules []*rule, decs []decoder) *ruleset {
	rs := &ruleset{rules: rules, byID: map[int]*rule{}, decoders: decs, children: map[int][]*rule{}}
	for _, r := range rules {
		if !r.overwrite {
			if _, dup := rs.byID[r.id]; !dup {
				rs.byID[r.id] = r
			}
		}
	}
	for _, r := range rules {
		switch {
		case r.overwrite:
		case len(r.ifSID) > 0:
			for _, sid := range r.ifSID {
				rs.children[sid] = append(rs.children[sid], r)
			}
		case r.ifMatchedSID != 0:
			rs.children[r.ifMatchedSID] = append(rs.children[r.ifMatchedSID], r)
		case r.ifMatchedGroup != "":
			for _, p := range rules {
				if p != r && !p.overwrite && p.hasGroup(r.ifMatchedGroup) {
					rs.children[p.id] = append(rs.children[p.id], r)
				}
			}
		case r.ifLevel > 0 || r.ifGroup != "":
			// Under every rule loaded before it (OS_AddChild runs as
			// each rule is read) that has the level or the group.
			for _, p := range rules {
				if p.order >= r.order || p.overwrite {
					continue
				}
				if r.ifLevel > 0 && priority(p) >= r.ifLevel || r.ifGroup != "" && wordMatch(r.ifGroup, strings.Join(p.groups, ",")) {
					rs.children[p.id] = append(rs.children[p.id], r)
				}
			}
		default:
			rs.roots = append(rs.roots, r)
		}
	}
	return rs
}

// tryOrder sorts siblings as analysisd does: by level, highest first, with
// level 0 counted as 99 until loading ends; ties keep load order.
func tryOrder(rules []*rule) []*rule {
	out := slices.Clone(rules)
	sort.SliceStable(out, func(i, j int) bool {
		if priority(out[i]) != priority(out[j]) {
			return priority(out[i]) > priority(out[j])
		}
		return out[i].order < out[j].order
	})
	return out
}

// priority is a rule's level while analysisd loads rules: level 0 counts
// as 99 ("to have high priority", src/analysisd/rules.c).
func priority(r *rule) int {
	if r.level == 0 {
		return 99
	}
	return r.level
}

// wordMatch is OS_WordMatch: one of the '|'-separated patterns is a
// substring of s, case-insensitively.
func wordMatch(pattern, s string) bool {
	for _, p := range strings.Split(pattern, "|") {
		if p != "" && strings.Contains(strings.ToLower(s), strings.ToLower(p)) {
			return true
		}
	}
	return false
}

// matches reports whether r's own conditions hold for ev. A frequency rule
// needs earlier events and never matches a single one.
func (r *rule) matches(ev decoded) bool {
	if r.frequency > 0 {
		return false
	}
	if r.decodedAs != "" && r.decodedAs != ev.decoder {
		return false
	}
	if r.location != nil && !r.location.match(ev.internalLocation()) {
		return false
	}
	for _, f := range r.fields {
		v, ok := ev.fields[strings.ToLower(f.name)]
		if !ok || !f.re.MatchString(v) {
			return false
		}
	}
	for _, l := range r.lists {
		v, ok := ev.fields[strings.ToLower(l.field)]
		if !ok {
			return false // analysisd: no such field, no match
		}
		table := ev.lists[l.path] // none loaded: an empty list
		hit := false
		if l.lookup == "address_match_key" {
			_, _, hit = table.AddressMatchKey(v)
		} else {
			_, hit = table.MatchKey(v)
		}
		if !hit {
			return false
		}
	}
	return true
}

// earlier is an event analysisd saw before the current one that matched a
// rule of a frequency rule's group, with the level of the frequency rule
// it fired, if any (analysisd's lf->matched).
type earlier struct {
	ev      decoded
	matched int
}

// fires reports whether the frequency rule r (if_matched_group) fires on
// current, given the earlier events of its group, oldest first, all
// within its timeframe. It walks them newest first as Search_LastGroups
// does (src/analysisd/eventinfo.c, v4.14.7): without global_frequency only
// events of the current agent count; each same_field must be equal; with
// different_location an event with the current event's location is
// skipped (each earlier event is compared with the current one only, not
// with the others); an event that already fired a rule of this level or
// higher ends the search; frequency="N" needs N-1 counted events
// (analysisd stores N-2 and fires on the event after that many). It
// returns the indexes of the counted events.
func (r *rule) fires(history []earlier, current decoded) (counted []int, ok bool) {
	for i := len(history) - 1; i >= 0; i-- {
		e := history[i]
		if !r.globalFrequency && e.ev.agentID() != current.agentID() {
			continue
		}
		same := true
		for _, f := range r.sameFields {
			v, ok := current.fields[strings.ToLower(f)]
			w, ok2 := e.ev.fields[strings.ToLower(f)]
			same = same && ok && ok2 && v == w
		}
		if !same {
			continue
		}
		if r.differentLocation && e.ev.internalLocation() == current.internalLocation() {
			continue
		}
		if e.matched >= r.level {
			return nil, false
		}
		counted = append(counted, i)
		if len(counted) == r.frequency-1 {
			return counted, true
		}
	}
	return nil, false
}

// match returns the rule that would generate the alert for ev (the deepest
// matching rule of the first matching branch), or nil.
func (rs *ruleset) match(ev decoded) *rule {
	return rs.descend(rs.roots, ev)
}

func (rs *ruleset) descend(candidates []*rule, ev decoded) *rule {
	for _, r := range tryOrder(candidates) {
		if !r.matches(ev) {
			continue
		}
		if deeper := rs.descend(rs.children[r.id], ev); deeper != nil {
			return deeper
		}
		return r
	}
	return nil
}

// loadDir reads every *.xml of dir, sorted by name like analysisd does.
func loadDir(dir string) (map[string][]byte, []string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		return nil, nil, err
	}
	files := map[string][]byte{}
	var names []string
	for _, p := range paths {
		b, err := readCapped(p)
		if err != nil {
			return nil, nil, err
		}
		name := filepath.Base(p)
		files[name] = b
		names = append(names, name)
	}
	sort.Strings(names)
	return files, names, nil
}

// load parses rule and decoder files given as name → content.
func load(ruleFiles, decoderFiles map[string][]byte) (*ruleset, error) {
	var rules []*rule
	for _, name := range sortedKeys(ruleFiles) {
		rs, err := parseRules(name, ruleFiles[name], len(rules))
		if err != nil {
			return nil, err
		}
		rules = append(rules, rs...)
	}
	var decs []decoder
	for _, name := range sortedKeys(decoderFiles) {
		ds, err := parseDecoders(name, decoderFiles[name])
		if err != nil {
			return nil, err
		}
		decs = append(decs, ds...)
	}
	return newRuleset(rules, decs), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
