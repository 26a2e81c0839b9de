package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"

	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispclient"
	"github.com/custom-misp/custom-misp/internal/mispproc"
)

// maxRequest caps the request custom-misp writes: at most 1000 values of
// at most 8 KiB each, plus the connection settings.
const maxRequest = 9 << 20

// serveSearch answers one mispproc.Request (a search, or sightings to add), read as one JSON value from
// stdin. Whatever happens after the request is read, the answer is a
// mispproc.Response on stdout, so that custom-misp can turn a failure into
// the right error event.
//
// custom-misp keeps stdin open until it has the answer, so EOF (or any read
// error) after the request means that it is gone: the search is cancelled
// rather than run on to the deadline for nobody.
func serveSearch(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	const hint = "custom-misp-net search is started by custom-misp, not by hand"
	limited := &io.LimitedReader{R: stdin, N: maxRequest + 1}
	var req mispproc.Request
	if err := json.NewDecoder(limited).Decode(&req); err != nil {
		if limited.N <= 0 {
			return cli.Fail(cli.ExitUsage, fmt.Errorf("search: request larger than %d bytes", maxRequest), hint)
		}
		return cli.Fail(cli.ExitUsage, fmt.Errorf("search: request is not JSON: %w", err), hint)
	}
	ctx, parentGone := context.WithCancel(ctx)
	defer parentGone()
	go func() {
		io.Copy(io.Discard, stdin) // returns at EOF: custom-misp has ended
		parentGone()
	}()
	if !req.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, req.Deadline)
		defer cancel()
	}
	var logf func(string, ...any)
	if req.Debug {
		logf = log.New(stderr, "", 0).Printf
	}
	var resp mispproc.Response
	client, err := newClient(req.Client, logf)
	switch {
	case err != nil:
	case len(req.Sightings) > 0:
		var res misp.SightingResult
		res, err = client.AddSightings(ctx, req.Sightings)
		resp.Sightings = &res
	default:
		resp.Answer, err = client.SearchAnswer(ctx, req.Query)
	}
	if err != nil {
		resp.Error = mispproc.FailureOf(err)
	}
	return json.NewEncoder(stdout).Encode(resp)
}

// newClient builds the MISP client every path uses: integratord lookups
// and the operator commands.
func newClient(c mispproc.Client, logf func(string, ...any)) (*mispclient.Client, error) {
	return mispclient.New(mispclient.Config{
		BaseURL:            c.BaseURL,
		APIKey:             c.APIKey,
		Timeout:            c.Timeout,
		Retries:            c.Retries,
		CAFile:             c.CAFile,
		ClientCert:         c.ClientCert,
		ClientKey:          c.ClientKey,
		InsecureSkipVerify: c.InsecureSkipVerify,
		Proxy:              c.Proxy,
		AllowHTTP:          c.AllowHTTP,
		UserAgent:          c.UserAgent,
		Logf:               logf,
	})
}
