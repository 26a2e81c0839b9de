package mispclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// Sighting limits and forms, as MISP 2.5.1 takes them (see
// docs/sightings.md for what was measured on a real MISP).
const (
	sightingsPath = "/sightings/add"
	// MaxSightingSource is the longest source MISP stores:
	// sightings.source is varchar(255), and a longer one is an SQL error
	// (HTTP 500), not a truncation.
	MaxSightingSource = 255
	// maxSightingsPerRequest bounds one request's UUID or value list,
	// as misp.MaxValues bounds a search's.
	maxSightingsPerRequest = misp.MaxValues
	// MISP's reason when no attribute matched (Sighting::saveSightings).
	noAttributeReason = "No valid attributes found"
	// forbiddenReason is MISP's 403 for a good key that may not do this:
	// a read-only auth key, or a role without perm_sighting.
	forbiddenReason = "You do not have permission to use this functionality."
)

// sightingBody is what POST /sightings/add reads. MISP compares the type
// as a string ("2" === '2' decides whether an expiration replaces the
// org's earlier one), so it is sent as one.
type sightingBody struct {
	UUID      string          `json:"uuid,omitempty"`
	Values    []string        `json:"values,omitempty"`
	Filters   *sightingFilter `json:"filters,omitempty"`
	Type      string          `json:"type"`
	Source    string          `json:"source,omitempty"`
	Timestamp int64           `json:"timestamp,omitempty"`
}

type sightingFilter struct {
	UUID []string `json:"uuid"`
}

// sightingBatch is the sightings one request adds: one type, source and
// timestamp, by UUID or by value.
type sightingBatch struct {
	batchKey
	items []string
}

type batchKey struct {
	typ    misp.SightingType
	source string
	ts     int64
	byUUID bool
}

// AddSightings adds the sightings to MISP in as few requests as MISP
// allows: one POST /sightings/add per type, source, timestamp and kind
// (UUID or value), of at most maxSightingsPerRequest each.
//
// MISP 2.5.1 takes one attribute UUID per request ("uuid" as a list is a
// PHP TypeError, HTTP 500; piped ids keep only numeric ones), so several
// UUIDs go as {"values": ["%"], "filters": {"uuid": [...]}}: MISP then
// selects through restSearch, "%" matching any value and the filter
// picking the attributes, and adds one sighting to each. A single UUID
// goes as {"uuid": U}, which matches attribute UUIDs only. Values go as
// {"values": [...]}, which sights every attribute whose value1 or value2
// is one of them.
//
// Each request is sent as an XMLHttpRequest, for which MISP answers how
// many sightings it added ({"saved":true,"success":"3 sightings  added."})
// instead of echoing the last one. When MISP found no attribute for a
// request, its UUIDs or values are listed in Unknown; that is not an
// error. A key MISP refuses with "You do not have permission" (a read-only
// key, or a role without perm_sighting) is a ClassForbidden error; other
// failures are classified as for every call, but no request is retried
// (see below). On an error the result holds what the earlier requests did.
func (c *Client) AddSightings(ctx context.Context, s []misp.Sighting) (misp.SightingResult, error) {
	var res misp.SightingResult
	batches, err := sightingBatches(s)
	if err != nil {
		return res, err
	}
	ajax := http.Header{"X-Requested-With": {"XMLHttpRequest"}}
	for _, b := range batches {
		body := sightingBody{Type: strconv.Itoa(int(b.typ)), Source: b.source, Timestamp: b.ts}
		switch {
		case !b.byUUID:
			body.Values = b.items
		case len(b.items) == 1:
			body.UUID = b.items[0]
		default:
			body.Values, body.Filters = []string{"%"}, &sightingFilter{UUID: b.items}
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return res, configErr("sightings: encode request: %v", err)
		}
		c.debugf("misp: sightings: %d of type %s by %s in one request", len(b.items), b.typ, map[bool]string{true: "uuid", false: "value"}[b.byUUID])
		res.Requests++
		// Never retried: MISP may have added the sightings of a request
		// that failed or timed out on our side, and adding is not
		// idempotent. Sightings that fail are not remembered as sent, so
		// the next alert that matches them sends them again.
		answer, h, err := c.doWith(ctx, http.MethodPost, sightingsPath, raw, ajax, 0)
		if err != nil {
			return res, forbidden(err)
		}
		added, none, err := c.sightingAnswer(answer, h)
		if err != nil {
			return res, err
		}
		if b.byUUID && len(b.items) > 1 && added > len(b.items) {
			// The batch form asks for every value ("%") limited by the
			// uuid filter; a MISP that ignored the filter sighted more
			// than was asked. Say so loudly rather than go on.
			res.Added += added
			return res, &misp.Error{Class: misp.ClassBadResponse, Message: fmt.Sprintf(
				"sightings: MISP added %d for a batch of %d attribute UUIDs: it did not apply the uuid filter (MISP 2.5.1 does; check the MISP version)", added, len(b.items))}
		}
		res.Added += added
		if none {
			res.Unknown = append(res.Unknown, b.items...)
		}
	}
	return res, nil
}

