package mispfake

import (
	"fmt"
	"net/http"
	"strconv"
)

// The captured instance: its uuid, its two organisations and the ids of
// its two users (the site admin; everyone else).
const (
	serverUUID   = "41531d37-0023-4780-b937-3675a9b4a41f"
	adminUserID  = "1"
	otherUserID  = "2"
	adminOrgID   = "1"
	adminOrgUUID = "351c7264-3374-45ba-8bae-9333e2dee1c5"
)

// organisation is the Organisation block of /users/view/me.
type organisation struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	DateCreated        string  `json:"date_created"`
	DateModified       string  `json:"date_modified"`
	Description        *string `json:"description"`
	Type               string  `json:"type"`
	Nationality        string  `json:"nationality"`
	Sector             string  `json:"sector"`
	CreatedBy          string  `json:"created_by"`
	UUID               string  `json:"uuid"`
	Contacts           *string `json:"contacts"`
	Local              bool    `json:"local"`
	RestrictedToDomain *string `json:"restricted_to_domain"`
	Landingpage        *string `json:"landingpage"`
}

func strp(s string) *string { return &s }

// organisations returns the captured instance's organisations, or a
// made-up one for any other id.
func organisationFor(id string) organisation {
	switch id {
	case "1":
		return organisation{ID: "1", Name: "TESTORG", DateCreated: "2026-11-27 15:33:58", DateModified: "2026-11-27 15:33:58",
			Description: strp("Automatically generated admin organisation"), Type: "ADMIN", CreatedBy: "0",
			UUID: adminOrgUUID, Local: true}
	case "2":
		return organisation{ID: "2", Name: "PARTNERORG", DateCreated: "2026-11-27 15:37:59", DateModified: "2026-11-27 15:37:59",
			CreatedBy: "1", UUID: "6a62f3d6-75fd-4fde-a372-e0488dff39b8", Local: true}
	}
	return organisation{ID: id, Name: "ORG" + id, DateCreated: "2026-11-27 15:33:58", DateModified: "2026-11-27 15:33:58",
		CreatedBy: "1", UUID: stableUUID("org", id), Local: true}
}

func builtinOrgs() []*org {
	var out []*org
	for _, id := range []string{"1", "2"} {
		o := organisationFor(id)
		out = append(out, &org{id: o.ID, name: o.Name, uuid: o.UUID, local: o.Local})
	}
	return out
}

// permissions are the role's perm_* flags.
type permissions struct {
	Add, Modify, ModifyOrg, Publish, Delegate, Sync, Admin, Audit, Auth, SiteAdmin    bool
	RegexpAccess, Tagger, Template, SharingGroup, TagEditor, Sighting, ObjectTemplate bool
	PublishZMQ, PublishKafka, Decaying, GalaxyEditor, Warninglist, ViewFeedCorr       bool
	AnalystData, SkipOTP                                                              bool
}

// perms are what a key may do: its role's permissions, of which a
// read-only key keeps only perm_auth and perm_audit
// (AuthKey::setUserData). /servers/getVersion shows these.
func perms(k Key) permissions {
	if k.ReadOnly {
		return permissions{Audit: true, Auth: true}
	}
	return rolePerms(k)
}

// rolePerms gives the captured "admin" role to site admins and the
// captured "User" role to everyone else. /users/view/me shows these, also
// for a read-only key: it reads the role from the database, not the
// limited copy of the logged-in user (captured: tb_users_view_me_readonly
// and tb_users_view_me_writable are the same).
func rolePerms(k Key) permissions {
	var p permissions
	if k.SiteAdmin {
		p = permissions{Add: true, Modify: true, ModifyOrg: true, Publish: true, Delegate: true, Sync: true, Admin: true,
			Audit: true, Auth: true, SiteAdmin: true, RegexpAccess: true, Tagger: true, Template: true, SharingGroup: true,
			TagEditor: true, Sighting: true, ObjectTemplate: true, PublishZMQ: true, PublishKafka: true, Decaying: true,
			GalaxyEditor: true, Warninglist: true, ViewFeedCorr: true, AnalystData: true}
	} else {
		p = permissions{Add: true, Modify: true, ModifyOrg: true, Audit: true, Auth: true, Tagger: true, Sighting: true,
			Decaying: true, GalaxyEditor: true, AnalystData: true}
	}
	if k.ReadOnlyRole {
		p = permissions{Audit: true, Auth: true}
	}
	p.Auth = p.Auth && !k.NoAPI
	return p
}

