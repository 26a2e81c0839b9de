// Command ostime is a reference point of `make bench`: a Go program that
// links os and time, as every real program does, and does nothing.
package main

import (
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1<<20 { // never: keeps both packages linked
		println(time.Now().String())
	}
}
