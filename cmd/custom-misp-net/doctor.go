package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"github.com/custom-misp/custom-misp/internal/cache"
	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/doctor"
	"github.com/custom-misp/custom-misp/internal/mirror"
)

const doctorUsage = "custom-misp doctor " + opFlagsUsage + " [--wazuh-user NAME]"

// runDoctor checks the MISP side and the Wazuh side and prints one line
// per check; it exits cli.ExitCheckFailed when any check fails.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags, f := newOpFlags("doctor")
	// The file checks judge access as this user. A flag, not a constant:
	// a manager built with another WAZUH_USER exists, and the tests must
	// not depend on whether the machine running them has a wazuh user.
	wazuhUser := flags.String("wazuh-user", doctor.DefaultUser, "the user integratord and analysisd run as")
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return f.help(stdout, doctorUsage)
	}
	if err != nil {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("doctor: %w", err), doctorUsage))
	}
	if len(pos) != 0 {
		return cli.Report(stderr, cli.Fail(cli.ExitUsage, fmt.Errorf("doctor: unexpected argument %q", pos[0]), doctorUsage))
	}
	oc := f.load()
	servers := []config.Config{oc.cfg}
	if oc.err == nil {
		if servers, err = oc.servers(f); err != nil {
			return cli.Report(stderr, err)
		}
	}
	// The MISP side is checked on every server; the Wazuh side, which
	// the servers share, once, with the first.
	wazuhSide := f.homeSet || oc.confErr == nil
	var results []doctor.Result
	for i, srv := range servers {
		cacheCfg := srv
		if srv.Name == oc.cfg.Name {
			cacheCfg = oc.cacheCfg // integratord's key, not --key-file's
		}
		source := oc.source
		if srv.Name != oc.cfg.Name {
			source = fmt.Sprintf("option instances, %q; MISP %s, timeout %s", srv.Name, srv.MISPURL, srv.Timeout)
		}
		in := doctor.Input{
			Config:      srv,
			ConfigErr:   oc.err,
			Source:      source,
			KeyOverride: f.keyFile != "" && srv.Name == oc.cfg.Name,
			Home:        f.home,
			Conf:        oc.conf,
			ConfErr:     oc.confErr,
			User:        doctor.LookupUser(*wazuhUser),
			Root:        0,
			Cache:       cache.OptionsFor(&cacheCfg),
			MirrorScope: mirror.Scope(cacheCfg.MISPURL, cacheCfg.APIKey, cacheCfg.Query()),
			OptionsFile: f.options,
			// The Wazuh side is checked where Wazuh is (or is said to
			// be): doctor run from a build directory checks MISP only.
			Wazuh:       wazuhSide && i == 0,
			ServerFiles: wazuhSide && i > 0,
		}
		if oc.cfg.Several() {
			in.Instance = srv.Name
		}
		if oc.err == nil {
			// No retries: doctor shows what the first attempt meets.
			c, err := opClient(srv, 0)
			if err != nil {
				in.ConfigErr = err
			} else {
				in.Client = c
			}
		}
		results = append(results, doctor.Run(ctx, in)...)
	}
	if !wazuhSide {
		why := oc.confErr.Error()
		if errors.Is(oc.confErr, fs.ErrNotExist) {
			why = oc.confPath + " does not exist"
		}
		results = append(results, doctor.Result{Status: doctor.Warn, Check: "wazuh side",
			Detail: "not checked: no Wazuh at " + f.home + " (" + why + ")",
			Hint:   "run it on the manager as /var/ossec/integrations/custom-misp doctor, or pass --wazuh-home DIR"})
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false) // hints quote <options> and the like
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return cli.Report(stderr, err)
		}
	} else if err := doctor.Write(stdout, results); err != nil {
		return cli.Report(stderr, err)
	}
	if doctor.Failed(results) {
		n := 0
		for _, r := range results {
			if r.Status == doctor.Fail {
				n++
			}
		}
		return cli.Report(stderr, cli.Fail(cli.ExitCheckFailed, fmt.Errorf("doctor: %d of %d checks failed", n, len(results)), "follow the hint under each FAIL, from the top: later checks often fail because of an earlier one"))
	}
	return cli.ExitOK
}
