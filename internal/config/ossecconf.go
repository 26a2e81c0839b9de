package config

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// MaxOssecConfSize caps ossec.conf. A stock manager's is about 12 KiB;
// hand-grown ones with many localfile blocks stay far below 1 MiB.
const MaxOssecConfSize = 4 << 20

// OssecConf is the part of Wazuh's ossec.conf the operator commands read:
// every <integration> block and every command wodle.
type OssecConf struct {
	Integrations []Integration
	Commands     []CommandWodle
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

// ReadOssecConf reads and parses an ossec.conf file.
func ReadOssecConf(path string) (*OssecConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ossec.conf: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxOssecConfSize+1))
	if err != nil {
		return nil, fmt.Errorf("ossec.conf %s: %w", path, err)
	}
	if len(data) > MaxOssecConfSize {
		return nil, fmt.Errorf("ossec.conf %s: larger than %d bytes", path, MaxOssecConfSize)
	}
	c, err := ParseOssecConf(data)
	if err != nil {
		return nil, fmt.Errorf("ossec.conf %s: %w", path, err)
	}
	return c, nil
}

// wrapper is a root element of our own: ossec.conf has several top-level
// <ossec_config> elements, which is not one XML document.
const wrapper = "custom-misp-ossec-conf"

// ParseOssecConf parses ossec.conf. Wazuh reads it with its own lenient
// parser, so this one is lenient too: a bare "&" (common inside <options>
// URLs) and unknown entities are kept as written, and elements other than
// those we read are ignored.
func ParseOssecConf(data []byte) (*OssecConf, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("<?xml")) {
		// A declaration is only allowed at the very start; ours comes first.
		data = bytes.TrimSpace(data)
		if end := bytes.Index(data, []byte("?>")); end >= 0 {
			data = data[end+2:]
		}
	}
	doc := make([]byte, 0, len(data)+2*len(wrapper)+5)
	doc = append(doc, "<"+wrapper+">"...)
	doc = append(doc, data...)
	doc = append(doc, "</"+wrapper+">"...)

	var root struct {
		Configs []struct {
			Integrations []Integration `xml:"integration"`
			Wodles       []struct {
				Name string `xml:"name,attr"`
				CommandWodle
			} `xml:"wodle"`
		} `xml:"ossec_config"`
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = false
	if err := dec.Decode(&root); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("not valid XML at line %d: %s", se.Line, se.Msg)
		}
		return nil, fmt.Errorf("not valid XML: %w", err)
	}
	c := &OssecConf{}
	for _, oc := range root.Configs {
		for _, in := range oc.Integrations {
			c.Integrations = append(c.Integrations, in.trimmed())
		}
		for _, w := range oc.Wodles {
			if strings.TrimSpace(w.Name) != "command" {
				continue
			}
			cw := w.CommandWodle
			for _, s := range []*string{&cw.Tag, &cw.Command, &cw.Interval, &cw.Disabled, &cw.IgnoreOutput} {
				*s = strings.TrimSpace(*s)
			}
			c.Commands = append(c.Commands, cw)
		}
	}
	return c, nil
}

func (in Integration) trimmed() Integration {
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
