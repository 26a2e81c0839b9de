package main

// In-process tests of the operator commands against the fake MISP; the
// txtar scripts (doctor_*, lookup_*, feeds_*) run the real binary.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"github.com/custom-misp/custom-misp/internal/cli"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custom-misp/custom-misp/internal/mispfake"
)

const (
	opsAdminKey = "OpsAdminKeyOpsAdminKeyOpsAdminKeySECRET1"
	opsROKey    = "OpsReadOnlyKeyOpsReadOnlyKeyOpsSECRET123"
)

// opsWorld is a fake MISP over TLS plus the files the commands read.
type opsWorld struct {
	fake    *mispfake.Server
	url     string
	dir     string
	options string // ca_file only
	ca      string // the fake's certificate, for other options files
}

func newOpsWorld(t *testing.T, opts mispfake.Options) *opsWorld {
	t.Helper()
	opts.Keys = map[string]mispfake.Key{opsAdminKey: {SiteAdmin: true}, opsROKey: {ReadOnly: true}}
	fake, err := mispfake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(fake)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(func() { fake.Close(); srv.Close() })
	w := &opsWorld{fake: fake, url: srv.URL, dir: t.TempDir()}
	ca := w.write(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	w.ca = ca
	w.write(t, "admin.key", opsAdminKey+"\n")
	w.write(t, "ro.key", opsROKey)
	w.options = w.write(t, "opts.json", `{"ca_file": "`+ca+`", "cache": "off"}`)
	return w
}

func (w *opsWorld) write(t *testing.T, name, s string) string {
	t.Helper()
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs the command in-process with the world's URL, options and the
// named key file, and a Wazuh home without ossec.conf.
func (w *opsWorld) run(t *testing.T, key string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	argv := append([]string{"custom-misp"}, args...)
	argv = append(argv, "--url", w.url, "--options", w.options, "--key-file", filepath.Join(w.dir, key), "--wazuh-home", filepath.Join(w.dir, "nowazuh"))
	var out, errb bytes.Buffer
	code = run(context.Background(), argv, strings.NewReader(""), &out, &errb)
	for _, k := range []string{opsAdminKey, opsROKey} {
		if strings.Contains(out.String()+errb.String(), k) {
			t.Errorf("the API key appears in the output")
		}
	}
	return code, out.String(), errb.String()
}

func TestFeedsFetch_JSONForTheWodle(t *testing.T) {
	// MISP's answers are the test bed's (internal/mispfake captures
	// tb_bg*_fetchFrom*); what they mean depends on MISP.background_jobs.
	bgOff := func(f *mispfake.Server) { f.SetSetting("MISP.background_jobs", "false") }
	content := func(c mispfake.FeedContent) func(f *mispfake.Server) {
		return func(f *mispfake.Server) { bgOff(f); f.SetFeedContent("1", c) }
	}
	const hintDownload = `MISP.background_jobs is false, so MISP downloaded inside the request, and the download failed: check the feed's URL and that MISP can reach it (its MISP.proxy settings), and MISP's error.log (\"Could not get new event uuids for feed ...\"); nothing was queued`
	tests := []struct {
		name     string
		opts     mispfake.Options
		enable   bool
		setup    func(f *mispfake.Server)
		key      string
		args     []string
		wantCode int
		want     string // the exact line
	}{
		{"queued, a worker runs it", mispfake.Options{}, true, nil, "admin.key", nil, cli.ExitOK,
			`{"integration":"misp","misp":{"message":"Pull queued for background execution. A live worker serves MISP's default queue.","operation":"feeds_fetch","result":"ok"}}`},
		{"one feed queued", mispfake.Options{}, true, nil, "admin.key", []string{"--feed", "1"}, cli.ExitOK,
			`{"integration":"misp","misp":{"message":"Pull queued for background execution. A live worker serves MISP's default queue.","operation":"feeds_fetch","result":"ok"}}`},
		// Issue 4: MISP queues the fetch whether or not a worker runs.
		{"queued, no worker", mispfake.Options{NoWorkers: true}, true, nil, "admin.key", nil, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"Pull queued for background execution. But no live worker serves MISP's default queue (1 job(s) waiting): the fetch will not run (hint: start MISP's background workers (supervisorctl start misp-workers:*, or Administration > Server Settings > Workers); custom-misp doctor --key-file ADMIN_KEY_FILE shows them)","operation":"feeds_fetch","result":"failed"}}`},
		{"no feed enabled", mispfake.Options{}, false, nil, "admin.key", nil, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"No feed enabled. (hint: nothing was fetched: enable the feeds you want in MISP (Sync Actions > Feeds, tick Enabled))","operation":"feeds_fetch","result":"failed"}}`},
		{"feed not enabled", mispfake.Options{}, false, nil, "admin.key", []string{"--feed", "2"}, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"Feed is currently not enabled. Make sure you enable it. (hint: nothing was fetched: enable the feeds you want in MISP (Sync Actions > Feeds, tick Enabled))","operation":"feeds_fetch","result":"failed"}}`},
		{"Redis down", mispfake.Options{RedisDown: true}, true, nil, "admin.key", nil, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"misp unavailable: status 500: An Internal Error Has Occurred. (hint: MISP could not queue the fetch as a background job, which needs its Redis: as a MISP site admin run custom-misp doctor --key-file ADMIN_KEY_FILE, which tests MISP's Redis and workers (in containers SimpleBackgroundJobs.redis_host must name the Redis service, not 127.0.0.1))","operation":"feeds_fetch","result":"failed"}}`},
		// Issue 4: without background jobs MISP downloads in the request.
		{"background jobs off, downloaded", mispfake.Options{}, true, content(mispfake.FeedContent{NewEvents: 2}), "admin.key", []string{"--feed", "1"}, cli.ExitOK,
			`{"integration":"misp","misp":{"message":"Fetching the feed has successfully completed. Downloaded 2 new event(s).","operation":"feeds_fetch","result":"ok"}}`},
		{"background jobs off, download failed", mispfake.Options{}, true, content(mispfake.FeedContent{Unreachable: true}), "admin.key", []string{"--feed", "1"}, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"Fetching the feed has failed. (hint: ` + hintDownload + `)","operation":"feeds_fetch","result":"failed"}}`},
		{"background jobs off, every enabled feed failed", mispfake.Options{}, true, content(mispfake.FeedContent{Unreachable: true}), "admin.key", nil, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"No feed enabled. But 1 feed(s) are enabled (CIRCL OSINT Feed): every one failed to download (hint: ` + hintDownload + `)","operation":"feeds_fetch","result":"failed"}}`},
		{"background jobs off, MISP fails after saving new events", mispfake.Options{}, true, content(mispfake.FeedContent{NewEvents: 1}), "admin.key", nil, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"misp unavailable: status 500: An Internal Error Has Occurred. (hint: MISP.background_jobs is false, so MISP downloaded inside the request: MISP 2.5.1 answers fetchFromAllFeeds with this error once a MISP-format feed brings new events, after saving them (error.log: \"Cannot access offset of type string on string\"). Fetch feed by feed (custom-misp feeds fetch --feed ID for each id feeds list shows), or turn MISP's background jobs on)","operation":"feeds_fetch","result":"failed"}}`},
		{"read-only key", mispfake.Options{}, true, nil, "ro.key", nil, cli.ExitMISP,
			`{"integration":"misp","misp":{"message":"misp auth: status 403: You do not have permission to use this functionality. (hint: fetching feeds is a site admin's action: run it with --key-file FILE, a file holding a site admin's key (root only, mode 0600), not the read-only key integratord uses)","operation":"feeds_fetch","result":"failed"}}`},
		{"bad flag", mispfake.Options{}, true, nil, "admin.key", []string{"--feed", "1;rm"}, cli.ExitUsage,
			`{"integration":"misp","misp":{"message":"--feed \"1;rm\" is not a feed id (hint: custom-misp feeds list shows the ids)","operation":"feeds_fetch","result":"failed"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOpsWorld(t, tt.opts)
			if tt.enable {
				if err := w.fake.SetFeedEnabled("1", true); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(w.fake)
			}
			code, out, errOut := w.run(t, tt.key, append([]string{"feeds", "fetch", "--json"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if out != tt.want+"\n" {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.want)
			}
			if errOut != "" {
				t.Errorf("stderr %q: the wodle would hand it to analysisd as a second line", errOut)
			}
		})
	}
}

