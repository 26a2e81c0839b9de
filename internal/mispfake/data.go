package mispfake

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxEventFile caps one event file. The biggest embedded event is about
// 230 KiB; a multi-megabyte file is a mistake, not data.
const maxEventFile = 16 << 20

// text decodes a JSON string, number, bool or null. Real event exports
// differ in how they type ids and flags ("1", 1, true), and feed-style
// exports omit fields altogether, so the loader accepts any of them.
type text struct {
	s    string
	null bool
	set  bool
}

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	t.set = true
	switch {
	case bytes.Equal(b, []byte("null")):
		t.null = true
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &t.s)
	case bytes.Equal(b, []byte("true")):
		t.s = "1"
	case bytes.Equal(b, []byte("false")):
		t.s = "0"
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want string, number, bool or null, got %.20s", b)
		}
		t.s = n.String()
	}
	return nil
}

// or returns the value, or def when the field is absent, null or empty.
func (t text) or(def string) string {
	if t.s == "" {
		return def
	}
	return t.s
}

// bool reads MISP's flag spellings.
func (t text) bool() bool {
	switch strings.ToLower(t.s) {
	case "1", "true":
		return true
	}
	return false
}

// ptr is the value as a JSON string, or nil (JSON null) when absent or null.
func (t text) ptr() *string {
	if !t.set || t.null {
		return nil
	}
	s := t.s
	return &s
}

type rawEvent struct {
	ID               text        `json:"id"`
	OrgcID           text        `json:"orgc_id"`
	OrgID            text        `json:"org_id"`
	Date             text        `json:"date"`
	ThreatLevelID    text        `json:"threat_level_id"`
	Info             text        `json:"info"`
	Published        text        `json:"published"`
	UUID             text        `json:"uuid"`
	Analysis         text        `json:"analysis"`
	Timestamp        text        `json:"timestamp"`
	Distribution     text        `json:"distribution"`
	PublishTimestamp text        `json:"publish_timestamp"`
	SharingGroupID   text        `json:"sharing_group_id"`
	ExtendsUUID      text        `json:"extends_uuid"`
	Locked           text        `json:"locked"`
	CreatorEmail     text        `json:"event_creator_email"`
	Orgc             *rawOrg     `json:"Orgc"`
	Tag              []rawTag    `json:"Tag"`
	Attribute        []rawAttr   `json:"Attribute"`
	Object           []rawObject `json:"Object"`
}

type rawOrg struct {
	ID    text `json:"id"`
	Name  text `json:"name"`
	UUID  text `json:"uuid"`
	Local text `json:"local"`
}

type rawTag struct {
	ID             text            `json:"id"`
	Name           text            `json:"name"`
	Colour         text            `json:"colour"`
	NumericalValue json.RawMessage `json:"numerical_value"`
	IsGalaxy       text            `json:"is_galaxy"`
	Local          text            `json:"local"`
}

type rawObject struct {
	ID             text      `json:"id"`
	Distribution   text      `json:"distribution"`
	SharingGroupID text      `json:"sharing_group_id"`
	Attribute      []rawAttr `json:"Attribute"`
}

type rawAttr struct {
	ID                 text     `json:"id"`
	ObjectRelation     text     `json:"object_relation"`
	Category           text     `json:"category"`
	Type               text     `json:"type"`
	ToIDs              text     `json:"to_ids"`
	UUID               text     `json:"uuid"`
	Timestamp          text     `json:"timestamp"`
	Distribution       text     `json:"distribution"`
	SharingGroupID     text     `json:"sharing_group_id"`
	Comment            text     `json:"comment"`
	Deleted            text     `json:"deleted"`
	DisableCorrelation text     `json:"disable_correlation"`
	FirstSeen          text     `json:"first_seen"`
	LastSeen           text     `json:"last_seen"`
	Value              text     `json:"value"`
	Tag                []rawTag `json:"Tag"`
}

