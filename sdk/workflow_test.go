package sdk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

const testExecID = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"

// taskID is the i-th deterministic id of testExecID.
func taskID(i int64) string { return deterministicID(uuid.MustParse(testExecID), i) }

func ev(seq int, typ string, data map[string]any) Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return Event{Sequence: seq, Type: typ, Data: b}
}

func started() Event {
	return ev(1, EventWorkflowStarted, map[string]any{"input": map[string]any{"n": 1}})
}

func replay(t *testing.T, fn WorkflowFunc, history ...Event) WorkflowTaskResult {
	t.Helper()
	return Replay(fn, WorkflowTask{
		ExecutionID:    testExecID,
		Kind:           "wf",
		Input:          json.RawMessage(`{"n":1}`),
		TaskTimeMillis: 1767000000000,
		History:        history,
	})
}

func cmdTypes(r WorkflowTaskResult) []string {
	var out []string
	for _, c := range r.Commands {
		out = append(out, c.GetCommandType().String())
	}
	return out
}

func wantCommands(t *testing.T, r WorkflowTaskResult, status flovynv1.WorkflowStatus, types ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %v, want %v (commands %v, %v)", r.Status, status, cmdTypes(r), failMsg(r))
	}
	got := cmdTypes(r)
	if strings.Join(got, ",") != strings.Join(types, ",") {
		t.Fatalf("commands = %v, want %v", got, types)
	}
}

func failMsg(r WorkflowTaskResult) string {
	for _, c := range r.Commands {
		if f := c.GetFailWorkflow(); f != nil {
			return f.GetError()
		}
	}
	return ""
}

func last(r WorkflowTaskResult) *flovynv1.WorkflowCommand { return r.Commands[len(r.Commands)-1] }

func jsonEq(t *testing.T, got []byte, want string) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("invalid JSON %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	if string(ab) != string(bb) {
		t.Fatalf("JSON = %s, want %s", ab, bb)
	}
}

func TestDeterministicIDMatchesContract(t *testing.T) {
	ns := uuid.MustParse(testExecID)
	// Contract §4.3: v5(namespace = execution id, name = "<executionId>:<counter>").
	byHand := uuid.NewSHA1(ns, []byte(testExecID+":0")).String()
	if got := taskID(0); got != byHand {
		t.Fatalf("id = %s, want %s", got, byHand)
	}
	// Independently computed with Python's uuid.uuid5.
	want := []string{
		"11422ab8-369f-57ca-8da4-d7bea65f46dd",
		"6b88fc04-8d16-58b1-a680-6120db1ce0c0",
		"4b4092cc-4656-5300-9213-9b30bc2f75fd",
	}
	for i, w := range want {
		if got := taskID(int64(i)); got != w {
			t.Errorf("id #%d = %s, want %s", i, got, w)
		}
	}
}

func echoWorkflow(ctx *WorkflowContext, input json.RawMessage) (any, error) {
	out, err := ctx.ExecuteTask("echo-task", map[string]any{"msg": "hi"}, TaskOptions{})
	if err != nil {
		return nil, err
	}
	return map[string]any{"echo": out}, nil
}

func TestTaskScheduleThenComplete(t *testing.T) {
	// Dispatch 1: only WORKFLOW_STARTED.
	r := replay(t, echoWorkflow, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SCHEDULE_TASK", "SUSPEND_WORKFLOW")
	st := r.Commands[0].GetScheduleTask()
	if st.GetKind() != "echo-task" || st.GetTaskExecutionId() != taskID(0) {
		t.Fatalf("schedule = %v", st)
	}
	if st.Queue != nil || st.MaxRetries != nil || st.TimeoutMs != nil {
		t.Fatalf("unexpected optional fields: %v", st)
	}
	jsonEq(t, st.GetInput(), `{"msg":"hi"}`)
	if r.Commands[0].GetSequenceNumber() != 2 || r.Commands[1].GetSequenceNumber() != 3 {
		t.Fatalf("sequence numbers = %d,%d want 2,3", r.Commands[0].GetSequenceNumber(), r.Commands[1].GetSequenceNumber())
	}
	if got := r.Commands[1].GetSuspendWorkflow().GetReason(); got != "Waiting for task "+taskID(0)+" to complete" {
		t.Fatalf("reason = %q", got)
	}

	// Dispatch 2: the task completed (appendix A worked example).
	r = replay(t, echoWorkflow,
		started(),
		ev(2, EventTaskScheduled, map[string]any{"taskExecutionId": taskID(0), "kind": "echo-task", "input": map[string]any{"msg": "hi"}}),
		ev(3, EventWorkflowSuspended, map[string]any{"reason": "x"}),
		ev(4, EventTaskCompleted, map[string]any{"taskExecutionId": taskID(0), "output": map[string]any{"msg": "hi"}}),
	)
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	if last(r).GetSequenceNumber() != 5 {
		t.Fatalf("seq = %d, want 5", last(r).GetSequenceNumber())
	}
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `{"echo":{"msg":"hi"}}`)
}