type role struct {
	ID                    string  `json:"id"`
	Name                  string  `json:"name"`
	Created               string  `json:"created"`
	Modified              string  `json:"modified"`
	PermAdd               bool    `json:"perm_add"`
	PermModify            bool    `json:"perm_modify"`
	PermModifyOrg         bool    `json:"perm_modify_org"`
	PermPublish           bool    `json:"perm_publish"`
	PermDelegate          bool    `json:"perm_delegate"`
	PermSync              bool    `json:"perm_sync"`
	PermAdmin             bool    `json:"perm_admin"`
	PermAudit             bool    `json:"perm_audit"`
	PermAuth              bool    `json:"perm_auth"`
	PermSiteAdmin         bool    `json:"perm_site_admin"`
	PermRegexpAccess      bool    `json:"perm_regexp_access"`
	PermTagger            bool    `json:"perm_tagger"`
	PermTemplate          bool    `json:"perm_template"`
	PermSharingGroup      bool    `json:"perm_sharing_group"`
	PermTagEditor         bool    `json:"perm_tag_editor"`
	PermSighting          bool    `json:"perm_sighting"`
	PermObjectTemplate    bool    `json:"perm_object_template"`
	DefaultRole           bool    `json:"default_role"`
	MemoryLimit           *string `json:"memory_limit"`
	MaxExecutionTime      *string `json:"max_execution_time"`
	RestrictedToSiteAdmin bool    `json:"restricted_to_site_admin"`
	PermPublishZMQ        bool    `json:"perm_publish_zmq"`
	PermPublishKafka      bool    `json:"perm_publish_kafka"`
	PermDecaying          bool    `json:"perm_decaying"`
	EnforceRateLimit      bool    `json:"enforce_rate_limit"`
	RateLimitCount        string  `json:"rate_limit_count"`
	PermGalaxyEditor      bool    `json:"perm_galaxy_editor"`
	PermWarninglist       bool    `json:"perm_warninglist"`
	PermViewFeedCorr      bool    `json:"perm_view_feed_correlations"`
	PermAnalystData       bool    `json:"perm_analyst_data"`
	PermSkipOTP           bool    `json:"perm_skip_otp"`
	Permission            string  `json:"permission"`
	PermissionDescription string  `json:"permission_description"`
}

func roleFor(k Key) role {
	p := rolePerms(k)
	r := role{ID: "3", Name: "User", DefaultRole: true}
	if k.SiteAdmin {
		r = role{ID: "1", Name: "admin"}
	}
	if k.ReadOnlyRole {
		r = role{ID: "6", Name: "Read Only"}
	}
	r.Created, r.Modified = "2026-11-27 15:33:30", "2026-11-27 15:33:30"
	r.PermAdd, r.PermModify, r.PermModifyOrg, r.PermPublish = p.Add, p.Modify, p.ModifyOrg, p.Publish
	r.PermDelegate, r.PermSync, r.PermAdmin, r.PermAudit, r.PermAuth = p.Delegate, p.Sync, p.Admin, p.Audit, p.Auth
	r.PermSiteAdmin, r.PermRegexpAccess, r.PermTagger, r.PermTemplate = p.SiteAdmin, p.RegexpAccess, p.Tagger, p.Template
	r.PermSharingGroup, r.PermTagEditor, r.PermSighting, r.PermObjectTemplate = p.SharingGroup, p.TagEditor, p.Sighting, p.ObjectTemplate
	r.PermPublishZMQ, r.PermPublishKafka, r.PermDecaying = p.PublishZMQ, p.PublishKafka, p.Decaying
	r.PermGalaxyEditor, r.PermWarninglist, r.PermViewFeedCorr = p.GalaxyEditor, p.Warninglist, p.ViewFeedCorr
	r.PermAnalystData, r.PermSkipOTP = p.AnalystData, p.SkipOTP
	r.EnforceRateLimit, r.RateLimitCount = k.RateLimit > 0, strconv.Itoa(k.RateLimit)
	// Role::afterFind derives "permission" from the add/modify/publish flags.
	switch {
	case p.Publish:
		r.Permission, r.PermissionDescription = "3", "publish"
	case p.ModifyOrg:
		r.Permission, r.PermissionDescription = "2", "manage_org"
	case p.Modify:
		r.Permission, r.PermissionDescription = "1", "manage_own"
	default:
		r.Permission, r.PermissionDescription = "0", "read_only"
	}
	return r
}

