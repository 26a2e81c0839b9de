package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispclient"
)

const (
	// keyExpiryWarn is how early a key's expiry is flagged: long enough to
	// get a new key through a change process.
	keyExpiryWarn = 14 * 24 * time.Hour
	// certExpiryWarn is how early MISP's certificate expiry is flagged.
	certExpiryWarn = 30 * 24 * time.Hour
	// slowSearch flags a one-value search this slow: integratord waits for
	// every run, so each alert would wait at least this long.
	slowSearch = 2 * time.Second
	// lowRateLimit flags a role allowing fewer searches per 15 minutes:
	// every alert with an uncached indicator costs one.
	lowRateLimit = 100
	// probeValue is what the search check looks up: a reserved name
	// (RFC 2606) that no MISP holds, so the answer is small and harmless.
	probeValue = "doctor.custom-misp.invalid"
)

// hintLastResort is appended to every TLS hint.
const hintLastResort = `insecure_skip_verify is a last resort: it sends the API key to anyone who can intercept the connection.`

// MISP runs the MISP-side checks in order. A check that fails stops the
// checks that depend on it (no TLS check without a TCP connection).
func MISP(ctx context.Context, in Input) []Result {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Resolve == nil {
		in.Resolve = net.DefaultResolver.LookupHost
	}
	cfg := in.Config
	var rs []Result
	if in.ConfigErr != nil {
		rs = append(rs, fail("configuration", in.ConfigErr.Error(), configHint(in.ConfigErr)))
	} else {
		rs = append(rs, ok("configuration", in.Source))
	}
	u, err := url.Parse(cfg.MISPURL)
	if cfg.MISPURL == "" || err != nil || u.Hostname() == "" {
		return rs
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	via := ""
	if cfg.Proxy != "" {
		if pu, err := url.Parse(cfg.Proxy); err == nil && pu.Hostname() != "" {
			host, port, via = pu.Hostname(), pu.Port(), " (the proxy)"
			if port == "" {
				port = map[string]string{"https": "443", "http": "80", "socks5": "1080"}[pu.Scheme]
			}
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = config.DefaultTimeout
	}

	r, good := checkDNS(ctx, in, host, via, timeout)
	if rs = append(rs, r); !good {
		return rs
	}
	r, good = checkTCP(ctx, host, port, via, timeout)
	if rs = append(rs, r); !good {
		return rs
	}
	if in.Client == nil {
		return rs
	}

	// One getVersion call answers both "does TLS work" and "is the key
	// accepted", like the first request of an integratord run, and says
	// what the key itself may do.
	var ver struct {
		Version misp.FlexString `json:"version"`
		keyPerms
	}
	h, verErr := in.Client.Get(ctx, "/servers/getVersion", &ver)
	if u.Scheme == "https" {
		addr := net.JoinHostPort(u.Hostname(), portOf(u))
		r, good = checkTLS(ctx, in, verErr, addr, u.Hostname(), timeout)
		if rs = append(rs, r); !good {
			return rs
		}
	} else {
		rs = append(rs, warn("tls", "plain http (allow_http): the API key and every looked-up indicator cross the network in clear",
			"serve MISP over https and remove \"allow_http\" from <options>"))
	}
	r, good = checkAuth(verErr, string(ver.Version))
	if rs = append(rs, r); !good {
		return rs
	}
	rs = append(rs, checkKeyExpiry(h.Get("X-Auth-Key-Expiration"), in.Now()))

	me, meErr := viewMe(ctx, in.Client)
	access := keyAccessOf(me, ver.keyPerms)
	rs = append(rs, checkPermissions(me, meErr, access, in.KeyOverride, cfg.Sightings.Enabled))
	if cfg.Sightings.Enabled {
		rs = append(rs, checkSightings(cfg.Sightings, me, meErr, access))
	}
	rs = append(rs, checkSearch(ctx, in))

	switch {
	case meErr != nil:
		rs = append(rs, warn("server health", "not checked: /users/view/me did not say whether the key is a site admin's",
			"see the key permissions line above"))
	case !access.siteAdmin:
		rs = append(rs, warn("server health", "not checked: only a site admin's key can test MISP's Redis, its background jobs and workers, and list its feeds; this key's role cannot (as it should not for integratord)",
			"run custom-misp doctor --key-file FILE with a file holding a site admin's key (root only, mode 0600; never in ossec.conf)"))
	default:
		rs = append(rs, health(ctx, in, me)...)
	}
	return rs
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

func configHint(err error) string {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		switch fe.Field {
		case "api_key":
			return `put the key in a file only root and group wazuh can read (install -o root -g wazuh -m 0640) and name it in "api_key_file" in <options>; for a one-off run export CUSTOM_MISP_API_KEY`
		case "hook_url":
			return "set <hook_url> to the MISP base URL with its port if not 443, e.g. https://misp.example.org:8443 (or pass --url)"
		case "--key-file":
			return "--key-file names a file that holds only the key"
		}
	}
	return `fix the <integration> block or its <options> (README "Options"); doctor checks what it can without a working configuration`
}

func checkDNS(ctx context.Context, in Input, host, via string, timeout time.Duration) (Result, bool) {
	if net.ParseIP(host) != nil {
		return ok("dns", host+via+" is an address: nothing to resolve"), true
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addrs, err := in.Resolve(ctx, host)
	if err != nil {
		return fail("dns", fmt.Sprintf("cannot resolve %s%s: %v", host, via, err),
			"check the name in hook_url and this manager's resolver (/etc/resolv.conf); if MISP has no DNS name, add it to /etc/hosts or use its address (its certificate must then name that address)"), false
	}
	if len(addrs) > 3 {
		addrs = append(addrs[:3], "…")
	}
	return ok("dns", fmt.Sprintf("%s%s resolves to %s", host, via, strings.Join(addrs, ", "))), true
}

func checkTCP(ctx context.Context, host, port, via string, timeout time.Duration) (Result, bool) {
	addr := net.JoinHostPort(host, port)
	d := net.Dialer{Timeout: timeout}
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", addr)
	took := time.Since(start)
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail("tcp", fmt.Sprintf("connection to %s%s refused", addr, via),
			fmt.Sprintf("nothing listens on port %s of %s: check the port in hook_url. When MISP shares a host with Wazuh's dashboard (which holds 443), it runs on another port, and hook_url must say so: https://misp.example.org:8443", port, host)), false
	case errors.As(err, &netErr) && netErr.Timeout():
		return fail("tcp", fmt.Sprintf("no answer from %s%s within %s", addr, via, timeout),
			fmt.Sprintf("a firewall drops the connection: allow TCP port %s from this manager to %s", port, host)), false
	case err != nil:
		return fail("tcp", fmt.Sprintf("cannot connect to %s%s: %v", addr, via, err),
			fmt.Sprintf("check the route from this manager to %s (ip route get, firewall)", host)), false
	}
	conn.Close()
	return ok("tcp", fmt.Sprintf("connected to %s%s in %s", addr, via, millis(took))), true
}

func checkTLS(ctx context.Context, in Input, callErr error, addr, host string, timeout time.Duration) (Result, bool) {
	now := in.Now()
	var me *misp.Error
	errors.As(callErr, &me)
	if me != nil && me.Class == misp.ClassTLS {
		chain := mispclient.CertificateChain(callErr)
		if len(chain) == 0 && in.Config.Proxy == "" {
			chain = peerChain(ctx, addr, host, timeout)
		}
		detail, hint := tlsFailure(callErr, me.Message, chain, host, addr, in.Home, now)
		return fail("tls", detail, hint), false
	}
	if me != nil && me.Status == 0 && me.Class != misp.ClassConfig {
		return fail("tls", "connected, but no HTTPS answer: "+me.Message,
			"the port in hook_url accepted the connection but did not answer HTTPS in time: check that it is MISP's HTTPS port and that MISP is not overloaded"), false
	}
	// The call got an HTTP answer, so TLS worked. A second handshake
	// (no proxy only) reads the certificate for its expiry.
	var chain []*tlsCert
	if in.Config.Proxy == "" {
		for _, c := range peerChain(ctx, addr, host, timeout) {
			chain = append(chain, &tlsCert{c})
		}
	}
	if in.Config.InsecureSkipVerify {
		d := "certificate not verified (insecure_skip_verify)"
		if len(chain) > 0 {
			d += ": " + chain[0].describe(now)
		}
		return warn("tls", d, `set "ca_file" in <options> to the certificate of the CA that signed MISP's certificate (for a self-signed one, the certificate itself) and remove insecure_skip_verify. `+hintLastResort), true
	}
	if len(chain) == 0 {
		return ok("tls", "certificate verified"), true
	}
	leaf := chain[0]
	d := "certificate verified: " + leaf.describe(now)
	if leaf.NotAfter.Sub(now) < certExpiryWarn {
		return warn("tls", d, "renew MISP's certificate before it expires: every lookup fails with a TLS error from then on"), true
	}
	return ok("tls", d), true
}

// checkAuth judges the answer to getVersion once TLS worked: a refused
// key is the "auth" check's; any other failure is the "http" check's, as
// the key was never judged.
func checkAuth(err error, version string) (Result, bool) {
	var me *misp.Error
	if err != nil && !errors.As(err, &me) {
		return fail("http", err.Error(), "run again with a longer --timeout; if it persists, check MISP's web server logs"), false
	}
	if me != nil {
		switch {
		case me.Class == misp.ClassAuth:
			d, h := authFailure(me)
			return fail("auth", d, h), false
		case me.Class == misp.ClassBadResponse:
			return fail("http", "the server at hook_url does not answer like MISP: "+me.Error(),
				"check hook_url: the scheme, host and port of MISP itself, without a path (Wazuh's dashboard also listens on 443)"), false
		case me.Status == http.StatusBadGateway || me.Status == http.StatusServiceUnavailable || me.Status == http.StatusGatewayTimeout:
			return fail("http", fmt.Sprintf("the web server in front of MISP answered HTTP %d (%s), not MISP itself", me.Status, me.Message),
				"the reverse proxy (nginx, Apache, a load balancer) gets no answer from MISP's PHP: check that PHP-FPM (or the misp-core container) runs, then the proxy's error log"), false
		case me.Status != 0:
			return fail("http", "MISP failed: "+me.Error(), "MISP is up but failing: check its web server and PHP logs (/var/www/MISP/app/tmp/logs/error.log)"), false
		}
		return fail("http", me.Error(), "run again with a longer --timeout; if it persists, check MISP's load and its web server logs"), false
	}
	if version == "" {
		return fail("http", "the answer to /servers/getVersion has no MISP version",
			"check hook_url: the scheme, host and port of MISP itself, without a path"), false
	}
	return ok("auth", "key accepted by MISP "+version), true
}

// authFailure maps MISP's 403 reasons (AppController.php, word for word in
// the fake and the captures) to what happened and what to do.
func authFailure(e *misp.Error) (detail, hint string) {
	reason := fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	m := strings.ToLower(e.Message)
	switch {
	case strings.Contains(m, "expired"):
		// Only with Security.authkey_keep_session; usually an expired key
		// gets the generic answer below.
		return "the key has expired (" + reason + ")",
			`in MISP, add a new auth key for the same user (Administration > List Auth Keys > Add authentication key, tick "Read only") and replace the key in api_key_file`
	case strings.Contains(m, "ip address"):
		return "the key may not be used from this manager's address (" + reason + ")",
			`in MISP, edit the auth key and add this manager's address, as MISP sees it after any NAT or proxy, to "Allowed IPs"`
	case strings.Contains(m, "disabled"):
		return "the key's user account is disabled (" + reason + ")",
			`a MISP site admin re-enables the user (Administration > List Users > Edit, untick "Disabled")`
	case strings.Contains(m, "user role"):
		return "the key's role may not use the API search (" + reason + ")",
			"give the user a role with a rate limit above 0 (Administration > List Roles)"
	case strings.Contains(m, "permission"):
		return "the key lacks a permission (" + reason + ")", "use a key whose role may read events"
	}
	// MISP's key lookup skips expired keys and roles without perm_auth, so
	// all of these end here with one message (tb_auth_*_getVersion).
	return "MISP refused the key without saying why (" + reason + "): MISP gives this one answer to a mistyped key, a deleted or revoked key, an expired key and a key whose role has no API access",
		`as a MISP site admin, tell them apart in Administration > List Auth Keys, which shows each key by its first and last four characters (compare them with api_key_file): no such key, so it is mistyped or was deleted: copy it again or add a new one (only the 40 characters, no quotes, no "Bearer"); its Expiration is past: add a new key; the key is there and valid: its user's role lacks "Auth key access" (Administration > List Roles). A disabled user or an address outside the key's Allowed IPs would have been named in MISP's answer`
}

func checkKeyExpiry(header string, now time.Time) Result {
	if header == "" {
		return ok("key expiry", "the key has no expiration date")
	}
	t, err := time.Parse(time.RFC3339, header)
	if err != nil {
		return warn("key expiry", fmt.Sprintf("unreadable X-Auth-Key-Expiration %q", short(header, 40)),
			"check the key's expiration in MISP (Administration > List Auth Keys)")
	}
	when := t.UTC().Format("2006-01-02 15:04 UTC")
	switch left := t.Sub(now); {
	case left <= 0:
		return fail("key expiry", "the key expired on "+when,
			"add a new auth key in MISP and replace the key in api_key_file")
	case left < keyExpiryWarn:
		return warn("key expiry", fmt.Sprintf("the key expires on %s (%s)", when, until(now, t)),
			"add a new auth key in MISP before then and replace the key in api_key_file: every lookup fails from the moment it expires")
	}
	return ok("key expiry", fmt.Sprintf("the key expires on %s (%s)", when, until(now, t)))
}

// userView is the part of /users/view/me the checks read. Its Role is
// the role's, not the key's: a read-only key shows the same as a writable
// one.
type userView struct {
	User struct {
		ID    misp.FlexString `json:"id"`
		Email misp.FlexString `json:"email"`
	} `json:"User"`
	Role struct {
		Name             misp.FlexString `json:"name"`
		PermAdd          misp.FlexBool   `json:"perm_add"`
		PermModify       misp.FlexBool   `json:"perm_modify"`
		PermModifyOrg    misp.FlexBool   `json:"perm_modify_org"`
		PermPublish      misp.FlexBool   `json:"perm_publish"`
		PermDelegate     misp.FlexBool   `json:"perm_delegate"`
		PermSync         misp.FlexBool   `json:"perm_sync"`
		PermAdmin        misp.FlexBool   `json:"perm_admin"`
		PermSiteAdmin    misp.FlexBool   `json:"perm_site_admin"`
		PermTagger       misp.FlexBool   `json:"perm_tagger"`
		PermSighting     misp.FlexBool   `json:"perm_sighting"`
		PermGalaxyEditor misp.FlexBool   `json:"perm_galaxy_editor"`
		PermAnalystData  misp.FlexBool   `json:"perm_analyst_data"`
		EnforceRateLimit misp.FlexBool   `json:"enforce_rate_limit"`
		RateLimitCount   misp.FlexString `json:"rate_limit_count"`
	} `json:"Role"`
	Organisation struct {
		Name misp.FlexString `json:"name"`
	} `json:"Organisation"`
}

func viewMe(ctx context.Context, c *mispclient.Client) (userView, error) {
	var me userView
	_, err := c.Get(ctx, "/users/view/me", &me)
	return me, err
}

// keyPerms are the permissions /servers/getVersion reports: the key's
// own, so all off for a read-only key. /users/view/me shows the role's,
// the same for every key of the user (captured: tb_getVersion_readonly,
// tb_getVersion_writable, tb_users_view_me_*).
type keyPerms struct {
	Sync         misp.FlexBool `json:"perm_sync"`
	Sighting     misp.FlexBool `json:"perm_sighting"`
	GalaxyEditor misp.FlexBool `json:"perm_galaxy_editor"`
	AnalystData  misp.FlexBool `json:"perm_analyst_data"`
}

// keyAccess is what doctor can tell of a key's power.
type keyAccess struct {
	readOnly  bool // the key cannot write
	known     bool // readOnly is known, not guessed
	siteAdmin bool // the key acts as a site admin
	sighting  bool // the key may add sightings
}

// keyAccessOf combines the two answers. A read-only key keeps none of the
// role's perm_* but perm_auth and perm_audit (AuthKey::setUserData), so a
// permission the role grants and getVersion shows off proves the key
// read-only. When the role grants none of the four getVersion reports,
// only a role that cannot write at all settles it.
func keyAccessOf(me userView, k keyPerms) keyAccess {
	r := me.Role
	a := keyAccess{sighting: bool(k.Sighting)}
	switch {
	case bool(k.Sync || k.Sighting || k.GalaxyEditor || k.AnalystData):
		a.known = true
	case bool(r.PermSync || r.PermSighting || r.PermGalaxyEditor || r.PermAnalystData) || me.roleReadOnly():
		a.readOnly, a.known = true, true
	}
	a.siteAdmin = bool(r.PermSiteAdmin) && !a.readOnly
	return a
}

// roleReadOnly reports whether the role itself grants no write
// permission: every perm_* but perm_auth and perm_audit is off.
func (me userView) roleReadOnly() bool {
	r := me.Role
	for _, p := range []misp.FlexBool{r.PermAdd, r.PermModify, r.PermModifyOrg, r.PermPublish, r.PermDelegate,
		r.PermSync, r.PermAdmin, r.PermSiteAdmin, r.PermTagger, r.PermSighting, r.PermGalaxyEditor, r.PermAnalystData} {
		if p {
			return false
		}
	}
	return true
}

func checkPermissions(me userView, err error, a keyAccess, override, sightings bool) Result {
	if err != nil {
		return warn("key permissions", "could not read /users/view/me: "+err.Error(),
			"the lookups may still work; check the user's role in MISP (Administration > List Users)")
	}
	yesNo := map[bool]string{true: "yes", false: "no"}
	readOnly := yesNo[a.readOnly]
	if !a.known {
		readOnly = "cannot tell"
	}
	limit := "none"
	n, _ := strconv.Atoi(string(me.Role.RateLimitCount))
	if me.Role.EnforceRateLimit {
		limit = fmt.Sprintf("%d searches per 15 min", n)
	}
	d := fmt.Sprintf("user %s (%s), role %q: read-only %s, rate limit %s, may add sightings %s",
		me.User.Email, me.Organisation.Name, me.Role.Name, readOnly, limit, yesNo[a.sighting])
	// A key from --key-file is judged like any other: doctor cannot know
	// whether it is meant for integratord, so it says what the key is
	// right for.
	adminHint := `integratord needs only to read: a site admin's key on the manager can change anything in MISP. Add a read-only auth key for a dedicated user ("Read only" ticked) and use that`
	if override {
		adminHint = `a site admin's key is right for doctor's server health and feeds fetch, from a root-only file (mode 0600); never give it to integratord (api_key_file, <api_key>), which needs only a read-only key`
	}
	switch {
	case bool(me.Role.EnforceRateLimit) && n <= 0:
		return fail("key permissions", d, "the role's rate limit is 0, which forbids API searches: give the user a role with a rate limit above 0")
	case bool(me.Role.EnforceRateLimit) && n < lowRateLimit:
		return warn("key permissions", d, "every alert with an indicator the cache does not know costs one search: raise the role's rate limit, or a burst of alerts ends in rate_limited errors")
	case a.siteAdmin:
		return warn("key permissions", d, adminHint)
	case !a.known:
		return warn("key permissions", d, `MISP reports per key only perm_sync, perm_sighting, perm_galaxy_editor and perm_analyst_data, and this role grants none of them: check in MISP (Administration > List Auth Keys) that "Read only" is ticked for this key`)
	case !a.readOnly && sightings && a.sighting:
		// Sightings write: a read-only key cannot add them.
		return ok("key permissions", d+"; not read-only, as sightings need")
	case !a.readOnly:
		return warn("key permissions", d, `integratord needs only to read: add a read-only auth key (tick "Read only" when adding it) and use that instead`)
	}
	return ok("key permissions", d)
}

// checkSightings says, when sightings are enabled, whether MISP lets this
// key add them. /servers/getVersion reports the key's own perm_sighting:
// off for a read-only key and for a role without it, both of which MISP
// answers with 403 "You do not have permission to use this functionality."
// on /sightings/add (captured: tb_getVersion_no_perm_sighting,
// tb_sightings_add_readonly_key, tb_sightings_add_no_perm_sighting).
// /users/view/me, which shows the role, says which of the two it is.
func checkSightings(s config.Sightings, me userView, meErr error, a keyAccess) Result {
	if a.sighting {
		return ok("sightings", fmt.Sprintf("enabled (window %s): MISP reports perm_sighting for this key, so it may add them", s.Window))
	}
	d := "enabled, but MISP reports no perm_sighting for this key: it answers every sighting with 403 \"You do not have permission to use this functionality.\""
	switch {
	case meErr == nil && !bool(me.Role.PermSighting):
		d += fmt.Sprintf(" (the user's role %q lacks perm_sighting)", string(me.Role.Name))
	case a.readOnly && a.known:
		d += " (it is a read-only auth key: MISP drops every permission of those but perm_auth and perm_audit)"
	}
	return fail("sightings", d, `sightings need an auth key that is not read-only, of a user whose role has perm_sighting ("Sighting Creator" in Administration > List Roles, e.g. the stock role "User"); or set "sightings": {"enabled": false}. Matches are still enriched meanwhile`)
}

func checkSearch(ctx context.Context, in Input) Result {
	cfg := in.Config
	q := cfg.Query()
	q.Values, q.Types, q.Limit = []string{probeValue}, ioc.Domain.MISPTypes(), 1
	start := time.Now()
	_, err := in.Client.Search(ctx, q)
	took := time.Since(start)
	var me *misp.Error
	switch {
	case errors.As(err, &me) && me.Class == misp.ClassRateLimited:
		return warn("search", "rate limited: "+me.Error(), "MISP's window is 15 minutes: wait, then raise the role's rate limit if this recurs")
	case errors.As(err, &me) && me.Class == misp.ClassAuth:
		d, h := authFailure(me)
		return fail("search", d, h)
	case err != nil:
		return fail("search", "restSearch failed: "+err.Error(), "MISP answers getVersion but not searches: check its PHP and MariaDB logs, and the options tags/exclude_tags")
	case took > slowSearch:
		return warn("search", fmt.Sprintf("restSearch (limit 1, configured filters) took %s", millis(took)),
			"integratord waits for every run, so every alert waits this long: check MISP's load (PHP-FPM workers, MariaDB), and keep the cache on")
	}
	return ok("search", fmt.Sprintf("restSearch (limit 1, configured filters) answered in %s", millis(took)))
}

// health checks what feed fetching and MISP itself need besides the
// database: MISP's Redis, the background-jobs switch and the Redis and
// workers behind it. Only a site admin's key can: settings, workers and
// the Redis probe are site-admin endpoints.
func health(ctx context.Context, in Input, me userView) []Result {
	get := func(name string) (string, error) { return setting(ctx, in.Client, name) }
	var rs []Result
	rs = append(rs, mispRedisCheck(ctx, in.Client, string(me.User.ID), get))
	bg, bgErr := get("MISP.background_jobs")
	sbj, sbjErr := get("SimpleBackgroundJobs.enabled")
	on := func(v string) bool { return v == "true" || v == "1" }
	switch {
	case bgErr != nil || sbjErr != nil:
		rs = append(rs, warn("background jobs", "could not read MISP.background_jobs and SimpleBackgroundJobs.enabled: "+errors.Join(bgErr, sbjErr).Error(),
			"check Administration > Server Settings > Diagnostics in MISP"))
	case !on(bg):
		rs = append(rs, warn("background jobs", fmt.Sprintf("MISP.background_jobs is %q: MISP downloads feeds inside each fetch request, so custom-misp feeds fetch waits for the whole download (mind --timeout), and MISP 2.5.1 answers \"No feed enabled.\" when every enabled feed failed and a 500 when a feed brought new events", bg),
			`turn MISP's background jobs on (MISP.background_jobs true, SimpleBackgroundJobs per MISP's background-jobs migration guide, workers under supervisord), or let the feeds-fetch wodle fetch feed by feed (--feed ID) with a --timeout long enough for a download`))
		return append(rs,
			ok("jobs redis", "not used: MISP.background_jobs is false"),
			ok("workers", "not used: MISP.background_jobs is false"),
			feedsCheck(ctx, in))
	case !on(sbj):
		rs = append(rs, warn("background jobs", fmt.Sprintf("MISP.background_jobs is true, SimpleBackgroundJobs.enabled is %q: MISP uses its deprecated CakeResque workers", sbj),
			`follow MISP's background-jobs migration guide, then set SimpleBackgroundJobs.enabled to true (cake Admin setSetting "SimpleBackgroundJobs.enabled" true)`))
	default:
		rs = append(rs, ok("background jobs", "MISP.background_jobs and SimpleBackgroundJobs.enabled are true: feed fetches are queued for the workers"))
	}
	rs = append(rs, workersCheck(ctx, in.Client, get)...)
	return append(rs, feedsCheck(ctx, in))
}

// redisAt says where a Redis setting pair points.
func redisAt(hostSetting, portSetting string, get func(string) (string, error)) string {
	host, err := get(hostSetting)
	if err != nil {
		return fmt.Sprintf("%s unreadable (%v)", hostSetting, err)
	}
	port, err := get(portSetting)
	if err != nil || port == "" {
		port = "?"
	}
	if host == "" {
		host = `""`
	}
	return fmt.Sprintf("%s is %s (port %s)", hostSetting, host, port)
}

// hintRedis is what to do when MISP cannot reach a Redis.
func hintRedis(hostSetting string) string {
	return fmt.Sprintf(`start Redis, or point MISP at it (in containers the Redis service's name, not 127.0.0.1): sudo -u www-data /var/www/MISP/app/Console/cake Admin setSetting "%s" <redis host>`, hostSetting)
}

// mispRedisCheck tests MISP's own Redis (MISP.redis_host), which MISP
// uses for caches, rate limits and more, falling back silently where it
// can. GET /admin/users/monitor/<own id> only reads a set in that Redis,
// with no fallback: 500 means MISP could not reach it (captured:
// tb_redisdown_admin_users_monitor).
func mispRedisCheck(ctx context.Context, c *mispclient.Client, userID string, get func(string) (string, error)) Result {
	where := redisAt("MISP.redis_host", "MISP.redis_port", get)
	var answer json.RawMessage
	_, err := c.Get(ctx, "/admin/users/monitor/"+url.PathEscape(userID), &answer)
	var me *misp.Error
	switch {
	case err == nil:
		return ok("MISP redis", where+": Redis answers")
	case errors.As(err, &me) && me.Status == http.StatusInternalServerError:
		return fail("MISP redis", where+": MISP cannot reach it (GET /admin/users/monitor, which reads MISP's Redis, failed with MISP's internal error)",
			hintRedis("MISP.redis_host")+`; without it MISP enforces no rate limit, loses its caches and cannot queue background jobs`)
	}
	return warn("MISP redis", where+": connection not tested: "+err.Error(), "check Administration > Server Settings > Diagnostics (Redis) in MISP")
}

// workersCheck tests the background-jobs Redis and the workers through
// /servers/getWorkers: MISP sizes its queues in that Redis.
func workersCheck(ctx context.Context, c *mispclient.Client, get func(string) (string, error)) []Result {
	where := redisAt("SimpleBackgroundJobs.redis_host", "SimpleBackgroundJobs.redis_port", get)
	w, err := BackgroundWorkers(ctx, c)
	switch {
	case err != nil:
		return []Result{
			warn("jobs redis", where+": not tested: /servers/getWorkers failed: "+err.Error(),
				"MISP's error.log says why (its Redis, supervisord, or a missing Supervisor client library); Administration > Server Settings > Workers shows the same"),
			warn("workers", "not checked: /servers/getWorkers failed", "see the jobs redis line above"),
		}
	case !w.Enabled:
		return []Result{ok("jobs redis", "not used: MISP says background jobs are not enabled"), ok("workers", "not used: MISP says background jobs are not enabled")}
	case !w.Redis:
		return []Result{
			fail("jobs redis", where+": MISP cannot reach it (/servers/getWorkers could not list the workers or size the queues)",
				hintRedis("SimpleBackgroundJobs.redis_host")+`; until then custom-misp feeds fetch fails with MISP's "An Internal Error Has Occurred."`),
			warn("workers", "not checked: MISP cannot list them without its background-jobs Redis", "see the jobs redis line above"),
		}
	}
	redis := ok("jobs redis", fmt.Sprintf("%s: Redis answers; %d job(s) waiting on the default queue", where, w.Waiting))
	if !w.DefaultLive {
		supervisor := ""
		if !w.Supervisor {
			supervisor = "; MISP cannot reach supervisord"
		}
		return []Result{redis, fail("workers", fmt.Sprintf("no live worker serves MISP's default queue%s: feed fetches are answered \"Pull queued for background execution.\" and never run", supervisor),
			hintNoWorker)}
	}
	return []Result{redis, ok("workers", "a live worker serves the default queue, where feed fetches go")}
}

func feedsCheck(ctx context.Context, in Input) Result {
	feeds, err := Feeds(ctx, in.Client)
	if err != nil {
		return warn("feeds", "could not list feeds: "+err.Error(), "check Sync Actions > Feeds in MISP")
	}
	var enabled []string
	var newest time.Time
	for _, f := range feeds {
		if !f.Enabled {
			continue
		}
		enabled = append(enabled, f.Name)
		if f.CachedAt.After(newest) {
			newest = f.CachedAt
		}
	}
	schedule := "; no command wodle in ossec.conf runs custom-misp feeds fetch"
	if w, found := feedsWodle(in.Conf); found {
		schedule = fmt.Sprintf("; wodle %q runs feeds fetch every %s", w.Tag, w.Interval)
	}
	if len(enabled) == 0 {
		return warn("feeds", fmt.Sprintf("none of %d feeds is enabled%s", len(feeds), schedule),
			"without feeds MISP holds only what people add by hand: enable some (Sync Actions > Feeds, e.g. CIRCL OSINT), then fetch them daily with ossec-snippets/feeds-fetch-wodle.xml")
	}
	cached := "no feed cache built yet"
	if !newest.IsZero() {
		cached = "newest feed cache " + ago(in.Now(), newest)
	}
	return ok("feeds", fmt.Sprintf("%d of %d enabled (%s); %s (MISP records no fetch time)%s",
		len(enabled), len(feeds), short(strings.Join(enabled, ", "), 120), cached, schedule))
}

// feedsWodle finds the command wodle that runs `custom-misp feeds fetch`.
func feedsWodle(c *config.OssecConf) (config.CommandWodle, bool) {
	if c == nil {
		return config.CommandWodle{}, false
	}
	for _, w := range c.Commands {
		if strings.Contains(w.Command, "custom-misp") && strings.Contains(w.Command, "feeds fetch") && w.Disabled != "yes" {
			return w, true
		}
	}
	return config.CommandWodle{}, false
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// millis shows a latency to the millisecond.
func millis(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1ms"
	}
	return d.Round(time.Millisecond).String()
}
