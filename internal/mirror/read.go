package mirror

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/tidwall/gjson"

	"github.com/custom-misp/custom-misp/internal/codec"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Why a mirror file was not opened.
var (
	ErrNoMirror   = errors.New("no mirror") // the file does not exist: no sync has run
	errSymlink    = errors.New("is a symbolic link, which is never followed")
	errNotRegular = errors.New("is not a regular file")
)

// Mirror is one open generation. Reads are plain preads of the file: every
// offset is checked against the footer's sections before it is used, so a
// damaged file gives ErrDamaged, never a panic or a read out of bounds.
type Mirror struct {
	f    *os.File
	foot footer
	meta Meta

	fences []uint64               // loaded at the first lookup
	events map[uint32]eventRecord // decoded so far
}

// Open opens the mirror at path for reading: never through a symbolic
// link, only a regular file (a FIFO planted there cannot hang the run).
func Open(path string) (*Mirror, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ErrNoMirror
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("mirror %s %w", path, errSymlink)
	case err != nil:
		return nil, fmt.Errorf("mirror: %w", err)
	}
	m, err := open(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("mirror %s: %w", path, err)
	}
	return m, nil
}

func open(f *os.File) (*Mirror, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	size := fi.Size()
	if size < recordsOff+footerSize {
		return nil, ErrDamaged
	}
	fb := make([]byte, footerSize)
	if _, err := f.ReadAt(fb, size-footerSize); err != nil {
		return nil, err
	}
	var head [len(magic)]byte
	if _, err := f.ReadAt(head[:], 0); err != nil || string(head[:]) != magic {
		return nil, ErrDamaged
	}
	foot, err := decodeFooter(fb, size)
	if err != nil {
		return nil, err
	}
	mj := make([]byte, foot.metaLen)
	if _, err := f.ReadAt(mj, foot.metaOff); err != nil {
		return nil, err
	}
	m := &Mirror{f: f, foot: foot, events: map[uint32]eventRecord{}}
	var ok bool
	if crc32.ChecksumIEEE(mj) != foot.metaCRC {
		return nil, ErrDamaged
	}
	if m.meta, ok = parseMeta(mj); !ok || m.meta.Format != formatVersion {
		return nil, ErrDamaged
	}
	return m, nil
}

// parseMeta reads the meta block with gjson, which a run has already
// warmed for the options: encoding/json's first decode of a struct type
// builds its field cache by reflection, a cost every integratord run
// would pay again (the writer still encodes it with encoding/json).
func parseMeta(b []byte) (Meta, bool) {
	if !gjson.ValidBytes(b) {
		return Meta{}, false
	}
	r := gjson.ParseBytes(b)
	if !r.IsObject() {
		return Meta{}, false
	}
	lengths := func(key string) []int {
		var out []int
		for _, v := range r.Get(key).Array() {
			out = append(out, int(v.Int()))
		}
		return out
	}
	return Meta{
		Format:       int(r.Get("format").Int()),
		Generation:   r.Get("generation").Uint(),
		Scope:        r.Get("scope").String(),
		URL:          r.Get("url").String(),
		Filters:      r.Get("filters").String(),
		SyncedAt:     r.Get("synced_at").Int(),
		FullAt:       r.Get("full_at").Int(),
		RecheckFrom:  r.Get("recheck_from").Int(),
		Warninglists: r.Get("warninglists").String(),
		Events:       int(r.Get("events").Int()),
		Attributes:   int(r.Get("attributes").Int()),
		CIDRs:        int(r.Get("cidrs").Int()),
		V4Lengths:    lengths("v4_prefix_lengths"),
		V6Lengths:    lengths("v6_prefix_lengths"),
	}, true
}

// Meta describes the generation.
func (m *Mirror) Meta() Meta { return m.meta }

// Close closes the file.
func (m *Mirror) Close() error { return m.f.Close() }

