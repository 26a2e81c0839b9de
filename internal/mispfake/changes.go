package mispfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The changes a MISP user makes, with the timestamps MISP 2.5.1 records
// for each. Measured on the test bed (sync research, one change per
// experiment, the attributes and events rows read from the database
// before and after):
//
//	change                     attribute ts   event ts   published       publish_timestamp
//	add attribute              now            now        false           kept
//	edit value, to_ids         now            now        false           kept
//	tag attribute              now            now        false           kept
//	untag attribute            kept           kept       kept            kept
//	soft delete                now            now        false           kept
//	hard delete                (row gone)     now        false           kept
//	tag / untag event          -              now        false           kept
//	publish                    kept           kept       true            now (again if published)
//	unpublish                  kept           kept       false           kept
//	delete event               (rows gone)    (row gone)
//
// So an unpublish, a deleted event and an attribute untagged leave no
// timestamp behind: a client sees them only by comparing whole lists.
// Adding a second tlp tag to an event is refused (tlp is an exclusive
// taxonomy) and changes nothing. Every change takes the fake's clock.

// NewAttribute is an attribute for AddAttribute.
type NewAttribute struct {
	Type, Category, Value, Comment string
	ToIDs                          bool
	Tags                           []string
	UUID                           string // empty: one is made up
}

// ErrNotFound is returned for an event or attribute id the fake does not
// hold.
var ErrNotFound = errors.New("mispfake: no such event or attribute")

// change runs fn on the data under the write lock; a change that worked
// retires the cached pages.
func (s *Server) change(fn func(now int64) error) error {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if err := fn(s.now().Unix()); err != nil {
		return err
	}
	s.gen++
	return nil
}

func (s *Server) eventNamed(id string) (*event, error) {
	if ev := s.db.eventByID[id]; ev != nil {
		return ev, nil
	}
	return nil, fmt.Errorf("%w: event %q", ErrNotFound, id)
}

func (s *Server) attrNamed(id string) (*attribute, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err == nil {
		if i, ok := slices.BinarySearchFunc(s.db.attrs, n, func(a *attribute, n int64) int { return cmpInt(a.num, n) }); ok {
			return s.db.attrs[i], nil
		}
	}
	return nil, fmt.Errorf("%w: attribute %q", ErrNotFound, id)
}

// touch records a change to the event's content: MISP bumps its
// timestamp and unpublishes it.
func touch(ev *event, now int64) {
	ev.eventTS, ev.published = now, false
}

// AddAttribute adds an attribute to an event and returns its id.
func (s *Server) AddAttribute(eventID string, na NewAttribute) (string, error) {
	var id string
	err := s.change(func(now int64) error {
		ev, err := s.eventNamed(eventID)
		if err != nil {
			return err
		}
		if na.Type == "" || na.Value == "" {
			return errors.New("mispfake: an attribute needs a type and a value")
		}
		a := &attribute{
			num: s.db.l.attrIDs.fresh(), ts: now, category: na.Category, typ: na.Type, value: na.Value,
			toIDs: na.ToIDs, ev: ev, attrMeta: plainMeta,
		}
		if na.Comment != "" {
			a.attrMeta = &attrMeta{distribution: "5", sharingGroupID: "0", comment: na.Comment}
		}
		a.uuid = na.UUID
		if a.uuid == "" {
			a.uuid = stableUUID("added", itoa(a.num))
		}
		a.halves = splitValue(a.typ, a.value)
		for _, name := range na.Tags {
			a.tags = append(a.tags, s.tagNamed(name))
		}
		s.db.add(a)
		touch(ev, now)
		id = itoa(a.num)
		return nil
	})
	return id, err
}

// EditValue changes an attribute's value.
func (s *Server) EditValue(attrID, value string) error {
	return s.change(func(now int64) error {
		a, err := s.attrNamed(attrID)
		if err != nil {
			return err
		}
		s.db.unindex(a)
		a.value, a.halves = value, splitValue(a.typ, value)
		if s.db.byHalf != nil {
			s.db.index(a)
		}
		a.ts = now
		touch(a.ev, now)
		return nil
	})
}

// SetToIDs turns an attribute's IDS flag on or off.
func (s *Server) SetToIDs(attrID string, on bool) error {
	return s.change(func(now int64) error {
		a, err := s.attrNamed(attrID)
		if err != nil {
			return err
		}
		a.toIDs, a.ts = on, now
		touch(a.ev, now)
		return nil
	})
}

// SoftDelete marks an attribute deleted (/attributes/delete/ID): it stays,
// and only a search with "deleted" finds it.
func (s *Server) SoftDelete(attrID string) error {
	return s.change(func(now int64) error {
		a, err := s.attrNamed(attrID)
		if err != nil {
			return err
		}
		a.deleted, a.ts = true, now
		touch(a.ev, now)
		return nil
	})
}

