package mirror

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/custom-misp/custom-misp/internal/codec"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// writer builds the next generation in a temporary file next to the
// mirror. Attribute records stream to the file as they arrive; only the
// index entries (20 bytes per key) and the events are held in memory.
type writer struct {
	path string // the mirror's path; the file is renamed to it at commit
	f    *os.File
	w    *bufio.Writer
	crc  hash.Hash32
	off  int64

	keys   []keyEntry
	events map[uint32]*eventRecord
	v4, v6 map[int]bool
	broad  int // networks too broad to match, left out
	buf    []byte
}

type keyEntry struct {
	hash  uint64
	off   int64
	event uint32
}

// testWrap lets tests fail the writes of a sync (a full disk).
var testWrap = func(w io.Writer) io.Writer { return w }

// tempPrefix names a sync's file until it is renamed into place; a sync
// removes what a killed one left.
func tempPrefix(path string) string { return path + ".tmp-" }

// newWriter creates the temporary file, owned as the directory is (see
// createPrivate), with the magic written.
func newWriter(path string) (*writer, error) {
	f, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	wr := &writer{path: path, f: f, crc: crc32.NewIEEE(), events: map[uint32]*eventRecord{}, v4: map[int]bool{}, v6: map[int]bool{}}
	wr.w = bufio.NewWriterSize(io.MultiWriter(testWrap(f), wr.crc), 1<<20)
	if _, err := wr.w.WriteString(magic); err != nil {
		wr.abort()
		return nil, err
	}
	wr.off = recordsOff
	return wr, nil
}

// createTemp creates path's temporary file: never through a link, mode
// 0640, group of the directory, so that integratord runs (user wazuh, in
// that group on a standard install) can read what a root sync writes.
func createTemp(path string) (*os.File, error) {
	name := tempPrefix(path) + strconv.Itoa(os.Getpid())
	_ = os.Remove(name) // a pid reused after a crash
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return nil, err
	}
	if err := matchDirGroup(f, filepath.Dir(path)); err != nil {
		_ = f.Close()
		_ = os.Remove(name)
		return nil, err
	}
	return f, nil
}

// matchDirGroup gives f the group of dir, as a setgid directory would.
// Only root can give a file away; anyone else's files get their own
// group, which a run as the same user can read anyway.
func matchDirGroup(f *os.File, dir string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(-1, int(st.Gid))
}

