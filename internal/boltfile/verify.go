package boltfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
)

// The checks in this file read the store's pages with plain, bounds-checked
// reads of the file before bbolt reads them through its mmap. bbolt trusts
// every offset and length in the file and follows them with unsafe
// pointers; SetPanicOnFault and recover catch most of what a damaged file
// makes it do, but not these, which end the process:
//   - A bucket small enough to live inside its parent's page (an inline
//     bucket: the cache's meta and guard, the sighting store's state,
//     always are) is copied to the Go heap when it
//     is not 8-byte aligned, and its elements are then read relative to
//     the copy. A damaged offset makes bbolt hold pointers into other heap
//     objects, and the garbage collector aborts ("found pointer to free
//     object"): in the write that keeps them, on every run.
//   - A branch that points back to itself or to an ancestor sends bbolt's
//     cursor into endless recursion: a fatal stack overflow.
//   - A write copies every element of the pages it changes (a damaged
//     length becomes a huge allocation, or garbage written back) and
//     reuses the pages the free list names (a damaged free list
//     overwrites live pages).
//
// So bbolt never reads a page that the same hold of the lock has not
// checked here, and never writes after a check failed. The users of this
// package (internal/cache, internal/sighting) do it the same way: Open checks the meta
// pages and the root bucket with its inline buckets (and, for writing, the
// free list, which bbolt loads at open); each key read or written, the pages
// on its way (the entries bucket is about three levels deep at 100,000
// entries; a page is checked once per hold); a write, that the free list
// names none of the pages it reads; an eviction, the whole entries bucket,
// which it walks anyway.

// ErrDamaged marks what a check found: the store is not a sound bbolt file.
var ErrDamaged = errors.New("damaged store")

// bbolt's file format (go.etcd.io/bbolt/internal/common), native byte order.
const (
	pageHeaderSize   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize      = 16 // branch: pos, ksize uint32, child uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeaderSize = 16 // root page uint64 (0: inline), sequence uint64
	metaSize         = 64 // magic, version, page size, flags uint32; root bucket header; free list, pages, txid, checksum uint64
	metaSummed       = 56 // the checksum covers the meta up to itself

	branchPage   = 0x01
	leafPage     = 0x02
	freelistPage = 0x10
	bucketLeaf   = 0x01 // leaf element flag: the value is a bucket header

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0)

	// A store of ours has the OS page size; bbolt supports 1 KiB to 64 KiB.
	minPageSize = 1 << 10
	maxPageSize = 64 << 10
)

var native = binary.NativeEndian

// Checker holds what one hold of the store's lock has checked.
type Checker struct {
	r        io.ReaderAt
	pageSize uint64
	pages    uint64 // the high water mark: every page in use has a lower id
	freelist uint64
	free     []uint64              // sorted; loaded for writing only
	buckets  map[string]uint64     // top-level bucket → root page, 0 if inline (checked with the root)
	branches map[uint64][]branchTo // checked branch pages
	leaves   map[uint64]bool       // checked leaf pages
	touched  map[uint64]bool       // every page read, overflow pages included
	buf      []byte                // the last page read
}

// branchTo is one element of a branch page: keys from key on are below child.
type branchTo struct {
	key   []byte
	child uint64
}

// element is one element of a branch or leaf page.
type element struct {
	flags      uint32 // of a leaf element
	key, value []byte // value: of a leaf element
	child      uint64 // the page a branch element points to; 0 in a leaf
}

// NewChecker checks the meta pages and the root bucket (with its inline
// buckets) of the store f, and, forWrite, the free list.
func NewChecker(f *os.File, forWrite bool) (*Checker, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	c := &Checker{
		r:        f,
		buckets:  make(map[string]uint64),
		branches: make(map[uint64][]branchTo),
		leaves:   make(map[uint64]bool),
		touched:  make(map[uint64]bool),
	}
	m, err := readMeta(f)
	if err != nil {
		return nil, err
	}
	c.pageSize, c.pages, c.freelist = uint64(m.pageSize), m.pages, m.freelist
	switch {
	case c.pages < 4 || c.pages > uint64(fi.Size())/c.pageSize:
		return nil, damaged("meta says %d pages, the file holds %d", c.pages, fi.Size()/int64(c.pageSize))
	case !c.inUse(m.root):
		return nil, damaged("root bucket at page %d, outside pages 2 to %d", m.root, c.pages-1)
	case m.freelist == noFreelist:
		return nil, damaged("no free list saved") // this package never turns NoFreelistSync on
	case !c.inUse(m.freelist):
		return nil, damaged("free list at page %d, outside pages 2 to %d", m.freelist, c.pages-1)
	}
	if err := c.walk(m.root, nil, c.rootElement); err != nil {
		return nil, err
	}
	if forWrite {
		if err := c.loadFree(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func damaged(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, args...))
}

type meta struct {
	pageSize                    uint32
	root, freelist, pages, txid uint64
}

// readMeta returns the meta bbolt uses: of the two meta pages, the valid one
// with the higher transaction id.
func readMeta(r io.ReaderAt) (meta, error) {
	first, ok0 := readMetaAt(r, 0)
	// A valid first meta gives the page size; else bbolt looks for the
	// second at the OS page size, where this package created it.
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(first.pageSize)
	}
	second, ok1 := readMetaAt(r, pageSize)
	switch {
	case ok0 && ok1 && first.pageSize != second.pageSize:
		return meta{}, damaged("meta pages disagree on the page size")
	case ok0 && (!ok1 || first.txid >= second.txid):
		return first, nil
	case ok1:
		return second, nil
	}
	return meta{}, damaged("no valid meta page")
}

