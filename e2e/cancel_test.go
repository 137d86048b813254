package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/store"
)

func TestCancelParentCancelsChild(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("waiting-child", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return ctx.WaitSignal("never"), nil
		})
		w.RegisterWorkflow("waiting-parent", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return ctx.ExecuteChild("child-1", "waiting-child", nil, sdk.ChildOptions{})
		})
	})
	c := e.client()
	parentID := e.startWF(c, "waiting-parent", nil, q)
	parent := e.waitEvent(c, parentID, "WORKFLOW_SUSPENDED")
	childID := childOf(t, parent, "child-1", "waiting-child", `null`)
	e.waitEvent(c, childID, "WORKFLOW_SUSPENDED")
	waitUntil(t, "both workflows wait", func() bool {
		return e.workflowRow(parentID).Status == store.StatusWaiting && e.workflowRow(childID).Status == store.StatusWaiting
	})

	ctx := ctxT(t)
	if err := e.srv.Engine().CancelWorkflow(ctx, e.tenant.ID, mustUUID(t, parentID), "operator said stop", "test"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the parent is cancelled", func() bool { return e.workflowRow(parentID).Status == store.StatusCancelled })
	waitUntil(t, "the child is cancelled", func() bool { return e.workflowRow(childID).Status == store.StatusCancelled })

	parent = e.events(c, parentID)
	wantCounts(t, parent, map[string]int{"CANCELLATION_REQUESTED": 1, "WORKFLOW_COMPLETED": 0, "WORKFLOW_EXECUTION_FAILED": 0})
	req := first(t, parent, "CANCELLATION_REQUESTED")
	wantField(t, req, "reason", `"operator said stop"`)
	wantField(t, req, "requestedBy", `"test"`)
	if req.Sequence != len(parent) {
		// Nothing ran after the cancellation.
		t.Fatalf("events after CANCELLATION_REQUESTED: %v", types(parent))
	}
	child := e.events(c, childID)
	wantCounts(t, child, map[string]int{"CANCELLATION_REQUESTED": 1, "WORKFLOW_COMPLETED": 0, "SIGNAL_RECEIVED": 0})

	// A cancelled workflow stays cancelled: a signal does not revive it and
	// cancelling again is refused.
	if _, err := c.SignalWorkflow(ctx, childID, "never", 1); err != nil {
		t.Fatalf("signal to a cancelled workflow: %v", err)
	}
	err := e.srv.Engine().CancelWorkflow(ctx, e.tenant.ID, mustUUID(t, parentID), "again", "test")
	if !errors.Is(err, engine.ErrTerminal) {
		t.Fatalf("second cancel: %v, want ErrTerminal", err)
	}
	if got := e.workflowRow(childID).Status; got != store.StatusCancelled {
		t.Fatalf("child %s after a signal", got)
	}
	if got := len(e.events(c, childID)); got != len(child) {
		t.Fatalf("child history grew after cancellation: %v", types(e.events(c, childID)))
	}
	// Another tenant cannot cancel it.
	err = e.srv.Engine().CancelWorkflow(context.Background(), e.other.ID, mustUUID(t, parentID), "x", "y")
	if !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("cancel from another tenant: %v, want ErrNotFound", err)
	}
}

