package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"

	"github.com/custom-misp/custom-misp/internal/rawfile"
)

// Limits on files we read; both are written by root or integratord and a
// legitimate one is a few hundred bytes.
const (
	MaxOptionsSize = 64 << 10
	MaxKeyFileSize = 4 << 10
)

// Defaults, chosen for a manager where integratord waits for every run.
const (
	DefaultTimeout          = 10 * time.Second // integratord 4.8's own default
	DefaultRetries          = 3                // integratord 4.8's own default
	DefaultDeadline         = 20 * time.Second // hard cap on one run, whatever MISP does
	DefaultMaxIOCs          = 50
	DefaultMaxEvents        = 10
	DefaultLimit            = 100
	DefaultCacheTTL         = 6 * time.Hour
	DefaultCacheNegativeTTL = 15 * time.Minute
	DefaultCacheLockWait    = 100 * time.Millisecond
	DefaultCacheMaxEntries  = 100000
	// The mirror is synced every 5 minutes (ossec-snippets/mirror-sync-wodle.xml);
	// six missed syncs make it stale. A full sync a day catches what MISP
	// gives no incremental signal for (see docs/mirror.md).
	DefaultMirrorMaxAge           = 30 * time.Minute
	DefaultMirrorFullSyncInterval = 24 * time.Hour
	maxDeadline                   = 10 * time.Minute
	maxIOCsCeiling                = 1000
	maxEventsCeiling              = 100
	maxLimitCeiling               = 1000
)

// Lookup modes (option "lookup").
const (
	LookupLive   = "live"   // ask MISP, through the cache
	LookupMirror = "mirror" // answer from the local mirror only
	LookupAuto   = "auto"   // the mirror when it is usable and fresh, else live
)

// KeyEnv names the environment variable the operator commands read the API
// key from when nothing else names one: a key on the command line would
// show in ps.
const KeyEnv = "CUSTOM_MISP_API_KEY"

// Options is the JSON of the <options> element of the <integration> block.
// Unknown keys are an error, so a typo never silently changes behaviour.
type Options struct {
	APIKeyFile             string   `json:"api_key_file"`
	CAFile                 string   `json:"ca_file"`
	ClientCert             string   `json:"client_cert"`
	ClientKey              string   `json:"client_key"`
	InsecureSkipVerify     bool     `json:"insecure_skip_verify"`
	AllowHTTP              bool     `json:"allow_http"`
	Proxy                  string   `json:"proxy"`
	ToIDs                  *bool    `json:"to_ids"`
	Published              *bool    `json:"published"`
	EnforceWarninglist     *bool    `json:"enforce_warninglist"`
	Tags                   []string `json:"tags"`
	ExcludeTags            []string `json:"exclude_tags"`
	ExcludeDecayed         bool     `json:"exclude_decayed"`
	Exclude                []string `json:"exclude"`
	AllowSuffixes          []string `json:"allow_suffixes"`
	MaxIOCsPerAlert        int      `json:"max_iocs_per_alert"`
	MaxEventsPerAlert      int      `json:"max_events_per_alert"`
	Limit                  int      `json:"limit"`
	Deadline               Duration `json:"deadline"`
	Timeout                Duration `json:"timeout"`
	Retries                *int     `json:"retries"`
	Cache                  string   `json:"cache"`
	CachePath              string   `json:"cache_path"`
	CacheTTL               Duration `json:"cache_ttl"`
	CacheNegativeTTL       Duration `json:"cache_negative_ttl"`
	CacheMaxEntries        int      `json:"cache_max_entries"`
	CacheLockWait          Duration `json:"cache_lock_wait"`
	Lookup                 string   `json:"lookup"`
	MirrorPath             string   `json:"mirror_path"`
	MirrorMaxAge           Duration `json:"mirror_max_age"`
	MirrorFullSyncInterval Duration `json:"mirror_full_sync_interval"`
	ExportCDB              bool     `json:"export_cdb"`
	WazuhHome              string   `json:"wazuh_home"`
	SocketPath             string   `json:"socket_path"`
	LogFile                string   `json:"log_file"`
	// Name names the <hook_url> server in events and commands when there
	// are several; Instances lists the others; Sightings reports matches
	// back to MISP (instances.go).
	Name      string            `json:"name"`
	Instances []InstanceOptions `json:"instances"`
	Sightings *SightingsOptions `json:"sightings"`
	// SightingsPath is where the sightings already sent are remembered.
	SightingsPath string `json:"sightings_path"`
}

