package ruleset

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The documented ID block of custom-misp (rules/README.md).
const (
	firstID = 117600
	lastID  = 117699
	rootID  = 117600
)

// stockSysmon are the Wazuh v4.14.7 Sysmon base rules our optional file may
// overwrite, with what the stock rule says (ruleset/rules/0595-win-sysmon_rules.xml,
// cross-checked against the rule.description of the sample alerts in
// ../shared/alerts). An overwrite copy must repeat all of it.
var stockSysmon = map[int]struct{ eventID, group, description string }{
	61603: {"1", "sysmon_event1", "Sysmon - Event 1: Process creation $(win.eventdata.description)"},
	61605: {"3", "sysmon_event3", "Sysmon - Event 3: Network connection to $(win.eventdata.destinationIp):$(win.eventdata.destinationPort) by $(win.eventdata.image)"},
	61608: {"6", "sysmon_event6", "Sysmon - Event 6: Driver loaded $(win.eventdata.imageLoaded)"},
	61609: {"7", "sysmon_event7", "Sysmon - Event 7: Image $(win.eventdata.imageLoaded) loaded by $(win.eventdata.image)"},
	61617: {"15", "sysmon_event_15", "Sysmon - Event 15: $(win.eventdata.targetFilename) FileCreateStreamHash by process $(win.eventdata.image)"},
	61650: {"22", "sysmon_event_22", "Sysmon - Event 22: DNS Query event"},
	61651: {"23", "sysmon_event_23", "Sysmon - Event 23: File deleted and archived"},
	61652: {"24", "sysmon_event_24", "Sysmon - Event 24: Clipboard change"},
	61653: {"25", "sysmon_event_25", "Sysmon - Event 25: Process tampering - Image change"},
	61654: {"26", "sysmon_event_26", "Sysmon - Event 26: File deleted"},
}

// stockParents are stock rule IDs our rules may name in if_sid: the parent
// of the Sysmon base rules ("Windows Sysmon informational event").
var stockParents = map[int]bool{61600: true}

// staticVars are $(...) names analysisd expands without a decoded field.
var staticVars = map[string]bool{
	"srcip": true, "dstip": true, "srcport": true, "dstport": true, "srcuser": true, "dstuser": true,
	"protocol": true, "action": true, "id": true, "url": true, "data": true, "status": true,
	"extra_data": true, "system_name": true, "program_name": true, "hostname": true,
	"srcgeoip": true, "dstgeoip": true,
}

var varRef = regexp.MustCompile(`\$\(([^)]*)\)`)

// commentMax is OS_COMMENT_MAX: a longer expanded description falls back to
// the raw text with its $(...) left in.
const commentMax = 1024

// expand fills $(field) in a description like ParseRuleComment does (a
// missing field expands to nothing).
func expand(desc string, ev decoded) string {
	return varRef.ReplaceAllStringFunc(desc, func(m string) string {
		return ev.fields[strings.ToLower(varRef.FindStringSubmatch(m)[1])]
	})
}