func TestFeedsFetch_Text(t *testing.T) {
	w := newOpsWorld(t, mispfake.Options{RedisDown: true})
	w.fake.SetFeedEnabled("1", true)
	code, out, errOut := w.run(t, "admin.key", "feeds", "fetch")
	if code != cli.ExitMISP || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if !strings.HasPrefix(errOut, "custom-misp: feeds fetch: misp unavailable: status 500: An Internal Error Has Occurred. (hint: MISP could not queue the fetch as a background job") {
		t.Errorf("stderr %q", errOut)
	}
	w = newOpsWorld(t, mispfake.Options{})
	w.fake.SetFeedEnabled("1", true)
	if code, out, _ := w.run(t, "admin.key", "feeds", "fetch"); code != cli.ExitOK || out != "feeds fetch: Pull queued for background execution. A live worker serves MISP's default queue.\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
}

func TestFeedsList(t *testing.T) {
	w := newOpsWorld(t, mispfake.Options{})
	w.fake.SetFeedEnabled("2", true)
	code, out, errOut := w.run(t, "ro.key", "feeds", "list")
	want := "ID  NAME                 PROVIDER    FORMAT  ENABLED  CACHED  URL\n" +
		"2   The Botvrij.eu Data  Botvrij.eu  misp    yes      never   https://www.botvrij.eu/data/feed-osint\n" +
		"1 of 2 feeds enabled; MISP records no fetch time, CACHED is when the feed's cache was last built\n"
	if code != cli.ExitOK || out != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	code, out, _ = w.run(t, "ro.key", "feeds", "list", "--all", "--json")
	var feeds []map[string]any
	if err := json.Unmarshal([]byte(out), &feeds); err != nil || code != cli.ExitOK || len(feeds) != 2 {
		t.Errorf("exit %d, %d feeds, err %v: %s", code, len(feeds), err, out)
	}
}

