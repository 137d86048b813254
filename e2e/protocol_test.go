package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/store"
)

// handWorker drives the worker side of the protocol by hand, to produce
// exact interleavings the SDK only produces by chance.
type handWorker struct {
	e    *env
	wf   flovynv1.WorkflowDispatchClient
	task flovynv1.TaskExecutionClient
	q    string
	id   string
}

func (e *env) handWorker(c *sdk.Client, q string) *handWorker {
	wf, task, _, _ := raw(c)
	return &handWorker{e: e, wf: wf, task: task, q: q, id: "hand-" + uuid.NewString()[:8]}
}

// pollOnce makes one workflow poll (held at most the server's poll hold).
func (h *handWorker) pollOnce() *flovynv1.WorkflowExecution {
	h.e.t.Helper()
	r, err := h.wf.PollWorkflow(ctxT(h.e.t), &flovynv1.PollRequest{WorkerId: h.id, Queue: h.q, TimeoutSeconds: 1})
	if err != nil {
		h.e.t.Fatalf("PollWorkflow: %v", err)
	}
	return r.WorkflowExecution
}

// poll polls until it is handed a workflow task.
func (h *handWorker) poll() *flovynv1.WorkflowExecution {
	h.e.t.Helper()
	var got *flovynv1.WorkflowExecution
	waitUntil(h.e.t, "a workflow task is dispatched", func() bool {
		got = h.pollOnce()
		return got != nil
	})
	if got.WorkflowTaskTimeMillis <= 0 {
		h.e.t.Fatalf("workflow_task_time_millis %d", got.WorkflowTaskTimeMillis)
	}
	return got
}

func (h *handWorker) pollTask() *flovynv1.TaskExecutionInfo {
	h.e.t.Helper()
	var got *flovynv1.TaskExecutionInfo
	waitUntil(h.e.t, "a task is dispatched", func() bool {
		r, err := h.task.PollTask(ctxT(h.e.t), &flovynv1.PollTaskRequest{WorkerId: h.id, Queue: h.q, TimeoutSeconds: 1})
		if err != nil {
			h.e.t.Fatalf("PollTask: %v", err)
		}
		got = r.Task
		return got != nil
	})
	return got
}

func (h *handWorker) completeTask(id string, output string) {
	h.e.t.Helper()
	if _, err := h.task.CompleteTask(ctxT(h.e.t), &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: []byte(output)}); err != nil {
		h.e.t.Fatalf("CompleteTask: %v", err)
	}
}

func (h *handWorker) submit(id string, status flovynv1.WorkflowStatus, cmds ...*flovynv1.WorkflowCommand) {
	h.e.t.Helper()
	_, err := h.wf.SubmitWorkflowCommands(ctxT(h.e.t), &flovynv1.SubmitWorkflowCommandsRequest{
		WorkflowExecutionId: id, Status: status, Commands: cmds,
	})
	if err != nil {
		h.e.t.Fatalf("SubmitWorkflowCommands (%s): %v", status, err)
	}
}

// Command builders. Sequence numbers are deliberately meaningless: the
// server must ignore them.
func cmdScheduleTask(id, kind string) *flovynv1.WorkflowCommand {
	return &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_SCHEDULE_TASK, SequenceNumber: 1,
		CommandData: &flovynv1.WorkflowCommand_ScheduleTask{ScheduleTask: &flovynv1.ScheduleTaskCommand{
			TaskExecutionId: id, Kind: kind, Input: []byte(`{"k":"` + kind + `"}`)}}}
}

func cmdStartTimer(id string, ms int64) *flovynv1.WorkflowCommand {
	return &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_START_TIMER, SequenceNumber: 1,
		CommandData: &flovynv1.WorkflowCommand_StartTimer{StartTimer: &flovynv1.StartTimerCommand{TimerId: id, DurationMs: ms}}}
}

func cmdCreatePromise(name string) *flovynv1.WorkflowCommand {
	return &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_CREATE_PROMISE, SequenceNumber: 99,
		CommandData: &flovynv1.WorkflowCommand_CreatePromise{CreatePromise: &flovynv1.CreatePromiseCommand{PromiseId: name}}}
}