// check returns every problem of rs for the given events (all of which
// must be ours: decoded by our decoder and matched below the root).
func check(rs *ruleset, events []decoded) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	seen := map[int]string{}
	decoders := map[string]bool{}
	for _, d := range rs.decoders {
		decoders[d.name] = true
	}
	groups := map[string]bool{}
	for _, r := range rs.rules {
		if !r.overwrite {
			for _, g := range r.groups {
				groups[g] = true
			}
		}
	}
	fields := map[string]bool{}
	for _, ev := range events {
		for k := range ev.fields {
			fields[k] = true
		}
	}
	known := func(name string) bool { return fields[strings.ToLower(name)] }

	for _, r := range rs.rules {
		where := fmt.Sprintf("%s: rule %d", r.file, r.id)
		if r.overwrite {
			problems = append(problems, checkOverwrite(r)...)
			continue
		}
		if prev, dup := seen[r.id]; dup {
			add("%s: duplicate ID (also in %s)", where, prev)
		}
		seen[r.id] = r.file
		if r.id < firstID || r.id > lastID {
			add("%s: ID outside the documented block %d-%d", where, firstID, lastID)
		}
		if r.file == cdbRulesFile {
			// Rules on stock events, not on ours: checked by cdb_test.go.
			problems = append(problems, checkCDBRule(r)...)
			continue
		}
		if r.level == 0 && r.id != rootID {
			add("%s: level 0 below the root hides events", where)
		}
		refs := slices.Clone(r.ifSID)
		if r.ifMatchedSID != 0 {
			refs = append(refs, r.ifMatchedSID)
		}
		for _, sid := range refs {
			if _, ok := rs.byID[sid]; !ok && !stockParents[sid] {
				add("%s: parent rule %d is neither ours nor a documented stock rule", where, sid)
			}
		}
		if r.ifMatchedGroup != "" && !groups[r.ifMatchedGroup] {
			add("%s: if_matched_group %s: no rule of ours has that group", where, r.ifMatchedGroup)
		}
		if r.decodedAs != "" && !decoders[r.decodedAs] {
			add("%s: decoded_as %s: no such decoder in decoders/", where, r.decodedAs)
		}
		for _, f := range r.fields {
			if !known(f.name) {
				add("%s: field %s is in no event the binary produces", where, f.name)
			}
		}
		for _, f := range r.sameFields {
			if !known(f) {
				add("%s: same_field %s is in no event the binary produces", where, f)
			}
		}
		for _, m := range varRef.FindAllStringSubmatch(r.description, -1) {
			if !staticVars[m[1]] && !known(m[1]) {
				add("%s: description uses $(%s), which is in no event the binary produces", where, m[1])
			}
		}
		if !r.hasGroup("misp") {
			add("%s: not in group misp", where)
		}
	}

	for _, ev := range events {
		if ev.decoder == "" {
			add("%s: no decoder of ours takes it (it would be decoded as json)", ev.name)
			continue
		}
		got := rs.match(ev)
		switch {
		case got == nil:
			add("%s: matched by no rule, not even the root", ev.name)
		case got.id == rootID:
			add("%s: matched by no rule below the root (no alert)", ev.name)
		default:
			if d := expand(got.description, ev); len(d) >= commentMax {
				add("%s: rule %d description expands to %d bytes, analysisd shows the raw text from %d", ev.name, got.id, len(d), commentMax)
			}
		}
	}
	return problems
}

// checkOverwrite checks one overwrite="yes" rule against the stock rule it
// replaces: only the level may differ.
func checkOverwrite(r *rule) []string {
	where := fmt.Sprintf("%s: rule %d", r.file, r.id)
	stock, ok := stockSysmon[r.id]
	if !ok {
		return []string{where + ": overwrites a rule that is not a documented stock Sysmon base rule"}
	}
	var problems []string
	want := []string{"windows", "sysmon", stock.group}
	if !slices.Equal(r.groups, want) {
		problems = append(problems, fmt.Sprintf("%s: groups %v, stock has %v", where, r.groups, want))
	}
	if !slices.Equal(r.ifSID, []int{61600}) {
		problems = append(problems, fmt.Sprintf("%s: if_sid %v, stock has 61600", where, r.ifSID))
	}
	if len(r.fields) != 1 || r.fields[0].name != "win.system.eventID" || r.fields[0].pattern != "^"+stock.eventID+"$" {
		problems = append(problems, fmt.Sprintf("%s: fields differ from the stock rule (win.system.eventID ^%s$)", where, stock.eventID))
	}
	if r.description != stock.description {
		problems = append(problems, fmt.Sprintf("%s: description %q, stock has %q", where, r.description, stock.description))
	}
	if r.level < 3 {
		problems = append(problems, fmt.Sprintf("%s: level %d does not reach integratord (log_alert_level 3)", where, r.level))
	}
	return problems
}