type user struct {
	ID                   string  `json:"id"`
	Password             string  `json:"password"`
	OrgID                string  `json:"org_id"`
	Email                string  `json:"email"`
	Autoalert            bool    `json:"autoalert"`
	InvitedBy            string  `json:"invited_by"`
	GPGKey               *string `json:"gpgkey"`
	CertifPublic         string  `json:"certif_public"`
	NidsSID              string  `json:"nids_sid"`
	Termsaccepted        bool    `json:"termsaccepted"`
	Newsread             string  `json:"newsread"`
	RoleID               string  `json:"role_id"`
	ChangePw             bool    `json:"change_pw"`
	Contactalert         bool    `json:"contactalert"`
	Disabled             bool    `json:"disabled"`
	Expiration           *string `json:"expiration"`
	CurrentLogin         string  `json:"current_login"`
	LastLogin            string  `json:"last_login"`
	ForceLogout          bool    `json:"force_logout"`
	DateCreated          *string `json:"date_created"`
	DateModified         string  `json:"date_modified"`
	Sub                  *string `json:"sub"`
	ExternalAuthRequired bool    `json:"external_auth_required"`
	ExternalAuthKey      *string `json:"external_auth_key"`
	LastAPIAccess        string  `json:"last_api_access"`
	NotificationDaily    bool    `json:"notification_daily"`
	NotificationWeekly   bool    `json:"notification_weekly"`
	NotificationMonthly  bool    `json:"notification_monthly"`
	TOTP                 string  `json:"totp"`
	HOTPCounter          *string `json:"hotp_counter"`
	LastPwChange         *string `json:"last_pw_change"`
	TOTPIsSet            string  `json:"totp_is_set"`
}

// userFor fills the User block from the captured admin (site admins) or
// captured second user (everyone else), with the key's email and org.
func userFor(k Key, roleID string) user {
	u := user{ID: adminUserID, InvitedBy: "0", NidsSID: "4000000", DateModified: "1795793648", LastAPIAccess: "1795793648"}
	if !k.SiteAdmin {
		u = user{ID: otherUserID, InvitedBy: "1", GPGKey: strp(""), NidsSID: "8246906", DateCreated: strp("1795793880"),
			DateModified: "1795793887", ExternalAuthKey: strp(""), LastAPIAccess: "1795793887", LastPwChange: strp("1795793880")}
	}
	u.Password, u.TOTP, u.TOTPIsSet = "*****", "*****", "0"
	u.OrgID, u.Email, u.RoleID = k.OrgID, k.User, roleID
	u.Newsread, u.CurrentLogin, u.LastLogin = "0", "0", "0"
	u.ChangePw = true
	return u
}

func (s *Server) viewMe(w http.ResponseWriter, k Key) {
	r := roleFor(k)
	writePretty(w, http.StatusOK, struct {
		User         user         `json:"User"`
		Role         role         `json:"Role"`
		UserSetting  []any        `json:"UserSetting"`
		Organisation organisation `json:"Organisation"`
	}{userFor(k, r.ID), r, []any{}, organisationFor(k.OrgID)})
}

