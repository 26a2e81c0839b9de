package misp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Class is the kind of failure a lookup can end in. The values travel in
// enrichment events as misp.error and the Wazuh rules match on them, so
// they are part of the public schema: never rename one.
type Class string

// Error classes.
const (
	ClassAuth        Class = "auth"         // 401/403: bad, expired, disabled or IP-restricted key
	ClassRateLimited Class = "rate_limited" // 429
	ClassUnavailable Class = "unavailable"  // 5xx, connection refused, DNS failure
	ClassTimeout     Class = "timeout"      // request or run deadline exceeded
	ClassTLS         Class = "tls"          // certificate or handshake failure
	ClassBadResponse Class = "bad_response" // unexpected status, not JSON, too large, wrong shape
	ClassConfig      Class = "config"       // our own configuration is unusable
	// ClassForbidden: the key is good but its role lacks the permission
	// the call needs (a read-only key adding a sighting).
	ClassForbidden Class = "forbidden"
	// Mirror classes (lookup "mirror"): the mirror answered, but its last
	// good sync is older than mirror_max_age; or there is no usable mirror
	// and, MISP never being asked per alert in that mode, nothing answered.
	ClassStaleMirror Class = "stale_mirror"
	ClassNoMirror    Class = "no_mirror"
)

// Error is a failed MISP call. Message is one line, safe to log and to put in
// an event: it never contains the API key, a request body or a whole response.
type Error struct {
	Class   Class
	Status  int       // HTTP status, 0 when no response arrived
	Message string    // what happened, e.g. MISP's own reason for a 403
	Reset   time.Time // for ClassRateLimited: when MISP says the window ends (zero if unknown)

	// Cause is the underlying transport error, if any, for errors.As (the
	// doctor command digs the unverified certificate chain out of it). It
	// is not part of Error(): its text may be long.
	Cause error
}

// Unwrap returns the transport error behind e, or nil.
func (e *Error) Unwrap() error { return e.Cause }

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("misp %s: status %d: %s", e.Class, e.Status, e.Message)
	}
	return fmt.Sprintf("misp %s: %s", e.Class, e.Message)
}

// Attribute is one MISP attribute as returned by /attributes/restSearch with
// includeContext and includeEventTags. MISP 2.5 sends ids and timestamps as
// strings and booleans as JSON booleans, but older servers differ, so the
// flexible types below accept string, number or bool.
type Attribute struct {
	ID             FlexString `json:"id"`
	EventID        FlexString `json:"event_id"`
	ObjectID       FlexString `json:"object_id"`
	ObjectRelation FlexString `json:"object_relation"`
	Category       FlexString `json:"category"`
	Type           FlexString `json:"type"`
	Value          FlexString `json:"value"`
	ToIDs          FlexBool   `json:"to_ids"`
	UUID           FlexString `json:"uuid"`
	Timestamp      FlexString `json:"timestamp"`
	Comment        FlexString `json:"comment"`
	Deleted        FlexBool   `json:"deleted"`
	Event          Event      `json:"Event"`
	Tags           []Tag      `json:"Tag"`
}

// Event is the event context of an attribute (includeContext).
type Event struct {
	ID            FlexString `json:"id"`
	UUID          FlexString `json:"uuid"`
	Info          FlexString `json:"info"`
	Date          FlexString `json:"date"`
	ThreatLevelID FlexString `json:"threat_level_id"`
	Analysis      FlexString `json:"analysis"`
	Published     FlexBool   `json:"published"`
	Timestamp     FlexString `json:"timestamp"`
	Orgc          Org        `json:"Orgc"`
	Tags          []Tag      `json:"Tag"`
}

// EventStamp is one row of MISP's minimal event index: enough to tell
// whether an event changed since the mirror last read it.
type EventStamp struct {
	ID        FlexString `json:"id"`
	UUID      FlexString `json:"uuid"`
	Timestamp FlexString `json:"timestamp"`
	Published FlexBool   `json:"published"`
}

// Warninglists is what a mirror sync needs to know of the warninglists
// MISP has enabled.
type Warninglists struct {
	// Fingerprint changes when a list is enabled, disabled or edited.
	Fingerprint string
	// Types maps each enabled list's id to the attribute types it applies
	// to ("ALL" for every type).
	Types map[string][]string
}

// Org is a MISP organisation.
type Org struct {
	ID   FlexString `json:"id"`
	Name FlexString `json:"name"`
	UUID FlexString `json:"uuid"`
}

// Tag is a MISP tag; Inherited is set on event tags copied onto an attribute.
type Tag struct {
	Name      FlexString `json:"name"`
	Inherited FlexBool   `json:"inherited"`
}

// Answer is what one search returns: the attributes that could be read,
// and a count of those that could not.
type Answer struct {
	Attributes []Attribute `json:"attributes,omitempty"`
	Skipped    Skipped     `json:"skipped,omitzero"`
	// Filtered counts attributes left out here for what MISP marked on
	// them: warninglist hits, or decay (the mirror's pages only, see
	// mispclient.AttributePage).
	Filtered int `json:"filtered,omitempty"`
}

// Skipped counts the attributes of one answer that were left out because a
// field had an unexpected JSON type (a buggy or hostile MISP, a proxy
// rewriting answers): one odd attribute must not cost the good matches.
type Skipped struct {
	Count int `json:"count"`
	// Fields are the bad fields, sorted, each once, e.g. "Event.info".
	// They are names from Attribute's JSON tags, never content, so they
	// are safe to log whatever the attribute held.
	Fields []string `json:"fields,omitempty"`
}

// Add records one attribute left out because of field ("" for the
// attribute as a whole).
func (s *Skipped) Add(field string) {
	s.Count++
	if field == "" {
		field = "attribute"
	}
	if i, found := slices.BinarySearch(s.Fields, field); !found {
		s.Fields = slices.Insert(s.Fields, i, field)
	}
}

// String is the line to log once per answer.
func (s Skipped) String() string {
	return fmt.Sprintf("skipped %d attribute(s) of MISP's answer with a field of an unexpected JSON type (%s); the others are used",
		s.Count, strings.Join(s.Fields, ", "))
}

// ClassOf returns the class of a failure from this package, "" for nil.
// Context errors are ClassTimeout; any other foreign error is
// ClassUnavailable, the class that makes callers back off.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ClassTimeout
	}
	return ClassUnavailable
}
