// Package layout is the one truth about what custom-misp installs into a
// Wazuh manager: every path under the Wazuh home, its owner, group and
// mode, where it comes from in a release tree, and what install, upgrade,
// uninstall and purge do with it. doctor judges an installed manager
// against it; install.sh carries it as a generated block (a test keeps the
// two equal); make install runs install.sh; the .deb and .rpm are built
// from it (internal/dist) and a test reads them back against it.
package layout

import (
	"fmt"
	"io/fs"
	"strings"
)

// File names under the Wazuh home. The decoder's name must sort before
// the stock 0006-json_decoders.xml (see decoders/0005-misp_decoders.xml).
const (
	IntegrationName = "custom-misp"     // integrations/<name>, what <name> in <integration> names
	NetProgram      = "custom-misp-net" // mispproc.Program: started by custom-misp on cache misses
	DecoderFile     = "0005-misp_decoders.xml"
	RulesFile       = "0990-misp_rules.xml"
	SysmonFile      = "0991-misp_sysmon_levels.xml"
	CDBRulesFile    = "0992-misp_cdb_rules.xml"
	CDBListsDir     = "etc/lists/misp"
	KeyFile         = "etc/custom-misp.key"
	StateDir        = "var/custom-misp"
)

// Owner and group "wazuh" stand for the user and group the Wazuh daemons
// run as; install.sh takes other names with --wazuh-user/--wazuh-group.
const (
	Root  = "root"
	Wazuh = "wazuh"
)

// Kind says what each step of the life cycle does with an entry.
//
//	kind     install            upgrade            uninstall  purge
//	shared   create if absent   create if absent   keep       keep
//	payload  copy               replace            remove     remove
//	output   create if absent   create if absent   remove     remove
//	config   create empty if    keep               keep       remove
//	         absent, never
//	         overwrite
//	state    create if absent   keep               keep       remove
type Kind string

const (
	// Shared is a directory a stock manager already has (integrations):
	// created when missing, never removed.
	Shared Kind = "shared"
	// Payload is a file of the release: the programs and the ruleset.
	Payload Kind = "payload"
	// Output is a directory custom-misp's commands fill with files that
	// are derived again from the mirror (the CDB lists).
	Output Kind = "output"
	// Config is a file the administrator fills (the key).
	Config Kind = "config"
	// State is a directory of data worth keeping (the cache, the mirror,
	// the sightings queue).
	State Kind = "state"
)

// Entry is one installed path.
type Entry struct {
	Path  string // relative to the Wazuh home, slash-separated
	Dir   bool
	Owner string // Root or Wazuh
	Group string
	Perm  fs.FileMode
	Kind  Kind
	// Source is the file of a release tree (or of the repository after
	// make build) that a Payload entry is a copy of; empty otherwise.
	Source string
	// Option is the install.sh flag without which the entry is neither
	// installed nor, by the packages, shipped in place; empty for entries
	// every install has.
	Option string
}

// Modes of the entries, and why.
const (
	// The programs and their directory: integratord refuses to run a file
	// user wazuh can write ("At wpopenv(): file ... has write permissions").
	programPerm fs.FileMode = 0o750
	// The decoder and rules files get what a stock Wazuh 4.x manager gives
	// its own etc/rules/local_rules.xml and etc/decoders/local_decoder.xml:
	// wazuh:wazuh 0660 (src/init/inst-functions.sh, the RPM spec, and the
	// Wazuh API, which rewrites ruleset files it edits with these modes).
	// Their directories are root:wazuh 0770, so user wazuh could replace
	// them whatever their own mode.
	rulesetPerm fs.FileMode = 0o660
	// The MISP key: readable by integratord (group wazuh), by nobody else.
	keyPerm fs.FileMode = 0o640
	// The cache directory: integratord (group wazuh) creates the store in it.
	stateDirPerm fs.FileMode = 0o770
	// The CDB lists' directory: export cdb (root) writes the lists in it,
	// analysisd (group wazuh) writes each compiled .cdb next to its list.
	cdbDirPerm fs.FileMode = 0o770
)

// Options of install.sh (and of make install: SYSMON_LEVELS=1, CDB=1).
const (
	OptSysmonLevels = "--sysmon-levels" // the Sysmon level overrides: more alerts reach integratord (rules/README.md)
	OptCDB          = "--cdb"           // the CDB list rules and their directory (docs/cdb.md)
)

