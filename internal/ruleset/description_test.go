package ruleset

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// alwaysSet lists, per family of event, the fields every event of that
// family carries: what event.Match, event.Failure and event.Job fill
// whatever MISP and the alert hold (internal/event, README "Event
// schema"). A match always has its attribute (value, type, category, id),
// its MISP event (id and title: MISP refuses an event without info; and
// event_ref, which event.Match makes from the id),
// to_ids, a threat level ("undefined" at worst), the indicator, the match
// counts and the source alert's rule id (integratord passes only alerts
// with a rule). An error event always has its class and a message, but
// http_status only when MISP answered, indicators only when more than 0,
// and source only when the alert could be read. An operator job always
// has operation, result and message. Every other field may be missing:
// TLP, tags and ATT&CK ids depend on MISP's tags and are the first things
// dropped to fit a datagram, the comment and org depend on MISP.
var alwaysSet = map[string][]string{
	"match": {"integration", "misp.value", "misp.type", "misp.category", "misp.event_id", "misp.event_ref", "misp.event_info",
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
		if !r.overwrite && r.id != rootID && r.file != cdbRulesFile && !reached[r.id] {
			t.Errorf("rule %d is reached by no kind of event: add one to kinds", r.id)
		}
	}
}

// correlationAgents are the locations of the correlation tests.
var correlationAgents = map[string]string{
	"A": "1:[003] (WIN-DC01) 10.20.0.15->misp:",
	"B": "1:[004] (WS-HR-0107) 10.20.30.77->misp:",
	"C": "1:[016] (LT-SALES-0219) any->misp:",
	"M": "1:misp:", // the manager
}

