package doctor

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/custom-misp/custom-misp/internal/cdb"
)

// cdbMarker is a rule id of 0992-misp_cdb_rules.xml: a file without it
// is not ours.
const cdbMarker = `id="117670"`

// listsCheck describes the CDB lists of custom-misp export cdb
// (docs/cdb.md): the rules file, the lists and their age, whether
// ossec.conf declares them, whether analysisd compiled their latest text,
// and which cluster node this is. When nothing says the lists are in use
// (no export_cdb, no list, no rules file, no declared list) it is one OK
// line.
func listsCheck(in Input) []Result {
	rulesPath := filepath.Join(in.Home, "etc", "rules", CDBRulesFile)
	dir := filepath.Join(in.Home, filepath.FromSlash(CDBListsDir))
	_, rulesErr := os.Lstat(rulesPath)
	rulesThere := rulesErr == nil
	_, dirErr := os.Lstat(dir)
	declared := declaredLists(in)
	if !in.Config.ExportCDB && !rulesThere && dirErr != nil && len(declared) == 0 {
		return []Result{ok("cdb lists", `not in use (no export_cdb option, no `+CDBListsDir+`, no `+CDBRulesFile+`); docs/cdb.md sets them up`)}
	}
	rs := []Result{cdbRulesCheck(in, rulesPath, rulesThere)}
	lists, r := cdbListsCheck(in, dir)
	rs = append(rs, r)
	rs = append(rs, cdbRulesetCheck(declared, rulesThere))
	if len(lists) > 0 {
		rs = append(rs, cdbCompiledCheck(in, lists, len(declared) == len(cdb.Lists)))
	}
	if in.Conf != nil && in.Conf.Cluster != nil {
		rs = append(rs, clusterCheck(in))
	}
	return rs
}

// cdbRulesCheck: the rules that look the lists up, judged as the other
// ruleset files are (rulesFileCheck).
func cdbRulesCheck(in Input, path string, there bool) Result {
	const check = "cdb rules"
	rel := "etc/rules/" + CDBRulesFile
	note := ", then wazuh-analysisd -t and restart the manager"
	if !there {
		install := installModeOf(rel).Install("rules/"+CDBRulesFile, filepath.Dir(path)+"/") + note
		return warn(check, path+" is not installed: nothing looks the lists up, so no misp_list alert is raised", install)
	}
	return rulesFileCheck(in, check, rel, "rules/"+CDBRulesFile, cdbMarker, note)
}

// listFile is one exported list found on disk.
type listFile struct {
	list cdb.List
	path string
	mod  time.Time
}

// cdbListsCheck: the directory and the lists in it, their entries and
// their age. It returns the lists it found, for the compile check.
func cdbListsCheck(in Input, dir string) ([]listFile, Result) {
	const check = "cdb lists"
	export := "run /var/ossec/integrations/custom-misp export cdb as root (and set \"export_cdb\": true in <options> so that every sync that changes the mirror exports again)"
	dmode := installModeOf(CDBListsDir)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, warn(check, dir+" does not exist: no export has run yet", export)
	case err != nil:
		return nil, warn(check, statText(dir, err), export)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fail(check, dir+" is a symbolic link: export cdb refuses to write through it (was it planted?)", "rm "+dir+"; "+export)
	case !fi.IsDir():
		return nil, fail(check, dir+" is not a directory", "remove it; "+export)
	}
	dd := dir + " " + ownerText(fi)
	switch {
	case fi.Mode().Perm()&0o002 != 0:
		return nil, fail(check, dd+": anyone can write it, so any local user can plant or hide indicators", dmode.Fix(dir))
	case in.User.Known && !in.User.can(fi, write|exec):
		return nil, fail(check, dd+": user wazuh cannot write in it, so analysisd cannot compile the lists", dmode.Fix(dir))
	case in.User.Known && !in.hasMode(fi, dmode):
		return nil, warn(check, dd+": make install and export cdb use "+dmode.String(), dmode.Fix(dir))
	}

	var found []listFile
	var counts, missing []string
	var newest time.Time
	for _, l := range cdb.Lists {
		p := filepath.Join(dir, string(l))
		lfi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, string(l))
			continue
		case err != nil:
			return found, warn(check, statText(p, err), export)
		case lfi.Mode()&fs.ModeSymlink != 0:
			return found, fail(check, p+" is a symbolic link: export cdb refuses to write through it (was it planted?)", "rm "+p+"; "+export)
		case !lfi.Mode().IsRegular():
			return found, fail(check, p+" is not a regular file", "remove it; "+export)
		case lfi.Mode().Perm()&0o002 != 0:
			return found, fail(check, p+" "+ownerText(lfi)+": anyone can write it, so any local user can plant or hide indicators", "rm "+p+"; "+export)
		case in.User.Known && !in.User.can(lfi, read):
			return found, fail(check, p+" "+ownerText(lfi)+": user wazuh cannot read it, so analysisd cannot load it", "rm "+p+"; "+export+" (it writes the lists root:wazuh 0640)")
		}
		n, err := countLines(p)
		if err != nil {
			return found, warn(check, err.Error(), export)
		}
		counts = append(counts, fmt.Sprintf("%s %d", l, n))
		found = append(found, listFile{list: l, path: p, mod: lfi.ModTime()})
		if lfi.ModTime().After(newest) {
			newest = lfi.ModTime()
		}
	}
	if len(found) == 0 {
		return nil, warn(check, dir+" holds no list: no export has run yet", export)
	}
	now := in.Now()
	d := fmt.Sprintf("%s: %s entries; last changed %s (%s)", dir, strings.Join(counts, ", "),
		newest.UTC().Format("2006-01-02 15:04 UTC"), ago(now, newest))
	if len(missing) > 0 {
		return found, warn(check, d+"; missing: "+strings.Join(missing, ", ")+": analysisd leaves out the rules on them (warning 7616)", export)
	}
	if !in.Config.ExportCDB && !exportWodle(in) {
		return found, warn(check, d+": export_cdb is off and no command wodle runs export cdb, so the lists do not follow the mirror",
			`set "export_cdb": true in the custom-misp <options>: every sync that changes the mirror then exports again`)
	}
	return found, ok(check, d+" (a list is rewritten only when its content changes)")
}