// The lookup event for a value must be the event integratord sends for
// the same value in an alert (integratord_argv.txtar, want-eid22), less
// the alert's own fields (source, alert_field) and with this URL.
func TestLookup_Table(t *testing.T) {
	w := newOpsWorld(t, mispfake.Options{})
	code, out, errOut := w.run(t, "ro.key", "lookup", "UPDATE-CHECK-CDN.COM.", "185.225.74.19", "printer.local", "8.8.4.4", "not a value")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"VALUE                 TYPE         EVENT                                                 THREAT  TAGS                                                           TO_IDS  PERMALINK",
		"update-check-cdn.com  domain       #3 custom-misp demo: indicators seen in the bundled…  high    tlp:amber,misp-galaxy:mitre-attack-pattern=\"Ingress Tool Tra…  yes     " + w.url + "/events/view/7fae6777-95a6-40fc-b092-90c20c9b8c6c",
		"185.225.74.19|443     ip-dst|port  #3 custom-misp demo: indicators seen in the bundled…  high    tlp:amber,misp-galaxy:mitre-attack-pattern=\"Ingress Tool Tra…  yes     " + w.url + "/events/view/7fae6777-95a6-40fc-b092-90c20c9b8c6c",
		"8.8.4.4               ip           no match                                              -       -                                                              -       -",
		`printer.local: not looked up: not a public name (a special-use suffix such as .local, .internal or .example; "allow_suffixes" admits your own)`,
		"not a value: not looked up: not an IP address, domain, http(s) URL or MD5/SHA-1/SHA-256/SHA-512 hash",
		"2 of 5 values matched in MISP, 2 not looked up",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

// TestLookup_SkippedAttributeWarned: an attribute MISP sends with a field
// of the wrong type is left out with one line on stderr; the other value
// still matches.
func TestLookup_SkippedAttributeWarned(t *testing.T) {
	w := newOpsWorld(t, mispfake.Options{})
	w.fake.Inject(mispfake.Fault{Path: "/attributes/restSearch", Body: `{"response":{"Attribute":[` +
		`{"id":"12","event_id":"3","category":"Network activity","type":"domain","to_ids":true,"value":"update-check-cdn.com","Event":{"id":"3","info":"demo","threat_level_id":"1"}},` +
		`{"id":"13","event_id":"3","category":"Network activity","type":"ip-dst","to_ids":true,"value":"185.225.74.19","Event":{"id":"3","info":{"HOSTILE":"content"},"threat_level_id":"1"}}]}}`})
	code, out, errOut := w.run(t, "ro.key", "lookup", "--json", "update-check-cdn.com", "185.225.74.19")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, `"indicator":"update-check-cdn.com"`) {
		t.Errorf("stdout: want the one event of update-check-cdn.com, got:\n%s", out)
	}
	want := "custom-misp: lookup: skipped 1 attribute(s) of MISP's answer with a field of an unexpected JSON type (Event.info); the others are used\n"
	if errOut != want {
		t.Errorf("stderr:\n%q\nwant:\n%q", errOut, want)
	}
}

