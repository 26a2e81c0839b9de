#!/bin/sh
# install.sh: install, upgrade or remove custom-misp on a Wazuh 4.x manager.
# POSIX sh and the usual base tools; no Go. Run it as root from the
# unpacked release tree (or the repository after make build). It never
# restarts Wazuh. docs/packaging.md says what each step keeps.
#
# The .deb and .rpm carry this same script as their maintainer scripts,
# with --package-preinst, --package-postinst or --package-postrm put in
# front of the package manager's own arguments.
set -eu

usage() {
	cat <<'EOF'
usage: install.sh [--upgrade | --uninstall | --purge] [options]

  (no action)      install: programs, decoder, rules, cache directory, an empty key file
  --upgrade        replace programs and ruleset; keep key, cache and mirror; say what changed
  --uninstall      remove what install put there; keep key, cache and mirror
  --purge          --uninstall, and remove key, cache and mirror too

options:
  --wazuh-home DIR     the manager's home (default /var/ossec)
  --wazuh-version V    the Wazuh version, when wazuh-control cannot tell (e.g. 4.9.2)
  --wazuh-user USER    the user the Wazuh daemons run as (default wazuh)
  --wazuh-group GROUP  their group (default wazuh)
  --sysmon-levels      also install rules/0991-misp_sysmon_levels.xml (rules/README.md)
  --cdb                also install rules/0992-misp_cdb_rules.xml and etc/lists/misp (docs/cdb.md)

Not run as root, it sets modes but no owners (for tests against a copy of a manager).
exit codes: 0 done, 2 bad arguments, 3 no Wazuh manager at the home or its version
unknown, 4 unsupported Wazuh version (5.x has no integratord), 5 no such wazuh
group or user, 6 a file of the release is missing, 7 a file operation failed
EOF
}

# BEGIN LAYOUT: generated from internal/layout; change it there, then: go test ./internal/layout -update
layout_table() {
	cat <<'LAYOUT'
dir integrations root wazuh 0750 shared - -
file integrations/custom-misp root wazuh 0750 payload bin/custom-misp -
file integrations/custom-misp-net root wazuh 0750 payload bin/custom-misp-net -
file etc/decoders/0005-misp_decoders.xml wazuh wazuh 0660 payload decoders/0005-misp_decoders.xml -
file etc/rules/0990-misp_rules.xml wazuh wazuh 0660 payload rules/0990-misp_rules.xml -
file etc/rules/0991-misp_sysmon_levels.xml wazuh wazuh 0660 payload rules/0991-misp_sysmon_levels.xml --sysmon-levels
file etc/rules/0992-misp_cdb_rules.xml wazuh wazuh 0660 payload rules/0992-misp_cdb_rules.xml --cdb
dir etc/lists/misp root wazuh 0770 output - --cdb
dir var/custom-misp root wazuh 0770 state - -
file etc/custom-misp.key root wazuh 0640 config - -
LAYOUT
}
# END LAYOUT

EXIT_USAGE=2
EXIT_NO_MANAGER=3
EXIT_VERSION=4
EXIT_NO_GROUP=5
EXIT_MISSING=6
EXIT_FILE=7

# fail CODE MESSAGE HINT: one line on stderr, then exit CODE.
fail() {
	printf 'install.sh: %s (hint: %s)\n' "$2" "$3" >&2
	exit "$1"
}

action=install
package_step=""
home=/var/ossec
wversion=""
wuser=wazuh
wgroup=wazuh
options=" "
tree=$(cd "$(dirname "$0")" && pwd)

while [ $# -gt 0 ]; do
	case $1 in
	--upgrade) action=upgrade ;;
	--uninstall) action=uninstall ;;
	--purge) action=purge ;;
	--package-preinst | --package-postinst | --package-postrm)
		package_step=${1#--package-}
		# The package manager's own arguments follow (install, upgrade 1.2,
		# purge, or rpm's count): keep the first, ignore the rest.
		package_arg=${2:-}
		break
		;;
	--wazuh-home | --wazuh-version | --wazuh-user | --wazuh-group)
		if [ $# -lt 2 ] || [ -z "$2" ]; then
			fail $EXIT_USAGE "$1 needs a value" "install.sh --help"
		fi
		case $1 in
		--wazuh-home) home=$2 ;;
		--wazuh-version) wversion=$2 ;;
		--wazuh-user) wuser=$2 ;;
		--wazuh-group) wgroup=$2 ;;
		esac
		shift
		;;
	--sysmon-levels | --cdb) options="$options$1 " ;;
	-h | --help)
		usage
		exit 0
		;;
	*) fail $EXIT_USAGE "unknown argument: $1" "install.sh --help lists the actions and options" ;;
	esac
	shift
