package enrich

import (
	"context"
	"testing"
	"time"

	"github.com/custom-misp/custom-misp/internal/alert"
	"github.com/custom-misp/custom-misp/internal/config"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// hangingMISP answers only when the lookup's context ends.
type hangingMISP struct{}

func (hangingMISP) Search(ctx context.Context, _ misp.Query) (misp.Answer, error) {
	<-ctx.Done()
	return misp.Answer{}, ctx.Err()
}

type quietLog struct{}

func (quietLog) Debugf(string, ...any) {}
func (quietLog) Warnf(string, ...any)  {}
func (quietLog) Errorf(string, ...any) {}

// The run's context carries no deadline (handle never arms a timer up
// front); Env.Deadline alone must end a lookup MISP never answers.
func TestRun_DeadlineBoundsTheLookup(t *testing.T) {
	al, err := alert.Parse([]byte(`{"id":"1","rule":{"id":"92000","level":3},"data":{"srcip":"185.220.101.47"}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default("/var/ossec")
	policy, _ := ioc.NewPolicy(nil, nil)
	env := Env{
		Log:    quietLog{},
		Policy: policy,
		Server: every(Server{OpenCache: func() Cache { return NoCache{} }, Client: func() (Searcher, error) { return hangingMISP{}, nil }}),
		// Already past, whatever the clock says: the lookup must end at
		// once, with no timing in the test.
		Deadline: time.Unix(1, 0),
	}
	done := make(chan Result, 1)
	go func() {
		res, _ := Run(context.Background(), &cfg, al, env)
		done <- res
	}()
	select {
	case res := <-done:
		if len(res.Events) != 1 || res.Events[0].MISP.Error != string(misp.ClassTimeout) {
			t.Fatalf("events = %+v, want one %s error event", res.Events, misp.ClassTimeout)
		}
	case <-time.After(time.Minute):
		// Only a hung Run gets here: the deadline passed long ago, so the
		// bound is generous on any machine.
		t.Fatal("Run did not return by its deadline")
	}
}
