// Package event builds the enrichment events custom-misp sends to Wazuh.
//
// The JSON shape is a public schema: the bundled rules, community rules and
// dashboards read these fields, so names and types only ever grow. Every
// field sits under "misp" except the first key, "integration", which the
// root rule anchors on. No top-level key is one of analysisd's static fields
// (srcip, url, id, ...), and identifiers are strings because analysisd turns
// numbers into strings anyway and clamps them to 32 bits.
package event

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// Integration is the value of the top-level "integration" key.
const Integration = "misp"

// Message is one enrichment event as sent to the Wazuh queue.
type Message struct {
	Integration string  `json:"integration"`
	MISP        Payload `json:"misp"`
}

// Payload is everything under "misp". A match event fills the indicator and
// attribute fields; an error event fills Error, Message and HTTPStatus.
type Payload struct {
	// Match events.
	Value             string   `json:"value,omitempty"`            // the MISP attribute value (may be a composite, e.g. 198.51.100.7|8443)
	Type              string   `json:"type,omitempty"`             // the MISP attribute type
	Category          string   `json:"category,omitempty"`         // the MISP attribute category
	EventID           string   `json:"event_id,omitempty"`         // MISP event id
	EventRef          string   `json:"event_ref,omitempty"`        // "MISP event ID", or "MISP event ID on INSTANCE" with several servers: what rule descriptions quote
	EventUUID         string   `json:"event_uuid,omitempty"`       // MISP event uuid
	EventInfo         string   `json:"event_info,omitempty"`       // MISP event title
	EventDate         string   `json:"event_date,omitempty"`       // MISP event date (YYYY-MM-DD)
	ThreatLevel       string   `json:"threat_level,omitempty"`     // high, medium, low or undefined
	Published         *bool    `json:"published,omitempty"`        // whether the MISP event is published
	Org               string   `json:"org,omitempty"`              // creator organisation of the event
	AttributeID       string   `json:"attribute_id,omitempty"`     // MISP attribute id
	AttributeUUID     string   `json:"attribute_uuid,omitempty"`   // MISP attribute uuid
	Comment           string   `json:"comment,omitempty"`          // the attribute's comment
	ToIDs             *bool    `json:"to_ids,omitempty"`           // attribute is marked for detection
	TLP               string   `json:"tlp,omitempty"`              // clear, white, green, amber, amber+strict or red
	Tags              []string `json:"tags,omitempty"`             // attribute and event tags
	Techniques        []string `json:"mitre_techniques,omitempty"` // ATT&CK ids from misp-galaxy:mitre-attack-pattern tags
	Permalink         string   `json:"permalink,omitempty"`        // link to the event in MISP
	MatchedAttributes string   `json:"matched_attributes,omitempty"`
	MatchedEvents     string   `json:"matched_events,omitempty"`
	Indicator         string   `json:"indicator,omitempty"`      // the normalised value we looked up
	IndicatorKind     string   `json:"indicator_kind,omitempty"` // ip, domain, url, md5, sha1, sha256, sha512, imphash
	IndicatorRaw      string   `json:"indicator_raw,omitempty"`  // the value as it stood in the alert
	AlertField        string   `json:"alert_field,omitempty"`    // where in the alert it stood
	MatchedRange      string   `json:"matched_range,omitempty"`  // the MISP network (CIDR) the address lies in, when that is what matched
	Cached            *bool    `json:"cached,omitempty"`         // answered from the local cache, not MISP
	Lookup            string   `json:"lookup,omitempty"`         // "mirror" when the local mirror answered; absent: MISP (live)
	MirrorAge         string   `json:"mirror_age,omitempty"`     // seconds since the mirror was last known current, with lookup "mirror"
	Instance          string   `json:"instance,omitempty"`       // the MISP server that answered, when several are configured (option "instances")

	// Error events.
	Error      string `json:"error,omitempty"`       // error class, see misp.Class
	Message    string `json:"message,omitempty"`     // one key-free line
	HTTPStatus string `json:"http_status,omitempty"` // MISP's HTTP status, when there was one
	Indicators string `json:"indicators,omitempty"`  // how many indicators were not looked up
	Suppressed string `json:"suppressed,omitempty"`  // how many error events of the class were held back since the last one sent

	// Operator jobs (custom-misp feeds fetch run by a Wazuh command wodle).
	Operation string `json:"operation,omitempty"` // e.g. feeds_fetch
	Result    string `json:"result,omitempty"`    // ok or failed

	// All events.
	Source    *Source `json:"source,omitempty"`
	Truncated bool    `json:"truncated,omitempty"` // fields were dropped to fit a queue datagram (wazuh.MaxDatagram)
}

