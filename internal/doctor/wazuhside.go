package doctor

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/layout"
	"github.com/custom-misp/custom-misp/internal/mispproc"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

// Installed file names: the table of internal/layout.
const (
	IntegrationName = layout.IntegrationName
	DecoderFile     = layout.DecoderFile
	RulesFile       = layout.RulesFile
	SysmonFile      = layout.SysmonFile
	CDBRulesFile    = layout.CDBRulesFile
	// CDBListsDir holds the lists of custom-misp export cdb (cdb.Dir).
	CDBListsDir = layout.CDBListsDir
)

// keyFile is where install.sh creates the key file, relative to the
// Wazuh home.
const keyFile = layout.KeyFile

// maxRulesFile caps what we read of a rules or decoder file: ours are
// tens of KiB, a local_rules.xml rarely reaches 1 MiB.
const maxRulesFile = 4 << 20

// Identity is a user as the kernel judges file access: its uid and all its
// groups. integratord and analysisd run as user wazuh.
type Identity struct {
	Known  bool
	Name   string
	UID    int
	GID    int   // the primary group
	Groups []int // every group, the primary one included
}

// DefaultUser is the user a stock Wazuh 4.x manager runs integratord and
// analysisd as (WAZUH_USER at build time; "ossec" before 4.3).
const DefaultUser = "wazuh"

// LookupUser returns the user name from the system's user database; Known
// is false when there is none (not a Wazuh manager, or another user name).
func LookupUser(name string) Identity {
	u, err := user.Lookup(name)
	if err != nil {
		return Identity{Name: name}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return Identity{Name: name}
	}
	id := Identity{Known: true, Name: u.Username, UID: uid, GID: gid, Groups: []int{gid}}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.Atoi(g); err == nil && !slices.Contains(id.Groups, n) {
				id.Groups = append(id.Groups, n)
			}
		}
	}
	return id
}

// Permission bits, as in a mode's owner/group/other triplets.
const (
	read  = 4
	write = 2
	exec  = 1
)

// can reports whether id may access fi as want says, by the mode bits the
// way the kernel applies them: the owner's triplet if id owns the file,
// else the group's if id is in its group, else the others'. (doctor runs as
// root, so trying the access itself would prove nothing.)
func (id Identity) can(fi fs.FileInfo, want uint32) bool {
	uid, gid := owner(fi)
	perm := uint32(fi.Mode().Perm())
	switch {
	case uid == id.UID:
		perm >>= 6
	case slices.Contains(id.Groups, gid):
		perm >>= 3
	}
	return perm&want == want
}

func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// writers names who, besides root and the file's owner where that is
// expected, could write fi: "anyone" when it is world-writable, "user
// wazuh" when the wazuh user can, "" when neither. A file root runs or
// reads with the API key must answer "" (the binaries, the options and
// key files); one integratord writes must not answer "anyone".
func (in Input) writers(fi fs.FileInfo) string {
	switch {
	case fi.Mode().Perm()&0o002 != 0:
		return "anyone"
	case in.User.Known && in.User.can(fi, write):
		return "user " + in.User.Name
	}
	return ""
}

// ownerText is "user:group mode" with names where the system knows them.
func ownerText(fi fs.FileInfo) string {
	uid, gid := owner(fi)
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return fmt.Sprintf("%s:%s %04o", u, g, fi.Mode().Perm())
}

