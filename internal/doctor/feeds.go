package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispclient"
)

// Feed is one MISP feed as /feeds/index lists it.
type Feed struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Provider     string    `json:"provider"`
	URL          string    `json:"url"`
	SourceFormat string    `json:"source_format"`
	Enabled      bool      `json:"enabled"`
	Caching      bool      `json:"caching_enabled"`
	CachedAt     time.Time `json:"cached_at,omitzero"` // zero: never cached
}

// Feeds lists MISP's feeds (GET /feeds/index). MISP keeps no "last
// fetched" time for a feed; CachedAt is its cache_timestamp, set when the
// feed's cache was last built.
func Feeds(ctx context.Context, c *mispclient.Client) ([]Feed, error) {
	var raw []struct {
		Feed struct {
			ID             misp.FlexString `json:"id"`
			Name           misp.FlexString `json:"name"`
			Provider       misp.FlexString `json:"provider"`
			URL            misp.FlexString `json:"url"`
			SourceFormat   misp.FlexString `json:"source_format"`
			Enabled        misp.FlexBool   `json:"enabled"`
			CachingEnabled misp.FlexBool   `json:"caching_enabled"`
			CacheTimestamp misp.FlexString `json:"cache_timestamp"` // false, or epoch seconds
		} `json:"Feed"`
	}
	if _, err := c.Get(ctx, "/feeds/index", &raw); err != nil {
		return nil, err
	}
	feeds := make([]Feed, 0, len(raw))
	for _, r := range raw {
		f := r.Feed
		feed := Feed{ID: string(f.ID), Name: string(f.Name), Provider: string(f.Provider), URL: string(f.URL),
			SourceFormat: string(f.SourceFormat), Enabled: bool(f.Enabled), Caching: bool(f.CachingEnabled)}
		if n, err := strconv.ParseInt(string(f.CacheTimestamp), 10, 64); err == nil && n > 0 {
			feed.CachedAt = time.Unix(n, 0).UTC()
		}
		feeds = append(feeds, feed)
	}
	return feeds, nil
}

// FetchResult is what MISP said to a fetch request.
type FetchResult struct {
	OK      bool   // MISP accepted it (queued or done)
	Message string // MISP's answer or the error, one key-free line
	Hint    string // what to do when not OK
}

// MISP's answers to a fetch (FeedsController.php; captured in
// internal/mispfake/testdata/captures/tb_bg*_fetchFrom*).
const (
	msgFetchQueued   = "Pull queued for background execution."
	msgFetchFailed   = "Fetching the feed has failed."
	msgNoFeedEnabled = "No feed enabled."
)

// Hints for a fetch that did not work.
const (
	hintQueueFailed = `MISP could not queue the fetch as a background job, which needs its Redis: as a MISP site admin run custom-misp doctor --key-file ADMIN_KEY_FILE, which tests MISP's Redis and workers (in containers SimpleBackgroundJobs.redis_host must name the Redis service, not 127.0.0.1)`
	hintDownload    = `MISP.background_jobs is false, so MISP downloaded inside the request, and the download failed: check the feed's URL and that MISP can reach it (its MISP.proxy settings), and MISP's error.log ("Could not get new event uuids for feed ..."); nothing was queued`
	hintInline500   = `MISP.background_jobs is false, so MISP downloaded inside the request: MISP 2.5.1 answers fetchFromAllFeeds with this error once a MISP-format feed brings new events, after saving them (error.log: "Cannot access offset of type string on string"). Fetch feed by feed (custom-misp feeds fetch --feed ID for each id feeds list shows), or turn MISP's background jobs on`
	hintNoWorker    = `start MISP's background workers (supervisorctl start misp-workers:*, or Administration > Server Settings > Workers); custom-misp doctor --key-file ADMIN_KEY_FILE shows them`
)

// feedID is what a MISP feed id looks like.
var feedID = regexp.MustCompile(`^[0-9]{1,10}$`)

// ValidFeedID reports whether id can be a MISP feed id.
func ValidFeedID(id string) bool { return feedID.MatchString(id) }

