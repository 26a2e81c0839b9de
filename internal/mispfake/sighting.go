package mispfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// SightingRecord is one sighting the fake added, for tests to read.
type SightingRecord struct {
	AttributeID   string
	AttributeUUID string
	EventID       string
	OrgID         string
	Type          string // "0" sighting, "1" false positive, "2" expiration
	Source        string
	Timestamp     int64 // date_sighting, Unix seconds
	Request       int   // which POST /sightings/add added it, counting from 1
}

// Sightings returns every sighting added so far, in order.
func (s *Server) Sightings() []SightingRecord {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return slices.Clone(s.sightings)
}

// SightingRequests returns how many POST /sightings/add requests added at
// least one sighting.
func (s *Server) SightingRequests() int {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.sightReqs
}

// SightingsOf counts the sightings added to the attribute with uuid.
func (s *Server) SightingsOf(uuid string) int {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	n := 0
	for _, r := range s.sightings {
		if r.AttributeUUID == uuid {
			n++
		}
	}
	return n
}

// Reasons MISP 2.5.1 gives for adding no sighting (Sighting::saveSightings,
// SightingsController::add), verbatim from the captures.
const (
	sightNoneFound   = "No valid attributes found that match the criteria."
	sightNoCriteria  = "No valid attributes found."
	sightInvalidType = "Invalid type, please change it before you POST 1000000 sightings."
	sightPrefix      = "Could not add the Sighting. Reason: "
	maxSightSource   = 255 // sightings.source is varchar(255): longer is an SQL error, HTTP 500
)