func TestTaskScheduledNotDoneSuspendsWithoutNewCommands(t *testing.T) {
	r := replay(t, echoWorkflow, started(),
		ev(2, EventTaskScheduled, map[string]any{"taskExecutionId": taskID(0), "kind": "echo-task"}))
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SUSPEND_WORKFLOW")
	if r.Commands[0].GetSequenceNumber() != 3 {
		t.Fatalf("seq = %d", r.Commands[0].GetSequenceNumber())
	}
}

func TestTaskFailedFailsWorkflow(t *testing.T) {
	r := replay(t, echoWorkflow, started(),
		ev(2, EventTaskScheduled, map[string]any{"taskExecutionId": taskID(0), "kind": "echo-task"}),
		ev(3, EventTaskFailed, map[string]any{"taskExecutionId": taskID(0), "error": "boom", "retryable": false}))
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
	f := last(r).GetFailWorkflow()
	if f.GetError() != "Task failed: boom" || f.GetFailureType() != "ERROR" || f.GetStackTrace() != "" {
		t.Fatalf("fail = %v", f)
	}
}

func TestTaskFailedCanBeHandled(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		_, err := ctx.ExecuteTask("t", nil, TaskOptions{})
		var tf *TaskFailedError
		if errors.As(err, &tf) {
			return "handled: " + tf.Message, nil
		}
		return nil, errors.New("expected failure")
	}
	r := replay(t, fn, started(),
		ev(2, EventTaskScheduled, map[string]any{"taskExecutionId": taskID(0), "kind": "t"}),
		ev(3, EventTaskFailed, map[string]any{"taskExecutionId": taskID(0), "error": "nope"}))
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `"handled: nope"`)
}

func TestTaskOptions(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		ctx.ScheduleTask("a", 1, TaskOptions{Queue: "q2", MaxRetries: 5, Timeout: 1500 * time.Millisecond, PrioritySeconds: 7, IdempotencyKey: "k"})
		ctx.ScheduleTask("b", 2, TaskOptions{MaxRetries: NoRetries})
		return nil, nil
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "SCHEDULE_TASK", "SCHEDULE_TASK", "COMPLETE_WORKFLOW")
	a, b := r.Commands[0].GetScheduleTask(), r.Commands[1].GetScheduleTask()
	if a.GetQueue() != "q2" || a.GetMaxRetries() != 5 || a.GetTimeoutMs() != 1500 || a.GetPrioritySeconds() != 7 || a.GetIdempotencyKey() != "k" {
		t.Fatalf("a = %v", a)
	}
	if b.MaxRetries == nil || b.GetMaxRetries() != 0 || b.GetTaskExecutionId() != taskID(1) {
		t.Fatalf("b = %v", b)
	}
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `null`)
}

func parallelWorkflow(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
	var fs []*Future
	for i := range 3 {
		fs = append(fs, ctx.ScheduleTask("square", i, TaskOptions{}))
	}
	if err := All(fs...); err != nil {
		return nil, err
	}
	var sum int
	for _, f := range fs {
		n, err := Await[int](f)
		if err != nil {
			return nil, err
		}
		sum += n
	}
	return sum, nil
}

func scheduled(seq int, i int64, kind string) Event {
	return ev(seq, EventTaskScheduled, map[string]any{"taskExecutionId": taskID(i), "kind": kind})
}

func completed(seq int, i int64, out any) Event {
	return ev(seq, EventTaskCompleted, map[string]any{"taskExecutionId": taskID(i), "output": out})
}

