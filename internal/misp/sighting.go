package misp

import "fmt"

// SightingType is MISP's sighting type (Sighting.type in MISP's schema).
type SightingType int

// Sighting types, as MISP numbers them.
const (
	Seen          SightingType = 0 // the indicator was seen: a match in Wazuh
	FalsePositive SightingType = 1 // an analyst judged the match a false positive
	Expiration    SightingType = 2 // the indicator should no longer be used
)

// String is the name the sighting command takes (--type).
func (t SightingType) String() string {
	switch t {
	case Seen:
		return "sighting"
	case FalsePositive:
		return "false-positive"
	case Expiration:
		return "expiration"
	}
	return fmt.Sprintf("type-%d", int(t))
}

// ParseSightingType reads --type: "sighting", "false-positive" or
// "expiration".
func ParseSightingType(s string) (SightingType, error) {
	for _, t := range []SightingType{Seen, FalsePositive, Expiration} {
		if s == t.String() {
			return t, nil
		}
	}
	return 0, fmt.Errorf("sighting type %q: want sighting, false-positive or expiration", s)
}

// Sighting is one sighting to add: for the attribute AttributeUUID, or,
// when that is empty, for every attribute whose value is Value (what MISP
// does with a sighting by value). Timestamp is Unix seconds; zero means
// now, as MISP takes it.
type Sighting struct {
	AttributeUUID string       `json:"attribute_uuid,omitempty"`
	Value         string       `json:"value,omitempty"`
	Type          SightingType `json:"type"`
	Source        string       `json:"source,omitempty"`
	Timestamp     int64        `json:"timestamp,omitempty"`
}

// SightingResult is what MISP did with a batch of sightings.
type SightingResult struct {
	Added    int      `json:"added"`              // sightings MISP created
	Unknown  []string `json:"unknown,omitempty"`  // UUIDs or values MISP found no attribute for
	Requests int      `json:"requests,omitempty"` // HTTP requests it took
}

// IsUUID says whether s is a UUID as MISP writes them: 8-4-4-4-12
// hexadecimal digits. (By hand, not a regexp: this package is linked into
// every integratord run, and a package-level regexp is compiled at start.)
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