// Source identifies the alert an event enriches.
type Source struct {
	AlertID     string `json:"alert_id,omitempty"`
	RuleID      string `json:"rule_id,omitempty"`
	RuleLevel   string `json:"rule_level,omitempty"`
	Description string `json:"description,omitempty"`
}

// MaxInfo caps the event title we copy, in bytes (ellipsis included):
// rule descriptions quote it, and analysisd falls back to the raw
// "$(misp.event_info)" text when an expanded description passes 1024 bytes.
const MaxInfo = 300

// ellipsis marks a string Cut shortened.
const ellipsis = "…"

// Cut shortens s to at most n bytes, the ellipsis that marks the cut
// included, without splitting a UTF-8 sequence. When n leaves no room for
// the ellipsis, s is cut without it.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i, mark := n-len(ellipsis), ellipsis
	if i < 0 {
		i, mark = max(n, 0), ""
	}
	for i > 0 && s[i]&0xC0 == 0x80 { // a continuation byte: back to its rune's start
		i--
	}
	return s[:i] + mark
}

// ThreatLevel turns MISP's threat_level_id into the word analysts use.
func ThreatLevel(id string) string {
	switch id {
	case "1":
		return "high"
	case "2":
		return "medium"
	case "3":
		return "low"
	}
	return "undefined"
}

// Technique returns the ATT&CK technique id carried by a galaxy tag such as
// misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001":
// the last word of the value when it has the form Tnnnn or Tnnnn.nnn.
// (Parsed by hand: a package-level regexp would cost every run its
// compilation, and most runs never see a tag.)
func Technique(tag string) (string, bool) {
	const prefix = "misp-galaxy:mitre-attack-pattern="
	if !strings.HasPrefix(tag, prefix) {
		return "", false
	}
	v := strings.TrimSuffix(strings.TrimPrefix(tag[len(prefix):], `"`), `"`)
	id := v[strings.LastIndexAny(v, " -")+1:]
	if !isTechniqueID(id) {
		return "", false
	}
	return id, true
}

