package doctor

import (
	"context"
	"errors"
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

// HintBackgroundJobs is what to check when MISP answers a fetch with its
// internal error: the fetch is a background job, and MISP cannot queue it.
const HintBackgroundJobs = `MISP could not queue the fetch as a background job: as a MISP site admin check SimpleBackgroundJobs.enabled, SimpleBackgroundJobs.redis_host and MISP.redis_host (custom-misp doctor --key-file ADMIN_KEY_FILE shows them; in containers they must name the Redis service, not 127.0.0.1), then that the workers run (Administration > Jobs, supervisorctl status)`

// feedID is what a MISP feed id looks like.
var feedID = regexp.MustCompile(`^[0-9]{1,10}$`)

// ValidFeedID reports whether id can be a MISP feed id.
func ValidFeedID(id string) bool { return feedID.MatchString(id) }

// FetchFeeds asks MISP to fetch every enabled feed (id "") or one feed
// (POST /feeds/fetchFromAllFeeds or /feeds/fetchFromFeed/<id>). Both are
// site-admin actions. MISP answers 200 also when nothing was fetched ("No
// feed enabled."); that counts as not OK, because a scheduled fetch that
// fetches nothing leaves the indicators as stale as a failed one.
func FetchFeeds(ctx context.Context, c *mispclient.Client, id string) FetchResult {
	path := "/feeds/fetchFromAllFeeds"
	if id != "" {
		if !ValidFeedID(id) {
			return FetchResult{Message: "feed id " + strconv.Quote(short(id, 20)) + " is not a number", Hint: "custom-misp feeds list shows the ids"}
		}
		path = "/feeds/fetchFromFeed/" + id
	}
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
		case me.Status == http.StatusInternalServerError:
			r.Hint = HintBackgroundJobs
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
	case strings.Contains(lower, "not enabled") || strings.Contains(lower, "no feed enabled"):
		return FetchResult{Message: msg, Hint: "nothing was fetched: enable the feeds you want in MISP (Sync Actions > Feeds, tick Enabled)"}
	case strings.Contains(lower, "fail") || strings.Contains(lower, "error"):
		return FetchResult{Message: msg, Hint: HintBackgroundJobs}
	}
	return FetchResult{OK: true, Message: msg}
}
