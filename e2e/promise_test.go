package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/sdk"
)

// promiseWorker runs a workflow that waits on the promise "user-approval"
// and reports how it was settled.
func promiseWorker(e *env, q string, timeout time.Duration) {
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("promise-wf", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			v, err := ctx.Promise("user-approval", sdk.PromiseOptions{Timeout: timeout}).Raw()
			if rejected, ok := asErr[*sdk.PromiseRejectedError](err); ok {
				return map[string]any{"outcome": "rejected", "error": rejected.Message}, nil
			}
			if _, ok := asErr[*sdk.PromiseTimeoutError](err); ok {
				return map[string]any{"outcome": "timeout", "error": err.Error()}, nil
			}
			if err != nil {
				return nil, err
			}
			return map[string]any{"outcome": "resolved", "value": v}, nil
		})
	})
}

type promiseOutcome struct {
	Outcome string          `json:"outcome"`
	Value   json.RawMessage `json:"value"`
	Error   string          `json:"error"`
}

// createdPromise waits for the workflow to create its promise and returns
// the PROMISE_CREATED event and the id a client finds for it.
func (e *env) createdPromise(c *sdk.Client, id string) (sdk.Event, string) {
	e.t.Helper()
	e.waitEvent(c, id, "WORKFLOW_SUSPENDED")
	evs := e.events(c, id)
	created := first(e.t, evs, "PROMISE_CREATED")
	if str(e.t, created, "promiseName") != "user-approval" {
		e.t.Fatalf("PROMISE_CREATED %s", created.Data)
	}
	pid, err := c.PromiseID(ctxT(e.t), id, "user-approval")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := uuid.Parse(pid); err != nil || pid != str(e.t, created, "promiseId") {
		e.t.Fatalf("promise id %q (%v); PROMISE_CREATED %s", pid, err, created.Data)
	}
	return created, pid
}

func TestPromiseResolve(t *testing.T) {
	e := start(t)
	q := queue(t)
	promiseWorker(e, q, 0)
	c := e.client()
	id := e.startWF(c, "promise-wf", nil, q)
	_, pid := e.createdPromise(c, id)
	value := `{"approved":true,"approver":"admin@example.com"}`
	if err := c.ResolvePromise(ctxT(t), pid, json.RawMessage(value)); err != nil {
		t.Fatal(err)
	}
	var out promiseOutcome
	if err := e.wait(c, id, &out); err != nil {
		t.Fatal(err)
	}
	if out.Outcome != "resolved" || !jsonEq(out.Value, []byte(value)) {
		t.Fatalf("outcome %+v", out)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "PROMISE_CREATED", "WORKFLOW_SUSPENDED", "PROMISE_RESOLVED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if str(t, evs[3], "promiseId") != pid {
		t.Fatalf("PROMISE_RESOLVED %s, want promiseId %s", evs[3].Data, pid)
	}
	wantField(t, evs[3], "value", value)
	// Settling again is accepted and changes nothing: the first outcome stands.
	if err := c.RejectPromise(ctxT(t), pid, "too late"); err != nil {
		t.Fatalf("second settle: %v", err)
	}
	if got := types(e.events(c, id)); !slices.Equal(got, want) {
		t.Fatalf("history after a late reject %v", got)
	}
}

func TestPromiseReject(t *testing.T) {
	e := start(t)
	q := queue(t)
	promiseWorker(e, q, 0)
	c := e.client()
	id := e.startWF(c, "promise-wf", nil, q)
	_, pid := e.createdPromise(c, id)
	if err := c.RejectPromise(ctxT(t), pid, "Request denied by admin"); err != nil {
		t.Fatal(err)
	}
	var out promiseOutcome
	if err := e.wait(c, id, &out); err != nil {
		t.Fatal(err)
	}
	if out.Outcome != "rejected" || out.Error != "Request denied by admin" {
		t.Fatalf("outcome %+v", out)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"PROMISE_CREATED": 1, "PROMISE_REJECTED": 1, "PROMISE_RESOLVED": 0, "WORKFLOW_COMPLETED": 1})
	rejected := first(t, evs, "PROMISE_REJECTED")
	wantField(t, rejected, "error", `"Request denied by admin"`)
	wantField(t, rejected, "promiseId", `"`+pid+`"`)
	wantField(t, rejected, "promiseName", `"user-approval"`)
}

func TestPromiseTimeout(t *testing.T) {
	e := start(t)
	q := queue(t)
	promiseWorker(e, q, 300*time.Millisecond)
	c := e.client()
	id := e.startWF(c, "promise-wf", nil, q)
	var out promiseOutcome
	if err := e.wait(c, id, &out); err != nil {
		t.Fatal(err)
	}
	if out.Outcome != "timeout" || out.Error != "Promise timeout: user-approval" {
		t.Fatalf("outcome %+v", out)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "PROMISE_CREATED", "WORKFLOW_SUSPENDED", "PROMISE_TIMEOUT", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if num(t, evs[1], "timeoutMs") != 300 {
		t.Fatalf("PROMISE_CREATED %s, want timeoutMs 300", evs[1].Data)
	}
	if str(t, evs[3], "promiseId") != str(t, evs[1], "promiseId") {
		t.Fatalf("PROMISE_TIMEOUT %s does not name PROMISE_CREATED %s", evs[3].Data, evs[1].Data)
	}
	// Resolving after the timeout is accepted and changes nothing.
	if err := c.ResolvePromise(ctxT(t), str(t, evs[1], "promiseId"), true); err != nil {
		t.Fatalf("late resolve: %v", err)
	}
	if got := types(e.events(c, id)); !slices.Equal(got, want) {
		t.Fatalf("history after a late resolve %v", got)
	}
}

func TestPromiseResolveByWorkflowAndName(t *testing.T) {
	e := start(t)
	q := queue(t)
	promiseWorker(e, q, 0)
	c := e.client()
	for i, sep := range []string{":", "/"} {
		id := e.startWF(c, "promise-wf", nil, q)
		_, pid := e.createdPromise(c, id)
		value := fmt.Sprintf(`{"form":%d}`, i)
		if err := c.ResolvePromise(ctxT(t), id+sep+"user-approval", json.RawMessage(value)); err != nil {
			t.Fatalf("resolve by %q form: %v", sep, err)
		}
		var out promiseOutcome
		if err := e.wait(c, id, &out); err != nil {
			t.Fatal(err)
		}
		if out.Outcome != "resolved" || !jsonEq(out.Value, []byte(value)) {
			t.Fatalf("%q form: outcome %+v", sep, out)
		}
		resolved := first(t, e.events(c, id), "PROMISE_RESOLVED")
		if str(t, resolved, "promiseId") != pid {
			t.Fatalf("PROMISE_RESOLVED %s, want promiseId %s", resolved.Data, pid)
		}
	}
}
