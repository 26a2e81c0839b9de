package main

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custom-misp/custom-misp/internal/cdb"
	"github.com/custom-misp/custom-misp/internal/mispfake"
)

// Issue #13 end to end: the built binary's sync against the fake MISP with
// export_cdb on writes the CDB lists, an unchanged mirror leaves them as
// they are, and a change in MISP reaches the lists and makes the export
// ask analysisd (here a stand-in on a real unix socket) to reload.

type jobLine struct {
	MISP struct{ Operation, Result, Message string } `json:"misp"`
}

func jobLines(t *testing.T, out []byte) []jobLine {
	t.Helper()
	var lines []jobLine
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var j jobLine
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("not a job line: %q", l)
		}
		lines = append(lines, j)
	}
	return lines
}

// analysisdStandIn answers every reload-ruleset request as Wazuh 4.14.7's
// analysisd does when the new ruleset loads; requests counts those made
// since its last call.
func analysisdStandIn(t *testing.T, home string) (requests func() int) {
	dir := filepath.Join(home, "queue", "sockets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "analysis"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var head [4]byte
			if _, err := io.ReadFull(c, head[:]); err == nil {
				req := make([]byte, binary.LittleEndian.Uint32(head[:]))
				if _, err := io.ReadFull(c, req); err == nil {
					got <- string(req)
					answer := `{"error":0,"message":"ok","data":[]}`
					_, _ = c.Write(append(binary.LittleEndian.AppendUint32(nil, uint32(len(answer))), answer...))
				}
			}
			c.Close()
		}
	}()
	return func() int {
		n := 0 // since the last call
		for {
			select {
			case r := <-got:
				if r != `{"command":"reload-ruleset"}` {
					t.Errorf("analysisd got %q", r)
				}
				n++
			default:
				return n
			}
		}
	}
}

func readList(t *testing.T, home string, l cdb.List) cdb.Table {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(l.Path())))
	if err != nil {
		t.Fatal(err)
	}
	return cdb.Parse(b)
}

func TestExportCDB_SyncWritesListsAndReloads(t *testing.T) {
	m := newMirrorWorld(t, map[string]any{"export_cdb": true})
	if err := os.MkdirAll(filepath.Join(m.dir, "etc", "lists"), 0o770); err != nil {
		t.Fatal(err)
	}
	home := m.dir

	// First sync: the lists are written; no analysisd is running.
	out, err := m.syncCmd().CombinedOutput()
	if err != nil {
		t.Fatalf("sync: %v: %s", err, out)
	}
	lines := jobLines(t, out)
	if len(lines) != 2 || lines[0].MISP.Operation != "mirror_sync" || lines[1].MISP.Operation != "cdb_export" || lines[1].MISP.Result != "ok" {
		t.Fatalf("sync with export_cdb printed %q, want a mirror_sync and a cdb_export ok line", out)
	}
	if msg := lines[1].MISP.Message; !strings.Contains(msg, "changed: ip") || !strings.Contains(msg, "analysisd is not running") {
		t.Errorf("export message %q", msg)
	}
	// The fake's demo event (internal/mispfake) holds these, published, to_ids.
	ipList := readList(t, home, cdb.IP)
	if _, _, ok := ipList.AddressMatchKey("185.225.74.19"); !ok {
		t.Errorf("185.225.74.19 (ip-dst|port 185.225.74.19|443) not in the ip list: %v", ipList)
	}
	if _, ok := readList(t, home, cdb.Domain).MatchKey("update-check-cdn.com"); !ok {
		t.Errorf("update-check-cdn.com not in the domain list")
	}

	// Nothing changed in MISP: no second line, the lists are untouched.
	requests := analysisdStandIn(t, home)
	if msg := m.sync(); !strings.Contains(msg, "no change") {
		t.Fatalf("idle sync: %q", msg)
	}
	if n := requests(); n != 0 {
		t.Errorf("idle sync asked analysisd to reload %d times", n)
	}

	// A new address in MISP: the sync changes the mirror, the export the
	// ipList list, and analysisd is asked to reload.
	if _, err := m.w.fake.AddAttribute("3", mispfake.NewAttribute{Type: "ip-src", Category: "Network activity", Value: "198.51.100.0/22", ToIDs: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.w.fake.Publish("3"); err != nil { // MISP unpublishes an event on every edit
		t.Fatal(err)
	}
	out, err = m.syncCmd().CombinedOutput()
	if err != nil {
		t.Fatalf("sync: %v: %s", err, out)
	}
	lines = jobLines(t, out)
	if len(lines) != 2 || !strings.Contains(lines[1].MISP.Message, "changed: ip;") || !strings.Contains(lines[1].MISP.Message, "analysisd reloaded the ruleset") {
		t.Fatalf("sync after a change printed %q", out)
	}
	if n := requests(); n != 1 {
		t.Errorf("reload requests %d, want 1", n)
	}
	ipList = readList(t, home, cdb.IP)
	for addr, want := range map[string]bool{"198.51.100.1": true, "198.51.103.254": true, "198.51.104.1": false} {
		if _, _, ok := ipList.AddressMatchKey(addr); ok != want {
			t.Errorf("address_match_key(%s) = %v, want %v (198.51.100.0/22 is four /24 keys)", addr, ok, want)
		}
	}

	// The command on its own: nothing changed, nothing reloaded.
	cmd := exec.Command(builtBinary, "export", "cdb", "--json", "--options", m.options, "--url", m.w.srv.URL, "--wazuh-home", home)
	cmd.Env = append(os.Environ(), "CUSTOM_MISP_API_KEY="+testKey)
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("export: %v: %s", err, out)
	}
	lines = jobLines(t, out)
	if len(lines) != 1 || lines[0].MISP.Operation != "cdb_export" || !strings.Contains(lines[0].MISP.Message, "no list changed") {
		t.Errorf("export cdb printed %q", out)
	}
	if n := requests(); n != 0 {
		t.Errorf("an unchanged export asked for %d reloads: %s", n, out)
	}
}

// Bad input: one clear line with a hint and the documented exit code.
func TestExportCDB_Errors(t *testing.T) {
	m := newMirrorWorld(t, nil)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(builtBinary, append([]string{"export"}, args...)...)
		cmd.Env = append(os.Environ(), "CUSTOM_MISP_API_KEY="+testKey)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	common := []string{"--options", m.options, "--url", m.w.srv.URL, "--wazuh-home", m.dir}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no what", common, 2, "say what to export: cdb"},
		{"unknown what", append([]string{"stix"}, common...), 2, "say what to export: cdb"},
		{"no mirror", append([]string{"cdb"}, common...), 5, "run custom-misp sync first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") > 1 || strings.Contains(out, testKey) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
		})
	}
}