func readMetaAt(r io.ReaderAt, off int64) (meta, bool) {
	var b [metaSize]byte
	if _, err := r.ReadAt(b[:], off+pageHeaderSize); err != nil {
		return meta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:metaSummed])
	if native.Uint32(b[0:]) != boltMagic || native.Uint32(b[4:]) != boltVersion || h.Sum64() != native.Uint64(b[56:]) {
		return meta{}, false
	}
	m := meta{
		pageSize: native.Uint32(b[8:]),
		root:     native.Uint64(b[16:]),
		freelist: native.Uint64(b[32:]),
		pages:    native.Uint64(b[40:]),
		txid:     native.Uint64(b[48:]),
	}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return meta{}, false
	}
	return m, true
}

// inUse reports whether id can be a page of the tree: not a meta page, and
// below the high water mark.
func (c *Checker) inUse(id uint64) bool { return id >= 2 && id < c.pages }

// read returns page id with its overflow pages, its header checked, in a
// buffer the next read reuses.
func (c *Checker) read(id uint64) ([]byte, error) {
	if !c.inUse(id) {
		return nil, damaged("page %d outside pages 2 to %d", id, c.pages-1)
	}
	p := slices.Grow(c.buf[:0], int(c.pageSize))[:c.pageSize]
	if _, err := c.r.ReadAt(p, int64(id*c.pageSize)); err != nil {
		return nil, damaged("read page %d: %v", id, err)
	}
	if got := native.Uint64(p); got != id {
		return nil, damaged("page %d says it is page %d", id, got)
	}
	if overflow := uint64(native.Uint32(p[12:])); overflow > 0 {
		if overflow >= c.pages-id {
			return nil, damaged("page %d runs %d pages past the high water mark", id, overflow+1-(c.pages-id))
		}
		p = slices.Grow(p, int(overflow*c.pageSize))[:(overflow+1)*c.pageSize]
		if _, err := c.r.ReadAt(p[c.pageSize:], int64((id+1)*c.pageSize)); err != nil {
			return nil, damaged("read page %d: %v", id, err)
		}
	}
	c.buf = p
	for i := range uint64(len(p)) / c.pageSize {
		c.touched[id+i] = true
	}
	return p, nil
}

// elements checks the element array of p, a branch or leaf page (or an
// inline bucket's page), and calls each on every element in order: each
// key and value inside p, keys strictly ascending, children in use.
func (c *Checker) elements(p []byte, each func(element) error) error {
	if len(p) < pageHeaderSize {
		return damaged("page of %d bytes", len(p))
	}
	flags, count := native.Uint16(p[8:]), int(native.Uint16(p[10:]))
	switch {
	case flags != branchPage && flags != leafPage:
		return damaged("page %d has type %#x, not branch or leaf", native.Uint64(p), flags)
	case flags == branchPage && count == 0:
		return damaged("branch page %d is empty", native.Uint64(p))
	case pageHeaderSize+count*elementSize > len(p):
		return damaged("page %d: %d elements do not fit in %d bytes", native.Uint64(p), count, len(p))
	}
	var prev []byte
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := p[at : at+elementSize]
		var el element
		var pos, ksize, vsize uint64
		if flags == branchPage {
			pos, ksize = uint64(native.Uint32(e[0:])), uint64(native.Uint32(e[4:]))
			el.child = native.Uint64(e[8:])
			if !c.inUse(el.child) {
				return damaged("page %d points to page %d, outside pages 2 to %d", native.Uint64(p), el.child, c.pages-1)
			}
		} else {
			el.flags = native.Uint32(e[0:])
			pos, ksize, vsize = uint64(native.Uint32(e[4:])), uint64(native.Uint32(e[8:])), uint64(native.Uint32(e[12:]))
		}
		start := uint64(at) + pos
		if end := start + ksize + vsize; end > uint64(len(p)) {
			return damaged("page %d: element %d ends at byte %d of %d", native.Uint64(p), i, end, len(p))
		}
		el.key = p[start : start+ksize]
		el.value = p[start+ksize : start+ksize+vsize]
		if i > 0 && bytes.Compare(prev, el.key) >= 0 {
			return damaged("page %d: keys out of order at element %d", native.Uint64(p), i)
		}
		prev = el.key
		if err := each(el); err != nil {
			return err
		}
	}
	return nil
}

