package config

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// parsePlainOptions reads an options document without reflection, or
// reports false for the caller to use decodeOptions. It accepts only what
// both decoders read alike: an object whose keys are spelt exactly as
// Options' tags, with strings free of escapes, integers without fraction
// or exponent, and no nulls. A key it does not know, such as one added to
// Options but not here, only costs the slower path; FuzzParseOptions holds
// the two paths to the same answers.
func parsePlainOptions(data []byte) (Options, bool) {
	var o Options
	if !gjson.ValidBytes(data) {
		return o, false
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return o, false
	}
	ok := true
	root.ForEach(func(k, v gjson.Result) bool {
		ok = plainString(k) && o.setPlain(k.Str, v)
		return ok
	})
	return o, ok
}

func (o *Options) setPlain(key string, v gjson.Result) bool {
	switch key {
	case "api_key_file":
		return setString(&o.APIKeyFile, v)
	case "ca_file":
		return setString(&o.CAFile, v)
	case "client_cert":
		return setString(&o.ClientCert, v)
	case "client_key":
		return setString(&o.ClientKey, v)
	case "insecure_skip_verify":
		return setBool(&o.InsecureSkipVerify, v)
	case "allow_http":
		return setBool(&o.AllowHTTP, v)
	case "proxy":
		return setString(&o.Proxy, v)
	case "to_ids":
		return setPtr(&o.ToIDs, v, setBool)
	case "published":
		return setPtr(&o.Published, v, setBool)
	case "enforce_warninglist":
		return setPtr(&o.EnforceWarninglist, v, setBool)
	case "tags":
		return setStrings(&o.Tags, v)
	case "exclude_tags":
		return setStrings(&o.ExcludeTags, v)
	case "exclude_decayed":
		return setBool(&o.ExcludeDecayed, v)
	case "lookup":
		return setString(&o.Lookup, v)
	case "mirror_path":
		return setString(&o.MirrorPath, v)
	case "mirror_max_age":
		return setDuration(&o.MirrorMaxAge, v)
	case "export_cdb":
		return setBool(&o.ExportCDB, v)
	case "mirror_full_sync_interval":
		return setDuration(&o.MirrorFullSyncInterval, v)
	case "exclude":
		return setStrings(&o.Exclude, v)
	case "allow_suffixes":
		return setStrings(&o.AllowSuffixes, v)
	case "max_iocs_per_alert":
		return setInt(&o.MaxIOCsPerAlert, v)
	case "max_events_per_alert":
		return setInt(&o.MaxEventsPerAlert, v)
	case "limit":
		return setInt(&o.Limit, v)
	case "deadline":
		return setDuration(&o.Deadline, v)
	case "timeout":
		return setDuration(&o.Timeout, v)
	case "retries":
		return setPtr(&o.Retries, v, setInt)
	case "cache":
		return setString(&o.Cache, v)
	case "cache_path":
		return setString(&o.CachePath, v)
	case "cache_ttl":
		return setDuration(&o.CacheTTL, v)
	case "cache_negative_ttl":
		return setDuration(&o.CacheNegativeTTL, v)
	case "cache_max_entries":
		return setInt(&o.CacheMaxEntries, v)
	case "cache_lock_wait":
		return setDuration(&o.CacheLockWait, v)
	case "wazuh_home":
		return setString(&o.WazuhHome, v)
	case "socket_path":
		return setString(&o.SocketPath, v)
	case "log_file":
		return setString(&o.LogFile, v)
	case "name":
		return setString(&o.Name, v)
	case "sightings_path":
		return setString(&o.SightingsPath, v)
	case "sightings":
		return setPtr(&o.Sightings, v, setSightings)
	}
	// "instances" is left to encoding/json: a run that asks several
	// servers starts a process for each anyway.
	return false
}

func setSightings(dst *SightingsOptions, v gjson.Result) bool {
	if !v.IsObject() {
		return false
	}
	ok := true
	v.ForEach(func(k, e gjson.Result) bool {
		if !plainString(k) {
			ok = false
			return false
		}
		switch k.Str {
		case "enabled":
			ok = setBool(&dst.Enabled, e)
		case "source":
			ok = setString(&dst.Source, e)
		case "window":
			ok = setDuration(&dst.Window, e)
		default:
			ok = false
		}
		return ok
	})
	return ok
}

// plainString reports whether v is a string that reads the same in both
// decoders: no escapes, valid UTF-8 (encoding/json replaces bad bytes).
func plainString(v gjson.Result) bool {
	return v.Type == gjson.String && !strings.Contains(v.Raw, `\`) && utf8.ValidString(v.Str)
}

func setString(dst *string, v gjson.Result) bool {
	if !plainString(v) {
		return false
	}
	*dst = v.Str
	return true
}

func setBool(dst *bool, v gjson.Result) bool {
	if v.Type != gjson.True && v.Type != gjson.False {
		return false
	}
	*dst = v.Type == gjson.True
	return true
}

// setPtr sets an optional option (*bool, *int) with the setter of its
// value type.
func setPtr[T any](dst **T, v gjson.Result, set func(*T, gjson.Result) bool) bool {
	var x T
	if !set(&x, v) {
		return false
	}
	*dst = &x
	return true
}

func setStrings(dst *[]string, v gjson.Result) bool {
	if !v.IsArray() {
		return false
	}
	list := []string{} // encoding/json gives [] as an empty, non-nil slice
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		var s string
		if ok = setString(&s, e); ok {
			list = append(list, s)
		}
		return ok
	})
	if ok {
		*dst = list
	}
	return ok
}

// setInt takes only integer literals; encoding/json rejects 1.0 and 1e3
// for an int, with its own message.
func setInt(dst *int, v gjson.Result) bool {
	if v.Type != gjson.Number || strings.ContainsAny(v.Raw, ".eE") {
		return false
	}
	n, err := strconv.Atoi(v.Raw)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

// setDuration reads what Duration.UnmarshalJSON reads: seconds as a
// number, or a Go duration string; errors are left to it.
func setDuration(dst *Duration, v gjson.Result) bool {
	switch {
	case v.Type == gjson.Number:
		n, err := strconv.ParseFloat(v.Raw, 64)
		if err != nil {
			return false
		}
		*dst = Duration(n * float64(time.Second))
		return true
	case plainString(v):
		d, err := time.ParseDuration(v.Str)
		if err != nil {
			return false
		}
		*dst = Duration(d)
		return true
	}
	return false
}