done

if [ -n "$package_step" ]; then
	# Packages install into /var/ossec; dpkg --root --force-script-chrootless
	# (the package test) names the root in DPKG_ROOT.
	home=${DPKG_ROOT:-}/var/ossec
	tree=${DPKG_ROOT:-}/usr/share/custom-misp
fi
home=${home%/}

as_root=false
[ "$(id -u)" = 0 ] && as_root=true

# --- checks -------------------------------------------------------------

check_manager() {
	if [ ! -d "$home/etc/rules" ] || [ ! -d "$home/etc/decoders" ]; then
		fail $EXIT_NO_MANAGER "no Wazuh manager at $home (no etc/rules and etc/decoders)" "install on the manager; --wazuh-home DIR if it lives elsewhere"
	fi
}

# wazuh_version prints the manager's version (4.9.2): --wazuh-version,
# else WAZUH_VERSION of bin/wazuh-control info, else a VERSION or
# VERSION.json file in the home.
wazuh_version() {
	v=$wversion
	if [ -z "$v" ] && [ -x "$home/bin/wazuh-control" ]; then
		v=$("$home/bin/wazuh-control" info 2>/dev/null | sed -n 's/^WAZUH_VERSION="\{0,1\}\(.*\)/\1/p' | head -n 1) || v=""
	fi
	if [ -z "$v" ] && [ -f "$home/VERSION" ]; then
		v=$(head -n 1 "$home/VERSION")
	fi
	if [ -z "$v" ] && [ -f "$home/VERSION.json" ]; then
		v=$(sed -n 's/.*"version"[^"]*"\([^"]*\)".*/\1/p' "$home/VERSION.json" | head -n 1)
	fi
	printf '%s\n' "$v" | sed -n 's/^[vV]\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p'
}

# check_version sets version (major.minor) and snippet, or refuses.
check_version() {
	version=$(wazuh_version)
	[ -n "$version" ] ||
		fail $EXIT_NO_MANAGER "cannot tell the Wazuh version of $home (no bin/wazuh-control, VERSION or VERSION.json)" "--wazuh-version 4.x.y"
	major=${version%%.*}
	minor=${version#*.}
	if [ "$major" -ge 5 ]; then
		fail $EXIT_VERSION "Wazuh $version has no integratord, so it cannot run custom-misp" "stay on Wazuh 4.x (4.3 to 4.14) for MISP enrichment by custom-misp"
	fi
	if [ "$major" -lt 4 ] || [ "$minor" -lt 3 ]; then
		fail $EXIT_VERSION "Wazuh $version is older than 4.3" "upgrade the manager to 4.8 or later (4.3 at least)"
	fi
	if [ "$minor" -le 6 ]; then
		snippet=integration-4.3-4.6.xml
	elif [ "$minor" -eq 7 ]; then
		snippet=integration-4.7.xml
	else
		snippet=integration-4.8plus.xml
	fi
}

has_group() {
	if command -v getent >/dev/null 2>&1; then
		getent group "$1" >/dev/null 2>&1
	else
		grep -q "^$1:" /etc/group
	fi
}

check_accounts() {
	has_group "$wgroup" ||
		fail $EXIT_NO_GROUP "no group $wgroup on this machine: integratord runs as it and must read the programs and the key" "install on a Wazuh manager, or --wazuh-group GROUP if its daemons run as another group"
	id "$wuser" >/dev/null 2>&1 ||
		fail $EXIT_NO_GROUP "no user $wuser on this machine: the decoder and rules belong to it" "install on a Wazuh manager, or --wazuh-user USER"
}

# --- file operations ----------------------------------------------------

# A private directory on the manager's file system: every file and
# directory is made there with its owner and mode, then renamed into
# place. rename(2) replaces a symbolic link user wazuh could have planted
# in etc/rules (root:wazuh 0770) instead of writing through it, and
# nothing is ever chmod-ed or chown-ed in a directory wazuh can write.
work=""
make_work() {
	work=$(mktemp -d "$home/.custom-misp-install.XXXXXX") ||
		fail $EXIT_FILE "cannot create a work directory in $home" "check that $home is writable by root and not full"
	trap 'rm -rf "$work"' EXIT
	trap 'exit 1' INT TERM
}

owner_of() {
	case $1 in
	wazuh) printf '%s\n' "$wuser" ;;
	*) printf '%s\n' "$1" ;;
	esac
}
group_of() {
	case $1 in
	wazuh) printf '%s\n' "$wgroup" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# set_mode PATH OWNER GROUP MODE, on a path inside $work only.
