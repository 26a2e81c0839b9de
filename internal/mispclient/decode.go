package mispclient

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// decodeSearch reads {"response":{"Attribute":[...]}}. Some older MISPs
// answer a search without results with {"response":[]}; that is accepted
// as no match too. Each attribute is read on its own, so one with a field
// of an unexpected JSON type is counted (by the field's name, never its
// content) and left out, and the others are used.
//
// dropMarked leaves out the attributes MISP marked with warninglist hits
// (includeWarninglistHits) or as decayed by every decaying model that
// scored them (includeDecayScore), counting them in Answer.Filtered.
//
// Why gjson and not encoding/json: a mirror sync reads a million
// attributes, and encoding/json validated each page three times (the
// envelope, the list, each element) and walked misp's flexible types by
// reflection: it was most of an incremental sync's CPU (profile in
// BENCHMARKS.md). This reads the validated page once, field by field,
// with the same rules as misp.FlexString and misp.FlexBool, and matches
// keys as encoding/json does (case-insensitively; of two, the last).
// FuzzDecodeSearch holds it to the encoding/json decoder it replaced.
func decodeSearch(raw []byte, dropMarked bool) (misp.Answer, error) {
	if !gjson.ValidBytes(raw) {
		// encoding/json says where and what in words an operator knows.
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return misp.Answer{}, err
		}
		return misp.Answer{}, errors.New("not valid JSON")
	}
	root := gjson.ParseBytes(raw)
	if !root.IsObject() {
		return misp.Answer{}, errors.New("not a JSON object")
	}
	r := field(root, "response")
	switch {
	case !r.Exists() || r.Type == gjson.Null:
		return misp.Answer{}, errors.New(`no "response" key`)
	case r.IsArray() && len(r.Array()) == 0:
		return misp.Answer{}, nil
	case !r.IsObject():
		return misp.Answer{}, errors.New(`"response" is not an object`)
	}
	list := field(r, "attribute")
	if list.Exists() && list.Type != gjson.Null && !list.IsArray() {
		return misp.Answer{}, errors.New(`"Attribute" is not a list`)
	}
	var a misp.Answer
	list.ForEach(func(_, e gjson.Result) bool {
		attr, bad, marked := readAttribute(e)
		switch {
		case bad != "":
			a.Skipped.Add(bad)
		case dropMarked && marked:
			a.Filtered++
		case bool(attr.Deleted):
		default:
			a.Attributes = append(a.Attributes, attr)
		}
		return true
	})
	return a, nil
}

// readAttribute reads one element of the list. bad is the first field of
// an unexpected type ("attribute" when the element is no object); marked
// says whether MISP marked it with warninglist hits, or decayed by every
// model that scored it (MispAttribute::fetchAttributes drops those for
// excludeDecayed).
func readAttribute(e gjson.Result) (a misp.Attribute, bad string, marked bool) {
	if !e.IsObject() {
		return a, "attribute", false
	}
	r := reader{}
	e.ForEach(func(k, v gjson.Result) bool {
		switch strings.ToLower(k.Str) {
		case "id":
			r.str(&a.ID, v, "id")
		case "event_id":
			r.str(&a.EventID, v, "event_id")
		case "object_id":
			r.str(&a.ObjectID, v, "object_id")
		case "object_relation":
			r.str(&a.ObjectRelation, v, "object_relation")
		case "category":
			r.str(&a.Category, v, "category")
		case "type":
			r.str(&a.Type, v, "type")
		case "value":
			r.str(&a.Value, v, "value")
		case "to_ids":
			r.flag(&a.ToIDs, v, "to_ids")
		case "uuid":
			r.str(&a.UUID, v, "uuid")
		case "timestamp":
			r.str(&a.Timestamp, v, "timestamp")
		case "comment":
			r.str(&a.Comment, v, "comment")
		case "deleted":
			r.flag(&a.Deleted, v, "deleted")
		case "event":
			r.event(&a.Event, v)
		case "tag":
			r.tags(&a.Tags, v, "Tag")
		}
		// The marks were read with exact keys by the decoder this
		// replaced; they are MISP's own and never differ in case.
		switch k.Str {
		case "warnings":
			marked = marked || v.IsArray() && len(v.Array()) > 0
		case "decay_score":
			scores := v.Array()
			decayed := len(scores) > 0
			for _, sc := range scores {
				decayed = decayed && sc.Get("decayed").Bool()
			}
			marked = marked || decayed
		}
		return true
	})
	return a, r.bad, marked
}

