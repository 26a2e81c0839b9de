package mispfake

import (
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
)

// ServeTLS serves s over HTTPS on a loopback port and returns the server
// and its self-signed certificate as PEM, for a client's ca_file. The
// server's handshake-error log is discarded: tests of certificate failures
// cause them on purpose.
func (s *Server) ServeTLS() (srv *httptest.Server, caPEM []byte) {
	srv = httptest.NewUnstartedServer(s)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