// TestCancelWhileHeld cancels a workflow while a worker holds it: the
// worker's submission no longer applies, the workflow ends CANCELLED and
// its pending task is cancelled with it.
func TestCancelWhileHeld(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.client()
	h := e.handWorker(c, q)
	id := e.startWF(c, "hand", nil, q)
	taskID := uuid.NewString()
	h.poll()
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, cmdScheduleTask(taskID, "never-polled"), cmdSuspend("waiting"))
	if _, err := c.SignalWorkflow(ctxT(t), id, "wake", nil); err != nil {
		t.Fatal(err)
	}
	h.poll() // held
	ctx := ctxT(t)
	if err := e.srv.Engine().CancelWorkflow(ctx, e.tenant.ID, mustUUID(t, id), "stop it", "test"); err != nil {
		t.Fatal(err)
	}
	if s := e.workflowRow(id).Status; s != store.StatusRunning {
		t.Fatalf("status %s while the worker still holds it, want RUNNING until it submits", s)
	}
	wantCounts(t, e.events(c, id), map[string]int{"CANCELLATION_REQUESTED": 1})
	// The worker, unaware, completes the workflow.
	h.submit(id, flovynv1.WorkflowStatus_COMPLETED, cmdComplete(`"finished anyway"`))
	if s := e.workflowRow(id).Status; s != store.StatusCancelled {
		t.Fatalf("status %s after the held task ended, want CANCELLED", s)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"CANCELLATION_REQUESTED": 1, "WORKFLOW_COMPLETED": 0, "WORKFLOW_EXECUTION_FAILED": 0})
	var status string
	if err := e.srv.Store().Pool().QueryRow(ctx, `SELECT status FROM tasks WHERE id = $1`, taskID).Scan(&status); err != nil || status != "CANCELLED" {
		t.Fatalf("task %s (%v), want CANCELLED", status, err)
	}
	_, task, _, _ := raw(c)
	r, err := task.PollTask(ctx, &flovynv1.PollTaskRequest{WorkerId: h.id, Queue: q})
	if err != nil || r.Task != nil {
		t.Fatalf("poll after cancel: %v, %v; want no task", r.GetTask(), err)
	}
	// A late result for the cancelled task is accepted and changes nothing.
	if _, err := task.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: taskID, Output: []byte(`1`)}); err != nil {
		t.Fatalf("late CompleteTask: %v", err)
	}
	if after := e.events(c, id); len(after) != len(evs) {
		t.Fatalf("history changed after cancellation: %v -> %v", types(evs), types(after))
	}
}

// TestCancelChildFailsItInParent cancels only the child: the waiting parent
// is told through CHILD_WORKFLOW_FAILED (which every SDK understands) and
// carries on.
func TestCancelChildFailsItInParent(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("waiting-child", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return ctx.WaitSignal("never"), nil
		})
		w.RegisterWorkflow("tolerant-parent", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			_, err := ctx.ExecuteChild("child-1", "waiting-child", nil, sdk.ChildOptions{})
			failed, ok := asErr[*sdk.ChildWorkflowFailedError](err)
			if !ok {
				return nil, errors.New("want a ChildWorkflowFailedError")
			}
			return failed.Message, nil
		})
	})
	c := e.client()
	parentID := e.startWF(c, "tolerant-parent", nil, q)
	childID := childOf(t, e.waitEvent(c, parentID, "WORKFLOW_SUSPENDED"), "child-1", "waiting-child", `null`)
	e.waitEvent(c, childID, "WORKFLOW_SUSPENDED")
	if err := e.srv.Engine().CancelWorkflow(ctxT(t), e.tenant.ID, mustUUID(t, childID), "no longer needed", "test"); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := e.wait(c, parentID, &out); err != nil || !strings.Contains(out, "no longer needed") {
		t.Fatalf("parent result %q, %v; want the cancellation reason", out, err)
	}
	if s := e.workflowRow(childID).Status; s != store.StatusCancelled {
		t.Fatalf("child %s", s)
	}
	evs := e.events(c, parentID)
	wantCounts(t, evs, map[string]int{"CHILD_WORKFLOW_FAILED": 1, "CHILD_WORKFLOW_COMPLETED": 0, "WORKFLOW_COMPLETED": 1})
	failed := first(t, evs, "CHILD_WORKFLOW_FAILED")
	if str(t, failed, "childExecutionName") != "child-1" || str(t, failed, "childExecutionId") != childID ||
		!strings.Contains(str(t, failed, "error"), "no longer needed") {
		t.Fatalf("CHILD_WORKFLOW_FAILED %s", failed.Data)
	}
}
