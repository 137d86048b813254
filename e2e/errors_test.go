package e2e

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/store"
)

func TestWorkflowErrorMessagePreserved(t *testing.T) {
	e := start(t)
	q := queue(t)
	const msg = "Intentional test failure with code XYZ-123: ünïcode & \"quotes\""
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("failing", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return nil, errors.New(msg)
		})
	})
	c := e.client()
	id, err := e.run(c, "failing", map[string]int{"n": 1}, q, nil)
	failed, ok := asErr[*sdk.WorkflowFailedError](err)
	if !ok || failed.Message != msg || failed.ExecutionID != id {
		t.Fatalf("err %v, want a failure of %s with %q", err, id, msg)
	}
	evs := e.events(c, id)
	if got, want := types(evs), []string{"WORKFLOW_STARTED", "WORKFLOW_EXECUTION_FAILED"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	wantField(t, evs[1], "error", mustJSON(t, msg))
	wantField(t, evs[1], "failureType", `"ERROR"`)
	if w := e.workflowRow(id); w.Status != store.StatusFailed {
		t.Fatalf("status %s, want FAILED", w.Status)
	}
	// A failed workflow is not retried: it stays failed with one terminal event.
	time.Sleep(300 * time.Millisecond)
	if got := types(e.events(c, id)); len(got) != 2 {
		t.Fatalf("history grew after the failure: %v", got)
	}
}

func TestUnknownWorkflowIsNotFound(t *testing.T) {
	e := start(t)
	c := e.client()
	ctx := ctxT(t)
	unknown := uuid.NewString()
	_, err := c.Events(ctx, unknown)
	wantCode(t, "GetEvents of an unknown id", err, codes.NotFound)
	_, err = c.SignalWorkflow(ctx, unknown, "hello", 1)
	wantCode(t, "SignalWorkflow of an unknown id", err, codes.NotFound)
	err = c.Query(ctx, unknown, "status", nil)
	wantCode(t, "QueryWorkflow of an unknown id", err, codes.NotFound)
	err = c.ResolvePromise(ctx, uuid.NewString(), true)
	wantCode(t, "ResolvePromise of an unknown promise", err, codes.NotFound)
	err = c.RejectPromise(ctx, unknown+":approval", "no")
	wantCode(t, "RejectPromise of an unknown workflow:name", err, codes.NotFound)

	wf, task, _, _ := raw(c)
	_, err = wf.GetEvents(ctx, &flovynv1.GetEventsRequest{WorkflowExecutionId: "not-a-uuid"})
	wantCode(t, "GetEvents of a malformed id", err, codes.InvalidArgument)
	_, err = wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
		WorkflowExecutionId: unknown, Status: flovynv1.WorkflowStatus_COMPLETED,
	})
	wantCode(t, "SubmitWorkflowCommands of an unknown id", err, codes.NotFound)
	_, err = task.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: uuid.NewString(), Output: []byte(`1`)})
	wantCode(t, "CompleteTask of an unknown task", err, codes.NotFound)
}

