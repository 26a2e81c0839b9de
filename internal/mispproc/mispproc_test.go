package mispproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// helper writes a stand-in for custom-misp-net: a shell script that
// checks it was called as "search", saves the request (one line: stdin
// stays open, so it cannot read to EOF) and prints answer.
func helper(t *testing.T, answer string) (path, request string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, Program)
	request = filepath.Join(dir, "request.json")
	script := "#!/bin/sh\n[ \"$1\" = search ] || exit 9\nhead -n 1 > " + request + "\n" + answer + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, request
}

func TestSearch_RoundTrip(t *testing.T) {
	path, reqFile := helper(t, `echo '{"attributes":[{"id":"7","value":"evil.example","to_ids":true,"Event":{"id":"3","threat_level_id":"1"}}]}'`)
	s := &Searcher{Path: path, Client: Client{BaseURL: "https://misp.example.org", APIKey: "SECRETKEY", Timeout: time.Second}}
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	q := misp.Query{Values: []string{"evil.example"}, Types: []string{"domain"}}
	got, err := s.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []misp.Attribute{{ID: "7", Value: "evil.example", ToIDs: true, Event: misp.Event{ID: "3", ThreatLevelID: "1"}}}
	if diff := cmp.Diff(want, got.Attributes); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	line, err := os.ReadFile(reqFile)
	if err != nil {
		t.Fatal(err)
	}
	// The key travels on the pipe, with the query and the run's deadline,
	// as one JSON line.
	var req Request
	if err := json.Unmarshal(line, &req); err != nil || !bytes.HasSuffix(line, []byte("}\n")) {
		t.Fatalf("request %q is not one JSON line: %v", line, err)
	}
	wantReq := Request{Client: s.Client, Query: q, Deadline: deadline}
	if diff := cmp.Diff(wantReq, req); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

// TestSearch_SkippedAttributes: the helper's count of attributes it could
// not read crosses the pipe with the answer (enrich logs it and decides
// what to cache).
func TestSearch_SkippedAttributes(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		want   misp.Skipped
	}{
		{"none skipped", `{"attributes":[{"id":"9","value":"evil.example"}]}`, misp.Skipped{}},
		{"two skipped", `{"attributes":[{"id":"9","value":"evil.example"}],"skipped":{"count":2,"fields":["Event.info","Tag"]}}`,
			misp.Skipped{Count: 2, Fields: []string{"Event.info", "Tag"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := helper(t, "echo '"+tt.answer+"'")
			got, err := (&Searcher{Path: path}).Search(context.Background(), misp.Query{Values: []string{"evil.example"}})
			if err != nil || len(got.Attributes) != 1 || got.Attributes[0].ID != "9" {
				t.Fatalf("got %v, %v; want attribute 9", got, err)
			}
			if diff := cmp.Diff(tt.want, got.Skipped, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearch_Failures(t *testing.T) {
	reset := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		answer string
		want   misp.Error
		substr string
	}{
		{"misp error passes through", `echo '{"error":{"class":"rate_limited","status":429,"message":"Rate limit exceeded.","reset":"2026-11-27T18:00:00Z"}}'`,
			misp.Error{Class: misp.ClassRateLimited, Status: 429, Message: "Rate limit exceeded.", Reset: reset}, ""},
		{"unreadable answer", `echo 'not json'`, misp.Error{Class: misp.ClassConfig}, "gave an unreadable answer"},
		{"null is not no match", `echo 'null'`, misp.Error{Class: misp.ClassConfig}, "gave an unreadable answer: not a JSON object"},
		{"crash without answer", `exit 3`, misp.Error{Class: misp.ClassConfig}, "exited with status 3 without an answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := helper(t, tt.answer)
			_, err := (&Searcher{Path: path}).Search(context.Background(), misp.Query{Values: []string{"x.example"}})
			var me *misp.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a *misp.Error", err)
			}
			if tt.substr != "" {
				if !strings.Contains(me.Message, tt.substr) || me.Class != tt.want.Class {
					t.Errorf("got %s %q, want %s containing %q", me.Class, me.Message, tt.want.Class, tt.substr)
				}
			} else if diff := cmp.Diff(tt.want, *me); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSearch_DeadlineKillsHelper: a helper that does not answer is killed
// at the run's deadline, and the run gets a timeout.
func TestSearch_DeadlineKillsHelper(t *testing.T) {
	// The helper would sleep 120 s. The bound is 30 s: a hundred times the
	// 300 ms deadline, generous for a loaded machine, and still a quarter
	// of the helper's sleep, so passing means it was killed, not waited for.
	const deadline, bound = 300 * time.Millisecond, 30 * time.Second
	path, _ := helper(t, "exec sleep 120") // exec: the kill reaches the sleep itself
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err := (&Searcher{Path: path}).Search(ctx, misp.Query{Values: []string{"x.example"}})
	took := time.Since(start)
	want := &misp.Error{Class: misp.ClassTimeout, Message: "deadline exceeded before MISP answered"}
	if diff := cmp.Diff(want, err); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if took > bound {
		t.Errorf("took %s: the helper was not killed at the %s deadline", took, deadline)
	}
}

func TestSearch_HelperMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), Program)
	_, err := (&Searcher{Path: path}).Search(context.Background(), misp.Query{Values: []string{"x.example"}})
	want := Program + " not found at " + path + ": install it next to custom-misp (make install)"
	var me *misp.Error
	if !errors.As(err, &me) || me.Class != misp.ClassConfig || me.Message != want {
		t.Errorf("got %v, want config error %q", err, want)
	}
}

func TestAddSightings_RoundTrip(t *testing.T) {
	path, reqFile := helper(t, `echo '{"sightings":{"added":2,"requests":1}}'`)
	s := &Searcher{Path: path, Client: Client{BaseURL: "https://misp.example.org", APIKey: "SECRETKEY", Timeout: time.Second}}
	in := []misp.Sighting{
		{AttributeUUID: "81e779f5-a80b-429c-94a9-51de7291b663", Source: "wazuh", Timestamp: 1796500000},
		{Value: "evil.example", Type: misp.FalsePositive},
	}
	got, err := s.AddSightings(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if want := (misp.SightingResult{Added: 2, Requests: 1}); !cmp.Equal(got, want) {
		t.Errorf("result = %+v, want %+v", got, want)
	}
	line, err := os.ReadFile(reqFile)
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, req.Sightings); diff != "" || len(req.Query.Values) != 0 {
		t.Errorf("sightings sent (-want +got):\n%s\nquery %+v", diff, req.Query)
	}
}

// A failure part way keeps what MISP did before it, and its class.
func TestAddSightings_Failure(t *testing.T) {
	path, _ := helper(t, `echo '{"sightings":{"added":0,"requests":1},"error":{"class":"forbidden","status":403,"message":"no perm_sighting"}}'`)
	s := &Searcher{Path: path, Client: Client{BaseURL: "https://misp.example.org", APIKey: "SECRETKEY"}}
	got, err := s.AddSightings(context.Background(), []misp.Sighting{{AttributeUUID: "81e779f5-a80b-429c-94a9-51de7291b663"}})
	var me *misp.Error
	if !errors.As(err, &me) || me.Class != misp.ClassForbidden || me.Status != 403 {
		t.Fatalf("error = %v, want class forbidden, status 403", err)
	}
	if got.Requests != 1 {
		t.Errorf("result = %+v, want 1 request", got)
	}
}

// No sightings: no helper is started.
func TestAddSightings_NoneNoHelper(t *testing.T) {
	s := &Searcher{Path: filepath.Join(t.TempDir(), "missing")}
	if got, err := s.AddSightings(context.Background(), nil); err != nil || got.Requests != 0 {
		t.Errorf("AddSightings(nil) = %+v, %v", got, err)
	}
}
