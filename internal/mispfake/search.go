package mispfake

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cond is one parsed restSearch filter: MISP's OR / NOT / AND lists
// (AppModel::convert_filters). A plain list is an OR list whose "!x"
// items go to NOT.
type cond struct {
	or, not, and []string
	re           map[string]*regexp.Regexp // compiled LIKE items
}

func (c cond) empty() bool { return len(c.or)+len(c.not)+len(c.and) == 0 }

// parseCond reads a filter given as a string, number, bool, list or
// {"OR": [...], "NOT": [...], "AND": [...]}. In a string, "||" and "&&"
// separate items (AppController::_harvestParameters); list items are not
// split, which is why clients should send lists.
func parseCond(v any) cond {
	var c cond
	add := func(s string) {
		s = strings.TrimSpace(s)
		switch {
		case s == "" || s == "!":
		case strings.HasPrefix(s, "!"):
			c.not = append(c.not, s[1:])
		default:
			c.or = append(c.or, s)
		}
	}
	switch x := v.(type) {
	case string:
		for _, part := range strings.Split(strings.ReplaceAll(x, "&&", "||"), "||") {
			add(part)
		}
	case []any:
		for _, item := range x {
			if s, ok := scalar(item); ok {
				add(s)
			}
		}
	case map[string]any:
		for k, item := range x {
			sub := parseCond(item)
			items := append(append([]string{}, sub.or...), sub.and...)
			switch strings.ToUpper(k) {
			case "OR":
				c.or = append(c.or, items...)
				c.not = append(c.not, sub.not...)
			case "NOT":
				c.not = append(c.not, items...)
			case "AND":
				c.and = append(c.and, items...)
				c.not = append(c.not, sub.not...)
			}
		}
	default:
		if s, ok := scalar(x); ok {
			add(s)
		}
	}
	for _, item := range slices.Concat(c.or, c.not, c.and) {
		if strings.Contains(item, "%") {
			if c.re == nil {
				c.re = map[string]*regexp.Regexp{}
			}
			c.re[item] = likeRE(item)
		}
	}
	return c
}

// scalar turns a JSON scalar into MISP's string form (true → "1").
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	}
	return "", false
}

// phpEmpty mirrors PHP's empty(), which MISP uses to read its include*
// switches: absent, null, false, 0, "0", "" and [] are off; anything else,
// even the string "false", is on.
func phpEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == "" || x == "0"
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// flagSet reads to_ids / published: a bool, 0/1 or "exclude" (= 0), or a
// list of those meaning any of them. ok is false when the filter is absent
// or unreadable, which MISP treats as "no filter".
func flagSet(v any) (want map[bool]bool, ok bool) {
	want = map[bool]bool{}
	var items []any
	if l, isList := v.([]any); isList {
		items = l
	} else if v != nil {
		items = []any{v}
	}
	for _, it := range items {
		s, _ := scalar(it)
		switch strings.ToLower(s) {
		case "1", "true":
			want[true] = true
		case "0", "false", "exclude":
			want[false] = true
		}
	}
	return want, len(want) > 0
}

