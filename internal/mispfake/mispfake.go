// Package mispfake is a fake MISP 2.5.1 server for end-to-end tests,
// benchmarks and the demo. It is never linked into the production binary.
//
// It loads real MISP events (embedded under testdata/events, or any
// directory of {"Event": {...}} files) and answers POST
// /attributes/restSearch with MISP's semantics and wire shapes: OR over
// values, either half of composite attributes, case-insensitive, LIKE with
// %, negation with !, type/category/to_ids/published/tags filters,
// enforceWarninglist, includeEventTags, includeContext, limit/page.
// It also serves the operator endpoints (/servers/getVersion,
// /users/view/me, /servers/getSetting, /feeds/...) and the error answers a
// real MISP gives: 403 for a bad, expired, disabled or IP-restricted key,
// 400/405 for bad requests, 429 when a role is rate limited. Faults
// (status codes, hangs, junk or huge bodies, dropped connections) can be
// queued with Inject.
//
// For a local mirror's sync it serves the minimal events index,
// events/restSearch with metadata and the warninglists, records changes
// made through its Go API (changes.go) with the timestamps MISP records,
// and can generate a large synthetic data set (Synthetic).
//
// Every shape was checked against the captures of a real MISP 2.5.1 in
// testdata/captures (see golden_test.go and golden_sync_test.go);
// README.md says where each event comes from and what the fake does not
// do.
package mispfake

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed testdata/events/*.json testdata/warninglists/*.json
var embedded embed.FS

const (
	// maxRequestBody caps a request body. A restSearch for a few hundred
	// indicators is tens of KiB; PHP's default post_max_size is 8 MiB.
	maxRequestBody = 8 << 20
	// maxRecorded caps the request log so a long benchmark cannot grow
	// memory without bound; the oldest entries are dropped first.
	maxRecorded = 10000
	// rateWindow is MISP's fixed rate-limit window
	// (RateLimitComponent.php: 900 s per user).
	rateWindow = 900 * time.Second
)

// Options configures a Server.
type Options struct {
	// Keys maps each accepted API key to its user. MISP keys are 40
	// alphanumeric characters and New rejects any other.
	Keys map[string]Key
	// Now is the clock for key expiry, rate-limit windows and "last"
	// filters. Nil means time.Now.
	Now func() time.Time
	// Events replaces the embedded events: every *.json file at its root
	// is loaded as one MISP event. Nil means the embedded set.
	Events fs.FS
	// Warninglists replaces the embedded warninglists: every *.json file
	// at its root is a MISP list.json, enabled. A file named
	// "ID-name.json" gets that id. Nil means the embedded lists.
	Warninglists fs.FS
	// Synthetic adds a generated set after Events (see Synthetic). For
	// the generated set alone, give Events an empty directory.
	Synthetic Synthetic
	// RedisDown makes MISP's Redis unreachable, as a stopped Redis or a
	// wrong redis_host does: queuing a feed fetch (MISP.background_jobs
	// true) answers 500 "An Internal Error Has Occurred.",
	// /servers/getWorkers lists the queues without sizes, and
	// /admin/users/monitor answers 500. Searches still work (MISP falls
	// back without Redis), rate limits are then not enforced.
	RedisDown bool
	// NoWorkers means no background worker runs: a queued fetch is
	// answered "Pull queued for background execution." and stays in the
	// queue, which /servers/getWorkers shows.
	NoWorkers bool
}

// Key is the user behind one API key.
type Key struct {
	User       string    // the user's email; a default is derived from SiteAdmin and OrgID
	OrgID      string    // owning organisation: "1" (TESTORG, the default) or "2" (PARTNERORG)
	SiteAdmin  bool      // may read server settings and fetch feeds
	ReadOnly   bool      // MISP read-only key: every perm_* except auth and audit is off
	NoAPI      bool      // the user's role has no API access (perm_auth off)
	Disabled   bool      // the user account is disabled
	Expires    time.Time // zero means the key never expires; else X-Auth-Key-Expiration is sent
	AllowedIPs []string  // CIDRs the key may be used from; empty means anywhere
	RateLimit  int       // restSearch calls per 900 s window; 0 means unlimited
	// ReadOnlyRole: the user's role is MISP's stock "Read Only" (id 6:
	// perm_auth and perm_audit only, so no perm_sighting), while the key
	// itself is a normal one.
	ReadOnlyRole bool
}

// Fault is a misbehaviour queued with Inject. The zero value of each field
// means "behave normally" for that aspect.
type Fault struct {
	// Path limits the fault to requests whose path starts with it
	// (e.g. "/attributes/restSearch"); empty means every request.
	Path string
	// Times is how many matching requests the fault affects; 0 means
	// every one until ClearFaults.
	Times int
	// Status answers with this status and the error body MISP (or, for
	// 502/503/504, a reverse proxy) sends with it.
	Status int
	// Reset is the X-Rate-Limit-Reset value (seconds) sent with a 429.
	Reset int
	// Body answers with exactly these bytes (status 200 unless Status).
	Body string
	// BodySize answers with a syntactically valid, empty restSearch
	// result padded with spaces to this many bytes, for size caps.
	BodySize int64
	// Delay waits this long (or until the client gives up) before
	// answering, normally unless other fields say otherwise.
	Delay time.Duration
	// Hang never answers: the handler blocks until the client gives up
	// or the Server is closed.
	Hang bool
	// Drop closes the connection without an answer.
	Drop bool
}

// Request is one request the fake received. It never holds the API key.
type Request struct {
	Method      string
	Path        string
	Auth        bool   // an Authorization or X-MISP-AUTH header was sent
	User        string // the user whose key matched, "" if none
	ContentType string
	Accept      string
	UserAgent   string
	Body        []byte
	JSON        map[string]any // Body decoded, when it is a JSON object
}

// Server is the fake MISP, an http.Handler. It is safe for concurrent use.
type Server struct {
	keys         map[string]Key
	now          func() time.Time
	redisDown    bool
	noWorkers    bool
	warninglists []*warninglist
	closed       chan struct{}
	closeOnce    sync.Once

	// dbMu guards the data: searches read it, the change methods
	// (changes.go) write it and bump gen, which retires cached pages.
	dbMu      sync.RWMutex
	db        *store
	gen       uint64
	listsFor  map[string][]*warninglist // the enabled lists by attribute type
	decay     *DecayingModel            // the enabled model, if any
	sighted   map[*attribute]int64      // last sighting, for decay
	sightings []SightingRecord          // every sighting added, in order (sighting.go)
	sightReqs int                       // POST /sightings/add requests that added at least one

	pageMu sync.Mutex
	pages  struct {
		key   string
		attrs []*attribute
	}

	mu       sync.Mutex
	faults   []*Fault
	requests []Request
	settings map[string]*setting
	feeds    []*feed
	windows  map[string]*rateWindowState
	queued   int // fetch jobs waiting on the default queue (NoWorkers)
}

type rateWindowState struct {
	start time.Time
	count int
}

var keyPattern = regexp.MustCompile(`^[a-zA-Z0-9]{40}$`)

// New loads the events and returns a ready Server.
func New(opts Options) (*Server, error) {
	for k := range opts.Keys {
		if !keyPattern.MatchString(k) {
			return nil, fmt.Errorf("mispfake: key of %d characters: MISP keys are 40 letters and digits", len(k))
		}
	}
	for _, k := range opts.Keys {
		for _, c := range k.AllowedIPs {
			if _, err := parsePrefix(c); err != nil {
				return nil, fmt.Errorf("mispfake: allowed ip %q: %w", c, err)
			}
		}
	}
	events := opts.Events
	if events == nil {
		sub, err := fs.Sub(embedded, "testdata/events")
		if err != nil {
			return nil, fmt.Errorf("mispfake: %w", err)
		}
		events = sub
	}
	if err := opts.Synthetic.check(); err != nil {
		return nil, fmt.Errorf("mispfake: %w", err)
	}
	db, err := load(events, opts.Synthetic.Attributes+opts.Synthetic.Events > 0)
	if err != nil {
		return nil, fmt.Errorf("mispfake: %w", err)
	}
	db.generate(opts.Synthetic)
	wsub := opts.Warninglists
	if wsub == nil {
		if wsub, err = fs.Sub(embedded, "testdata/warninglists"); err != nil {
			return nil, fmt.Errorf("mispfake: %w", err)
		}
	}
	lists, err := loadWarninglists(wsub)
	if err != nil {
		return nil, fmt.Errorf("mispfake: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		keys:         map[string]Key{},
		now:          now,
		redisDown:    opts.RedisDown,
		noWorkers:    opts.NoWorkers,
		db:           db,
		warninglists: lists,
		listsFor:     listsByType(lists),
		sighted:      map[*attribute]int64{},
		closed:       make(chan struct{}),
		settings:     defaultSettings(),
		feeds:        defaultFeeds(),
		windows:      map[string]*rateWindowState{},
	}
	for k, v := range opts.Keys {
		s.keys[k] = v
	}
	return s, nil
}

// Close releases handlers blocked by a Hang or Delay fault. Call it before
// closing the http.Server or httptest.Server that serves the fake, which
// otherwise waits for them.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}

// Inject queues a fault. Faults apply in the order they were queued: a
// request takes the first one whose Path matches.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests returns a copy of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP answers one request as MISP would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return // the client went away mid-body
	}
	if len(body) > maxRequestBody {
		writeError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large", r.URL.Path)
		return
	}
	key, user, authErr := s.authenticate(r)
	s.record(r, body, user)

	if f := s.takeFault(r.URL.Path); f != nil {
		if done := s.applyFault(w, r, f); done {
			return
		}
	}
	if authErr == msgAuthFailed && r.Header.Get("X-Requested-With") == "XMLHttpRequest" {
		authErr = "Authentication failed." // captured: tb_sightings_add_revoked_ajax
	}
	if authErr != "" {
		writeError(w, http.StatusForbidden, authErr, r.URL.Path)
		return
	}
	if !key.Expires.IsZero() {
		// date('c') in AppController: ISO 8601 with a numeric offset.
		w.Header().Set("X-Auth-Key-Expiration", key.Expires.UTC().Format("2006-01-02T15:04:05-07:00"))
	}
	s.route(w, r, key, body)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, k Key, body []byte) {
	p := strings.TrimSuffix(r.URL.Path, ".json")
	switch {
	case p == "/attributes/restSearch" || strings.HasPrefix(p, "/attributes/restSearch/"):
		s.restSearch(w, r, k, body)
	case p == "/events/index" || strings.HasPrefix(p, "/events/index/"):
		s.eventIndex(w, r, k, body, strings.TrimPrefix(p, "/events/index"))
	case p == "/events/restSearch" || p == "/events/restSearch/json":
		s.eventRestSearch(w, r, k, body)
	case p == "/warninglists/index" || p == "/warninglists":
		s.warninglistIndex(w, r, body)
	case strings.HasPrefix(p, "/warninglists/view/"):
		s.warninglistView(w, r, strings.TrimPrefix(p, "/warninglists/view/"))
	case p == "/warninglists/toggleEnable":
		s.warninglistToggle(w, r, k, body)
	case p == "/warninglists/checkValue":
		s.warninglistCheck(w, r, body)
	case p == "/decayingModel/index":
		// The test bed had no decaying model (captured: []); the fake
		// has none either, so excludeDecayed never drops anything.
		writePretty(w, http.StatusOK, []any{})
	case p == "/mispfake/changes":
		s.randomChangesEndpoint(w, r, k, body)
	case p == "/servers/getVersion":
		s.getVersion(w, k)
	case p == "/users/view/me":
		s.viewMe(w, k)
	case strings.HasPrefix(p, "/servers/getSetting/"):
		s.getSetting(w, r, k, strings.TrimPrefix(p, "/servers/getSetting/"))
	case p == "/servers/serverSettings":
		s.serverSettings(w, r, k)
	case p == "/servers/getWorkers":
		s.getWorkers(w, r, k)
	case strings.HasPrefix(p, "/admin/users/monitor/"):
		s.monitorUser(w, r, k, strings.TrimPrefix(p, "/admin/users/monitor/"))
	case p == "/feeds/index" || p == "/feeds":
		s.feedIndex(w)
	case p == "/feeds/fetchFromAllFeeds":
		s.fetchAll(w, r, k)
	case strings.HasPrefix(p, "/feeds/fetchFromFeed/"):
		s.fetchOne(w, r, k, strings.TrimPrefix(p, "/feeds/fetchFromFeed/"))
	case p == "/events/add":
		if !perms(k).Add {
			writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
			return
		}
		writeError(w, http.StatusNotImplemented, "mispfake: adding events is not implemented", r.URL.Path)
	case p == "/sightings/add" || strings.HasPrefix(p, "/sightings/add/"):
		s.addSighting(w, r, k, body)
	default:
		writeError(w, http.StatusNotFound, "Not Found", r.URL.Path)
	}
}

// MISP's error messages, verbatim from the captures and AppController.php.
const (
	msgAuthFailed    = "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header."
	msgDisabled      = "Authentication failed. Your user account has been disabled."
	msgIPNotAllowed  = "It is not possible to use this Auth key from your IP address"
	msgNoPermission  = "You do not have permission to use this functionality."
	msgInternalError = "An Internal Error Has Occurred."
	msgRateLimited   = "Rate limit exceeded."
)

// authenticate follows AppController::__loginByAuthKey: X-MISP-AUTH wins
// over Authorization, "Basic ..." is ignored, the header may hold a comma
// separated list, and only 40-character alphanumeric keys are looked up
// (so "Bearer <key>" fails). It returns MISP's 403 message on failure.
//
// The lookup (AuthKey::getAuthUserByAuthKey, _checkAuthUser) skips an
// expired key and a role without perm_auth, so both get the same generic
// message as an unknown key (captured: tb_auth_expired_getVersion,
// tb_auth_noapi_getVersion). Only a user found by its key is then checked
// for being disabled and for the key's allowed IPs, which have messages
// of their own. ("Auth key is expired" exists too, but only for a session
// kept across requests with Security.authkey_keep_session.)
func (s *Server) authenticate(r *http.Request) (Key, string, string) {
	header := r.Header.Get("Authorization")
	if v := r.Header.Get("X-MISP-AUTH"); v != "" {
		header = v
	}
	if len(header) >= 5 && strings.EqualFold(header[:5], "basic") {
		header = ""
	}
	for _, candidate := range strings.Split(header, ",") {
		candidate = strings.TrimSpace(candidate)
		if !keyPattern.MatchString(candidate) {
			continue
		}
		k, ok := s.keys[candidate]
		if !ok {
			continue
		}
		k = withDefaults(k)
		switch {
		case k.NoAPI || (!k.Expires.IsZero() && k.Expires.Before(s.now())):
			continue
		case k.Disabled:
			return k, k.User, msgDisabled
		case !ipAllowed(k.AllowedIPs, r.RemoteAddr):
			return k, k.User, msgIPNotAllowed
		}
		return k, k.User, ""
	}
	return Key{}, "", msgAuthFailed
}

func withDefaults(k Key) Key {
	if k.OrgID == "" {
		k.OrgID = adminOrgID
	}
	if k.User == "" {
		switch {
		case k.SiteAdmin:
			k.User = "admin@admin.test"
		case k.OrgID == "2":
			k.User = "analyst@partner.test"
		default:
			k.User = "user@admin.test"
		}
	}
	return k
}

func ipAllowed(cidrs []string, remote string) bool {
	if len(cidrs) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, c := range cidrs {
		if p, err := parsePrefix(c); err == nil && p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

func (s *Server) record(r *http.Request, body []byte, user string) {
	req := Request{
		Method:      r.Method,
		Path:        r.URL.Path,
		Auth:        r.Header.Get("Authorization") != "" || r.Header.Get("X-MISP-AUTH") != "",
		User:        user,
		ContentType: r.Header.Get("Content-Type"),
		Accept:      r.Header.Get("Accept"),
		UserAgent:   r.Header.Get("User-Agent"),
		Body:        body,
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		req.JSON = m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxRecorded {
		s.requests = s.requests[1:]
	}
	s.requests = append(s.requests, req)
}

func (s *Server) takeFault(path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !strings.HasPrefix(path, f.Path) {
			continue
		}
		c := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &c
	}
	return nil
}

// applyFault acts out a fault; done is false when the request should
// then be answered normally (a pure Delay).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) (done bool) {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return true
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-s.closed:
			return true
		}
	}
	switch {
	case f.Drop:
		// net/http closes the connection without a response.
		panic(http.ErrAbortHandler)
	case f.BodySize > 0:
		writePadded(w, f.Status, f.BodySize)
	case f.Body != "":
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		io.WriteString(w, f.Body)
	case f.Status == http.StatusTooManyRequests:
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", strconv.Itoa(f.Reset))
		writeError(w, f.Status, msgRateLimited, r.URL.Path)
	case f.Status == http.StatusBadGateway || f.Status == http.StatusServiceUnavailable || f.Status == http.StatusGatewayTimeout:
		// MISP is behind a web server; when PHP is down, that answers.
		text := fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", text, text)
	case f.Status != 0:
		writeError(w, f.Status, faultMessage(f.Status), r.URL.Path)
	default:
		return false
	}
	return true
}

func faultMessage(status int) string {
	switch status {
	case http.StatusForbidden:
		return msgAuthFailed
	case http.StatusInternalServerError:
		return msgInternalError
	}
	return http.StatusText(status)
}

// writePadded streams an empty restSearch result of exactly size bytes
// (when size allows), without holding it in memory.
func writePadded(w http.ResponseWriter, status int, size int64) {
	const head, tail = `{"response": {"Attribute": [`, "]}}\n"
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.FormatInt(max(size, int64(len(head)+len(tail))), 10))
	w.WriteHeader(status)
	io.WriteString(w, head)
	pad := bytes.Repeat([]byte(" "), 32<<10)
	for left := size - int64(len(head)+len(tail)); left > 0; {
		n := min(left, int64(len(pad)))
		if _, err := w.Write(pad[:n]); err != nil {
			return
		}
		left -= n
	}
	io.WriteString(w, tail)
}

// writeError writes MISP's error body. PHP's json_encode escapes '/', so
// "url" reads "\/attributes\/restSearch" on the wire.
func writeError(w http.ResponseWriter, status int, msg, path string) {
	b, _ := json.Marshal(struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		URL     string `json:"url"`
	}{msg, msg, path})
	b = bytes.ReplaceAll(b, []byte("/"), []byte(`\/`))
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

// writePretty writes a body as MISP's non-search endpoints do:
// JSON_PRETTY_PRINT (4 spaces), slashes and HTML characters unescaped.
func writePretty(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, msgInternalError, "")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// restSearch serves POST /attributes/restSearch (AppController::restSearch).
func (s *Server) restSearch(w http.ResponseWriter, r *http.Request, k Key, body []byte) {
	if format := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/attributes/restSearch"), "/"); format != "" && format != "json" && format != ".json" {
		writeError(w, http.StatusNotFound, "Invalid output format.", r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		// Named parameters in the path are not supported, so a GET never
		// carries filters: MISP's answer to a filterless GET.
		writeError(w, http.StatusBadRequest, "Restsearch queries using GET and no parameters are not allowed. If you have passed parameters via a JSON body, make sure you use POST requests.", r.URL.Path)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		writeError(w, http.StatusBadRequest, "Either specify the search terms in the url, or POST a json with the filter parameters.", r.URL.Path)
		return
	}
	filters := map[string]any{}
	// Observed (restsearch_no_content_type): without a Content-Type header
	// MISP ignores the body and returns everything.
	if r.Header.Get("Content-Type") != "" {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&filters); err != nil || dec.More() {
			writeError(w, http.StatusMethodNotAllowed, "Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request.", r.URL.Path)
			return
		}
		if inner, ok := filters["request"].(map[string]any); ok {
			filters = inner
		}
	}
	if f, ok := filters["returnFormat"]; ok {
		if v, _ := scalar(f); v != "json" {
			writeError(w, http.StatusNotFound, "Invalid output format.", r.URL.Path)
			return
		}
	}
	if !s.allowRate(w, r, k) {
		return
	}
	q := parseQuery(filters, s.now())
	if len(q.values) > 0 {
		s.dbMu.Lock()
		s.db.buildIndex()
		s.dbMu.Unlock()
	}
	s.dbMu.RLock()
	res := s.search(q, caller{orgID: k.OrgID, siteAdmin: k.SiteAdmin})
	out, err := s.encodeSearch(q, res.attrs)
	s.dbMu.RUnlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
		return
	}
	h := w.Header()
	h.Set("X-Result-Count", strconv.Itoa(res.count))
	h.Set("X-Export-Module-Used", "json")
	h.Set("X-Response-Format", "json")
	h.Set("X-Skipped-Elements-Count", strconv.Itoa(res.skipped))
	h.Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// allowRate enforces a key's RateLimit on restSearch as MISP's
// RateLimitComponent does: a fixed 900 s window per user, X-Rate-Limit-*
// headers on every answer, 429 once the count is used up.
func (s *Server) allowRate(w http.ResponseWriter, r *http.Request, k Key) bool {
	// Without Redis, RateLimitComponent lets every request through.
	if k.RateLimit <= 0 || s.redisDown {
		return true
	}
	now := s.now()
	s.mu.Lock()
	win := s.windows[k.User]
	if win == nil || now.Sub(win.start) >= rateWindow {
		win = &rateWindowState{start: now}
		s.windows[k.User] = win
	}
	win.count++
	count, reset := win.count, win.start.Add(rateWindow).Sub(now)
	s.mu.Unlock()

	h := w.Header()
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(k.RateLimit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(max(k.RateLimit-count, 0)))
	h.Set("X-Rate-Limit-Reset", strconv.Itoa(int(reset.Seconds())))
	if count > k.RateLimit {
		writeError(w, http.StatusTooManyRequests, msgRateLimited, r.URL.Path)
		return false
	}
	return true
}
