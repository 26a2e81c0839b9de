package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/mirror"
)

// mirrorCheck describes the local mirror as integratord runs find it:
// present, generation, counts, age, the last sync's outcome, the filters
// it was built with, and whether lookup "auto" uses it now.
func mirrorCheck(in Input) []Result {
	cfg := in.Config
	if cfg.Lookup == config.LookupLive {
		return []Result{ok("mirror", `lookup "live": alerts are looked up in MISP, the mirror is not used`)}
	}
	// Without a mirror, "auto" is the live path: fine, but say how to get
	// the mirror; "mirror" looks nothing up at all.
	bad := warn
	if cfg.Lookup == config.LookupMirror {
		bad = fail
	}
	path := cfg.MirrorPath
	syncHint := "run /var/ossec/integrations/custom-misp sync as root, then schedule it with ossec-snippets/mirror-sync-wodle.xml"
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if cfg.Lookup == config.LookupAuto {
			return []Result{ok("mirror", "no mirror at "+path+` yet: lookup "auto" asks MISP for every alert; to match alerts on the manager, `+syncHint)}
		}
		return []Result{fail("mirror", "no mirror at "+path+`: lookup "mirror" never asks MISP, so nothing is looked up`, syncHint)}
	case err != nil:
		return []Result{bad("mirror", err.Error(), "check the mirror_path option")}
	case fi.Mode()&fs.ModeSymlink != 0:
		return []Result{fail("mirror", path+" is a symbolic link: integratord refuses to follow it (was it planted?)", "rm "+path+"; then run custom-misp sync")}
	case !fi.Mode().IsRegular():
		return []Result{bad("mirror", path+" is not a regular file, so integratord cannot use it", "remove what is there, then run custom-misp sync")}
	}
	d := fmt.Sprintf("%s %s, %d MiB", path, ownerText(fi), fi.Size()>>20)
	if in.writers(fi) == "anyone" {
		return []Result{fail("mirror", d+": anyone can write it, so any local user can plant or hide indicators", "chmod 0640 "+path)}
	}
	if in.User.Known && !in.User.can(fi, read) {
		return []Result{bad("mirror", d+": user wazuh cannot read it, so integratord cannot use it", "chown root:wazuh "+path+"; chmod 0640 "+path+" (custom-misp sync gives its files the group of their directory, var/custom-misp: root:wazuh 0770)")}
	}
	m, err := mirror.Open(path)
	if err != nil {
		return []Result{bad("mirror", d+": "+err.Error(), "the next custom-misp sync replaces it with a full one; run it now")}
	}
	defer m.Close()
	if err := m.Verify(); err != nil {
		return []Result{bad("mirror", d+": "+err.Error()+" (checksum)", "the next custom-misp sync replaces it with a full one; run it now")}
	}
	meta := m.Meta()
	st, stErr := mirror.ReadState(path)
	now := in.Now()
	fresh := mirror.FreshAt(meta, st)
	age := now.Sub(fresh)
	d += fmt.Sprintf(": generation %d, %d attributes (%d networks) over %d events, last current %s (%s), filters %s",
		meta.Generation, meta.Attributes, meta.CIDRs, meta.Events, fresh.UTC().Format("2006-01-02 15:04 UTC"), ago(now, fresh), meta.Filters)
	var rs []Result
	switch {
	case meta.Scope != in.MirrorScope:
		rs = append(rs, bad("mirror", d+": built for another MISP URL, key or filters than integratord's, so integratord does not use it",
			"run custom-misp sync without --key-file (it must use the integration's key) after changing the filters; "+syncHint))
	case age > cfg.MirrorMaxAge && cfg.Lookup == config.LookupAuto:
		rs = append(rs, warn("mirror", d+fmt.Sprintf(": older than mirror_max_age %s, so lookup \"auto\" asks MISP instead", cfg.MirrorMaxAge), "check the sync job (below); "+syncHint))
	case age > cfg.MirrorMaxAge:
		rs = append(rs, warn("mirror", d+fmt.Sprintf(": older than mirror_max_age %s; lookup \"mirror\" still answers from it and sends stale_mirror events", cfg.MirrorMaxAge), "check the sync job (below); "+syncHint))
	case cfg.Lookup == config.LookupAuto:
		rs = append(rs, ok("mirror", d+`: lookup "auto" answers alerts from it now`))
	default:
		rs = append(rs, ok("mirror", d+`: lookup "mirror" answers alerts from it`))
	}
	rs = append(rs, syncCheck(st, stErr, now))
	return rs
}

// syncCheck reports the last sync's outcome from its state file.
func syncCheck(st mirror.State, err error, now time.Time) Result {
	if err != nil {
		return warn("mirror sync", "no record of a sync: "+err.Error(), "run custom-misp sync")
	}
	at := time.Unix(st.StartedAt, 0)
	r := st.Result
	kind := "incremental"
	if r.Full {
		kind = "full"
	}
	if !st.OK {
		return warn("mirror sync", fmt.Sprintf("the last sync, %s (%s), failed after %s: %s", at.UTC().Format("2006-01-02 15:04 UTC"), ago(now, at), r.Duration, st.Error),
			"custom-misp doctor's MISP checks above show the way to MISP; custom-misp sync shows the error again")
	}
	what := "no change"
	if r.Changed {
		what = fmt.Sprintf("%d events read, %d gone", r.Events, r.Deleted)
	}
	return ok("mirror sync", fmt.Sprintf("last sync %s (%s): %s, %s in %s with %d requests", at.UTC().Format("2006-01-02 15:04 UTC"), ago(now, at), kind, what, r.Duration, r.Requests))
}
