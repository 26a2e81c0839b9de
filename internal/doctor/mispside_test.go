package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/mispfake"
)

var (
	orderUser  = []string{"configuration", "dns", "tcp", "tls", "auth", "key expiry", "key permissions", "search", "server health"}
	orderAdmin = []string{"configuration", "dns", "tcp", "tls", "auth", "key expiry", "key permissions", "search", "MISP redis", "background jobs", "jobs redis", "workers", "feeds"}
	orderSight = []string{"configuration", "dns", "tcp", "tls", "auth", "key expiry", "key permissions", "sightings", "search", "server health"}
	orderAuth  = []string{"configuration", "dns", "tcp", "tls", "auth"}
	orderHTTP  = []string{"configuration", "dns", "tcp", "tls", "http"}
)

// refusedKey and refusedKeyHint are the auth line for MISP's generic 403.
const (
	refusedKey = "MISP refused the key without saying why (HTTP 403: Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.): " +
		"MISP gives this one answer to a mistyped key, a deleted or revoked key, an expired key and a key whose role has no API access"
	refusedKeyHint = "no such key, so it is mistyped or was deleted: copy it again or add a new one (only the 40 characters, no quotes, no \"Bearer\"); " +
		"its Expiration is past: add a new key; the key is there and valid: its user's role lacks \"Auth key access\" (Administration > List Roles)"
)

// noAdmin is the server health line of every key that is not a site
// admin's.
var noAdmin = want{Warn, "not checked: only a site admin's key can test MISP's Redis, its background jobs and workers, and list its feeds; this key's role cannot", "--key-file"}

