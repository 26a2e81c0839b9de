package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/wazuh"
)

// check looks one alert up and prints the events, one JSON object per line,
// instead of sending them to Wazuh: for trying options and rules by hand.
func check(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	optionsFile := fs.String("options", "", "options JSON file (as in <options>)")
	hookURL := fs.String("url", "", "MISP base URL (as in <hook_url>)")
	debugLog := fs.Bool("debug", false, "write debug lines to the log file")
	home := fs.String("wazuh-home", wazuh.Home(), "Wazuh installation directory")
	if err := fs.Parse(args); err != nil {
		return cli.Fail(cli.ExitUsage, fmt.Errorf("check: %w", err), "custom-misp check [-options FILE] [-url URL] [-debug] [-wazuh-home DIR] ALERT_FILE")
	}
	if fs.NArg() != 1 {
		return cli.Fail(cli.ExitUsage, fmt.Errorf("check: want one alert file, got %d arguments", fs.NArg()), "custom-misp check [-options FILE] [-url URL] [-debug] [-wazuh-home DIR] ALERT_FILE")
	}
	a := config.Args{AlertFile: fs.Arg(0), APIKey: os.Getenv(config.KeyEnv), HookURL: *hookURL, Debug: *debugLog, OptionsFile: *optionsFile, Retries: -1}
	cfg, err := config.Load(a, *home)
	if err != nil {
		return cli.Fail(cli.ExitConfig, fmt.Errorf("configuration: %w", err), "the API key comes from \"api_key_file\" in the options or from $"+config.KeyEnv)
	}
	log := wazuh.NewLog(cfg.LogFile, cfg.Debug)
	defer log.Close()
	return handle(ctx, &cfg, log, func(_ time.Time, _ *alert.Alert, events []event.Message) error {
		for _, m := range events {
			if _, err := fmt.Fprintf(stdout, "%s\n", wazuh.Marshal(m)); err != nil {
				return err
			}
		}
		return nil
	})
}