// Config is everything one run needs, validated.
type Config struct {
	AlertFile string
	MISPURL   string
	APIKey    string // never log, print or store this
	Debug     bool

	CAFile, ClientCert, ClientKey string
	InsecureSkipVerify            bool
	AllowHTTP                     bool
	Proxy                         string

	ToIDs, Published   *bool // nil: no filter
	EnforceWarninglist bool
	Tags, ExcludeTags  []string
	ExcludeDecayed     bool
	Exclude            []string
	AllowSuffixes      []string

	MaxIOCs, MaxEvents, Limit int
	Timeout, Deadline         time.Duration
	Retries                   int

	CacheOn                    bool
	CachePath                  string
	CacheTTL, CacheNegativeTTL time.Duration
	CacheMaxEntries            int
	CacheLockWait              time.Duration

	// Lookup is how alerts are looked up: LookupLive, LookupMirror or
	// LookupAuto (see internal/mirror).
	Lookup                 string
	MirrorPath             string
	MirrorMaxAge           time.Duration
	MirrorFullSyncInterval time.Duration
	// ExportCDB makes sync export the CDB lists (internal/cdb) after a
	// sync that changed the mirror.
	ExportCDB bool

	WazuhHome, SocketPath, LogFile string

	// Name is this MISP server's name (DefaultName for the <hook_url> one
	// unless option "name" says otherwise); Others are the servers of
	// option "instances", each a whole Config (see All).
	Name          string
	Others        []Config
	Sightings     Sightings
	SightingsPath string
}

// Query returns the MISP search these settings ask for, without values or
// types: the one place the filter options become a misp.Query. The
// per-alert lookup, doctor's test search, lookup and the cache scope (via
// misp.Query.FilterKey) all start from it, so they cannot disagree.
func (c *Config) Query() misp.Query {
	return misp.Query{
		ToIDs:              c.ToIDs,
		Published:          c.Published,
		EnforceWarninglist: c.EnforceWarninglist,
		Tags:               c.Tags,
		ExcludeTags:        c.ExcludeTags,
		ExcludeDecayed:     c.ExcludeDecayed,
		Limit:              c.Limit,
	}
}

// FieldError is a configuration error about one field.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Default returns the configuration before any input is applied. home is
// the Wazuh installation directory (the one above integrations/).
func Default(home string) Config {
	t := true
	return Config{
		ToIDs:                  &t,
		EnforceWarninglist:     true,
		MaxIOCs:                DefaultMaxIOCs,
		MaxEvents:              DefaultMaxEvents,
		Limit:                  DefaultLimit,
		Timeout:                DefaultTimeout,
		Deadline:               DefaultDeadline,
		Retries:                DefaultRetries,
		CacheOn:                true,
		CacheTTL:               DefaultCacheTTL,
		CacheNegativeTTL:       DefaultCacheNegativeTTL,
		CacheMaxEntries:        DefaultCacheMaxEntries,
		CacheLockWait:          DefaultCacheLockWait,
		Lookup:                 LookupAuto,
		MirrorMaxAge:           DefaultMirrorMaxAge,
		MirrorFullSyncInterval: DefaultMirrorFullSyncInterval,
		WazuhHome:              home,
		Name:                   DefaultName,
		Sightings:              Sightings{Window: DefaultSightingWindow},
	}
}

// Load builds the configuration of one integratord run: defaults, then the
// command line, then the options file, then Validate.
func Load(a Args, home string) (Config, error) {
	c := fromArgs(a, home)
	var err error
	if a.OptionsFile != "" {
		var o Options
		if o, err = ReadOptions(a.OptionsFile); err == nil {
			err = c.Apply(o)
		}
	}
	// Paths are derived even from a bad configuration, so that the error
	// can still be logged and reported to Wazuh.
	c.DerivePaths()
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

// fromArgs is the defaults overlaid with what the command line says.
func fromArgs(a Args, home string) Config {
	c := Default(home)
	c.AlertFile = a.AlertFile
	c.APIKey = strings.TrimSpace(a.APIKey)
	c.MISPURL = strings.TrimSpace(a.HookURL)
	c.Debug = a.Debug
	if a.Timeout > 0 {
		c.Timeout = a.Timeout
	}
	if a.Retries >= 0 {
		c.Retries = a.Retries
	}
	return c
}

// ReadOptions decodes an options file strictly.
func ReadOptions(path string) (Options, error) {
	data, err := rawfile.Read(path, MaxOptionsSize)
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "open" {
		// The path is the integration's own; the reason is what helps.
		return Options{}, fmt.Errorf("options file: %w", pe.Err)
	}
	if err != nil {
		return Options{}, fmt.Errorf("options file: %w", err)
	}
	if len(data) > MaxOptionsSize {
		return Options{}, fmt.Errorf("options file: larger than %d bytes", MaxOptionsSize)
	}
	return ParseOptions(data)
}

// ParseOptions decodes the options JSON strictly: unknown keys and trailing
// data are errors. An empty document means no options.
//
// What admins write (an object of known keys with plain values) is read
// by parsePlainOptions; anything else, errors included, goes to
// encoding/json, whose answer is the reference. Why two paths: the first
// encoding/json decode of Options builds its reflection caches, which was
// a tenth of a run that integratord waits for (BENCHMARKS.md).
func ParseOptions(data []byte) (Options, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Options{}, nil
	}
	if o, ok := parsePlainOptions(data); ok {
		return o, nil
	}
	return decodeOptions(data)
}