func TestParallelTasks(t *testing.T) {
	r := replay(t, parallelWorkflow, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SCHEDULE_TASK", "SCHEDULE_TASK", "SCHEDULE_TASK", "SUSPEND_WORKFLOW")
	for i := range 3 {
		if got := r.Commands[i].GetScheduleTask().GetTaskExecutionId(); got != taskID(int64(i)) {
			t.Fatalf("task %d id = %s", i, got)
		}
	}

	// Some done (completions arrive out of order): suspend with no new commands.
	h := []Event{started(), scheduled(2, 0, "square"), scheduled(3, 1, "square"), scheduled(4, 2, "square"),
		ev(5, EventWorkflowSuspended, nil), completed(6, 2, 4), completed(7, 0, 0)}
	r = replay(t, parallelWorkflow, h...)
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SUSPEND_WORKFLOW")
	if got := r.Commands[0].GetSuspendWorkflow().GetReason(); !strings.Contains(got, taskID(1)) {
		t.Fatalf("reason = %q", got)
	}

	// All done.
	r = replay(t, parallelWorkflow, append(h, completed(8, 1, 1))...)
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `5`)
}

func TestNewTasksAfterReplayedOnes(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		if err := All(ctx.ScheduleTask("a", nil, TaskOptions{}), ctx.ScheduleTask("a", nil, TaskOptions{})); err != nil {
			return nil, err
		}
		_, err := ctx.ExecuteTask("b", nil, TaskOptions{})
		return nil, err
	}
	r := replay(t, fn, started(), scheduled(2, 0, "a"), scheduled(3, 1, "a"), completed(4, 1, 1), completed(5, 0, 0))
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SCHEDULE_TASK", "SUSPEND_WORKFLOW")
	if got := r.Commands[0].GetScheduleTask(); got.GetKind() != "b" || got.GetTaskExecutionId() != taskID(2) {
		t.Fatalf("schedule = %v", got)
	}
	if r.Commands[0].GetSequenceNumber() != 6 {
		t.Fatalf("seq = %d, want 6", r.Commands[0].GetSequenceNumber())
	}
}

func TestAllReturnsEarliestFailure(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		return nil, All(ctx.ScheduleTask("a", nil, TaskOptions{}), ctx.ScheduleTask("a", nil, TaskOptions{}), ctx.ScheduleTask("a", nil, TaskOptions{}))
	}
	r := replay(t, fn, started(), scheduled(2, 0, "a"), scheduled(3, 1, "a"), scheduled(4, 2, "a"),
		ev(5, EventTaskFailed, map[string]any{"taskExecutionId": taskID(2), "error": "third"}),
		ev(6, EventTaskFailed, map[string]any{"taskExecutionId": taskID(1), "error": "second"}))
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
	if got := failMsg(r); got != "Task failed: third" {
		t.Fatalf("error = %q", got)
	}
}

func TestSelectPicksEarliestInHistory(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		primary := ctx.ScheduleTask("slow", nil, TaskOptions{})
		fallback := ctx.ScheduleTask("fast", nil, TaskOptions{})
		i := Select(primary, fallback)
		v, err := []*Future{primary, fallback}[i].Raw()
		return map[string]any{"index": i, "value": v}, err
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SCHEDULE_TASK", "SCHEDULE_TASK", "SUSPEND_WORKFLOW")

	r = replay(t, fn, started(), scheduled(2, 0, "slow"), scheduled(3, 1, "fast"), completed(4, 1, "F"), completed(5, 0, "S"))
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `{"index":1,"value":"F"}`)
}

func TestSelectTaskWithTimeout(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		task := ctx.ScheduleTask("slow", nil, TaskOptions{})
		timer := ctx.Timer(time.Second)
		if Select(task, timer) == 1 {
			return "timeout", nil
		}
		return task.Raw()
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SCHEDULE_TASK", "START_TIMER", "SUSPEND_WORKFLOW")
	r = replay(t, fn, started(), scheduled(2, 0, "slow"), ev(3, EventTimerStarted, map[string]any{"timerId": "sleep-1", "durationMs": 1000}),
		ev(4, EventTimerFired, map[string]any{"timerId": "sleep-1"}), completed(5, 0, "late"))
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `"timeout"`)
}

