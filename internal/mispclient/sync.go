package mispclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// The calls of this file are what the mirror's sync asks MISP (see
// internal/mirror and docs/mirror.md for why these and in this order).

// MaxSyncPage caps the attributes of one sync page. A page without event
// context is about 0.5 KiB per attribute, so 5000 stay far below
// MaxResponseBytes and below what MISP builds comfortably in PHP memory.
const MaxSyncPage = 5000

// AttributePage returns one page of the attributes of the given events
// that q's filters let through, in id order, without event context (the
// mirror keeps events apart). q.Values must be empty: the mirror asks for
// every value.
func (c *Client) AttributePage(ctx context.Context, q misp.Query, eventIDs []string, page, limit int) (misp.Answer, error) {
	if len(q.Values) > 0 {
		return misp.Answer{}, configErr("attribute page: values given; the sync asks for all")
	}
	if limit < 1 || limit > MaxSyncPage || page < 1 {
		return misp.Answer{}, configErr("attribute page: page %d, limit %d: want page ≥ 1 and limit 1 to %d", page, limit, MaxSyncPage)
	}
	if err := checkIDs(eventIDs); err != nil {
		return misp.Answer{}, err
	}
	q.Limit = 1 // bodyOf checks the live limit; the page's own is set below
	body, err := bodyOf(q)
	if err != nil {
		return misp.Answer{}, err
	}
	body.EventID = eventIDs
	body.IncludeContext = 0
	body.IncludeEventTags = 0
	body.Limit, body.Page = limit, page
	body.Order = syncOrder
	if body.EnforceWarninglist == 1 {
		// MISP drops warninglisted attributes from a page after cutting
		// it (MispAttribute::fetchAttributes, checked on 2.5.1): a page
		// comes back short or empty while later pages still hold rows, so
		// "a short page is the last" would lose them. Asking for the hits
		// instead keeps every page whole, and the warninglisted ones are
		// left out here. MISP marks hits on to_ids attributes only (unless
		// its MISP.warning_for_all is on); see docs/mirror.md.
		body.EnforceWarninglist, body.IncludeWarninglistHits = 0, 1
	}
	if body.ExcludeDecayed == 1 {
		// The same for decay: excludeDecayed drops rows after the cut.
		body.ExcludeDecayed, body.IncludeDecayScore = 0, 1
	}
	b, err := json.Marshal(body)
	if err != nil {
		return misp.Answer{}, configErr("attribute page: encode query: %v", err)
	}
	raw, h, err := c.do(ctx, http.MethodPost, searchPath, b)
	if err != nil {
		return misp.Answer{}, err
	}
	a, err := decodeSearch(raw, body.IncludeWarninglistHits == 1 || body.IncludeDecayScore == 1)
	if err != nil {
		return misp.Answer{}, c.notJSON(h, err)
	}
	return a, nil
}

// syncOrder keeps pages stable while the sync walks them: by id, which
// only grows.
const syncOrder = "Attribute.id asc"

// EventIndex lists every event the key can see, one minimal row each:
// POST /events/index {"minimal": 1}; and MISP's own time of the answer
// (its Date header; zero when absent or unreadable).
func (c *Client) EventIndex(ctx context.Context) ([]misp.EventStamp, time.Time, error) {
	var rows []misp.EventStamp
	h, err := c.Post(ctx, "/events/index", map[string]any{"minimal": 1}, &rows)
	if err != nil {
		return nil, time.Time{}, err
	}
	at, _ := http.ParseTime(h.Get("Date"))
	return rows, at, nil
}

// EventMetadata returns the metadata (no attributes) of the given events:
// POST /events/restSearch {"metadata": 1, "eventid": [...]}.
func (c *Client) EventMetadata(ctx context.Context, ids []string) ([]misp.Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if err := checkIDs(ids); err != nil {
		return nil, err
	}
	var out struct {
		Response []struct {
			Event misp.Event `json:"Event"`
		} `json:"response"`
	}
	// excludeGalaxy drops the Galaxy objects (293 KB for 16 events on the
	// testbed, 49 KB without) but keeps the misp-galaxy tags, which hold
	// the ATT&CK ids.
	body := map[string]any{"returnFormat": "json", "metadata": 1, "excludeGalaxy": 1, "eventid": ids, "limit": len(ids), "page": 1}
	if _, err := c.Post(ctx, "/events/restSearch", body, &out); err != nil {
		return nil, err
	}
	events := make([]misp.Event, 0, len(out.Response))
	for _, r := range out.Response {
		events = append(events, r.Event)
	}
	return events, nil
}

// EnabledWarninglists returns the enabled warninglists: a fingerprint of
// their ids, versions and entry counts (editing a custom list moves its
// version and count, checked on 2.5.1: when it changes, values the mirror
// holds may now be on a list, which no attribute timestamp tells) and the
// attribute types each applies to.
func (c *Client) EnabledWarninglists(ctx context.Context) (misp.Warninglists, error) {
	var out struct {
		Warninglists []struct {
			Warninglist struct {
				ID      misp.FlexString `json:"id"`
				Version misp.FlexString `json:"version"`
				Entries misp.FlexString `json:"warninglist_entry_count"`
				Enabled misp.FlexBool   `json:"enabled"`
				Types   misp.FlexString `json:"valid_attributes"`
			} `json:"Warninglist"`
		} `json:"Warninglists"`
	}
	if _, err := c.Get(ctx, "/warninglists/index", &out); err != nil {
		return misp.Warninglists{}, err
	}
	wl := misp.Warninglists{Types: map[string][]string{}}
	var on []string
	for _, w := range out.Warninglists {
		l := w.Warninglist
		if !l.Enabled {
			continue
		}
		on = append(on, string(l.ID)+"@"+string(l.Version)+"/"+string(l.Entries))
		for t := range strings.SplitSeq(string(l.Types), ",") {
			if t = strings.TrimSpace(t); t != "" {
				wl.Types[string(l.ID)] = append(wl.Types[string(l.ID)], t)
			}
		}
	}
	slices.Sort(on)
	sum := sha256.Sum256(fmt.Appendf(nil, "%q", on))
	wl.Fingerprint = strconv.Itoa(len(on)) + ":" + hex.EncodeToString(sum[:8])
	return wl, nil
}

// maxCheckValues caps the values of one checkValue request.
const maxCheckValues = MaxSyncPage * 2

// CheckWarninglists asks MISP which enabled warninglists each value is on
// (POST /warninglists/checkValue): value → list ids, for the values on one.
func (c *Client) CheckWarninglists(ctx context.Context, values []string) (map[string][]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if len(values) > maxCheckValues {
		return nil, configErr("warninglist check: %d values, at most %d", len(values), maxCheckValues)
	}
	raw, h, err := c.do(ctx, http.MethodPost, "/warninglists/checkValue", mustJSON(values))
	if err != nil {
		return nil, err
	}
	// No hit is [] (PHP's empty array), hits an object.
	hits := map[string][]string{}
	if t := bytes.TrimSpace(raw); bytes.Equal(t, []byte("[]")) {
		return hits, nil
	}
	var out map[string][]struct {
		ID misp.FlexString `json:"id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, c.notJSON(h, err)
	}
	for v, lists := range out {
		for _, l := range lists {
			hits[v] = append(hits[v], string(l.ID))
		}
	}
	return hits, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// checkIDs refuses event ids that are not plain numbers: they go into a
// MISP filter, where anything else is filter syntax.
func checkIDs(ids []string) error {
	for _, id := range ids {
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			return configErr("event id %q: want a number", short(id))
		}
	}
	return nil
}
