// Package cache remembers MISP answers across runs and protects MISP from
// them. A process lives for one alert, so the in-process LRU only dedupes
// within a run; the bbolt file on disk is what saves MISP calls across
// alerts. The same file holds the protection state (rate-limit reset,
// auth pause, circuit breaker, error-report windows), so it survives across
// runs too.
//
// Choices, and why:
//   - TTLs: hits live 6 h (MISP data changes slowly, and a hit still raises
//     an event every time), misses 15 min (a value that becomes malicious is
//     seen within a quarter of an hour). Both are options.
//   - Size bound: 100,000 entries or 64 MiB of keys and values, whichever
//     comes first; past it, Flush deletes expired entries, then the oldest,
//     down to 90%, so the cost of a full walk is paid once per tenth of the
//     bound. Answers are capped at MaxAttributes attributes.
//   - Locking: Open takes bbolt's shared lock (read-only), so runs that only
//     read never wait for each other; Flush takes the exclusive lock only
//     for its one transaction. Both wait for other processes at most
//     LockWait (100 ms) in all, then carry on without the disk.
//   - Durability: writes are batched into one transaction per run and
//     synced (NoSync off, see load); runs that learned nothing write
//     nothing.
//   - Error reports: one event per class per report window (5 minutes);
//     each one held back is counted in the store, and the next event of
//     the class carries the count (misp.suppressed), so that rule 117650
//     sees how often lookups fail. Counting costs a held-back run one
//     write, as a failed MISP call already does.
//   - Auth failures: MISP refusing the key pauses lookups for 5 minutes
//     (authPause), as the circuit does for outages: a wrong, expired or
//     disabled key does not fix itself in seconds, and each pause costs one
//     request and at most one error event (the report window is as long).
//     A success ends the pause; a new key is a new scope, never paused.
//   - Clock steps: every stored instant is trusted only up to its own
//     window ahead of now (clamp, lifetime), and answers stored in the
//     future are misses, so a clock set back costs at most one window.
//   - Damage: bbolt follows the file's offsets with unsafe pointers, and
//     some damage kills the process beyond any recover; verify.go checks
//     every page before bbolt reads it, and a store found damaged is never
//     written again: it is moved aside (<path>.corrupt-<ns>, the newest
//     three kept) and recreated.
//   - The file is never opened or moved through a symbolic link (its
//     directory is writable by user wazuh); a file the run may not open is
//     reported as a permission problem and left where it is.
package cache

