package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"

	"github.com/custom-misp/custom-misp/internal/cli"
	"github.com/custom-misp/custom-misp/internal/mispclient"
	"github.com/custom-misp/custom-misp/internal/mispproc"
)

// maxRequest caps the request custom-misp writes: at most 1000 values of
// at most 8 KiB each, plus the connection settings.
const maxRequest = 9 << 20

// serveSearch answers one mispproc.Request. Whatever happens after the
// request is read, the answer is a mispproc.Response on stdout, so that
// custom-misp can turn a failure into the right error event.
func serveSearch(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	data, err := io.ReadAll(io.LimitReader(stdin, maxRequest+1))
	if err != nil || len(data) > maxRequest {
		return cli.Fail(cli.ExitUsage, fmt.Errorf("search: unreadable or oversized request"), "custom-misp-net search is started by custom-misp, not by hand")
	}
	var req mispproc.Request
	if err := json.Unmarshal(data, &req); err != nil {
		return cli.Fail(cli.ExitUsage, fmt.Errorf("search: request is not JSON: %w", err), "custom-misp-net search is started by custom-misp, not by hand")
	}
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
	if err == nil {
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
