package mispclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Search limits.
const (
	// maxValueLen caps one value: long URLs exist, 8 KiB ones are noise.
	maxValueLen = 8 << 10

	searchPath = "/attributes/restSearch"
	// searchOrder makes "the first Limit attributes" the most recently
	// changed ones rather than an arbitrary set (MISP has no default
	// order). "timestamp" is Attribute.timestamp, one of the fields MISP
	// 2.5 allows in order.
	searchOrder = "timestamp desc"
)

// searchBody is the JSON MISP 2.5 reads; flags are 0/1 like PyMISP and the
// captured requests send them.
type searchBody struct {
	ReturnFormat       string   `json:"returnFormat"`
	Value              []string `json:"value,omitempty"`
	EventID            []string `json:"eventid,omitempty"`
	Type               []string `json:"type,omitempty"`
	Tags               []string `json:"tags,omitempty"`
	ToIDs              *int     `json:"to_ids,omitempty"`
	Published          *int     `json:"published,omitempty"`
	EnforceWarninglist int      `json:"enforceWarninglist,omitempty"`
	ExcludeDecayed     int      `json:"excludeDecayed,omitempty"`
	// IncludeWarninglistHits and IncludeDecayScore replace
	// EnforceWarninglist and ExcludeDecayed for the mirror's pages, see
	// AttributePage.
	IncludeWarninglistHits int    `json:"includeWarninglistHits,omitempty"`
	IncludeDecayScore      int    `json:"includeDecayScore,omitempty"`
	IncludeEventTags       int    `json:"includeEventTags"`
	IncludeContext         int    `json:"includeContext"`
	Limit                  int    `json:"limit"`
	Page                   int    `json:"page"`
	Order                  string `json:"order"`
}

// Search looks the values up with POST /attributes/restSearch and returns
// the matching attributes, soft-deleted ones dropped. No match is an empty
// result, not an error. A query without values returns nil without asking
// MISP: an empty value filter would match every attribute. Attributes that
// cannot be read are left out; SearchAnswer also counts them.
func (c *Client) Search(ctx context.Context, q misp.Query) ([]misp.Attribute, error) {
	a, err := c.SearchAnswer(ctx, q)
	return a.Attributes, err
}

// SearchAnswer is Search, with the count of attributes left out because a
// field had an unexpected JSON type. Only an answer whose envelope is wrong
// (not JSON, no "response" object, no "Attribute" list) is an error.
func (c *Client) SearchAnswer(ctx context.Context, q misp.Query) (misp.Answer, error) {
	if len(q.Values) == 0 {
		return misp.Answer{}, nil
	}
	body, err := bodyOf(q)
	if err != nil {
		return misp.Answer{}, err
	}
	c.debugf("misp: search %d value(s), limit %d", len(q.Values), body.Limit)
	b, err := json.Marshal(body)
	if err != nil {
		return misp.Answer{}, configErr("search: encode query: %v", err)
	}
	raw, h, err := c.do(ctx, http.MethodPost, searchPath, b)
	if err != nil {
		return misp.Answer{}, err
	}
	a, err := decodeSearch(raw, false)
	if err != nil {
		return misp.Answer{}, c.notJSON(h, err)
	}
	return a, nil
}