func TestDeterminismViolationOnKindMismatch(t *testing.T) {
	r := replay(t, echoWorkflow, started(), scheduled(2, 0, "other-task"))
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
	msg := failMsg(r)
	if !strings.HasPrefix(msg, "Determinism violation: ") || !strings.Contains(msg, "other-task") {
		t.Fatalf("error = %q", msg)
	}
}

func TestDeterminismViolationCannotBeSwallowed(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		f := ctx.ScheduleTask("b", nil, TaskOptions{})
		_ = f.Get(nil)
		return "should not complete", nil
	}
	r := replay(t, fn, started(), scheduled(2, 0, "a"), completed(3, 0, 1))
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
}

func TestTimers(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		if err := ctx.Sleep(2 * time.Second); err != nil {
			return nil, err
		}
		if err := ctx.Sleep(100 * time.Millisecond); err != nil {
			return nil, err
		}
		return "woke", nil
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "START_TIMER", "SUSPEND_WORKFLOW")
	if st := r.Commands[0].GetStartTimer(); st.GetTimerId() != "sleep-1" || st.GetDurationMs() != 2000 {
		t.Fatalf("timer = %v", st)
	}
	if got := last(r).GetSuspendWorkflow().GetReason(); got != "Waiting for timer sleep-1 to fire" {
		t.Fatalf("reason = %q", got)
	}

	h := []Event{started(), ev(2, EventTimerStarted, map[string]any{"timerId": "sleep-1", "durationMs": 2000}),
		ev(3, EventWorkflowSuspended, nil), ev(4, EventTimerFired, map[string]any{"timerId": "sleep-1"})}
	r = replay(t, fn, h...)
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "START_TIMER", "SUSPEND_WORKFLOW")
	if st := r.Commands[0].GetStartTimer(); st.GetTimerId() != "sleep-2" || st.GetDurationMs() != 100 {
		t.Fatalf("timer = %v", st)
	}

	h = append(h, ev(5, EventTimerStarted, map[string]any{"timerId": "sleep-2"}), ev(6, EventTimerFired, map[string]any{"timerId": "sleep-2"}))
	r = replay(t, fn, h...)
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")

	// Timer id mismatch is a determinism violation.
	r = replay(t, fn, started(), ev(2, EventTimerStarted, map[string]any{"timerId": "timer-0"}))
	if r.Status != flovynv1.WorkflowStatus_FAILED || !strings.HasPrefix(failMsg(r), "Determinism violation") {
		t.Fatalf("got %v %q", r.Status, failMsg(r))
	}

	// Cancelled timer surfaces as an error.
	r = replay(t, fn, started(), ev(2, EventTimerStarted, map[string]any{"timerId": "sleep-1"}), ev(3, EventTimerCancelled, map[string]any{"timerId": "sleep-1"}))
	if r.Status != flovynv1.WorkflowStatus_FAILED || failMsg(r) != "Timer cancelled: sleep-1" {
		t.Fatalf("got %v %q", r.Status, failMsg(r))
	}
}