// walk checks every page of the tree under id, calling leaf on each leaf
// element. A page reached twice (a cycle, or two parents) is damage.
func (c *Checker) walk(id uint64, seen map[uint64]bool, leaf func(element) error) error {
	if seen == nil {
		seen = make(map[uint64]bool)
	}
	if seen[id] {
		return damaged("page %d is reached twice", id)
	}
	seen[id] = true
	p, err := c.read(id)
	if err != nil {
		return err
	}
	// The children are read after this page's elements: they reuse its buffer.
	var children []uint64
	err = c.elements(p, func(e element) error {
		if e.child != 0 {
			children = append(children, e.child)
			return nil
		}
		return leaf(e)
	})
	for _, child := range children {
		if err != nil {
			break
		}
		err = c.walk(child, seen, leaf)
	}
	return err
}

// rootElement checks one bucket header of the root bucket; an inline
// bucket is checked whole.
func (c *Checker) rootElement(e element) error {
	if e.flags != bucketLeaf || len(e.value) < bucketHeaderSize {
		return damaged("root bucket holds %q, not a bucket", e.key)
	}
	root := native.Uint64(e.value)
	if root == 0 {
		if err := c.elements(e.value[bucketHeaderSize:], dataElement); err != nil {
			return fmt.Errorf("inline bucket %q: %w", e.key, err)
		}
	} else if !c.inUse(root) {
		return damaged("bucket %q at page %d, outside pages 2 to %d", e.key, root, c.pages-1)
	}
	c.buckets[string(e.key)] = root
	return nil
}

// dataElement checks a leaf element of one of this package's buckets,
// which hold no buckets.
func dataElement(e element) error {
	if e.child != 0 || e.flags != 0 {
		return damaged("element %q is not a key and value", e.key)
	}
	return nil
}

// Path checks the pages bbolt reads to find key in bucket: every page from
// the bucket's root to the leaf, each whole (a write rewrites it).
func (c *Checker) Path(bucket string, key []byte) error {
	id := c.buckets[bucket]
	if id == 0 {
		return nil // absent (a write creates it) or inline (checked with the root)
	}
	var onPath []uint64
	for {
		if slices.Contains(onPath, id) {
			return damaged("bucket %q: page %d points back to itself", bucket, id)
		}
		onPath = append(onPath, id)
		if c.leaves[id] {
			return nil
		}
		children, ok := c.branches[id]
		if !ok {
			p, err := c.read(id)
			if err != nil {
				return err
			}
			if native.Uint16(p[8:]) == branchPage {
				p = bytes.Clone(p) // the keys stay in c.branches
				children = make([]branchTo, 0, native.Uint16(p[10:]))
			}
			err = c.elements(p, func(e element) error {
				if e.child != 0 {
					children = append(children, branchTo{e.key, e.child})
					return nil
				}
				return dataElement(e)
			})
			if err != nil {
				return err
			}
			if len(children) == 0 {
				c.leaves[id] = true
				return nil
			}
			c.branches[id] = children
		}
		id = childFor(children, key)
	}
}

// childFor picks the child bbolt's cursor descends to: the last whose first
// key is at most key, or the first.
func childFor(children []branchTo, key []byte) uint64 {
	i, exact := slices.BinarySearchFunc(children, key, func(b branchTo, k []byte) int { return bytes.Compare(b.key, k) })
	if !exact && i > 0 {
		i--
	}
	return children[i].child
}

// Tree checks every page of bucket, as an eviction reads them all.
func (c *Checker) Tree(bucket string) error {
	id := c.buckets[bucket]
	if id == 0 {
		return nil
	}
	return c.walk(id, nil, dataElement)
}

// loadFree reads and checks the free list: pages in use, each once, in a
// page of its own type.
func (c *Checker) loadFree() error {
	p, err := c.read(c.freelist)
	if err != nil {
		return err
	}
	if flags := native.Uint16(p[8:]); flags != freelistPage {
		return damaged("free list page %d has type %#x", c.freelist, flags)
	}
	// A count of 0xFFFF means the count is the first id's slot.
	first, count := uint64(pageHeaderSize), uint64(native.Uint16(p[10:]))
	if count == 0xFFFF {
		count, first = native.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (uint64(len(p))-first)/8 {
		return damaged("free list of %d pages does not fit in page %d", count, c.freelist)
	}
	c.free = make([]uint64, count)
	for i := range c.free {
		c.free[i] = native.Uint64(p[first+uint64(i)*8:])
	}
	slices.Sort(c.free)
	for i, id := range c.free {
		if !c.inUse(id) {
			return damaged("free list names page %d, outside pages 2 to %d", id, c.pages-1)
		}
		if i > 0 && c.free[i-1] == id {
			return damaged("free list names page %d twice", id)
		}
	}
	return nil
}

// Reusable checks that the free list names no page a write reads: every
// page checked so far, which includes the root bucket's and the free
// list's own.
func (c *Checker) Reusable() error {
	for _, id := range c.free {
		if c.touched[id] {
			return damaged("free list names page %d, which is in use", id)
		}
	}
	return nil
}