// event, org, tag, object and attribute are the fake's database rows.
// load builds them; afterwards only the Server's change methods write
// them, under Server.dbMu.
type event struct {
	id, orgID, date, threatLevelID, info, uuid, analysis string
	distribution, sharingGroupID, extendsUUID            string
	creatorEmail                                         string
	published, locked                                    bool
	orgc                                                 *org
	tags                                                 []*tag
	num, publishTS, eventTS                              int64
	attrs                                                []*attribute // the event's attributes, in id order
}

type org struct {
	id, name, uuid string
	local          bool
}

type tag struct {
	id, name, colour string
	numerical        json.RawMessage // JSON null or a number, as MISP stores it
	galaxy, local    bool
}

type object struct {
	id, distribution, sharingGroupID string
}

// attribute keeps its id and timestamp as numbers only (the wire form is
// made when it is written), and the columns that are the same for most
// attributes in attrMeta, which they share: a million of them must fit in
// a benchmark's memory.
type attribute struct {
	num, ts                    int64 // id and timestamp
	category, typ, uuid, value string
	halves                     []string // value1 and value2, normalised for comparison
	ev                         *event
	tags                       []*tag
	*attrMeta
	toIDs, deleted bool
}

// attrMeta holds an attribute's rarely varying columns. It may be shared,
// so it is never written once an attribute has it.
type attrMeta struct {
	distribution, sharingGroupID, comment string
	objectRelation, firstSeen, lastSeen   *string
	obj                                   *object
	disableCorrelation                    bool
}

// plainMeta is the attrMeta of an attribute outside an object, with no
// comment and no first/last seen, inheriting the event's distribution.
var plainMeta = &attrMeta{distribution: "5", sharingGroupID: "0"}

// store is everything the fake knows. Besides the rows it keeps the
// loader, whose id allocators and tag and organisation tables the changes
// (a new attribute, a new tag) go on using.
type store struct {
	events    []*event     // sorted by numeric id
	attrs     []*attribute // sorted by numeric id, MISP's natural order
	eventByID map[string]*event
	// eventByUUID is keyed by the lowercased uuid.
	eventByUUID map[string]*event
	l           *loader
	// byHalf indexes values for the common exact-match search. It is
	// built on the first value search, not at load: a sync of a million
	// synthetic attributes never searches by value, and the index would
	// be a third of the fake's memory.
	byHalf map[string][]*attribute
}

// allocator hands out ids: the one from the file when it is free, else a
// fresh one above every id seen in any file. Events from different MISP
// instances reuse ids, and feed exports have none.
type allocator struct {
	reserved map[string]bool
	claimed  map[string]bool
	next     int64
}

func newAllocator() *allocator {
	return &allocator{reserved: map[string]bool{}, claimed: map[string]bool{}, next: 1}
}

func (a *allocator) reserve(id string) {
	if id == "" {
		return
	}
	a.reserved[id] = true
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n >= a.next {
		a.next = n + 1
	}
}

// fresh returns an id above every id loaded or taken so far.
func (a *allocator) fresh() int64 {
	for a.reserved[strconv.FormatInt(a.next, 10)] || a.claimed[strconv.FormatInt(a.next, 10)] {
		a.next++
	}
	a.next++
	return a.next - 1
}

func (a *allocator) take(id string) string {
	if id != "" && !a.claimed[id] {
		a.claimed[id] = true
		return id
	}
	for a.reserved[strconv.FormatInt(a.next, 10)] || a.claimed[strconv.FormatInt(a.next, 10)] {
		a.next++
	}
	id = strconv.FormatInt(a.next, 10)
	a.claimed[id] = true
	return id
}

// loader carries the registries that make one MISP instance out of events
// exported from many: one tags table, one organisations table.
type loader struct {
	eventIDs, attrIDs, objIDs, tagIDs, orgIDs *allocator
	tags                                      map[string]*tag
	orgs                                      map[string]*org
}

type parsed struct {
	name string
	ev   *rawEvent
}

