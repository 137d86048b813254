package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// WorkflowFunc is a workflow implementation. input is the workflow input as
// JSON. The returned value is encoded with encoding/json (a json.RawMessage is
// used verbatim) and becomes the workflow output; a returned error fails the
// workflow with err.Error() as its message.
type WorkflowFunc func(ctx *WorkflowContext, input json.RawMessage) (any, error)

// TaskOptions are the optional settings of a scheduled task.
type TaskOptions struct {
	// Queue the task is dispatched on; "" = the workflow's queue.
	Queue string
	// MaxRetries is the number of retries after the first attempt; 0 = the
	// server default (3). Use NoRetries for a single attempt.
	MaxRetries int
	// Timeout is the task's deadline from when it is scheduled, across its
	// retries (0 = none): past it the server fails the task for good and its
	// future returns a TaskFailedError saying it timed out.
	Timeout time.Duration
	// PrioritySeconds moves the task ahead in its queue.
	PrioritySeconds int
	// IdempotencyKey for external correlation (optional).
	IdempotencyKey string
}

// NoRetries as TaskOptions.MaxRetries asks for exactly one attempt.
const NoRetries = -1

// PromiseOptions are the optional settings of a durable promise.
type PromiseOptions struct {
	// Timeout after which the promise fails with PromiseTimeoutError (0 = never).
	Timeout time.Duration
	// IdempotencyKey for external correlation (optional).
	IdempotencyKey string
}

// ChildOptions are the optional settings of a child workflow.
type ChildOptions struct {
	// Queue of the child; "" = the parent's queue.
	Queue string
}

// WorkflowContext is the deterministic API available to workflow code. It is
// only valid inside the workflow function and only on its goroutine.
type WorkflowContext struct {
	goctx       context.Context
	executionID string
	execUUID    uuid.UUID
	orgID       string
	kind        string
	input       json.RawMessage
	nowMillis   int64

	h *history

	taskIdx, timerIdx, promiseIdx, childIdx, opIdx, stateIdx int
	uuidCounter                                              int64
	sleepCounter                                             int
	nextSeq                                                  int32

	commands []*flovynv1.WorkflowCommand
	state    map[string]json.RawMessage

	stopped       bool
	suspended     bool
	suspendReason string
	fatal         error
}

// WorkflowTask describes one workflow task: an execution and the history to
// replay it against. It is what the worker builds from PollWorkflow and
// GetEvents, and what [Replay] takes in tests.
type WorkflowTask struct {
	ExecutionID string
	Kind        string
	OrgID       string
	Input       json.RawMessage
	// TaskTimeMillis is workflow_task_time_millis from the poll response (ctx.Now).
	TaskTimeMillis int64
	History        []Event
}

// WorkflowTaskResult is what one workflow task submits: its status and its
// new commands (the last one is COMPLETE_WORKFLOW, FAIL_WORKFLOW or
// SUSPEND_WORKFLOW).
type WorkflowTaskResult struct {
	Status   flovynv1.WorkflowStatus
	Commands []*flovynv1.WorkflowCommand
}

// Replay runs fn once against t's history exactly as a worker does, and
// returns what would be submitted. It is meant for testing workflow code.
func Replay(fn WorkflowFunc, t WorkflowTask) WorkflowTaskResult {
	return executeWorkflowTask(context.Background(), fn, t)
}

func newWorkflowContext(goctx context.Context, t WorkflowTask) *WorkflowContext {
	id, err := uuid.Parse(t.ExecutionID)
	if err != nil {
		id = uuid.Nil // as the SDKs do with an unparsable id
	}
	input := t.Input
	if len(input) == 0 || !json.Valid(input) {
		input = json.RawMessage("null")
	}
	h := newHistory(t.History)
	return &WorkflowContext{
		goctx:       goctx,
		executionID: t.ExecutionID,
		execUUID:    id,
		orgID:       t.OrgID,
		kind:        t.Kind,
		input:       input,
		nowMillis:   t.TaskTimeMillis,
		h:           h,
		nextSeq:     int32(h.n) + 1,
		state:       map[string]json.RawMessage{},
	}
}

