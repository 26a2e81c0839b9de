package doctor

import (
	"fmt"
	"io/fs"

	"github.com/custom-misp/custom-misp/internal/mispproc"
)

// InstallMode is the owner, group and permission bits that make install
// gives one file or directory under the Wazuh home.
type InstallMode struct {
	Path  string // relative to the Wazuh home, slash-separated
	Dir   bool
	Owner string // user name: root, or the user the Wazuh daemons run as
	Group string
	Perm  fs.FileMode
}

// Owners, groups and permission bits of InstallModes.
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
	cacheDirPerm fs.FileMode = 0o770
	// The CDB lists' directory: export cdb (root) writes the lists in it,
	// analysisd (group wazuh) writes each compiled .cdb next to its list.
	cdbDirPerm fs.FileMode = 0o770
)

// InstallModes lists everything make install creates with the owner,
// group and mode it sets; doctor judges installed files against it and a
// test holds the Makefile, rules/README.md, the decoder's header and
// README.md to it. Owner and group "wazuh" stand for the user the Wazuh
// daemons run as.
func InstallModes() []InstallMode {
	return []InstallMode{
		{Path: "integrations", Dir: true, Owner: "root", Group: "wazuh", Perm: programPerm},
		{Path: "integrations/" + IntegrationName, Owner: "root", Group: "wazuh", Perm: programPerm},
		{Path: "integrations/" + mispproc.Program, Owner: "root", Group: "wazuh", Perm: programPerm},
		{Path: "etc/decoders/" + DecoderFile, Owner: "wazuh", Group: "wazuh", Perm: rulesetPerm},
		{Path: "etc/rules/" + RulesFile, Owner: "wazuh", Group: "wazuh", Perm: rulesetPerm},
		{Path: "etc/rules/" + SysmonFile, Owner: "wazuh", Group: "wazuh", Perm: rulesetPerm},
		{Path: "etc/rules/" + CDBRulesFile, Owner: "wazuh", Group: "wazuh", Perm: rulesetPerm},
		{Path: CDBListsDir, Dir: true, Owner: "root", Group: "wazuh", Perm: cdbDirPerm},
		{Path: "var/custom-misp", Dir: true, Owner: "root", Group: "wazuh", Perm: cacheDirPerm},
		{Path: keyFile, Owner: "root", Group: "wazuh", Perm: keyPerm},
	}
}

// installModeOf returns the InstallModes entry for rel. Every caller
// passes a path of the table, so a miss is a programming error.
func installModeOf(rel string) InstallMode {
	for _, m := range InstallModes() {
		if m.Path == rel {
			return m
		}
	}
	panic("doctor: " + rel + " is not in InstallModes")
}

// String is "owner:group 0mode", as ownerText prints an installed file.
func (m InstallMode) String() string {
	return fmt.Sprintf("%s:%s %04o", m.Owner, m.Group, m.Perm)
}

// Fix is the shell line that gives the file at p this mode.
func (m InstallMode) Fix(p string) string {
	return fmt.Sprintf("chown %s:%s %s; chmod %04o %s", m.Owner, m.Group, p, m.Perm, p)
}

// Install is the install(1) line that creates dest with this mode: a
// directory, or a copy of src (a file of the repository, or /dev/null for
// an empty file; dest may be the directory to copy it into).
func (m InstallMode) Install(src, dest string) string {
	if m.Dir {
		return fmt.Sprintf("install -d -o %s -g %s -m %04o %s", m.Owner, m.Group, m.Perm, dest)
	}
	return fmt.Sprintf("install -o %s -g %s -m %04o %s %s", m.Owner, m.Group, m.Perm, src, dest)
}
