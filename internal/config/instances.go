package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultName is the name of the MISP server that <hook_url> and
// <api_key> name, when option "name" does not give another.
const DefaultName = "misp"

// Sighting defaults: one sighting per attribute and agent an hour is
// enough for a MISP curator to see an indicator is live, and keeps a
// noisy host from flooding MISP.
const (
	DefaultSightingWindow = time.Hour
	minSightingWindow     = time.Minute
	maxSightingWindow     = 7 * 24 * time.Hour
	maxSightingSource     = 128
)

// SightingsOptions is option "sightings" (docs/options.md).
type SightingsOptions struct {
	Enabled bool     `json:"enabled"`
	Source  string   `json:"source"`
	Window  Duration `json:"window"`
}

// Sightings is how matches are reported back to MISP as sightings.
type Sightings struct {
	Enabled bool
	// Source is the sighting's source; empty means "wazuh-" and the name
	// of the manager that raised the alert (SourceFor).
	Source string
	// Window: at most one sighting per attribute and agent per Window.
	Window time.Duration
}

// SourceFor is the sighting source for an alert of manager.
func (s Sightings) SourceFor(manager string) string {
	if s.Source != "" {
		return s.Source
	}
	if manager == "" {
		return "wazuh"
	}
	return "wazuh-" + manager
}

// InstanceOptions is one entry of option "instances": a MISP server of its
// own, looked up beside the one <hook_url> names. The connection settings
// are its own; the filters, lookup mode and sightings default to the
// top-level options.
type InstanceOptions struct {
	Name               string            `json:"name"`
	URL                string            `json:"url"`
	APIKeyFile         string            `json:"api_key_file"`
	CAFile             string            `json:"ca_file"`
	ClientCert         string            `json:"client_cert"`
	ClientKey          string            `json:"client_key"`
	InsecureSkipVerify bool              `json:"insecure_skip_verify"`
	AllowHTTP          bool              `json:"allow_http"`
	Proxy              string            `json:"proxy"`
	ToIDs              *bool             `json:"to_ids"`
	Published          *bool             `json:"published"`
	EnforceWarninglist *bool             `json:"enforce_warninglist"`
	Tags               []string          `json:"tags"`
	ExcludeTags        []string          `json:"exclude_tags"`
	ExcludeDecayed     *bool             `json:"exclude_decayed"`
	Lookup             string            `json:"lookup"`
	CachePath          string            `json:"cache_path"`
	MirrorPath         string            `json:"mirror_path"`
	Sightings          *SightingsOptions `json:"sightings"`
}

// maxInstances bounds "instances": each is a process and a request per
// alert that the cache cannot answer.
const maxInstances = 8

// namePattern is what an instance name may be: it becomes part of file
// names and of the events' misp.instance.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// All returns the MISP servers a run looks alerts up in: the one of
// <hook_url>, unless it is empty, then those of "instances", in the order
// the options list them.
func (c *Config) All() []*Config {
	all := make([]*Config, 0, 1+len(c.Others))
	if c.MISPURL != "" || len(c.Others) == 0 {
		all = append(all, c)
	}
	for i := range c.Others {
		all = append(all, &c.Others[i])
	}
	return all
}

// Several says whether more than one MISP server is configured: events
// then name the one that answered (misp.instance).
func (c *Config) Several() bool { return len(c.All()) > 1 }

