package mirror

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/digest"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Scope identifies what a mirror copies: the MISP base URL, the API key
// (whose rights decide what MISP shows) and the filters. Only a hash is
// kept, so the key never reaches the file. The live limit is left out of
// the filters: it shapes live answers, not what there is to copy.
func Scope(baseURL, apiKey string, q misp.Query) string {
	q.Values, q.Types, q.Limit = nil, nil, 0
	b := []byte("custom-misp mirror v1\x00")
	for _, s := range []string{strings.TrimRight(baseURL, "/"), q.FilterKey(), apiKey} {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, 0)
		b = append(b, s...)
	}
	sum := digest.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Filters is a query's filters in words, for doctor and the sync's report.
func Filters(q misp.Query) string {
	q.Values, q.Types, q.Limit = nil, nil, 0
	return strings.Replace(q.FilterKey(), " limit=0", "", 1)
}

// Status is what a run finds at the mirror's path.
type Status string

const (
	Fresh      Status = "fresh"       // usable, last known current within the maximum age
	Stale      Status = "stale"       // usable, but older than the maximum age
	Missing    Status = "missing"     // no sync has written one
	OtherScope Status = "other_scope" // built for another MISP, key or filters
	Unusable   Status = "unusable"    // could not be opened or read (Err says why)
)

// View is the mirror as one run sees it.
type View struct {
	Mirror *Mirror // nil unless Fresh or Stale
	Status Status
	Age    time.Duration // since FreshAt, for Fresh and Stale
	Err    error         // for Unusable
}

// ForRun opens the mirror at path for a run whose scope is scope. The
// caller closes View.Mirror when it is not nil.
func ForRun(path, scope string, now time.Time, maxAge time.Duration) View {
	m, err := Open(path)
	switch {
	case errors.Is(err, ErrNoMirror):
		return View{Status: Missing}
	case err != nil:
		return View{Status: Unusable, Err: err}
	}
	if m.meta.Scope != scope {
		m.Close()
		return View{Status: OtherScope}
	}
	// A missing or unreadable state file only loses what a sync that
	// changed nothing would have added: the generation's own SyncedAt.
	st, _ := readFreshness(path)
	age := max(now.Sub(FreshAt(m.meta, st)), 0)
	v := View{Mirror: m, Status: Fresh, Age: age}
	if age > maxAge {
		v.Status = Stale
	}
	return v
}