// exportWodle reports whether a command wodle that is not disabled runs
// export cdb.
func exportWodle(in Input) bool {
	if in.Conf == nil {
		return false
	}
	for _, c := range in.Conf.Commands {
		if c.Disabled != "yes" && strings.Contains(c.Command, IntegrationName) && strings.Contains(c.Command, "export cdb") {
			return true
		}
	}
	return false
}

// countLines counts a list's entries: export cdb writes one per line.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		b, err := r.ReadSlice('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			n++
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return n, nil
		default:
			return n, fmt.Errorf("%s: %w", path, err)
		}
	}
}

// declaredLists returns the lists of cdb.Lists that ossec.conf's
// <ruleset> declares, as analysisd names them (a trailing .cdb dropped).
func declaredLists(in Input) []cdb.List {
	if in.Conf == nil {
		return nil
	}
	var out []cdb.List
	for _, l := range cdb.Lists {
		for _, d := range in.Conf.Lists {
			if filepath.Clean(strings.TrimSuffix(d, ".cdb")) == l.Path() {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// cdbRulesetCheck: ossec.conf must declare every list, or analysisd
// ignores the rules on it (warning 7616) and never compiles it.
func cdbRulesetCheck(declared []cdb.List, rulesThere bool) Result {
	const check = "cdb ruleset"
	hint := "add ossec-snippets/ruleset-lists.xml's <list> lines to <ruleset> in ossec.conf (on every node of a cluster), then wazuh-analysisd -t and restart the manager"
	if len(declared) == len(cdb.Lists) {
		return ok(check, fmt.Sprintf("ossec.conf's <ruleset> declares all %d lists", len(cdb.Lists)))
	}
	var not []string
	for _, l := range cdb.Lists {
		if !slices.Contains(declared, l) {
			not = append(not, l.Path())
		}
	}
	d := "ossec.conf's <ruleset> does not declare " + strings.Join(not, ", ")
	if !rulesThere {
		return warn(check, d, hint)
	}
	return fail(check, d+": analysisd ignores the "+CDBRulesFile+" rules on them (warning 7616 \"List ... could not be loaded. Rule ... will be ignored\")", hint)
}

// cdbCompiledCheck: analysisd compiles a list into a .cdb beside it when
// it starts or reloads, if the text is newer in whole seconds
// (Lists_OP_MakeCDB); until then it matches against the old .cdb.
func cdbCompiledCheck(in Input, lists []listFile, allDeclared bool) Result {
	const check = "cdb compiled"
	var stale []string
	for _, l := range lists {
		fi, err := os.Stat(l.path + ".cdb")
		if err != nil || l.mod.Unix() > fi.ModTime().Unix() {
			stale = append(stale, string(l.list))
		}
	}
	if len(stale) == 0 {
		return ok(check, fmt.Sprintf("analysisd compiled the latest text of all %d lists", len(lists)))
	}
	hint := "custom-misp export cdb asks analysisd (Wazuh 4.13+) to reload when a list changed; run it again, or restart the manager"
	if !allDeclared {
		hint = "declare the lists in <ruleset> (above): analysisd compiles only declared lists; then restart the manager"
	}
	return warn(check, "analysisd has not compiled the latest "+strings.Join(stale, ", ")+" (no .cdb, or one older than the list): it still matches against the old lists, or none", hint)
}

// clusterCheck says which node of a cluster this is: export cdb belongs
// on the master, which syncs etc/lists to the workers.
func clusterCheck(in Input) Result {
	const check = "cluster node"
	c := in.Conf.Cluster
	name := cmp.Or(c.NodeName, "node01") // the framework's default, too
	// As the Wazuh framework reads it (wazuh/core/cluster/utils.py): a
	// <cluster> block without <disabled> is enabled, and its node type
	// defaults to master.
	typ := cmp.Or(c.NodeType, "master")
	switch {
	case c.Disabled == "yes":
		return ok(check, "cluster disabled in ossec.conf: a single manager, the lists are exported here")
	case typ == "worker" && in.Config.ExportCDB:
		return warn(check, "worker node "+name+" with export_cdb on: the master's etc/lists replaces what this node exports",
			`export on the master only: remove "export_cdb" from this node's options (Wazuh syncs etc/lists, subdirectories included, from the master)`)
	case typ == "worker":
		return ok(check, "worker node "+name+": the lists come from the master (Wazuh syncs etc/lists); export there")
	case typ == "master":
		return ok(check, "master node "+name+": export here; Wazuh syncs etc/lists to the workers")
	}
	return warn(check, fmt.Sprintf("cluster enabled, node type %q: neither master nor worker", c.NodeType),
		"set <node_type> in <cluster> to master or worker; export cdb belongs on the master")
}