// load reads every *.json file at the root of fsys, in name order, as one
// MISP event ({"Event": {...}}). An empty fsys is a mistake unless
// allowEmpty (a synthetic set follows).
func load(fsys fs.FS, allowEmpty bool) (*store, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	if len(names) == 0 && !allowEmpty {
		return nil, fmt.Errorf("list events: no *.json files")
	}
	slices.Sort(names)
	var files []parsed
	for _, name := range names {
		f, err := readEvent(fsys, name)
		if err != nil {
			return nil, err
		}
		files = append(files, parsed{name, f})
	}

	l := &loader{
		eventIDs: newAllocator(), attrIDs: newAllocator(), objIDs: newAllocator(),
		tagIDs: newAllocator(), orgIDs: newAllocator(),
		tags: map[string]*tag{}, orgs: map[string]*org{},
	}
	for _, o := range builtinOrgs() {
		l.orgIDs.reserve(o.id)
		l.orgIDs.take(o.id)
		l.orgs[o.uuid] = o
	}
	// Pass 1: reserve every id a file brings, so fresh ids never collide.
	for _, f := range files {
		l.eventIDs.reserve(f.ev.ID.s)
		for _, t := range f.ev.Tag {
			l.tagIDs.reserve(t.ID.s)
		}
		if f.ev.Orgc != nil {
			l.orgIDs.reserve(f.ev.Orgc.ID.s)
		}
		for _, a := range f.ev.Attribute {
			l.reserveAttr(a)
		}
		for _, o := range f.ev.Object {
			l.objIDs.reserve(o.ID.s)
			for _, a := range o.Attribute {
				l.reserveAttr(a)
			}
		}
	}

	s := &store{eventByID: map[string]*event{}, eventByUUID: map[string]*event{}, l: l}
	for _, f := range files {
		ev := l.event(f)
		s.addEvent(ev)
		for i, ra := range f.ev.Attribute {
			s.add(l.attribute(f.name, fmt.Sprintf("a%d", i), ra, ev, nil))
		}
		for i, ro := range f.ev.Object {
			obj := &object{
				id:             l.objIDs.take(ro.ID.s),
				distribution:   ro.Distribution.or("5"),
				sharingGroupID: ro.SharingGroupID.or("0"),
			}
			for j, ra := range ro.Attribute {
				s.add(l.attribute(f.name, fmt.Sprintf("o%d.a%d", i, j), ra, ev, obj))
			}
		}
	}
	s.sortRows()
	return s, nil
}

// sortRows puts events and attributes (also each event's) in id order,
// the order MISP's tables return them in.
func (s *store) sortRows() {
	byNum := func(a, b *attribute) int { return cmpInt(a.num, b.num) }
	slices.SortStableFunc(s.attrs, byNum)
	slices.SortStableFunc(s.events, func(a, b *event) int { return cmpInt(a.num, b.num) })
	for _, ev := range s.events {
		slices.SortStableFunc(ev.attrs, byNum)
	}
}

func readEvent(fsys fs.FS, name string) (*rawEvent, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", name, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxEventFile+1)); err != nil {
		return nil, fmt.Errorf("event %s: %w", name, err)
	}
	if buf.Len() > maxEventFile {
		return nil, fmt.Errorf("event %s: larger than %d bytes", name, maxEventFile)
	}
	ev, err := unwrapEvent(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", name, err)
	}
	return ev, nil
}

// unwrapEvent reads an event in every form MISP's /events/add takes
// (EventsController::add): an export's {"response": ...} or a
// {"request": ...} is unwrapped, then {"Event": {...}}, or else the
// object itself is the event (PyMISP's test files, for one).
func unwrapEvent(b []byte) (*rawEvent, error) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(b, &outer); err != nil {
		return nil, fmt.Errorf("not a MISP event (a JSON object): %w", err)
	}
	for _, wrapper := range []string{"response", "request"} {
		if inner, ok := outer[wrapper]; ok {
			b = inner
			if err := json.Unmarshal(b, &outer); err != nil {
				return nil, fmt.Errorf("%q is not a MISP event (a JSON object): %w", wrapper, err)
			}
		}
	}
	if inner, ok := outer["Event"]; ok {
		b = inner
	}
	var ev rawEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, err
	}
	return &ev, nil
}