func TestMISP_KeysAndServerHealth(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		override bool
		// sightings enables option "sightings".
		sightings bool
		// MISP's Redis unreachable; no background worker running.
		redisDown, noWorkers bool
		setup                func(t *testing.T, f *mispfake.Server)
		order                []string
		wants                map[string]want
	}{
		{name: "read-only key, the recommended setup", key: keyReadOnly, order: orderUser, wants: map[string]want{
			"tls":             {OK, `certificate verified: subject "O=Acme Co", self-signed, names [example.com *.example.com 127.0.0.1 ::1], expires 2084-`, ""},
			"auth":            {OK, "key accepted by MISP 2.5.1", ""},
			"key expiry":      {OK, "no expiration date", ""},
			"key permissions": {OK, "read-only yes, rate limit none, may add sightings no", ""},
			"search":          {OK, "restSearch (limit 1, configured filters) answered in", ""},
			"server health":   noAdmin,
		}},
		{name: "a user's full key", key: keyUser, order: orderUser, wants: map[string]want{
			"key permissions": {Warn, "read-only no", `add a read-only auth key (tick "Read only"`},
			"server health":   noAdmin,
		}},
		// users/view/me shows the admin role for this key too; getVersion
		// shows the key can do nothing, so it cannot read settings either.
		{name: "read-only key of a site admin", key: keyAdminRO, order: orderUser, wants: map[string]want{
			"key permissions": {OK, `role "admin": read-only yes, rate limit none, may add sightings no`, ""},
			"server health":   noAdmin,
		}},
		{name: "key expiring in 5 days", key: keySoon, order: orderUser, wants: map[string]want{
			"key expiry":      {Warn, "(in 4 days)", "add a new auth key in MISP before then"},
			"key permissions": {Warn, "read-only no", "read-only auth key"},
			"server health":   noAdmin,
		}},
		{name: "rate-limited read-only key", key: keyLimited, order: orderUser, wants: map[string]want{
			"key permissions": {Warn, "rate limit 10 searches per 15 min", "raise the role's rate limit"},
			"server health":   noAdmin,
		}},
		// A key from --key-file may be the next integratord key: its
		// rate limit and write access are judged all the same.
		{name: "rate-limited read-only key from --key-file", key: keyLimited, override: true, order: orderUser, wants: map[string]want{
			"key permissions": {Warn, "rate limit 10 searches per 15 min", "raise the role's rate limit"},
			"server health":   noAdmin,
		}},
		{name: "a user's full key from --key-file", key: keyUser, override: true, order: orderUser, wants: map[string]want{
			"key permissions": {Warn, "read-only no", `add a read-only auth key (tick "Read only"`},
			"server health":   noAdmin,
		}},
		// Issue #14: sightings need a key that may add them, which
		// getVersion tells (tb_getVersion_*), and which is then not
		// read-only.
		{name: "sightings with a user's full key", key: keyUser, sightings: true, order: orderSight, wants: map[string]want{
			"key permissions": {OK, "read-only no, rate limit none, may add sightings yes; not read-only, as sightings need", ""},
			"sightings":       {OK, "enabled (window 1h0m0s): MISP reports perm_sighting for this key", ""},
			"server health":   noAdmin,
		}},
		{name: "sightings with a read-only key", key: keyReadOnly, sightings: true, order: orderSight, wants: map[string]want{
			"key permissions": {OK, "read-only yes", ""},
			"sightings": {Fail, `enabled, but MISP reports no perm_sighting for this key: it answers every sighting with 403 "You do not have permission to use this functionality." (it is a read-only auth key`,
				"an auth key that is not read-only, of a user whose role has perm_sighting"},
			"server health": noAdmin,
		}},
		{name: "sightings with a key of a role without perm_sighting", key: keyRORole, sightings: true, order: orderSight, wants: map[string]want{
			"sightings":     {Fail, `(the user's role "Read Only" lacks perm_sighting)`, "perm_sighting"},
			"server health": noAdmin,
		}},
		// The fake's defaults: background jobs on, Redis up, workers
		// running.
		{name: "site admin key, MISP at its defaults", key: keyAdmin, order: orderAdmin, wants: map[string]want{
			"key permissions": {Warn, `role "admin": read-only no`, "a site admin's key on the manager can change anything"},
			"MISP redis":      {OK, "MISP.redis_host is 127.0.0.1 (port 6379): Redis answers", ""},
			"background jobs": {OK, "MISP.background_jobs and SimpleBackgroundJobs.enabled are true", ""},
			"jobs redis":      {OK, "SimpleBackgroundJobs.redis_host is 127.0.0.1 (port 6379): Redis answers; 0 job(s) waiting on the default queue", ""},
			"workers":         {OK, "a live worker serves the default queue", ""},
			"feeds":           {Warn, "none of 2 feeds is enabled", "Sync Actions > Feeds"},
		}},
		{name: "site admin key from --key-file, container MISP set up right", key: keyAdmin, override: true,
			setup: func(t *testing.T, f *mispfake.Server) {
				f.SetSetting("MISP.redis_host", "redis")
				f.SetSetting("SimpleBackgroundJobs.redis_host", "redis")
				if err := f.SetFeedEnabled("1", true); err != nil {
					t.Fatal(err)
				}
			}, order: orderAdmin, wants: map[string]want{
				"key permissions": {Warn, `role "admin": read-only no`, "right for doctor's server health and feeds fetch, from a root-only file (mode 0600); never give it to integratord"},
				"MISP redis":      {OK, "MISP.redis_host is redis (port 6379): Redis answers", ""},
				"jobs redis":      {OK, "SimpleBackgroundJobs.redis_host is redis (port 6379): Redis answers", ""},
				"feeds":           {OK, "1 of 2 enabled (CIRCL OSINT Feed); no feed cache built yet", ""},
			}},
		// Redis stopped: settings alone said OK (issue 3); MISP's answers
		// say it cannot reach Redis (tb_redisdown_admin_users_monitor,
		// tb_bgon_redisdown_getWorkers).
		{name: "site admin key, Redis down", key: keyAdmin, redisDown: true, order: orderAdmin, wants: map[string]want{
			"key permissions": {Warn, `role "admin"`, "can change anything"},
			"MISP redis":      {Fail, "MISP.redis_host is 127.0.0.1 (port 6379): MISP cannot reach it", `start Redis, or point MISP at it`},
			"background jobs": {OK, "are true", ""},
			"jobs redis":      {Fail, "SimpleBackgroundJobs.redis_host is 127.0.0.1 (port 6379): MISP cannot reach it", `feeds fetch fails with MISP's "An Internal Error Has Occurred."`},
			"workers":         {Warn, "not checked: MISP cannot list them", "jobs redis"},
			"feeds":           {Warn, "none of 2", "enable some"},
		}},
		// Issue 4: "Pull queued" with nobody to run it.
		{name: "site admin key, no background worker", key: keyAdmin, noWorkers: true, order: orderAdmin, wants: map[string]want{
			"key permissions": {Warn, `role "admin"`, "can change anything"},
			"workers":         {Fail, "no live worker serves MISP's default queue; MISP cannot reach supervisord: feed fetches are answered \"Pull queued for background execution.\" and never run", "supervisorctl start misp-workers:*"},
			"feeds":           {Warn, "none of 2", "enable some"},
		}},
		// Issue 4: without background jobs MISP fetches inside the request.
		{name: "site admin key, background jobs off", key: keyAdmin,
			setup: func(t *testing.T, f *mispfake.Server) { f.SetSetting("MISP.background_jobs", "false") },
			order: orderAdmin, wants: map[string]want{
				"key permissions": {Warn, `role "admin"`, "can change anything"},
				"background jobs": {Warn, `MISP.background_jobs is "false": MISP downloads feeds inside each fetch request`, "--feed ID"},
				"jobs redis":      {OK, "not used: MISP.background_jobs is false", ""},
				"workers":         {OK, "not used: MISP.background_jobs is false", ""},
				"feeds":           {Warn, "none of 2", "enable some"},
			}},
		{name: "site admin key, legacy background jobs", key: keyAdmin,
			setup: func(t *testing.T, f *mispfake.Server) { f.SetSetting("SimpleBackgroundJobs.enabled", "false") },
			order: orderAdmin, wants: map[string]want{
				"key permissions": {Warn, `role "admin"`, "can change anything"},
				"background jobs": {Warn, `SimpleBackgroundJobs.enabled is "false"`, "background-jobs migration guide"},
				"feeds":           {Warn, "none of 2", "enable some"},
			}},
		// MISP 2.5.1 answers an unknown, an expired and an API-less key
		// alike (tb_auth_*_getVersion): doctor lists what it can mean and
		// where an admin tells which.
		{name: "key MISP does not know", key: keyUnknown, order: orderAuth, wants: map[string]want{
			"auth": {Fail, refusedKey, refusedKeyHint},
		}},
		{name: "expired key", key: keyExpired, order: orderAuth, wants: map[string]want{
			"auth": {Fail, refusedKey, refusedKeyHint},
		}},
		{name: "role without API access", key: keyNoAPI, order: orderAuth, wants: map[string]want{
			"auth": {Fail, refusedKey, refusedKeyHint},
		}},
		{name: "disabled user", key: keyDisabled, order: orderAuth, wants: map[string]want{
			"auth": {Fail, "user account is disabled (HTTP 403: Authentication failed. Your user account has been disabled.)", `untick "Disabled"`},
		}},
		{name: "IP-restricted key", key: keyIPBound, order: orderAuth, wants: map[string]want{
			"auth": {Fail, "may not be used from this manager's address (HTTP 403: It is not possible to use this Auth key from your IP address)", `"Allowed IPs"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fakeOptions()
			opts.RedisDown, opts.NoWorkers = tt.redisDown, tt.noWorkers
			fake, url, ca := startFake(t, opts, nil)
			if tt.setup != nil {
				tt.setup(t, fake)
			}
			in := mispInput(t, url, tt.key, func(c *config.Config) { c.CAFile, c.Sightings.Enabled = ca, tt.sightings })
			in.KeyOverride = tt.override
			checkResults(t, Run(context.Background(), in), tt.order, tt.wants)
		})
	}
}

func TestMISP_TLS(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		name  string
		cert  func(t *testing.T) *tls.Certificate
		host  string // replaces 127.0.0.1 in the URL
		edit  func(c *config.Config, fakeCA, corpCA string)
		order []string
		wants map[string]want
	}{
		{name: "self-signed, no ca_file", edit: func(c *config.Config, _, _ string) {}, order: orderAuth[:4], wants: map[string]want{
			"tls": {Fail, `self-signed certificate, not trusted here: subject "O=Acme Co", self-signed, names [example.com *.example.com 127.0.0.1 ::1], expires 2084-01-29`,
				`ca_file would fix this: save MISP's certificate on the manager (openssl s_client -connect 127.0.0.1:`},
		}},
		{name: "name not in the certificate", host: "localhost", edit: func(c *config.Config, fakeCA, _ string) { c.CAFile = fakeCA }, order: orderAuth[:4], wants: map[string]want{
			"tls": {Fail, "the certificate does not name localhost", "ca_file would not fix this: use a name the certificate holds in hook_url (example.com, *.example.com, 127.0.0.1, ::1)"},
		}},
		{name: "private CA, not trusted", cert: func(t *testing.T) *tls.Certificate { return ca.leaf(t, testNow.Add(365*24*time.Hour)) },
			edit: func(c *config.Config, _, _ string) {}, order: orderAuth[:4], wants: map[string]want{
				"tls": {Fail, `certificate signed by an authority this manager does not trust: subject "CN=misp.example.org", issuer "CN=Example Corp Internal CA", names [misp.example.org 127.0.0.1]`,
					`ca_file would fix this: set "ca_file" in <options> to the PEM certificate of the CA "CN=Example Corp Internal CA"`},
			}},
		{name: "private CA in ca_file, certificate about to expire", cert: func(t *testing.T) *tls.Certificate { return ca.leaf(t, testNow.Add(10*24*time.Hour)) },
			edit: func(c *config.Config, _, corpCA string) { c.CAFile = corpCA }, order: orderUser, wants: map[string]want{
				"tls":             {Warn, `certificate verified: subject "CN=misp.example.org", issuer "CN=Example Corp Internal CA"`, "renew MISP's certificate"},
				"key permissions": {Warn, "read-only no", "read-only"},
				"server health":   noAdmin,
			}},
		{name: "expired certificate", cert: func(t *testing.T) *tls.Certificate { return ca.leaf(t, testNow.Add(-time.Hour)) },
			edit: func(c *config.Config, _, corpCA string) { c.CAFile = corpCA }, order: orderAuth[:4], wants: map[string]want{
				"tls": {Fail, "the certificate has expired or is not valid yet", "ca_file would not fix this: renew MISP's certificate"},
			}},
		{name: "insecure_skip_verify", edit: func(c *config.Config, _, _ string) { c.InsecureSkipVerify = true }, order: orderUser, wants: map[string]want{
			"tls":             {Warn, `certificate not verified (insecure_skip_verify): subject "O=Acme Co", self-signed`, "insecure_skip_verify is a last resort"},
			"key permissions": {Warn, "read-only no", "read-only"},
			"server health":   noAdmin,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cert *tls.Certificate
			if tt.cert != nil {
				cert = tt.cert(t)
			}
			_, url, fakeCA := startFake(t, fakeOptions(), cert)
			if tt.host != "" {
				url = strings.Replace(url, "127.0.0.1", tt.host, 1)
			}
			in := mispInput(t, url, keyUser, func(c *config.Config) { tt.edit(c, fakeCA, ca.file) })
			checkResults(t, Run(context.Background(), in), tt.order, tt.wants)
		})
	}
}

