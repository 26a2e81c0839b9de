// Package config turns integratord's command line and the <options> JSON
// into one validated Config. Defaults are applied first, then the options
// file is decoded strictly, then Validate checks everything once; errors
// name the field and the bad value, never the API key.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Args is what integratord put on the command line.
//
// integratord (src/os_integrator/integrator.c) builds one string
// "integrations <alert> <api_key> <hook_url> <debug|""> <options|""> <timeout> <retries>"
// and splits it on single spaces without a shell, so the " > /dev/null 2>&1"
// it appends when not debugging arrives as an ordinary argument. 4.3-4.6 pass
// five tokens, 4.7 seven, 4.8+ eight (plus the redirect token).
type Args struct {
	AlertFile   string
	APIKey      string
	HookURL     string
	Debug       bool
	OptionsFile string
	Timeout     time.Duration // 0 when integratord did not pass one (before 4.8)
	Retries     int           // -1 when integratord did not pass one (before 4.8)
}

// redirect is the shell redirect integratord appends as a plain argument.
const redirect = "> /dev/null 2>&1"

// ParseArgs reads integratord's positional arguments (argv without argv[0]).
func ParseArgs(argv []string) (Args, error) {
	rest := make([]string, 0, len(argv))
	for _, a := range argv {
		if strings.TrimSpace(a) == redirect {
			continue
		}
		rest = append(rest, a)
	}
	if len(rest) < 3 {
		return Args{}, fmt.Errorf("expected at least 3 arguments (alert file, api key, hook url), got %d", len(rest))
	}
	if len(rest) > 7 {
		return Args{}, fmt.Errorf("expected at most 7 arguments, got %d (a space inside api_key or hook_url shifts them)", len(rest))
	}
	a := Args{AlertFile: rest[0], APIKey: rest[1], HookURL: rest[2], Retries: -1}
	at := func(i int) string {
		if i < len(rest) {
			return rest[i]
		}
		return ""
	}
	switch d := at(3); d {
	case "", "debug":
		a.Debug = d == "debug"
	default:
		// Never echo the value: a space inside api_key shifts a piece of
		// the key into this position.
		return Args{}, fmt.Errorf("argv[4] must be \"debug\" or empty (a space inside api_key or hook_url shifts the arguments)")
	}
	a.OptionsFile = at(4)
	if t := at(5); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 || n > 3600 {
			return Args{}, fmt.Errorf("argv[6] (timeout) must be whole seconds from 1 to 3600")
		}
		a.Timeout = time.Duration(n) * time.Second
	}
	if r := at(6); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 0 || n > 10 {
			return Args{}, fmt.Errorf("argv[7] (retries) must be a whole number from 0 to 10")
		}
		a.Retries = n
	}
	return a, nil
}