// executeWorkflowTask runs the workflow function on its own goroutine so that
// suspension can end it with runtime.Goexit, then turns the outcome into a
// status plus the new commands.
func executeWorkflowTask(goctx context.Context, fn WorkflowFunc, t WorkflowTask) WorkflowTaskResult {
	ctx := newWorkflowContext(goctx, t)
	output, failure := runToEnd("workflow", func() (any, error) { return fn(ctx, ctx.input) })
	ctx.stopped = true
	switch {
	case ctx.fatal != nil:
		return ctx.finishFailed(ctx.fatal.Error())
	case ctx.suspended:
		ctx.addCommand(flovynv1.CommandType_SUSPEND_WORKFLOW, &flovynv1.WorkflowCommand_SuspendWorkflow{
			SuspendWorkflow: &flovynv1.SuspendWorkflowCommand{Reason: ctx.suspendReason},
		})
		return WorkflowTaskResult{Status: flovynv1.WorkflowStatus_SUSPENDED, Commands: ctx.commands}
	case failure != "":
		return ctx.finishFailed(failure)
	}
	ctx.addCommand(flovynv1.CommandType_COMPLETE_WORKFLOW, &flovynv1.WorkflowCommand_CompleteWorkflow{
		CompleteWorkflow: &flovynv1.CompleteWorkflowCommand{Output: output},
	})
	return WorkflowTaskResult{Status: flovynv1.WorkflowStatus_COMPLETED, Commands: ctx.commands}
}

// runToEnd runs fn (a workflow or an agent: what) on a goroutine of its
// own, so that a suspension can end it with runtime.Goexit, and returns its
// encoded output, or why it failed: an error, a panic, an exit without
// returning (a suspension, or user code calling runtime.Goexit).
func runToEnd(what string, fn func() (any, error)) (output []byte, failure string) {
	var (
		out      any
		err      error
		returned bool
		panicked any
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				panicked = r
			}
		}()
		out, err = fn()
		returned = true
	}()
	<-done
	switch {
	case panicked != nil:
		return nil, fmt.Sprintf("%s panicked: %v", what, panicked)
	case !returned:
		return nil, what + " goroutine exited without returning (runtime.Goexit)"
	case err != nil && err.Error() == "":
		return nil, what + " returned an error without a message"
	case err != nil:
		return nil, err.Error()
	}
	output, err = encode(out)
	if err != nil {
		return nil, err.Error()
	}
	return output, ""
}

func (c *WorkflowContext) finishFailed(msg string) WorkflowTaskResult {
	c.addCommand(flovynv1.CommandType_FAIL_WORKFLOW, &flovynv1.WorkflowCommand_FailWorkflow{
		FailWorkflow: &flovynv1.FailWorkflowCommand{Error: msg, StackTrace: "", FailureType: "ERROR"},
	})
	return WorkflowTaskResult{Status: flovynv1.WorkflowStatus_FAILED, Commands: c.commands}
}

// addCommand appends a command numbered like the Rust SDK (history length + 1, +2, …).
func (c *WorkflowContext) addCommand(t flovynv1.CommandType, data any) {
	cmd := &flovynv1.WorkflowCommand{CommandType: t, SequenceNumber: c.nextSeq}
	c.nextSeq++
	switch d := data.(type) {
	case *flovynv1.WorkflowCommand_RecordOperation:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_SetState:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_ClearState:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_ScheduleTask:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_CompleteWorkflow:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_FailWorkflow:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_SuspendWorkflow:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_CreatePromise:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_ScheduleChildWorkflow:
		cmd.CommandData = d
	case *flovynv1.WorkflowCommand_StartTimer:
		cmd.CommandData = d
	default:
		panic(fmt.Sprintf("flovyn: unsupported command data %T", data))
	}
	c.commands = append(c.commands, cmd)
}

// suspend stops the workflow because it waits for something not in history.
// It does not return unless the workflow was already stopped.
func (c *WorkflowContext) suspend(reason string) error {
	if c.stopped {
		return ErrWorkflowStopped
	}
	if reason == "" {
		reason = "Workflow suspended without explicit reason"
	}
	c.stopped, c.suspended, c.suspendReason = true, true, reason
	runtime.Goexit()
	return nil
}

// violation stops the workflow with a determinism error (it fails the
// workflow whatever the user code would do with an error).
func (c *WorkflowContext) violation(format string, args ...any) {
	if c.stopped {
		return
	}
	c.stopped = true
	c.fatal = &DeterminismError{Detail: fmt.Sprintf(format, args...)}
	runtime.Goexit()
}