func promiseWorkflow(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
	var v map[string]any
	if err := ctx.Promise("user-approval", PromiseOptions{Timeout: 2 * time.Second}).Get(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func TestPromises(t *testing.T) {
	r := replay(t, promiseWorkflow, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "CREATE_PROMISE", "SUSPEND_WORKFLOW")
	cp := r.Commands[0].GetCreatePromise()
	if cp.GetPromiseId() != "user-approval" || cp.TimeoutMs == nil || cp.GetTimeoutMs() != 2000 {
		t.Fatalf("create = %v", cp)
	}
	if got := last(r).GetSuspendWorkflow().GetReason(); got != "Waiting for promise user-approval to be resolved" {
		t.Fatalf("reason = %q", got)
	}

	const pid = "0d7c2d4e-1f0a-4b3c-9d8e-7f6a5b4c3d2e"
	created := ev(2, EventPromiseCreated, map[string]any{"promiseId": pid, "promiseName": "user-approval", "timeoutMs": 2000})

	r = replay(t, promiseWorkflow, started(), created)
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SUSPEND_WORKFLOW")

	r = replay(t, promiseWorkflow, started(), created,
		ev(3, EventPromiseResolved, map[string]any{"promiseId": pid, "promiseName": "user-approval", "value": map[string]any{"ok": true}}))
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `{"ok":true}`)

	r = replay(t, promiseWorkflow, started(), created,
		ev(3, EventPromiseRejected, map[string]any{"promiseId": pid, "error": "Request denied by admin"}))
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
	if got := failMsg(r); got != "Promise rejected: user-approval: Request denied by admin" {
		t.Fatalf("error = %q", got)
	}

	r = replay(t, promiseWorkflow, started(), created, ev(3, EventPromiseTimeout, map[string]any{"promiseId": pid}))
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
	if got := failMsg(r); !strings.Contains(strings.ToLower(got), "timeout") {
		t.Fatalf("error = %q", got)
	}

	// A terminal event for another promise id does not settle this one.
	r = replay(t, promiseWorkflow, started(), created,
		ev(3, EventPromiseResolved, map[string]any{"promiseId": "other", "value": 1}))
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SUSPEND_WORKFLOW")

	// Name mismatch is a determinism violation.
	r = replay(t, promiseWorkflow, started(), ev(2, EventPromiseCreated, map[string]any{"promiseId": pid, "promiseName": "other"}))
	if !strings.HasPrefix(failMsg(r), "Determinism violation") {
		t.Fatalf("error = %q", failMsg(r))
	}
}

func childWorkflow(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
	if _, err := ctx.ExecuteTask("prep", nil, TaskOptions{}); err != nil {
		return nil, err
	}
	out, err := ExecuteChild[map[string]int](ctx, "child-1", "child-workflow", map[string]int{"value": 5}, ChildOptions{})
	if err != nil {
		return nil, err
	}
	return out["result"] + len(ctx.RandomUUID()), nil
}

func TestChildWorkflows(t *testing.T) {
	h := []Event{started(), scheduled(2, 0, "prep"), completed(3, 0, nil)}
	r := replay(t, childWorkflow, h...)
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SCHEDULE_CHILD_WORKFLOW", "SUSPEND_WORKFLOW")
	sc := r.Commands[0].GetScheduleChildWorkflow()
	if sc.GetChildExecutionName() != "child-1" || sc.GetWorkflowKind() != "child-workflow" ||
		sc.GetChildWorkflowExecutionId() != taskID(1) || sc.GetQueue() != "" || sc.WorkflowDefinitionId != nil {
		t.Fatalf("child = %v", sc)
	}
	jsonEq(t, sc.GetInput(), `{"value":5}`)
	if got := last(r).GetSuspendWorkflow().GetReason(); got != "Waiting for child workflow child-1 to complete" {
		t.Fatalf("reason = %q", got)
	}

	initiated := ev(4, EventChildWorkflowInitiated, map[string]any{"childExecutionName": "child-1", "childWorkflowKind": "child-workflow", "childExecutionId": taskID(1)})
	r = replay(t, childWorkflow, append(h, initiated,
		ev(5, EventChildWorkflowCompleted, map[string]any{"childExecutionName": "child-1", "childExecutionId": taskID(1), "output": map[string]int{"result": 10}}))...)
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `46`) // 10 + len(uuid)

	r = replay(t, childWorkflow, append(h, initiated,
		ev(5, EventChildWorkflowFailed, map[string]any{"childExecutionName": "child-1", "childExecutionId": taskID(1), "childworkflowExecutionId": taskID(1), "error": "Workflow failed: bad"}))...)
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
	if got := failMsg(r); got != "Child workflow failed: child-1 ("+taskID(1)+"): Workflow failed: bad" {
		t.Fatalf("error = %q", got)
	}

	// The id counter advances on replay: a RandomUUID after the replayed child is id #2.
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		ctx.ScheduleTask("prep", nil, TaskOptions{})
		ctx.ScheduleChild("child-1", "child-workflow", nil, ChildOptions{Queue: "other"})
		return ctx.RandomUUID(), nil
	}
	r = replay(t, fn, started(), scheduled(2, 0, "prep"), initiated)
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `"`+taskID(2)+`"`)

	// Name mismatch is a determinism violation.
	r = replay(t, childWorkflow, append(h, ev(4, EventChildWorkflowInitiated, map[string]any{"childExecutionName": "child-2"}))...)
	if !strings.HasPrefix(failMsg(r), "Determinism violation") {
		t.Fatalf("error = %q", failMsg(r))
	}
}

