// Package mirror is the local copy of the MISP attributes custom-misp can
// match: a file that integratord runs look indicators up in without asking
// MISP, and the sync that keeps it current (sync.go).
//
// # One generation, one file
//
// The mirror is one immutable file, written whole by a sync into a
// temporary name and renamed over the last one. A run opens whatever file
// the name holds and keeps reading that inode: it always sees one complete
// generation, never takes a lock, and is never held up by a sync. A sync
// that dies leaves a temporary file (removed by the next) and the previous
// generation untouched; a full disk fails the write, not the old file.
//
// Why not bbolt, as the cache: bbolt takes a shared flock to read and an
// exclusive one to write, so a sync writing in place would stall every run
// for its whole length; and bbolt trusts every offset in its file (see the
// cache's verify.go), while this format is read with plain, bounds-checked
// reads. It is also about half the size: records are packed one after the
// other and the index is a flat sorted array.
//
// # Layout
//
// All integers little-endian:
//
//	magic    8 bytes, "CMMIRR\x00\x01"
//	records  attribute records from offset 8: uvarint n, event id (u32), codec(misp.Attribute) of n-4 bytes
//	events   event records: uvarint n, codec(misp.Event) of n bytes
//	eventIdx eventN × 12 bytes: event id u32, record offset u64; sorted by id
//	keyIdx   keyN × 20 bytes: key hash u64, record offset u64, event id u32; sorted by hash, offset
//	fences   the hash of every fenceEvery-th keyIdx entry, u64 each
//	meta     Meta as JSON
//	footer   footerSize bytes, see footer
//
// An incremental sync copies the old generation's records of the events
// that did not change, in file order, then appends the events it read:
// every generation is compact.
package mirror

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"strings"
)

const (
	magic         = "CMMIRR\x00\x01"
	recordsOff    = int64(len(magic))
	eventIdxEntry = 12
	keyIdxEntry   = 20
	// fenceEvery trades the fence table read at the first lookup
	// (8 bytes per fenceEvery keys: 47 KiB for 1.5 million keys) against
	// the block of keyIdx read per lookup (fenceEvery × 20 bytes: 5 KiB).
	fenceEvery = 256
	footerSize = 12 * 8
	// maxRecord caps one record: a MISP attribute is a few hundred bytes,
	// an event's metadata a few KiB; anything larger is damage.
	maxRecord = 1 << 20
	// maxMeta caps the meta JSON.
	maxMeta = 1 << 20
)

// ErrDamaged marks a file that is not a sound mirror: a run treats it as
// no mirror, and the next sync replaces it with a full one.
var ErrDamaged = errors.New("damaged mirror file")

// footer is the fixed-size end of the file: where each section starts.
type footer struct {
	eventsOff, eventIdxOff, keyIdxOff, fencesOff, metaOff int64
	eventN, keyN, fenceN                                  int64
	metaLen                                               int64
	bodyCRC                                               uint32 // of everything before the footer; checked by sync and doctor, not per run
	metaCRC                                               uint32 // of the meta JSON; checked at every open
	fileSize                                              int64
}

func (f footer) encode() []byte {
	b := make([]byte, 0, footerSize)
	for _, v := range []int64{f.eventsOff, f.eventIdxOff, f.keyIdxOff, f.fencesOff, f.metaOff, f.eventN, f.keyN, f.fenceN, f.metaLen, f.fileSize} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = binary.LittleEndian.AppendUint32(b, f.bodyCRC)
	b = binary.LittleEndian.AppendUint32(b, f.metaCRC)
	return binary.LittleEndian.AppendUint32(append(b, magic[:4]...), crc32.ChecksumIEEE(b))
}

// decodeFooter reads a footer and checks that its sections are in order,
// inside a file of size bytes and of the sizes their counts say.
func decodeFooter(b []byte, size int64) (footer, error) {
	if len(b) != footerSize || string(b[88:92]) != magic[:4] || binary.LittleEndian.Uint32(b[92:]) != crc32.ChecksumIEEE(b[:88]) {
		return footer{}, ErrDamaged
	}
	var v [10]int64
	for i := range v {
		x := binary.LittleEndian.Uint64(b[i*8:])
		if x > 1<<50 {
			return footer{}, ErrDamaged
		}
		v[i] = int64(x)
	}
	f := footer{eventsOff: v[0], eventIdxOff: v[1], keyIdxOff: v[2], fencesOff: v[3], metaOff: v[4],
		eventN: v[5], keyN: v[6], fenceN: v[7], metaLen: v[8], fileSize: v[9],
		bodyCRC: binary.LittleEndian.Uint32(b[80:]), metaCRC: binary.LittleEndian.Uint32(b[84:])}
	ok := f.fileSize == size &&
		recordsOff <= f.eventsOff && f.eventsOff <= f.eventIdxOff &&
		f.eventIdxOff+f.eventN*eventIdxEntry == f.keyIdxOff &&
		f.keyIdxOff+f.keyN*keyIdxEntry == f.fencesOff &&
		f.fenceN == (f.keyN+fenceEvery-1)/fenceEvery &&
		f.fencesOff+f.fenceN*8 == f.metaOff &&
		f.metaLen <= maxMeta && f.metaOff+f.metaLen+footerSize == size
	if !ok {
		return footer{}, ErrDamaged
	}
	return f, nil
}

