package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Source is MISP as a sync reads it (*mispclient.Client).
type Source interface {
	// EventIndex also returns MISP's time of the answer (zero if unknown).
	EventIndex(ctx context.Context) ([]misp.EventStamp, time.Time, error)
	EventMetadata(ctx context.Context, ids []string) ([]misp.Event, error)
	AttributePage(ctx context.Context, q misp.Query, eventIDs []string, page, limit int) (misp.Answer, error)
	EnabledWarninglists(ctx context.Context) (misp.Warninglists, error)
	CheckWarninglists(ctx context.Context, values []string) (map[string][]string, error)
}

// Options configure a sync.
type Options struct {
	Path string // the mirror file; its lock and state files sit beside it
	// Scope, URL and Filters become the generation's Meta (see there).
	Scope, URL, Filters string
	// Query holds the filters (config.Query()); the sync sets the types.
	Query            misp.Query
	FullSyncInterval time.Duration
	Full             bool // a full sync whatever the mirror holds
	Now              func() time.Time
	// EventsPerRequest and PageSize shape the requests; zero means the
	// defaults below.
	EventsPerRequest, PageSize int
	Logf                       func(format string, args ...any)
}

// Request shapes, measured against the fake at 1,000,000 attributes and
// the real testbed MISP (BENCHMARKS.md): pages of 5000 attributes; events
// in groups whose attributes usually fit one page.
const (
	DefaultEventsPerRequest = 100
	DefaultPageSize         = 5000
)

// Result is what one sync did.
type Result struct {
	Full       bool   `json:"full"`
	Why        string `json:"why,omitempty"`      // why it was full
	Changed    bool   `json:"changed"`            // a new generation was written
	Generation uint64 `json:"generation"`         // the generation now current
	Events     int    `json:"events_fetched"`     // events whose attributes were (re)read
	Deleted    int    `json:"events_deleted"`     // events gone from MISP
	Attributes int    `json:"attributes_read"`    // attributes read from MISP
	Skipped    int    `json:"attributes_skipped"` // unreadable attributes MISP sent
	// Filtered attributes are on a warninglist MISP has enabled
	// (enforce_warninglist) or decayed (exclude_decayed): left out, as
	// live lookups leave them out.
	Filtered int    `json:"attributes_filtered"`
	TooBroad int    `json:"networks_too_broad"`
	Requests int    `json:"requests"`
	Duration string `json:"duration"`
	Meta     Meta   `json:"mirror"`
}

// ErrBusy: another sync holds the lock.
var ErrBusy = errors.New("another sync of this mirror is running")

// SyncTypes are the attribute types the mirror copies: every type an
// indicator kind of the extractor can match.
func SyncTypes() []string {
	var types []string
	for _, k := range []ioc.Kind{ioc.IP, ioc.Domain, ioc.URL, ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512, ioc.Imphash} {
		types = append(types, k.MISPTypes()...)
	}
	slices.Sort(types)
	return slices.Compact(types)
}