func TestMISP_Reachability(t *testing.T) {
	notMISPURL, notMISPCA := notMISP(t)
	fake, err := mispfake.New(fakeOptions())
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); plain.Close() })
	faulty, fakeURL, fakeCA := startFake(t, fakeOptions(), nil)
	withCA := func(c *config.Config) { c.CAFile = fakeCA }

	tests := []struct {
		name    string
		url     string
		key     string
		edit    func(c *config.Config)
		resolve func(context.Context, string) ([]string, error)
		fault   *mispfake.Fault // queued in the TLS fake for this case
		order   []string
		wants   map[string]want
	}{
		{name: "name does not resolve", url: "https://misp.corp.invalid:8443", key: keyUser,
			resolve: func(context.Context, string) ([]string, error) {
				return nil, errors.New("lookup misp.corp.invalid: no such host")
			},
			order: []string{"configuration", "dns"}, wants: map[string]want{
				"dns": {Fail, "cannot resolve misp.corp.invalid: lookup misp.corp.invalid: no such host", "/etc/hosts"},
			}},
		{name: "nothing listens on the port", url: "https://127.0.0.1:1", key: keyUser, order: []string{"configuration", "dns", "tcp"}, wants: map[string]want{
			"tcp": {Fail, "connection to 127.0.0.1:1 refused", "hook_url must say so: https://misp.example.org:8443"},
		}},
		{name: "hook_url is not MISP", url: notMISPURL, key: keyUser, edit: func(c *config.Config) { c.CAFile = notMISPCA }, order: orderHTTP, wants: map[string]want{
			"http": {Fail, "does not answer like MISP", "Wazuh's dashboard also listens on 443"},
		}},
		// The key was never judged: not an auth failure.
		{name: "502 from the proxy in front of MISP", url: fakeURL, key: keyReadOnly, edit: withCA, fault: &mispfake.Fault{Status: http.StatusBadGateway},
			order: orderHTTP, wants: map[string]want{
				"http": {Fail, "the web server in front of MISP answered HTTP 502 (bad gateway), not MISP itself", "check that PHP-FPM (or the misp-core container) runs"},
			}},
		{name: "500 from MISP", url: fakeURL, key: keyReadOnly, edit: withCA, fault: &mispfake.Fault{Status: http.StatusInternalServerError},
			order: orderHTTP, wants: map[string]want{
				"http": {Fail, "MISP failed: misp unavailable: status 500: An Internal Error Has Occurred.", "/var/www/MISP/app/tmp/logs/error.log"},
			}},
		{name: "plain http", url: plain.URL, key: keyReadOnly, edit: func(c *config.Config) { c.AllowHTTP = true }, order: orderUser, wants: map[string]want{
			"tls":           {Warn, "plain http (allow_http)", "serve MISP over https"},
			"server health": noAdmin,
		}},
		{name: "no key configured", url: plain.URL, key: "", edit: func(c *config.Config) { c.AllowHTTP = true }, order: []string{"configuration", "dns", "tcp"}, wants: map[string]want{
			"configuration": {Fail, "api_key: empty", `"api_key_file"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faulty.ClearFaults()
			if tt.fault != nil {
				faulty.Inject(*tt.fault)
			}
			in := mispInput(t, tt.url, tt.key, tt.edit)
			in.Resolve = tt.resolve
			checkResults(t, Run(context.Background(), in), tt.order, tt.wants)
		})
	}
}

func TestWrite_Format(t *testing.T) {
	var b strings.Builder
	err := Write(&b, []Result{
		{Status: OK, Check: "dns", Detail: "misp resolves", Hint: "never shown"},
		{Status: Fail, Check: "tls", Detail: "bad\ncertificate", Hint: "set ca_file"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "OK    dns                   misp resolves\n" +
		"FAIL  tls                   bad certificate\n" +
		"      hint: set ca_file\n"
	if b.String() != want {
		t.Errorf("Write:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestKeyAccessOf: /users/view/me shows the role, /servers/getVersion the
// key (AuthKey::setUserData turns a read-only key's perm_* off); doctor
// tells read-only only from a permission the role grants and the key
// lacks, or from a role that cannot write at all.
func TestKeyAccessOf(t *testing.T) {
	var userRole, readOnlyRole, addOnlyRole, adminRole userView
	r := &userRole.Role // MISP's default "User" role
	r.PermAdd, r.PermModify, r.PermModifyOrg, r.PermTagger, r.PermSighting, r.PermGalaxyEditor, r.PermAnalystData = true, true, true, true, true, true, true
	addOnlyRole.Role.PermAdd = true // a custom role: may add events, nothing getVersion reports
	r = &adminRole.Role
	r.PermAdd, r.PermSync, r.PermSiteAdmin, r.PermSighting = true, true, true, true
	allOn := keyPerms{Sync: true, Sighting: true, GalaxyEditor: true, AnalystData: true}
	tests := []struct {
		name string
		me   userView
		key  keyPerms
		want keyAccess
	}{
		{"writable key of a User", userRole, keyPerms{Sighting: true, GalaxyEditor: true, AnalystData: true}, keyAccess{known: true, sighting: true}},
		{"read-only key of a User", userRole, keyPerms{}, keyAccess{readOnly: true, known: true}},
		{"key of the read-only role", readOnlyRole, keyPerms{}, keyAccess{readOnly: true, known: true}},
		{"key of a role getVersion says nothing of", addOnlyRole, keyPerms{}, keyAccess{}},
		{"site admin key", adminRole, allOn, keyAccess{known: true, siteAdmin: true, sighting: true}},
		{"read-only key of a site admin", adminRole, keyPerms{}, keyAccess{readOnly: true, known: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, keyAccessOf(tt.me, tt.key), cmp.AllowUnexported(keyAccess{})); diff != "" {
				t.Errorf("keyAccessOf (-want +got):\n%s", diff)
			}
		})
	}
}