// Meta describes one generation. It is JSON at the end of the file and
// never holds the API key: Scope is a hash.
type Meta struct {
	Format     int    `json:"format"`
	Generation uint64 `json:"generation"`
	// Scope identifies the MISP answers the mirror copies: base URL, key
	// and filters, hashed as the cache's scope is (see Scope). A run uses
	// the mirror only if its own scope is the same.
	Scope   string `json:"scope"`
	URL     string `json:"url"`     // MISP's base URL, for doctor
	Filters string `json:"filters"` // the filters in words, for doctor
	// SyncedAt is when the sync that wrote this generation started to read
	// MISP (Unix seconds): nothing older than that is missing from it.
	SyncedAt int64 `json:"synced_at"`
	// FullAt is when the last full sync started; FullSyncInterval after
	// it, the next sync is full again.
	FullAt int64 `json:"full_at"`
	// RecheckFrom is a MISP time (Unix seconds): events whose timestamp
	// is at or after it are read again by the next sync (see
	// recheckOverlap in sync.go).
	RecheckFrom int64 `json:"recheck_from,omitempty"`
	// Warninglists fingerprints the warninglists MISP had enabled: a
	// change makes the next sync full (see sync.go).
	Warninglists string `json:"warninglists"`
	Events       int    `json:"events"`
	Attributes   int    `json:"attributes"`
	CIDRs        int    `json:"cidrs"`
	// V4Lengths and V6Lengths are the prefix lengths of the networks in
	// the mirror: an address is looked up once per length.
	V4Lengths []int `json:"v4_prefix_lengths,omitempty"`
	V6Lengths []int `json:"v6_prefix_lengths,omitempty"`
}

const formatVersion = 1

// Network prefixes shorter than these are not matched: a MISP attribute
// such as 0.0.0.0/0 or 2000::/3 (a typo, a test, a hostile feed) would flag
// every address. Sync counts and logs what it leaves out.
const (
	MinV4Prefix = 8
	MinV6Prefix = 16
)

// attrKeys returns the keys an attribute is found under: its value, both
// halves of a composite, lower-cased as MISP compares them; and for a
// network in an address type, the network key of its masked prefix.
func attrKeys(typ, value string) (keys []string, network netip.Prefix) {
	v := strings.ToLower(value)
	keys = append(keys, v)
	first, second, composite := strings.Cut(v, "|")
	if composite {
		keys = appendNew(keys, first)
		keys = appendNew(keys, second)
	}
	if addressType(typ) {
		if p, ok := parseNetwork(first); ok {
			network = p
			keys = appendNew(keys, networkKey(p))
		}
	}
	return keys, network
}

func appendNew(keys []string, k string) []string {
	for _, x := range keys {
		if x == k {
			return keys
		}
	}
	return append(keys, k)
}

// addressType: the types whose value (or first half) may hold a network.
func addressType(typ string) bool {
	switch typ {
	case "ip-src", "ip-dst", "ip-src|port", "ip-dst|port":
		return true
	}
	return false
}

// parseNetwork reads "a.b.c.d/n" or "v6/n" within the matched lengths.
func parseNetwork(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') < 0 {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Zone() != "" {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// networkKey is the index key of a network; no attribute value starts
// with "net:", so it never collides with a value key.
func networkKey(p netip.Prefix) string { return "net:" + p.String() }

// tooBroad says whether a network is shorter than the lengths matched.
func tooBroad(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() < MinV4Prefix
	}
	return p.Bits() < MinV6Prefix
}

// hashKey is 64-bit FNV-1a: the index holds hashes, each hit is checked
// against the record's own keys.
func hashKey(k string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(k); i++ {
		h ^= uint64(k[i])
		h *= 1099511628211
	}
	return h
}