// addSighting serves POST /sightings/add[/ID] as MISP 2.5.1 does
// (SightingsController::add and Sighting::saveSightings):
//   - the attribute is named by the URL's ID, else "uuid", else "id" in
//     the body; a 36-character one is a UUID, a "|"-separated list keeps
//     only its numeric ids, and a JSON list is a PHP TypeError (HTTP 500);
//   - else "value" or "values" name it by value1/value2, exactly, or, with
//     "filters", through restSearch with those filters and the values as
//     "value" (so "%" matches any value and {"uuid": [...]} picks
//     attributes by UUID: one request, one sighting per attribute);
//   - every matched attribute gets one sighting; an expiration (type "2")
//     replaces the org's earlier one on that attribute;
//   - a REST client gets the last sighting added, or {"message": ...}; an
//     XMLHttpRequest gets {"saved": true, "success": "N sightings  added."}
//     (MISP's two spaces) or {"saved": false, "errors": ...}.
func (s *Server) addSighting(w http.ResponseWriter, r *http.Request, k Key, body []byte) {
	if !perms(k).Sighting {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	ajax := r.Header.Get("X-Requested-With") == "XMLHttpRequest"
	fail := func(reason string) {
		if ajax {
			writeJSON(w, struct {
				Saved  bool   `json:"saved"`
				Errors string `json:"errors"`
			}{false, sightPrefix + reason})
			return
		}
		writeJSON(w, struct {
			Message string `json:"message"`
		}{sightPrefix + reason})
	}
	f := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	_ = dec.Decode(&f) // a bad body names nothing
	for _, wrap := range []string{"request", "Sighting"} {
		if inner, ok := f[wrap].(map[string]any); ok {
			f = inner
		}
	}
	if v, ok := f["value"]; ok {
		f["values"] = []any{v}
	}
	var id any
	if rest, ok := strings.CutPrefix(strings.TrimSuffix(r.URL.Path, ".json"), "/sightings/add/"); ok && rest != "" {
		id = rest
	} else if v, ok := f["uuid"]; ok {
		id = v
	} else if v, ok := f["id"]; ok {
		id = v
	}
	typ := "0"
	if v, ok := f["type"]; ok {
		typ, _ = scalar(v)
	}
	if typ != "0" && typ != "1" && typ != "2" {
		fail(sightInvalidType)
		return
	}
	source := ""
	if v, ok := f["source"]; ok {
		source, _ = scalar(v)
		source = strings.TrimSpace(source)
	}
	ts := s.now().Unix()
	if v, ok := f["timestamp"]; ok {
		if str, ok := scalar(v); ok {
			if n, err := strconv.ParseInt(str, 10, 64); err == nil {
				ts = n
			}
		}
	}

	who := caller{orgID: k.OrgID, siteAdmin: k.SiteAdmin}
	var pick func(a *attribute) bool
	switch x := id.(type) {
	case nil:
		values := parseCond(f["values"]).or
		if _, isList := f["values"].([]any); !isList {
			if str, ok := scalar(f["values"]); ok && str != "" {
				values = []string{str}
			}
		}
		if len(values) == 0 {
			fail(sightNoCriteria)
			return
		}
		filters, _ := f["filters"].(map[string]any)
		if len(filters) == 0 {
			pick = func(a *attribute) bool {
				return slices.ContainsFunc(values, func(v string) bool { return condMatches(cond{or: []string{v}}, a.halves...) })
			}
			break
		}
		uuids := parseCond(filters["uuid"])
		pick = func(a *attribute) bool {
			if !uuids.empty() && !condMatches(uuids, a.uuid, a.ev.uuid) {
				return false
			}
			return slices.ContainsFunc(values, func(v string) bool { return newValueMatcher(v).matches(a) })
		}
	case string:
		if strings.Contains(x, "|") {
			var ids []string
			for _, p := range strings.Split(x, "|") {
				if _, err := strconv.ParseFloat(p, 64); err == nil {
					ids = append(ids, p)
				}
			}
			pick = func(a *attribute) bool { return slices.Contains(ids, itoa(a.num)) }
		} else if len(x) == 36 {
			pick = func(a *attribute) bool { return strings.EqualFold(a.uuid, x) }
		} else {
			pick = func(a *attribute) bool { return itoa(a.num) == x }
		}
	case json.Number:
		pick = func(a *attribute) bool { return itoa(a.num) == x.String() }
	default:
		// strpos() on an array: a TypeError, which MISP answers with 500.
		writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
		return
	}
	if len(source) > maxSightSource {
		writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
		return
	}

	s.dbMu.Lock()
	var added []SightingRecord
	for _, a := range s.db.attrs {
		if a.deleted || !who.visible(a) || !pick(a) {
			continue
		}
		if typ == "2" {
			s.sightings = slices.DeleteFunc(s.sightings, func(r SightingRecord) bool {
				return r.Type == "2" && r.OrgID == k.OrgID && r.AttributeUUID == a.uuid
			})
		}
		rec := SightingRecord{AttributeID: itoa(a.num), AttributeUUID: a.uuid, EventID: a.ev.id, OrgID: k.OrgID,
			Type: typ, Source: source, Timestamp: ts, Request: s.sightReqs + 1}
		added = append(added, rec)
		s.sightings = append(s.sightings, rec)
		s.sighted[a] = s.now().Unix() // the decay score starts again
	}
	if len(added) > 0 {
		s.sightReqs++
		s.gen++
	}
	s.dbMu.Unlock()

	if len(added) == 0 {
		fail(sightNoneFound)
		return
	}
	if ajax {
		name := map[string]string{"0": "sighting", "1": "false-positive", "2": "expiration"}[typ]
		if len(added) != 1 {
			name += "s"
		}
		writeJSON(w, struct {
			Saved   bool   `json:"saved"`
			Success string `json:"success"`
		}{true, fmt.Sprintf("%d %s  added.", len(added), name)})
		return
	}
	last := added[len(added)-1]
	type sighting struct {
		ID           string `json:"id"`
		AttributeID  string `json:"attribute_id"`
		EventID      string `json:"event_id"`
		OrgID        string `json:"org_id"`
		DateSighting string `json:"date_sighting"`
		UUID         string `json:"uuid"`
		Source       string `json:"source"`
		Type         string `json:"type"`
	}
	writePretty(w, http.StatusOK, struct {
		Sighting sighting `json:"Sighting"`
	}{sighting{strconv.Itoa(len(s.Sightings())), last.AttributeID, last.EventID, last.OrgID, strconv.FormatInt(last.Timestamp, 10),
		stableUUID("sighting", last.AttributeUUID, strconv.Itoa(last.Request)), last.Source, last.Type}})
}

// writeJSON writes a body as CakeResponse(json_encode(...)) does: compact,
// slashes escaped.
func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	b = []byte(strings.ReplaceAll(string(b), "/", `\/`))
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