func (l *loader) reserveAttr(a rawAttr) {
	l.attrIDs.reserve(a.ID.s)
	for _, t := range a.Tag {
		l.tagIDs.reserve(t.ID.s)
	}
}

func (l *loader) event(f parsed) *event {
	r := f.ev
	ev := &event{
		id:             l.eventIDs.take(r.ID.s),
		orgID:          r.OrgID.or(adminOrgID),
		threatLevelID:  r.ThreatLevelID.or("4"),
		info:           r.Info.s,
		uuid:           r.UUID.or(stableUUID(f.name, "event")),
		analysis:       r.Analysis.or("0"),
		distribution:   r.Distribution.or("3"),
		sharingGroupID: r.SharingGroupID.or("0"),
		extendsUUID:    r.ExtendsUUID.s,
		published:      r.Published.bool(),
		locked:         r.Locked.bool(),
		creatorEmail:   r.CreatorEmail.or("admin@admin.test"),
		orgc:           l.org(r.Orgc, r.OrgcID.s),
	}
	ev.num, _ = strconv.ParseInt(ev.id, 10, 64)
	ev.eventTS, _ = strconv.ParseInt(r.Timestamp.s, 10, 64)
	ev.publishTS, _ = strconv.ParseInt(r.PublishTimestamp.s, 10, 64)
	ev.date = r.Date.or(unixDate(ev.eventTS))
	for _, t := range r.Tag {
		ev.tags = append(ev.tags, l.tag(t))
	}
	return ev
}

func (l *loader) attribute(file, where string, r rawAttr, ev *event, obj *object) *attribute {
	a := &attribute{
		category: r.Category.s,
		typ:      r.Type.s,
		uuid:     r.UUID.or(stableUUID(file, where)),
		value:    r.Value.s,
		toIDs:    r.ToIDs.bool(),
		deleted:  r.Deleted.bool(),
		ev:       ev,
		attrMeta: &attrMeta{
			distribution:       r.Distribution.or("5"),
			sharingGroupID:     r.SharingGroupID.or("0"),
			comment:            r.Comment.s,
			objectRelation:     r.ObjectRelation.ptr(),
			firstSeen:          r.FirstSeen.ptr(),
			lastSeen:           r.LastSeen.ptr(),
			disableCorrelation: r.DisableCorrelation.bool(),
			obj:                obj,
		},
	}
	if a.objectRelation != nil && *a.objectRelation == "" {
		a.objectRelation = nil
	}
	a.num, _ = strconv.ParseInt(l.attrIDs.take(r.ID.s), 10, 64)
	a.ts = ev.eventTS
	if r.Timestamp.s != "" {
		a.ts, _ = strconv.ParseInt(r.Timestamp.s, 10, 64)
	}
	a.halves = splitValue(a.typ, a.value)
	for _, t := range r.Tag {
		a.tags = append(a.tags, l.tag(t))
	}
	return a
}

// tag returns the instance's tag of that name, creating it on first use:
// MISP has one tags table, so the same name has one id everywhere.
func (l *loader) tag(r rawTag) *tag {
	key := strings.ToLower(r.Name.s)
	if t, ok := l.tags[key]; ok {
		return t
	}
	t := &tag{
		id:        l.tagIDs.take(r.ID.s),
		name:      r.Name.s,
		colour:    r.Colour.or("#ffffff"),
		numerical: json.RawMessage("null"),
		galaxy:    r.IsGalaxy.bool() || strings.HasPrefix(key, "misp-galaxy:"),
		local:     r.Local.bool(),
	}
	if n := bytes.TrimSpace(r.NumericalValue); len(n) > 0 {
		t.numerical = n
	}
	l.tags[key] = t
	return t
}