// correlate feeds evs, oldest first, through rs and the correlation rule
// corr as analysisd would, and returns the events (1-based) on which corr
// fires, checking each firing's locations and description.
func correlate(t *testing.T, rs *ruleset, corr *rule, evs []decoded, wantDesc func(decoded) string) []int {
	t.Helper()
	var history []earlier
	var fired []int
	for i, ev := range evs {
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
			if got, want := expand(corr.description, ev), wantDesc(ev); got != want {
				t.Errorf("description\n got %s\nwant %s", got, want)
			}
		}
		history = append(history, earlier{ev: ev, matched: matched})
	}
	return fired
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
	body, err := json.Marshal(match(true, high))
	if err != nil {
		t.Fatal(err)
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
	want := func(decoded) string {
		return `MISP: IoC 185.225.74.19 (ip) from MISP event 1337 "Emotet epoch 5 C2 servers" matched 3 times within one hour on at least 2 agents`
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var evs []decoded
			for _, a := range tt.agents {
				ev, err := decode(rs.decoders, string(a), correlationAgents[string(a)]+string(body))
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
			}
			fired := correlate(t, rs, corr, evs, want)
			if diff := cmp.Diff(tt.wantFireAt, fired); diff != "" {
				t.Errorf("fires on events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRuleset_CorrelationSeveralServers: with several MISP servers one
// alert gives one match event per server, all from the alert's agent.
// 117630 must still need three alerts (three matches on one server), not
// two alerts on two agents that made four events; on Wazuh 4.14.7 it fired
// on the second alert until it required the same misp.event_ref (the
// golden logtest-4.14.7.jsonl holds that sequence). Each server's
// correlation names its server.
func TestRuleset_CorrelationSeveralServers(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	corr := rs.byID[117630]
	if corr == nil {
		t.Fatal("rule 117630 not found")
	}
	eventOf := func(agent, server string) decoded {
		m := match(true, high)
		m.MISP.SetInstance(server)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := decode(rs.decoders, agent+" "+server, correlationAgents[agent]+string(b))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	tests := []struct {
		name       string
		seq        []string // agent:server, oldest first
		wantFireAt []int
	}{
		{"two alerts on two agents", []string{"A:local", "A:circl", "B:local", "B:circl"}, nil},
		{"three alerts on three agents", []string{"A:local", "A:circl", "B:local", "B:circl", "C:local", "C:circl"}, []int{5, 6}},
		{"one server knows it", []string{"A:circl", "A:circl", "B:circl"}, []int{3}},
		{"each server once per agent", []string{"A:local", "B:circl", "C:local"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var evs []decoded
			for _, s := range tt.seq {
				agent, server, _ := strings.Cut(s, ":")
				evs = append(evs, eventOf(agent, server))
			}
			want := func(ev decoded) string {
				return `MISP: IoC 185.225.74.19 (ip) from MISP event 1337 on ` + ev.fields["misp.instance"] +
					` "Emotet epoch 5 C2 servers" matched 3 times within one hour on at least 2 agents`
			}
			fired := correlate(t, rs, corr, evs, want)
			if diff := cmp.Diff(tt.wantFireAt, fired); diff != "" {
				t.Errorf("fires on events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRuleset_KeepFailing: issue 11 item 9. The cache sends one error
// event per class per 5 minutes and the next one carries how many it held
// back (misp.suppressed), so a frequency rule over error events could
// never count ten. 117650 fires on a transient error event that says 9 or
// more were held back, that is 10 or more failures within the window, and
// on nothing else; its description reads the count.
func TestRuleset_KeepFailing(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	withCount := func(c misp.Class, suppressed string) decoded {
		m := failure(c)
		m.MISP.Suppressed = suppressed
		ev, err := decode(rs.decoders, string(c)+" "+suppressed, datagram(t, m, true))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	transient := map[misp.Class]int{misp.ClassUnavailable: 117644, misp.ClassRateLimited: 117645, misp.ClassTimeout: 117646}
	fire := []string{"9", "10", "12", "19", "90", "99", "100", "2147483647", "99999999999999999999"}
	// Fewer than 9, no count, and what custom-misp never writes (leading
	// zeros, signs, spaces, other text): the class's own rule.
	stay := []string{"", "0", "1", "8", "08", "09", "009", "00", "0010", "-9", "+9", " 9", "9 ", "9.0", "1e9", "9a", "x9", "١٠"}
	for class, own := range transient {
		for _, n := range fire {
			if r := rs.match(withCount(class, n)); r == nil || r.id != 117650 {
				t.Errorf("%s, suppressed %q: rule %v, want 117650", class, n, r)
			}
		}
		for _, n := range stay {
			if r := rs.match(withCount(class, n)); r == nil || r.id != own {
				t.Errorf("%s, suppressed %q: rule %v, want %d", class, n, r, own)
			}
		}
	}
	ev := withCount(misp.ClassUnavailable, "9")
	got := expand(rs.match(ev).description, ev)
	want := `MISP: lookups keep failing (9 more unavailable errors since the last one reported), enrichment is degraded: misp unavailable: status 503: Service Unavailable`
	if got != want {
		t.Errorf("description\n got %s\nwant %s", got, want)
	}
}

// TestRuleset_KeepFailingWithoutCache: with the cache off (or unusable)
// every failing alert sends its error event, without a count; 117651
// fires on the tenth transient one from any agent, as 117650's frequency
// form did before.
func TestRuleset_KeepFailingWithoutCache(t *testing.T) {
	rules, decoders := readRepo(t)
	rs, err := load(rules, decoders)
	if err != nil {
		t.Fatal(err)
	}
	freq := rs.byID[117651]
	if freq == nil || freq.frequency != 10 || !freq.globalFrequency || freq.ifMatchedGroup != "misp_error_transient" {
		t.Fatalf("rule 117651 = %+v, want frequency 10 over misp_error_transient, any agent", freq)
	}
	agents := []string{"1:[003] (WIN-DC01) 10.20.0.15->misp:", "1:[004] (WS-HR-0107) 10.20.30.77->misp:", "1:misp:"}
	classes := []misp.Class{misp.ClassUnavailable, misp.ClassTimeout, misp.ClassRateLimited, misp.ClassAuth}
	var history []earlier
	var fired []int
	for i := range 14 {
		// The auth events (every fourth) are in no transient rule: not
		// counted.
		c := classes[i%len(classes)]
		body, err := json.Marshal(failure(c))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := decode(rs.decoders, fmt.Sprint(i+1), agents[i%len(agents)]+string(body))
		if err != nil {
			t.Fatal(err)
		}
		r := rs.match(ev)
		if !r.hasGroup(freq.ifMatchedGroup) {
			if c != misp.ClassAuth {
				t.Fatalf("event %d (%s): rule %d, not in %s", i+1, c, r.id, freq.ifMatchedGroup)
			}
			continue
		}
		matched := 0
		if counted, ok := freq.fires(history, ev); ok {
			fired = append(fired, i+1)
			if g := gaps(freq.description, ev); len(g) > 0 {
				t.Errorf("description leaves %v empty", g)
			}
			// As analysisd: the event and the newest counted one are
			// marked, so the next event does not fire it again.
			matched = freq.level
			history[counted[0]].matched = freq.level
		}
		history = append(history, earlier{ev: ev, matched: matched})
	}
	// Events 4, 8 and 12 are auth: the tenth transient event is the 13th.
	if diff := cmp.Diff([]int{13}, fired); diff != "" {
		t.Errorf("117651 fires on events (-want +got):\n%s", diff)
	}
}
