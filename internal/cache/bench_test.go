package cache

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/ioc"
)

// benchIP is the i-th of the indicators a bench store holds.
func benchIP(i int) ioc.Indicator {
	return ioc.Indicator{Kind: ioc.IP, Value: fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)}
}

// benchStore writes a store of n entries, every tenth a hit carrying the
// real attributes, the rest misses, as a long-running manager would have.
func benchStore(b *testing.B, n int) Options {
	b.Helper()
	k := newClock()
	o := Options{
		Path:  filepath.Join(b.TempDir(), "cache.db"),
		Scope: Scope("https://misp.example", "bench-key", "to_ids=1"),
		Now:   k.Now,
	}
	attrs := realAttributes(b, "203.0.113.5")
	c, warn := Open(o)
	if warn != nil {
		b.Fatal(warn)
	}
	for i := range n {
		if i%10 == 0 {
			c.Put(benchIP(i), attrs)
		} else {
			c.Put(benchIP(i), nil)
		}
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	k.Advance(time.Minute)
	return o
}

// BenchmarkStoreGet reads entries from the disk level: the keys cycle over
// more entries than the LRU holds, so every Get reads bbolt, as the first
// Get of a value in a run does.
func BenchmarkStoreGet(b *testing.B) {
	const n = 50000 // 5,000 hits, more than lruSize
	o := benchStore(b, n)
	c, warn := Open(o)
	if warn != nil {
		b.Fatal(warn)
	}
	defer c.Close()
	for _, tc := range []struct {
		name  string
		first int // indicator index: multiples of 10 are hits
	}{{"hit", 0}, {"miss", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok := c.Get(benchIP(tc.first + i%(n/10)*10)); !ok {
					b.Fatal("not found")
				}
				i++
			}
		})
	}
}

// BenchmarkStorePut measures one run's write: a batch of Puts and the one
// transaction that writes them, into a store of 10,000 entries. The nosync
// variant is the same with bbolt's NoSync, to show what fsync costs.
func BenchmarkStorePut(b *testing.B) {
	const n = 10000
	attrs := realAttributes(b, hitIP.Value)
	for _, batch := range []int{1, 10, 100} {
		for _, noSync := range []bool{false, true} {
			name := fmt.Sprintf("batch=%d", batch)
			if noSync {
				name += "/nosync"
			}
			b.Run(name, func(b *testing.B) {
				o := benchStore(b, n)
				c, warn := Open(o)
				if warn != nil {
					b.Fatal(warn)
				}
				defer c.Close()
				// The first write reopens the store for writing.
				c.Put(hitIP, nil)
				if err := c.Flush(); err != nil {
					b.Fatal(err)
				}
				c.db.NoSync = noSync
				b.ReportAllocs()
				next := n
				for b.Loop() {
					for j := range batch {
						if j%10 == 0 {
							c.Put(benchIP(next), attrs)
						} else {
							c.Put(benchIP(next), nil)
						}
						next++
					}
					if err := c.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkOpenGetClose is the per-run path: open the store, gate, look up
// five indicators, close. cached: all five are in the store (one hit, four
// misses), nothing is written. uncached: none is, and the run stores the
// five answers (one hit, four misses), so Close reopens the store for
// writing and syncs.
func BenchmarkOpenGetClose(b *testing.B) {
	attrs := realAttributes(b, hitIP.Value)
	for _, n := range []int{10000, 100000} {
		o := benchStore(b, n)
		b.Run(fmt.Sprintf("cached/entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c, warn := Open(o)
				if warn != nil {
					b.Fatal(warn)
				}
				if !c.Gate().Allow {
					b.Fatal("gate closed")
				}
				for j := range 5 {
					if _, ok := c.Get(benchIP((i*10 + j) % n)); !ok {
						b.Fatal("not found")
					}
				}
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		next := n // new values, across -count repeats too
		b.Run(fmt.Sprintf("uncached/entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, warn := Open(o)
				if warn != nil {
					b.Fatal(warn)
				}
				if !c.Gate().Allow {
					b.Fatal("gate closed")
				}
				for j := range 5 {
					ind := benchIP(next)
					next++
					if _, ok := c.Get(ind); ok {
						b.Fatal("found")
					}
					if j == 0 {
						c.Put(ind, attrs)
					} else {
						c.Put(ind, nil)
					}
				}
				c.Succeeded()
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