// decodeOptions is ParseOptions by encoding/json.
func decodeOptions(data []byte) (Options, error) {
	var o Options
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return o, fmt.Errorf("options: %s", jsonReason(data, err))
	}
	if dec.More() {
		return o, errors.New("options: unexpected data after the JSON object")
	}
	return o, nil
}

// jsonReason turns encoding/json's errors into a short line that names the
// key; it never quotes the document.
func jsonReason(data []byte, err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("%s: want %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not valid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown key " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	// Errors from our own decoders (Duration) carry no key: find it.
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) == nil {
		for k, v := range raw {
			var probe Options
			one, _ := json.Marshal(map[string]json.RawMessage{k: v})
			if e := json.Unmarshal(one, &probe); e != nil {
				return k + ": " + e.Error()
			}
		}
	}
	return err.Error()
}

// Apply overlays options on the configuration.
func (c *Config) Apply(o Options) error {
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setInt := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	setDur := func(dst *time.Duration, v Duration) {
		if v != 0 {
			*dst = time.Duration(v)
		}
	}
	if o.APIKeyFile != "" {
		key, err := readKeyFile(o.APIKeyFile)
		if err != nil {
			return err
		}
		c.APIKey = key
	}
	setStr(&c.CAFile, o.CAFile)
	setStr(&c.ClientCert, o.ClientCert)
	setStr(&c.ClientKey, o.ClientKey)
	c.InsecureSkipVerify = o.InsecureSkipVerify
	c.AllowHTTP = o.AllowHTTP
	setStr(&c.Proxy, o.Proxy)
	if o.ToIDs != nil {
		if *o.ToIDs {
			c.ToIDs = o.ToIDs
		} else {
			c.ToIDs = nil // to_ids false: context attributes too, not only them
		}
	}
	c.Published = o.Published
	if o.Published != nil && !*o.Published {
		c.Published = nil // published false: drafts too
	}
	if o.EnforceWarninglist != nil {
		c.EnforceWarninglist = *o.EnforceWarninglist
	}
	c.Tags = o.Tags
	c.ExcludeTags = o.ExcludeTags
	c.ExcludeDecayed = o.ExcludeDecayed
	c.Exclude = o.Exclude
	c.AllowSuffixes = o.AllowSuffixes
	setInt(&c.MaxIOCs, o.MaxIOCsPerAlert)
	setInt(&c.MaxEvents, o.MaxEventsPerAlert)
	setInt(&c.Limit, o.Limit)
	setDur(&c.Deadline, o.Deadline)
	setDur(&c.Timeout, o.Timeout)
	if o.Retries != nil {
		c.Retries = *o.Retries
	}
	switch o.Cache {
	case "", "on":
	case "off":
		c.CacheOn = false
	default:
		return &FieldError{"cache", fmt.Sprintf("want \"on\" or \"off\", got %q", o.Cache)}
	}
	setStr(&c.CachePath, o.CachePath)
	setDur(&c.CacheTTL, o.CacheTTL)
	setDur(&c.CacheNegativeTTL, o.CacheNegativeTTL)
	setInt(&c.CacheMaxEntries, o.CacheMaxEntries)
	setDur(&c.CacheLockWait, o.CacheLockWait)
	switch o.Lookup {
	case "":
	case LookupLive, LookupMirror, LookupAuto:
		c.Lookup = o.Lookup
	default:
		return &FieldError{"lookup", fmt.Sprintf("want \"auto\", \"mirror\" or \"live\", got %q", o.Lookup)}
	}
	setStr(&c.MirrorPath, o.MirrorPath)
	setDur(&c.MirrorMaxAge, o.MirrorMaxAge)
	setDur(&c.MirrorFullSyncInterval, o.MirrorFullSyncInterval)
	c.ExportCDB = o.ExportCDB
	setStr(&c.WazuhHome, o.WazuhHome)
	setStr(&c.SocketPath, o.SocketPath)
	setStr(&c.LogFile, o.LogFile)
	setStr(&c.Name, strings.TrimSpace(o.Name))
	if !namePattern.MatchString(c.Name) {
		return &FieldError{"name", fmt.Sprintf("%q: want 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit", c.Name)}
	}
	if o.Sightings != nil {
		c.Sightings = sightingsOf(*o.Sightings)
	}
	setStr(&c.SightingsPath, o.SightingsPath)
	// Last: the instances inherit the options above.
	return c.applyInstances(o.Instances)
}