// HardDelete removes an attribute (/attributes/delete/ID/1).
func (s *Server) HardDelete(attrID string) error {
	return s.change(func(now int64) error {
		a, err := s.attrNamed(attrID)
		if err != nil {
			return err
		}
		s.db.remove(a)
		touch(a.ev, now)
		return nil
	})
}

// Publish publishes an event, also one already published: MISP then
// records the new publish time all the same.
func (s *Server) Publish(eventID string) error {
	return s.change(func(now int64) error {
		ev, err := s.eventNamed(eventID)
		if err != nil {
			return err
		}
		ev.published, ev.publishTS = true, now
		return nil
	})
}

// Unpublish unpublishes an event. MISP changes no timestamp.
func (s *Server) Unpublish(eventID string) error {
	return s.change(func(now int64) error {
		ev, err := s.eventNamed(eventID)
		if err != nil {
			return err
		}
		ev.published = false
		return nil
	})
}

// DeleteEvent deletes an event and its attributes.
func (s *Server) DeleteEvent(eventID string) error {
	return s.change(func(now int64) error {
		ev, err := s.eventNamed(eventID)
		if err != nil {
			return err
		}
		s.db.removeEvent(ev)
		return nil
	})
}

// TagEvent attaches a tag (created if new) to an event. A second tlp tag
// is refused, as MISP refuses it.
func (s *Server) TagEvent(eventID, name string) error {
	return s.change(func(now int64) error {
		ev, err := s.eventNamed(eventID)
		if err != nil {
			return err
		}
		// MISP creates a new tag before it looks at the event, so a
		// refused tag still takes an id (the test bed's tlp:amber got 79
		// when it was refused).
		t := s.tagNamed(name)
		if err := checkNewTag(ev.tags, name); err != nil {
			return fmt.Errorf("event %s: %w", eventID, err)
		}
		ev.tags = append(slices.Clip(ev.tags), t)
		touch(ev, now)
		return nil
	})
}

// UntagEvent removes a tag from an event.
func (s *Server) UntagEvent(eventID, name string) error {
	return s.change(func(now int64) error {
		ev, err := s.eventNamed(eventID)
		if err != nil {
			return err
		}
		tags, ok := withoutTag(ev.tags, name)
		if !ok {
			return fmt.Errorf("%w: tag %q on event %s", ErrNotFound, name, eventID)
		}
		ev.tags = tags
		touch(ev, now)
		return nil
	})
}

// TagAttribute attaches a tag (created if new) to an attribute.
func (s *Server) TagAttribute(attrID, name string) error {
	return s.change(func(now int64) error {
		a, err := s.attrNamed(attrID)
		if err != nil {
			return err
		}
		t := s.tagNamed(name)
		if err := checkNewTag(a.tags, name); err != nil {
			return fmt.Errorf("attribute %s: %w", attrID, err)
		}
		a.tags = append(slices.Clip(a.tags), t)
		a.ts = now
		touch(a.ev, now)
		return nil
	})
}

// UntagAttribute removes a tag from an attribute. MISP changes no
// timestamp and leaves the event published.
func (s *Server) UntagAttribute(attrID, name string) error {
	return s.change(func(now int64) error {
		a, err := s.attrNamed(attrID)
		if err != nil {
			return err
		}
		tags, ok := withoutTag(a.tags, name)
		if !ok {
			return fmt.Errorf("%w: tag %q on attribute %s", ErrNotFound, name, attrID)
		}
		a.tags = tags
		return nil
	})
}

// checkNewTag refuses a tag already attached and a second tlp tag.
func checkNewTag(tags []*tag, name string) error {
	for _, t := range tags {
		switch {
		case strings.EqualFold(t.name, name):
			return fmt.Errorf("tag %q is already attached", name)
		case strings.HasPrefix(strings.ToLower(t.name), "tlp:") && strings.HasPrefix(strings.ToLower(name), "tlp:"):
			return fmt.Errorf("tag %q refused: %q is attached and the tlp taxonomy is exclusive", name, t.name)
		}
	}
	return nil
}

// withoutTag returns a new list without the named tag.
func withoutTag(tags []*tag, name string) ([]*tag, bool) {
	out := slices.DeleteFunc(slices.Clone(tags), func(t *tag) bool { return strings.EqualFold(t.name, name) })
	return out, len(out) < len(tags)
}

// tagNamed is the instance's tag of that name, created on first use.
func (s *Server) tagNamed(name string) *tag {
	return s.db.l.tag(rawTag{Name: text{s: name}})
}

// remove takes an attribute out of the tables.
func (st *store) remove(a *attribute) {
	byNum := func(b *attribute, n int64) int { return cmpInt(b.num, n) }
	if i, ok := slices.BinarySearchFunc(st.attrs, a.num, byNum); ok {
		st.attrs = slices.Delete(st.attrs, i, i+1)
	}
	if i, ok := slices.BinarySearchFunc(a.ev.attrs, a.num, byNum); ok {
		a.ev.attrs = slices.Delete(a.ev.attrs, i, i+1)
	}
	st.unindex(a)
}