var entries = []Entry{
	{Path: "integrations", Dir: true, Owner: Root, Group: Wazuh, Perm: programPerm, Kind: Shared},
	{Path: "integrations/" + IntegrationName, Owner: Root, Group: Wazuh, Perm: programPerm, Kind: Payload, Source: "bin/" + IntegrationName},
	{Path: "integrations/" + NetProgram, Owner: Root, Group: Wazuh, Perm: programPerm, Kind: Payload, Source: "bin/" + NetProgram},
	{Path: "etc/decoders/" + DecoderFile, Owner: Wazuh, Group: Wazuh, Perm: rulesetPerm, Kind: Payload, Source: "decoders/" + DecoderFile},
	{Path: "etc/rules/" + RulesFile, Owner: Wazuh, Group: Wazuh, Perm: rulesetPerm, Kind: Payload, Source: "rules/" + RulesFile},
	{Path: "etc/rules/" + SysmonFile, Owner: Wazuh, Group: Wazuh, Perm: rulesetPerm, Kind: Payload, Source: "rules/" + SysmonFile, Option: OptSysmonLevels},
	{Path: "etc/rules/" + CDBRulesFile, Owner: Wazuh, Group: Wazuh, Perm: rulesetPerm, Kind: Payload, Source: "rules/" + CDBRulesFile, Option: OptCDB},
	{Path: CDBListsDir, Dir: true, Owner: Root, Group: Wazuh, Perm: cdbDirPerm, Kind: Output, Option: OptCDB},
	{Path: StateDir, Dir: true, Owner: Root, Group: Wazuh, Perm: stateDirPerm, Kind: State},
	{Path: KeyFile, Owner: Root, Group: Wazuh, Perm: keyPerm, Kind: Config},
}

// Entries returns every installed path, parents before children.
func Entries() []Entry { return append([]Entry(nil), entries...) }

// Of returns the entry for rel. Every caller passes a path of the table,
// so a miss is a programming error.
func Of(rel string) Entry {
	for _, e := range entries {
		if e.Path == rel {
			return e
		}
	}
	panic("layout: " + rel + " is not in the table")
}

// String is "owner:group 0mode", as doctor prints an installed file.
func (e Entry) String() string {
	return fmt.Sprintf("%s:%s %04o", e.Owner, e.Group, e.Perm)
}

// Fix is the shell line that gives the file at p this mode.
func (e Entry) Fix(p string) string {
	return fmt.Sprintf("chown %s:%s %s; chmod %04o %s", e.Owner, e.Group, p, e.Perm, p)
}

// Install is the install(1) line that creates dest with this mode: a
// directory, or a copy of src (a file of the repository, or /dev/null for
// an empty file; dest may be the directory to copy it into).
func (e Entry) Install(src, dest string) string {
	if e.Dir {
		return fmt.Sprintf("install -d -o %s -g %s -m %04o %s", e.Owner, e.Group, e.Perm, dest)
	}
	return fmt.Sprintf("install -o %s -g %s -m %04o %s %s", e.Owner, e.Group, e.Perm, src, dest)
}

// ScriptBlock is the LAYOUT block of install.sh: one line per entry,
// "type path owner group mode kind source option", "-" for an empty
// column. install.sh reads it with read(1); TestInstallScriptLayout keeps
// it equal to this output.
func ScriptBlock() string {
	var b strings.Builder
	b.WriteString(BlockBegin + "\n")
	b.WriteString("layout_table() {\n\tcat <<'LAYOUT'\n")
	for _, e := range entries {
		typ := "file"
		if e.Dir {
			typ = "dir"
		}
		fmt.Fprintf(&b, "%s %s %s %s %04o %s %s %s\n", typ, e.Path, e.Owner, e.Group, e.Perm, e.Kind, dash(e.Source), dash(e.Option))
	}
	b.WriteString("LAYOUT\n}\n")
	b.WriteString(BlockEnd + "\n")
	return b.String()
}

// The lines that enclose the generated block in install.sh.
const (
	BlockBegin = "# BEGIN LAYOUT: generated from internal/layout; change it there, then: go test ./internal/layout -update"
	BlockEnd   = "# END LAYOUT"
)

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