// isTechniqueID reports whether s is T followed by four digits, optionally
// followed by a dot and three digits.
func isTechniqueID(s string) bool {
	if len(s) != 5 && len(s) != 9 || s[0] != 'T' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if i == 5 {
			if s[i] != '.' {
				return false
			}
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// TLP returns the TLP level named by a tag (tlp:amber → amber).
func TLP(tag string) (string, bool) {
	t := strings.ToLower(tag)
	if !strings.HasPrefix(t, "tlp:") {
		return "", false
	}
	return strings.TrimPrefix(t, "tlp:"), true
}

// tlpRank orders TLP levels so that the most restrictive one wins.
var tlpRank = map[string]int{"clear": 1, "white": 1, "green": 2, "amber": 3, "amber+strict": 4, "red": 5}

// SetInstance names the MISP server that answered, for runs that ask
// several. The name goes into EventRef too: the rule descriptions quote
// it, and analysisd fills a field the event lacks with nothing, so a
// description cannot name misp.instance itself without leaving a gap in
// the single-server case.
func (p *Payload) SetInstance(name string) {
	p.Instance = name
	if p.EventRef != "" {
		p.EventRef += " on " + name
	}
}

// Match builds the event for one indicator. attrs are the attributes MISP
// returned for it, best first (see Rank); the first one is described in
// full and the rest are counted.
func Match(ind ioc.Indicator, attrs []misp.Attribute, baseURL string, src Source) Message {
	a := attrs[0]
	toIDs := bool(a.ToIDs)
	published := bool(a.Event.Published)
	p := Payload{
		Value:         string(a.Value),
		Type:          string(a.Type),
		Category:      string(a.Category),
		EventID:       string(a.EventID),
		EventUUID:     string(a.Event.UUID),
		EventInfo:     Cut(string(a.Event.Info), MaxInfo),
		EventDate:     string(a.Event.Date),
		ThreatLevel:   ThreatLevel(string(a.Event.ThreatLevelID)),
		Published:     &published,
		Org:           string(a.Event.Orgc.Name),
		AttributeID:   string(a.ID),
		AttributeUUID: string(a.UUID),
		Comment:       string(a.Comment),
		ToIDs:         &toIDs,
		Indicator:     ind.Value,
		IndicatorKind: string(ind.Kind),
		IndicatorRaw:  ind.Raw,
		AlertField:    ind.Field,
		Source:        &src,
	}
	if p.EventID == "" {
		p.EventID = string(a.Event.ID)
	}
	if p.EventID != "" {
		p.EventRef = "MISP event " + p.EventID
	}
	if p.EventUUID != "" && baseURL != "" {
		p.Permalink = strings.TrimRight(baseURL, "/") + "/events/view/" + p.EventUUID
	}
	p.Tags, p.TLP, p.Techniques = tagsOf(a)
	if ind.Kind == ioc.IP {
		p.MatchedRange = rangeOf(string(a.Value))
	}
	events := map[string]bool{}
	for _, x := range attrs {
		events[string(x.EventID)] = true
	}
	p.MatchedAttributes = strconv.Itoa(len(attrs))
	p.MatchedEvents = strconv.Itoa(len(events))
	return Message{Integration: Integration, MISP: p}
}

// rangeOf returns the network an address attribute's value (or the first
// half of a composite) holds, or "".
func rangeOf(value string) string {
	first, _, _ := strings.Cut(value, "|")
	if strings.IndexByte(first, '/') < 0 {
		return ""
	}
	p, err := netip.ParsePrefix(first)
	if err != nil {
		return ""
	}
	return p.Masked().String()
}

// tagsOf merges attribute and event tags (without duplicates, attribute
// tags first) and derives the TLP level and ATT&CK ids from them.
func tagsOf(a misp.Attribute) (tags []string, tlp string, techniques []string) {
	seen := map[string]bool{}
	add := func(list []misp.Tag) {
		for _, t := range list {
			name := string(t.Name)
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			tags = append(tags, name)
			if level, ok := TLP(name); ok && tlpRank[level] > tlpRank[tlp] {
				tlp = level
			}
			if id, ok := Technique(name); ok && !slices.Contains(techniques, id) {
				techniques = append(techniques, id)
			}
		}
	}
	add(a.Tags)
	add(a.Event.Tags)
	return tags, tlp, techniques
}

// Failure builds the error event for a lookup that could not be made.
func Failure(class misp.Class, status int, message string, indicators int, src Source) Message {
	p := Payload{Error: string(class), Message: message, Source: &src}
	if status != 0 {
		p.HTTPStatus = strconv.Itoa(status)
	}
	if indicators > 0 {
		p.Indicators = strconv.Itoa(indicators)
	}
	return Message{Integration: Integration, MISP: p}
}

// Job builds the event an operator job prints for Wazuh, e.g. the daily
// `custom-misp feeds fetch` run by a command wodle: result is "ok" or
// "failed", message one key-free line.
func Job(operation, result, message string) Message {
	return Message{Integration: Integration, MISP: Payload{Operation: operation, Result: result, Message: message}}
}
