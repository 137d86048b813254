package cmd_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPromiseCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.worker(workerKey)

	// resolve by <workflow id>:<name>; the workflow completes with the value.
	id := s.startID("await-promise")
	s.waitForEvent(id, "PROMISE_CREATED")
	r := s.ok("promise", "resolve", id+":approval", "--value", `{"approved": true}`)
	if !strings.Contains(r.stdout, "resolved") {
		t.Fatalf("resolve: %s", r)
	}
	s.waitForEvent(id, "WORKFLOW_COMPLETED")
	var w executionDoc
	decode(t, s.ok("workflow", "inspect", id, "-o", "json"), &struct {
		Workflow *executionDoc `json:"workflow"`
	}{&w})
	if !jsonEqual(t, string(w.Output), `{"approval":{"approved":true}}`) {
		t.Fatalf("output after resolve: %s", w.Output)
	}

	// reject by the promiseId of PROMISE_CREATED; the workflow fails with the message.
	id2 := s.startID("await-promise")
	s.waitForEvent(id2, "PROMISE_CREATED")
	var evs struct {
		Events []struct {
			EventType string          `json:"eventType"`
			Data      json.RawMessage `json:"data"`
		} `json:"events"`
	}
	decode(t, s.ok("workflow", "events", id2, "-o", "json"), &evs)
	var promiseID string
	for _, e := range evs.Events {
		if e.EventType == "PROMISE_CREATED" {
			var d struct {
				PromiseID string `json:"promiseId"`
			}
			_ = json.Unmarshal(e.Data, &d)
			promiseID = d.PromiseID
		}
	}
	var outcome struct {
		PromiseID string `json:"promiseId"`
		Status    string `json:"status"`
	}
	decode(t, s.ok("promise", "reject", promiseID, "--error", "not approved", "-o", "json"), &outcome)
	if outcome.PromiseID != promiseID || outcome.Status != "REJECTED" {
		t.Fatalf("reject -o json: %+v", outcome)
	}
	s.waitForEvent(id2, "WORKFLOW_EXECUTION_FAILED")
	if r := s.ok("workflow", "inspect", id2); !strings.Contains(r.stdout, "not approved") {
		t.Fatalf("inspect after reject: %s", r)
	}

	s.fails(2, "--error is required", "promise", "reject", promiseID)
	s.fails(2, "--value: not valid JSON", "promise", "resolve", promiseID, "--value", "yes")
	s.fails(1, "not found", "promise", "resolve", "00000000-0000-4000-8000-000000000000:nothing")
}

// promiseIDOf reads the promiseId of an execution's PROMISE_CREATED.
func promiseIDOf(t *testing.T, s *cliServer, id string) string {
	t.Helper()
	var evs struct {
		Events []struct {
			EventType string          `json:"eventType"`
			Data      json.RawMessage `json:"data"`
		} `json:"events"`
	}
	decode(t, s.ok("workflow", "events", id, "-o", "json"), &evs)
	for _, e := range evs.Events {
		if e.EventType == "PROMISE_CREATED" {
			var d struct {
				PromiseID string `json:"promiseId"`
			}
			_ = json.Unmarshal(e.Data, &d)
			return d.PromiseID
		}
	}
	t.Fatalf("no PROMISE_CREATED in %s", id)
	return ""
}

// Settling a promise that is settled already is refused with the server's
// message (409): "promise <id> is already resolved".
func TestPromiseAlreadySettled(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.worker(workerKey)

	id := s.startID("await-promise")
	s.waitForEvent(id, "PROMISE_CREATED")
	promiseID := promiseIDOf(t, s, id)
	s.ok("promise", "resolve", promiseID, "--value", "1")
	for _, args := range [][]string{
		{"promise", "resolve", promiseID, "--value", "2"},
		{"promise", "reject", promiseID, "--error", "too late"},
	} {
		r := s.fails(1, "is already resolved", args...)
		if !strings.Contains(r.stderr, "promise ") || !strings.Contains(r.stderr, promiseID) {
			t.Fatalf("%v: want the promise named: %s", args, r)
		}
	}
	s.fails(1, "is already resolved", "promise", "resolve", id+":approval")

	id2 := s.startID("await-promise")
	s.waitForEvent(id2, "PROMISE_CREATED")
	s.ok("promise", "reject", id2+":approval", "--error", "no")
	s.fails(1, "is already rejected", "promise", "resolve", id2+":approval")
	s.fails(1, "is already rejected", "promise", "reject", promiseIDOf(t, s, id2), "--error", "again")
}
