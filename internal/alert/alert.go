// Package alert reads the one Wazuh alert that integratord hands to the
// integration, decodes only the fields the program uses, and extracts the
// indicators it carries.
package alert

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/custom-misp/custom-misp/internal/rawfile"
)

// MaxAlertSize caps how much of the alert file is read. integratord writes
// one line of alerts.json. analysisd limits an event to OS_MAXSTR (64 KiB),
// and that event can appear several times in one alert (full_log, the
// decoded data fields, win.system.message, the previous_output of a
// frequency rule, a syscheck diff), each growing up to 6x when JSON-escaped.
// Real alerts stay well under 1 MiB; 4 MiB leaves room for all of that while
// keeping a hostile or corrupt file from costing real memory.
const MaxAlertSize = 4 << 20

// MaxNesting caps the depth of the arrays and objects read in an alert (the
// alert object is level 1, data level 2). The deepest Wazuh alerts (AWS
// GuardDuty findings) nest about 10 levels, but the decoded data of a log
// line nests as deep as the line says. A part that opens deeper is skipped
// unread (see Alert.SkippedDeep), which keeps the recursive JSON validator
// and the extractor's walk on a short stack whatever the input; the rest of
// the alert is still read.
const MaxNesting = 64

// Errors a caller branches on to pick an exit code. They are wrapped with
// context, so test them with errors.Is.
var (
	// ErrNotFound means the alert file is missing or unreadable (including an
	// empty path: integratord passes "" when it could not create the file).
	ErrNotFound = errors.New("alert file unreadable")
	// ErrEmpty means the alert file holds nothing but white space.
	ErrEmpty = errors.New("alert file is empty")
	// ErrNotJSON means the alert is not valid JSON. When the file is
	// integratord's key=value text format the error says so, because the fix
	// is <alert_format>json</alert_format> in the integration block.
	ErrNotJSON = errors.New("alert is not json")
	// ErrTooLarge means the alert file exceeds MaxAlertSize.
	ErrTooLarge = errors.New("alert file too large")
	// ErrShape means the alert is valid JSON but not a Wazuh alert: not an
	// object, or no rule object.
	ErrShape = errors.New("alert has the wrong shape")
)

// Alert is one decoded Wazuh alert: the few fields the program reads
// directly, plus the parsed document for indicator extraction.
type Alert struct {
	ID              string   // alert id ("1795797972.3424")
	RuleID          string   // rule.id, a string in alerts.json
	RuleLevel       int      // rule.level
	RuleDescription string   // rule.description
	RuleGroups      []string // rule.groups, in the order Wazuh wrote them
	Agent           Agent    // the agent the alert is about
	Location        string   // log path, EventChannel, syscheck, a syslog sender IP, ...
	// SkippedDeep counts the arrays and objects that opened deeper than
	// MaxNesting. Each was replaced in Root, unread, by an empty one of
	// the same kind, so the indicators inside it are not extracted; the
	// run logs that once when it is not zero.
	SkippedDeep int
	Root        gjson.Result
}

// Agent identifies the Wazuh agent an alert came from. Manager-side modules
// (AWS, Office 365, remote syslog) report agent "000" without an IP.
type Agent struct {
	ID   string
	Name string
	IP   string
}

// Read reads and parses the alert file at path, reading at most
// MaxAlertSize bytes.
func Read(path string) (*Alert, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no alert file path given", ErrNotFound)
	}
	data, err := rawfile.Read(path, MaxAlertSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if len(data) > MaxAlertSize {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, path, MaxAlertSize)
	}
	a, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// textFormatPrefix starts the file integratord writes when the integration
// block lacks <alert_format>json</alert_format>.
var textFormatPrefix = []byte("alertdate='")