// readKeyFile reads an API key from a file the admin keeps root:wazuh 0640.
func readKeyFile(path string) (string, error) {
	data, err := rawfile.Read(path, MaxKeyFileSize)
	if err != nil {
		return "", &FieldError{"api_key_file", errors.Unwrap(err).Error() + ": " + path}
	}
	if len(data) > MaxKeyFileSize {
		return "", &FieldError{"api_key_file", fmt.Sprintf("%s is larger than %d bytes; it should hold only the key", path, MaxKeyFileSize)}
	}
	key := strings.TrimSpace(string(data))
	if key == "" {
		return "", &FieldError{"api_key_file", path + " is empty"}
	}
	return key, nil
}

// DerivePaths fills the paths that default to places under the Wazuh home.
func (c *Config) DerivePaths() {
	if c.SocketPath == "" {
		c.SocketPath = filepath.Join(c.WazuhHome, "queue", "sockets", "queue")
	}
	if c.LogFile == "" {
		c.LogFile = filepath.Join(c.WazuhHome, "logs", "integrations.log")
	}
	if c.CachePath == "" {
		c.CachePath = filepath.Join(c.WazuhHome, "var", "custom-misp", "cache.db")
	}
	if c.MirrorPath == "" {
		c.MirrorPath = filepath.Join(c.WazuhHome, "var", "custom-misp", "mirror.db")
	}
	if c.SightingsPath == "" {
		c.SightingsPath = filepath.Join(c.WazuhHome, "var", "custom-misp", "sightings.db")
	}
	c.derivePerInstance()
}

// Validate checks the whole configuration once; the error names the field.
func (c *Config) Validate() error {
	if c.MISPURL != "" || len(c.Others) == 0 {
		if err := c.validateServer("hook_url"); err != nil {
			return err
		}
	}
	if err := c.validateShared(); err != nil {
		return err
	}
	return c.validateInstances()
}

// validateServer checks what is one MISP server's own: how to reach it and
// what to ask it. urlField names the URL's setting in errors.
func (c *Config) validateServer(urlField string) error {
	if c.MISPURL == "" {
		return &FieldError{urlField, "empty: set <hook_url> to the MISP base URL, e.g. https://misp.example.org"}
	}
	u, err := url.Parse(c.MISPURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return &FieldError{urlField, fmt.Sprintf("%q is not an absolute http(s) URL", RedactURL(c.MISPURL))}
	}
	if u.User != nil {
		return &FieldError{urlField, "must not contain user:password; MISP authenticates with the API key"}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return &FieldError{urlField, "must be the MISP base URL, without query or fragment"}
	}
	if u.Scheme == "http" && !c.AllowHTTP {
		return &FieldError{urlField, fmt.Sprintf("%q is not https; the API key would cross the network in clear text (set \"allow_http\": true to accept that)", RedactURL(c.MISPURL))}
	}
	if c.APIKey == "" {
		return &FieldError{"api_key", "empty: set <api_key> or \"api_key_file\" in <options>"}
	}
	if strings.ContainsAny(c.APIKey, " \t\r\n") {
		return &FieldError{"api_key", "contains white space"}
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return &FieldError{"client_cert", "client_cert and client_key go together"}
	}
	for _, f := range []struct{ name, path string }{{"ca_file", c.CAFile}, {"client_cert", c.ClientCert}, {"client_key", c.ClientKey}} {
		if f.path != "" {
			if err := checkReadable(f.name, f.path); err != nil {
				return err
			}
		}
	}
	if c.Proxy != "" {
		p, err := url.Parse(c.Proxy)
		if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
			return &FieldError{"proxy", fmt.Sprintf("%q is not an http(s) proxy URL", RedactURL(c.Proxy))}
		}
	}
	for _, list := range []struct {
		name string
		v    []string
	}{{"tags", c.Tags}, {"exclude_tags", c.ExcludeTags}} {
		for _, t := range list.v {
			if t == "" || strings.HasPrefix(t, "!") || strings.Contains(t, "&&") || strings.Contains(t, "||") {
				return &FieldError{list.name, fmt.Sprintf("%q: tags must be plain names (use exclude_tags to negate)", t)}
			}
		}
	}
	return nil
}