// TestLookup_TruncatedAnswer: MISP returns at most "limit" attributes,
// newest first, and says more exist (X-Result-Count one above the page,
// tb_restsearch_limit_truncated). A value without a match in a full page
// may have been cut off, so lookup must not call it "no match"; it warns
// as integratord mode does.
func TestLookup_TruncatedAnswer(t *testing.T) {
	w := newOpsWorld(t, mispfake.Options{})
	w.options = w.write(t, "limit1.json", `{"ca_file": "`+w.ca+`", "cache": "off", "limit": 1}`)
	code, out, errOut := w.run(t, "ro.key", "lookup", "update-check-cdn.com", "185.225.74.19", "8.8.4.4")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		// The three attributes share a timestamp: MISP breaks the tie
		// by id, highest first (the composite, id 13).
		"VALUE                 TYPE         EVENT                                                 THREAT  TAGS                                                           TO_IDS  PERMALINK",
		"update-check-cdn.com  domain       unknown: MISP's answer was cut at limit=1             -       -                                                              -       -",
		"185.225.74.19|443     ip-dst|port  #3 custom-misp demo: indicators seen in the bundled…  high    tlp:amber,misp-galaxy:mitre-attack-pattern=\"Ingress Tool Tra…  yes     " + w.url + "/events/view/7fae6777-95a6-40fc-b092-90c20c9b8c6c",
		"8.8.4.4               ip           unknown: MISP's answer was cut at limit=1             -       -                                                              -       -",
		`1 of 3 values matched in MISP, 0 not looked up, 2 unknown: MISP returned limit=1 attributes, so their matches may have been cut off (raise "limit" in <options>)`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if errOut != "" {
		t.Errorf("stderr %q: the table says it", errOut)
	}

	// --json prints the events; the warning goes to stderr.
	code, out, errOut = w.run(t, "ro.key", "lookup", "--json", "update-check-cdn.com", "185.225.74.19")
	if code != cli.ExitOK || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"indicator":"185.225.74.19"`) {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
	wantErr := `custom-misp: lookup: MISP returned limit=1 attributes, so 1 value(s) without a match may have been cut off (raise "limit" in <options>)` + "\n"
	if errOut != wantErr {
		t.Errorf("stderr:\n%q\nwant:\n%q", errOut, wantErr)
	}
}

func TestLookup_Errors(t *testing.T) {
	w := newOpsWorld(t, mispfake.Options{})
	w.write(t, "bad.key", "BadKeyBadKeyBadKeyBadKeyBadKeyBadKey1234")
	code, out, errOut := w.run(t, "bad.key", "lookup", "update-check-cdn.com")
	if code != cli.ExitMISP || out != "" || !strings.Contains(errOut, "custom-misp: lookup: misp auth: status 403: Authentication failed.") ||
		!strings.Contains(errOut, "(hint: custom-misp doctor says why MISP refused the key)") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := w.run(t, "ro.key", "lookup"); code != cli.ExitUsage || !strings.Contains(errOut, "no value to look up") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestOpFlags_InterleavedAndDashDash(t *testing.T) {
	_, f := newOpFlags("lookup")
	pos, err := f.parse([]string{"a.example", "--json", "b.example", "--timeout", "3s", "--", "--c"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, " ") != "a.example b.example --c" || !f.json || f.timeout.String() != "3s" {
		t.Errorf("pos %q json %t timeout %s", pos, f.json, f.timeout)
	}
}