import (
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/custom-misp/custom-misp/internal/digest"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Defaults for the zero values of Options.
const (
	DefaultTTL          = 6 * time.Hour
	DefaultNegativeTTL  = 15 * time.Minute
	DefaultMaxEntries   = 100000
	DefaultMaxBytes     = 64 << 20
	DefaultLockWait     = 100 * time.Millisecond
	DefaultReportWindow = 5 * time.Minute
)

const (
	// MaxAttributes caps the attributes kept per indicator, so that one
	// indicator present in thousands of events cannot make an entry (and
	// every run that reads it) large. Put keeps the first ones, as MISP
	// returned them.
	MaxAttributes = 20

	// maxEntryBytes caps one stored value (MaxAttributes of real attributes
	// with event context take about 20 KiB). A larger answer is kept for
	// the run only; a larger value read back (a damaged file) is a miss.
	maxEntryBytes = 64 << 10

	// maxValueInKey is the longest indicator value used verbatim in a key;
	// longer ones (long URLs) are replaced by their SHA-256 so keys stay
	// small and well under bbolt's key limit.
	maxValueInKey = 512

	// lruSize bounds the in-process level. One run sees one alert, whose
	// indicators are capped far below this.
	lruSize = 1024
)

// Options configures a Cache. Zero values take the defaults above.
type Options struct {
	Path         string        // bbolt file; "" keeps the cache in memory only
	Scope        string        // from Scope: answers and protection state are kept per scope
	TTL          time.Duration // lifetime of a positive answer
	NegativeTTL  time.Duration // lifetime of a miss
	MaxEntries   int           // size bound of the disk level, in entries
	MaxBytes     int64         // size bound of the disk level, in bytes of keys and values
	LockWait     time.Duration // how long Open waits for another process holding the file
	ReportWindow time.Duration // ShouldReport says yes at most once per class per window
	Now          func() time.Time

	// For tests: how the store file is opened (os.OpenFile), and the clock
	// of lock waits (the monotonic clock; see lockClock).
	openFile  func(name string, flag int, perm os.FileMode) (*os.File, error)
	lockClock lockClock
}

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	// bbolt reads a zero lock timeout as "wait forever", which a run must
	// never do.
	if o.LockWait <= 0 {
		o.LockWait = DefaultLockWait
	}
	if o.ReportWindow <= 0 {
		o.ReportWindow = DefaultReportWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.openFile == nil {
		o.openFile = os.OpenFile
	}
	if o.lockClock == nil {
		o.lockClock = realClock{}
	}
	return o
}

// Scope derives the cache namespace from everything that changes MISP's
// answer: the base URL, the search filters (the caller passes them as one
// canonical string) and the API key. Only a SHA-256 of them is kept, so the
// key never reaches the store; the result is 32 hex digits.
func Scope(baseURL, apiKey, filters string) string {
	b := []byte("custom-misp cache v1\x00")
	// Length prefixes keep the fields unambiguous whatever they contain.
	for _, s := range []string{strings.TrimRight(baseURL, "/"), filters, apiKey} {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, 0)
		b = append(b, s...)
	}
	sum := digest.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Cache is the two-level cache of MISP answers plus the protection state.
// Its methods are safe for concurrent use. Writes are buffered and reach the
// disk in one transaction at Flush or Close.
type Cache struct {
	o      Options
	mem    *lru.Cache[string, entry]
	schema [4]byte // fingerprint of the attribute types, in every entry

	mu       sync.Mutex
	db       *bolt.DB            // nil when the disk level is off
	file     *os.File            // db's file, read by the checks
	chk      *checker            // what this hold of the lock has checked; nil: nothing yet
	pending  map[string][]byte   // encoded entries not yet written
	rw       bool                // db is open for writing (else read-only)
	lockLeft time.Duration       // what Open left of LockWait for Flush
	guard    guard               // protection state, as loaded at Open and changed since
	ops      []func(*guard) bool // the changes, to replay on the stored state at Flush
	broken   error               // the store failed mid-run: move it aside at Close
}

// entry is one answer as held in memory.
type entry struct {
	attrs   []misp.Attribute
	expires time.Time
}

// Get returns the cached answer for ind. ok reports whether there is one
// that has not expired; ok with no attributes is a cached miss. A hit is
// returned every time it is asked for: the cache saves the MISP call, never
// the event. Callers must not modify the returned slice.
func (c *Cache) Get(ind ioc.Indicator) (attrs []misp.Attribute, ok bool) {
	k := c.key(ind)
	now := c.o.Now()
	if e, ok := c.mem.Get(k); ok {
		if now.Before(e.expires) {
			return e.attrs, true
		}
		c.mem.Remove(k)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil || c.broken != nil {
		return nil, false
	}
	e, ok, err := c.readEntry(k, now)
	if err != nil {
		c.broken = err
		return nil, false
	}
	if !ok {
		return nil, false
	}
	c.mem.Add(k, e)
	return e.attrs, true
}

// Put records MISP's answer for ind: attrs as returned (at most
// MaxAttributes are kept; the Cache keeps the slice, so do not modify it),
// or none for a miss, which expires after NegativeTTL instead of TTL. The
// disk write waits for Flush or Close.
func (c *Cache) Put(ind ioc.Indicator, attrs []misp.Attribute) {
	if len(attrs) > MaxAttributes {
		attrs = attrs[:MaxAttributes]
	}
	now := c.o.Now()
	ttl := c.o.TTL
	if len(attrs) == 0 {
		attrs, ttl = nil, c.o.NegativeTTL
	}
	k := c.key(ind)
	e := entry{attrs: attrs, expires: now.Add(ttl)}
	c.mem.Add(k, e)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil {
		return
	}
	v, err := encodeEntry(now, e, c.schema)
	if err != nil || len(v) > maxEntryBytes {
		return // kept for this run only
	}
	c.pending[k] = v
}

// key is scope, kind and normalised value, NUL-separated.
func (c *Cache) key(ind ioc.Indicator) string {
	v := ind.Value
	if len(v) > maxValueInKey {
		sum := digest.Sum256([]byte(v))
		v = "sha256:" + hex.EncodeToString(sum[:])
	}
	return c.o.Scope + "\x00" + string(ind.Kind) + "\x00" + v
}