func cmdScheduleChild(name, kind, id, queue string) *flovynv1.WorkflowCommand {
	return &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_SCHEDULE_CHILD_WORKFLOW, SequenceNumber: -3,
		CommandData: &flovynv1.WorkflowCommand_ScheduleChildWorkflow{ScheduleChildWorkflow: &flovynv1.ScheduleChildWorkflowCommand{
			ChildExecutionName: name, WorkflowKind: &kind, ChildWorkflowExecutionId: id, Input: []byte(`7`), Queue: queue}}}
}

func cmdSuspend(reason string) *flovynv1.WorkflowCommand {
	return &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_SUSPEND_WORKFLOW, SequenceNumber: 0,
		CommandData: &flovynv1.WorkflowCommand_SuspendWorkflow{SuspendWorkflow: &flovynv1.SuspendWorkflowCommand{Reason: reason}}}
}

func cmdComplete(output string) *flovynv1.WorkflowCommand {
	return &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_COMPLETE_WORKFLOW, SequenceNumber: 1000,
		CommandData: &flovynv1.WorkflowCommand_CompleteWorkflow{CompleteWorkflow: &flovynv1.CompleteWorkflowCommand{Output: []byte(output)}}}
}

// cmdUnspecified is what the SDKs send for commands with no wire form.
func cmdUnspecified() *flovynv1.WorkflowCommand {
	return &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_COMMAND_TYPE_UNSPECIFIED, SequenceNumber: 5}
}

// TestWakeUpWhileHeldRedispatches: a wake-up event appended while a worker
// holds the workflow task must send the workflow back to PENDING when that
// worker reports SUSPENDED (contract §0.8, §4.4).
func TestWakeUpWhileHeldRedispatches(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.client()
	h := e.handWorker(c, q)
	id := e.startWF(c, "hand", nil, q)

	first := h.poll()
	if first.Id != id || first.Kind != "hand" || first.OrgId != e.tenant.ID.String() {
		t.Fatalf("dispatched %s/%s/%s", first.Id, first.Kind, first.OrgId)
	}
	x, y := uuid.NewString(), uuid.NewString()
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, cmdScheduleTask(x, "tx"), cmdScheduleTask(y, "ty"), cmdSuspend("waiting for 2 tasks"))
	if s := e.workflowRow(id).Status; s != store.StatusWaiting {
		t.Fatalf("status %s after SUSPENDED, want WAITING", s)
	}
	a, b := h.pollTask(), h.pollTask()
	if a.ExecutionCount != 1 || b.ExecutionCount != 1 || a.WorkflowExecutionId != id ||
		!slices.Equal(sorted(a.TaskExecutionId, b.TaskExecutionId), sorted(x, y)) {
		t.Fatalf("tasks dispatched: %v / %v", a, b)
	}
	h.completeTask(a.TaskExecutionId, `{"n":1}`)
	second := h.poll() // held from here on
	if second.WorkflowTaskTimeMillis < first.WorkflowTaskTimeMillis {
		t.Fatalf("workflow task time went back: %d then %d", first.WorkflowTaskTimeMillis, second.WorkflowTaskTimeMillis)
	}
	h.completeTask(b.TaskExecutionId, `{"n":2}`) // while held
	// Like the FFI SDKs: SUSPENDED without a SUSPEND_WORKFLOW command.
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED)
	if s := e.workflowRow(id).Status; s != store.StatusPending {
		t.Fatalf("status %s after SUSPENDED with a task completed meanwhile, want PENDING", s)
	}
	h.poll()
	seq, err := c.SignalWorkflow(ctxT(t), id, "poke", 1) // while held
	if err != nil || seq <= 0 {
		t.Fatalf("signal: %d, %v", seq, err)
	}
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, cmdSuspend("waiting for more"))
	if s := e.workflowRow(id).Status; s != store.StatusPending {
		t.Fatalf("status %s after SUSPENDED with a signal received meanwhile, want PENDING", s)
	}
	h.poll()
	// Nothing happened meanwhile this time: the workflow waits and is not offered.
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, cmdUnspecified())
	if s := e.workflowRow(id).Status; s != store.StatusWaiting {
		t.Fatalf("status %s after a quiet SUSPENDED, want WAITING", s)
	}
	if got := h.pollOnce(); got != nil {
		t.Fatalf("a waiting workflow was dispatched: %s", got.Id)
	}
	if _, err := c.SignalWorkflow(ctxT(t), id, "poke", 2); err != nil {
		t.Fatal(err)
	}
	h.poll()
	h.submit(id, flovynv1.WorkflowStatus_COMPLETED, cmdComplete(`"done"`))
	var out string
	if err := e.wait(c, id, &out); err != nil || out != "done" {
		t.Fatalf("result %q, %v", out, err)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_COMPLETED",
		"TASK_COMPLETED", "SIGNAL_RECEIVED", "WORKFLOW_SUSPENDED", "SIGNAL_RECEIVED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if str(t, evs[1], "taskExecutionId") != x || str(t, evs[2], "taskExecutionId") != y {
		t.Fatalf("task ids %s %s, want the client's %s %s", evs[1].Data, evs[2].Data, x, y)
	}
	wantField(t, evs[1], "kind", `"tx"`)
	wantField(t, evs[3], "reason", `"waiting for 2 tasks"`)
	if int64(evs[6].Sequence) != seq {
		t.Fatalf("signal sequence %d, event %d", seq, evs[6].Sequence)
	}
}