// removeEvent takes an event and its attributes out of the tables.
func (st *store) removeEvent(ev *event) {
	for _, a := range ev.attrs {
		st.unindex(a)
	}
	st.attrs = slices.DeleteFunc(st.attrs, func(a *attribute) bool { return a.ev == ev })
	st.events = slices.DeleteFunc(st.events, func(e *event) bool { return e == ev })
	delete(st.eventByID, ev.id)
	delete(st.eventByUUID, strings.ToLower(ev.uuid))
	ev.attrs = nil
}

// Change is one change RandomChanges made.
type Change struct {
	Kind      string `json:"kind"` // add, edit, to_ids, soft_delete, hard_delete
	Event     string `json:"event_id"`
	Attribute string `json:"attribute_id"`
	Value     string `json:"value,omitempty"` // the new value (add, edit)
	ToIDs     bool   `json:"to_ids"`          // the flag after the change
}

// RandomChanges makes k changes spread over the events, the same ones for
// the same seed and the same data: 30% attributes added, 25% values
// edited, 15% to_ids flipped, 15% soft and 15% hard deletes (the
// incremental-sync benchmark). Attributes are picked at random among the
// live ones, so large events get more changes, as in real feeds. New and
// edited values are fresh values of the attribute's type.
func (s *Server) RandomChanges(k int, seed int64) ([]Change, error) {
	g := newGenerator(seed, 0x6368616e)
	var out []Change
	for range k {
		c, err := s.randomChange(g)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *Server) randomChange(g *generator) (Change, error) {
	// Pick under the read lock; the change takes the write lock itself.
	var target Change
	var typ string
	s.dbMu.RLock()
	for try := 0; try < 100 && len(s.db.attrs) > 0; try++ {
		if a := s.db.attrs[g.r.IntN(len(s.db.attrs))]; !a.deleted {
			target, typ = Change{Event: a.ev.id, Attribute: itoa(a.num), ToIDs: a.toIDs}, a.typ
			break
		}
	}
	eventID := ""
	if len(s.db.events) > 0 {
		eventID = s.db.events[g.r.IntN(len(s.db.events))].id
	}
	s.dbMu.RUnlock()
	if eventID == "" {
		return Change{}, errors.New("mispfake: no event to change")
	}
	x := g.r.IntN(100)
	if target.Attribute == "" {
		x = 0 // nothing to edit or delete: add
	}
	c, err := target, error(nil)
	switch {
	case x < 30:
		typ = synthTypes[g.pick(func(i int) int { return synthTypes[i].weight }, len(synthTypes))].typ
		value, category := g.value(typ)
		c = Change{Kind: "add", Event: eventID, Value: value, ToIDs: g.percent(80)}
		c.Attribute, err = s.AddAttribute(eventID, NewAttribute{Type: typ, Category: category, Value: value, ToIDs: c.ToIDs})
	case x < 55:
		c.Kind = "edit"
		c.Value, _ = g.value(typ)
		err = s.EditValue(c.Attribute, c.Value)
	case x < 70:
		c.Kind, c.ToIDs = "to_ids", !c.ToIDs
		err = s.SetToIDs(c.Attribute, c.ToIDs)
	case x < 85:
		c.Kind = "soft_delete"
		err = s.SoftDelete(c.Attribute)
	default:
		c.Kind = "hard_delete"
		err = s.HardDelete(c.Attribute)
	}
	return c, err
}

// maxRandomChanges caps one /mispfake/changes request: the benchmark asks
// for a thousand, and each change takes the write lock once.
const maxRandomChanges = 1_000_000

// randomChangesEndpoint serves POST /mispfake/changes {"count": K,
// "seed": S}, the fake's own endpoint (MISP has none like it) through
// which a benchmark or the demo changes a running fakemisp: RandomChanges
// with those arguments, answered with the list of changes. It needs a key
// that may modify data (not a read-only key).
func (s *Server) randomChangesEndpoint(w http.ResponseWriter, r *http.Request, k Key, body []byte) {
	if !perms(k).Modify {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	var req struct {
		Count int   `json:"count"`
		Seed  int64 `json:"seed"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Count < 0 || req.Count > maxRandomChanges {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("mispfake: want {\"count\": 0..%d, \"seed\": N}", maxRandomChanges), r.URL.Path)
		return
	}
	changes, err := s.RandomChanges(req.Count, req.Seed)
	if err != nil {
		writeError(w, http.StatusConflict, err.Error(), r.URL.Path)
		return
	}
	if changes == nil {
		changes = []Change{}
	}
	writePretty(w, http.StatusOK, struct {
		Changes []Change `json:"changes"`
	}{changes})
}
