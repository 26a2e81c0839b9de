package mispfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func get(t *testing.T, h http.Handler, path string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = "192.0.2.200:5555"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.String()
}

func errorMessage(t *testing.T, body string) string {
	t.Helper()
	var e struct{ Name, Message, URL string }
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body: %v: %s", err, body)
	}
	if e.Name != e.Message {
		t.Errorf("name %q != message %q", e.Name, e.Message)
	}
	return e.Message
}

func TestNew_RejectsKeysMISPWouldNot(t *testing.T) {
	for _, k := range []string{"short", strings.Repeat("a", 41), strings.Repeat("a", 39) + "-"} {
		if _, err := New(Options{Keys: map[string]Key{k: {}}}); err == nil {
			t.Errorf("New accepted key %q", k)
		} else if strings.Contains(err.Error(), k) {
			t.Errorf("error %q repeats the key", err)
		}
	}
	if _, err := New(Options{Keys: map[string]Key{adminKey: {AllowedIPs: []string{"10.0.0.0/33"}}}}); err == nil {
		t.Error("New accepted a bad CIDR")
	}
}

func TestAuth(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	keys := map[string]Key{
		adminKey:                 {SiteAdmin: true},
		strings.Repeat("E", 40):  {Expires: now.Add(-time.Minute)},
		strings.Repeat("F", 40):  {Expires: now.Add(10 * 24 * time.Hour)},
		strings.Repeat("G", 40):  {Disabled: true},
		strings.Repeat("H", 40):  {AllowedIPs: []string{"10.0.0.0/8"}},
		strings.Repeat("I", 40):  {AllowedIPs: []string{"192.0.2.0/24"}},
		strings.Repeat("J1", 20): {},
		strings.Repeat("K", 40):  {NoAPI: true},
	}
	s := mustNew(t, Options{Keys: keys, Now: func() time.Time { return now }})
	tests := []struct {
		name       string
		header     map[string]string
		status     int
		message    string
		expiration string
	}{
		{"valid", map[string]string{"Authorization": adminKey}, 200, "", ""},
		{"no header", nil, 403, msgAuthFailed, ""},
		{"unknown key", map[string]string{"Authorization": unknownKey}, 403, msgAuthFailed, ""},
		{"bearer prefix", map[string]string{"Authorization": "Bearer " + adminKey}, 403, msgAuthFailed, ""},
		{"basic auth ignored", map[string]string{"Authorization": "Basic " + adminKey}, 403, msgAuthFailed, ""},
		{"X-MISP-AUTH", map[string]string{"X-MISP-AUTH": adminKey}, 200, "", ""},
		{"X-MISP-AUTH wins", map[string]string{"X-MISP-AUTH": unknownKey, "Authorization": adminKey}, 403, msgAuthFailed, ""},
		{"comma list", map[string]string{"Authorization": unknownKey + ", " + adminKey}, 200, "", ""},
		{"expired", map[string]string{"Authorization": strings.Repeat("E", 40)}, 403, msgAuthFailed, ""},
		{"expiring", map[string]string{"Authorization": strings.Repeat("F", 40)}, 200, "", "2026-12-07T12:00:00+00:00"},
		{"role without API access", map[string]string{"Authorization": strings.Repeat("K", 40)}, 403, msgAuthFailed, ""},
		{"disabled", map[string]string{"Authorization": strings.Repeat("G", 40)}, 403, msgDisabled, ""},
		{"wrong source ip", map[string]string{"Authorization": strings.Repeat("H", 40)}, 403, msgIPNotAllowed, ""},
		{"right source ip", map[string]string{"Authorization": strings.Repeat("I", 40)}, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := get(t, s, "/servers/getVersion", tc.header)
			if status != tc.status {
				t.Fatalf("status = %d, want %d: %s", status, tc.status, body)
			}
			if tc.message != "" {
				if got := errorMessage(t, body); got != tc.message {
					t.Errorf("message = %q, want %q", got, tc.message)
				}
			}
			if got := h.Get("X-Auth-Key-Expiration"); got != tc.expiration {
				t.Errorf("X-Auth-Key-Expiration = %q, want %q", got, tc.expiration)
			}
		})
	}
}

