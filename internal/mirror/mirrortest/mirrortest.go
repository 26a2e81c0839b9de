// Package mirrortest builds small mirrors for the tests of the packages
// that read them (enrich, doctor): a MISP of a few events in memory, synced
// through the real mirror.Sync.
package mirrortest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Source is a MISP whose events and attributes are given as they are: its
// attribute pages apply the types and to_ids filters and page by
// Attribute.id order, as MISP does. Down makes every call fail as an
// unreachable MISP would.
type Source struct {
	Events     []misp.Event
	Attributes []misp.Attribute
	Down       bool
}

var errDown = &misp.Error{Class: misp.ClassUnavailable, Status: 503, Message: "Service Unavailable"}

func (s *Source) EventIndex(context.Context) ([]misp.EventStamp, time.Time, error) {
	if s.Down {
		return nil, time.Time{}, errDown
	}
	var out []misp.EventStamp
	for _, e := range s.Events {
		out = append(out, misp.EventStamp{ID: e.ID, UUID: e.UUID, Timestamp: e.Timestamp, Published: e.Published})
	}
	return out, time.Time{}, nil
}

func (s *Source) EventMetadata(_ context.Context, ids []string) ([]misp.Event, error) {
	if s.Down {
		return nil, errDown
	}
	var out []misp.Event
	for _, e := range s.Events {
		if slices.Contains(ids, string(e.ID)) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *Source) AttributePage(_ context.Context, q misp.Query, ids []string, page, limit int) (misp.Answer, error) {
	if s.Down {
		return misp.Answer{}, errDown
	}
	var all []misp.Attribute
	for _, a := range s.Attributes {
		if slices.Contains(ids, string(a.EventID)) && slices.Contains(q.Types, string(a.Type)) && (q.ToIDs == nil || bool(a.ToIDs) == *q.ToIDs) {
			all = append(all, a)
		}
	}
	slices.SortFunc(all, func(a, b misp.Attribute) int {
		x, _ := strconv.Atoi(string(a.ID))
		y, _ := strconv.Atoi(string(b.ID))
		return x - y
	})
	from := (page - 1) * limit
	if from >= len(all) {
		return misp.Answer{}, nil
	}
	return misp.Answer{Attributes: all[from:min(from+limit, len(all))]}, nil
}

func (s *Source) EnabledWarninglists(context.Context) (misp.Warninglists, error) {
	if s.Down {
		return misp.Warninglists{}, errDown
	}
	return misp.Warninglists{Fingerprint: "0:"}, nil
}

func (s *Source) CheckWarninglists(context.Context, []string) (map[string][]string, error) {
	return nil, nil
}

// Sync syncs src into the mirror at path as of at, for scope, and fails
// the test on any error but a MISP one (which a test may want).
func Sync(t testing.TB, path, scope string, at time.Time, src *Source) (mirror.Result, error) {
	t.Helper()
	on := true
	res, err := mirror.Sync(context.Background(), src, mirror.Options{
		Path: path, Scope: scope, Filters: "to_ids=true", FullSyncInterval: 24 * time.Hour,
		Query: misp.Query{ToIDs: &on},
		Now:   func() time.Time { return at },
	})
	var me *misp.Error
	if err != nil && !errors.As(err, &me) {
		t.Fatal(err)
	}
	return res, err
}