set_mode() {
	if $as_root; then
		chown "$(owner_of "$2"):$(group_of "$3")" "$1" || fail $EXIT_FILE "cannot chown $1" "check the user $wuser and group $wgroup"
	fi
	chmod "$4" "$1" || fail $EXIT_FILE "cannot chmod $1" "check the file system"
}

# place SRC REL: rename a prepared file or directory into $home/REL.
place() {
	mv -f -T "$1" "$home/$2" ||
		fail $EXIT_FILE "cannot put $home/$2 in place" "check that $(dirname "$home/$2") exists and is a directory"
}

digest() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum <"$1" | cut -c1-12
	else
		cksum <"$1" | cut -d' ' -f1
	fi
}

changed_ruleset=false
changed_programs=false
n=0

install_payload() { # rel owner group mode src
	[ -f "$tree/$5" ] ||
		fail $EXIT_MISSING "$tree/$5 is missing" "run install.sh from an unpacked release tree, or make build first in the repository"
	n=$((n + 1))
	tmp="$work/f$n"
	cp "$tree/$5" "$tmp" || fail $EXIT_FILE "cannot copy $tree/$5" "check the disk"
	set_mode "$tmp" "$2" "$3" "$4"
	new=$(digest "$tmp")
	dest="$home/$1"
	if [ -L "$dest" ]; then
		what="replaced $1 (was a symbolic link; now sha256 $new)"
		mark_changed "$1"
	elif [ -f "$dest" ]; then
		old=$(digest "$dest")
		if [ "$old" = "$new" ]; then
			what="unchanged $1 (sha256 $new)"
		else
			what="replaced $1: sha256 $old -> $new"
			mark_changed "$1"
		fi
	else
		what="installed $1 ($(owner_of "$2"):$(group_of "$3") $4, sha256 $new)"
		mark_changed "$1"
	fi
	place "$tmp" "$1"
	echo "$what"
}