// Sync brings the mirror at o.Path up to date with MISP and records the
// outcome in its state file, also when it fails.
//
// What it asks MISP (docs/mirror.md has the table of which change each
// step catches, checked on a real MISP 2.5.1):
//  1. the minimal event index: every event's id, timestamp and published
//     flag. An event whose timestamp or flag differs from the mirror's, or
//     that the mirror lacks, is re-read whole; one missing from the index
//     is dropped. MISP moves an event's timestamp whenever the event or one
//     of its attributes is edited, tagged or untagged, so this catches
//     edits, soft deletions, to_ids changes and re-tagging.
//  2. the attributes of those events, with the filters, in pages;
//  3. the metadata of the events that have attributes in the mirror;
//  4. the enabled warninglists, whose change makes the sync full.
//
// A full sync re-reads every event: the first one, one with other filters,
// URL or key (another Scope), one after FullSyncInterval, one after MISP's
// enabled warninglists changed, and one over a damaged generation. Only
// the full sync catches an
// attribute that decayed (exclude_decayed), as nothing in MISP changes.
//
// The timestamps kept for the next comparison are those of step 1, read
// before the attributes: a change made while the sync runs leaves a newer
// timestamp in MISP, and the next sync reads the event again.
func Sync(ctx context.Context, src Source, o Options) (res Result, err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.EventsPerRequest <= 0 {
		o.EventsPerRequest = DefaultEventsPerRequest
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	start := o.Now()
	unlock, err := lock(o.Path)
	if err != nil {
		return res, err
	}
	defer unlock()
	defer func() {
		res.Duration = o.Now().Sub(start).Round(time.Millisecond).String()
		writeState(o.Path, start, res, err)
	}()
	removeTemps(o.Path)

	counted := &countingSource{Source: src}
	s := &syncer{o: o, src: counted, start: start}
	res, err = s.run(ctx)
	res.Requests = counted.n
	return res, err
}

type syncer struct {
	o           Options
	src         Source
	start       time.Time
	base        *Mirror
	res         Result
	recheckFrom int64             // Meta.RecheckFrom of the generation being written
	lists       misp.Warninglists // enabled warninglists, with enforce_warninglist
}

// dropWarnedContext leaves out the context attributes (to_ids off) of a
// page that are on an enabled warninglist. MISP marks warninglist hits on
// to_ids attributes only (Warninglist::checkForWarning, unless its
// MISP.warning_for_all is on), so with to_ids not required they come back
// unmarked, where enforceWarninglist would drop them. They are checked as
// MISP's filter checks them: each half of a composite, against the lists
// that apply to the attribute's type.
func (s *syncer) dropWarnedContext(ctx context.Context, attrs []misp.Attribute) ([]misp.Attribute, error) {
	if !s.o.Query.EnforceWarninglist || (s.o.Query.ToIDs != nil && *s.o.Query.ToIDs) || len(s.lists.Types) == 0 {
		return attrs, nil
	}
	halves := func(a misp.Attribute) []string {
		if strings.Contains(string(a.Type), "|") {
			first, second, _ := strings.Cut(string(a.Value), "|")
			return []string{first, second}
		}
		return []string{string(a.Value)}
	}
	var values []string
	for _, a := range attrs {
		if !a.ToIDs {
			values = append(values, halves(a)...)
		}
	}
	if len(values) == 0 {
		return attrs, nil
	}
	slices.Sort(values)
	hits, err := s.src.CheckWarninglists(ctx, slices.Compact(values))
	if err != nil {
		return nil, err
	}
	applies := func(list, typ string) bool {
		types := s.lists.Types[list]
		return slices.Contains(types, typ) || slices.Contains(types, "ALL")
	}
	return slices.DeleteFunc(attrs, func(a misp.Attribute) bool {
		if a.ToIDs {
			return false
		}
		for _, v := range halves(a) {
			for _, l := range hits[v] {
				if applies(l, string(a.Type)) {
					s.res.Filtered++
					return true
				}
			}
		}
		return false
	}), nil
}

// recheckOverlap: MISP timestamps are whole seconds, and an edit sets the
// event's timestamp when it starts, not when it commits. An event whose
// timestamp lies within this much of the index read may change again with
// the same timestamp (a second change in the same second, a transaction
// still open), so the next sync reads it again whatever its timestamp
// says. At a 5-minute sync interval that is one extra read of the few
// events changed in the last minute before a sync.
const recheckOverlap = time.Minute

// recent says whether a MISP timestamp is at or after from.
func recent(ts misp.FlexString, from int64) bool {
	t, err := strconv.ParseInt(string(ts), 10, 64)
	return err == nil && from > 0 && t >= from
}

func (s *syncer) run(ctx context.Context) (Result, error) {
	base, why := s.openBase()
	defer func() {
		if base != nil {
			base.Close()
		}
	}()
	if s.o.Query.EnforceWarninglist {
		var err error
		if s.lists, err = s.src.EnabledWarninglists(ctx); err != nil {
			return s.res, fmt.Errorf("reading MISP's warninglists: %w", err)
		}
		if base != nil && why == "" && s.lists.Fingerprint != base.meta.Warninglists {
			why = "MISP's enabled warninglists changed"
		}
	}
	if why != "" {
		s.o.Logf("full sync: %s", why)
		if base != nil {
			base.Close()
			base = nil
		}
	}
	s.base = base
	s.res.Full, s.res.Why = base == nil, why

	stamps, readAt, err := s.src.EventIndex(ctx)
	if err != nil {
		return s.res, fmt.Errorf("reading MISP's event index: %w", err)
	}
	index := map[uint32]misp.EventStamp{}
	var newest int64
	for _, st := range stamps {
		id, err := strconv.ParseUint(string(st.ID), 10, 32)
		if err != nil {
			return s.res, fmt.Errorf("MISP's event index: event id %q is not a number", cut(string(st.ID)))
		}
		index[uint32(id)] = st
		if ts, err := strconv.ParseInt(string(st.Timestamp), 10, 64); err == nil {
			newest = max(newest, ts)
		}
	}
	// See recheckOverlap. Without MISP's Date header, its newest
	// timestamp stands in for the time of the read (never later).
	read := readAt.Unix()
	if readAt.IsZero() || read < newest {
		read = newest
	}
	s.recheckFrom = read - int64(recheckOverlap/time.Second)

	// What changed since the base generation.
	var fetch []uint32
	keepOld := map[uint32]eventRecord{}
	inBase := map[uint32]bool{}
	if base != nil {
		err := base.eachEvent(func(id uint32, e eventRecord) error {
			inBase[id] = true
			st, ok := index[id]
			switch {
			case !ok:
				s.res.Deleted++
			case st.Timestamp != e.Event.Timestamp || st.Published != e.Event.Published:
				fetch = append(fetch, id)
			case recent(st.Timestamp, base.meta.RecheckFrom):
				// Changed close to the last read: a second change in the
				// same second, or a transaction that was still open,
				// leaves the timestamp as it was read.
				fetch = append(fetch, id)
			default:
				keepOld[id] = e
			}
			return nil
		})
		if err != nil {
			return s.res, fmt.Errorf("reading the mirror: %w", err)
		}
	}
	for id := range index {
		if !inBase[id] {
			fetch = append(fetch, id)
		}
	}
	slices.Sort(fetch)
	s.res.Events = len(fetch)
	if base != nil && len(fetch) == 0 && s.res.Deleted == 0 {
		// Nothing changed: the generation stays, the state file says when
		// it was last found current.
		s.res.Meta = base.meta
		return s.res, nil
	}

	wr, err := newWriter(s.o.Path)
	if err != nil {
		return s.res, describeWriteError(err)
	}
	meta, err := s.write(ctx, wr, index, fetch, keepOld)
	if err != nil {
		wr.abort()
		return s.res, err
	}
	if meta, err = wr.commit(meta); err != nil {
		return s.res, describeWriteError(err)
	}
	s.res.Changed, s.res.Generation, s.res.Meta, s.res.TooBroad = true, meta.Generation, meta, wr.broad
	return s.res, nil
}

// openBase opens the current generation to build on, or says why the sync
// must be full.
func (s *syncer) openBase() (*Mirror, string) {
	m, err := Open(s.o.Path)
	switch {
	case errors.Is(err, ErrNoMirror):
		return nil, "no mirror yet"
	case err != nil:
		// Generations count on from the last sync's, even over a
		// damaged file.
		if st, err := ReadState(s.o.Path); err == nil {
			s.res.Generation = st.Generation
		}
		return nil, "the mirror could not be read (" + err.Error() + ")"
	}
	// Generations only grow, full syncs included: doctor and the logs
	// tell them apart by number.
	s.res.Generation = m.meta.Generation
	var why string
	switch {
	case s.o.Full:
		why = "asked for"
	case m.meta.Scope != s.o.Scope:
		why = "MISP URL, key or filters changed"
	case s.start.Sub(time.Unix(m.meta.FullAt, 0)) >= s.o.FullSyncInterval:
		why = "the periodic full sync is due"
	default:
		if err := m.Verify(); err != nil {
			why = "the mirror failed its checksum"
		}
	}
	if why != "" {
		m.Close()
		return nil, why
	}
	return m, ""
}

// write builds the new generation: the base's records of unchanged events
// (copied as they are), then the events read now.
func (s *syncer) write(ctx context.Context, wr *writer, index map[uint32]misp.EventStamp, fetch []uint32, keepOld map[uint32]eventRecord) (Meta, error) {
	meta := Meta{Generation: s.res.Generation + 1, Scope: s.o.Scope, URL: s.o.URL, Filters: s.o.Filters, SyncedAt: s.start.Unix(), FullAt: s.start.Unix(), Warninglists: s.lists.Fingerprint, RecheckFrom: s.recheckFrom}
	if s.base != nil {
		meta.FullAt = s.base.meta.FullAt
		if err := wr.copyLive(s.base, func(ev uint32) bool { _, ok := keepOld[ev]; return ok }); err != nil {
			return meta, fmt.Errorf("copying the mirror: %w", err)
		}
		meta.V4Lengths, meta.V6Lengths = s.base.meta.V4Lengths, s.base.meta.V6Lengths
		for id, e := range keepOld {
			wr.keepEvent(id, e)
		}
	}

	q := s.o.Query
	q.Values, q.Types = nil, SyncTypes()
	withAttrs := map[uint32]bool{}
	for chunk := range slices.Chunk(fetch, s.o.EventsPerRequest) {
		ids := make([]string, len(chunk))
		for i, id := range chunk {
			ids[i] = strconv.FormatUint(uint64(id), 10)
		}
		for page := 1; ; page++ {
			ans, err := s.src.AttributePage(ctx, q, ids, page, s.o.PageSize)
			if err != nil {
				return meta, fmt.Errorf("reading attributes from MISP: %w", err)
			}
			s.res.Skipped += ans.Skipped.Count
			kept, err := s.dropWarnedContext(ctx, ans.Attributes)
			if err != nil {
				return meta, fmt.Errorf("checking attributes against MISP's warninglists: %w", err)
			}
			for _, a := range kept {
				ev, err := strconv.ParseUint(string(a.EventID), 10, 32)
				if err != nil || !slices.Contains(chunk, uint32(ev)) {
					s.res.Skipped++ // not an attribute of the events asked for
					continue
				}
				a.Tags = ownTags(a.Tags)
				if err := wr.addAttribute(uint32(ev), a); err != nil {
					return meta, describeWriteError(err)
				}
				withAttrs[uint32(ev)] = true
				s.res.Attributes++
			}
			s.res.Filtered += ans.Filtered
			// Every row of a page comes back, kept, skipped or
			// warninglisted: only a short page is the last.
			if len(ans.Attributes)+ans.Skipped.Count+ans.Filtered < s.o.PageSize {
				break
			}
		}
	}

	// Event metadata for the events that have attributes now; the others
	// are kept as their index row, to compare the next index against.
	var need []string
	for _, id := range fetch {
		if withAttrs[id] {
			need = append(need, strconv.FormatUint(uint64(id), 10))
		} else {
			st := index[id]
			wr.addEvent(id, misp.Event{ID: st.ID, UUID: st.UUID, Timestamp: st.Timestamp, Published: st.Published})
		}
	}
	for chunk := range slices.Chunk(need, s.o.EventsPerRequest) {
		events, err := s.src.EventMetadata(ctx, chunk)
		if err != nil {
			return meta, fmt.Errorf("reading event metadata from MISP: %w", err)
		}
		got := map[uint32]bool{}
		for _, e := range events {
			id, err := strconv.ParseUint(string(e.ID), 10, 32)
			if err != nil || !withAttrs[uint32(id)] {
				continue
			}
			st := index[uint32(id)]
			// The index row's stamp, read before the attributes: see Sync.
			e.Timestamp, e.Published = st.Timestamp, st.Published
			wr.addEvent(uint32(id), e)
			got[uint32(id)] = true
		}
		for _, sid := range chunk {
			id, _ := strconv.ParseUint(sid, 10, 32)
			if !got[uint32(id)] {
				// Gone between the two requests: keep its stamp, so that
				// the next sync sees it gone or changed.
				st := index[uint32(id)]
				wr.addEvent(uint32(id), misp.Event{ID: st.ID, UUID: st.UUID, Timestamp: st.Timestamp, Published: st.Published})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return meta, err
	}
	return meta, nil
}

// ownTags drops the event tags MISP copies onto an attribute
// (includeEventTags): the mirror adds the event's tags back at lookup.
func ownTags(tags []misp.Tag) []misp.Tag {
	return slices.DeleteFunc(tags, func(t misp.Tag) bool { return bool(t.Inherited) })
}

func cut(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// countingSource counts the requests of a sync.
type countingSource struct {
	Source
	n int
}

func (c *countingSource) EventIndex(ctx context.Context) ([]misp.EventStamp, time.Time, error) {
	c.n++
	return c.Source.EventIndex(ctx)
}

func (c *countingSource) EventMetadata(ctx context.Context, ids []string) ([]misp.Event, error) {
	c.n++
	return c.Source.EventMetadata(ctx, ids)
}

func (c *countingSource) AttributePage(ctx context.Context, q misp.Query, ids []string, page, limit int) (misp.Answer, error) {
	c.n++
	return c.Source.AttributePage(ctx, q, ids, page, limit)
}

func (c *countingSource) EnabledWarninglists(ctx context.Context) (misp.Warninglists, error) {
	c.n++
	return c.Source.EnabledWarninglists(ctx)
}

func (c *countingSource) CheckWarninglists(ctx context.Context, values []string) (map[string][]string, error) {
	c.n++
	return c.Source.CheckWarninglists(ctx, values)
}

// lock takes the sync lock, a file beside the mirror that only syncs use:
// runs never wait for it.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o640)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("mirror lock %s.lock %w", path, errSymlink)
	}
	if err != nil {
		return nil, fmt.Errorf("mirror lock: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("mirror lock %s.lock %w", path, errNotRegular)
	}
	// Owned like the mirror (runs never open the lock, but an admin
	// reading the directory should find one rule for its files).
	_ = matchDirGroup(f, filepath.Dir(path))
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("mirror lock: %w", err)
	}
	return func() { _ = f.Close() }, nil
}