// getVersion follows ServersController::getVersion: the perm_* flags are
// the logged-in user's, so a read-only key shows them off, and the
// instance uuid is only shown to a key with perm_sync.
func (s *Server) getVersion(w http.ResponseWriter, k Key) {
	p := perms(k)
	uuid := "-"
	if p.Sync {
		uuid = serverUUID
	}
	writePretty(w, http.StatusOK, struct {
		Version          string   `json:"version"`
		PyMISP           string   `json:"pymisp_recommended_version"`
		PermSync         bool     `json:"perm_sync"`
		PermSighting     bool     `json:"perm_sighting"`
		PermGalaxyEditor bool     `json:"perm_galaxy_editor"`
		PermAnalystData  bool     `json:"perm_analyst_data"`
		UUID             string   `json:"uuid"`
		RequestEncoding  []string `json:"request_encoding"`
		FilterSightings  bool     `json:"filter_sightings"`
	}{"2.5.1", "2.5.1", p.Sync, p.Sighting, p.GalaxyEditor, p.AnalystData, uuid, []string{"gzip"}, true})
}

// setting is one /servers/getSetting answer.
type setting struct {
	Level        int    `json:"level"`
	Description  string `json:"description"`
	Value        any    `json:"value"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	Test         string `json:"test"`
	Type         string `json:"type"`
	Null         bool   `json:"null,omitempty"`
	Name         string `json:"name"`
}

// defaultSettings are the captured ones (MISP.baseurl, MISP.redis_host,
// MISP.background_jobs, SimpleBackgroundJobs.enabled and .redis_host)
// plus the two Redis ports, whose shape follows the captured redis_host
// (not captured themselves). MISP.background_jobs is true, as in MISP's
// config.default.php.
func defaultSettings() map[string]*setting {
	list := []*setting{
		{Level: 1, Description: "Enables the use of MISP's background processing.",
			Value: true, Test: "testBoolTrue", Type: "boolean", Name: "MISP.background_jobs"},
		{Description: "The base url of the application (in the format https://www.mymispinstance.com or https://myserver.com/misp). Several features depend on this setting being correctly set to function.",
			Value: "http://127.0.0.1:8080", ErrorMessage: "The currently set baseurl does not match the URL through which you have accessed the page. Disregard this if you are accessing the page via an alternate URL (for example via IP address).",
			Test: "testBaseURL", Type: "string", Null: true, Name: "MISP.baseurl"},
		{Description: "The host running the redis server to be used for generic MISP tasks such as caching. This is not to be confused by the redis server used by the background processing.",
			Value: "127.0.0.1", Test: "testForEmpty", Type: "string", Name: "MISP.redis_host"},
		{Description: "The port used by the redis server to be used for generic MISP tasks such as caching. This is not to be confused by the redis server used by the background processing.",
			Value: 6379, Test: "testForNumeric", Type: "numeric", Name: "MISP.redis_port"},
		{Description: "Enables or disables background jobs with Supervisor backend. <span class=\"red bold\">Please read <a href=\"https://github.com/MISP/MISP/blob/2.4/docs/background-jobs-migration-guide.md\" target=\"_blank\">this guide</a> before setting this to `true`.</span>",
			Value: true, Test: "testBool", Type: "boolean", Name: "SimpleBackgroundJobs.enabled"},
		{Description: "The host running the redis server to be used for background jobs.",
			Value: "127.0.0.1", Test: "testForEmpty", Type: "string", Name: "SimpleBackgroundJobs.redis_host"},
		{Description: "The port of the redis server to be used for background jobs.",
			Value: 6379, Test: "testForNumeric", Type: "numeric", Name: "SimpleBackgroundJobs.redis_port"},
	}
	m := map[string]*setting{}
	for _, st := range list {
		m[st.Name] = st
	}
	return m
}

// SetSetting changes what /servers/getSetting/<name> reports, e.g.
// SetSetting("MISP.redis_host", "redis") for a container setup. The value
// is converted to the setting's type (boolean, numeric, string); an
// unknown name becomes a new string setting.
func (s *Server) SetSetting(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.settings[name]
	if !ok {
		st = &setting{Type: "string", Name: name}
		s.settings[name] = st
	}
	st.Value = value
	switch st.Type {
	case "boolean":
		b, err := strconv.ParseBool(value)
		if err == nil {
			st.Value = b
		}
	case "numeric":
		if n, err := strconv.Atoi(value); err == nil {
			st.Value = n
		}
	}
}

func (s *Server) getSetting(w http.ResponseWriter, r *http.Request, k Key, name string) {
	if !perms(k).SiteAdmin {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	s.mu.Lock()
	st, ok := s.settings[name]
	var c setting
	if ok {
		c = *st
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Setting %s is invalid.", name), r.URL.Path)
		return
	}
	writePretty(w, http.StatusOK, c)
}

// serverSettings only knows the failure: the diagnostics dump of a
// healthy MISP was not captured. Both captured servers answered 500
// because their MISP lacked the Supervisor client library (fXmlRpc) that
// composer installs (error.log: Class "fXmlRpc\Client" not found).
func (s *Server) serverSettings(w http.ResponseWriter, r *http.Request, k Key) {
	if !perms(k).SiteAdmin {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
}

// feed is one /feeds/index entry, as captured.
type feed struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Provider        string  `json:"provider"`
	URL             string  `json:"url"`
	Rules           *string `json:"rules"`
	Enabled         bool    `json:"enabled"`
	Distribution    string  `json:"distribution"`
	SharingGroupID  string  `json:"sharing_group_id"`
	TagID           string  `json:"tag_id"`
	Default         bool    `json:"default"`
	SourceFormat    string  `json:"source_format"`
	FixedEvent      bool    `json:"fixed_event"`
	DeltaMerge      bool    `json:"delta_merge"`
	EventID         string  `json:"event_id"`
	Publish         bool    `json:"publish"`
	OverrideIDs     bool    `json:"override_ids"`
	Settings        *string `json:"settings"`
	InputSource     string  `json:"input_source"`
	DeleteLocalFile bool    `json:"delete_local_file"`
	LookupVisible   bool    `json:"lookup_visible"`
	Headers         *string `json:"headers"`
	CachingEnabled  bool    `json:"caching_enabled"`
	ForceToIDs      bool    `json:"force_to_ids"`
	OrgcID          string  `json:"orgc_id"`
	TagCollectionID string  `json:"tag_collection_id"`
	CacheTimestamp  any     `json:"cache_timestamp"`

	content FeedContent // what a download finds
}

// FeedContent is what downloading a feed finds; it matters when
// MISP.background_jobs is false and MISP downloads inside the request.
type FeedContent struct {
	// Unreachable makes the download fail (no route to the feed's URL, a
	// proxy in the way, a missing local directory).
	Unreachable bool
	// NewEvents is how many events the next download adds.
	NewEvents int
}

func defaultFeeds() []*feed {
	mk := func(id, name, provider, url string) *feed {
		return &feed{ID: id, Name: name, Provider: provider, URL: url, Distribution: "3", SharingGroupID: "0",
			TagID: "0", Default: true, SourceFormat: "misp", EventID: "0", InputSource: "network",
			OrgcID: "0", TagCollectionID: "0", CacheTimestamp: false}
	}
	return []*feed{
		mk("1", "CIRCL OSINT Feed", "CIRCL", "https://www.circl.lu/doc/misp/feed-osint"),
		mk("2", "The Botvrij.eu Data", "Botvrij.eu", "https://www.botvrij.eu/data/feed-osint"),
	}
}

// SetFeedEnabled enables or disables one of the two default feeds
// ("1" CIRCL OSINT, "2" Botvrij.eu), which changes /feeds/index and what
// the fetch endpoints answer.
func (s *Server) SetFeedEnabled(id string, enabled bool) error {
	return s.withFeed(id, func(f *feed) { f.Enabled = enabled })
}

// withFeed changes feed id under the lock.
func (s *Server) withFeed(id string, change func(*feed)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.feeds {
		if f.ID == id {
			change(f)
			return nil
		}
	}
	return fmt.Errorf("mispfake: no feed %q", id)
}

func (s *Server) feedIndex(w http.ResponseWriter) {
	type entry struct {
		Feed feed `json:"Feed"`
	}
	s.mu.Lock()
	out := []entry{}
	for _, f := range s.feeds {
		out = append(out, entry{*f})
	}
	s.mu.Unlock()
	writePretty(w, http.StatusOK, out)
}

// SetFeedContent sets what downloading feed id finds.
func (s *Server) SetFeedContent(id string, c FeedContent) error {
	return s.withFeed(id, func(f *feed) { f.content = c })
}

// Answers of the feed endpoints (FeedsController.php, all captured).
const (
	msgFetchQueued     = "Pull queued for background execution."
	msgFetchDone       = "Fetching the feed has successfully completed."
	msgFetchFailed     = "Fetching the feed has failed."
	msgNoFeedEnabled   = "No feed enabled."
	msgFeedNotEnabled  = "Feed is currently not enabled. Make sure you enable it."
	jobQueueNotEnabled = "Background jobs not enabled"
)

// backgroundJobs is MISP.background_jobs, on which the feed and worker
// endpoints branch. The caller holds s.mu.
func (s *Server) backgroundJobs() bool {
	v, _ := s.settings["MISP.background_jobs"].Value.(bool)
	return v
}

// queueFetch queues one fetch job, which needs Redis; a running worker
// takes it at once. The caller holds s.mu.
func (s *Server) queueFetch() bool {
	if s.redisDown {
		return false
	}
	if s.noWorkers {
		s.queued++
	}
	return true
}

// download is an in-request fetch of f (FeedsController with
// MISP.background_jobs false): whether it worked and how many events it
// added. The caller holds s.mu.
func (f *feed) download() (ok bool, added int) {
	if f.content.Unreachable {
		return false, 0
	}
	added, f.content.NewEvents = f.content.NewEvents, 0
	return true, added
}

// fetchAll follows FeedsController::fetchFromAllFeeds. With background
// jobs, each enabled feed is queued. Without, each is downloaded inside
// the request and one that fails is skipped without a word, so "No feed
// enabled." also means "every enabled feed failed"
// (tb_bgoff_fetchFromAllFeeds_failed); and new events from a MISP-format
// feed end in MISP 2.5.1's TypeError ("Cannot access offset of type
// string on string"), a 500 after the events were saved
// (tb_bgoff_fetchFromAllFeeds_new_events).
func (s *Server) fetchAll(w http.ResponseWriter, r *http.Request, k Key) {
	if !perms(k).SiteAdmin {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := ""
	for _, f := range s.feeds {
		if !f.Enabled {
			continue
		}
		if s.backgroundJobs() {
			if !s.queueFetch() {
				writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
				return
			}
			msg = msgFetchQueued
			continue
		}
		ok, added := f.download()
		if !ok {
			continue
		}
		if f.SourceFormat == "misp" && added > 0 {
			writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
			return
		}
		msg = msgFetchDone
	}
	if msg == "" {
		msg = msgNoFeedEnabled
	}
	writeResult(w, msg)
}

// fetchOne follows FeedsController::fetchFromFeed.
func (s *Server) fetchOne(w http.ResponseWriter, r *http.Request, k Key, id string) {
	if !perms(k).SiteAdmin {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *feed
	for _, f := range s.feeds {
		if f.ID == id {
			found = f
		}
	}
	switch {
	case found == nil:
		writeError(w, http.StatusNotFound, "Invalid feed.", r.URL.Path)
	case !found.Enabled:
		writeResult(w, msgFeedNotEnabled)
	case s.backgroundJobs() && !s.queueFetch():
		writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
	case s.backgroundJobs():
		writeResult(w, msgFetchQueued)
	default:
		ok, added := found.download()
		msg := msgFetchFailed
		if ok {
			msg = msgFetchDone
		}
		if ok && found.SourceFormat == "misp" && added > 0 {
			msg += fmt.Sprintf(" Downloaded %d new event(s).", added)
		}
		writeResult(w, msg)
	}
}

// workerQueue is one queue in /servers/getWorkers
// (Server::workerDiagnostics), in MISP's key order.
type workerQueue struct {
	OK       bool           `json:"ok"`
	Workers  []workerStatus `json:"workers,omitempty"`
	JobCount *int           `json:"jobCount,omitempty"`
}

type workerStatus struct {
	PID         int    `json:"pid"`
	User        string `json:"user"`
	Alive       bool   `json:"alive"`
	CorrectUser bool   `json:"correct_user"`
	OK          bool   `json:"ok"`
}

// getWorkers follows ServersController::getWorkers with
// SimpleBackgroundJobs enabled. Without background jobs: the captured
// one-line list. Without Redis: listing the workers throws, and MISP
// returns the queues as initialised, without sizes (captured,
// tb_bgon_redisdown_getWorkers). Otherwise (modelled from the source, the
// test bed could not answer it): each queue with its workers and its
// size, then proc_accessible, controls and supervisord_status.
func (s *Server) getWorkers(w http.ResponseWriter, r *http.Request, k Key) {
	if !perms(k).SiteAdmin {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	s.mu.Lock()
	bg, queued := s.backgroundJobs(), s.queued
	s.mu.Unlock()
	if !bg {
		writePretty(w, http.StatusOK, []string{jobQueueNotEnabled})
		return
	}
	var out struct {
		Cache             workerQueue `json:"cache"`
		Default           workerQueue `json:"default"`
		Email             workerQueue `json:"email"`
		Prio              workerQueue `json:"prio"`
		Update            workerQueue `json:"update"`
		ProcAccessible    *bool       `json:"proc_accessible,omitempty"`
		Controls          *int        `json:"controls,omitempty"`
		SupervisordStatus *bool       `json:"supervisord_status,omitempty"`
	}
	if !s.redisDown {
		queues := []*workerQueue{&out.Cache, &out.Default, &out.Email, &out.Prio, &out.Update}
		for i, q := range queues {
			n := 0
			if q == &out.Default {
				n = queued
			}
			q.JobCount = &n
			if !s.noWorkers {
				q.OK = true
				q.Workers = []workerStatus{{PID: 4100 + i, User: "www-data", Alive: true, CorrectUser: true, OK: true}}
			}
		}
		procAccessible, controls, supervisord := true, 1, !s.noWorkers
		out.ProcAccessible, out.Controls, out.SupervisordStatus = &procAccessible, &controls, &supervisord
	}
	writePretty(w, http.StatusOK, out)
}

// monitorUser serves GET /admin/users/monitor/<user id>
// (UsersController::admin_monitor): it reads a set in MISP's own Redis
// (MISP.redis_host) with no fallback, so it fails with a 500 when that
// Redis is down (captured, tb_redisdown_admin_users_monitor). It answers 1
// for "not monitored". Changing the flag (POST) is not implemented.
func (s *Server) monitorUser(w http.ResponseWriter, r *http.Request, k Key, id string) {
	switch {
	case !perms(k).SiteAdmin:
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
	case r.Method != http.MethodGet:
		writeError(w, http.StatusNotImplemented, "mispfake: changing the monitoring flag is not implemented", r.URL.Path)
	case id != adminUserID && id != otherUserID:
		writeError(w, http.StatusNotFound, "Invalid user.", r.URL.Path)
	case s.redisDown:
		writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
	default:
		writePretty(w, http.StatusOK, 1)
	}
}

func writeResult(w http.ResponseWriter, msg string) {
	writePretty(w, http.StatusOK, struct {
		Result string `json:"result"`
	}{msg})
}
