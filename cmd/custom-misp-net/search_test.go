package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/misp"
	"github.com/custom-misp/custom-misp/internal/mispfake"
	"github.com/custom-misp/custom-misp/internal/mispproc"
)

// The test binary plays two more parts when TestSearch_HelperEndsWithParent
// starts it again; roleEnv says which.
const (
	roleEnv    = "CUSTOM_MISP_NET_TEST_ROLE" // "parent" or "helper"
	addrEnv    = "CUSTOM_MISP_NET_TEST_ADDR" // the MISP that never answers
	pidFileEnv = "CUSTOM_MISP_NET_TEST_PID"  // where the helper writes its pid
)

// hangingTimeout and hangingDeadline are the per-request timeout and the
// run deadline of the searches that must be stopped by something else:
// long enough that the tests' generous bounds cannot be reached by them.
const (
	hangingTimeout  = 5 * time.Minute
	hangingDeadline = 10 * time.Minute
)

// stopBound is how long a test waits for a search to notice that its
// parent is gone. It takes milliseconds; a minute is generous for a loaded
// 2-core machine, and still far under hangingTimeout, so passing means the
// parent's end stopped the search, not a timeout.
const stopBound = time.Minute

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "helper": // custom-misp-net, as main runs it
		if err := os.WriteFile(os.Getenv(pidFileEnv), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			os.Exit(99)
		}
		os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
	case "parent": // custom-misp's side: one search through the helper
		os.Exit(searchAsParent())
	}
	os.Exit(m.Run())
}

// searchAsParent runs one search through mispproc with this test binary as
// the helper, against the MISP at $addrEnv.
func searchAsParent() int {
	self, err := os.Executable()
	if err != nil {
		return 98
	}
	os.Setenv(roleEnv, "helper") // the helper inherits the environment
	s := &mispproc.Searcher{Path: self, Client: mispproc.Client{
		BaseURL: "http://" + os.Getenv(addrEnv), APIKey: "ParentRoleKey", AllowHTTP: true, Timeout: hangingTimeout}}
	ctx, cancel := context.WithTimeout(context.Background(), hangingDeadline)
	defer cancel()
	s.Search(ctx, misp.Query{Values: []string{"evil.example"}})
	return 0
}

// silentMISP accepts connections and never answers; each accepted
// connection is sent on the channel.
func silentMISP(t *testing.T) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-ch:
				c.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().String(), ch
}

func waitAccepted(t *testing.T, accepted <-chan net.Conn) {
	t.Helper()
	select {
	case c := <-accepted:
		t.Cleanup(func() { c.Close() })
	case <-time.After(stopBound):
		t.Fatalf("the search did not reach MISP within %s", stopBound)
	}
}

// TestServeSearch_StopsAtStdinEOF: once the request is read, EOF on stdin
// means custom-misp is gone; the search is cancelled at once.
func TestServeSearch_StopsAtStdinEOF(t *testing.T) {
	addr, accepted := silentMISP(t)
	req, err := json.Marshal(mispproc.Request{
		Client:   mispproc.Client{BaseURL: "http://" + addr, APIKey: "StdinEOFKey", AllowHTTP: true, Timeout: hangingTimeout},
		Query:    misp.Query{Values: []string{"evil.example"}},
		Deadline: time.Now().Add(hangingDeadline),
	})
	if err != nil {
		t.Fatal(err)
	}
	stdin, parent := io.Pipe()
	var stdout bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serveSearch(context.Background(), stdin, &stdout, io.Discard) }()
	if _, err := parent.Write(append(req, '\n')); err != nil {
		t.Fatal(err)
	}
	waitAccepted(t, accepted)
	parent.Close() // custom-misp ends

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serveSearch: %v", err)
		}
	case <-time.After(stopBound):
		t.Fatalf("the search still runs %s after stdin closed", stopBound)
	}
	var resp mispproc.Response
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("answer %q: %v", stdout.Bytes(), err)
	}
	want := mispproc.Response{Error: &mispproc.Failure{Class: misp.ClassTimeout, Message: "canceled before MISP answered"}}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

