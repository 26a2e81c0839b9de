// Command packages is a reference point of `make bench`: a program that
// links and initialises the same packages as custom-misp (gjson,
// golang-lru and bbolt among them) and then returns at once, so that
// the table separates the start-up of the package set from custom-misp's
// own work on an alert.
package main

import (
	_ "context"
	_ "errors"
	_ "flag"
	_ "fmt"
	_ "io"
	_ "os"
	_ "strconv"
	_ "syscall"
	_ "time"

	_ "github.com/custom-misp/custom-misp/internal/alert"
	_ "github.com/custom-misp/custom-misp/internal/cache"
	_ "github.com/custom-misp/custom-misp/internal/cli"
	_ "github.com/custom-misp/custom-misp/internal/config"
	_ "github.com/custom-misp/custom-misp/internal/enrich"
	_ "github.com/custom-misp/custom-misp/internal/event"
	_ "github.com/custom-misp/custom-misp/internal/ioc"
	_ "github.com/custom-misp/custom-misp/internal/misp"
	_ "github.com/custom-misp/custom-misp/internal/mispproc"
	_ "github.com/custom-misp/custom-misp/internal/wazuh"
)

func main() {}
