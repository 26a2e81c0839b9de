package ruleset

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// alwaysSet lists, per family of event, the fields every event of that
// family carries: what event.Match, event.Failure and event.Job fill
// whatever MISP and the alert hold (internal/event, README "Event
// schema"). A match always has its attribute (value, type, category, id),
// its MISP event (id and title: MISP refuses an event without info),
// to_ids, a threat level ("undefined" at worst), the indicator, the match
// counts and the source alert's rule id (integratord passes only alerts
// with a rule). An error event always has its class and a message, but
// http_status only when MISP answered, indicators only when more than 0,
// and source only when the alert could be read. An operator job always
// has operation, result and message. Every other field may be missing:
// TLP, tags and ATT&CK ids depend on MISP's tags and are the first things
// dropped to fit a datagram, the comment and org depend on MISP.
var alwaysSet = map[string][]string{
	"match": {"integration", "misp.value", "misp.type", "misp.category", "misp.event_id", "misp.event_info",
		"misp.threat_level", "misp.published", "misp.attribute_id", "misp.to_ids", "misp.matched_attributes",
		"misp.matched_events", "misp.indicator", "misp.indicator_kind", "misp.source.rule_id"},
	"error": {"integration", "misp.error", "misp.message"},
	"job":   {"integration", "misp.operation", "misp.result", "misp.message"},
	"other": {"integration"},
}

// family tells which alwaysSet list applies to ev. A match event that
// lacks to_ids or a threat level was not made by custom-misp (see
// foreignMatch): nothing but integration is certain about it.
func family(ev decoded) string {
	switch {
	case ev.fields["misp.error"] != "":
		return "error"
	case ev.fields["misp.operation"] != "":
		return "job"
	case ev.fields["misp.to_ids"] != "" && ev.fields["misp.threat_level"] != "":
		return "match"
	}
	return "other"
}

// without returns a copy of ev lacking the named fields.
func (ev decoded) without(names ...string) decoded {
	out := ev
	out.fields = maps.Clone(ev.fields)
	for _, n := range names {
		delete(out.fields, n)
	}
	out.name = ev.name + " without " + strings.Join(names, ", ")
	return out
}

// gaps returns the $(field) of desc that ev leaves empty.
func gaps(desc string, ev decoded) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(desc, -1) {
		if !staticVars[m[1]] && ev.fields[strings.ToLower(m[1])] == "" {
			out = append(out, m[1])
		}
	}
	return out
}

// variants returns ev, ev without each field its family may lack, and ev
// without all of them.
func variants(ev decoded) []decoded {
	var optional []string
	for _, k := range slices.Sorted(maps.Keys(ev.fields)) {
		if !slices.Contains(alwaysSet[family(ev)], k) {
			optional = append(optional, k)
		}
	}
	out := []decoded{ev}
	for _, f := range optional {
		out = append(out, ev.without(f))
	}
	if len(optional) > 1 {
		out = append(out, ev.without(optional...))
	}
	return out
}

// TestRuleset_NoEmptySubstitution: analysisd fills $(field) with nothing
// when the event lacks the field, which left alerts reading "MITRE " and
// "timed out,  indicators". Every kind of event, and every variant of it
// that lacks one (or all) of the fields its family may lack, must end on a
// rule whose description has no empty substitution; so must the frequency
// rules fed by such an event (the latest event is the one they describe).
// Every rule below the root must be reached by some variant.
func TestRuleset_NoEmptySubstitution(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	reached := map[int]bool{}
	for _, k := range kinds(t) {
		ev, err := decode(rs.decoders, k.name, datagram(t, k.msg, true))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants(ev) {
			r := rs.match(v)
			if r == nil || r.id == rootID {
				continue // no alert, nothing to read
			}
			reached[r.id] = true
			if g := gaps(r.description, v); len(g) > 0 {
				t.Errorf("%s: rule %d leaves $(%s) empty: %q", v.name, r.id, strings.Join(g, "), $("), expand(r.description, v))
			}
			for _, f := range rs.rules {
				if f.frequency == 0 || f.ifMatchedGroup == "" || !r.hasGroup(f.ifMatchedGroup) {
					continue
				}
				reached[f.id] = true
				if g := gaps(f.description, v); len(g) > 0 {
					t.Errorf("%s: frequency rule %d (fed by rule %d) leaves $(%s) empty: %q", v.name, f.id, r.id, strings.Join(g, "), $("), expand(f.description, v))
				}
			}
		}
	}
	for _, r := range rs.rules {
		if !r.overwrite && r.id != rootID && !reached[r.id] {
			t.Errorf("rule %d is reached by no kind of event: add one to kinds", r.id)
		}
	}
}

// TestRuleset_Correlation: 117630 counts the same IoC three times within
// the hour, and analysisd compares each earlier match with the latest one
// only (different_location), so it fires when two agents saw it. Its
// description must say what firing means, not "several agents".
func TestRuleset_Correlation(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	corr := rs.byID[117630]
	if corr == nil {
		t.Fatal("rule 117630 not found")
	}
	agents := map[string]string{
		"A": "1:[003] (WIN-DC01) 10.20.0.15->misp:",
		"B": "1:[004] (WS-HR-0107) 10.20.30.77->misp:",
		"C": "1:[016] (LT-SALES-0219) any->misp:",
		"M": "1:misp:", // the manager
	}
	body, err := json.Marshal(match(true, high))
	if err != nil {
		t.Fatal(err)
	}
	matchOf := func(agent string) decoded {
		ev, err := decode(rs.decoders, agent, agents[agent]+string(body))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	tests := []struct {
		name       string
		agents     string // where the same IoC matched, oldest first
		wantFireAt []int  // events (1-based) on which 117630 fires
	}{
		{"two agents", "AAB", []int{3}},
		{"three agents", "ABC", []int{3}},
		{"manager and an agent", "MMA", []int{3}},
		{"one agent", "AAAA", nil},
		{"the latest agent saw it before", "ABA", nil},
		{"not again right after firing", "AABB", []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var history []earlier
			var fired []int
			for i, a := range tt.agents {
				ev := matchOf(string(a))
				r := rs.match(ev)
				if r == nil || !r.hasGroup(corr.ifMatchedGroup) {
					t.Fatalf("event %d: matched %v, want a rule of group %s", i+1, r, corr.ifMatchedGroup)
				}
				matched := 0
				if counted, ok := corr.fires(history, ev); ok {
					fired = append(fired, i+1)
					// analysisd marks the event and the newest counted
					// one, so that they do not fire the rule again.
					matched = corr.level
					history[counted[0]].matched = corr.level
					distinct := map[string]bool{ev.internalLocation(): true}
					for _, j := range counted {
						distinct[history[j].ev.internalLocation()] = true
					}
					if len(distinct) < 2 {
						t.Errorf("event %d: fired with %d location(s)", i+1, len(distinct))
					}
					got := expand(corr.description, ev)
					want := `MISP: IoC 185.225.74.19 (ip) from MISP event 1337 "Emotet epoch 5 C2 servers" matched 3 times within one hour on at least 2 agents`
					if got != want {
						t.Errorf("description\n got %s\nwant %s", got, want)
					}
				}
				history = append(history, earlier{ev: ev, matched: matched})
			}
			if diff := cmp.Diff(tt.wantFireAt, fired); diff != "" {
				t.Errorf("fires on events (-want +got):\n%s", diff)
			}
		})
	}
}