// Wazuh runs the Wazuh-side checks in order.
func Wazuh(in Input) []Result {
	var rs []Result
	id := in.User
	if id.Known {
		rs = append(rs, ok("wazuh user", fmt.Sprintf("%s (uid %d, groups %v)", id.Name, id.UID, id.Groups)))
	} else {
		name := cmp.Or(id.Name, DefaultUser)
		rs = append(rs, warn("wazuh user", "there is no user "+name+" here: file permissions are not judged",
			"run doctor on the Wazuh manager itself (--wazuh-user NAME if its daemons run as another user)"))
	}
	confPath := filepath.Join(in.Home, "etc", "ossec.conf")
	if in.ConfErr != nil || in.Conf == nil {
		reason := "not read"
		switch {
		case errors.Is(in.ConfErr, fs.ErrNotExist):
			reason = confPath + " does not exist"
		case in.ConfErr != nil:
			reason = in.ConfErr.Error()
		}
		return append(rs, fail("ossec.conf", reason,
			"pass --wazuh-home with the Wazuh installation directory (the one holding etc/ossec.conf), or fix the XML (wazuh-analysisd -t shows where)"))
	}
	rs = append(rs, ok("ossec.conf", fmt.Sprintf("%s: %d <integration> block(s), %d command wodle(s)", confPath, len(in.Conf.Integrations), len(in.Conf.Commands))))

	blocks := in.Conf.Find(IntegrationName)
	name := IntegrationName
	var block *config.Integration
	switch len(blocks) {
	case 0:
		rs = append(rs, fail("integration block", "no <integration> named custom-misp in "+confPath,
			"paste the snippet for your Wazuh version (ossec-snippets/integration-*.xml) inside <ossec_config>, then systemctl restart wazuh-manager"))
	default:
		block = &blocks[0]
		rs = append(rs, blockCheck(blocks))
	}
	if block != nil {
		rs = append(rs, alertFormatCheck(block))
		rs = append(rs, optionsCheck(in, block)...)
		rs = append(rs, groupCheck(block))
	}
	if in.OptionsFile != "" {
		rs = append(rs, optionsFileCheck(in, in.OptionsFile))
	}
	rs = append(rs, integrationsDirCheck(in, filepath.Join(in.Home, "integrations")))
	rs = append(rs, binaryCheck(in, "binary", name, filepath.Join(in.Home, "integrations", name)))
	rs = append(rs, binaryCheck(in, "helper binary", mispproc.Program, filepath.Join(in.Home, "integrations", mispproc.Program)))
	rs = append(rs, rulesFileCheck(in, "decoder", "etc/decoders/"+DecoderFile, "decoders/"+DecoderFile, `name="json-misp"`,
		" and keep the file name: it must sort before the stock 0006-json_decoders.xml"))
	rs = append(rs, rulesFileCheck(in, "rules", "etc/rules/"+RulesFile, "rules/"+RulesFile, `id="117600"`,
		", then wazuh-analysisd -t and restart the manager"))
	if block != nil && len(sysmonGroups(block.Group)) > 0 {
		rs = append(rs, sysmonCheck(in, block))
	}
	rs = append(rs, socketCheck(in))
	rs = append(rs, logCheck(in))
	rs = append(rs, storeCheck(in))
	rs = append(rs, mirrorCheck(in)...)
	rs = append(rs, listsCheck(in)...)
	return rs
}

func blockCheck(blocks []config.Integration) Result {
	b := blocks[0]
	if b.HookURL == "" {
		return fail("integration block", "custom-misp has no <hook_url>",
			"set <hook_url> to the MISP base URL, e.g. https://misp.example.org:8443")
	}
	d := fmt.Sprintf("custom-misp, hook_url %s", config.RedactURL(b.HookURL))
	if b.Level != "" {
		d += ", level >= " + b.Level
	}
	if len(blocks) > 1 {
		return warn("integration block", fmt.Sprintf("%s; and %d more custom-misp blocks", d, len(blocks)-1),
			"integratord runs every block, so each alert is looked up once per block: keep one <integration> for custom-misp")
	}
	if b.APIKey != "" {
		return warn("integration block", d+"; <api_key> holds the key",
			`a key in <api_key> shows in ps while custom-misp runs and in integratord's debug log: on Wazuh 4.7+ move it to a file (`+installModeOf(keyFile).String()+`) named by "api_key_file" in <options>`)
	}
	return ok("integration block", d)
}

func alertFormatCheck(b *config.Integration) Result {
	if strings.HasPrefix(b.AlertFormat, "json") {
		return ok("alert_format", b.AlertFormat)
	}
	got := "missing"
	if b.AlertFormat != "" {
		got = strconv.Quote(b.AlertFormat)
	}
	return fail("alert_format", got+": integratord writes the alert as text, which custom-misp cannot read",
		"add <alert_format>json</alert_format> to the custom-misp <integration> block")
}

// optionsCheck loads the block as integratord would run it (its own
// options, not --options) and checks the key file it names.
func optionsCheck(in Input, b *config.Integration) []Result {
	if b.Options == "" {
		return []Result{ok("options", "none: defaults (Wazuh 4.3-4.6 style)")}
	}
	_, err := config.LoadOperator(config.Sources{Home: in.Home, Block: b})
	if err != nil {
		return []Result{fail("options", err.Error(),
			`fix <options> in the custom-misp block: one JSON object, keys as in README "Options" (an unknown key is an error)`)}
	}
	rs := []Result{ok("options", fmt.Sprintf("valid (%d bytes)", len(b.Options)))}
	o, err := config.ParseOptions([]byte(b.Options))
	if err != nil || o.APIKeyFile == "" {
		return rs
	}
	return append(rs, keyFileCheck(in, o.APIKeyFile))
}