func TestMalformedJSONIsInvalidArgument(t *testing.T) {
	e := start(t)
	c := e.client()
	ctx := ctxT(t)
	wf, _, _, _ := raw(c)
	q := queue(t)
	bad := []byte(`{"value": 1,`)

	check := func(what string, err error, field string) {
		t.Helper()
		wantCode(t, what, err, codes.InvalidArgument)
		if msg := status.Convert(err).Message(); !strings.Contains(msg, field) {
			t.Fatalf("%s: message %q does not name %q", what, msg, field)
		}
	}
	_, err := wf.StartWorkflow(ctx, &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Queue: q, Input: bad})
	check("StartWorkflow with bad input", err, "input")
	_, err = wf.SignalWithStartWorkflow(ctx, &flovynv1.SignalWithStartWorkflowRequest{
		WorkflowId: "bad-input", WorkflowKind: "k", Queue: q, WorkflowInput: bad, SignalName: "s", SignalValue: []byte(`1`),
	})
	check("SignalWithStart with bad input", err, "workflow_input")

	// A workflow, held by a hand-driven worker, to send bad payloads about.
	resp, err := wf.StartWorkflow(ctx, &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Queue: q, Input: []byte(`{"ok":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.WorkflowExecutionId
	_, err = wf.SignalWorkflow(ctx, &flovynv1.SignalWorkflowRequest{WorkflowExecutionId: id, SignalName: "s", SignalValue: bad})
	check("SignalWorkflow with a bad value", err, "signal_value")
	_, err = wf.SignalWithStartWorkflow(ctx, &flovynv1.SignalWithStartWorkflowRequest{
		WorkflowId: "swf", WorkflowKind: "k", Queue: q, WorkflowInput: []byte(`1`), SignalName: "s", SignalValue: bad,
	})
	check("SignalWithStart with a bad signal value", err, "signal_value")

	var held *flovynv1.WorkflowExecution
	waitUntil(t, "the workflow is dispatched", func() bool {
		r, err := wf.PollWorkflow(ctx, &flovynv1.PollRequest{WorkerId: "hand-worker", Queue: q})
		if err != nil {
			t.Fatal(err)
		}
		held = r.WorkflowExecution
		return held != nil
	})
	if held.Id != id || string(held.Input) != `{"ok":true}` || held.Kind != "k" {
		t.Fatalf("dispatched %s %s %s", held.Id, held.Kind, held.Input)
	}
	before := e.events(c, id)
	_, err = wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
		WorkflowExecutionId: id, Status: flovynv1.WorkflowStatus_COMPLETED,
		Commands: []*flovynv1.WorkflowCommand{
			{CommandType: flovynv1.CommandType_SET_STATE, CommandData: &flovynv1.WorkflowCommand_SetState{
				SetState: &flovynv1.SetStateCommand{Key: "k", Value: []byte(`1`)}}},
			{CommandType: flovynv1.CommandType_COMPLETE_WORKFLOW, CommandData: &flovynv1.WorkflowCommand_CompleteWorkflow{
				CompleteWorkflow: &flovynv1.CompleteWorkflowCommand{Output: bad}}},
		},
	})
	check("SubmitWorkflowCommands with a bad output", err, "commands[1].complete_workflow.output")
	// The submission was refused as a whole: nothing of it was applied.
	if after := e.events(c, id); !slices.Equal(types(after), types(before)) {
		t.Fatalf("history changed from %v to %v", types(before), types(after))
	}
	if w := e.workflowRow(id); w.Status != store.StatusRunning {
		t.Fatalf("status %s after a refused submission, want RUNNING", w.Status)
	}
	// The worker still holds the workflow and can submit a valid result.
	_, err = wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
		WorkflowExecutionId: id, Status: flovynv1.WorkflowStatus_COMPLETED,
		Commands: []*flovynv1.WorkflowCommand{
			{CommandType: flovynv1.CommandType_COMPLETE_WORKFLOW, CommandData: &flovynv1.WorkflowCommand_CompleteWorkflow{
				CompleteWorkflow: &flovynv1.CompleteWorkflowCommand{Output: []byte(`{"done":1}`)}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]int
	if err := e.wait(c, id, &out); err != nil || out["done"] != 1 {
		t.Fatalf("result %v, %v", out, err)
	}
	wantCounts(t, e.events(c, id), map[string]int{"STATE_SET": 0, "WORKFLOW_COMPLETED": 1})
}

func TestSubmitForCompletedWorkflowIsRejected(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("echo", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
			return input, nil
		})
	})
	c := e.client()
	id, err := e.run(c, "echo", map[string]string{"v": "original"}, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := e.events(c, id)
	wf, _, _, _ := raw(c)
	ctx := ctxT(t)
	for _, req := range []*flovynv1.SubmitWorkflowCommandsRequest{
		{WorkflowExecutionId: id, Status: flovynv1.WorkflowStatus_COMPLETED, Commands: []*flovynv1.WorkflowCommand{
			{CommandType: flovynv1.CommandType_COMPLETE_WORKFLOW, CommandData: &flovynv1.WorkflowCommand_CompleteWorkflow{
				CompleteWorkflow: &flovynv1.CompleteWorkflowCommand{Output: []byte(`{"v":"overwritten"}`)}}},
		}},
		{WorkflowExecutionId: id, Status: flovynv1.WorkflowStatus_SUSPENDED, Commands: []*flovynv1.WorkflowCommand{
			{CommandType: flovynv1.CommandType_SCHEDULE_TASK, CommandData: &flovynv1.WorkflowCommand_ScheduleTask{
				ScheduleTask: &flovynv1.ScheduleTaskCommand{Kind: "late", TaskExecutionId: uuid.NewString(), Input: []byte(`1`)}}},
		}},
		{WorkflowExecutionId: id, Status: flovynv1.WorkflowStatus_FAILED, Commands: []*flovynv1.WorkflowCommand{
			{CommandType: flovynv1.CommandType_FAIL_WORKFLOW, CommandData: &flovynv1.WorkflowCommand_FailWorkflow{
				FailWorkflow: &flovynv1.FailWorkflowCommand{Error: "late failure"}}},
		}},
	} {
		_, err := wf.SubmitWorkflowCommands(ctx, req)
		if err == nil {
			t.Fatalf("a %s submission for a completed workflow was accepted", req.Status)
		}
		if code := status.Code(err); code != codes.FailedPrecondition {
			t.Fatalf("a %s submission for a completed workflow: %v, want FailedPrecondition", req.Status, err)
		}
	}
	after := e.events(c, id)
	if !slices.Equal(types(after), types(before)) {
		t.Fatalf("history changed from %v to %v", types(before), types(after))
	}
	wantField(t, first(t, after, "WORKFLOW_COMPLETED"), "output", `{"v":"original"}`)
	w := e.workflowRow(id)
	if w.Status != store.StatusCompleted || !jsonEq(w.Output, []byte(`{"v":"original"}`)) {
		t.Fatalf("workflow now %s with output %s", w.Status, w.Output)
	}
	var out map[string]string
	if err := e.wait(c, id, &out); err != nil || out["v"] != "original" {
		t.Fatalf("result %v, %v", out, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
