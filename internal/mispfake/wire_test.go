package mispfake

import (
	"bytes"
	"encoding/json"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

// The reference encoder: MISP's attribute shape as Go structs written by
// encoding/json, which is how the fake wrote its answers before
// wire.go, and which the golden tests matched byte for byte. The hand
// written encoder must give the same bytes.

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
		ID: itoa(a.num), EventID: a.ev.id, ObjectID: "0", ObjectRelation: a.objectRelation,
		Category: a.category, Type: a.typ, ToIDs: a.toIDs, UUID: a.uuid, Timestamp: itoa(a.ts),
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
		out.Warnings = s.hits(a)
	}
	if q.context {
		ev := contextEventOut{
			ID: a.ev.id, OrgcID: a.ev.orgc.id, OrgID: a.ev.orgID, Date: a.ev.date,
			ThreatLevelID: a.ev.threatLevelID, Info: a.ev.info, Published: a.ev.published,
			UUID: a.ev.uuid, Analysis: a.ev.analysis, Timestamp: itoa(a.ev.eventTS),
			Distribution: a.ev.distribution, PublishTimestamp: itoa(a.ev.publishTS),
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
			OrgID: a.ev.orgID, Distribution: a.ev.distribution, PublishTimestamp: itoa(a.ev.publishTS),
			ID: a.ev.id, Info: a.ev.info, OrgcID: a.ev.orgc.id, UUID: a.ev.uuid,
		}
	}
	if a.obj != nil {
		out.ObjectID = a.obj.id
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

// TestEncodeSearch_SameBytesAsEncodingJSON writes every attribute of the
// embedded events, of an event with awkward strings, and of a synthetic
// set, under every switch that changes the shape, with both encoders.
func TestEncodeSearch_SameBytesAsEncodingJSON(t *testing.T) {
	awkward := `{"Event": {"id": "50", "info": "quote \" backslash \\ tab \t nl \n <tag> & é \u2028 \u0001", "published": true,
		"Tag": [{"name": "tlp:amber", "colour": "#FFC000", "numerical_value": 3}],
		"Attribute": [{"id": "500", "type": "comment", "category": "Other", "value": "line\nbreak \"q\" ü \u2029 /slash/", "comment": "<b>&amp;</b>",
			"first_seen": "2026-01-01T00:00:00.000000+00:00", "object_relation": "rel",
			"Tag": [{"name": "tlp:amber"}, {"name": "misp-galaxy:x=\"y\"", "is_galaxy": true, "local": 1}]}]}}`
	events := testEvents(t)
	events["50-awkward.json"] = &fstest.MapFile{Data: []byte(awkward)}
	for _, name := range []string{"10-righel-misp-wazuh-workshop__log4j.json", "11-misp__misp_indicators_test.json", "13-pymisp__fallchill.json", "03-custom-misp-demo.json"} {
		b, err := embedded.ReadFile("testdata/events/" + name)
		if err != nil {
			t.Fatal(err)
		}
		events[name] = &fstest.MapFile{Data: b}
	}
	s := mustNew(t, Options{Events: events, Synthetic: Synthetic{Attributes: 3000, Events: 40, Seed: 7}})
	switches := map[string]query{
		"plain":         {},
		"context":       {context: true},
		"event tags":    {eventTags: true},
		"everything":    {context: true, eventTags: true, eventUUID: true, sightings: true, warninglistHits: true},
		"hits and uuid": {eventUUID: true, warninglistHits: true},
	}
	for name, q := range switches {
		t.Run(name, func(t *testing.T) {
			got, err := s.encodeSearch(q, s.db.attrs)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			want.WriteString(`{"response": {"Attribute": [`)
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			for i, a := range s.db.attrs {
				if i > 0 {
					want.WriteByte(',')
				}
				if err := enc.Encode(s.render(q, a)); err != nil {
					t.Fatal(err)
				}
				want.Truncate(want.Len() - 1)
			}
			want.WriteString("]}}\n")
			if !bytes.Equal(got, want.Bytes()) {
				i := 0
				for i < len(got) && i < want.Len() && got[i] == want.Bytes()[i] {
					i++
				}
				t.Fatalf("bytes differ at %d:\nhand: %.200s\njson: %.200s", i, got[max(i-80, 0):], want.Bytes()[max(i-80, 0):])
			}
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"q"`, `\`, "\x00\x1f", "é", "\u2028\u2029", "\xff\xfe", "<&>", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Without HTML escaping, as MISP writes.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
		if utf8.ValidString(s) {
			var back string
			if err := json.Unmarshal(appendString(nil, s), &back); err != nil || back != s {
				t.Errorf("appendString(%q) does not decode back: %q, %v", s, back, err)
			}
		}
	})
}
