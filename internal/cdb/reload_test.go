package cdb

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeAnalysisd listens on home's analysis socket and answers one request
// with answer, framed as OS_SendSecureTCP frames it; got receives the
// request it read.
func fakeAnalysisd(t *testing.T, answer string) (home string, got chan string) {
	home, err := os.MkdirTemp("", "cdb") // a short path: unix socket paths are capped
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.MkdirAll(filepath.Join(home, "queue", "sockets"), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(home, AnalysisSocket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		req := make([]byte, binary.LittleEndian.Uint32(head[:]))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		got <- string(req)
		_, _ = c.Write(append(binary.LittleEndian.AppendUint32(nil, uint32(len(answer))), answer...))
	}()
	return home, got
}

func TestReload(t *testing.T) {
	tests := []struct {
		name, answer string
		want         ReloadResult
		wantErr      bool
	}{
		// The answers are asyscom_output_builder's (src/analysisd/asyscom.c).
		{"ok", `{"error":0,"message":"ok","data":[]}`, ReloadResult{Outcome: Reloaded}, false},
		{"ok with warnings", `{"error":0,"message":"ok","data":["WARNING: (7617): Signature ID '1' was not found"]}`,
			ReloadResult{Outcome: Reloaded, Messages: []string{"WARNING: (7617): Signature ID '1' was not found"}}, false},
		{"failed", `{"error":1,"message":"due","data":["ERROR: (1226): Error reading XML file 'etc/rules/x.xml'"]}`,
			ReloadResult{Outcome: ReloadFailed, Messages: []string{"ERROR: (1226): Error reading XML file 'etc/rules/x.xml'"}}, false},
		{"before 4.13", `{"error":4,"message":"Unrecognized command","data":{}}`, ReloadResult{Outcome: RestartNeeded}, false},
		{"garbage", `not json`, ReloadResult{}, true},
		{"other error", `{"error":2,"message":"Invalid JSON input","data":{}}`, ReloadResult{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home, got := fakeAnalysisd(t, tc.answer)
			res, err := Reload(context.Background(), home)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if req := <-got; req != `{"command":"reload-ruleset"}` {
				t.Errorf("request %q", req)
			}
			if !tc.wantErr {
				if diff := cmp.Diff(tc.want, res); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestReload_NotRunning(t *testing.T) {
	home := t.TempDir()
	res, err := Reload(context.Background(), home)
	if err != nil || res.Outcome != NotRunning {
		t.Errorf("no socket: %+v %v", res, err)
	}
	// A socket file nobody listens on, as a stopped analysisd leaves it.
	home, err = os.MkdirTemp("", "cdb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	os.MkdirAll(filepath.Join(home, "queue", "sockets"), 0o700)
	ln, err := net.Listen("unix", filepath.Join(home, AnalysisSocket))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	res, err = Reload(context.Background(), home)
	if err != nil || res.Outcome != NotRunning {
		t.Errorf("stale socket: %+v %v", res, err)
	}
}
