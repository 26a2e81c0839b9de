package mispfake

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The restSearch answer is written by hand rather than with encoding/json:
// a sync pages through a million attributes, and reflection made the fake
// the slowest part of that benchmark. The output is the same bytes
// encoding/json writes with SetEscapeHTML(false) (wire_test.go checks this
// against a reference encoder for every embedded attribute), which are the
// bytes of MISP's JsonExport for the captured answers (golden_test.go).

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it without HTML escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			// Rare: let encoding/json handle escapes and UTF-8.
			return appendSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendSlow(b []byte, s string) []byte {
	var e jsonBuf
	enc := json.NewEncoder(&e)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, e[:len(e)-1]...)
}

// jsonBuf is an io.Writer into a byte slice.
type jsonBuf []byte

func (j *jsonBuf) Write(p []byte) (int, error) {
	*j = append(*j, p...)
	return len(p), nil
}

// appendKey appends ,"key": (without the comma for the first key).
func appendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendField(b []byte, key, value string) []byte {
	return appendString(appendKey(b, key, false), value)
}

func appendBoolField(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(appendKey(b, key, false), v)
}

func appendNullable(b []byte, key string, v *string) []byte {
	b = appendKey(b, key, false)
	if v == nil {
		return append(b, "null"...)
	}
	return appendString(b, *v)
}

// encodeSearch writes the body exactly as MISP's JsonExport does: a fixed
// header, compact attributes separated by commas, a fixed footer, slashes
// and <>& left unescaped. Each event's block is written once per answer.
func (s *Server) encodeSearch(q query, attrs []*attribute) ([]byte, error) {
	b := make([]byte, 0, 64+len(attrs)*640)
	b = append(b, `{"response": {"Attribute": [`...)
	events := map[*event][]byte{}
	for i, a := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		evJSON, ok := events[a.ev]
		if !ok {
			if q.context {
				evJSON = appendContextEvent(nil, a.ev)
			} else {
				evJSON = appendLeanEvent(nil, a.ev)
			}
			events[a.ev] = evJSON
		}
		b = s.appendAttribute(b, q, a, evJSON)
	}
	return append(b, "]}}\n"...), nil
}