// copyLive copies base's records of the events keep says, in file order,
// with their index entries moved to the new offsets. Every generation is
// written compact: the records of events read again are left behind, so
// the file never grows with the syncs (an earlier version copied the
// records section whole and left them as garbage: eight incremental
// syncs of 1,000 changes took a 137 MB mirror past 290 MB). It reads the
// old records once, in order, which the checksum needed anyway.
func (wr *writer) copyLive(base *Mirror, keep func(event uint32) bool) error {
	var entries []keyEntry
	err := base.eachEntry(func(e keyEntry) error {
		if keep(e.event) {
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	offs := make([]int64, 0, len(entries))
	for _, e := range entries {
		offs = append(offs, e.off)
	}
	slices.Sort(offs)
	offs = slices.Compact(offs)
	moved := make([]int64, len(offs))

	r := bufio.NewReaderSize(io.NewSectionReader(base.f, recordsOff, base.foot.eventsOff-recordsOff), 1<<20)
	pos := recordsOff
	for i := 0; i < len(offs); {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > maxRecord {
			return ErrDamaged
		}
		size := int64(len(binary.AppendUvarint(nil, n))) + int64(n)
		switch {
		case pos == offs[i]:
			if cap(wr.buf) < int(n) {
				wr.buf = make([]byte, n)
			}
			rec := wr.buf[:n]
			if _, err := io.ReadFull(r, rec); err != nil {
				return readError(err)
			}
			moved[i] = wr.off
			if err := wr.record(rec); err != nil {
				return err
			}
			i++
		case pos > offs[i]:
			return ErrDamaged // an entry points inside a record
		default:
			if _, err := r.Discard(int(n)); err != nil {
				return readError(err)
			}
		}
		pos += size
	}
	for j := range entries {
		i, _ := slices.BinarySearch(offs, entries[j].off)
		entries[j].off = moved[i]
	}
	wr.keys = append(wr.keys, entries...)
	return nil
}

// eventRecord is an event as the mirror stores it: MISP's metadata and
// what the mirror holds of it, so that counts survive incremental syncs.
type eventRecord struct {
	Event      misp.Event
	Attributes int
	Networks   int
}

func (wr *writer) eventRec(id uint32) *eventRecord {
	r := wr.events[id]
	if r == nil {
		r = &eventRecord{}
		wr.events[id] = r
	}
	return r
}

// addEvent records an event's metadata; the last one given for an id wins.
func (wr *writer) addEvent(id uint32, e misp.Event) { wr.eventRec(id).Event = e }

// keepEvent carries an event of the base generation over, counts and all.
func (wr *writer) keepEvent(id uint32, r eventRecord) { *wr.eventRec(id) = r }

// addAttribute appends one attribute record and its index entries. a.Event
// is not stored (the event table holds it); a.Tags should be the
// attribute's own tags.
func (wr *writer) addAttribute(event uint32, a misp.Attribute) error {
	keys, network := attrKeys(string(a.Type), string(a.Value))
	if network.IsValid() && tooBroad(network) {
		wr.broad++
		return nil
	}
	a.Event = misp.Event{}
	var err error
	wr.buf = binary.LittleEndian.AppendUint32(wr.buf[:0], event)
	if wr.buf, err = codec.Append(wr.buf, a); err != nil {
		return err
	}
	if len(wr.buf) > maxRecord {
		wr.broad++ // not worth a field of its own: an attribute of a MiB is noise
		return nil
	}
	off := wr.off
	if err := wr.record(wr.buf); err != nil {
		return err
	}
	for _, k := range keys {
		wr.keys = append(wr.keys, keyEntry{hashKey(k), off, event})
	}
	r := wr.eventRec(event)
	r.Attributes++
	if network.IsValid() {
		r.Networks++
		if network.Addr().Is4() {
			wr.v4[network.Bits()] = true
		} else {
			wr.v6[network.Bits()] = true
		}
	}
	return nil
}

// record writes one length-prefixed record.
func (wr *writer) record(b []byte) error {
	var n [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(n[:], uint64(len(b)))
	if _, err := wr.w.Write(n[:k]); err != nil {
		return err
	}
	if _, err := wr.w.Write(b); err != nil {
		return err
	}
	wr.off += int64(k + len(b))
	return nil
}

// commit writes the events, indexes, meta and footer, syncs the file and
// renames it over the mirror. meta's counts are filled in here.
func (wr *writer) commit(meta Meta) (Meta, error) {
	err := wr.finish(&meta)
	if err == nil {
		err = wr.f.Sync()
	}
	if cerr := wr.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(wr.f.Name(), wr.path)
	}
	if err != nil {
		_ = os.Remove(wr.f.Name())
		return meta, err
	}
	syncDir(filepath.Dir(wr.path))
	return meta, nil
}

func (wr *writer) finish(meta *Meta) error {
	var foot footer
	foot.eventsOff = wr.off
	meta.Attributes, meta.CIDRs = 0, 0
	ids := make([]uint32, 0, len(wr.events))
	for id := range wr.events {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	offs := make([]int64, len(ids))
	for i, id := range ids {
		offs[i] = wr.off
		r := wr.events[id]
		meta.Attributes += r.Attributes
		meta.CIDRs += r.Networks
		b, err := codec.Append(wr.buf[:0], *r)
		if err != nil {
			return err
		}
		wr.buf = b
		if err := wr.record(b); err != nil {
			return err
		}
	}
	foot.eventIdxOff = wr.off
	for i, id := range ids {
		var e [eventIdxEntry]byte
		binary.LittleEndian.PutUint32(e[:], id)
		binary.LittleEndian.PutUint64(e[4:], uint64(offs[i]))
		if err := wr.raw(e[:]); err != nil {
			return err
		}
	}
	foot.eventN = int64(len(ids))

	slices.SortFunc(wr.keys, func(a, b keyEntry) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return int(a.off - b.off)
	})
	foot.keyIdxOff = wr.off
	var fences []uint64
	for i, k := range wr.keys {
		if i%fenceEvery == 0 {
			fences = append(fences, k.hash)
		}
		var e [keyIdxEntry]byte
		binary.LittleEndian.PutUint64(e[:], k.hash)
		binary.LittleEndian.PutUint64(e[8:], uint64(k.off))
		binary.LittleEndian.PutUint32(e[16:], k.event)
		if err := wr.raw(e[:]); err != nil {
			return err
		}
	}
	foot.keyN = int64(len(wr.keys))
	foot.fencesOff = wr.off
	for _, h := range fences {
		if err := wr.raw(binary.LittleEndian.AppendUint64(nil, h)); err != nil {
			return err
		}
	}
	foot.fenceN = int64(len(fences))

	meta.Format = formatVersion
	meta.Events = len(ids)
	meta.V4Lengths = mergeLengths(meta.V4Lengths, wr.v4)
	meta.V6Lengths = mergeLengths(meta.V6Lengths, wr.v6)
	mj, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	foot.metaOff = wr.off
	foot.metaLen = int64(len(mj))
	if err := wr.raw(mj); err != nil {
		return err
	}
	if err := wr.w.Flush(); err != nil {
		return err
	}
	foot.bodyCRC = wr.crc.Sum32()
	foot.metaCRC = crc32.ChecksumIEEE(mj)
	foot.fileSize = wr.off + footerSize
	_, err = wr.f.Write(foot.encode())
	return err
}

func mergeLengths(have []int, add map[int]bool) []int {
	for _, l := range have {
		add[l] = true
	}
	out := make([]int, 0, len(add))
	for l := range add {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

func (wr *writer) raw(b []byte) error {
	if _, err := wr.w.Write(b); err != nil {
		return err
	}
	wr.off += int64(len(b))
	return nil
}

// abort removes the temporary file.
func (wr *writer) abort() {
	_ = wr.f.Close()
	_ = os.Remove(wr.f.Name())
}

// syncDir makes a rename durable; failing is not worth an error, the
// rename itself is done.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// removeTemps removes what killed syncs left; the caller holds the sync
// lock, so none of them is being written.
func removeTemps(path string) {
	matches, _ := filepath.Glob(tempPrefix(path) + "*")
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// errDiskFull is how a full disk reads in the sync's result.
func describeWriteError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("writing the new mirror: disk full (%w); the previous mirror keeps serving", err)
	}
	return fmt.Errorf("writing the new mirror: %w; the previous mirror keeps serving", err)
}
