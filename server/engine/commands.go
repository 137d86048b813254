package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/store"
)

// firstErr returns the first of errs that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// optionalDuration checks a millisecond count that may be absent.
func optionalDuration(field string, ms *int64) error {
	if ms == nil {
		return nil
	}
	_, err := limits.DurationMs(field, *ms)
	return err
}

// SubmitStatus is the outcome a worker reports with its commands.
type SubmitStatus int

const (
	// SubmitRunning keeps the workflow runnable (never sent by the SDKs).
	SubmitRunning SubmitStatus = iota
	SubmitSuspended
	SubmitCompleted
	SubmitFailed
	SubmitCancelled
)

// Command is one command of a submission. Each applies itself to the
// workflow's history inside the submission's transaction.
type Command interface {
	apply(ctx context.Context, c *submission) error
}

// submission is the state shared by the commands of one submit.
type submission struct {
	e  *Engine
	tx *store.Tx
	fx *effects
	h  *history
}

func (c *submission) wf() *Workflow { return c.h.wf }

// SubmitCommands applies a worker's commands to a workflow it holds, in
// order and all at once, then moves the workflow on according to status.
func (e *Engine) SubmitCommands(ctx context.Context, tenant, id uuid.UUID, status SubmitStatus, cmds []Command) error {
	if status < SubmitRunning || status > SubmitCancelled {
		return invalid("status", "unknown workflow status %d", status)
	}
	return e.changeOrFail(ctx, func(tx *store.Tx, fx *effects) error {
		wf, err := tx.LockWorkflow(ctx, tenant, id)
		if err != nil {
			return err
		}
		if wf.Terminal() {
			return ErrTerminal
		}
		if wf.Status != StatusRunning {
			return ErrNotHeld
		}
		h := &history{wf: &wf}
		if wf.CancelRequested {
			// Cancelled while the worker held it: its commands no longer apply.
			if err := e.finishCancelled(ctx, tx, fx, h, "requested while the workflow task ran"); err != nil {
				return err
			}
			return e.save(ctx, tx, fx, h, true)
		}
		c := &submission{e: e, tx: tx, fx: fx, h: h}
		for i, cmd := range cmds {
			if cmd == nil {
				continue
			}
			if err := cmd.apply(ctx, c); err != nil {
				var inv *InvalidError
				if errors.As(err, &inv) && !strings.HasPrefix(inv.Field, "commands[") {
					return invalid(fmt.Sprintf("commands[%d].%s", i, inv.Field), "%s", inv.Msg)
				}
				return err
			}
			if wf.Terminal() {
				break // nothing after the end counts
			}
		}
		if !wf.Terminal() {
			if err := e.settle(ctx, c, status); err != nil {
				return err
			}
		}
		return e.save(ctx, tx, fx, h, true)
	})
}

// settle applies the reported status when no command ended the workflow.
func (e *Engine) settle(ctx context.Context, c *submission, status SubmitStatus) error {
	wf := c.wf()
	switch status {
	case SubmitCompleted:
		return CompleteWorkflow{Output: json.RawMessage("null")}.apply(ctx, c)
	case SubmitFailed:
		return FailWorkflow{Error: "workflow failed", FailureType: "ERROR"}.apply(ctx, c)
	case SubmitCancelled:
		return CancelWorkflow{Reason: "cancelled by the workflow"}.apply(ctx, c)
	case SubmitSuspended:
		if wf.WakePending {
			// Something woke the workflow while the worker held it.
			wf.Status = StatusPending
			wf.WakePending = false
			wf.TaskTimeMs = store.TaskTimeNow
			c.fx.workflowRunnable(wf)
		} else {
			wf.Status = StatusWaiting
		}
	default:
		wf.Status = StatusPending
		wf.WakePending = false
		c.fx.workflowRunnable(wf)
	}
	return nil
}

// RecordOperation records the result of a side effect run by the workflow.
type RecordOperation struct {
	Name   string
	Result json.RawMessage
}

func (cmd RecordOperation) apply(_ context.Context, c *submission) error {
	if err := firstErr(limits.OptionalName("record_operation.operation_name", cmd.Name),
		c.e.payload("record_operation.result", cmd.Result)); err != nil {
		return err
	}
	c.h.add(EventOperationCompleted, operationData{OperationName: cmd.Name, Name: cmd.Name, Result: cmd.Result})
	return nil
}

// SetState sets a workflow state key.
type SetState struct {
	Key   string
	Value json.RawMessage
}