// validateShared checks the settings every server of the run shares.
func (c *Config) validateShared() error {
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"max_iocs_per_alert", c.MaxIOCs, maxIOCsCeiling},
		{"max_events_per_alert", c.MaxEvents, maxEventsCeiling},
		{"limit", c.Limit, maxLimitCeiling},
		{"cache_max_entries", c.CacheMaxEntries, 100_000_000},
	} {
		if f.v < 1 || f.v > f.max {
			return &FieldError{f.name, fmt.Sprintf("want 1 to %d, got %d", f.max, f.v)}
		}
	}
	for _, f := range []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"deadline", c.Deadline, time.Second, maxDeadline},
		{"timeout", c.Timeout, time.Second, time.Hour},
		{"cache_ttl", c.CacheTTL, time.Minute, 30 * 24 * time.Hour},
		{"cache_negative_ttl", c.CacheNegativeTTL, time.Second, 7 * 24 * time.Hour},
		{"cache_lock_wait", c.CacheLockWait, time.Millisecond, 5 * time.Second},
		{"mirror_max_age", c.MirrorMaxAge, time.Minute, 30 * 24 * time.Hour},
		{"mirror_full_sync_interval", c.MirrorFullSyncInterval, time.Hour, 30 * 24 * time.Hour},
	} {
		if f.v < f.min || f.v > f.max {
			return &FieldError{f.name, fmt.Sprintf("want %s to %s, got %s", f.min, f.max, f.v)}
		}
	}
	if c.Retries < 0 || c.Retries > 10 {
		return &FieldError{"retries", fmt.Sprintf("want 0 to 10, got %d", c.Retries)}
	}
	// Parsed here, not first when an alert is read, so that a bad entry is
	// a configuration error (exit 5 and a config event) on every run.
	if _, err := ioc.NewPolicy(c.Exclude, c.AllowSuffixes); err != nil {
		field := "exclude"
		if strings.HasPrefix(err.Error(), "allowed suffix") {
			field = "allow_suffixes"
		}
		return &FieldError{field, err.Error()}
	}
	return nil
}

// readOK is R_OK of access(2): may this process read the file.
const readOK = 4

// checkReadable checks that a file only the MISP client reads (ca_file,
// client_cert, client_key) is there and readable now: the client runs only
// when the cache cannot answer, so without this check a missing file would
// pass the configuration and fail the first lookup, maybe hours later.
// Symbolic links are followed: the file is only read, as the client will,
// and distributions ship CA bundles as links. Its content is the client's
// to judge. Two system calls (stat, access), on every run that sets the
// field.
func checkReadable(field, path string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return &FieldError{field, err.Error() + ": " + path}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return &FieldError{field, path + " is not a regular file"}
	}
	if err := syscall.Access(path, readOK); err != nil {
		return &FieldError{field, err.Error() + ": " + path}
	}
	return nil
}

// RedactURL returns a URL fit for a message: without user info, query and
// fragment, where an admin may have pasted a password or the API key (a
// user name alone can be the key). A URL that does not parse is not quoted
// at all, and neither is one that holds an "@" outside its user info: that
// is usually a password with "/", "?" or "#" in it, which url.Parse splits
// at the wrong place ("https://u:123#pw@host" has the host "u:123").
// It is the one redaction of custom-misp: config's errors, doctor and the
// MISP client (hook_url, proxy, redirect targets) all use it.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User == nil && strings.Contains(s, "@") {
		return "(URL not shown: it may hold a password)"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// Duration is a time.Duration written in JSON as "30s", "6h" or a number of
// seconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var n float64
	if err := json.Unmarshal(b, &n); err == nil {
		*d = Duration(n * float64(time.Second))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a duration such as \"30s\" or a number of seconds")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}