func keyFileCheck(in Input, path string) Result {
	mode := installModeOf(keyFile)
	fi, err := os.Stat(path)
	if err != nil {
		return fail("api key file", statText(path, err), "create it: "+mode.Install("/dev/null", path)+", then write the key into it")
	}
	d := path + " " + ownerText(fi)
	fix := mode.Fix(path)
	switch {
	case in.User.Known && !in.User.can(fi, read):
		return fail("api key file", d+": user wazuh cannot read it, so integratord runs without a key", fix)
	case in.writers(fi) == "anyone":
		return fail("api key file", d+": anyone can replace the MISP key", fix)
	case in.writers(fi) != "":
		return warn("api key file", d+": "+in.writers(fi)+" can replace the MISP key that root's operator commands use too", fix)
	case fi.Mode().Perm()&0o004 != 0:
		return warn("api key file", d+": every local user can read the MISP key", fix)
	}
	return ok("api key file", d)
}

// optionsFileCheck: an options file names the CA, the key file and the
// paths root's operator commands use; whoever can write it can point them
// elsewhere.
func optionsFileCheck(in Input, path string) Result {
	fi, err := os.Stat(path)
	if err != nil {
		return fail("options file", statText(path, err), "check the --options path")
	}
	d := path + " " + ownerText(fi)
	fix := installModeOf(keyFile).Fix(path) // what the options file names deserves the key's modes
	switch who := in.writers(fi); who {
	case "":
		return ok("options file", d)
	case "anyone":
		return fail("options file", d+": anyone can write it, so can choose the CA, key file and paths that root's commands use", fix)
	default:
		return warn("options file", d+": "+who+" can write it, so can choose the CA, key file and paths that root's commands use", fix)
	}
}

func sysmonGroups(groups string) []string {
	var out []string
	for _, g := range strings.Split(groups, ",") {
		if strings.HasPrefix(strings.TrimSpace(g), "sysmon_") {
			out = append(out, g)
		}
	}
	return out
}

func groupCheck(b *config.Integration) Result {
	if b.Group == "" && b.RuleID == "" {
		level := b.Level
		if level == "" {
			level = "0"
		}
		return warn("group filter", "no <group> or <rule_id>: every alert of level "+level+" or more runs custom-misp",
			"integratord runs one alert at a time: list the alert groups that carry indicators (ossec-snippets/integration-4.8plus.xml)")
	}
	var spaced []string
	n := 0
	for _, g := range strings.Split(b.Group, ",") {
		if g == "" {
			continue
		}
		n++
		if strings.ContainsAny(g, " \t\r\n") {
			spaced = append(spaced, strconv.Quote(g))
		}
	}
	if len(spaced) > 0 {
		fixed := strings.Join(strings.Fields(b.Group), "")
		return warn("group filter", fmt.Sprintf("%d groups; %s never match: integratord compares names exactly, spaces included", n, strings.Join(spaced, ", ")),
			"remove the spaces: <group>"+fixed+"</group>")
	}
	return ok("group filter", fmt.Sprintf("%d groups (%d Sysmon)", n, len(sysmonGroups(b.Group))))
}

// integrationsDirCheck: whoever can write the directory can replace the
// binaries, which integratord runs with the MISP key and root runs for
// doctor, lookup and check.
func integrationsDirCheck(in Input, dir string) Result {
	mode := installModeOf("integrations")
	fi, err := os.Lstat(dir)
	if err != nil {
		return fail("integrations dir", statText(dir, err), mode.Install("", dir))
	}
	d := dir + " " + ownerText(fi)
	fix := mode.Fix(dir)
	if !fi.IsDir() {
		return fail("integrations dir", d+": not a directory", fix)
	}
	if who := in.writers(fi); who != "" {
		return fail("integrations dir", d+": "+who+" can write it, so can replace the programs that root and integratord run with the MISP key", fix)
	}
	return ok("integrations dir", d)
}

