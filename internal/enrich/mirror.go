package enrich

import (
	"fmt"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/mirror"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// OpenMirror opens the mirror cfg names as a run sees it: usable only if
// it was built for cfg's MISP URL, key and filters.
func OpenMirror(cfg *config.Config, now time.Time) mirror.View {
	return mirror.ForRun(cfg.MirrorPath, mirror.Scope(cfg.MISPURL, cfg.APIKey, cfg.Query()), now, cfg.MirrorMaxAge)
}

func chooseMirror(cfg *config.Config, sv Server, log Logger, label string) (mirror.View, bool) {
	return UseMirror(cfg, sv.OpenMirror, log, "alert "+label)
}

// UseMirror decides, for lookup "auto" and "mirror", whether to answer
// from the mirror (open opens it; nil means there is none): "auto" uses it
// only when it is fresh and built for this MISP, key and filters, and goes
// live otherwise; "mirror" always does, and the caller reports what is
// wrong with it when View.Mirror is nil. what names the lookup in the log.
func UseMirror(cfg *config.Config, open func() mirror.View, log Logger, what string) (mirror.View, bool) {
	if cfg.Lookup == config.LookupLive || open == nil {
		return mirror.View{}, false
	}
	v := open()
	if cfg.Lookup == config.LookupMirror || v.Status == mirror.Fresh {
		return v, true
	}
	if v.Mirror != nil {
		v.Mirror.Close()
	}
	switch v.Status {
	case mirror.Unusable:
		log.Warnf("%s: mirror not used, looking up in MISP: %v (the next custom-misp sync writes a new one)", what, v.Err)
	case mirror.Stale:
		log.Debugf("%s: mirror last current %s ago, over mirror_max_age %s: looking up in MISP", what, v.Age.Truncate(time.Second), cfg.MirrorMaxAge)
	default:
		log.Debugf("%s: mirror %s: looking up in MISP", what, v.Status)
	}
	return mirror.View{}, false
}

// fromMirror answers the indicators from the mirror; MISP is not asked.
// A stale mirror still answers, with one stale_mirror event per report
// window; no usable mirror answers nothing, with one no_mirror event.
func fromMirror(cfg *config.Config, sv Server, log Logger, a *alert.Alert, label string, inds []ioc.Indicator, v mirror.View) lookup {
	lk := lookup{found: make(map[ioc.Indicator][]misp.Attribute, len(inds)), viaMirror: true}
	report := func(class misp.Class, msg string, notLookedUp int) {
		log.Warnf("alert %s: %s", label, msg)
		lk.failure = failureEvent(sv.OpenCache(), class, 0, msg, notLookedUp, Source(a))
	}
	if v.Mirror == nil {
		report(misp.ClassNoMirror, NoMirrorMessage(v), len(inds))
		return lk
	}
	defer v.Mirror.Close()
	lk.mirrorAge, lk.ageKnown = v.Age, true
	for i, ind := range inds {
		attrs, err := v.Mirror.Lookup(ind)
		if err != nil {
			report(misp.ClassNoMirror, fmt.Sprintf("the mirror could not be read (%v): %d indicators not looked up; the next custom-misp sync writes a new one", err, len(inds)-i), len(inds)-i)
			return lk
		}
		SortBest(attrs)
		lk.found[ind] = attrs
		lk.fromMirror++
	}
	if v.Status == mirror.Stale {
		report(misp.ClassStaleMirror, fmt.Sprintf("the mirror was last current %s ago, over mirror_max_age %s: it answered, but may lack what MISP learnt since; check the custom-misp sync job",
			v.Age.Truncate(time.Second), cfg.MirrorMaxAge), 0)
	}
	return lk
}

// NoMirrorMessage says why lookup "mirror" found nothing to answer from.
func NoMirrorMessage(v mirror.View) string {
	const what = `lookup is "mirror" and MISP is not asked per alert, so nothing was looked up: `
	switch v.Status {
	case mirror.Missing:
		return what + "there is no mirror yet; run custom-misp sync (see the sync wodle in ossec-snippets)"
	case mirror.OtherScope:
		return what + "the mirror was built for another MISP URL, key or filters; run custom-misp sync with this integration's settings"
	}
	return what + fmt.Sprintf("%v; run custom-misp sync", v.Err)
}