func (cmd SetState) apply(ctx context.Context, c *submission) error {
	if err := firstErr(limits.Name("set_state.key", cmd.Key), c.e.payload("set_state.value", cmd.Value)); err != nil {
		return err
	}
	c.h.add(EventStateSet, stateSetData{Key: cmd.Key, Value: cmd.Value})
	return c.tx.SetWorkflowState(ctx, c.wf().TenantID, c.wf().ID, cmd.Key, cmd.Value)
}

// ClearState removes a workflow state key.
type ClearState struct{ Key string }

func (cmd ClearState) apply(ctx context.Context, c *submission) error {
	if err := limits.Name("clear_state.key", cmd.Key); err != nil {
		return err
	}
	c.h.add(EventStateCleared, stateClearedData{Key: cmd.Key})
	return c.tx.SetWorkflowState(ctx, c.wf().TenantID, c.wf().ID, cmd.Key, nil)
}

// DefaultMaxRetries is how often a failed task is retried unless told otherwise.
const DefaultMaxRetries = 3

// ScheduleTask schedules a task under the id the client chose.
type ScheduleTask struct {
	ID              uuid.UUID
	Kind            string
	Input           json.RawMessage
	Queue           string
	MaxRetries      *int32
	TimeoutMs       *int64
	PrioritySeconds int32
}

func (cmd ScheduleTask) apply(ctx context.Context, c *submission) error {
	wf := c.wf()
	if cmd.ID == uuid.Nil {
		return invalid("schedule_task.task_execution_id", "required (a UUID chosen by the worker)")
	}
	if err := firstErr(limits.Name("schedule_task.kind", cmd.Kind), limits.OptionalName("schedule_task.queue", cmd.Queue),
		c.e.payload("schedule_task.input", cmd.Input), optionalDuration("schedule_task.timeout_ms", cmd.TimeoutMs)); err != nil {
		return err
	}
	queue := cmd.Queue
	if queue == "" {
		queue = wf.Queue
	}
	retries := int32(DefaultMaxRetries)
	if cmd.MaxRetries != nil {
		if *cmd.MaxRetries < 0 {
			return invalid("schedule_task.max_retries", "must not be negative")
		}
		retries = *cmd.MaxRetries
	}
	task := Task{
		ID: cmd.ID, TenantID: wf.TenantID, WorkflowID: &wf.ID, Kind: cmd.Kind, Queue: queue,
		Input: cmd.Input, MaxRetries: retries, TimeoutMs: cmd.TimeoutMs,
	}
	created, err := c.e.insertTask(ctx, c.tx, c.fx, task, cmd.PrioritySeconds)
	if err != nil {
		return err
	}
	if !created {
		// A replay only when the task is this workflow's own: an id taken
		// by another execution is refused, never mistaken for one.
		owner, err := c.tx.TaskWorkflow(ctx, wf.TenantID, cmd.ID)
		if err != nil {
			return err
		}
		if owner == nil || *owner != wf.ID {
			return invalid("schedule_task.task_execution_id", "%s is already the id of another execution's task", cmd.ID)
		}
		return nil // the task and its event exist already
	}
	c.h.add(EventTaskScheduled, taskScheduledData{TaskExecutionID: cmd.ID.String(), Kind: cmd.Kind, Input: cmd.Input, Queue: queue, MaxRetries: retries})
	c.e.deadlineIn(c.fx, cmd.TimeoutMs)
	return nil
}

// CompleteWorkflow ends the workflow with an output.
type CompleteWorkflow struct{ Output json.RawMessage }

func (cmd CompleteWorkflow) apply(ctx context.Context, c *submission) error {
	if err := c.e.payload("complete_workflow.output", cmd.Output); err != nil {
		return err
	}
	wf := c.wf()
	c.h.add(EventWorkflowCompleted, outputData{Output: cmd.Output})
	wf.Status = StatusCompleted
	wf.Output = cmd.Output
	return c.e.tellParent(ctx, c.tx, c.fx, wf, EventChildCompleted, "")
}

// FailWorkflow ends the workflow with an error.
type FailWorkflow struct {
	Error       string
	StackTrace  string
	FailureType string
}

func (cmd FailWorkflow) apply(ctx context.Context, c *submission) error {
	wf := c.wf()
	if err := firstErr(limits.Message("fail_workflow.error", cmd.Error), limits.Message("fail_workflow.stack_trace", cmd.StackTrace),
		limits.OptionalName("fail_workflow.failure_type", cmd.FailureType)); err != nil {
		return err
	}
	if cmd.FailureType == "" {
		cmd.FailureType = "ERROR"
	}
	c.h.add(EventWorkflowFailed, workflowFailedData{Error: cmd.Error, FailureType: cmd.FailureType, StackTrace: cmd.StackTrace})
	wf.Status = StatusFailed
	wf.Error = &cmd.Error
	return c.e.tellParent(ctx, c.tx, c.fx, wf, EventChildFailed, cmd.Error)
}

