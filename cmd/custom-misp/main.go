// Command custom-misp enriches Wazuh alerts with MISP threat intelligence.
// Wazuh's integratord runs it once per alert; see README.md.
package main

import (
	"context"
	"os"
)

func main() {
	// No signal handling: integratord never signals us, every run ends by
	// its deadline, and os/signal's set-up is measurable start-up time on
	// a path that runs once per alert.
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}
