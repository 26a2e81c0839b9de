package mispfake

import (
	"encoding/json"
	"fmt"
	"maps"
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
	set          map[string]bool           // the OR items lowercased, when none is LIKE
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
	if len(c.or) > 0 && c.re == nil {
		c.set = map[string]bool{}
		for _, item := range c.or {
			c.set[strings.ToLower(item)] = true
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
// holding %, matches it as LIKE. It allocates nothing: a sync runs it for
// every attribute of a million.
func condMatches(c cond, cols ...string) bool {
	anyCol := func(item string) bool {
		for _, col := range cols {
			if re := c.re[item]; re != nil && re.MatchString(col) || re == nil && strings.EqualFold(item, col) {
				return true
			}
		}
		return false
	}
	if len(c.or) > 0 {
		if c.set != nil {
			found := false
			for _, col := range cols {
				if c.set[strings.ToLower(col)] {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		} else if !slices.ContainsFunc(c.or, anyCol) {
			return false
		}
	}
	for _, item := range c.and {
		if !anyCol(item) {
			return false
		}
	}
	return !slices.ContainsFunc(c.not, anyCol)
}

// tagsMatch applies a tags filter to the event's tags and the
// attribute's own.
func tagsMatch(c cond, a *attribute) bool {
	var buf [16]string
	names := buf[:0]
	for _, t := range a.ev.tags {
		names = append(names, t.name)
	}
	for _, t := range a.tags {
		names = append(names, t.name)
	}
	return condMatches(c, names...)
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
	key                                      string // the query but its page
	decayScore, excludeDecayed               bool
	scoreThreshold                           float64 // "score": overrides the model's threshold
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
	// The page cache knows a query by everything but its page.
	rest := maps.Clone(f)
	delete(rest, "page")
	key, _ := json.Marshal(rest)
	q.key = fmt.Sprint(string(key), q.since)
	q.context = !phpEmpty(f["includeContext"])
	q.eventUUID = !phpEmpty(f["includeEventUuid"])
	q.warninglist = !phpEmpty(f["enforceWarninglist"])
	q.warninglistHits = !phpEmpty(f["includeWarninglistHits"])
	q.sightings = !phpEmpty(f["includeSightings"])
	// excludeDecayed implies includeDecayScore (MispAttribute::restSearch).
	q.excludeDecayed = !phpEmpty(f["excludeDecayed"])
	q.decayScore = q.excludeDecayed || !phpEmpty(f["includeDecayScore"])
	if v, ok := scalar(f["score"]); ok {
		q.scoreThreshold, _ = strconv.ParseFloat(v, 64)
	}
	// Observed (restsearch_decay) and in fetchAttributes: a decay score
	// brings the event's tags along, as the decaying models read them.
	q.eventTags = !phpEmpty(f["includeEventTags"]) || q.decayScore
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
	out := s.matching(q, who)
	var r result
	if q.limit > 0 {
		start := min((q.page-1)*q.limit, len(out))
		end := min(start+q.limit, len(out))
		out = out[start:end]
	}
	// X-Result-Count counts the rows fetched, before enforceWarninglist
	// drops any (restsearch_enforce_warninglist: 5 counted, 2 returned).
	r.count = len(out)
	// enforceWarninglist and excludeDecayed drop rows from the fetched
	// page (fetchAttributes), counted in X-Skipped-Elements-Count.
	if q.warninglist || q.excludeDecayed {
		kept := out[:0:0]
		for _, a := range out {
			if q.warninglist && len(s.hits(a)) > 0 {
				r.skipped++
				continue
			}
			if d, ok := s.decayOf(a, q.scoreThreshold); q.excludeDecayed && ok && d.decayed {
				r.skipped++
				continue
			}
			kept = append(kept, a)
		}
		out = kept
	}
	// With a limit, MispAttribute::__iteratedFetch adds one unless the
	// page it hands out, after the warninglist drop, is shorter than the
	// limit; an empty page ends the fetch before that check and keeps the
	// one. Captured on the test bed: a full page of 5 counts 6, 100 rows
	// of which 5 were warninglisted count 100, a page whose only row was
	// warninglisted counts 2, a page past the end 1.
	if q.limit > 0 && (len(out) == 0 || len(out) == q.limit) {
		r.count++
	}
	r.attrs = out
	return r
}

// matching returns every visible attribute q keeps, in q's order. The
// caller holds dbMu for reading.
//
// A search by value or by event id starts from the indexes, so it costs
// what it finds. A search that has to scan every attribute (a sync paging
// through all of them) is kept for the next page of the same query until
// the data changes: each page then costs its own size, not a scan of a
// million attributes. MISP's own answer to a changed table between two
// pages is the same as the fake's: the next page is cut from the new rows.
func (s *Server) matching(q query, who caller) []*attribute {
	candidates, scan := s.candidates(q)
	if !scan && len(q.values) == 0 {
		// The candidates are exactly the named events' attributes.
		q.eventIDs = cond{}
	}
	cacheKey := ""
	if scan && q.limit > 0 {
		cacheKey = fmt.Sprintf("%d|%s|%t|%s", s.gen, who.orgID, who.siteAdmin, q.key)
		s.pageMu.Lock()
		hit := s.pages.key == cacheKey
		list := s.pages.attrs
		s.pageMu.Unlock()
		if hit {
			return list
		}
	}
	var out []*attribute
	for _, a := range candidates {
		if who.visible(a) && q.keep(a) {
			out = append(out, a)
		}
	}
	q.sort(out)
	if cacheKey != "" {
		s.pageMu.Lock()
		s.pages.key, s.pages.attrs = cacheKey, out
		s.pageMu.Unlock()
	}
	return out
}

// candidates narrows the attributes q can match through the indexes, in
// id order; scan is true when it could not and every attribute is a
// candidate.
func (s *Server) candidates(q query) (list []*attribute, scan bool) {
	switch {
	case len(q.values) > 0 && !slices.ContainsFunc(q.values, func(m valueMatcher) bool { return m.like != nil }):
		return s.lookup(q.values), false
	case len(q.eventIDs.or) > 0 && q.eventIDs.set != nil && len(q.eventIDs.not)+len(q.eventIDs.and) == 0:
		return s.eventAttrs(q.eventIDs.or), false
	}
	return s.db.attrs, true
}

// lookup finds the attributes with a value half equal to one of the
// searched values, in id order. The caller has built the value index.
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

// eventAttrs gathers the attributes of the events named by id or uuid, in
// id order.
func (s *Server) eventAttrs(ids []string) []*attribute {
	seen := map[*event]bool{}
	var out []*attribute
	for _, id := range ids {
		ev := s.db.eventByID[id]
		if ev == nil {
			ev = s.db.eventByUUID[strings.ToLower(id)]
		}
		if ev != nil && !seen[ev] {
			seen[ev] = true
			out = append(out, ev.attrs...)
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
	if !q.tags.empty() && !tagsMatch(q.tags, a) {
		return false
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

// orderKeys are the columns MispAttribute::restSearch lets "order"
// name (findOrder); any other order is dropped, as MISP drops it.
var orderKeys = map[string]func(a, b *attribute) int{
	"id":                      func(a, b *attribute) int { return cmpInt(a.num, b.num) },
	"timestamp":               func(a, b *attribute) int { return cmpInt(a.ts, b.ts) },
	"event_id":                func(a, b *attribute) int { return cmpInt(a.ev.num, b.ev.num) },
	"value":                   func(a, b *attribute) int { return strings.Compare(a.value, b.value) },
	"type":                    func(a, b *attribute) int { return strings.Compare(a.typ, b.typ) },
	"category":                func(a, b *attribute) int { return strings.Compare(a.category, b.category) },
	"distribution":            func(a, b *attribute) int { return strings.Compare(a.distribution, b.distribution) },
	"Event.publish_timestamp": func(a, b *attribute) int { return cmpInt(a.ev.publishTS, b.ev.publishTS) },
}

// sort applies "order". Rows that tie keep id order. The database breaks
// ties its own way (the test bed gave ids 1184, 1182, 1181 for one
// timestamp with "Attribute.timestamp desc"); SQL leaves it undefined, and
// tests elsewhere in the project rely on the fake's id order.
//
// Without an order MISP leaves the order to the database's plan. On the
// test bed a type-filtered page cut by limit came in the type index's
// order (type, then id: no-order-limit5 gave 69, 80, 88, 114, 235, the
// domains first), unless "published" or "eventid" made it go through the
// events (id order, as everything unpaged). The fake reproduces those two
// plans; a client that pages must send an order.
func (q query) sort(attrs []*attribute) {
	key, ok := orderKeys[q.order]
	if ok && q.order == "id" && !q.desc {
		return // candidates come in id order
	}
	if !ok {
		if q.limit > 0 && !q.types.empty() && q.eventIDs.empty() && len(q.published) == 0 {
			slices.SortStableFunc(attrs, func(a, b *attribute) int {
				if c := strings.Compare(a.typ, b.typ); c != 0 {
					return c
				}
				return cmpInt(a.num, b.num)
			})
		}
		return
	}
	// Ties: the test bed's MariaDB returned rows of equal timestamp
	// under "timestamp desc" in descending id order
	// (captures/sync/attributes-restsearch-order-timestamp-desc.json).
	slices.SortStableFunc(attrs, func(a, b *attribute) int {
		if q.desc {
			if c := key(b, a); c != 0 {
				return c
			}
			return cmpInt(b.num, a.num)
		}
		return key(a, b)
	})
}
