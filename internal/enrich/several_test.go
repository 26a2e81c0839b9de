package enrich

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// twoServers is a configuration with the hook_url server "corp" and one
// instance "circl", as config.Load builds it from option "instances".
func twoServers() config.Config {
	cfg := config.Default("/var/ossec")
	cfg.Name, cfg.MISPURL = "corp", "https://misp.corp.example"
	circl := cfg
	circl.Name, circl.MISPURL = "circl", "https://misp.circl.example"
	cfg.Others = []config.Config{circl}
	return cfg
}

// serverCase is one server's fakes in a several-server run.
type serverCase struct {
	misp  *fakeMISP
	cache *fakeCache
}

func runServers(t *testing.T, cfg config.Config, servers map[string]serverCase) Result {
	t.Helper()
	al, err := alert.Parse([]byte(testAlert))
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := ioc.NewPolicy(nil, nil)
	env := Env{Log: quietLog{}, Policy: policy, Server: func(srv *config.Config) Server {
		sc, ok := servers[srv.Name]
		if !ok {
			t.Fatalf("no fakes for server %q", srv.Name)
		}
		return Server{OpenCache: func() Cache { return sc.cache }, Client: func() (Searcher, error) { return sc.misp, nil }}
	}}
	res, err := Run(context.Background(), &cfg, al, env)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A value both servers know yields one event per server, indicator by
// indicator; each event names its server and links to it.
func TestRun_SeveralServersEachNamedInTheirEvents(t *testing.T) {
	both := attr("1", "ip-src", "185.220.101.47", true)
	corp := serverCase{&fakeMISP{attrs: []misp.Attribute{both, attr("2", "domain", "evil-update.xyz", true)}}, newFakeCache()}
	circl := serverCase{&fakeMISP{attrs: []misp.Attribute{both}}, newFakeCache()}
	circl.misp.attrs[0].Event.UUID = "e-circl"
	res := runServers(t, twoServers(), map[string]serverCase{"corp": corp, "circl": circl})

	type row struct{ Indicator, Instance, EventRef, Permalink string }
	var got []row
	for _, e := range res.Events {
		got = append(got, row{e.MISP.Indicator, e.MISP.Instance, e.MISP.EventRef, e.MISP.Permalink})
	}
	// The alert's indicators in extraction order (alert.Extract puts the
	// more specific kinds first: the domain before the address); for
	// each, the servers in configuration order.
	want := []row{
		{"evil-update.xyz", "corp", "MISP event 7 on corp", ""},
		{"185.220.101.47", "corp", "MISP event 7 on corp", ""},
		{"185.220.101.47", "circl", "MISP event 7 on circl", "https://misp.circl.example/events/view/e-circl"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if res.Matched != 3 || len(corp.misp.queries) != 1 || len(circl.misp.queries) != 1 {
		t.Errorf("matched %d, queries corp %d circl %d; want 3, 1, 1", res.Matched, len(corp.misp.queries), len(circl.misp.queries))
	}
	// Each answer lands in its own server's cache.
	if len(corp.cache.puts) != 4 || len(circl.cache.puts) != 4 {
		t.Errorf("cache puts corp %d circl %d; want every indicator in each (4)", len(corp.cache.puts), len(circl.cache.puts))
	}
}

// One server failing costs only its own answers: the other's events are
// sent, the failure is its own error event, named, and only its cache
// records the failure.
func TestRun_OneServerDownDoesNotBlindTheOther(t *testing.T) {
	corp := serverCase{&fakeMISP{attrs: []misp.Attribute{attr("1", "ip-src", "185.220.101.47", true)}}, newFakeCache()}
	circl := serverCase{&fakeMISP{err: &misp.Error{Class: misp.ClassUnavailable, Status: 503, Message: "service unavailable"}}, newFakeCache()}
	res := runServers(t, twoServers(), map[string]serverCase{"corp": corp, "circl": circl})

	if len(res.Events) != 2 {
		t.Fatalf("%d events, want a match from corp and an error from circl: %+v", len(res.Events), res.Events)
	}
	m, e := res.Events[0].MISP, res.Events[1].MISP
	if m.Instance != "corp" || m.Indicator != "185.220.101.47" {
		t.Errorf("first event: instance %q indicator %q; want corp's match", m.Instance, m.Indicator)
	}
	if e.Instance != "circl" || e.Error != string(misp.ClassUnavailable) || e.Message != "MISP circl: service unavailable" {
		t.Errorf("error event: instance %q class %q message %q", e.Instance, e.Error, e.Message)
	}
	if len(corp.cache.failed) != 0 || corp.cache.success != 1 {
		t.Errorf("corp's cache: failed %v, successes %d; want none and 1", corp.cache.failed, corp.cache.success)
	}
	if !cmp.Equal(circl.cache.failed, []misp.Class{misp.ClassUnavailable}) || circl.cache.success != 0 {
		t.Errorf("circl's cache: failed %v, successes %d; want [unavailable] and 0", circl.cache.failed, circl.cache.success)
	}
}

// A paused server (429 or open circuit in its own cache) is not asked;
// the other is.
func TestRun_PausedServerIsNotAsked(t *testing.T) {
	corp := serverCase{&fakeMISP{}, newFakeCache()}
	circl := serverCase{&fakeMISP{}, newFakeCache()}
	circl.cache.gate.Allow = false
	circl.cache.gate.Class = misp.ClassRateLimited
	runServers(t, twoServers(), map[string]serverCase{"corp": corp, "circl": circl})
	if len(corp.misp.queries) != 1 || len(circl.misp.queries) != 0 {
		t.Errorf("queries corp %d circl %d; want 1 and 0", len(corp.misp.queries), len(circl.misp.queries))
	}
}

// max_events_per_alert caps the events of all servers together.
func TestRun_MaxEventsCoversEveryServer(t *testing.T) {
	cfg := twoServers()
	cfg.MaxEvents = 3
	cfg.Others[0].MaxEvents = 3
	attrs := []misp.Attribute{attr("1", "ip-src", "185.220.101.47", true), attr("2", "domain", "evil-update.xyz", true)}
	corp := serverCase{&fakeMISP{attrs: attrs}, newFakeCache()}
	circl := serverCase{&fakeMISP{attrs: attrs}, newFakeCache()}
	res := runServers(t, cfg, map[string]serverCase{"corp": corp, "circl": circl})
	if res.Matched != 4 || len(res.Events) != 3 {
		t.Errorf("matched %d, events %d; want 4 and 3", res.Matched, len(res.Events))
	}
	if len(res.Matches) != 4 {
		t.Errorf("%d matches kept for sightings, want all 4", len(res.Matches))
	}
}

// With one server, events carry no instance and event_ref is plain.
func TestRun_OneServerEventsAreUnnamed(t *testing.T) {
	res := runWith(t, config.Default("/var/ossec"), testAlert, &fakeMISP{attrs: []misp.Attribute{attr("1", "ip-src", "185.220.101.47", true)}}, newFakeCache())
	if len(res.Events) != 1 || res.Events[0].MISP.Instance != "" || res.Events[0].MISP.EventRef != "MISP event 7" {
		t.Errorf("events %+v; want one, without instance, event_ref \"MISP event 7\"", res.Events)
	}
}
