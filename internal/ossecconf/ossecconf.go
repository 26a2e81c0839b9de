// Package ossecconf reads Wazuh's ossec.conf: the custom-misp
// <integration> block, the command wodles, the <ruleset> lists and the
// <cluster> node, for the operator commands.
// It is a package of its own so that the program integratord runs does
// not link an XML parser it never uses.
package ossecconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/custom-misp/custom-misp/internal/config"
)

// MaxSize caps ossec.conf. A stock manager's is about 12 KiB; hand-grown
// ones with many localfile blocks stay far below 1 MiB.
const MaxSize = 4 << 20

// Read reads and parses an ossec.conf file.
func Read(path string) (*config.OssecConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ossec.conf: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("ossec.conf %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("ossec.conf %s: larger than %d bytes", path, MaxSize)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("ossec.conf %s: %w", path, err)
	}
	return c, nil
}

// wrapper is a root element of our own: ossec.conf has several top-level
// <ossec_config> elements, which is not one XML document.
const wrapper = "custom-misp-ossec-conf"

// Parse parses ossec.conf. Wazuh reads it with its own lenient
// parser, so this one is lenient too: a bare "&" (common inside <options>
// URLs) and unknown entities are kept as written, and elements other than
// those we read are ignored.
func Parse(data []byte) (*config.OssecConf, error) {
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
			Integrations []config.Integration `xml:"integration"`
			Wodles       []struct {
				Name string `xml:"name,attr"`
				config.CommandWodle
			} `xml:"wodle"`
			Rulesets []struct {
				Lists []string `xml:"list"`
			} `xml:"ruleset"`
			Clusters []config.Cluster `xml:"cluster"`
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
	c := &config.OssecConf{}
	for _, oc := range root.Configs {
		for _, in := range oc.Integrations {
			c.Integrations = append(c.Integrations, in.Trimmed())
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
		for _, rs := range oc.Rulesets {
			for _, l := range rs.Lists {
				c.Lists = append(c.Lists, strings.TrimSpace(l))
			}
		}
		// Wazuh reads every <cluster> block in turn, each setting what it
		// names: a later one overrides an earlier one field by field.
		for _, cl := range oc.Clusters {
			if c.Cluster == nil {
				c.Cluster = &config.Cluster{}
			}
			for _, f := range []struct {
				dst *string
				v   string
			}{
				{&c.Cluster.NodeName, cl.NodeName}, {&c.Cluster.NodeType, cl.NodeType}, {&c.Cluster.Disabled, cl.Disabled}} {
				if v := strings.TrimSpace(f.v); v != "" {
					*f.dst = v
				}
			}
		}
	}
	return c, nil
}