// TestCommandsAppendInCommandOrder submits one batch of every id-carrying
// command with meaningless sequence numbers and an UNSPECIFIED command:
// the events follow the command order, the client's ids are kept.
func TestCommandsAppendInCommandOrder(t *testing.T) {
	e := start(t)
	q, childQueue := queue(t), queue(t)
	c := e.client()
	h := e.handWorker(c, q)
	id := e.startWF(c, "hand", nil, q)
	taskID, childID := uuid.NewString(), uuid.NewString()
	h.poll()
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED,
		cmdUnspecified(),
		cmdScheduleTask(taskID, "work"),
		cmdStartTimer("sleep-1", 3_600_000),
		cmdCreatePromise("approval"),
		cmdScheduleChild("kid", "kid-kind", childID, childQueue),
		cmdSuspend("waiting"),
	)
	evs := e.events(c, id)
	var order []string
	for _, ev := range evs {
		if ev.Type != "CHILD_WORKFLOW_STARTED" { // optional, may follow INITIATED
			order = append(order, ev.Type)
		}
	}
	want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "TIMER_STARTED", "PROMISE_CREATED", "CHILD_WORKFLOW_INITIATED", "WORKFLOW_SUSPENDED"}
	if !slices.Equal(order, want) {
		t.Fatalf("history %v, want %v (plus an optional CHILD_WORKFLOW_STARTED)", types(evs), want)
	}
	scheduled := first(t, evs, "TASK_SCHEDULED")
	if str(t, scheduled, "taskExecutionId") != taskID {
		t.Fatalf("TASK_SCHEDULED %s, want the client's id %s", scheduled.Data, taskID)
	}
	wantField(t, scheduled, "queue", `"`+q+`"`)
	wantField(t, scheduled, "maxRetries", `3`)
	wantField(t, scheduled, "input", `{"k":"work"}`)
	timer := first(t, evs, "TIMER_STARTED")
	wantField(t, timer, "timerId", `"sleep-1"`)
	wantField(t, timer, "durationMs", `3600000`)
	promise := first(t, evs, "PROMISE_CREATED")
	wantField(t, promise, "promiseName", `"approval"`)
	mustUUID(t, str(t, promise, "promiseId"))
	init := first(t, evs, "CHILD_WORKFLOW_INITIATED")
	if str(t, init, "childExecutionId") != childID || str(t, init, "childExecutionName") != "kid" || str(t, init, "childWorkflowKind") != "kid-kind" {
		t.Fatalf("CHILD_WORKFLOW_INITIATED %s, want the client's id %s", init.Data, childID)
	}
	wantField(t, init, "input", `7`)
	child := e.events(c, childID)
	wantField(t, first(t, child, "WORKFLOW_STARTED"), "queue", `"`+childQueue+`"`)
	wantField(t, first(t, child, "WORKFLOW_STARTED"), "workflowKind", `"kid-kind"`)
	if s := e.workflowRow(childID); s.ParentID == nil || s.ParentID.String() != id {
		t.Fatalf("child's parent %v, want %s", s.ParentID, id)
	}
}

