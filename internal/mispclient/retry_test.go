package mispclient

import (
	"context"
	"github.com/custom-misp/custom-misp/internal/misp"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var oneValue = misp.Query{Values: []string{"203.0.113.5"}}

func TestRetry_5xxThenSuccess(t *testing.T) {
	var srv *server
	srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if srv.hits.Load() <= 2 {
			reply(w, 503, mispError("Service Unavailable"))
			return
		}
		reply(w, 200, testdata(t, "restsearch_full_query.json"))
	})
	c, logs := newClient(t, srv.URL, nil)
	attrs, err := c.Search(context.Background(), oneValue)
	if err != nil || len(attrs) != 3 {
		t.Fatalf("got %d attributes, %v; want 3, nil", len(attrs), err)
	}
	if n := srv.hits.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if n := logs.count("retrying in"); n != 2 {
		t.Errorf("%d retry log lines, want 2: %q", n, logs.all())
	}
}

func TestRetry_5xxExhausted(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 500, testdata(t, "servers_serverSettings_internal_error.json"))
	})
	c, _ := newClient(t, srv.URL, func(c *Config) { c.Retries = 3 })
	_, err := c.Search(context.Background(), oneValue)
	e := asError(t, err)
	if e.Class != misp.ClassUnavailable || e.Status != 500 || e.Message != "An Internal Error Has Occurred." {
		t.Errorf("got %v, want unavailable 500 with MISP's reason", e)
	}
	if n := srv.hits.Load(); n != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", n)
	}
}

func TestRetry_NotOn4xx(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 405} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, status, mispError("no")) })
			c, _ := newClient(t, srv.URL, nil)
			if _, err := c.Search(context.Background(), oneValue); err == nil {
				t.Fatal("no error")
			}
			if n := srv.hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestRetry_429ThenSuccess(t *testing.T) {
	var srv *server
	srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if srv.hits.Load() == 1 {
			w.Header().Set("X-Rate-Limit-Limit", "10")
			w.Header().Set("X-Rate-Limit-Remaining", "0")
			w.Header().Set("X-Rate-Limit-Reset", "30")
			reply(w, 429, mispError("Rate limit exceeded."))
			return
		}
		reply(w, 200, testdata(t, "restsearch_full_query.json"))
	})
	c, logs := newClient(t, srv.URL, nil)
	c.tune.resetUnit = time.Millisecond // "30" then means 30 ms
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	attrs, err := c.Search(ctx, oneValue)
	if err != nil || len(attrs) != 3 {
		t.Fatalf("got %d attributes, %v; want 3, nil", len(attrs), err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("retried after %s, before the 30 ms reset", el)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if logs.count("retrying in 30ms") != 1 {
		t.Errorf("no retry line with the reset wait: %q", logs.all())
	}
}

// TestRetry_429ResetBeyondDeadline: a wait that cannot end before the
// deadline, or that is longer than the longest wait, is not started; the
// 429 comes back at once with its Reset. No elapsed time is asserted: a
// wait that was started would end in the deadline (a timeout, not a 429)
// or make a second request, and the log says which rule applied.
func TestRetry_429ResetBeyondDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reset    int           // X-Rate-Limit-Reset, seconds
		deadline time.Duration // 0: none
		log      string
	}{
		// 20 s is under maxRetryWait, so only the 10 s deadline can stop it.
		{"past the deadline", 20, 10 * time.Second, "not retrying: a 20s wait would pass the deadline"},
		{"no deadline, longer than the longest wait", 900, 0, "not retrying: wait 15m0s is too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Rate-Limit-Reset", strconv.Itoa(tc.reset))
				reply(w, 429, mispError("Rate limit exceeded."))
			})
			c, logs := newClient(t, srv.URL, nil)
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			before := time.Now()
			_, err := c.Search(ctx, oneValue)
			after := time.Now()
			e := asError(t, err)
			if e.Class != misp.ClassRateLimited || e.Status != 429 || e.Message != "Rate limit exceeded." {
				t.Errorf("got %v, want rate_limited 429", e)
			}
			reset := time.Duration(tc.reset) * time.Second
			if e.Reset.Before(before.Add(reset)) || e.Reset.After(after.Add(reset)) {
				t.Errorf("reset %s, want %s after the call (%s)", e.Reset, reset, before)
			}
			if n := srv.hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if logs.count(tc.log) != 1 {
				t.Errorf("no log line %q: %q", tc.log, logs.all())
			}
		})
	}
}

