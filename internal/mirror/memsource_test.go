package mirror

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// memSource is a MISP in memory with the semantics the sync relies on (see
// docs/mirror.md, checked on a real MISP 2.5.1): every change to an event
// or its attributes moves the event's timestamp; deleted events vanish
// from the index; soft-deleted attributes are not returned; the filters
// apply as restSearch applies them. The end-to-end tests run the same
// sync against internal/mispfake over HTTP.
type memSource struct {
	clock        int64
	events       map[uint32]*memEvent
	warninglists string
	onWarnlist   map[string]bool
	fail         func(call string, n int) error // injected failures
	dateLag      time.Duration                  // how far MISP's clock is past its last change
	calls        map[string]int
}

type memEvent struct {
	ev    misp.Event
	attrs []*memAttr
}

type memAttr struct {
	a       misp.Attribute
	deleted bool
}

func newMemSource() *memSource {
	// Syncs happen long after the changes, unless a test says otherwise.
	return &memSource{clock: 1_700_000_000, events: map[uint32]*memEvent{}, onWarnlist: map[string]bool{}, calls: map[string]int{}, dateLag: 10 * time.Minute}
}

func (s *memSource) tick() string { s.clock++; return strconv.FormatInt(s.clock, 10) }

func (s *memSource) addEvent(id uint32, info string, published bool, tags ...string) *memEvent {
	e := &memEvent{ev: misp.Event{ID: misp.FlexString(strconv.Itoa(int(id))), UUID: misp.FlexString("ev-" + strconv.Itoa(int(id))), Info: misp.FlexString(info),
		ThreatLevelID: "1", Published: misp.FlexBool(published), Timestamp: misp.FlexString(s.tick()), Orgc: misp.Org{Name: "ORG"}}}
	for _, t := range tags {
		e.ev.Tags = append(e.ev.Tags, misp.Tag{Name: misp.FlexString(t)})
	}
	s.events[id] = e
	return e
}

var attrSeq = 0

func (s *memSource) addAttr(event uint32, typ, value string, toIDs bool, tags ...string) *memAttr {
	attrSeq++
	e := s.events[event]
	a := &memAttr{a: misp.Attribute{ID: misp.FlexString(strconv.Itoa(attrSeq)), EventID: e.ev.ID, Type: misp.FlexString(typ), Value: misp.FlexString(value),
		Category: "Network activity", ToIDs: misp.FlexBool(toIDs), UUID: misp.FlexString("attr-" + strconv.Itoa(attrSeq)), Timestamp: misp.FlexString(s.tick())}}
	for _, t := range tags {
		a.a.Tags = append(a.a.Tags, misp.Tag{Name: misp.FlexString(t)})
	}
	e.attrs = append(e.attrs, a)
	e.ev.Timestamp = misp.FlexString(s.tick())
	return a
}

// touch records a change to the event (as MISP does for every edit).
func (s *memSource) touch(event uint32) { s.events[event].ev.Timestamp = misp.FlexString(s.tick()) }

func (s *memSource) call(name string) error {
	s.calls[name]++
	if s.fail != nil {
		return s.fail(name, s.calls[name])
	}
	return nil
}

func (s *memSource) EventIndex(ctx context.Context) ([]misp.EventStamp, time.Time, error) {
	if err := s.call("index"); err != nil {
		return nil, time.Time{}, err
	}
	var out []misp.EventStamp
	for _, e := range s.events {
		out = append(out, misp.EventStamp{ID: e.ev.ID, UUID: e.ev.UUID, Timestamp: e.ev.Timestamp, Published: e.ev.Published})
	}
	// MISP's clock: one second after its last change (the Date header).
	return out, time.Unix(s.clock, 0).Add(s.dateLag), nil
}

func (s *memSource) EventMetadata(ctx context.Context, ids []string) ([]misp.Event, error) {
	if err := s.call("metadata"); err != nil {
		return nil, err
	}
	var out []misp.Event
	for _, sid := range ids {
		id, _ := strconv.Atoi(sid)
		if e, ok := s.events[uint32(id)]; ok {
			out = append(out, e.ev)
		}
	}
	return out, nil
}

func (s *memSource) AttributePage(ctx context.Context, q misp.Query, ids []string, page, limit int) (misp.Answer, error) {
	if err := s.call("attributes"); err != nil {
		return misp.Answer{}, err
	}
	var all []misp.Attribute
	for _, sid := range ids {
		id, _ := strconv.Atoi(sid)
		e, ok := s.events[uint32(id)]
		if !ok {
			continue
		}
		if q.Published != nil && bool(e.ev.Published) != *q.Published {
			continue
		}
		for _, a := range e.attrs {
			if a.deleted || (q.ToIDs != nil && bool(a.a.ToIDs) != *q.ToIDs) || !slices.Contains(q.Types, string(a.a.Type)) {
				continue
			}
			all = append(all, a.a)
		}
	}
	from := (page - 1) * limit
	if from >= len(all) {
		return misp.Answer{}, nil
	}
	// As mispclient.AttributePage: the page is cut first, then the
	// warninglisted rows are counted apart.
	var ans misp.Answer
	for _, a := range all[from:min(from+limit, len(all))] {
		if q.EnforceWarninglist && bool(a.ToIDs) && s.onWarnlist[string(a.Value)] {
			ans.Filtered++
			continue
		}
		ans.Attributes = append(ans.Attributes, a)
	}
	return ans, nil
}

func (s *memSource) EnabledWarninglists(ctx context.Context) (misp.Warninglists, error) {
	if err := s.call("warninglists"); err != nil {
		return misp.Warninglists{}, err
	}
	return misp.Warninglists{Fingerprint: s.warninglists, Types: map[string][]string{"1": {"ALL"}}}, nil
}

// CheckWarninglists: the values of onWarnlist are on list "1".
func (s *memSource) CheckWarninglists(ctx context.Context, values []string) (map[string][]string, error) {
	if err := s.call("check"); err != nil {
		return nil, err
	}
	hits := map[string][]string{}
	for _, v := range values {
		if s.onWarnlist[v] {
			hits[v] = []string{"1"}
		}
	}
	return hits, nil
}

var errInjected = &misp.Error{Class: misp.ClassUnavailable, Message: "injected"}

var _ = errors.New