func TestSignalsFIFOPerName(t *testing.T) {
	sig := func(seq int, name string, v any) Event {
		return ev(seq, EventSignalReceived, map[string]any{"signalName": name, "signalValue": v})
	}
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		has := ctx.HasSignal("a")
		count := ctx.PendingSignalCount("a")
		first := ctx.WaitSignal("a")
		second := ctx.WaitSignal("a")
		drained := ctx.DrainSignals("b")
		third := ctx.WaitSignal("a")
		return map[string]any{"has": has, "count": count, "first": first, "second": second, "drained": drained, "third": third}, nil
	}
	h := []Event{started(), sig(2, "a", 1), sig(3, "b", "x"), sig(4, "a", map[string]int{"n": 2}), sig(5, "b", "y")}
	r := replay(t, fn, h...)
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SUSPEND_WORKFLOW")
	if got := last(r).GetSuspendWorkflow().GetReason(); got != "Waiting for signal" {
		t.Fatalf("reason = %q", got)
	}
	r = replay(t, fn, append(h, sig(6, "a", "three"))...)
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(),
		`{"has":true,"count":3,"first":1,"second":{"n":2},"drained":["x","y"],"third":"three"}`)
}

func TestStateEventSourced(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		if err := ctx.SetState("counter", map[string]int{"n": 1}); err != nil {
			return nil, err
		}
		if err := ctx.SetState("other", "x"); err != nil {
			return nil, err
		}
		if err := ctx.ClearState("other"); err != nil {
			return nil, err
		}
		var c struct{ N int }
		ok, err := ctx.GetState("counter", &c)
		if err != nil || !ok {
			return nil, errors.New("counter missing")
		}
		okOther, _ := ctx.GetState("other", nil)
		if _, err := ctx.ExecuteTask("t", nil, TaskOptions{}); err != nil {
			return nil, err
		}
		return map[string]any{"n": c.N, "other": okOther, "keys": ctx.StateKeys()}, nil
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SET_STATE", "SET_STATE", "CLEAR_STATE", "SCHEDULE_TASK", "SUSPEND_WORKFLOW")
	if ss := r.Commands[0].GetSetState(); ss.GetKey() != "counter" {
		t.Fatalf("set = %v", ss)
	}
	jsonEq(t, r.Commands[0].GetSetState().GetValue(), `{"n":1}`)
	if r.Commands[2].GetClearState().GetKey() != "other" {
		t.Fatalf("clear = %v", r.Commands[2])
	}

	h := []Event{started(),
		ev(2, EventStateSet, map[string]any{"key": "counter", "value": map[string]int{"n": 1}}),
		ev(3, EventStateSet, map[string]any{"key": "other", "value": "x"}),
		ev(4, EventStateCleared, map[string]any{"key": "other"}),
		scheduled(5, 0, "t"), completed(6, 0, nil)}
	r = replay(t, fn, h...)
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `{"n":1,"other":false,"keys":["counter"]}`)

	// Key mismatch at the same position is a determinism violation.
	r = replay(t, fn, started(), ev(2, EventStateSet, map[string]any{"key": "renamed"}))
	if !strings.HasPrefix(failMsg(r), "Determinism violation") {
		t.Fatalf("error = %q", failMsg(r))
	}
	// So is a clear where the code sets.
	r = replay(t, fn, started(), ev(2, EventStateCleared, map[string]any{"key": "counter"}))
	if !strings.HasPrefix(failMsg(r), "Determinism violation") {
		t.Fatalf("error = %q", failMsg(r))
	}
}