// ---------------------------------------------------------------------------
// Identity, time, randomness
// ---------------------------------------------------------------------------

// ExecutionID is the workflow execution id.
func (c *WorkflowContext) ExecutionID() string { return c.executionID }

// OrgID is the tenant id of the execution.
func (c *WorkflowContext) OrgID() string { return c.orgID }

// Kind is the workflow kind.
func (c *WorkflowContext) Kind() string { return c.kind }

// Input is the workflow input as JSON (null when empty).
func (c *WorkflowContext) Input() json.RawMessage { return c.input }

// Context is the worker's context.Context (it carries no deadline and is not
// cancelled by worker shutdown). Workflow code should not do I/O with it;
// it exists for logging and tracing helpers.
func (c *WorkflowContext) Context() context.Context { return c.goctx }

// Now is the deterministic time of this workflow task (the server's
// workflow_task_time_millis). It stays the same during one workflow task.
func (c *WorkflowContext) Now() time.Time { return time.UnixMilli(c.nowMillis) }

// RandomUUID returns a deterministic UUID (v5 in the execution's namespace).
// It shares its counter with task and child ids.
func (c *WorkflowContext) RandomUUID() string { return c.nextID() }

// nextID implements contract §4.3: uuid v5 with the execution id as namespace
// and "<executionId>:<counter>" as name.
func (c *WorkflowContext) nextID() string {
	n := c.uuidCounter
	c.uuidCounter++
	return deterministicID(c.execUUID, n)
}

func deterministicID(exec uuid.UUID, counter int64) string {
	name := fmt.Sprintf("%s:%d", exec.String(), counter)
	return uuid.NewSHA1(exec, []byte(name)).String()
}

// ---------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------

// ScheduleTask schedules a task and returns its future without waiting.
func (c *WorkflowContext) ScheduleTask(kind string, input any, opts TaskOptions) *Future {
	if c.stopped {
		return readyFuture(c, "", 0, nil, ErrWorkflowStopped)
	}
	payload, err := encode(input)
	if err != nil {
		return readyFuture(c, "", 0, nil, err)
	}
	idx := c.taskIdx
	c.taskIdx++
	// The id counter advances on replay too, so later ids stay identical.
	generated := c.nextID()

	if ev := at(c.h.tasks, idx); ev != nil {
		if got := ev.str("kind"); got != kind {
			c.violation("task #%d: history has kind %q, workflow scheduled %q", idx, got, kind)
		}
		id := ev.str("taskExecutionId")
		if id == "" {
			id = ev.str("taskId")
		}
		if done := c.h.taskDone[id]; done != nil {
			if done.typ == EventTaskCompleted {
				v := done.value("output")
				if _, ok := done.fields["output"]; !ok {
					v = done.value("result")
				}
				return readyFuture(c, id, done.seq, v, nil)
			}
			msg := done.str("error")
			if msg == "" {
				msg = "Task failed"
			}
			return readyFuture(c, id, done.seq, nil, &TaskFailedError{TaskExecutionID: id, Message: msg})
		}
		return pendingFuture(c, id, "Waiting for task "+id+" to complete")
	}

	st := &flovynv1.ScheduleTaskCommand{Kind: kind, Input: payload, TaskExecutionId: generated}
	if opts.Queue != "" {
		st.Queue = &opts.Queue
	}
	switch {
	case opts.MaxRetries > 0:
		n := int32(opts.MaxRetries)
		st.MaxRetries = &n
	case opts.MaxRetries == NoRetries:
		n := int32(0)
		st.MaxRetries = &n
	}
	if opts.Timeout > 0 {
		ms := opts.Timeout.Milliseconds()
		st.TimeoutMs = &ms
	}
	if opts.PrioritySeconds != 0 {
		p := int32(opts.PrioritySeconds)
		st.PrioritySeconds = &p
	}
	if opts.IdempotencyKey != "" {
		st.IdempotencyKey = &opts.IdempotencyKey
	}
	c.addCommand(flovynv1.CommandType_SCHEDULE_TASK, &flovynv1.WorkflowCommand_ScheduleTask{ScheduleTask: st})
	return pendingFuture(c, generated, "Waiting for task "+generated+" to complete")
}

// ExecuteTask schedules a task and waits for its JSON output.
func (c *WorkflowContext) ExecuteTask(kind string, input any, opts TaskOptions) (json.RawMessage, error) {
	return c.ScheduleTask(kind, input, opts).Raw()
}