// FetchFeeds asks MISP to fetch every enabled feed (id "") or one feed
// (POST /feeds/fetchFromAllFeeds or /feeds/fetchFromFeed/<id>). Both are
// site-admin actions. What MISP's answer means depends on
// MISP.background_jobs, which is read first: with it, MISP queues the
// fetch, and a queued fetch counts only when a worker will run it; without
// it, MISP downloads inside the request. An answer of 200 that fetched
// nothing ("No feed enabled.") counts as not OK, because a scheduled fetch
// that fetches nothing leaves the indicators as stale as a failed one.
func FetchFeeds(ctx context.Context, c *mispclient.Client, id string) FetchResult {
	path := "/feeds/fetchFromAllFeeds"
	if id != "" {
		if !ValidFeedID(id) {
			return FetchResult{Message: "feed id " + strconv.Quote(short(id, 20)) + " is not a number", Hint: "custom-misp feeds list shows the ids"}
		}
		path = "/feeds/fetchFromFeed/" + id
	}
	// Unknown (nil) when the key may not read it: the fetch then fails
	// with the same 403.
	background, bgErr := backgroundJobs(ctx, c)
	var out struct {
		Result  misp.FlexString `json:"result"`
		Message misp.FlexString `json:"message"`
	}
	if _, err := c.Post(ctx, path, nil, &out); err != nil {
		var me *misp.Error
		if !errors.As(err, &me) {
			return FetchResult{Message: err.Error(), Hint: "run custom-misp doctor"}
		}
		r := FetchResult{Message: me.Error()}
		switch {
		case me.Status == http.StatusInternalServerError && bgErr == nil && !background && id == "":
			r.Hint = hintInline500
		case me.Status == http.StatusInternalServerError && bgErr == nil && !background:
			r.Hint = "MISP.background_jobs is false, so MISP downloaded inside the request and failed: MISP's error.log says why"
		case me.Status == http.StatusInternalServerError:
			r.Hint = hintQueueFailed
		case me.Status == http.StatusForbidden && strings.Contains(me.Message, "permission"):
			r.Hint = "fetching feeds is a site admin's action: run it with --key-file FILE, a file holding a site admin's key (root only, mode 0600), not the read-only key integratord uses"
		case me.Class == misp.ClassAuth:
			r.Hint = "MISP refused the key: custom-misp doctor says why"
		case me.Status == http.StatusNotFound:
			r.Hint = "there is no such feed: custom-misp feeds list shows the ids"
		default:
			r.Hint = "custom-misp doctor checks the connection to MISP step by step"
		}
		return r
	}
	msg := strings.TrimSpace(string(out.Result))
	if msg == "" {
		msg = strings.TrimSpace(string(out.Message))
	}
	if msg == "" {
		msg = "MISP accepted the request without a message"
	}
	msg = oneLine(short(msg, 300))
	lower := strings.ToLower(msg)
	switch {
	case msg == msgFetchQueued:
		return queued(ctx, c, msg)
	case msg == msgFetchFailed:
		return FetchResult{Message: msg, Hint: hintDownload}
	case msg == msgNoFeedEnabled:
		return noFeedEnabled(ctx, c, msg)
	case strings.Contains(lower, "not enabled"):
		return FetchResult{Message: msg, Hint: "nothing was fetched: enable the feeds you want in MISP (Sync Actions > Feeds, tick Enabled)"}
	case strings.Contains(lower, "fail") || strings.Contains(lower, "error"):
		return FetchResult{Message: msg, Hint: "MISP's error.log says why"}
	}
	return FetchResult{OK: true, Message: msg}
}

// queued judges "Pull queued for background execution.", which MISP
// answers whether or not a worker will ever run the job.
func queued(ctx context.Context, c *mispclient.Client, msg string) FetchResult {
	w, err := BackgroundWorkers(ctx, c)
	switch {
	case err != nil:
		return FetchResult{OK: true, Message: msg + " (the workers could not be checked: " + err.Error() + ")"}
	case !w.DefaultLive:
		return FetchResult{Message: fmt.Sprintf("%s But no live worker serves MISP's default queue (%d job(s) waiting): the fetch will not run", msg, w.Waiting),
			Hint: hintNoWorker}
	}
	return FetchResult{OK: true, Message: msg + " A live worker serves MISP's default queue."}
}