// SuspendWorkflow records why the workflow waits; the status decides the rest.
type SuspendWorkflow struct{ Reason string }

func (cmd SuspendWorkflow) apply(_ context.Context, c *submission) error {
	if err := limits.Message("suspend_workflow.reason", cmd.Reason); err != nil {
		return err
	}
	c.h.add(EventWorkflowSuspended, reasonData{Reason: cmd.Reason})
	return nil
}

// CancelWorkflow ends the workflow as cancelled by its own code.
type CancelWorkflow struct{ Reason string }

func (cmd CancelWorkflow) apply(ctx context.Context, c *submission) error {
	if err := limits.Message("cancel_workflow.reason", cmd.Reason); err != nil {
		return err
	}
	return c.e.finishCancelled(ctx, c.tx, c.fx, c.h, cmd.Reason)
}

// CreatePromise creates a durable promise under a name; the server mints its id.
type CreatePromise struct {
	Name           string
	TimeoutMs      *int64
	IdempotencyKey *string
}

func (cmd CreatePromise) apply(ctx context.Context, c *submission) error {
	wf := c.wf()
	if cmd.Name == "" {
		return invalid("create_promise.promise_id", "required (the promise name)")
	}
	if err := firstErr(limits.Name("create_promise.promise_id", cmd.Name), optionalDuration("create_promise.timeout_ms", cmd.TimeoutMs)); err != nil {
		return err
	}
	if cmd.IdempotencyKey != nil {
		if err := limits.Text("create_promise.idempotency_key", *cmd.IdempotencyKey, limits.MaxIdempotencyKey); err != nil {
			return err
		}
	}
	var timeout *time.Duration
	if cmd.TimeoutMs != nil {
		d := time.Duration(*cmd.TimeoutMs) * time.Millisecond
		timeout = &d
	}
	p, created, err := c.tx.InsertPromise(ctx, store.Promise{ID: uuid.New(), TenantID: wf.TenantID, WorkflowID: wf.ID, Name: cmd.Name}, timeout, cmd.IdempotencyKey)
	if err != nil || !created {
		return err
	}
	c.h.add(EventPromiseCreated, promiseCreatedData{PromiseID: p.ID.String(), PromiseName: cmd.Name, TimeoutMs: cmd.TimeoutMs})
	if timeout != nil {
		c.fx.timerIn(*timeout)
	}
	return nil
}

// ResolvePromiseCommand resolves one of the workflow's own promises, named by
// name or id.
type ResolvePromiseCommand struct {
	Promise string
	Value   json.RawMessage
}

func (cmd ResolvePromiseCommand) apply(ctx context.Context, c *submission) error {
	wf := c.wf()
	if err := firstErr(limits.Name("resolve_promise.promise_id", cmd.Promise), c.e.payload("resolve_promise.value", cmd.Value)); err != nil {
		return err
	}
	p, err := c.tx.LockPromise(ctx, wf.TenantID, uuid.Nil, wf.ID, cmd.Promise)
	if err != nil {
		id, perr := uuid.Parse(cmd.Promise)
		if perr != nil {
			return invalid("resolve_promise.promise_id", "no promise %q in this workflow", cmd.Promise)
		}
		if p, err = c.tx.LockPromise(ctx, wf.TenantID, id, uuid.Nil, ""); err != nil || p.WorkflowID != wf.ID {
			return invalid("resolve_promise.promise_id", "no promise %q in this workflow", cmd.Promise)
		}
	}
	if p.Status != StatusPending {
		return nil
	}
	if err := c.tx.SettlePromise(ctx, p.ID, "RESOLVED", cmd.Value, nil); err != nil {
		return err
	}
	c.h.add(EventPromiseResolved, promiseResolvedData{PromiseID: p.ID.String(), PromiseName: p.Name, Value: cmd.Value})
	return nil
}

// ScheduleChildWorkflow starts a child workflow under the id the client chose.
type ScheduleChildWorkflow struct {
	Name            string
	Kind            string
	ID              uuid.UUID
	Input           json.RawMessage
	Queue           string
	PrioritySeconds int32
}

