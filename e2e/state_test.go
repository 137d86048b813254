package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

func TestWorkflowStateSetGetClear(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("double", doubleTask)
		w.RegisterWorkflow("stateful", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			type counter struct {
				N    int      `json:"n"`
				Tags []string `json:"tags"`
			}
			if err := ctx.SetState("counter", counter{N: 1, Tags: []string{"a", "b"}}); err != nil {
				return nil, err
			}
			if err := ctx.SetState("temp", "scratch"); err != nil {
				return nil, err
			}
			var got counter
			if ok, err := ctx.GetState("counter", &got); !ok || err != nil || got.N != 1 {
				return nil, fmt.Errorf("GetState before the task: %+v %v %v", got, ok, err)
			}
			// Suspend: the rest runs in a later workflow task, replaying the
			// state calls above from history.
			doubled, err := sdk.ExecuteTask[echo](ctx, "double", echo{Value: got.N}, sdk.TaskOptions{})
			if err != nil {
				return nil, err
			}
			if err := ctx.SetState("counter", counter{N: doubled.Value, Tags: got.Tags}); err != nil {
				return nil, err
			}
			if err := ctx.ClearState("temp"); err != nil {
				return nil, err
			}
			var after counter
			ok, err := ctx.GetState("counter", &after)
			if err != nil {
				return nil, err
			}
			tempFound, err := ctx.GetState("temp", new(string))
			return map[string]any{"found": ok, "counter": after, "keys": ctx.StateKeys(), "tempFound": tempFound}, err
		})
	})
	c := e.client()
	var out struct {
		Found   bool `json:"found"`
		Counter struct {
			N    int      `json:"n"`
			Tags []string `json:"tags"`
		} `json:"counter"`
		Keys      []string `json:"keys"`
		TempFound bool     `json:"tempFound"`
	}
	id, err := e.run(c, "stateful", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Found || out.Counter.N != 2 || !slices.Equal(out.Counter.Tags, []string{"a", "b"}) || !slices.Equal(out.Keys, []string{"counter"}) || out.TempFound {
		t.Fatalf("output %+v", out)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "STATE_SET", "STATE_SET", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED",
		"TASK_COMPLETED", "STATE_SET", "STATE_CLEARED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	sets := all(evs, "STATE_SET")
	for i, w := range []struct{ key, value string }{
		{"counter", `{"n":1,"tags":["a","b"]}`}, {"temp", `"scratch"`}, {"counter", `{"n":2,"tags":["a","b"]}`},
	} {
		if str(t, sets[i], "key") != w.key {
			t.Fatalf("STATE_SET %d: %s, want key %s", i, sets[i].Data, w.key)
		}
		wantField(t, sets[i], "value", w.value)
	}
	if str(t, first(t, evs, "STATE_CLEARED"), "key") != "temp" {
		t.Fatalf("STATE_CLEARED %s", first(t, evs, "STATE_CLEARED").Data)
	}
	// The server's view of the state after the workflow: counter set, temp gone.
	var counter map[string]any
	if err := c.Query(ctxT(t), id, "counter", &counter); err != nil || counter["n"] != float64(2) {
		t.Fatalf("query counter: %v, %v", counter, err)
	}
	_, _, _, query := raw(c)
	_, err = query.QueryWorkflow(ctxT(t), &flovynv1.QueryWorkflowRequest{WorkflowExecutionId: id, QueryName: "temp"})
	wantCode(t, "query of a cleared key", err, codes.InvalidArgument)
}

func TestQueryWorkflowAnswersFromState(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("queryable", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			if err := ctx.SetState("status", map[string]any{"phase": "waiting-for-approval", "step": 1}); err != nil {
				return nil, err
			}
			approval := ctx.WaitSignal("approve")
			if err := ctx.SetState("status", map[string]any{"phase": "done", "step": 2, "approval": approval}); err != nil {
				return nil, err
			}
			return "ok", nil
		})
	})
	c := e.client()
	id := e.startWF(c, "queryable", nil, q)
	e.waitEvent(c, id, "WORKFLOW_SUSPENDED")

	var status map[string]any
	if err := c.Query(ctxT(t), id, "status", &status); err != nil {
		t.Fatal(err)
	}
	if status["phase"] != "waiting-for-approval" || status["step"] != float64(1) {
		t.Fatalf("status while waiting: %v", status)
	}
	_, _, _, query := raw(c)
	_, err := query.QueryWorkflow(ctxT(t), &flovynv1.QueryWorkflowRequest{WorkflowExecutionId: id, QueryName: "no-such-key"})
	wantCode(t, "query of an unknown key", err, codes.InvalidArgument)
	_, err = query.QueryWorkflow(ctxT(t), &flovynv1.QueryWorkflowRequest{WorkflowExecutionId: id})
	wantCode(t, "query without a name", err, codes.InvalidArgument)

	if _, err := c.SignalWorkflow(ctxT(t), id, "approve", "yes"); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := e.wait(c, id, &out); err != nil || out != "ok" {
		t.Fatalf("result %q, %v", out, err)
	}
	status = nil
	if err := c.Query(ctxT(t), id, "status", &status); err != nil {
		t.Fatal(err)
	}
	if status["phase"] != "done" || status["approval"] != "yes" {
		t.Fatalf("status after completion: %v", status)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"STATE_SET": 2, "SIGNAL_RECEIVED": 1, "WORKFLOW_COMPLETED": 1})
}