func (s *Server) appendAttribute(b []byte, q query, a *attribute, evJSON []byte) []byte {
	b = append(b, '{')
	b = appendString(appendKey(b, "id", true), itoa(a.num))
	b = appendField(b, "event_id", a.ev.id)
	objectID := "0"
	if a.obj != nil {
		objectID = a.obj.id
	}
	b = appendField(b, "object_id", objectID)
	b = appendNullable(b, "object_relation", a.objectRelation)
	b = appendField(b, "category", a.category)
	b = appendField(b, "type", a.typ)
	b = appendBoolField(b, "to_ids", a.toIDs)
	b = appendField(b, "uuid", a.uuid)
	b = appendField(b, "timestamp", itoa(a.ts))
	b = appendField(b, "distribution", a.distribution)
	b = appendField(b, "sharing_group_id", a.sharingGroupID)
	b = appendField(b, "comment", a.comment)
	b = appendBoolField(b, "deleted", a.deleted)
	b = appendBoolField(b, "disable_correlation", a.disableCorrelation)
	b = appendNullable(b, "first_seen", a.firstSeen)
	b = appendNullable(b, "last_seen", a.lastSeen)
	b = appendField(b, "value", a.value)
	if q.eventUUID {
		b = appendField(b, "event_uuid", a.ev.uuid)
	}
	if q.sightings {
		b = append(appendKey(b, "Sighting", false), "[]"...) // the fake records no sightings
	}
	// MISP evaluates warninglist hits only for IDS attributes.
	if q.warninglistHits && a.toIDs {
		if ws := s.hits(a); len(ws) > 0 {
			b = appendKey(b, "warnings", false)
			for i, w := range ws {
				if i == 0 {
					b = append(b, '[')
				} else {
					b = append(b, ',')
				}
				b = appendString(appendKey(append(b, '{'), "match", true), w.Match)
				b = appendField(b, "value", w.Value)
				b = appendField(b, "warninglist_id", w.ListID)
				b = appendField(b, "warninglist_name", w.ListName)
				b = appendField(b, "warninglist_category", w.ListCategory)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
	}
	if q.decayScore {
		b = s.appendDecay(b, q, a)
	}
	b = append(appendKey(b, "Event", false), evJSON...)
	if a.obj != nil {
		b = appendString(appendKey(append(appendKey(b, "Object", false), '{'), "id", true), a.obj.id)
		b = appendField(b, "distribution", a.obj.distribution)
		b = appendField(b, "sharing_group_id", a.obj.sharingGroupID)
		b = append(b, '}')
	}
	n := 0
	openTag := func() {
		if n == 0 {
			b = append(appendKey(b, "Tag", false), '[')
		} else {
			b = append(b, ',')
		}
		n++
	}
	for _, t := range a.tags {
		openTag()
		b = appendTagHead(b, t)
		b = appendBoolField(b, "is_galaxy", t.galaxy)
		b = appendBoolField(b, "local", t.local)
		b = append(b, '}')
	}
	if q.eventTags {
	inherited:
		for _, t := range a.ev.tags {
			for _, own := range a.tags {
				if own == t {
					continue inherited
				}
			}
			openTag()
			b = appendTagHead(b, t)
			b = append(appendKey(b, "inherited", false), '1')
			b = append(b, '}')
		}
	}
	if n > 0 {
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendTagHead opens a tag with the fields every tag block starts with.
func appendTagHead(b []byte, t *tag) []byte {
	b = appendString(appendKey(append(b, '{'), "id", true), t.id)
	b = appendField(b, "name", t.name)
	b = appendField(b, "colour", t.colour)
	return append(appendKey(b, "numerical_value", false), t.numerical...)
}

// appendLeanEvent is the Event block MISP adds to every attribute.
func appendLeanEvent(b []byte, ev *event) []byte {
	b = appendString(appendKey(append(b, '{'), "org_id", true), ev.orgID)
	b = appendField(b, "distribution", ev.distribution)
	b = appendField(b, "publish_timestamp", itoa(ev.publishTS))
	b = appendField(b, "id", ev.id)
	b = appendField(b, "info", ev.info)
	b = appendField(b, "orgc_id", ev.orgc.id)
	b = appendField(b, "uuid", ev.uuid)
	return append(b, '}')
}

// appendContextEvent is the Event block of includeContext.
func appendContextEvent(b []byte, ev *event) []byte {
	b = appendString(appendKey(append(b, '{'), "id", true), ev.id)
	b = appendField(b, "orgc_id", ev.orgc.id)
	b = appendField(b, "org_id", ev.orgID)
	b = appendField(b, "date", ev.date)
	b = appendField(b, "threat_level_id", ev.threatLevelID)
	b = appendField(b, "info", ev.info)
	b = appendBoolField(b, "published", ev.published)
	b = appendField(b, "uuid", ev.uuid)
	b = appendField(b, "analysis", ev.analysis)
	b = appendField(b, "timestamp", itoa(ev.eventTS))
	b = appendField(b, "distribution", ev.distribution)
	b = appendField(b, "publish_timestamp", itoa(ev.publishTS))
	b = appendField(b, "sharing_group_id", ev.sharingGroupID)
	b = appendField(b, "extends_uuid", ev.extendsUUID)
	b = append(appendKey(b, "Tag", false), '[')
	for i, t := range ev.tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendBool(appendKey(append(b, '{'), "local", true), t.local)
		b = appendField(b, "id", t.id)
		b = appendField(b, "name", t.name)
		b = appendField(b, "colour", t.colour)
		b = append(appendKey(b, "numerical_value", false), t.numerical...)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendOrgc(b, ev.orgc)
	return append(b, '}')
}

// appendOrgc appends ,"Orgc":{...}.
func appendOrgc(b []byte, o *org) []byte {
	b = appendString(appendKey(append(appendKey(b, "Orgc", false), '{'), "id", true), o.id)
	b = appendField(b, "name", o.name)
	b = appendField(b, "uuid", o.uuid)
	b = appendBoolField(b, "local", o.local)
	return append(b, '}')
}
