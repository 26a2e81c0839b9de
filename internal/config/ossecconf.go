package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OssecConf is the part of Wazuh's ossec.conf the operator commands read:
// every <integration> block and every command wodle, the CDB lists of
// <ruleset> and the <cluster> block.
type OssecConf struct {
	Integrations []Integration
	Commands     []CommandWodle
	// Lists are the <list> entries of every <ruleset>, trimmed, as
	// written (e.g. etc/lists/misp/ip).
	Lists []string
	// Cluster is what the <cluster> blocks say, a later block's fields
	// over an earlier one's, as Wazuh reads them; nil when there is none.
	Cluster *Cluster
}

// Cluster is the part of <cluster> that says which node this is.
type Cluster struct {
	NodeName string `xml:"node_name"`
	NodeType string `xml:"node_type"` // master or worker
	Disabled string `xml:"disabled"`  // yes or no
}

// Integration is one <integration> block as text, each element trimmed.
// integratord passes APIKey, HookURL, the Options text (as a file),
// Timeout and Retries to the binary it names.
type Integration struct {
	Name          string `xml:"name"`
	HookURL       string `xml:"hook_url"`
	APIKey        string `xml:"api_key"` // never print this
	Level         string `xml:"level"`
	Group         string `xml:"group"`
	RuleID        string `xml:"rule_id"`
	EventLocation string `xml:"event_location"`
	AlertFormat   string `xml:"alert_format"`
	Options       string `xml:"options"` // raw JSON text
	Timeout       string `xml:"timeout"`
	Retries       string `xml:"retries"`
}

// String describes the block without its API key, so that a stray %v
// cannot print the key.
func (in Integration) String() string {
	key := ""
	if in.APIKey != "" {
		key = " api_key=<set>"
	}
	return fmt.Sprintf("integration %q hook_url=%q%s", in.Name, in.HookURL, key)
}

// CommandWodle is one <wodle name="command"> block.
type CommandWodle struct {
	Tag          string `xml:"tag"`
	Command      string `xml:"command"`
	Interval     string `xml:"interval"`
	Disabled     string `xml:"disabled"`
	IgnoreOutput string `xml:"ignore_output"`
}

func (in Integration) Trimmed() Integration {
	for _, s := range []*string{&in.Name, &in.HookURL, &in.APIKey, &in.Level, &in.Group, &in.RuleID,
		&in.EventLocation, &in.AlertFormat, &in.Options, &in.Timeout, &in.Retries} {
		*s = strings.TrimSpace(*s)
	}
	return in
}

// Find returns the blocks named name, in file order. integratord runs each
// of them, so more than one means every alert is handled more than once.
func (c *OssecConf) Find(name string) []Integration {
	var out []Integration
	for _, in := range c.Integrations {
		if in.Name == name {
			out = append(out, in)
		}
	}
	return out
}

// Args returns what integratord would pass on the command line for this
// block (no alert file). Timeout and retries are checked as ParseArgs
// checks integratord's argv.
func (in Integration) Args() (Args, error) {
	a := Args{APIKey: in.APIKey, HookURL: in.HookURL, Retries: -1}
	if in.Timeout != "" {
		n, err := strconv.Atoi(in.Timeout)
		if err != nil || n <= 0 || n > 3600 {
			return a, &FieldError{"timeout", fmt.Sprintf("<timeout> must be whole seconds from 1 to 3600, got %q", in.Timeout)}
		}
		a.Timeout = time.Duration(n) * time.Second
	}
	if in.Retries != "" {
		n, err := strconv.Atoi(in.Retries)
		if err != nil || n < 0 || n > 10 {
			return a, &FieldError{"retries", fmt.Sprintf("<retries> must be a whole number from 0 to 10, got %q", in.Retries)}
		}
		a.Retries = n
	}
	return a, nil
}

// Sources says where an operator command (doctor, lookup, feeds) takes its
// configuration from: the custom-misp <integration> block of ossec.conf,
// which is what integratord runs with, and the command's flags on top.
type Sources struct {
	Home        string       // Wazuh home: the default socket, log and cache paths
	Block       *Integration // the ossec.conf block; nil when there is none
	OptionsFile string       // replaces the block's <options> (--options)
	HookURL     string       // replaces <hook_url> (--url)
	KeyFile     string       // replaces every other key source (--key-file)
	EnvKey      string       // the key when neither <api_key> nor api_key_file gives one
}

// LoadOperator builds an operator command's configuration: defaults, then
// the block's command-line values, then its options (or the options file),
// then the key file, then Validate; the same steps as Load, so that an
// operator command sees exactly what integratord mode sees. Like Load it
// returns the configuration with derived paths even on error.
func LoadOperator(s Sources) (Config, error) {
	a := Args{Retries: -1}
	var err error
	if s.Block != nil {
		a, err = s.Block.Args()
	}
	var o Options
	if err == nil {
		if s.OptionsFile != "" {
			o, err = ReadOptions(s.OptionsFile)
		} else if s.Block != nil {
			o, err = ParseOptions([]byte(s.Block.Options))
		}
	}
	if s.HookURL != "" {
		a.HookURL = s.HookURL
	}
	if strings.TrimSpace(a.APIKey) == "" {
		a.APIKey = s.EnvKey
	}

	c := fromArgs(a, s.Home)
	if err == nil {
		err = c.Apply(o)
	}
	if err == nil && s.KeyFile != "" {
		var key string
		if key, err = readKeyFile(s.KeyFile); err == nil {
			c.APIKey = key
		} else {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Field = "--key-file"
			}
		}
	}
	c.DerivePaths()
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}