// likeRE compiles a SQL LIKE pattern (case-insensitive, % = any run,
// _ = one character), which MISP uses for any filter item holding %.
func likeRE(pattern string) *regexp.Regexp {
	var re strings.Builder
	re.WriteString(`(?is)\A`)
	for _, r := range pattern {
		switch r {
		case '%':
			re.WriteString(`.*`)
		case '_':
			re.WriteString(`.`)
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString(`\z`)
	return regexp.MustCompile(re.String()) // cannot fail: every literal is quoted
}

// valueMatcher is one searched value: exact (normalised) or LIKE.
type valueMatcher struct {
	exact string
	like  *regexp.Regexp
}

func newValueMatcher(v string) valueMatcher {
	if strings.Contains(v, "%") {
		return valueMatcher{like: likeRE(v)}
	}
	return valueMatcher{exact: normValue(v)}
}

func (m valueMatcher) matches(a *attribute) bool {
	for _, h := range a.halves {
		if m.like != nil && m.like.MatchString(h) || m.like == nil && h == m.exact {
			return true
		}
	}
	return false
}

// condMatches applies a filter to the columns of one row: an item matches
// when it equals a column case-insensitively (MySQL's _ci collation) or,
// holding %, matches it as LIKE.
func condMatches(c cond, cols ...string) bool {
	anyCol := func(item string) bool {
		for _, col := range cols {
			if re := c.re[item]; re != nil && re.MatchString(col) || re == nil && strings.EqualFold(item, col) {
				return true
			}
		}
		return false
	}
	if len(c.or) > 0 && !slices.ContainsFunc(c.or, anyCol) {
		return false
	}
	for _, item := range c.and {
		if !anyCol(item) {
			return false
		}
	}
	return !slices.ContainsFunc(c.not, anyCol)
}

// query is a parsed restSearch body.
type query struct {
	value                                    cond
	values, notValues, andValues             []valueMatcher
	types, categories, tags, eventIDs, uuids cond
	threatLevels                             cond
	toIDs, published                         map[bool]bool
	deleted                                  string // "" (exclude deleted), "only", "both"
	since                                    []timeFilter
	limit, page                              int
	order                                    string
	desc                                     bool
	eventTags, context, eventUUID            bool
	warninglist, warninglistHits, sightings  bool
}

// timeFilter keeps attributes whose chosen timestamp lies in [from, to].
type timeFilter struct {
	field    string // "publish", "event", "attribute"
	from, to int64
}

func parseQuery(f map[string]any, now time.Time) query {
	q := query{
		value:        parseCond(f["value"]),
		types:        parseCond(f["type"]),
		categories:   parseCond(f["category"]),
		tags:         parseCond(f["tags"]),
		eventIDs:     parseCond(f["eventid"]),
		uuids:        parseCond(f["uuid"]),
		threatLevels: parseCond(f["threat_level_id"]),
		page:         1,
	}
	for _, v := range q.value.or {
		q.values = append(q.values, newValueMatcher(v))
	}
	for _, v := range q.value.not {
		q.notValues = append(q.notValues, newValueMatcher(v))
	}
	for _, v := range q.value.and {
		q.andValues = append(q.andValues, newValueMatcher(v))
	}
	q.toIDs, _ = flagSet(f["to_ids"])
	q.published, _ = flagSet(f["published"])
	if d, ok := flagSet(f["deleted"]); ok {
		switch {
		case d[true] && d[false]:
			q.deleted = "both"
		case d[true]:
			q.deleted = "only"
		}
	}
	if s, _ := scalar(f["deleted"]); s == "only" {
		q.deleted = "only"
	}
	for key, field := range map[string]string{
		"last": "publish", "publish_timestamp": "publish", "event_timestamp": "event",
		"timestamp": "attribute", "attribute_timestamp": "attribute",
	} {
		if v, ok := f[key]; ok && !phpEmpty(v) {
			from, to := timeRange(v, now)
			q.since = append(q.since, timeFilter{field, from, to})
		}
	}
	if n, ok := intParam(f["limit"]); ok && n > 0 {
		q.limit = n
		if p, ok := intParam(f["page"]); ok && p > 0 {
			q.page = p
		}
	}
	if s, ok := f["order"].(string); ok {
		field, dir, _ := strings.Cut(strings.TrimSpace(s), " ")
		q.order = strings.TrimPrefix(strings.TrimPrefix(field, "Attribute."), "attribute.")
		q.desc = strings.EqualFold(strings.TrimSpace(dir), "desc")
	}
	// Observed (restsearch_decay): includeDecayScore brings the event's
	// tags along, as the decaying models read them.
	q.eventTags = !phpEmpty(f["includeEventTags"]) || !phpEmpty(f["includeDecayScore"])
	q.context = !phpEmpty(f["includeContext"])
	q.eventUUID = !phpEmpty(f["includeEventUuid"])
	q.warninglist = !phpEmpty(f["enforceWarninglist"])
	q.warninglistHits = !phpEmpty(f["includeWarninglistHits"])
	q.sightings = !phpEmpty(f["includeSightings"])
	return q
}

func intParam(v any) (int, bool) {
	s, ok := scalar(v)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// timeRange reads MISP's time deltas (AppModel::resolveTimeDelta): an
// epoch, "Nd"/"Nh"/"Nm"/"Ns" (ago), or a [from, to] pair. Anything else
// resolves to now+1, so the search silently finds nothing, as in MISP.
func timeRange(v any, now time.Time) (from, to int64) {
	if pair, ok := v.([]any); ok && len(pair) == 2 {
		from, _ = timeRange(pair[0], now)
		to, _ = timeRange(pair[1], now)
		return from, to
	}
	const forever = 1 << 62
	s, _ := scalar(v)
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, forever
	}
	units := map[byte]int64{'d': 86400, 'h': 3600, 'm': 60, 's': 1}
	if len(s) > 1 {
		if unit, ok := units[s[len(s)-1]]; ok {
			if n, err := strconv.ParseInt(s[:len(s)-1], 10, 64); err == nil {
				return now.Unix() - n*unit, forever
			}
		}
	}
	return now.Unix() + 1, forever
}

// caller is who is asking: visibility depends on the key's organisation.
type caller struct {
	orgID     string
	siteAdmin bool
}

// visible applies MISP's distribution rules in their simplest form:
// site admins and the owning organisation see everything; others see
// events shared beyond the organisation (1, 2, 3) and, inside them,
// attributes and objects that are not "organisation only" (0) or limited
// to a sharing group (4). 5 means "inherit from the event".
func (c caller) visible(a *attribute) bool {
	if c.siteAdmin || a.ev.orgID == c.orgID {
		return true
	}
	shared := func(d string) bool { return d == "1" || d == "2" || d == "3" || d == "5" }
	if a.ev.distribution == "5" || !shared(a.ev.distribution) || !shared(a.distribution) { // an event cannot inherit
		return false
	}
	return a.obj == nil || shared(a.obj.distribution)
}

// result is what one restSearch returns.
type result struct {
	attrs   []*attribute
	count   int // X-Result-Count
	skipped int // X-Skipped-Elements-Count
}

func (s *Server) search(q query, who caller) result {
	candidates := s.db.attrs
	if len(q.values) > 0 && !slices.ContainsFunc(q.values, func(m valueMatcher) bool { return m.like != nil }) {
		candidates = s.lookup(q.values)
	}
	var out []*attribute
	for _, a := range candidates {
		if who.visible(a) && q.keep(a) {
			out = append(out, a)
		}
	}
	q.sort(out)

	var r result
	if q.limit > 0 {
		start := min((q.page-1)*q.limit, len(out))
		end := min(start+q.limit, len(out))
		// MispAttribute::__iteratedFetch adds one to the page size
		// unless the page came back shorter than the limit: a full page
		// (restsearch_limit_page, tb_restsearch_limit_truncated) and an
		// empty one (tb_redisdown_restsearch: 1 for no match) both count
		// one more than they hold, whether or not more results follow.
		r.count = end - start
		if r.count == 0 || r.count == q.limit {
			r.count++
		}
		out = out[start:end]
	} else {
		r.count = len(out)
	}
	// enforceWarninglist drops attributes after the count: the captured
	// MISP reported X-Result-Count 5 with only 2 returned and 3 skipped.
	if q.warninglist {
		kept := out[:0:0]
		for _, a := range out {
			if len(hits(s.warninglists, a)) > 0 {
				r.skipped++
				continue
			}
			kept = append(kept, a)
		}
		out = kept
	}
	r.attrs = out
	return r
}

// lookup finds the attributes with a value half equal to one of the
// searched values, in id order.
func (s *Server) lookup(values []valueMatcher) []*attribute {
	seen := map[*attribute]bool{}
	var out []*attribute
	for _, m := range values {
		for _, a := range s.db.byHalf[m.exact] {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b *attribute) int { return cmpInt(a.num, b.num) })
	return out
}

func (q query) keep(a *attribute) bool {
	switch q.deleted {
	case "":
		if a.deleted {
			return false
		}
	case "only":
		if !a.deleted {
			return false
		}
	}
	matchedBy := func(m valueMatcher) bool { return m.matches(a) }
	if len(q.values) > 0 && !slices.ContainsFunc(q.values, matchedBy) {
		return false
	}
	if slices.ContainsFunc(q.notValues, matchedBy) {
		return false
	}
	for _, m := range q.andValues {
		if !m.matches(a) {
			return false
		}
	}
	if len(q.toIDs) > 0 && !q.toIDs[a.toIDs] {
		return false
	}
	if len(q.published) > 0 && !q.published[a.ev.published] {
		return false
	}
	if !q.types.empty() && !condMatches(q.types, a.typ) {
		return false
	}
	if !q.categories.empty() && !condMatches(q.categories, a.category) {
		return false
	}
	if !q.eventIDs.empty() && !condMatches(q.eventIDs, a.ev.id, a.ev.uuid) {
		return false
	}
	if !q.uuids.empty() && !condMatches(q.uuids, a.uuid, a.ev.uuid) {
		return false
	}
	if !q.threatLevels.empty() && !condMatches(q.threatLevels, a.ev.threatLevelID) {
		return false
	}
	if !q.tags.empty() {
		// Tags match against the event's tags or the attribute's own.
		var names []string
		for _, t := range append(slices.Clone(a.ev.tags), a.tags...) {
			names = append(names, t.name)
		}
		if !condMatches(q.tags, names...) {
			return false
		}
	}
	for _, tf := range q.since {
		ts := a.ts
		switch tf.field {
		case "publish":
			ts = a.ev.publishTS
		case "event":
			ts = a.ev.eventTS
		}
		if ts < tf.from || ts > tf.to {
			return false
		}
	}
	return true
}

// sort applies "order" for the columns MISP allows; without it MISP
// returns rows in id order.
func (q query) sort(attrs []*attribute) {
	var key func(a, b *attribute) int
	switch q.order {
	case "id":
		key = func(a, b *attribute) int { return cmpInt(a.num, b.num) }
	case "timestamp":
		key = func(a, b *attribute) int { return cmpInt(a.ts, b.ts) }
	case "event_id":
		key = func(a, b *attribute) int { return strings.Compare(a.ev.id, b.ev.id) }
	case "value":
		key = func(a, b *attribute) int { return strings.Compare(a.value, b.value) }
	case "type":
		key = func(a, b *attribute) int { return strings.Compare(a.typ, b.typ) }
	case "category":
		key = func(a, b *attribute) int { return strings.Compare(a.category, b.category) }
	case "Event.publish_timestamp":
		key = func(a, b *attribute) int { return cmpInt(a.ev.publishTS, b.ev.publishTS) }
	default:
		return
	}
	slices.SortStableFunc(attrs, func(a, b *attribute) int {
		if q.desc {
			return key(b, a)
		}
		return key(a, b)
	})
}

// Wire shapes, in the field order MISP 2.5.1 writes them.

type attrOut struct {
	ID                 string     `json:"id"`
	EventID            string     `json:"event_id"`
	ObjectID           string     `json:"object_id"`
	ObjectRelation     *string    `json:"object_relation"`
	Category           string     `json:"category"`
	Type               string     `json:"type"`
	ToIDs              bool       `json:"to_ids"`
	UUID               string     `json:"uuid"`
	Timestamp          string     `json:"timestamp"`
	Distribution       string     `json:"distribution"`
	SharingGroupID     string     `json:"sharing_group_id"`
	Comment            string     `json:"comment"`
	Deleted            bool       `json:"deleted"`
	DisableCorrelation bool       `json:"disable_correlation"`
	FirstSeen          *string    `json:"first_seen"`
	LastSeen           *string    `json:"last_seen"`
	Value              string     `json:"value"`
	EventUUID          string     `json:"event_uuid,omitempty"`
	Sighting           *[]any     `json:"Sighting,omitempty"`
	Warnings           []warning  `json:"warnings,omitempty"`
	Event              any        `json:"Event"`
	Object             *objectOut `json:"Object,omitempty"`
	Tag                []any      `json:"Tag,omitempty"`
}

type leanEventOut struct {
	OrgID            string `json:"org_id"`
	Distribution     string `json:"distribution"`
	PublishTimestamp string `json:"publish_timestamp"`
	ID               string `json:"id"`
	Info             string `json:"info"`
	OrgcID           string `json:"orgc_id"`
	UUID             string `json:"uuid"`
}

type contextEventOut struct {
	ID               string        `json:"id"`
	OrgcID           string        `json:"orgc_id"`
	OrgID            string        `json:"org_id"`
	Date             string        `json:"date"`
	ThreatLevelID    string        `json:"threat_level_id"`
	Info             string        `json:"info"`
	Published        bool          `json:"published"`
	UUID             string        `json:"uuid"`
	Analysis         string        `json:"analysis"`
	Timestamp        string        `json:"timestamp"`
	Distribution     string        `json:"distribution"`
	PublishTimestamp string        `json:"publish_timestamp"`
	SharingGroupID   string        `json:"sharing_group_id"`
	ExtendsUUID      string        `json:"extends_uuid"`
	Tag              []eventTagOut `json:"Tag"`
	Orgc             orgOut        `json:"Orgc"`
}

type eventTagOut struct {
	Local          bool            `json:"local"`
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Colour         string          `json:"colour"`
	NumericalValue json.RawMessage `json:"numerical_value"`
}

type orgOut struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	UUID  string `json:"uuid"`
	Local bool   `json:"local"`
}

type objectOut struct {
	ID             string `json:"id"`
	Distribution   string `json:"distribution"`
	SharingGroupID string `json:"sharing_group_id"`
}

type ownTagOut struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Colour         string          `json:"colour"`
	NumericalValue json.RawMessage `json:"numerical_value"`
	IsGalaxy       bool            `json:"is_galaxy"`
	Local          bool            `json:"local"`
}

