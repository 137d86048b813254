package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

// sdkID is the id the SDKs give the n-th task or child of an execution
// (contract §4.3): anyone who knows the execution id can compute it.
func sdkID(exec string, n int) string {
	ns := uuid.MustParse(exec)
	return uuid.NewSHA1(ns, fmt.Appendf(nil, "%s:%d", exec, n)).String()
}

// squat starts a workflow of the tenant c acts for and, holding its
// workflow task, submits a task and a child under the given ids.
func squat(t *testing.T, c *sdk.Client, q, taskID, childID string) error {
	t.Helper()
	ctx := ctxT(t)
	wf, _, _, _ := raw(c)
	started, err := wf.StartWorkflow(ctx, &flovynv1.StartWorkflowRequest{WorkflowKind: "squatter", Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	poll, err := wf.PollWorkflow(ctx, &flovynv1.PollRequest{WorkerId: "squatter", Queue: q})
	if err != nil || poll.WorkflowExecution == nil || poll.WorkflowExecution.Id != started.WorkflowExecutionId {
		t.Fatalf("squatter's poll: %v, %v", poll, err)
	}
	childKind := "victim-child"
	var cmds []*flovynv1.WorkflowCommand
	if taskID != "" {
		cmds = append(cmds, &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_SCHEDULE_TASK,
			CommandData: &flovynv1.WorkflowCommand_ScheduleTask{ScheduleTask: &flovynv1.ScheduleTaskCommand{
				TaskExecutionId: taskID, Kind: "victim-task", Input: []byte(`"squatted"`)}}})
	}
	if childID != "" {
		cmds = append(cmds, &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_SCHEDULE_CHILD_WORKFLOW,
			CommandData: &flovynv1.WorkflowCommand_ScheduleChildWorkflow{ScheduleChildWorkflow: &flovynv1.ScheduleChildWorkflowCommand{
				ChildExecutionName: "kid", WorkflowKind: &childKind, ChildWorkflowExecutionId: childID, Input: []byte(`"squatted"`)}}})
	}
	_, err = wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
		WorkflowExecutionId: started.WorkflowExecutionId, Status: flovynv1.WorkflowStatus_SUSPENDED, Commands: cmds,
	})
	return err
}

// A tenant that knows another tenant's execution id can compute the ids
// the SDK will give its task and child, and create them first in its own
// workflow. The victim must not notice: its task and child run as its own.
func TestIDsOfAnotherTenantAreNoBackDoor(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("victim", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			if _, err := ctx.Promise("go", sdk.PromiseOptions{}).Raw(); err != nil {
				return nil, err
			}
			var task, child string
			if err := ctx.ScheduleTask("victim-task", "mine", sdk.TaskOptions{}).Get(&task); err != nil {
				return nil, err
			}
			if err := ctx.ScheduleChild("kid", "victim-child", "mine", sdk.ChildOptions{}).Get(&child); err != nil {
				return nil, err
			}
			return task + "+" + child, nil
		})
		w.RegisterWorkflow("victim-child", func(ctx *sdk.WorkflowContext, in json.RawMessage) (any, error) {
			s, err := sdk.Decode[string](in)
			return "child(" + s + ")", err
		})
		w.RegisterTask("victim-task", func(ctx *sdk.TaskContext, in json.RawMessage) (any, error) {
			s, err := sdk.Decode[string](in)
			return "task(" + s + ")", err
		})
	})
	c := e.client()
	id := e.startWF(c, "victim", nil, q)
	e.waitEvent(c, id, "PROMISE_CREATED")

	// The other tenant takes the ids on the same queue name.
	attacker := e.clientWith(e.otherKey, e.other.ID.String())
	if err := squat(t, attacker, q, sdkID(id, 0), sdkID(id, 1)); err != nil {
		t.Fatalf("the other tenant's own submission: %v", err)
	}

	if err := c.ResolvePromise(ctxT(t), id+":go", true); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := e.wait(c, id, &out); err != nil || out != "task(mine)+child(mine)" {
		t.Fatalf("victim's result %q, %v", out, err)
	}
	evs := e.events(c, id)
	if got := str(t, first(t, evs, "TASK_SCHEDULED"), "taskExecutionId"); got != sdkID(id, 0) {
		t.Fatalf("victim's task id %s, want the SDK's %s", got, sdkID(id, 0))
	}
	if got := childOf(t, evs, "kid", "victim-child", `"mine"`); got != sdkID(id, 1) {
		t.Fatalf("victim's child id %s, want the SDK's %s", got, sdkID(id, 1))
	}
}

// Within one tenant an id that belongs to another workflow's task or child
// is refused with the field named, never taken as a replay.
func TestIDOfAnotherWorkflowIsRefused(t *testing.T) {
	e := start(t)
	c := e.client()
	taskID, childID := uuid.NewString(), uuid.NewString()
	if err := squat(t, c, queue(t), taskID, childID); err != nil {
		t.Fatal(err)
	}
	err := squat(t, c, queue(t), taskID, "")
	wantCode(t, "a task id of another workflow", err, codes.InvalidArgument)
	if !strings.Contains(err.Error(), "schedule_task.task_execution_id") {
		t.Fatalf("error %v does not name the field", err)
	}
	err = squat(t, c, queue(t), "", childID)
	wantCode(t, "a child id of another workflow", err, codes.InvalidArgument)
	if !strings.Contains(err.Error(), "schedule_child_workflow.child_workflow_execution_id") {
		t.Fatalf("error %v does not name the field", err)
	}
}