func TestRetry_ResetHeader(t *testing.T) {
	c, _ := newClient(t, "https://misp.example", nil)
	for _, tc := range []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"misp header", http.Header{"X-Rate-Limit-Reset": {"42"}}, 42 * time.Second, true},
		{"retry-after fallback", http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{"misp header wins", http.Header{"X-Rate-Limit-Reset": {"42"}, "Retry-After": {"7"}}, 42 * time.Second, true},
		{"capped", http.Header{"X-Rate-Limit-Reset": {"99999999999"}}, maxResetAhead, true},
		{"garbage", http.Header{"X-Rate-Limit-Reset": {"soon"}}, 0, false},
		{"negative", http.Header{"X-Rate-Limit-Reset": {"-5"}}, 0, false},
		{"absent", http.Header{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := c.resetAfter(tc.h)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %s, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestRetry_BackoffStopsAtDeadline: when the next backoff would end after
// the deadline, the last answer (a 503) is returned now, not a timeout
// later. No elapsed time is asserted: a wait that was started would end in
// the deadline, and the run would get a timeout instead of the 503.
func TestRetry_BackoffStopsAtDeadline(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 503, mispError("Service Unavailable")) })
	c, logs := newClient(t, srv.URL, nil)
	c.tune.backoffMin, c.tune.backoffMax = 40*time.Second, 40*time.Second // waits of 20 to 40 s
	c.tune.maxWait = time.Hour                                            // so that only the deadline stops them
	// 10 s: the one request to a local server takes milliseconds, so even a
	// loaded machine answers before the deadline, and no wait fits after it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Search(ctx, oneValue)
	e := asError(t, err)
	if e.Class != misp.ClassUnavailable || e.Status != 503 {
		t.Errorf("got %v, want unavailable 503", e)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if logs.count("would pass the deadline") != 1 {
		t.Errorf("no log line about the deadline: %q", logs.all())
	}
}

func TestBackoff_Bounds(t *testing.T) {
	c, _ := newClient(t, "https://misp.example", nil)
	c.tune.backoffMin, c.tune.backoffMax = 200*time.Millisecond, 2*time.Second
	// Exponential from 200 ms, capped at 2 s; each wait is in [d/2, d].
	for n, d := range []time.Duration{200, 400, 800, 1600, 2000, 2000, 2000} {
		d *= time.Millisecond
		for range 50 {
			if w := c.backoff(n + 1); w < d/2 || w > d {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n+1, w, d/2, d)
			}
		}
	}
}

func TestTransport_ConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, logs := newClient(t, "http://"+addr, func(c *Config) { c.Retries = 2 })
	_, err = c.Search(context.Background(), oneValue)
	e := asError(t, err)
	if e.Class != misp.ClassUnavailable || e.Status != 0 || !strings.Contains(e.Message, "connection refused") {
		t.Errorf("got %v, want unavailable: connection refused", e)
	}
	if n := logs.count("attempt"); n != 3 {
		t.Errorf("%d attempts logged, want 3: %q", n, logs.all())
	}
}

func TestTransport_DNSNotFoundNotRetried(t *testing.T) {
	// A name that does not exist will not exist a moment later either:
	// one attempt. The test's own DNS server says so, not the host's.
	resolver, questions := nxdomainResolver(t)
	c, logs := newClient(t, "http://misp.invalid", nil)
	useResolver(c, resolver)
	_, err := c.Search(context.Background(), oneValue)
	e := asError(t, err)
	if e.Class != misp.ClassUnavailable || e.Status != 0 || !strings.Contains(e.Message, "lookup misp.invalid") || !strings.HasSuffix(e.Message, ": no such host") {
		t.Errorf("got %v, want unavailable: lookup misp.invalid ...: no such host", e)
	}
	if n := logs.count("attempt"); n != 1 {
		t.Errorf("%d attempts logged, want 1: %q", n, logs.all())
	}
	if questions.Load() == 0 {
		t.Error("the test's DNS server was not asked")
	}
}