func TestRunRecordedOnceAndReplayed(t *testing.T) {
	calls := 0
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		n, err := Run(ctx, "double", func() (int, error) { calls++; return 42, nil })
		if err != nil {
			return nil, err
		}
		if err := ctx.Sleep(time.Millisecond); err != nil {
			return nil, err
		}
		return n, nil
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "RECORD_OPERATION", "START_TIMER", "SUSPEND_WORKFLOW")
	ro := r.Commands[0].GetRecordOperation()
	if ro.GetOperationName() != "double" {
		t.Fatalf("op = %v", ro)
	}
	jsonEq(t, ro.GetResult(), `42`)
	if calls != 1 {
		t.Fatalf("calls = %d", calls)
	}

	r = replay(t, fn, started(),
		ev(2, EventOperationCompleted, map[string]any{"operationName": "double", "result": 7}),
		ev(3, EventTimerStarted, map[string]any{"timerId": "sleep-1"}), ev(4, EventTimerFired, map[string]any{"timerId": "sleep-1"}))
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `7`) // the recorded value, not a new call
	if calls != 1 {
		t.Fatalf("fn called on replay")
	}

	// "name" is accepted in place of "operationName"; a different name is a violation.
	r = replay(t, fn, started(), ev(2, EventOperationCompleted, map[string]any{"name": "triple", "result": 7}))
	if !strings.HasPrefix(failMsg(r), "Determinism violation") {
		t.Fatalf("error = %q", failMsg(r))
	}
}

func TestNowInputAndIdentity(t *testing.T) {
	fn := func(ctx *WorkflowContext, input json.RawMessage) (any, error) {
		in, err := Decode[struct{ N int }](input)
		if err != nil {
			return nil, err
		}
		return map[string]any{"now": ctx.Now().UnixMilli(), "n": in.N, "id": ctx.ExecutionID(), "kind": ctx.Kind(), "uuid": ctx.RandomUUID()}, nil
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(),
		`{"now":1767000000000,"n":1,"id":"`+testExecID+`","kind":"wf","uuid":"`+taskID(0)+`"}`)
}

func TestPanicAndErrorsFailWorkflow(t *testing.T) {
	r := replay(t, func(*WorkflowContext, json.RawMessage) (any, error) { panic("kaboom") }, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_FAILED, "FAIL_WORKFLOW")
	if got := failMsg(r); got != "workflow panicked: kaboom" {
		t.Fatalf("error = %q", got)
	}
	r = replay(t, func(*WorkflowContext, json.RawMessage) (any, error) { return nil, errors.New("Test error message") }, started())
	if got := failMsg(r); got != "Test error message" {
		t.Fatalf("error = %q", got)
	}
	r = replay(t, func(*WorkflowContext, json.RawMessage) (any, error) { return make(chan int), nil }, started())
	if r.Status != flovynv1.WorkflowStatus_FAILED {
		t.Fatalf("status = %v", r.Status)
	}
}

func TestDeferredCallsAfterSuspensionRecordNothing(t *testing.T) {
	fn := func(ctx *WorkflowContext, _ json.RawMessage) (any, error) {
		defer func() {
			ctx.ScheduleTask("cleanup", nil, TaskOptions{})
			if err := ctx.SetState("k", 1); !errors.Is(err, ErrWorkflowStopped) {
				panic("expected ErrWorkflowStopped")
			}
			if _, err := ctx.Timer(time.Second).Raw(); !errors.Is(err, ErrWorkflowStopped) {
				panic("expected ErrWorkflowStopped")
			}
		}()
		return ctx.ExecuteTask("main", nil, TaskOptions{})
	}
	r := replay(t, fn, started())
	wantCommands(t, r, flovynv1.WorkflowStatus_SUSPENDED, "SCHEDULE_TASK", "SUSPEND_WORKFLOW")
}

func TestUndecodableEventDataMisses(t *testing.T) {
	// event_data that is not a JSON object makes every lookup miss, as in the SDKs.
	r := replay(t, echoWorkflow, started(), Event{Sequence: 2, Type: EventTaskScheduled, Data: []byte("not json")})
	if !strings.HasPrefix(failMsg(r), "Determinism violation") {
		t.Fatalf("error = %q", failMsg(r))
	}
	// Unknown event types are ignored; history is sorted by sequence.
	r = replay(t, echoWorkflow, completed(4, 0, "late"), ev(3, "SOMETHING_NEW", nil), scheduled(2, 0, "echo-task"), started())
	wantCommands(t, r, flovynv1.WorkflowStatus_COMPLETED, "COMPLETE_WORKFLOW")
	jsonEq(t, last(r).GetCompleteWorkflow().GetOutput(), `{"echo":"late"}`)
}