type inheritedTagOut struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Colour         string          `json:"colour"`
	NumericalValue json.RawMessage `json:"numerical_value"`
	Inherited      int             `json:"inherited"`
}

func (s *Server) render(q query, a *attribute) attrOut {
	out := attrOut{
		ID: a.id, EventID: a.ev.id, ObjectID: a.objectID, ObjectRelation: a.objectRelation,
		Category: a.category, Type: a.typ, ToIDs: a.toIDs, UUID: a.uuid, Timestamp: a.timestamp,
		Distribution: a.distribution, SharingGroupID: a.sharingGroupID, Comment: a.comment,
		Deleted: a.deleted, DisableCorrelation: a.disableCorrelation,
		FirstSeen: a.firstSeen, LastSeen: a.lastSeen, Value: a.value,
	}
	if q.eventUUID {
		out.EventUUID = a.ev.uuid
	}
	if q.sightings {
		out.Sighting = &[]any{} // the fake records no sightings
	}
	// MISP evaluates warninglist hits only for IDS attributes.
	if q.warninglistHits && a.toIDs {
		out.Warnings = hits(s.warninglists, a)
	}
	if q.context {
		ev := contextEventOut{
			ID: a.ev.id, OrgcID: a.ev.orgc.id, OrgID: a.ev.orgID, Date: a.ev.date,
			ThreatLevelID: a.ev.threatLevelID, Info: a.ev.info, Published: a.ev.published,
			UUID: a.ev.uuid, Analysis: a.ev.analysis, Timestamp: a.ev.timestamp,
			Distribution: a.ev.distribution, PublishTimestamp: a.ev.publishTimestamp,
			SharingGroupID: a.ev.sharingGroupID, ExtendsUUID: a.ev.extendsUUID,
			Tag:  []eventTagOut{},
			Orgc: orgOut{ID: a.ev.orgc.id, Name: a.ev.orgc.name, UUID: a.ev.orgc.uuid, Local: a.ev.orgc.local},
		}
		for _, t := range a.ev.tags {
			ev.Tag = append(ev.Tag, eventTagOut{Local: t.local, ID: t.id, Name: t.name, Colour: t.colour, NumericalValue: t.numerical})
		}
		out.Event = ev
	} else {
		out.Event = leanEventOut{
			OrgID: a.ev.orgID, Distribution: a.ev.distribution, PublishTimestamp: a.ev.publishTimestamp,
			ID: a.ev.id, Info: a.ev.info, OrgcID: a.ev.orgc.id, UUID: a.ev.uuid,
		}
	}
	if a.obj != nil {
		out.Object = &objectOut{ID: a.obj.id, Distribution: a.obj.distribution, SharingGroupID: a.obj.sharingGroupID}
	}
	own := map[*tag]bool{}
	for _, t := range a.tags {
		own[t] = true
		out.Tag = append(out.Tag, ownTagOut{ID: t.id, Name: t.name, Colour: t.colour, NumericalValue: t.numerical, IsGalaxy: t.galaxy, Local: t.local})
	}
	if q.eventTags {
		for _, t := range a.ev.tags {
			if !own[t] {
				out.Tag = append(out.Tag, inheritedTagOut{ID: t.id, Name: t.name, Colour: t.colour, NumericalValue: t.numerical, Inherited: 1})
			}
		}
	}
	return out
}

// encodeSearch writes the body exactly as MISP's JsonExport does: a fixed
// header, compact attributes separated by commas, a fixed footer, slashes
// and <>& left unescaped.
func (s *Server) encodeSearch(q query, attrs []*attribute) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"response": {"Attribute": [`)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, a := range attrs {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(s.render(q, a)); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	buf.WriteString("]}}\n")
	return buf.Bytes(), nil
}
