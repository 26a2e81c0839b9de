package mispclient

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

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
