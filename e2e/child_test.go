package e2e

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/flovyn/flovyn/sdk"
)

func registerChildKinds(w *sdk.Worker) {
	w.RegisterWorkflow("child-double", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
		in, err := sdk.Decode[echo](input)
		return echo{Value: in.Value * 2}, err
	})
	w.RegisterWorkflow("child-fails", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
		return nil, errors.New("child exploded: code XYZ-123")
	})
	w.RegisterWorkflow("parent", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
		in, err := sdk.Decode[echo](input)
		if err != nil {
			return nil, err
		}
		return sdk.ExecuteChild[echo](ctx, "child-1", "child-double", in, sdk.ChildOptions{})
	})
	w.RegisterWorkflow("grandparent", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
		in, err := sdk.Decode[echo](input)
		if err != nil {
			return nil, err
		}
		return sdk.ExecuteChild[echo](ctx, "parent-1", "parent", in, sdk.ChildOptions{})
	})
	w.RegisterWorkflow("parent-of-failing", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
		_, err := ctx.ExecuteChild("bad-child", "child-fails", nil, sdk.ChildOptions{})
		failed, ok := asErr[*sdk.ChildWorkflowFailedError](err)
		if !ok {
			return nil, errors.New("want a ChildWorkflowFailedError")
		}
		return map[string]any{"childSucceeded": false, "childError": failed.Message, "childId": failed.ExecutionID}, nil
	})
}

// childOf checks a parent's CHILD_WORKFLOW_INITIATED and returns the child's id.
func childOf(t *testing.T, parent []sdk.Event, name, kind, input string) string {
	t.Helper()
	init := first(t, parent, "CHILD_WORKFLOW_INITIATED")
	if str(t, init, "childExecutionName") != name || str(t, init, "childWorkflowKind") != kind {
		t.Fatalf("CHILD_WORKFLOW_INITIATED %s, want %s/%s", init.Data, name, kind)
	}
	wantField(t, init, "input", input)
	id := str(t, init, "childExecutionId")
	mustUUID(t, id)
	return id
}

func TestChildWorkflowSuccess(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, registerChildKinds)
	c := e.client()
	var out echo
	id, err := e.run(c, "parent", echo{Value: 21}, q, &out)
	if err != nil || out.Value != 42 {
		t.Fatalf("result %+v, %v", out, err)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"CHILD_WORKFLOW_INITIATED": 1, "CHILD_WORKFLOW_COMPLETED": 1,
		"CHILD_WORKFLOW_FAILED": 0, "WORKFLOW_COMPLETED": 1})
	childID := childOf(t, evs, "child-1", "child-double", `{"value":21}`)
	done := first(t, evs, "CHILD_WORKFLOW_COMPLETED")
	if str(t, done, "childExecutionName") != "child-1" || str(t, done, "childExecutionId") != childID {
		t.Fatalf("CHILD_WORKFLOW_COMPLETED %s", done.Data)
	}
	wantField(t, done, "output", `{"value":42}`)

	// The child is an execution of its own, on the parent's queue.
	child := e.events(c, childID)
	if got, want := types(child), []string{"WORKFLOW_STARTED", "WORKFLOW_COMPLETED"}; !slices.Equal(got, want) {
		t.Fatalf("child history %v, want %v", got, want)
	}
	wantField(t, child[0], "queue", `"`+q+`"`)
	wantField(t, child[0], "input", `{"value":21}`)
	wantField(t, child[1], "output", `{"value":42}`)
}

func TestChildWorkflowFailure(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, registerChildKinds)
	c := e.client()
	var out struct {
		ChildSucceeded bool   `json:"childSucceeded"`
		ChildError     string `json:"childError"`
		ChildID        string `json:"childId"`
	}
	id, err := e.run(c, "parent-of-failing", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.ChildSucceeded || !strings.Contains(out.ChildError, "child exploded: code XYZ-123") {
		t.Fatalf("parent saw %+v", out)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"CHILD_WORKFLOW_FAILED": 1, "CHILD_WORKFLOW_COMPLETED": 0, "WORKFLOW_COMPLETED": 1})
	childID := childOf(t, evs, "bad-child", "child-fails", `null`)
	failed := first(t, evs, "CHILD_WORKFLOW_FAILED")
	if str(t, failed, "childExecutionName") != "bad-child" || str(t, failed, "childExecutionId") != childID ||
		str(t, failed, "childworkflowExecutionId") != childID || out.ChildID != childID {
		t.Fatalf("CHILD_WORKFLOW_FAILED %s, child %s, parent saw %s", failed.Data, childID, out.ChildID)
	}
	if !strings.Contains(str(t, failed, "error"), "child exploded: code XYZ-123") {
		t.Fatalf("CHILD_WORKFLOW_FAILED error: %s", failed.Data)
	}
	child := e.events(c, childID)
	wantCounts(t, child, map[string]int{"WORKFLOW_EXECUTION_FAILED": 1, "WORKFLOW_COMPLETED": 0})
	if !strings.Contains(str(t, first(t, child, "WORKFLOW_EXECUTION_FAILED"), "error"), "XYZ-123") {
		t.Fatalf("child failure %s", first(t, child, "WORKFLOW_EXECUTION_FAILED").Data)
	}
}

func TestNestedChildWorkflows(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, registerChildKinds)
	c := e.client()
	var out echo
	id, err := e.run(c, "grandparent", echo{Value: 10}, q, &out)
	if err != nil || out.Value != 20 {
		t.Fatalf("result %+v, %v", out, err)
	}
	grand := e.events(c, id)
	parentID := childOf(t, grand, "parent-1", "parent", `{"value":10}`)
	wantField(t, first(t, grand, "CHILD_WORKFLOW_COMPLETED"), "output", `{"value":20}`)
	parent := e.events(c, parentID)
	childID := childOf(t, parent, "child-1", "child-double", `{"value":10}`)
	wantField(t, first(t, parent, "CHILD_WORKFLOW_COMPLETED"), "output", `{"value":20}`)
	wantField(t, first(t, parent, "WORKFLOW_COMPLETED"), "output", `{"value":20}`)
	child := e.events(c, childID)
	wantField(t, first(t, child, "WORKFLOW_COMPLETED"), "output", `{"value":20}`)
	for _, h := range [][]sdk.Event{grand, parent, child} {
		wantCounts(t, h, map[string]int{"WORKFLOW_STARTED": 1, "WORKFLOW_COMPLETED": 1})
	}
	if len(uniq(id, parentID, childID)) != 3 {
		t.Fatalf("executions %s %s %s are not distinct", id, parentID, childID)
	}
}

func uniq(ss ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}