// Parse decodes one alert. It validates the JSON but decodes only the
// fields Alert exposes; indicators are read later from Root.
func Parse(data []byte) (*Alert, error) {
	if len(data) > MaxAlertSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxAlertSize)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	if bytes.HasPrefix(data, textFormatPrefix) {
		return nil, fmt.Errorf("%w: got integratord's text format, add <alert_format>json</alert_format> to the integration block", ErrNotJSON)
	}
	pruned, skipped, balanced := pruneDeep(data)
	if !balanced || !gjson.ValidBytes(pruned) {
		return nil, fmt.Errorf("%w: invalid json in %d bytes", ErrNotJSON, len(data))
	}
	root := gjson.ParseBytes(pruned)
	if !root.IsObject() {
		return nil, fmt.Errorf("%w: top level is a %s, not an object", ErrShape, kindName(root))
	}
	rule := root.Get("rule")
	if !rule.IsObject() {
		return nil, fmt.Errorf("%w: no rule object", ErrShape)
	}
	a := &Alert{
		ID:              root.Get("id").String(),
		RuleID:          rule.Get("id").String(),
		RuleLevel:       int(rule.Get("level").Int()),
		RuleDescription: rule.Get("description").String(),
		Location:        root.Get("location").String(),
		SkippedDeep:     skipped,
		Root:            root,
	}
	for _, g := range rule.Get("groups").Array() {
		a.RuleGroups = append(a.RuleGroups, g.String())
	}
	agent := root.Get("agent")
	a.Agent = Agent{
		ID:   agent.Get("id").String(),
		Name: agent.Get("name").String(),
		IP:   agent.Get("ip").String(),
	}
	return a, nil
}

// ownLocation is the location analysisd stores for the events we send, in
// the agent and the manager form alike; ownGroup is the group every rule of
// rules/0990-misp_rules.xml puts its alerts in.
const (
	ownLocation = "misp"
	ownGroup    = "misp"
)

// IsOwnEnrichment reports whether the alert was raised on one of our own
// enrichment events. A <level>-only integration filter feeds those back to
// us; looking them up again would loop.
//
// It rests only on what analysisd sets and a log line cannot: the location
// of the events we send, or the group of our rules (whose root rule
// 117600 requires that location). Neither the decoded data
// ("integration":"misp" may come from any JSON log line) nor the decoder
// name is asked: our decoder takes any line that starts like our events
// (its prematch), so whoever writes one such line would otherwise hide
// every indicator in it.
func (a *Alert) IsOwnEnrichment() bool {
	return a.Location == ownLocation || slices.Contains(a.RuleGroups, ownGroup)
}

// pruneDeep returns data with every array or object that opens deeper than
// MaxNesting replaced by an empty one of the same kind, and how many were
// replaced; data itself when none was. It reads data once, without
// recursion, and counts no bracket inside a string. A replaced part is
// checked only for matching brackets and closed strings (the JSON
// validator, which recurses, never sees it): balanced is false when they
// do not match or data ends inside such a part.
func pruneDeep(data []byte) (pruned []byte, skipped int, balanced bool) {
	var (
		depth             int
		inString, escaped bool
		open              []byte // brackets open in the part being skipped, outermost first
		start             int    // where that part opens
		kept              int    // data[:kept] is in pruned
	)
	pruned = data
	for i, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxNesting {
				if len(open) == 0 {
					start = i
				}
				open = append(open, c)
			}
		case c == '}' || c == ']':
			depth--
			if len(open) == 0 {
				continue
			}
			opening := byte('[')
			if c == '}' {
				opening = '{'
			}
			if open[len(open)-1] != opening {
				return nil, 0, false
			}
			open = open[:len(open)-1]
			if len(open) == 0 {
				if skipped == 0 {
					pruned = make([]byte, 0, len(data))
				}
				pruned = append(append(pruned, data[kept:start+1]...), c)
				kept = i + 1
				skipped++
			}
		}
	}
	if len(open) > 0 {
		return nil, 0, false
	}
	if skipped > 0 {
		pruned = append(pruned, data[kept:]...)
	}
	return pruned, skipped, true
}

func kindName(r gjson.Result) string {
	switch {
	case r.IsArray():
		return "array"
	case r.Type == gjson.String:
		return "string"
	case r.Type == gjson.Number:
		return "number"
	case r.Type == gjson.True || r.Type == gjson.False:
		return "boolean"
	}
	return "null"
}