// noFeedEnabled judges "No feed enabled.", which MISP also answers, with
// background jobs off, when every enabled feed failed to download.
func noFeedEnabled(ctx context.Context, c *mispclient.Client, msg string) FetchResult {
	feeds, err := Feeds(ctx, c)
	var enabled []string
	for _, f := range feeds {
		if f.Enabled {
			enabled = append(enabled, f.Name)
		}
	}
	if err != nil || len(enabled) == 0 {
		return FetchResult{Message: msg, Hint: "nothing was fetched: enable the feeds you want in MISP (Sync Actions > Feeds, tick Enabled)"}
	}
	return FetchResult{Message: fmt.Sprintf("%s But %d feed(s) are enabled (%s): every one failed to download", msg, len(enabled), short(strings.Join(enabled, ", "), 120)),
		Hint: hintDownload}
}

// backgroundJobs reads MISP.background_jobs, on which MISP's feed
// endpoints branch.
func backgroundJobs(ctx context.Context, c *mispclient.Client) (bool, error) {
	v, err := setting(ctx, c, "MISP.background_jobs")
	return v == "true" || v == "1", err
}

// setting reads one MISP setting as text (a site admin's action).
func setting(ctx context.Context, c *mispclient.Client, name string) (string, error) {
	var s struct {
		Value json.RawMessage `json:"value"`
	}
	if _, err := c.Get(ctx, "/servers/getSetting/"+name, &s); err != nil {
		return "", err
	}
	var v misp.FlexString
	if len(s.Value) > 0 {
		if err := json.Unmarshal(s.Value, &v); err != nil {
			return "", fmt.Errorf("setting %s: value is not a string, number or bool", name)
		}
	}
	return strings.TrimSpace(string(v)), nil
}

// Workers is what /servers/getWorkers (a site admin's action) says of
// MISP's background jobs (Server::workerDiagnostics).
type Workers struct {
	// Enabled is false when MISP answers "Background jobs not enabled"
	// (MISP.background_jobs false); the rest is then zero.
	Enabled bool
	// Redis is whether MISP reached the background-jobs Redis: without
	// it, listing the workers throws and MISP returns the queues
	// unsized (captured: tb_bgon_redisdown_getWorkers).
	Redis bool
	// DefaultLive is whether a live worker serves the default queue,
	// where feed fetches go; Waiting is that queue's length.
	DefaultLive bool
	Waiting     int
	// Supervisor is whether MISP reached supervisord.
	Supervisor bool
}

// BackgroundWorkers asks MISP about its background workers.
func BackgroundWorkers(ctx context.Context, c *mispclient.Client) (Workers, error) {
	var raw json.RawMessage
	if _, err := c.Get(ctx, "/servers/getWorkers", &raw); err != nil {
		return Workers{}, err
	}
	var notEnabled []string
	if json.Unmarshal(raw, &notEnabled) == nil {
		return Workers{}, nil
	}
	var out struct {
		Default struct {
			OK       misp.FlexBool   `json:"ok"`
			JobCount json.RawMessage `json:"jobCount"`
		} `json:"default"`
		Supervisor misp.FlexBool `json:"supervisord_status"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return Workers{}, fmt.Errorf("/servers/getWorkers: unexpected answer: %w", err)
	}
	w := Workers{Enabled: true, DefaultLive: bool(out.Default.OK), Supervisor: bool(out.Supervisor)}
	if len(out.Default.JobCount) > 0 {
		w.Redis = true
		var n misp.FlexString
		if json.Unmarshal(out.Default.JobCount, &n) == nil {
			w.Waiting, _ = strconv.Atoi(string(n))
		}
	}
	return w, nil
}