// TestOperatorEndpoints covers the variants `custom-misp doctor` meets.
func TestOperatorEndpoints(t *testing.T) {
	s := mustNew(t, Options{})
	admin := map[string]string{"Authorization": adminKey}
	readonly := map[string]string{"Authorization": readonlyKey}
	user2 := map[string]string{"Authorization": user2Key}

	t.Run("read-only key: getVersion shows its permissions off, users/view/me the role's", func(t *testing.T) {
		_, _, roBody := get(t, s, "/users/view/me.json", readonly)
		_, _, rwBody := get(t, s, "/users/view/me.json", user2)
		if roBody != rwBody {
			t.Errorf("users/view/me differs between the read-only and the writable key of one user:\n%s\n%s", roBody, rwBody)
		}
		for key, want := range map[string]bool{readonlyKey: false, user2Key: true} {
			_, _, body := get(t, s, "/servers/getVersion", map[string]string{"Authorization": key})
			var v map[string]any
			json.Unmarshal([]byte(body), &v)
			for _, p := range []string{"perm_sighting", "perm_galaxy_editor", "perm_analyst_data"} {
				if v[p] != want {
					t.Errorf("getVersion %s = %v, want %v", p, v[p], want)
				}
			}
			if v["perm_sync"] != false || v["uuid"] != "-" {
				t.Errorf("getVersion without perm_sync: perm_sync %v, uuid %v; want false and \"-\"", v["perm_sync"], v["uuid"])
			}
		}
	})
	t.Run("only site admins read settings", func(t *testing.T) {
		for _, h := range []map[string]string{readonly, user2} {
			status, _, body := get(t, s, "/servers/getSetting/MISP.redis_host", h)
			if status != 403 || errorMessage(t, body) != msgNoPermission {
				t.Errorf("status %d, body %s", status, body)
			}
		}
	})
	t.Run("settings follow SetSetting", func(t *testing.T) {
		s.SetSetting("MISP.redis_host", "redis")
		s.SetSetting("SimpleBackgroundJobs.enabled", "false")
		s.SetSetting("MISP.redis_port", "6380")
		s.SetSetting("Custom.thing", "x")
		want := map[string]any{
			"MISP.redis_host":              "redis",
			"SimpleBackgroundJobs.enabled": false,
			"MISP.redis_port":              float64(6380),
			"Custom.thing":                 "x",
		}
		for name, value := range want {
			status, _, body := get(t, s, "/servers/getSetting/"+name, admin)
			var st map[string]any
			json.Unmarshal([]byte(body), &st)
			if status != 200 || st["value"] != value || st["name"] != name {
				t.Errorf("%s: status %d, %v, want value %v", name, status, st, value)
			}
		}
	})
	t.Run("feeds", func(t *testing.T) {
		fetch := func(path string) string {
			req := httptest.NewRequest(http.MethodPost, path, nil)
			req.Header.Set("Authorization", adminKey)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			return rec.Body.String()
		}
		if got := fetch("/feeds/fetchFromAllFeeds"); !strings.Contains(got, "No feed enabled.") {
			t.Errorf("no feeds enabled: %s", got)
		}
		if err := s.SetFeedEnabled("2", true); err != nil {
			t.Fatal(err)
		}
		if s.SetFeedEnabled("9", true) == nil {
			t.Error("SetFeedEnabled accepted an unknown feed")
		}
		if got := fetch("/feeds/fetchFromAllFeeds"); !strings.Contains(got, "Pull queued for background execution.") {
			t.Errorf("one feed enabled: %s", got)
		}
		if got := fetch("/feeds/fetchFromFeed/1"); !strings.Contains(got, "Feed is currently not enabled.") {
			t.Errorf("feed 1: %s", got)
		}
		if got := fetch("/feeds/fetchFromFeed/2"); !strings.Contains(got, "Pull queued") {
			t.Errorf("feed 2: %s", got)
		}
		if got := fetch("/feeds/fetchFromFeed/77"); !strings.Contains(got, "Invalid feed.") {
			t.Errorf("feed 77: %s", got)
		}
		_, _, body := get(t, s, "/feeds/index", admin)
		var feeds []struct {
			Feed struct {
				ID      string
				Enabled bool
			}
		}
		json.Unmarshal([]byte(body), &feeds)
		if len(feeds) != 2 || feeds[0].Feed.Enabled || !feeds[1].Feed.Enabled {
			t.Errorf("feeds/index = %+v", feeds)
		}
	})
	t.Run("Redis down", func(t *testing.T) {
		b := mustNew(t, Options{RedisDown: true})
		b.SetFeedEnabled("1", true)
		req := httptest.NewRequest(http.MethodPost, "/feeds/fetchFromAllFeeds", nil)
		req.Header.Set("Authorization", adminKey)
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, req)
		if rec.Code != 500 || errorMessage(t, rec.Body.String()) != msgInternalError {
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
	t.Run("sightings", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/sightings/add", strings.NewReader(`{"value":"evil.example","source":"wazuh"}`))
		req.Header.Set("Authorization", adminKey)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var out struct{ Sighting map[string]string }
		json.Unmarshal(rec.Body.Bytes(), &out)
		// By value, MISP sights every attribute with it (evil.example is
		// in events 1 and 2) and answers with the last sighting only.
		if out.Sighting["event_id"] != "2" || out.Sighting["source"] != "wazuh" || out.Sighting["type"] != "0" {
			t.Errorf("sighting = %s", rec.Body)
		}
		var events []string
		for _, r := range s.Sightings() {
			events = append(events, r.EventID)
		}
		if !slices.Equal(events, []string{"1", "2"}) || s.SightingRequests() != 1 {
			t.Errorf("recorded sightings in events %v, %d request(s); want events [1 2], 1 request", events, s.SightingRequests())
		}
	})
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := mustNew(t, Options{
		Keys: map[string]Key{adminKey: {RateLimit: 2}},
		Now:  func() time.Time { return now },
	})
	type state struct {
		Status                  int
		Limit, Remaining, Reset string
	}
	call := func() state {
		res := doSearch(t, s, adminKey, `{"value":"evil.example"}`)
		return state{res.status, res.header.Get("X-Rate-Limit-Limit"), res.header.Get("X-Rate-Limit-Remaining"), res.header.Get("X-Rate-Limit-Reset")}
	}
	var got []state
	got = append(got, call())
	now = now.Add(100 * time.Second)
	got = append(got, call(), call())
	now = now.Add(800 * time.Second) // the 900 s window is over
	got = append(got, call())
	want := []state{{200, "2", "1", "900"}, {200, "2", "0", "800"}, {429, "2", "0", "800"}, {200, "2", "1", "900"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// getVersion is not rate limited.
	if status, h, _ := get(t, s, "/servers/getVersion", map[string]string{"Authorization": adminKey}); status != 200 || h.Get("X-Rate-Limit-Limit") != "" {
		t.Errorf("getVersion: %d %v", status, h)
	}
}

func TestFaults(t *testing.T) {
	s := mustNew(t, Options{})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close) // runs first: releases hung handlers
	client := srv.Client()
	search := func(ctx context.Context) (*http.Response, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/attributes/restSearch", strings.NewReader(`{"value":"evil.example"}`))
		req.Header.Set("Authorization", adminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	ctx := context.Background()

	t.Run("429 once, then success", func(t *testing.T) {
		s.Inject(Fault{Status: 429, Reset: 30, Times: 1})
		resp, body, err := search(ctx)
		if err != nil || resp.StatusCode != 429 || resp.Header.Get("X-Rate-Limit-Reset") != "30" || errorMessage(t, body) != msgRateLimited {
			t.Fatalf("first: %v %v %s", err, resp, body)
		}
		if resp, _, err := search(ctx); err != nil || resp.StatusCode != 200 {
			t.Fatalf("second: %v %v", err, resp)
		}
	})
	t.Run("sticky 500 until cleared", func(t *testing.T) {
		s.Inject(Fault{Status: 500})
		for range 3 {
			if resp, body, _ := search(ctx); resp.StatusCode != 500 || errorMessage(t, body) != msgInternalError {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
		}
		s.ClearFaults()
		if resp, _, _ := search(ctx); resp.StatusCode != 200 {
			t.Fatalf("after ClearFaults: %d", resp.StatusCode)
		}
	})
	t.Run("proxy 502 is HTML", func(t *testing.T) {
		s.Inject(Fault{Status: 502, Times: 1})
		resp, body, _ := search(ctx)
		if resp.StatusCode != 502 || !strings.Contains(body, "<title>502 Bad Gateway</title>") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("path scoped", func(t *testing.T) {
		s.Inject(Fault{Path: "/servers/getVersion", Status: 503, Times: 1})
		if resp, _, _ := search(ctx); resp.StatusCode != 200 {
			t.Fatalf("restSearch hit a getVersion fault: %d", resp.StatusCode)
		}
		s.ClearFaults()
	})
	t.Run("junk body", func(t *testing.T) {
		s.Inject(Fault{Body: "not json", Times: 1})
		if resp, body, _ := search(ctx); resp.StatusCode != 200 || body != "not json" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
	t.Run("huge body is valid JSON of the asked size", func(t *testing.T) {
		const size = 3<<20 + 17
		s.Inject(Fault{BodySize: size, Times: 1})
		resp, body, err := search(ctx)
		if err != nil || len(body) != size || resp.ContentLength != size {
			t.Fatalf("err %v, %d bytes, Content-Length %d", err, len(body), resp.ContentLength)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("not JSON: %v", err)
		}
	})
	t.Run("hang until the client gives up", func(t *testing.T) {
		s.Inject(Fault{Hang: true, Times: 1})
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, _, err := search(cctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
	})
	t.Run("delay then answer", func(t *testing.T) {
		s.Inject(Fault{Delay: 20 * time.Millisecond, Times: 1})
		start := time.Now()
		resp, _, err := search(ctx)
		if err != nil || resp.StatusCode != 200 || time.Since(start) < 20*time.Millisecond {
			t.Fatalf("err %v, resp %v after %v", err, resp, time.Since(start))
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		s.Inject(Fault{Drop: true, Times: 1})
		if _, _, err := search(ctx); err == nil {
			t.Fatal("no error for a dropped connection")
		}
	})
}

func TestRequests_RecordedWithoutKey(t *testing.T) {
	s := mustNew(t, Options{})
	doSearch(t, s, adminKey, `{"value":["evil.example"],"limit":5}`)
	get(t, s, "/servers/getVersion", nil)
	got := s.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests recorded, want 2", len(got))
	}
	want := Request{
		Method: "POST", Path: "/attributes/restSearch", Auth: true, User: "admin@admin.test",
		ContentType: "application/json", Accept: "application/json",
		Body: []byte(`{"value":["evil.example"],"limit":5}`),
		JSON: map[string]any{"value": []any{"evil.example"}, "limit": float64(5)},
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got[1].Auth || got[1].User != "" {
		t.Errorf("unauthenticated request recorded as %+v", got[1])
	}
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), adminKey) {
		t.Error("the API key was recorded")
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests after ResetRequests", n)
	}
}

func TestServer_OversizedRequest(t *testing.T) {
	s := mustNew(t, Options{})
	req := httptest.NewRequest(http.MethodPost, "/attributes/restSearch", strings.NewReader(`{"value":"`+strings.Repeat("a", maxRequestBody)+`"}`))
	req.Header.Set("Authorization", adminKey)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", rec.Code)
	}
}

// TestWorkersAndQueuedFetches covers what the captures could not show:
// /servers/getWorkers of a MISP whose Redis answers (the test bed lacked
// the Supervisor client library), modelled on Server::workerDiagnostics,
// and the fetch jobs a MISP without workers keeps queued.
func TestWorkersAndQueuedFetches(t *testing.T) {
	admin := map[string]string{"Authorization": adminKey}
	type queue struct {
		OK       bool `json:"ok"`
		Workers  []map[string]any
		JobCount *int `json:"jobCount"`
	}
	workers := func(t *testing.T, s *Server) (map[string]queue, map[string]any) {
		t.Helper()
		status, _, body := get(t, s, "/servers/getWorkers", admin)
		var all map[string]any
		if status != 200 || json.Unmarshal([]byte(body), &all) != nil {
			t.Fatalf("getWorkers: %d %s", status, body)
		}
		queues := map[string]queue{}
		for name, v := range all {
			if _, isQueue := v.(map[string]any); isQueue {
				b, _ := json.Marshal(v)
				var q queue
				json.Unmarshal(b, &q)
				queues[name] = q
			}
		}
		return queues, all
	}
	fetch := func(t *testing.T, s *Server) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/feeds/fetchFromFeed/1", nil)
		req.Header.Set("Authorization", adminKey)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), msgFetchQueued) {
			t.Fatalf("fetch: %d %s", rec.Code, rec.Body)
		}
	}

	t.Run("workers running", func(t *testing.T) {
		s := mustNew(t, Options{})
		s.SetFeedEnabled("1", true)
		fetch(t, s)
		queues, all := workers(t, s)
		for _, name := range []string{"cache", "default", "email", "prio", "update"} {
			q := queues[name]
			if !q.OK || len(q.Workers) != 1 || q.JobCount == nil || *q.JobCount != 0 {
				t.Errorf("queue %s = %+v, want one live worker and nothing waiting", name, q)
			}
		}
		if all["supervisord_status"] != true || all["proc_accessible"] != true {
			t.Errorf("getWorkers = %v", all)
		}
	})
	t.Run("no worker: the fetch stays queued", func(t *testing.T) {
		s := mustNew(t, Options{NoWorkers: true})
		s.SetFeedEnabled("1", true)
		fetch(t, s)
		fetch(t, s)
		queues, all := workers(t, s)
		if q := queues["default"]; q.OK || len(q.Workers) != 0 || q.JobCount == nil || *q.JobCount != 2 {
			t.Errorf("default queue = %+v, want no worker and 2 jobs waiting", q)
		}
		if all["supervisord_status"] != false {
			t.Errorf("supervisord_status = %v", all["supervisord_status"])
		}
	})
}