func (cmd ScheduleChildWorkflow) apply(ctx context.Context, c *submission) error {
	parent := c.wf()
	switch {
	case cmd.Name == "":
		return invalid("schedule_child_workflow.child_execution_name", "required")
	case cmd.Kind == "":
		return invalid("schedule_child_workflow.workflow_kind", "required")
	case cmd.ID == uuid.Nil:
		return invalid("schedule_child_workflow.child_workflow_execution_id", "required (a UUID chosen by the worker)")
	}
	if err := firstErr(limits.Name("schedule_child_workflow.child_execution_name", cmd.Name),
		limits.Name("schedule_child_workflow.workflow_kind", cmd.Kind), limits.OptionalName("schedule_child_workflow.queue", cmd.Queue),
		c.e.payload("schedule_child_workflow.input", cmd.Input)); err != nil {
		return err
	}
	queue := cmd.Queue
	if queue == "" {
		queue = parent.Queue
	}
	name := cmd.Name
	child := Workflow{
		ID: cmd.ID, TenantID: parent.TenantID, Kind: cmd.Kind, Queue: queue, Status: StatusPending,
		PrioritySeconds: cmd.PrioritySeconds, Input: cmd.Input, ParentID: &parent.ID, ParentChildName: &name,
		TaskTimeMs: store.TaskTimeNow,
	}
	err := c.e.createWorkflow(ctx, c.tx, c.fx, child, nil)
	if errors.Is(err, ErrConflict) {
		// A replay only when the existing execution is this workflow's
		// child of that name; any other execution's id is refused.
		// (Read, not locked: the lock order is child before parent.)
		of, as, err := c.tx.WorkflowParent(ctx, parent.TenantID, cmd.ID)
		if err != nil {
			return err
		}
		if of == nil || *of != parent.ID || as == nil || *as != name {
			return invalid("schedule_child_workflow.child_workflow_execution_id", "%s is already the id of another execution", cmd.ID)
		}
		return nil
	}
	if err != nil {
		return err
	}
	id := cmd.ID.String()
	c.h.add(EventChildInitiated, childInitiatedData{ChildExecutionName: name, ChildWorkflowKind: cmd.Kind, ChildExecutionID: id, Input: cmd.Input})
	c.h.add(EventChildStarted, childStartedData{ChildExecutionName: name, ChildExecutionID: id})
	return nil
}

// StartTimer starts a durable timer under the id the client chose.
type StartTimer struct {
	ID         string
	DurationMs int64
}

func (cmd StartTimer) apply(ctx context.Context, c *submission) error {
	if err := limits.Name("start_timer.timer_id", cmd.ID); err != nil {
		return err
	}
	if _, err := limits.DurationMs("start_timer.duration_ms", cmd.DurationMs); err != nil {
		return err
	}
	d := time.Duration(cmd.DurationMs) * time.Millisecond
	fireAt, in, created, err := c.tx.InsertTimer(ctx, c.wf().TenantID, c.wf().ID, cmd.ID, d)
	if err != nil || !created {
		return err
	}
	c.h.add(EventTimerStarted, timerStartedData{TimerID: cmd.ID, DurationMs: cmd.DurationMs, FireAt: fireAt.UnixMilli()})
	c.fx.timerIn(in)
	return nil
}

// CancelTimer cancels a pending timer of the workflow.
type CancelTimer struct{ ID string }

func (cmd CancelTimer) apply(ctx context.Context, c *submission) error {
	if err := limits.Name("cancel_timer.timer_id", cmd.ID); err != nil {
		return err
	}
	cancelled, err := c.tx.CancelTimer(ctx, c.wf().TenantID, c.wf().ID, cmd.ID)
	if err != nil || !cancelled {
		return err
	}
	c.h.add(EventTimerCancelled, timerData{TimerID: cmd.ID})
	return nil
}

// RequestCancelChild asks for a child workflow to be cancelled.
type RequestCancelChild struct {
	ID     uuid.UUID
	Reason string
}

func (cmd RequestCancelChild) apply(ctx context.Context, c *submission) error {
	const field = "request_cancel_child_workflow.child_workflow_execution_id"
	if cmd.ID == uuid.Nil {
		return invalid(field, "required")
	}
	if err := limits.Message("request_cancel_child_workflow.reason", cmd.Reason); err != nil {
		return err
	}
	wf := c.wf()
	of, _, err := c.tx.WorkflowParent(ctx, wf.TenantID, cmd.ID)
	if errors.Is(err, ErrNotFound) || err == nil && (of == nil || *of != wf.ID) {
		return invalid(field, "%s is not a child of this workflow", cmd.ID)
	}
	if err != nil {
		return err
	}
	c.fx.cancelLater(c.e, wf.TenantID, cmd.ID, cmd.Reason)
	return nil
}