// forbidden turns MISP's 403 "You do not have permission" into
// ClassForbidden, naming what the key lacks; a 403 for a bad key stays
// ClassAuth.
func forbidden(err error) error {
	e, ok := err.(*misp.Error)
	if !ok || e.Status != http.StatusForbidden || !strings.Contains(e.Message, forbiddenReason) {
		return err
	}
	f := *e
	f.Class = misp.ClassForbidden
	f.Message = "MISP refused to add sightings with this key: it is a read-only auth key, or its user's role lacks perm_sighting (" + e.Message + ")"
	return &f
}

// sightingAnswer reads MISP's answer to one request: how many sightings
// it added, or none because no attribute matched.
func (c *Client) sightingAnswer(raw []byte, h http.Header) (added int, none bool, err error) {
	var a struct {
		Saved    *bool           `json:"saved"`
		Success  misp.FlexString `json:"success"`
		Errors   misp.FlexString `json:"errors"`
		Message  misp.FlexString `json:"message"`
		Sighting *struct {
			ID misp.FlexString `json:"id"`
		} `json:"Sighting"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return 0, false, c.notJSON(h, err)
	}
	reason := string(a.Errors)
	if reason == "" {
		reason = string(a.Message)
	}
	switch {
	case a.Saved != nil && *a.Saved:
		// "3 sightings  added.", "1 false-positive  added."
		n, err := strconv.Atoi(strings.Fields(string(a.Success) + " x")[0])
		if err != nil || n < 0 {
			return 0, false, c.newErr(misp.ClassBadResponse, http.StatusOK, fmt.Sprintf("sightings: unexpected answer %q", string(a.Success)), nil)
		}
		return n, false, nil
	case a.Sighting != nil:
		// The REST form names the last sighting only: at least one.
		return 1, false, nil
	case strings.Contains(reason, noAttributeReason):
		return 0, true, nil
	case reason != "":
		return 0, false, c.newErr(misp.ClassBadResponse, http.StatusOK, "sightings: "+reason, nil)
	}
	return 0, false, c.newErr(misp.ClassBadResponse, http.StatusOK, "sightings: answer has neither saved, Sighting nor a reason", nil)
}

// sightingBatches validates s and groups it into requests, in the order
// the sightings come, each UUID or value once per group.
func sightingBatches(s []misp.Sighting) ([]sightingBatch, error) {
	var out []sightingBatch
	index := map[batchKey]int{} // the open batch of each key, in out
	seen := map[string]bool{}
	for i, x := range s {
		if err := checkSighting(x); err != nil {
			return nil, configErr("sighting %d: %v", i+1, err)
		}
		item, byUUID := x.AttributeUUID, true
		if item == "" {
			item, byUUID = x.Value, false
		}
		key := batchKey{typ: x.Type, source: strings.TrimSpace(x.Source), ts: x.Timestamp, byUUID: byUUID}
		dup := fmt.Sprintf("%d\x00%s\x00%d\x00%t\x00%s", key.typ, key.source, key.ts, byUUID, strings.ToLower(item))
		if seen[dup] {
			continue
		}
		seen[dup] = true
		j, ok := index[key]
		if !ok || len(out[j].items) >= maxSightingsPerRequest {
			out = append(out, sightingBatch{batchKey: key})
			j = len(out) - 1
			index[key] = j
		}
		out[j].items = append(out[j].items, item)
	}
	return out, nil
}

// checkSighting refuses what MISP would misread or fail on.
func checkSighting(x misp.Sighting) error {
	switch {
	case x.AttributeUUID != "" && !misp.IsUUID(x.AttributeUUID):
		return fmt.Errorf("attribute UUID %q is not a UUID", short(x.AttributeUUID))
	case x.AttributeUUID == "" && x.Value == "":
		return fmt.Errorf("neither an attribute UUID nor a value")
	case x.AttributeUUID == "" && (len(x.Value) > maxValueLen || !printableUTF8(x.Value) || strings.TrimSpace(x.Value) != x.Value):
		return fmt.Errorf("value %q is not printable, has surrounding spaces or is longer than %d bytes", short(x.Value), maxValueLen)
	case x.Type != misp.Seen && x.Type != misp.FalsePositive && x.Type != misp.Expiration:
		return fmt.Errorf("type %d: want 0 (sighting), 1 (false-positive) or 2 (expiration)", int(x.Type))
	case len(strings.TrimSpace(x.Source)) > MaxSightingSource || !printableUTF8(x.Source):
		return fmt.Errorf("source %q: want printable text of at most %d bytes", short(x.Source), MaxSightingSource)
	case x.Timestamp < 0:
		return fmt.Errorf("timestamp %d: want Unix seconds, or 0 for now", x.Timestamp)
	}
	return nil
}