// TestReplayedCommandsAreIdempotent resubmits each id-carrying command in a
// later workflow task, as an SDK replaying from an empty history (or a late
// submit after a reclaim) does: the submission is accepted and nothing is
// duplicated (contract §4.2, §8).
func TestReplayedCommandsAreIdempotent(t *testing.T) {
	e := start(t)
	c := e.client()
	for _, tc := range []struct {
		name  string
		cmd   func(childQueue string) *flovynv1.WorkflowCommand
		event string
	}{
		{"task", func(string) *flovynv1.WorkflowCommand {
			return cmdScheduleTask("5a1e0c3e-0000-4000-8000-000000000001", "work")
		}, "TASK_SCHEDULED"},
		{"timer", func(string) *flovynv1.WorkflowCommand { return cmdStartTimer("sleep-1", 3_600_000) }, "TIMER_STARTED"},
		{"promise", func(string) *flovynv1.WorkflowCommand { return cmdCreatePromise("approval") }, "PROMISE_CREATED"},
		// A replayed SCHEDULE_CHILD_WORKFLOW hits the unique key of the child
		// execution; the server must treat that as "exists already" without
		// spoiling the rest of the submission's transaction.
		{"child", func(cq string) *flovynv1.WorkflowCommand {
			return cmdScheduleChild("kid", "kid-kind", "5a1e0c3e-0000-4000-8000-000000000002", cq)
		}, "CHILD_WORKFLOW_INITIATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			q, childQueue := queue(t), queue(t)
			h := e.handWorker(c, q)
			id := e.startWF(c, "hand", nil, q)
			h.poll()
			h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, tc.cmd(childQueue), cmdSuspend("waiting"))
			before := e.events(c, id)
			if _, err := c.SignalWorkflow(ctxT(t), id, "wake", nil); err != nil {
				t.Fatal(err)
			}
			h.poll()
			// The same command again, in the next workflow task.
			h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, tc.cmd(childQueue), cmdSuspend("waiting again"))
			after := e.events(c, id)
			if count(after, tc.event) != 1 || len(after) != len(before)+2 {
				t.Fatalf("history went from %v to %v", types(before), types(after))
			}
			if s := e.workflowRow(id).Status; s != store.StatusWaiting {
				t.Fatalf("status %s, want WAITING", s)
			}
			switch tc.name {
			case "promise":
				if got := str(t, first(t, after, tc.event), "promiseId"); got != str(t, first(t, before, tc.event), "promiseId") {
					t.Fatalf("promise id changed to %s", got)
				}
			case "task":
				var n int
				if err := e.srv.Store().Pool().QueryRow(ctxT(t), `SELECT count(*) FROM tasks WHERE workflow_id = $1`, id).Scan(&n); err != nil || n != 1 {
					t.Fatalf("%d tasks (%v), want 1", n, err)
				}
			case "child":
				wantCounts(t, e.events(c, "5a1e0c3e-0000-4000-8000-000000000002"), map[string]int{"WORKFLOW_STARTED": 1})
			}
		})
	}
}

func sorted(ss ...string) []string {
	slices.Sort(ss)
	return ss
}

// TestCancelTimerCommand: CANCEL_TIMER records TIMER_CANCELLED and the timer
// never fires.
func TestCancelTimerCommand(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.client()
	h := e.handWorker(c, q)
	id := e.startWF(c, "hand", nil, q)
	h.poll()
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, cmdStartTimer("sleep-1", 300), cmdSuspend("sleeping"))
	if _, err := c.SignalWorkflow(ctxT(t), id, "wake", nil); err != nil {
		t.Fatal(err)
	}
	h.poll()
	h.submit(id, flovynv1.WorkflowStatus_SUSPENDED, &flovynv1.WorkflowCommand{
		CommandType: flovynv1.CommandType_CANCEL_TIMER,
		CommandData: &flovynv1.WorkflowCommand_CancelTimer{CancelTimer: &flovynv1.CancelTimerCommand{TimerId: "sleep-1"}},
	}, cmdSuspend("timer cancelled"))
	var status string
	if err := e.srv.Store().Pool().QueryRow(ctxT(t), `SELECT status FROM timers WHERE workflow_id = $1`, id).Scan(&status); err != nil || status != "CANCELLED" {
		t.Fatalf("timer %s (%v), want CANCELLED", status, err)
	}
	time.Sleep(500 * time.Millisecond) // past the timer's due time
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"TIMER_STARTED": 1, "TIMER_CANCELLED": 1, "TIMER_FIRED": 0})
	wantField(t, first(t, evs, "TIMER_CANCELLED"), "timerId", `"sleep-1"`)
	if s := e.workflowRow(id).Status; s != store.StatusWaiting {
		t.Fatalf("status %s, want WAITING (a cancelled timer wakes nothing)", s)
	}
}