// binaryCheck checks one of the two programs: custom-misp, which
// integratord runs, and custom-misp-net, which custom-misp runs on cache
// misses. Both run as user wazuh with the API key, so neither may be
// writable by it.
func binaryCheck(in Input, check, prog, path string) Result {
	mode := installModeOf("integrations/" + prog)
	fi, err := os.Stat(path)
	install := mode.Install(prog, path)
	missing := ": integratord logs \"File not found inside 'integrations'\""
	refuses := "integratord refuses to run it (\"At wpopenv(): file ... has write permissions\")"
	noexec := "(\"Couldn't execute command\")"
	if prog != IntegrationName {
		missing = ": every cache miss becomes a config error event instead of a lookup"
		refuses = "it could swap what runs with the MISP key"
		noexec = "(every cache miss becomes a config error event)"
	}
	if err != nil {
		return fail(check, statText(path, err)+missing, install)
	}
	if !fi.Mode().IsRegular() {
		return fail(check, path+" is not a regular file", install)
	}
	d := path + " " + ownerText(fi)
	fix := mode.Fix(path)
	uid, _ := owner(fi)
	switch {
	case fi.Mode().Perm()&0o002 != 0:
		return fail(check, d+": anyone can write it, so "+refuses, fix)
	case !in.User.Known:
		return ok(check, d)
	case in.User.can(fi, write):
		return fail(check, d+": user wazuh can write it, so "+refuses, fix)
	case !in.User.can(fi, exec):
		return fail(check, d+": user wazuh cannot execute it "+noexec, fix)
	case uid != in.Root:
		return warn(check, d+": not owned by root, so its owner can replace what runs with the MISP key", fix)
	}
	return ok(check, d)
}

// rulesFileCheck checks one installed ruleset file, rel (relative to the
// home) installed from src: there, readable by analysisd (user wazuh),
// ours (it holds marker), and with the owner and mode make install sets.
// installNote follows the install line in the hint.
func rulesFileCheck(in Input, check, rel, src, marker, installNote string) Result {
	mode := installModeOf(rel)
	path := filepath.Join(in.Home, filepath.FromSlash(rel))
	install := mode.Install(src, filepath.Dir(path)+"/") + installNote
	fi, err := os.Stat(path)
	if err != nil {
		return fail(check, statText(path, err)+": custom-misp's events raise no alert", install)
	}
	d := path + " " + ownerText(fi)
	if in.User.Known && !in.User.can(fi, read) {
		return fail(check, d+": user wazuh cannot read it", mode.Fix(path))
	}
	b, err := readCapped(path)
	if err != nil {
		return fail(check, err.Error(), install)
	}
	if !strings.Contains(string(b), marker) {
		return warn(check, d+": does not hold "+marker+"; not custom-misp's file?", install)
	}
	if r, bad := in.modeCheck(check, d, path, fi, mode); bad {
		return r
	}
	return ok(check, d)
}

// modeCheck judges an installed ruleset file (d describes it) against
// mode: FAIL when anyone can write it (any local user could then change
// or silence custom-misp's alerts), WARN when its owner, group or mode
// is not what make install sets. bad is false when it is. Without the
// wazuh user owners are not judged.
func (in Input) modeCheck(check, d, path string, fi fs.FileInfo, mode InstallMode) (r Result, bad bool) {
	switch {
	case fi.Mode().Perm()&0o002 != 0:
		return fail(check, d+": anyone can write it, so any local user can change or silence the alerts it raises", mode.Fix(path)), true
	case in.User.Known && !in.hasMode(fi, mode):
		return warn(check, d+": make install and a stock manager's own ruleset files use "+mode.String(), mode.Fix(path)), true
	}
	return Result{}, false
}

// hasMode reports whether fi has exactly the owner, group and permission
// bits of mode, "wazuh" standing for in.User.
func (in Input) hasMode(fi fs.FileInfo, mode InstallMode) bool {
	uid, gid := owner(fi)
	wantUID := in.Root
	if mode.Owner != "root" {
		wantUID = in.User.UID
		if in.WazuhUID != nil {
			wantUID = *in.WazuhUID
		}
	}
	wantGID := 0
	if mode.Group != "root" {
		wantGID = in.User.GID
	}
	return uid == wantUID && gid == wantGID && fi.Mode().Perm() == mode.Perm
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRulesFile))
}

// sysmonBaseRule matches an overwrite of one of the level-0 Sysmon base
// rules (rules/README.md step 5), attributes in either order.
var sysmonBaseRule = regexp.MustCompile(`<rule\s[^>]*(id="616(0[3589]|17|5[0-4])"[^>]*overwrite="yes"|overwrite="yes"[^>]*id="616(0[3589]|17|5[0-4])")`)