// field returns the member of an object whose key is name, compared as
// encoding/json compares them (case-insensitively, the last one winning).
func field(obj gjson.Result, name string) gjson.Result {
	var found gjson.Result
	obj.ForEach(func(k, v gjson.Result) bool {
		if strings.EqualFold(k.Str, name) {
			found = v
		}
		return true
	})
	return found
}

// reader reads fields into misp's flexible types, remembering the first
// field of an unexpected JSON type.
type reader struct{ bad string }

func (r *reader) fail(field string) {
	if r.bad == "" {
		r.bad = field
	}
}

// str reads as misp.FlexString: a string, a number (its text), a boolean
// ("true", "false") or null ("").
func (r *reader) str(dst *misp.FlexString, v gjson.Result, field string) {
	switch v.Type {
	case gjson.Null:
		*dst = ""
	case gjson.String:
		*dst = misp.FlexString(v.Str)
	case gjson.Number:
		*dst = misp.FlexString(v.Raw)
	case gjson.True:
		*dst = "true"
	case gjson.False:
		*dst = "false"
	default:
		r.fail(field)
	}
}

// flag reads as misp.FlexBool: true for true, 1, "1", "true", "True".
func (r *reader) flag(dst *misp.FlexBool, v gjson.Result, field string) {
	var s misp.FlexString
	before := r.bad
	r.str(&s, v, field)
	if r.bad != before {
		return
	}
	switch s {
	case "1", "true", "True":
		*dst = true
	default:
		*dst = false
	}
}

func (r *reader) event(e *misp.Event, v gjson.Result) {
	switch {
	case v.Type == gjson.Null:
		*e = misp.Event{}
		return
	case !v.IsObject():
		r.fail("Event")
		return
	}
	v.ForEach(func(k, f gjson.Result) bool {
		switch strings.ToLower(k.Str) {
		case "id":
			r.str(&e.ID, f, "Event.id")
		case "uuid":
			r.str(&e.UUID, f, "Event.uuid")
		case "info":
			r.str(&e.Info, f, "Event.info")
		case "date":
			r.str(&e.Date, f, "Event.date")
		case "threat_level_id":
			r.str(&e.ThreatLevelID, f, "Event.threat_level_id")
		case "analysis":
			r.str(&e.Analysis, f, "Event.analysis")
		case "published":
			r.flag(&e.Published, f, "Event.published")
		case "timestamp":
			r.str(&e.Timestamp, f, "Event.timestamp")
		case "orgc":
			switch {
			case f.Type == gjson.Null:
				e.Orgc = misp.Org{}
			case !f.IsObject():
				r.fail("Event.Orgc")
			default:
				f.ForEach(func(k, o gjson.Result) bool {
					switch strings.ToLower(k.Str) {
					case "id":
						r.str(&e.Orgc.ID, o, "Event.Orgc.id")
					case "name":
						r.str(&e.Orgc.Name, o, "Event.Orgc.name")
					case "uuid":
						r.str(&e.Orgc.UUID, o, "Event.Orgc.uuid")
					}
					return true
				})
			}
		case "tag":
			r.tags(&e.Tags, f, "Event.Tag")
		}
		return true
	})
}

func (r *reader) tags(dst *[]misp.Tag, v gjson.Result, field string) {
	switch {
	case v.Type == gjson.Null:
		*dst = nil
		return
	case !v.IsArray():
		r.fail(field)
		return
	}
	tags := make([]misp.Tag, 0, 4)
	v.ForEach(func(_, t gjson.Result) bool {
		var tag misp.Tag
		switch {
		case t.Type == gjson.Null:
		case !t.IsObject():
			r.fail(field)
		default:
			t.ForEach(func(k, f gjson.Result) bool {
				switch strings.ToLower(k.Str) {
				case "name":
					r.str(&tag.Name, f, field+".name")
				case "inherited":
					r.flag(&tag.Inherited, f, field+".inherited")
				}
				return true
			})
		}
		tags = append(tags, tag)
		return true
	})
	*dst = tags
}
