package mispfake

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The event endpoints a mirror sync uses: the minimal index (which events
// exist, their timestamps and published flags) and restSearch with
// metadata (an event's context without its attributes). Shapes and
// semantics are those of the test bed's MISP 2.5.1 (captures in
// testdata/captures/sync, golden_sync_test.go) and EventsController.php.

// visibleEvent applies the distribution rules to an event (see visible).
func (c caller) visibleEvent(ev *event) bool {
	return c.siteAdmin || ev.orgID == c.orgID || ev.distribution == "1" || ev.distribution == "2" || ev.distribution == "3"
}

// eventQuery is a parsed /events/index or /events/restSearch body.
type eventQuery struct {
	ids         cond
	published   map[bool]bool
	since       []timeFilter // field "event" or "publish"
	limit, page int
	sort        string
	desc        bool
	// withAttrs keeps only events with an attribute that is not deleted:
	// the minimal index hides the others (attribute_count > 0 in
	// EventsController; captured: an empty event was missing from it).
	withAttrs bool
}

func (q eventQuery) keep(ev *event) bool {
	if !q.ids.empty() && !condMatches(q.ids, ev.id, ev.uuid) {
		return false
	}
	if len(q.published) > 0 && !q.published[ev.published] {
		return false
	}
	if q.withAttrs && attributeCount(ev) == 0 {
		return false
	}
	for _, tf := range q.since {
		ts := ev.eventTS
		if tf.field == "publish" {
			ts = ev.publishTS
		}
		if ts < tf.from || ts > tf.to {
			return false
		}
	}
	return true
}

// eventSortKeys are the columns the index can be sorted by (any column of
// the events table in MISP; these are the ones a client would use).
var eventSortKeys = map[string]func(a, b *event) int{
	"id":                func(a, b *event) int { return cmpInt(a.num, b.num) },
	"timestamp":         func(a, b *event) int { return cmpInt(a.eventTS, b.eventTS) },
	"publish_timestamp": func(a, b *event) int { return cmpInt(a.publishTS, b.publishTS) },
	"date":              func(a, b *event) int { return strings.Compare(a.date, b.date) },
	"threat_level_id":   func(a, b *event) int { return strings.Compare(a.threatLevelID, b.threatLevelID) },
	"info":              func(a, b *event) int { return strings.Compare(a.info, b.info) },
}

// events returns the visible events q keeps, sorted, and how many there
// are before paging (X-Result-Count, the absolute total in both
// endpoints: captured 16 for a page past the end). The caller holds dbMu.
func (s *Server) events(q eventQuery, who caller) ([]*event, int) {
	var out []*event
	for _, ev := range s.db.events {
		if who.visibleEvent(ev) && q.keep(ev) {
			out = append(out, ev)
		}
	}
	if key, ok := eventSortKeys[q.sort]; ok {
		// Ties keep id order; the test bed's database broke them its own
		// way (timestamp desc gave 14, 13, 15 for one second).
		slices.SortStableFunc(out, func(a, b *event) int {
			if q.desc {
				return key(b, a)
			}
			return key(a, b)
		})
	}
	total := len(out)
	if q.limit > 0 {
		start := min((max(q.page, 1)-1)*q.limit, len(out))
		out = out[start:min(start+q.limit, len(out))]
	}
	return out, total
}

// eventFilters reads the filters both endpoints share. timestamp and
// publish_timestamp take an epoch, a relative "1d" or a [from, to] pair,
// as AppModel::resolveTimeDelta reads them; "last" is a relative publish
// timestamp.
func eventFilters(f map[string]any, s *Server) eventQuery {
	q := eventQuery{ids: parseCond(f["eventid"]), page: 1}
	q.published, _ = flagSet(f["published"]) // 2 ("both") reads as no filter
	for key, field := range map[string]string{
		"timestamp": "event", "publish_timestamp": "publish", "publishtimestamp": "publish", "last": "publish",
	} {
		if v, ok := f[key]; ok && !phpEmpty(v) {
			from, to := timeRange(v, s.now())
			q.since = append(q.since, timeFilter{field, from, to})
		}
	}
	if n, ok := intParam(f["limit"]); ok && n > 0 {
		q.limit = n
		if p, ok := intParam(f["page"]); ok && p > 0 {
			q.page = p
		}
	}
	return q
}

// requestFilters reads a JSON body ({"request": ...} unwrapped) into a
// map, numbers kept as json.Number. ok is false for a body that is not a
// JSON object.
func requestFilters(body []byte) (map[string]any, bool) {
	f := map[string]any{}
	if len(bytes.TrimSpace(body)) == 0 {
		return f, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil || dec.More() {
		return nil, false
	}
	if inner, ok := f["request"].(map[string]any); ok {
		f = inner
	}
	return f, true
}

// eventIndex serves /events/index (EventsController::index for a REST
// client). Only the minimal form is served. Filters come from the body or
// as named parameters in the path (/events/index/minimal:1/published:0);
// "search"-prefixed names (searchtimestamp) mean the same as the bare ones.
func (s *Server) eventIndex(w http.ResponseWriter, r *http.Request, k Key, body []byte, params string) {
	f, ok := requestFilters(body)
	if !ok {
		writeError(w, http.StatusMethodNotAllowed, "Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request.", r.URL.Path)
		return
	}
	for _, p := range strings.Split(params, "/") {
		if name, v, ok := strings.Cut(p, ":"); ok {
			f[name] = v
		}
	}
	for _, name := range slices.Collect(maps.Keys(f)) {
		if bare, ok := strings.CutPrefix(strings.ToLower(name), "search"); ok && bare != "" {
			f[bare] = f[name]
		}
	}
	if phpEmpty(f["minimal"]) {
		writeError(w, http.StatusNotImplemented, "mispfake: only the minimal events index (minimal: 1) is implemented", r.URL.Path)
		return
	}
	q := eventFilters(f, s)
	q.withAttrs = true
	if v, ok := f["sort"].(string); ok {
		q.sort = v
		d, _ := f["direction"].(string)
		q.desc = strings.EqualFold(d, "desc")
	}
	type row struct {
		ID                string `json:"id"`
		Timestamp         string `json:"timestamp"`
		SightingTimestamp string `json:"sighting_timestamp"`
		Published         bool   `json:"published"`
		UUID              string `json:"uuid"`
		OrgcUUID          string `json:"orgc_uuid"`
	}
	s.dbMu.RLock()
	evs, total := s.events(q, caller{orgID: k.OrgID, siteAdmin: k.SiteAdmin})
	out := make([]row, 0, len(evs))
	for _, ev := range evs {
		out = append(out, row{ev.id, itoa(ev.eventTS), "0", ev.published, ev.uuid, ev.orgc.uuid})
	}
	s.dbMu.RUnlock()
	w.Header().Set("X-Result-Count", strconv.Itoa(total))
	writePretty(w, http.StatusOK, out)
}

// Wire shapes of /events/restSearch with metadata, in MISP's field order.
type (
	eventMetaOut struct {
		ID                string       `json:"id"`
		OrgcID            string       `json:"orgc_id"`
		OrgID             string       `json:"org_id"`
		Date              string       `json:"date"`
		ThreatLevelID     string       `json:"threat_level_id"`
		Info              string       `json:"info"`
		Published         bool         `json:"published"`
		UUID              string       `json:"uuid"`
		AttributeCount    string       `json:"attribute_count"`
		Analysis          string       `json:"analysis"`
		Timestamp         string       `json:"timestamp"`
		Distribution      string       `json:"distribution"`
		ProposalEmailLock bool         `json:"proposal_email_lock"`
		Locked            bool         `json:"locked"`
		PublishTimestamp  string       `json:"publish_timestamp"`
		SharingGroupID    string       `json:"sharing_group_id"`
		DisableCorr       bool         `json:"disable_correlation"`
		ExtendsUUID       string       `json:"extends_uuid"`
		Protected         *bool        `json:"protected"`
		CreatorEmail      string       `json:"event_creator_email"`
		Org               eventOrgOut  `json:"Org"`
		Orgc              eventOrgOut  `json:"Orgc"`
		RelatedEvent      []any        `json:"RelatedEvent"`
		Galaxy            []any        `json:"Galaxy"`
		CryptographicKey  []any        `json:"CryptographicKey"`
		Tag               []fullTagOut `json:"Tag,omitempty"`
	}
	eventOrgOut struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		UUID  string `json:"uuid"`
		Local bool   `json:"local"`
	}
	fullTagOut struct {
		ID               string          `json:"id"`
		Name             string          `json:"name"`
		Colour           string          `json:"colour"`
		Exportable       bool            `json:"exportable"`
		UserID           string          `json:"user_id"`
		HideTag          bool            `json:"hide_tag"`
		NumericalValue   json.RawMessage `json:"numerical_value"`
		IsGalaxy         bool            `json:"is_galaxy"`
		IsCustomGalaxy   bool            `json:"is_custom_galaxy"`
		LocalOnly        bool            `json:"local_only"`
		Local            bool            `json:"local"`
		RelationshipType *string         `json:"relationship_type"`
	}
)

// orgByID is the organisation with that id; the caller holds dbMu.
func (s *Server) orgByID(id string) eventOrgOut {
	for _, o := range s.db.l.orgs {
		if o.id == id {
			return eventOrgOut{o.id, o.name, o.uuid, o.local}
		}
	}
	o := organisationFor(id)
	return eventOrgOut{o.ID, o.Name, o.UUID, o.Local}
}

// attributeCount is MISP's events.attribute_count: the attributes, object
// ones included, that are not deleted (a soft delete lowers it: 79 → 78).
func attributeCount(ev *event) int {
	n := 0
	for _, a := range ev.attrs {
		if !a.deleted {
			n++
		}
	}
	return n
}

// eventMeta is an event as /events/restSearch writes it with metadata.
// The fake computes no correlations and holds no galaxy clusters, so
// RelatedEvent and Galaxy are always empty; MISP fills them.
func (s *Server) eventMeta(ev *event) eventMetaOut {
	out := eventMetaOut{
		ID: ev.id, OrgcID: ev.orgc.id, OrgID: ev.orgID, Date: ev.date, ThreatLevelID: ev.threatLevelID,
		Info: ev.info, Published: ev.published, UUID: ev.uuid, AttributeCount: strconv.Itoa(attributeCount(ev)),
		Analysis: ev.analysis, Timestamp: itoa(ev.eventTS), Distribution: ev.distribution, Locked: ev.locked,
		PublishTimestamp: itoa(ev.publishTS), SharingGroupID: ev.sharingGroupID, ExtendsUUID: ev.extendsUUID,
		CreatorEmail: ev.creatorEmail, Org: s.orgByID(ev.orgID),
		Orgc:         eventOrgOut{ev.orgc.id, ev.orgc.name, ev.orgc.uuid, ev.orgc.local},
		RelatedEvent: []any{}, Galaxy: []any{}, CryptographicKey: []any{},
	}
	for _, t := range ev.tags {
		out.Tag = append(out.Tag, fullTagOut{ID: t.id, Name: t.name, Colour: t.colour, Exportable: true, UserID: "0",
			NumericalValue: t.numerical, IsGalaxy: t.galaxy, Local: t.local})
	}
	return out
}

// eventRestSearch serves POST /events/restSearch with "metadata": the
// events without their attributes. A full export is not served.
func (s *Server) eventRestSearch(w http.ResponseWriter, r *http.Request, k Key, body []byte) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusBadRequest, "Restsearch queries using GET and no parameters are not allowed. If you have passed parameters via a JSON body, make sure you use POST requests.", r.URL.Path)
		return
	}
	f, ok := requestFilters(body)
	if !ok || len(bytes.TrimSpace(body)) == 0 {
		writeError(w, http.StatusMethodNotAllowed, "Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request.", r.URL.Path)
		return
	}
	if v, ok := f["returnFormat"]; ok {
		if rf, _ := scalar(v); rf != "json" {
			writeError(w, http.StatusNotFound, "Invalid output format.", r.URL.Path)
			return
		}
	}
	if phpEmpty(f["metadata"]) {
		writeError(w, http.StatusNotImplemented, "mispfake: events/restSearch is only implemented with metadata: 1", r.URL.Path)
		return
	}
	if !s.allowRate(w, r, k) {
		return
	}
	q := eventFilters(f, s)
	s.dbMu.RLock()
	evs, total := s.events(q, caller{orgID: k.OrgID, siteAdmin: k.SiteAdmin})
	var buf bytes.Buffer
	buf.WriteString(`{"response": [`)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, ev := range evs {
		if i > 0 {
			buf.WriteByte(',')
		}
		_ = enc.Encode(struct {
			Event eventMetaOut `json:"Event"`
		}{s.eventMeta(ev)}) // plain structs always encode
		buf.Truncate(buf.Len() - 1)
	}
	s.dbMu.RUnlock()
	buf.WriteString("]}\n")
	h := w.Header()
	h.Set("X-Result-Count", strconv.Itoa(total))
	h.Set("X-Export-Module-Used", "json")
	h.Set("X-Response-Format", "json")
	h.Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