// TestSearch_HelperEndsWithParent: custom-misp (here, this test binary as
// "parent") is killed with SIGKILL while its helper waits for a MISP that
// never answers; the helper must end too, not run on to its deadline.
//
// How the test sees the helper end without polling: the parent gets the
// write end of a pipe as fd 3, without close-on-exec, so the helper
// inherits it (checked in /proc before the kill). A read of the other end
// returns EOF only once every process holding it has closed it, and the
// helper closes it only by exiting.
func TestSearch_HelperEndsWithParent(t *testing.T) {
	addr, accepted := silentMISP(t)
	pidFile := filepath.Join(t.TempDir(), "helper.pid")
	alive, heldByParentAndHelper, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer alive.Close()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(self)
	parent.Env = append(os.Environ(), roleEnv+"=parent", addrEnv+"="+addr, pidFileEnv+"="+pidFile)
	parent.ExtraFiles = []*os.File{heldByParentAndHelper}
	var parentOut bytes.Buffer
	parent.Stdout, parent.Stderr = &parentOut, &parentOut
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	heldByParentAndHelper.Close()
	waitAccepted(t, accepted) // the helper is waiting for MISP now

	pidText, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the helper wrote no pid: %v", err)
	}
	helperPID, err := strconv.Atoi(string(pidText))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			// Only our own helper, by its pid, so that a failure
			// leaves nothing running.
			if p, err := os.FindProcess(helperPID); err == nil {
				p.Kill()
			}
		}
	})
	if !holdsPipe(t, helperPID, alive) {
		t.Fatalf("helper %d did not inherit the pipe: this test could not see it end", helperPID)
	}

	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()

	alive.SetReadDeadline(time.Now().Add(stopBound))
	if n, err := alive.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read %d bytes, %v: the helper still runs %s after its parent was killed (parent's output: %q)", n, err, stopBound, parentOut.String())
	}
}

// holdsPipe reports whether process pid has the pipe of end open.
func holdsPipe(t *testing.T, pid int, end *os.File) bool {
	t.Helper()
	fi, err := end.Stat()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pipe:[%d]", fi.Sys().(*syscall.Stat_t).Ino)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if link, _ := os.Readlink(filepath.Join(dir, fd.Name())); link == want {
			return true
		}
	}
	return false
}

// TestSightings_ThroughHelper adds sightings as custom-misp does: through
// this binary as the helper, over TLS to the fake MISP, in one request.
func TestSightings_ThroughHelper(t *testing.T) {
	const key = "SightingTestKey0123456789abcdefghijklmno"
	fake, err := mispfake.New(mispfake.Options{Keys: map[string]mispfake.Key{key: {}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, ca := fake.ServeTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(roleEnv, "helper")
	t.Setenv(pidFileEnv, filepath.Join(t.TempDir(), "pid"))
	s := &mispproc.Searcher{Path: self, Client: mispproc.Client{BaseURL: srv.URL, APIKey: key, CAFile: caFile, Timeout: 10 * time.Second}}
	// Event 1 of the fake's data: ip-dst 203.0.113.5, a sha256, domain evil.example.
	uuids := []string{"19f709e1-c921-4939-87cf-669935e4a78b", "1d1e00a5-33df-4657-831b-c23ad892064a", "81e779f5-a80b-429c-94a9-51de7291b663"}
	var in []misp.Sighting
	for _, u := range uuids {
		in = append(in, misp.Sighting{AttributeUUID: u, Source: "wazuh", Timestamp: 1796500000})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.AddSightings(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Requests != 1 || fake.SightingRequests() != 1 {
		t.Errorf("result %+v, fake got %d request(s); want 3 added in 1", res, fake.SightingRequests())
	}
	for _, u := range uuids {
		if fake.SightingsOf(u) != 1 {
			t.Errorf("%s sighted %d times, want 1", u, fake.SightingsOf(u))
		}
	}
}