// ExecuteTask schedules a task, waits for it and decodes its output as a T.
func ExecuteTask[T any](ctx *WorkflowContext, kind string, input any, opts TaskOptions) (T, error) {
	return Await[T](ctx.ScheduleTask(kind, input, opts))
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

// Timer starts a durable timer and returns its future (value null when it
// fires; TimerCancelledError if it was cancelled). Timer ids are "sleep-1",
// "sleep-2", … in call order, like the Rust SDK.
func (c *WorkflowContext) Timer(d time.Duration) *Future {
	if c.stopped {
		return readyFuture(c, "", 0, nil, ErrWorkflowStopped)
	}
	idx := c.timerIdx
	c.timerIdx++
	c.sleepCounter++
	timerID := fmt.Sprintf("sleep-%d", c.sleepCounter)

	if ev := at(c.h.timers, idx); ev != nil {
		if got := ev.str("timerId"); got != timerID {
			c.violation("timer #%d: history has timer %q, workflow started %q", idx, got, timerID)
		}
		if done := c.h.timerDone[timerID]; done != nil {
			if done.typ == EventTimerFired {
				return readyFuture(c, timerID, done.seq, json.RawMessage("null"), nil)
			}
			return readyFuture(c, timerID, done.seq, nil, &TimerCancelledError{TimerID: timerID})
		}
		return pendingFuture(c, timerID, "Waiting for timer "+timerID+" to fire")
	}
	c.addCommand(flovynv1.CommandType_START_TIMER, &flovynv1.WorkflowCommand_StartTimer{
		StartTimer: &flovynv1.StartTimerCommand{TimerId: timerID, DurationMs: d.Milliseconds()},
	})
	return pendingFuture(c, timerID, "Waiting for timer "+timerID+" to fire")
}

// Sleep waits durably for d.
func (c *WorkflowContext) Sleep(d time.Duration) error {
	return c.Timer(d).Get(nil)
}

// ---------------------------------------------------------------------------
// Promises
// ---------------------------------------------------------------------------

// Promise creates a durable promise named name (unique within the execution)
// and returns its future. It is settled from outside with
// Client.ResolvePromise / RejectPromise, using the promiseId the server put
// in PROMISE_CREATED (see Client.PromiseID).
func (c *WorkflowContext) Promise(name string, opts PromiseOptions) *Future {
	if c.stopped {
		return readyFuture(c, name, 0, nil, ErrWorkflowStopped)
	}
	idx := c.promiseIdx
	c.promiseIdx++
	reason := "Waiting for promise " + name + " to be resolved"

	if ev := at(c.h.promises, idx); ev != nil {
		if got := ev.str("promiseName"); got != name {
			c.violation("promise #%d: history has promise %q, workflow created %q", idx, got, name)
		}
		var done *hevent
		if id := ev.str("promiseId"); id != "" {
			done = c.h.promiseDoneByID[id]
		}
		if done == nil {
			done = c.h.promiseDoneByNm[name]
		}
		if done == nil {
			return pendingFuture(c, name, reason)
		}
		switch done.typ {
		case EventPromiseResolved:
			return readyFuture(c, name, done.seq, done.value("value"), nil)
		case EventPromiseRejected:
			msg := done.str("error")
			if msg == "" {
				msg = "Promise rejected"
			}
			return readyFuture(c, name, done.seq, nil, &PromiseRejectedError{Name: name, Message: msg})
		default:
			return readyFuture(c, name, done.seq, nil, &PromiseTimeoutError{Name: name})
		}
	}
	cp := &flovynv1.CreatePromiseCommand{PromiseId: name}
	if opts.Timeout > 0 {
		ms := opts.Timeout.Milliseconds()
		cp.TimeoutMs = &ms
	}
	if opts.IdempotencyKey != "" {
		cp.IdempotencyKey = &opts.IdempotencyKey
	}
	c.addCommand(flovynv1.CommandType_CREATE_PROMISE, &flovynv1.WorkflowCommand_CreatePromise{CreatePromise: cp})
	return pendingFuture(c, name, reason)
}

// ---------------------------------------------------------------------------
// Child workflows
// ---------------------------------------------------------------------------

// ScheduleChild starts a child workflow and returns its future. name
// identifies the child within this execution (results are matched by it).
func (c *WorkflowContext) ScheduleChild(name, kind string, input any, opts ChildOptions) *Future {
	if c.stopped {
		return readyFuture(c, "", 0, nil, ErrWorkflowStopped)
	}
	payload, err := encode(input)
	if err != nil {
		return readyFuture(c, "", 0, nil, err)
	}
	idx := c.childIdx
	c.childIdx++
	reason := "Waiting for child workflow " + name + " to complete"

	if ev := at(c.h.children, idx); ev != nil {
		if got := ev.str("childExecutionName"); got != name {
			c.violation("child workflow #%d: history has name %q, workflow started %q", idx, got, name)
		}
		if got := ev.str("childWorkflowKind"); got != "" && got != kind {
			c.violation("child workflow #%d: history has kind %q, workflow started %q", idx, got, kind)
		}
		c.uuidCounter++ // keep the id counter in step with the first execution
		childID := ev.str("childExecutionId")
		if done := c.h.childDone[name]; done != nil {
			if done.typ == EventChildWorkflowCompleted {
				return readyFuture(c, childID, done.seq, done.value("output"), nil)
			}
			msg := done.str("error")
			if msg == "" {
				msg = "Child workflow failed"
			}
			execID := done.str("childworkflowExecutionId")
			if execID == "" {
				execID = done.str("childExecutionId")
			}
			if execID == "" {
				execID = "unknown"
			}
			return readyFuture(c, childID, done.seq, nil,
				&ChildWorkflowFailedError{Name: name, ExecutionID: execID, Message: msg})
		}
		return pendingFuture(c, childID, reason)
	}
	childID := c.nextID()
	k := kind
	c.addCommand(flovynv1.CommandType_SCHEDULE_CHILD_WORKFLOW, &flovynv1.WorkflowCommand_ScheduleChildWorkflow{
		ScheduleChildWorkflow: &flovynv1.ScheduleChildWorkflowCommand{
			ChildExecutionName:       name,
			WorkflowKind:             &k,
			ChildWorkflowExecutionId: childID,
			Input:                    payload,
			Queue:                    opts.Queue,
		},
	})
	return pendingFuture(c, childID, reason)
}

// ExecuteChild starts a child workflow and waits for its JSON output.
func (c *WorkflowContext) ExecuteChild(name, kind string, input any, opts ChildOptions) (json.RawMessage, error) {
	return c.ScheduleChild(name, kind, input, opts).Raw()
}

// ExecuteChild starts a child workflow, waits for it and decodes its output as a T.
func ExecuteChild[T any](ctx *WorkflowContext, name, kind string, input any, opts ChildOptions) (T, error) {
	return Await[T](ctx.ScheduleChild(name, kind, input, opts))
}

// ---------------------------------------------------------------------------
// Recorded operations
// ---------------------------------------------------------------------------

// Run executes fn once and records its result in history (RECORD_OPERATION);
// on replay fn is not called and the recorded result is returned. Use it for
// small non-deterministic steps (reading the clock, generating ids). An error
// from fn is returned and nothing is recorded.
func (c *WorkflowContext) Run(name string, fn func() (any, error)) (json.RawMessage, error) {
	if c.stopped {
		return nil, ErrWorkflowStopped
	}
	idx := c.opIdx
	c.opIdx++
	if ev := at(c.h.ops, idx); ev != nil {
		got := ev.str("operationName")
		if got == "" {
			got = ev.str("name")
		}
		if got != name {
			c.violation("operation #%d: history has %q, workflow ran %q", idx, got, name)
		}
		return ev.value("result"), nil
	}
	v, err := fn()
	if err != nil {
		c.opIdx-- // nothing recorded: the next Run reuses this position
		return nil, err
	}
	payload, err := encode(v)
	if err != nil {
		c.opIdx--
		return nil, err
	}
	c.addCommand(flovynv1.CommandType_RECORD_OPERATION, &flovynv1.WorkflowCommand_RecordOperation{
		RecordOperation: &flovynv1.RecordOperationCommand{OperationName: name, Result: payload},
	})
	return payload, nil
}

// Run is the typed form of WorkflowContext.Run.
func Run[T any](ctx *WorkflowContext, name string, fn func() (T, error)) (T, error) {
	raw, err := ctx.Run(name, func() (any, error) { return fn() })
	if err != nil {
		var zero T
		return zero, err
	}
	return Decode[T](raw)
}

// ---------------------------------------------------------------------------
// Workflow state
// ---------------------------------------------------------------------------

// SetState sets a workflow state key (event-sourced with SET_STATE).
func (c *WorkflowContext) SetState(key string, v any) error {
	if c.stopped {
		return ErrWorkflowStopped
	}
	payload, err := encode(v)
	if err != nil {
		return err
	}
	idx := c.stateIdx
	c.stateIdx++
	if ev := at(c.h.states, idx); ev != nil {
		if ev.typ != EventStateSet {
			c.violation("state change #%d: history has %s, workflow set %q", idx, ev.typ, key)
		}
		if got := ev.str("key"); got != key {
			c.violation("state change #%d: history sets key %q, workflow set %q", idx, got, key)
		}
	} else {
		c.addCommand(flovynv1.CommandType_SET_STATE, &flovynv1.WorkflowCommand_SetState{
			SetState: &flovynv1.SetStateCommand{Key: key, Value: payload},
		})
	}
	c.state[key] = payload
	return nil
}

// GetState decodes the current value of a state key into out and reports
// whether the key is set. State is rebuilt as the workflow replays its own
// SetState/ClearState calls, so it always reflects the code's progress.
func (c *WorkflowContext) GetState(key string, out any) (bool, error) {
	v, ok := c.state[key]
	if !ok {
		return false, nil
	}
	return true, decodeInto(v, out)
}

// ClearState removes a state key (CLEAR_STATE).
func (c *WorkflowContext) ClearState(key string) error {
	if c.stopped {
		return ErrWorkflowStopped
	}
	idx := c.stateIdx
	c.stateIdx++
	if ev := at(c.h.states, idx); ev != nil {
		if ev.typ != EventStateCleared {
			c.violation("state change #%d: history has %s, workflow cleared %q", idx, ev.typ, key)
		}
		if got := ev.str("key"); got != key {
			c.violation("state change #%d: history clears key %q, workflow cleared %q", idx, got, key)
		}
	} else {
		c.addCommand(flovynv1.CommandType_CLEAR_STATE, &flovynv1.WorkflowCommand_ClearState{
			ClearState: &flovynv1.ClearStateCommand{Key: key},
		})
	}
	delete(c.state, key)
	return nil
}

// ClearAllState clears every state key, one CLEAR_STATE per key in sorted order.
func (c *WorkflowContext) ClearAllState() error {
	for _, k := range c.StateKeys() {
		if err := c.ClearState(k); err != nil {
			return err
		}
	}
	return nil
}

// StateKeys lists the state keys currently set, sorted.
func (c *WorkflowContext) StateKeys() []string {
	keys := make([]string, 0, len(c.state))
	for k := range c.state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

// Signal returns a future for the next signal named name. If such a signal is
// in history it is consumed now (signals are consumed FIFO per name, in
// history order); otherwise the future is pending and Get suspends the
// workflow until a signal arrives. The value is the signal's JSON value.
func (c *WorkflowContext) Signal(name string) *Future {
	q := c.h.signals[name]
	if len(q) == 0 {
		return pendingFuture(c, name, "Waiting for signal")
	}
	ev := q[0]
	c.h.signals[name] = q[1:]
	return readyFuture(c, name, ev.seq, ev.value("signalValue"), nil)
}

// WaitSignal waits for the next signal named name and returns its value.
// It returns nil only when called after the workflow was stopped.
func (c *WorkflowContext) WaitSignal(name string) json.RawMessage {
	v, _ := c.Signal(name).Raw()
	return v
}

// HasSignal reports whether an unconsumed signal named name is in history.
func (c *WorkflowContext) HasSignal(name string) bool { return len(c.h.signals[name]) > 0 }

// PendingSignalCount is the number of unconsumed signals named name.
func (c *WorkflowContext) PendingSignalCount(name string) int { return len(c.h.signals[name]) }

// DrainSignals consumes and returns the values of all unconsumed signals named name.
func (c *WorkflowContext) DrainSignals(name string) []json.RawMessage {
	q := c.h.signals[name]
	c.h.signals[name] = nil
	out := make([]json.RawMessage, 0, len(q))
	for _, ev := range q {
		out = append(out, ev.value("signalValue"))
	}
	return out
}