// body validates q and builds the request. Values and tags are checked
// again here, whatever the caller did, because a stray "!" or "%" would
// turn a lookup into a negated or wildcard search over all of MISP.
func bodyOf(q misp.Query) (*searchBody, error) {
	if len(q.Values) > misp.MaxValues {
		return nil, configErr("search: %d values, at most %d per request", len(q.Values), misp.MaxValues)
	}
	for _, v := range q.Values {
		if len(v) > maxValueLen {
			return nil, configErr("search: value of %d bytes, at most %d", len(v), maxValueLen)
		}
		if !ioc.Safe(v) || !printableUTF8(v) {
			return nil, configErr("search: value %q is not safe to send (MISP filter syntax or control characters)", short(v))
		}
	}
	for _, t := range q.Types {
		if !ioc.Safe(t) || strings.ContainsAny(t, "% ") || !printableUTF8(t) {
			return nil, configErr("search: type %q is not a MISP attribute type", short(t))
		}
	}
	tags := make([]string, 0, len(q.Tags)+len(q.ExcludeTags))
	for _, t := range q.Tags {
		if err := checkTag("tags", t); err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	for _, t := range q.ExcludeTags {
		if err := checkTag("exclude_tags", t); err != nil {
			return nil, err
		}
		tags = append(tags, "!"+t)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = misp.DefaultLimit
	case limit < 0 || limit > misp.MaxLimit:
		return nil, configErr("search: limit %d: want 1 to %d", q.Limit, misp.MaxLimit)
	}
	b := &searchBody{
		ReturnFormat:     "json",
		Value:            q.Values,
		Type:             q.Types,
		Tags:             tags,
		ToIDs:            flag(q.ToIDs),
		Published:        flag(q.Published),
		IncludeEventTags: 1,
		IncludeContext:   1,
		Limit:            limit,
		Page:             1,
		Order:            searchOrder,
	}
	if q.EnforceWarninglist {
		b.EnforceWarninglist = 1
	}
	if q.ExcludeDecayed {
		b.ExcludeDecayed = 1
	}
	return b, nil
}

// checkTag refuses tags MISP would read as filter syntax. MISP matches tag
// names with SQL LIKE, so "%" anywhere is a wildcard, and a leading "!" is
// a negation that only ExcludeTags may ask for.
func checkTag(field, t string) error {
	if !ioc.Safe(t) || strings.Contains(t, "%") || !printableUTF8(t) || strings.TrimSpace(t) != t {
		return configErr("%s: tag %q is empty or holds MISP filter syntax (!, %%, &&, ||)", field, short(t))
	}
	return nil
}

func flag(b *bool) *int {
	if b == nil {
		return nil
	}
	v := 0
	if *b {
		v = 1
	}
	return &v
}

func printableUTF8(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

// short cuts a value for an error message.
func short(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeSearch reads {"response":{"Attribute":[...]}}. Some older MISPs
// answer a search without results with {"response":[]}; that is accepted
// as no match too. Each attribute is decoded on its own (see
// attributeOrFault), so a bad one is counted and left out.
//
// dropMarked leaves out the attributes MISP marked with warninglist hits
// (includeWarninglistHits) or as decayed by every decaying model that
// scored them (includeDecayScore), counting them in Answer.Filtered.
func decodeSearch(raw []byte, dropMarked bool) (misp.Answer, error) {
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return misp.Answer{}, err
	}
	r := bytes.TrimSpace(env.Response)
	switch {
	case len(r) == 0 || bytes.Equal(r, []byte("null")):
		return misp.Answer{}, fmt.Errorf(`no "response" key`)
	case bytes.Equal(r, []byte("[]")):
		return misp.Answer{}, nil
	case r[0] != '{':
		return misp.Answer{}, fmt.Errorf(`"response" is not an object`)
	}
	var body struct {
		Attribute []attributeOrFault `json:"Attribute"`
	}
	if err := json.Unmarshal(r, &body); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) { // attributeOrFault never fails: the list itself is wrong
			return misp.Answer{}, fmt.Errorf(`"Attribute" is not a list`)
		}
		return misp.Answer{}, err
	}
	var a misp.Answer
	for _, e := range body.Attribute {
		if e.unreadable {
			a.Skipped.Add(e.badField)
			continue
		}
		if dropMarked && (e.warned || e.decayed) {
			a.Filtered++
			continue
		}
		if !e.attr.Deleted {
			a.Attributes = append(a.Attributes, e.attr)
		}
	}
	return a, nil
}

// attributeOrFault is one element of the Attribute list. encoding/json
// hands UnmarshalJSON the element's own bytes (the whole answer was
// checked to be valid JSON first), so an element of the wrong shape spoils
// only itself.
type attributeOrFault struct {
	attr       misp.Attribute
	unreadable bool
	badField   string // what was wrong, e.g. "Event.info"; "" for the element itself
	warned     bool   // MISP listed warninglist hits for it (a non-empty "warnings")
	decayed    bool   // every "decay_score" entry says decayed, as excludeDecayed reads them
}

// UnmarshalJSON implements json.Unmarshaler; it never fails.
func (e *attributeOrFault) UnmarshalJSON(b []byte) error {
	err := json.Unmarshal(b, &e.attr)
	if err == nil && !bytes.Equal(b, []byte("null")) {
		if bytes.Contains(b, []byte(`"warnings"`)) {
			w := gjson.GetBytes(b, "warnings")
			e.warned = w.IsArray() && len(w.Array()) > 0
		}
		if bytes.Contains(b, []byte(`"decay_score"`)) {
			// MispAttribute::fetchAttributes: left out when ALL scores
			// say decayed.
			scores := gjson.GetBytes(b, "decay_score").Array()
			e.decayed = len(scores) > 0
			for _, sc := range scores {
				e.decayed = e.decayed && sc.Get("decayed").Bool()
			}
		}
		return nil
	}
	e.unreadable = true
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		e.badField = typeErr.Field // a path of Attribute's JSON tags
	}
	return nil
}
