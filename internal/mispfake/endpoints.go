package mispfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The captured instance: its uuid and its two organisations.
const (
	serverUUID   = "41531d37-0023-4780-b937-3675a9b4a41f"
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

// perms gives the captured "admin" role to site admins and the captured
// "User" role to everyone else; a read-only key keeps only perm_auth and
// perm_audit (AuthKey.php).
func perms(k Key) permissions {
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
	if k.ReadOnly {
		p = permissions{Audit: true, Auth: true}
	}
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
	p := perms(k)
	r := role{ID: "3", Name: "User", DefaultRole: true}
	if k.SiteAdmin {
		r = role{ID: "1", Name: "admin"}
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
	u := user{ID: "1", InvitedBy: "0", NidsSID: "4000000", DateModified: "1795793648", LastAPIAccess: "1795793648"}
	if !k.SiteAdmin {
		u = user{ID: "2", InvitedBy: "1", GPGKey: strp(""), NidsSID: "8246906", DateCreated: strp("1795793880"),
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

func (s *Server) getVersion(w http.ResponseWriter, k Key) {
	p := perms(k)
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
	}{"2.5.1", "2.5.1", p.Sync, p.Sighting, p.GalaxyEditor, p.AnalystData, serverUUID, []string{"gzip"}, true})
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
// SimpleBackgroundJobs.enabled and .redis_host) plus the two Redis ports,
// whose shape follows the captured redis_host (not captured themselves).
func defaultSettings() map[string]*setting {
	list := []*setting{
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
// healthy MISP was not captured, the 500 of a broken one was.
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
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.feeds {
		if f.ID == id {
			f.Enabled = enabled
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

func (s *Server) fetchAll(w http.ResponseWriter, r *http.Request, k Key) {
	if !perms(k).SiteAdmin {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	s.mu.Lock()
	enabled := 0
	for _, f := range s.feeds {
		if f.Enabled {
			enabled++
		}
	}
	s.mu.Unlock()
	switch {
	case enabled == 0:
		writeResult(w, "No feed enabled.")
	case s.brokenJobs:
		writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
	default:
		writeResult(w, "Pull queued for background execution.")
	}
}

func (s *Server) fetchOne(w http.ResponseWriter, r *http.Request, k Key, id string) {
	if !perms(k).SiteAdmin {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	s.mu.Lock()
	var found *feed
	for _, f := range s.feeds {
		if f.ID == id {
			c := *f
			found = &c
		}
	}
	s.mu.Unlock()
	switch {
	case found == nil:
		writeError(w, http.StatusNotFound, "Invalid feed.", r.URL.Path)
	case !found.Enabled:
		writeResult(w, "Feed is currently not enabled. Make sure you enable it.")
	case s.brokenJobs:
		writeError(w, http.StatusInternalServerError, msgInternalError, r.URL.Path)
	default:
		writeResult(w, "Pull queued for background execution.")
	}
}

func writeResult(w http.ResponseWriter, msg string) {
	writePretty(w, http.StatusOK, struct {
		Result string `json:"result"`
	}{msg})
}

// addSighting checks the permission (a read-only key may not) and records
// nothing: a sighting for the first visible attribute whose value (or id,
// or uuid) matches is echoed back in MISP's shape.
func (s *Server) addSighting(w http.ResponseWriter, r *http.Request, k Key, body []byte) {
	if !perms(k).Sighting {
		writeError(w, http.StatusForbidden, msgNoPermission, r.URL.Path)
		return
	}
	f := map[string]any{}
	_ = json.Unmarshal(body, &f) // a bad body finds nothing
	var want []string
	for _, key := range []string{"value", "values", "id", "uuid"} {
		want = append(want, parseCond(f[key]).or...)
	}
	if id := strings.TrimPrefix(r.URL.Path, "/sightings/add/"); id != r.URL.Path {
		want = append(want, id)
	}
	who := caller{orgID: k.OrgID, siteAdmin: k.SiteAdmin}
	for _, a := range s.db.attrs {
		if !who.visible(a) {
			continue
		}
		for _, v := range want {
			if newValueMatcher(v).matches(a) || v == a.id || v == a.uuid {
				source, _ := scalar(f["source"])
				typ, ok := scalar(f["type"])
				if !ok {
					typ = "0"
				}
				writePretty(w, http.StatusOK, map[string]any{"Sighting": map[string]string{
					"id": "1", "attribute_id": a.id, "event_id": a.ev.id, "org_id": k.OrgID,
					"date_sighting": strconv.FormatInt(s.now().Unix(), 10),
					"uuid":          stableUUID("sighting", a.uuid), "source": source, "type": typ,
				}})
				return
			}
		}
	}
	writePretty(w, http.StatusOK, map[string]string{"message": "Could not add the Sighting. Reason: No valid attributes found that match the criteria."})
}
