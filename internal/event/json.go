package event

import "unicode/utf8"

// AppendJSON appends m as compact JSON, byte for byte what encoding/json
// writes for it with HTML escaping off (TestAppendJSON_IsEncodingJSON and
// FuzzAppendJSON hold it to that). It is written out by hand because
// encoding/json's first Marshal of a type builds its encoders by
// reflection, which was a tenth of a cached run (BENCHMARKS.md).
func (m Message) AppendJSON(b []byte) []byte {
	b = append(b, `{"integration":`...)
	b = appendString(b, m.Integration)
	b = append(b, `,"misp":`...)
	return append(m.MISP.appendJSON(b), '}')
}

func (p *Payload) appendJSON(b []byte) []byte {
	o := object{b: append(b, '{')}
	o.str("value", p.Value)
	o.str("type", p.Type)
	o.str("category", p.Category)
	o.str("event_id", p.EventID)
	o.str("event_ref", p.EventRef)
	o.str("event_uuid", p.EventUUID)
	o.str("event_info", p.EventInfo)
	o.str("event_date", p.EventDate)
	o.str("threat_level", p.ThreatLevel)
	o.boolPtr("published", p.Published)
	o.str("org", p.Org)
	o.str("attribute_id", p.AttributeID)
	o.str("attribute_uuid", p.AttributeUUID)
	o.str("comment", p.Comment)
	o.boolPtr("to_ids", p.ToIDs)
	o.str("tlp", p.TLP)
	o.strs("tags", p.Tags)
	o.strs("mitre_techniques", p.Techniques)
	o.str("permalink", p.Permalink)
	o.str("matched_attributes", p.MatchedAttributes)
	o.str("matched_events", p.MatchedEvents)
	o.str("indicator", p.Indicator)
	o.str("indicator_kind", p.IndicatorKind)
	o.str("indicator_raw", p.IndicatorRaw)
	o.str("alert_field", p.AlertField)
	o.str("matched_range", p.MatchedRange)
	o.boolPtr("cached", p.Cached)
	o.str("lookup", p.Lookup)
	o.str("mirror_age", p.MirrorAge)
	o.str("instance", p.Instance)
	o.str("error", p.Error)
	o.str("message", p.Message)
	o.str("http_status", p.HTTPStatus)
	o.str("indicators", p.Indicators)
	o.str("suppressed", p.Suppressed)
	o.str("operation", p.Operation)
	o.str("result", p.Result)
	if p.Source != nil {
		o.key("source")
		s := object{b: append(o.b, '{')}
		s.str("alert_id", p.Source.AlertID)
		s.str("rule_id", p.Source.RuleID)
		s.str("rule_level", p.Source.RuleLevel)
		s.str("description", p.Source.Description)
		o.b = append(s.b, '}')
	}
	if p.Truncated {
		o.key("truncated")
		o.b = append(o.b, "true"...)
	}
	return append(o.b, '}')
}

// object writes the members of one JSON object, leaving out empty values
// as the struct tags' omitempty does.
type object struct {
	b     []byte
	count int
}

func (o *object) key(k string) {
	if o.count > 0 {
		o.b = append(o.b, ',')
	}
	o.count++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *object) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.b = appendString(o.b, v)
}

func (o *object) boolPtr(k string, v *bool) {
	if v == nil {
		return
	}
	o.key(k)
	if *v {
		o.b = append(o.b, "true"...)
	} else {
		o.b = append(o.b, "false"...)
	}
}

func (o *object) strs(k string, v []string) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendString(o.b, s)
	}
	o.b = append(o.b, ']')
}

// appendString quotes s as encoding/json does without HTML escaping:
// short escapes for quote, backslash and \b \f \n \r \t, \u00XX for other
// control bytes, U+FFFD for invalid UTF-8, and \u2028 \u2029 escaped
// (JavaScript reads them as line ends).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