mark_changed() {
	case $1 in
	integrations/*) changed_programs=true ;;
	*) changed_ruleset=true ;;
	esac
}

# ensure_dir and ensure_file create what is missing and keep what is
# there, whatever its mode (doctor judges it: custom-misp doctor).
ensure_dir() { # rel owner group mode
	if [ -L "$home/$1" ] || [ -d "$home/$1" ]; then
		echo "kept $1"
		return
	fi
	n=$((n + 1))
	mkdir "$work/d$n"
	set_mode "$work/d$n" "$2" "$3" "$4"
	place "$work/d$n" "$1"
	echo "created $1 ($(owner_of "$2"):$(group_of "$3") $4)"
}

ensure_key() { # rel owner group mode
	if [ -L "$home/$1" ] || [ -e "$home/$1" ]; then
		echo "kept $1"
		return
	fi
	n=$((n + 1))
	: >"$work/k$n"
	set_mode "$work/k$n" "$2" "$3" "$4"
	place "$work/k$n" "$1"
	echo "created empty $1 ($(owner_of "$2"):$(group_of "$3") $4): write the MISP auth key into it with an editor"
	new_key=true
}

remove_path() { # rel
	if [ -L "$home/$1" ] || [ -e "$home/$1" ]; then
		rm -rf "${home:?}/$1" || fail $EXIT_FILE "cannot remove $home/$1" "check the file system"
		echo "removed $1"
	fi
}

wanted() { # option: is the entry's option on the command line?
	[ "$1" = - ] && return 0
	case $options in *" $1 "*) return 0 ;; esac
	return 1
}

# --- actions ------------------------------------------------------------

# install_all [package]: with "package", the package manager has put the
# payload in place already: only the directories and the key are made.
install_all() {
	new_key=false
	while read -r _ rel owner group mode kind src opt; do
		case $kind in
		payload)
			[ "${1:-}" = package ] && continue
			if wanted "$opt" || { [ "$action" = upgrade ] && [ -e "$home/$rel" ]; }; then
				install_payload "$rel" "$owner" "$group" "$mode" "$src"
			fi
			;;
		shared | state) ensure_dir "$rel" "$owner" "$group" "$mode" ;;
		output) wanted "$opt" && ensure_dir "$rel" "$owner" "$group" "$mode" ;;
		config) ensure_key "$rel" "$owner" "$group" "$mode" ;;
		esac
	done <<EOF
$(layout_table)
EOF
}

remove_all() {
	while read -r _ rel owner group mode kind src opt; do
		case $kind in
		payload | output) remove_path "$rel" ;;
		config | state)
			if [ "$action" = purge ]; then
				remove_path "$rel"
			elif [ -e "$home/$rel" ]; then
				echo "kept $rel"
			fi
			;;
		esac
	done <<EOF
$(layout_table)
EOF
}

next_steps() {
	bin=$home/integrations/custom-misp
	echo
	if [ "$action" = install ]; then
		echo "Next steps (Wazuh $version):"
		if $new_key; then
			echo "1. Write the MISP auth key into $home/etc/custom-misp.key with an editor (not on a command line)."
		else
			echo "1. The key file $home/etc/custom-misp.key was kept: check that it holds the MISP auth key."
		fi
		echo "2. Paste this block inside <ossec_config> of $home/etc/ossec.conf and set <hook_url> to the MISP base URL"
		echo "   ($tree/ossec-snippets/$snippet; README.md explains the <group> list):"
		echo
		if [ -f "$tree/ossec-snippets/$snippet" ]; then
			sed -n '/^<integration>/,/^<\/integration>/p' "$tree/ossec-snippets/$snippet" | sed "s#/var/ossec/#$home/#g"
		fi
		echo
		echo "3. Check the configuration, then restart the manager: $home/bin/wazuh-analysisd -t && systemctl restart wazuh-manager"
		echo "4. Check everything from the key to the queue socket: $bin doctor"
		return
	fi
	if $changed_ruleset; then
		if [ "$minor" -ge 13 ]; then
			echo "The decoder or rules changed: restart the manager (systemctl restart wazuh-manager) or reload the ruleset (Wazuh API: PUT /manager/analysisd/reload)."
		else
			echo "The decoder or rules changed: restart the manager: $home/bin/wazuh-analysisd -t && systemctl restart wazuh-manager"
		fi
	else
		echo "The decoder and rules did not change: no restart needed for them."
	fi
	if $changed_programs; then
		echo "integratord runs the new programs from the next alert on: no restart needed for them."
	fi
	echo "Compare your <integration> block with $tree/ossec-snippets/$snippet (the group list can grow), then run: $bin doctor"
}

prepare() {
	check_manager
	check_version
	check_accounts
	$as_root || echo "not root: modes are set, owners are not (the files stay $(id -un)'s)"
	make_work
}

case ${package_step:-$action} in
install)
	prepare
	install_all
	next_steps
	;;
upgrade)
	prepare
	[ -e "$home/integrations/custom-misp" ] ||
		fail $EXIT_NO_MANAGER "custom-misp is not installed in $home: nothing to upgrade" "install.sh without --upgrade installs it"
	install_all
	next_steps
	;;
uninstall | purge)
	check_manager
	remove_all
	echo
	if [ "$action" = uninstall ]; then
		echo "Kept the key file and $home/var/custom-misp (cache, mirror, sightings memory): install.sh --purge removes them."
	fi
	echo "Remove the custom-misp <integration> block (and the mirror wodle, the etc/lists/misp <list> lines if you added them) from $home/etc/ossec.conf, then restart the manager: systemctl restart wazuh-manager"
	;;
preinst)
	# Before the package manager unpacks anything: refuse what install
	# would refuse, so nothing is half-installed.
	check_manager
	check_version
	check_accounts
	;;
postinst)
	# deb: configure; rpm: the count of installed versions.
	case ${package_arg:-} in abort-* | 2 | [3-9]) action=upgrade ;; esac
	[ "${package_arg:-}" = configure ] && [ -n "${3:-}" ] && action=upgrade
	check_manager
	check_version
	check_accounts
	make_work
	install_all package
	if [ "$action" = upgrade ]; then
		changed_ruleset=true # the package manager replaced them; say what to do
	fi
	next_steps
	;;
postrm)
	# deb: purge removes the key, the cache and the mirror; remove (and
	# rpm -e, which has no purge) keeps them.
	if [ "${package_arg:-}" = purge ] && [ -d "$home" ]; then
		action=purge
		remove_all
	fi
	;;
esac
