package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/tidwall/gjson"

	"github.com/custom-misp/custom-misp/internal/rawfile"
)

// State is the outcome of the last sync, kept beside the mirror in
// <mirror>.state: a sync that found nothing new writes no generation, so
// this is where a run learns that the mirror was current at StartedAt; and
// a failed sync leaves the generation alone and says why here.
type State struct {
	StartedAt  int64  `json:"started_at"` // Unix seconds
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	Generation uint64 `json:"generation"` // the generation current after the sync
	// CurrentAt is when the last successful sync found generation
	// Generation current; a failed sync carries it over.
	CurrentAt int64  `json:"current_at"`
	Result    Result `json:"result"`
}

const maxStateFile = 64 << 10

func statePath(path string) string { return path + ".state" }

// writeState records a sync's outcome, atomically. Failing to write it is
// not worth failing the sync for: the generation's own SyncedAt remains.
func writeState(path string, start time.Time, res Result, err error) {
	st := State{StartedAt: start.Unix(), OK: err == nil, Generation: res.Generation, CurrentAt: start.Unix(), Result: res}
	if err != nil {
		st.Error = err.Error()
		st.CurrentAt = 0
		if prev, perr := ReadState(path); perr == nil && prev.Generation == res.Generation {
			st.CurrentAt = prev.CurrentAt
		}
	}
	b, mErr := json.Marshal(st)
	if mErr != nil {
		return
	}
	tmp := statePath(path) + ".tmp-" + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmp)
	f, oErr := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o640)
	if oErr != nil {
		return
	}
	_ = matchDirGroup(f, filepath.Dir(path))
	_, wErr := f.Write(b)
	if cErr := f.Close(); wErr == nil && cErr == nil {
		_ = os.Rename(tmp, statePath(path))
		return
	}
	_ = os.Remove(tmp)
}

// ReadState reads the last sync's outcome; a missing file is no sync yet.
func ReadState(path string) (State, error) {
	var st State
	b, err := rawfile.ReadNoFollow(statePath(path), maxStateFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return st, ErrNoMirror
		}
		return st, err
	}
	if len(b) > maxStateFile || json.Unmarshal(b, &st) != nil {
		return st, fmt.Errorf("%s: not a sync state file", statePath(path))
	}
	return st, nil
}

// readFreshness reads only what a run needs of the state file (the
// generation and when it was last current), with gjson for the reason
// parseMeta gives.
func readFreshness(path string) (State, error) {
	b, err := rawfile.ReadNoFollow(statePath(path), maxStateFile)
	if err != nil {
		return State{}, err
	}
	if len(b) > maxStateFile || !gjson.ValidBytes(b) {
		return State{}, fmt.Errorf("%s: not a sync state file", statePath(path))
	}
	r := gjson.ParseBytes(b)
	return State{Generation: r.Get("generation").Uint(), CurrentAt: r.Get("current_at").Int()}, nil
}

// FreshAt is when the mirror m was last known to hold everything MISP
// had: what the last sync recorded for this generation (a sync that found
// nothing new records a later time than the generation's own SyncedAt,
// a failed one carries the previous time over), else SyncedAt.
func FreshAt(m Meta, st State) time.Time {
	if st.Generation == m.Generation && st.CurrentAt > 0 {
		return time.Unix(st.CurrentAt, 0)
	}
	return time.Unix(m.SyncedAt, 0)
}