// Lookup returns the attributes the indicator matches, each with its
// event: the same ones MISP's restSearch answers for the value with the
// indicator kind's types (either half of a composite, case-insensitively),
// and for an address also every network attribute that contains it.
func (m *Mirror) Lookup(ind ioc.Indicator) ([]misp.Attribute, error) {
	types := ind.Kind.MISPTypes()
	keys := []string{strings.ToLower(ind.Value)}
	var addr netip.Addr
	if ind.Kind == ioc.IP {
		if a, err := netip.ParseAddr(ind.Value); err == nil {
			addr = a.Unmap()
			lengths := m.meta.V6Lengths
			if addr.Is4() {
				lengths = m.meta.V4Lengths
			}
			for _, l := range lengths {
				if p, err := addr.Prefix(l); err == nil {
					keys = append(keys, networkKey(p))
				}
			}
		}
	}
	var out []misp.Attribute
	seen := map[int64]bool{}
	for _, k := range keys {
		err := m.entries(hashKey(k), func(e keyEntry) error {
			if seen[e.off] {
				return nil
			}
			a, err := m.attribute(e.off)
			if err != nil {
				return err
			}
			akeys, _ := attrKeys(string(a.Type), string(a.Value))
			if !slices.Contains(akeys, k) || !slices.Contains(types, string(a.Type)) {
				return nil // another key with the same hash, or another kind's type
			}
			seen[e.off] = true
			r, err := m.event(e.event)
			if err != nil {
				return err
			}
			a.Event = r.Event
			out = append(out, a)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// entries calls fn for every index entry with hash h.
func (m *Mirror) entries(h uint64, fn func(keyEntry) error) error {
	if m.foot.keyN == 0 {
		return nil
	}
	if m.fences == nil {
		b := make([]byte, m.foot.fenceN*8)
		if _, err := m.f.ReadAt(b, m.foot.fencesOff); err != nil {
			return readError(err)
		}
		m.fences = make([]uint64, m.foot.fenceN)
		for i := range m.fences {
			m.fences[i] = binary.LittleEndian.Uint64(b[i*8:])
		}
	}
	// Entries with hash h start in the block of the last fence below h
	// (or the one equal to it, if the run of h began before it).
	block := max(sort.Search(len(m.fences), func(i int) bool { return m.fences[i] >= h })-1, 0)
	buf := make([]byte, fenceEvery*keyIdxEntry)
	for i := int64(block) * fenceEvery; i < m.foot.keyN; {
		n := min(fenceEvery, m.foot.keyN-i)
		b := buf[:n*keyIdxEntry]
		if _, err := m.f.ReadAt(b, m.foot.keyIdxOff+i*keyIdxEntry); err != nil {
			return readError(err)
		}
		for j := range n {
			e := b[j*keyIdxEntry:]
			eh := binary.LittleEndian.Uint64(e)
			if eh > h {
				return nil
			}
			if eh == h {
				if err := fn(keyEntry{eh, int64(binary.LittleEndian.Uint64(e[8:])), binary.LittleEndian.Uint32(e[16:])}); err != nil {
					return err
				}
			}
		}
		i += n
	}
	return nil
}

// eachEntry calls fn for every index entry, in index order.
func (m *Mirror) eachEntry(fn func(keyEntry) error) error {
	r := io.NewSectionReader(m.f, m.foot.keyIdxOff, m.foot.keyN*keyIdxEntry)
	buf := make([]byte, 4096*keyIdxEntry)
	for {
		n, err := io.ReadFull(r, buf)
		for i := 0; i+keyIdxEntry <= n; i += keyIdxEntry {
			e := buf[i:]
			if err := fn(keyEntry{binary.LittleEndian.Uint64(e), int64(binary.LittleEndian.Uint64(e[8:])), binary.LittleEndian.Uint32(e[16:])}); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return readError(err)
		}
	}
}

// readRecord reads the record at off, which must lie in [lo, hi).
func (m *Mirror) readRecord(off, lo, hi int64) ([]byte, error) {
	if off < lo || off >= hi {
		return nil, ErrDamaged
	}
	// One read of a typical record's size, a second only for a long one.
	buf := make([]byte, min(512, hi-off))
	if _, err := m.f.ReadAt(buf, off); err != nil {
		return nil, readError(err)
	}
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > maxRecord || int64(n) > hi-off-int64(k) {
		return nil, ErrDamaged
	}
	if int(n)+k <= len(buf) {
		return buf[k : k+int(n)], nil
	}
	rec := make([]byte, n)
	if _, err := m.f.ReadAt(rec, off+int64(k)); err != nil {
		return nil, readError(err)
	}
	return rec, nil
}

func (m *Mirror) attribute(off int64) (misp.Attribute, error) {
	var a misp.Attribute
	rec, err := m.readRecord(off, recordsOff, m.foot.eventsOff)
	if err != nil {
		return a, err
	}
	if len(rec) < 4 || codec.Decode(rec[4:], &a) != nil {
		return a, ErrDamaged
	}
	return a, nil
}

// event returns an event's record by MISP event id.
func (m *Mirror) event(id uint32) (eventRecord, error) {
	if r, ok := m.events[id]; ok {
		return r, nil
	}
	var entry [eventIdxEntry]byte
	var readErr error
	i := sort.Search(int(m.foot.eventN), func(i int) bool {
		if readErr != nil {
			return true
		}
		if _, err := m.f.ReadAt(entry[:], m.foot.eventIdxOff+int64(i)*eventIdxEntry); err != nil {
			readErr = err
			return true
		}
		return binary.LittleEndian.Uint32(entry[:]) >= id
	})
	if readErr != nil {
		return eventRecord{}, readError(readErr)
	}
	if i == int(m.foot.eventN) {
		return eventRecord{}, ErrDamaged // every attribute's event is in the table
	}
	if _, err := m.f.ReadAt(entry[:], m.foot.eventIdxOff+int64(i)*eventIdxEntry); err != nil {
		return eventRecord{}, readError(err)
	}
	if binary.LittleEndian.Uint32(entry[:]) != id {
		return eventRecord{}, ErrDamaged
	}
	return m.eventAt(id, int64(binary.LittleEndian.Uint64(entry[4:])))
}

func (m *Mirror) eventAt(id uint32, off int64) (eventRecord, error) {
	rec, err := m.readRecord(off, m.foot.eventsOff, m.foot.eventIdxOff)
	if err != nil {
		return eventRecord{}, err
	}
	var r eventRecord
	if codec.Decode(rec, &r) != nil {
		return eventRecord{}, ErrDamaged
	}
	m.events[id] = r
	return r, nil
}

// eachEvent calls fn for every event of the table, in id order.
func (m *Mirror) eachEvent(fn func(id uint32, r eventRecord) error) error {
	b := make([]byte, m.foot.eventN*eventIdxEntry)
	if _, err := m.f.ReadAt(b, m.foot.eventIdxOff); err != nil {
		return readError(err)
	}
	for i := int64(0); i < m.foot.eventN; i++ {
		e := b[i*eventIdxEntry:]
		id := binary.LittleEndian.Uint32(e)
		r, err := m.eventAt(id, int64(binary.LittleEndian.Uint64(e[4:])))
		if err != nil {
			return err
		}
		if err := fn(id, r); err != nil {
			return err
		}
	}
	return nil
}

// Verify reads the whole file and checks its checksum (sync before it
// builds on a generation, doctor).
func (m *Mirror) Verify() error {
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(m.f, 0, m.foot.metaOff+m.foot.metaLen)); err != nil {
		return readError(err)
	}
	if h.Sum32() != m.foot.bodyCRC {
		return ErrDamaged
	}
	return nil
}

// readError: a read short of a section the footer promised is damage.
func readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrDamaged
	}
	return err
}

// Each calls fn once for every attribute of the generation, with its
// event, in file order. It walks the distinct record offsets of the key
// index: the attributes are what the index can find. Exporters
// (internal/cdb) use it; a run never does.
func (m *Mirror) Each(fn func(a misp.Attribute, e misp.Event) error) error {
	type rec struct {
		off   int64
		event uint32
	}
	recs := make([]rec, 0, m.foot.keyN)
	if err := m.eachEntry(func(e keyEntry) error {
		recs = append(recs, rec{e.off, e.event})
		return nil
	}); err != nil {
		return err
	}
	slices.SortFunc(recs, func(a, b rec) int { return cmpInt64(a.off, b.off) })
	recs = slices.CompactFunc(recs, func(a, b rec) bool { return a.off == b.off })
	for _, r := range recs {
		a, err := m.attribute(r.off)
		if err != nil {
			return err
		}
		ev, err := m.event(r.event)
		if err != nil {
			return err
		}
		if err := fn(a, ev.Event); err != nil {
			return err
		}
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