// Instance returns the server called name, or nil.
func (c *Config) Instance(name string) *Config {
	for _, i := range c.All() {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// Names lists the configured servers' names, for messages.
func (c *Config) Names() []string {
	var names []string
	for _, i := range c.All() {
		names = append(names, i.Name)
	}
	return names
}

// applyInstances builds c.Others from "instances": each a copy of c (the
// shared limits and the inherited filters) with its own connection
// settings and files. c must already hold the top-level options.
func (c *Config) applyInstances(list []InstanceOptions) error {
	c.Others = nil
	if len(list) > maxInstances {
		return &FieldError{"instances", fmt.Sprintf("at most %d, got %d", maxInstances, len(list))}
	}
	for i, o := range list {
		field := fmt.Sprintf("instances[%d]", i)
		if !namePattern.MatchString(o.Name) {
			return &FieldError{field + ".name", fmt.Sprintf("%q: want 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit", o.Name)}
		}
		field = "instances[" + o.Name + "]"
		if o.URL == "" {
			return &FieldError{field + ".url", "empty: set the MISP base URL"}
		}
		if o.APIKeyFile == "" {
			return &FieldError{field + ".api_key_file", "empty: each instance reads its key from a file (root:wazuh 0640)"}
		}
		key, err := readKeyFile(o.APIKeyFile)
		if err != nil {
			return prefixField(field, err)
		}
		n := *c
		n.Others = nil
		n.Name = o.Name
		n.MISPURL = strings.TrimSpace(o.URL)
		n.APIKey = key
		n.CAFile, n.ClientCert, n.ClientKey = o.CAFile, o.ClientCert, o.ClientKey
		n.InsecureSkipVerify, n.AllowHTTP, n.Proxy = o.InsecureSkipVerify, o.AllowHTTP, o.Proxy
		if o.ToIDs != nil {
			n.ToIDs = nil
			if *o.ToIDs {
				n.ToIDs = o.ToIDs
			}
		}
		if o.Published != nil {
			n.Published = nil
			if *o.Published {
				n.Published = o.Published
			}
		}
		if o.EnforceWarninglist != nil {
			n.EnforceWarninglist = *o.EnforceWarninglist
		}
		if o.Tags != nil {
			n.Tags = o.Tags
		}
		if o.ExcludeTags != nil {
			n.ExcludeTags = o.ExcludeTags
		}
		if o.ExcludeDecayed != nil {
			n.ExcludeDecayed = *o.ExcludeDecayed
		}
		switch o.Lookup {
		case "":
		case LookupLive, LookupMirror, LookupAuto:
			n.Lookup = o.Lookup
		default:
			return &FieldError{field + ".lookup", fmt.Sprintf("want \"auto\", \"mirror\" or \"live\", got %q", o.Lookup)}
		}
		// Files are derived per name in DerivePaths unless set here.
		n.CachePath, n.MirrorPath, n.SightingsPath = o.CachePath, o.MirrorPath, ""
		if o.Sightings != nil {
			n.Sightings = sightingsOf(*o.Sightings)
		}
		c.Others = append(c.Others, n)
	}
	return nil
}

// sightingsOf turns option "sightings" into Sightings with its defaults.
func sightingsOf(o SightingsOptions) Sightings {
	s := Sightings{Enabled: o.Enabled, Source: strings.TrimSpace(o.Source), Window: time.Duration(o.Window)}
	if s.Window == 0 {
		s.Window = DefaultSightingWindow
	}
	return s
}

// derivePerInstance gives each of c.Others the files that are per server
// (cache, mirror, sightings), next to the top-level ones and named after
// the instance, unless its options set them.
func (c *Config) derivePerInstance() {
	for i := range c.Others {
		n := &c.Others[i]
		n.WazuhHome, n.SocketPath, n.LogFile = c.WazuhHome, c.SocketPath, c.LogFile
		if n.CachePath == "" {
			n.CachePath = siblingOf(c.CachePath, "cache-"+n.Name+".db")
		}
		if n.MirrorPath == "" {
			n.MirrorPath = siblingOf(c.MirrorPath, "mirror-"+n.Name+".db")
		}
		if n.SightingsPath == "" {
			n.SightingsPath = siblingOf(c.SightingsPath, "sightings-"+n.Name+".db")
		}
	}
}

func siblingOf(path, name string) string { return filepath.Join(filepath.Dir(path), name) }

// validateInstances checks what is per instance; Validate has checked the
// shared settings on c.
func (c *Config) validateInstances() error {
	seen := map[string]bool{}
	files := map[string]string{}
	for _, n := range c.All() {
		if seen[n.Name] {
			return &FieldError{"instances", fmt.Sprintf("the name %q is used twice (the <hook_url> server is %q unless option \"name\" says otherwise)", n.Name, c.Name)}
		}
		seen[n.Name] = true
		for _, f := range []string{n.CachePath, n.MirrorPath, n.SightingsPath} {
			if other, ok := files[f]; ok && other != n.Name {
				return &FieldError{"instances[" + n.Name + "]", fmt.Sprintf("%s is also %q's: each instance needs its own cache, mirror and sightings files", f, other)}
			}
			files[f] = n.Name
		}
		if n == c {
			if err := n.validateSightings("sightings"); err != nil {
				return err
			}
			continue
		}
		if err := n.validateSightings("instances[" + n.Name + "].sightings"); err != nil {
			return err
		}
		if err := n.validateServer("url"); err != nil {
			return prefixField("instances["+n.Name+"]", err)
		}
	}
	return nil
}

func (c *Config) validateSightings(field string) error {
	s := c.Sightings
	if s.Window < minSightingWindow || s.Window > maxSightingWindow {
		return &FieldError{field + ".window", fmt.Sprintf("want %s to %s, got %s", minSightingWindow, maxSightingWindow, s.Window)}
	}
	if len(s.Source) > maxSightingSource || strings.ContainsFunc(s.Source, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return &FieldError{field + ".source", fmt.Sprintf("want at most %d printable characters", maxSightingSource)}
	}
	return nil
}

// prefixField puts the instance in front of a FieldError's field.
func prefixField(prefix string, err error) error {
	if fe, ok := err.(*FieldError); ok {
		return &FieldError{prefix + "." + fe.Field, fe.Reason}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