// org returns the instance's organisation for an event's Orgc, matched by
// uuid (then name), creating it on first use.
func (l *loader) org(r *rawOrg, orgcID string) *org {
	if r == nil {
		return l.orgs[adminOrgUUID]
	}
	key := r.UUID.s
	if key == "" {
		key = "name:" + r.Name.s
	}
	if o, ok := l.orgs[key]; ok {
		return o
	}
	o := &org{
		id:    l.orgIDs.take(r.ID.or(orgcID)),
		name:  r.Name.s,
		uuid:  r.UUID.or(stableUUID("org", r.Name.s)),
		local: r.Local.bool(),
	}
	l.orgs[key] = o
	return o
}

// addEvent appends ev to the tables.
func (s *store) addEvent(ev *event) {
	s.events = append(s.events, ev)
	s.eventByID[ev.id] = ev
	s.eventByUUID[strings.ToLower(ev.uuid)] = ev
}

// add appends a to the tables. Loading and generating add in any order
// and sort once; a change adds above every id, which keeps the order.
func (s *store) add(a *attribute) {
	s.attrs = append(s.attrs, a)
	a.ev.attrs = append(a.ev.attrs, a)
	if s.byHalf != nil {
		s.index(a)
	}
}

// index adds a to the value index.
func (s *store) index(a *attribute) {
	for i, h := range a.halves {
		if i == 1 && h == a.halves[0] {
			break // both halves alike: listed once
		}
		s.byHalf[h] = append(s.byHalf[h], a)
	}
}

// unindex removes a from the value index.
func (s *store) unindex(a *attribute) {
	if s.byHalf == nil {
		return
	}
	for _, h := range a.halves {
		list := slices.DeleteFunc(s.byHalf[h], func(b *attribute) bool { return b == a })
		if len(list) == 0 {
			delete(s.byHalf, h)
		} else {
			s.byHalf[h] = list
		}
	}
}

// buildIndex makes the value index if there is none yet.
func (s *store) buildIndex() {
	if s.byHalf != nil {
		return
	}
	s.byHalf = make(map[string][]*attribute, len(s.attrs))
	for _, a := range s.attrs {
		s.index(a)
	}
}

// splitValue gives the values MISP stores as value1 and value2: composite
// types ("ip-dst|port", "filename|sha256") are split at the first '|', so
// a search for either half finds the attribute. Values are lowercased
// because MISP's value columns use a case-insensitive collation.
func splitValue(typ, value string) []string {
	if strings.Contains(typ, "|") {
		if v1, v2, ok := strings.Cut(value, "|"); ok {
			return []string{normValue(v1), normValue(v2)}
		}
	}
	return []string{normValue(value)}
}

// normValue is the comparison form of a stored or searched value:
// lowercase, and IPv6 compressed as MISP does with inet_pton/inet_ntop.
func normValue(v string) string {
	if strings.Contains(v, ":") {
		if ip, err := netip.ParseAddr(v); err == nil && ip.Is6() {
			return ip.String()
		}
	}
	return strings.ToLower(v)
}

// stableUUID derives a fixed UUID for a file that has none, so answers do
// not change between runs.
func stableUUID(parts ...string) string {
	h := sha1.Sum([]byte("mispfake/" + path.Join(parts...)))
	h[6] = h[6]&0x0f | 0x50 // version 5
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	var b [36]byte
	hex.Encode(b[0:8], h[0:4])
	hex.Encode(b[9:13], h[4:6])
	hex.Encode(b[14:18], h[6:8])
	hex.Encode(b[19:23], h[8:10])
	hex.Encode(b[24:36], h[10:16])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return string(b[:])
}

// unixDate is an epoch as MISP's event date (YYYY-MM-DD, UTC).
func unixDate(sec int64) string {
	return time.Unix(sec, 0).UTC().Format(time.DateOnly)
}

// itoa is an id or epoch in MISP's wire form, a decimal string.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