// TestTransport_NeverAnswers: a server that accepts and never answers is
// cut off by the run deadline or by the per-attempt timeout.
func TestTransport_NeverAnswers(t *testing.T) {
	// The handler reads the body first: net/http notices a client hang-up
	// (and cancels r.Context) only once the body is consumed. done ends
	// handlers still waiting when the test ends, so Close does not block.
	serve := func(t *testing.T) *server {
		done := make(chan struct{})
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-done:
			}
		})
		t.Cleanup(func() { close(done) }) // runs before srv.Close
		return srv
	}

	// The message tells the two apart: "deadline exceeded" is the run's
	// deadline, "no answer within" the per-attempt timeout. So neither
	// case needs an upper bound on the time it took.
	t.Run("run deadline", func(t *testing.T) {
		srv := serve(t)
		c, _ := newClient(t, srv.URL, func(c *Config) { c.Timeout = maxTimeout })
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.Search(ctx, oneValue)
		e := asError(t, err)
		if e.Class != misp.ClassTimeout || e.Message != "deadline exceeded before MISP answered" {
			t.Errorf("got %v, want timeout: deadline exceeded", e)
		}
	})

	t.Run("per-attempt timeout", func(t *testing.T) {
		srv := serve(t)
		c, logs := newClient(t, srv.URL, func(c *Config) { c.Timeout = 100 * time.Millisecond; c.Retries = 2 })
		start := time.Now()
		_, err := c.Search(context.Background(), oneValue)
		el := time.Since(start)
		e := asError(t, err)
		if e.Class != misp.ClassTimeout || e.Message != "no answer within 100ms" {
			t.Errorf("got %v, want timeout: no answer within 100ms", e)
		}
		// Attempts, not server hits: on a loaded machine a 100 ms
		// attempt may time out before its request reaches the server.
		if n := logs.count("attempt"); n != 3 {
			t.Errorf("%d attempts logged, want 3: %q", n, logs.all())
		}
		// Only a lower bound, which load cannot break: each attempt
		// waited its whole timeout.
		if el < 300*time.Millisecond {
			t.Errorf("took %s, want at least 3 × 100 ms", el)
		}
	})
}

func TestResponse_Oversized(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   int64
		size    int
		chunked bool
		message string
	}{
		{"content-length over the cap", 1024, 2048, false, "response larger than 1024 bytes (content-length 2048)"},
		{"streamed over the cap", 1024, 2048, true, "response larger than 1024 bytes"},
		{"default cap", MaxResponseBytes, MaxResponseBytes + 1, true, "response larger than 16777216 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"response":{"Attribute":[` + strings.Repeat(" ", tc.size-29) + `]}}`)
			if len(body) != tc.size {
				t.Fatalf("body of %d bytes, want %d", len(body), tc.size)
			}
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tc.chunked {
					w.WriteHeader(200)
					w.(http.Flusher).Flush() // no Content-Length from here on
				}
				w.Write(body)
			})
			// A generous timeout: 16 MiB through TLS under -race on a
			// loaded machine took over the helpers' 5 s once, and this
			// test is about the size cap, not the clock.
			c, _ := newClient(t, srv.URL, func(cfg *Config) { cfg.Timeout = 2 * time.Minute })
			c.tune.maxBody = tc.limit
			_, err := c.Search(context.Background(), oneValue)
			e := asError(t, err)
			if e.Class != misp.ClassBadResponse || e.Message != tc.message {
				t.Errorf("got %v, want bad_response %q", e, tc.message)
			}
		})
	}
}