func sysmonCheck(in Input, b *config.Integration) Result {
	rulesDir := filepath.Join(in.Home, "etc", "rules")
	mode := installModeOf("etc/rules/" + SysmonFile)
	var where string
	path := filepath.Join(rulesDir, SysmonFile)
	if fi, err := os.Stat(path); err == nil {
		where = SysmonFile + " installed"
		if r, bad := in.modeCheck("sysmon levels", path+" "+ownerText(fi), path, fi, mode); bad {
			return r
		}
	} else if files, err := filepath.Glob(filepath.Join(rulesDir, "*.xml")); err == nil {
		for _, f := range files {
			if data, err := readCapped(f); err == nil && sysmonBaseRule.Match(data) {
				where = "Sysmon base rules overwritten in " + filepath.Base(f)
				break
			}
		}
	}
	n := len(sysmonGroups(b.Group))
	if where == "" {
		return warn("sysmon levels", fmt.Sprintf("the group list names %d Sysmon groups, but the Sysmon base rules are still level 0: those events never reach integratord", n),
			mode.Install("rules/"+SysmonFile, rulesDir+"/")+" (it can raise the alert volume a lot: tune Sysmon first), or drop the sysmon groups")
	}
	if lvl, err := strconv.Atoi(b.Level); err == nil && lvl > 3 {
		return warn("sysmon levels", fmt.Sprintf("%s, but <level>%d</level> filters out the level-3 Sysmon alerts", where, lvl),
			"lower <level> in the custom-misp block to 3")
	}
	return ok("sysmon levels", where)
}

func socketCheck(in Input) Result {
	path := in.Config.SocketPath
	fi, err := os.Stat(path)
	if err != nil {
		return fail("queue socket", statText(path, err),
			"analysisd creates it when the manager starts: is the manager installed here (--wazuh-home) and running (systemctl status wazuh-manager)?")
	}
	d := path + " " + ownerText(fi)
	if fi.Mode()&fs.ModeSocket == 0 {
		return fail("queue socket", d+": not a socket", "remove it and restart the manager: systemctl restart wazuh-manager")
	}
	if in.User.Known && !in.User.can(fi, write) {
		return fail("queue socket", d+": user wazuh cannot write to it", "restart the manager so that analysisd recreates it: systemctl restart wazuh-manager")
	}
	s, err := wazuh.Dial(path)
	if errors.Is(err, wazuh.ErrNotRunning) {
		return fail("queue socket", d+": nobody reads it, analysisd is not running", "systemctl start wazuh-manager; then look at /var/ossec/logs/ossec.log")
	}
	if err != nil {
		return fail("queue socket", statText(path, err), "restart the manager: systemctl restart wazuh-manager")
	}
	s.Close()
	return ok("queue socket", d+": analysisd is listening")
}

func logCheck(in Input) Result {
	path := in.Config.LogFile
	fix := fmt.Sprintf("touch %s; chown wazuh:wazuh %s; chmod 0640 %s", path, path, path)
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return fail("integrations.log", path+" is a symbolic link: custom-misp refuses to write through it (planted, it would make a root run append to the file it names)",
			"rm "+path+"; "+fix)
	case err == nil && !fi.Mode().IsRegular():
		return warn("integrations.log", path+" is not a regular file: custom-misp's warnings are lost", "remove it; "+fix)
	case err == nil && in.writers(fi) == "anyone":
		return warn("integrations.log", path+" "+ownerText(fi)+": anyone can write it, so its lines can be forged", fix)
	case errors.Is(err, fs.ErrNotExist):
		dir, derr := os.Stat(filepath.Dir(path))
		if derr != nil {
			return warn("integrations.log", statText(filepath.Dir(path), derr)+": custom-misp's warnings are lost", fix)
		}
		if in.User.Known && !in.User.can(dir, write|exec) {
			return warn("integrations.log", path+" does not exist and user wazuh cannot create it: custom-misp's warnings are lost", fix)
		}
		return ok("integrations.log", path+" does not exist yet; custom-misp creates it on its first warning")
	case err != nil:
		return warn("integrations.log", err.Error(), fix)
	}
	d := path + " " + ownerText(fi)
	if in.User.Known && !in.User.can(fi, write) {
		return warn("integrations.log", d+": user wazuh cannot write it, custom-misp's warnings are lost", fix)
	}
	return ok("integrations.log", d)
}

// statText says why a path could not be examined, without Go's "stat"
// prefix.
func statText(path string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path + " does not exist"
	case errors.Is(err, fs.ErrPermission):
		return path + ": permission denied"
	}
	return err.Error()
}
