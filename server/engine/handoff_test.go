package engine

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// handoffEnv is a serviceEnv whose polls hold (for a minute; a re-check an
// hour away) and whose offers are announced on opened.
type handoffEnv struct {
	*serviceEnv
	opened chan *offer
}

func newHandoffEnv(t *testing.T) *handoffEnv {
	s := newServiceEnv(t)
	s.e.cfg.PollHold, s.e.cfg.RecheckInterval = time.Minute, time.Hour
	h := &handoffEnv{serviceEnv: s, opened: make(chan *offer, 64)}
	s.e.offers.opened = h.opened
	return h
}

// waiting returns once n pollers wait with an offer open.
func (h *handoffEnv) waiting(n int) {
	h.t.Helper()
	for range n {
		select {
		case <-h.opened:
		case <-time.After(time.Minute):
			h.t.Fatal("no poller began to wait")
		}
	}
}

// sameTransaction reports whether the row of table with id was last
// written by the transaction that wrote the workflow's event of type.
func (h *handoffEnv) sameTransaction(table string, id, workflow uuid.UUID, eventType string) bool {
	h.t.Helper()
	var same bool
	err := h.st.Pool().QueryRow(h.ctx, `SELECT r.xmin::text = e.xmin::text FROM `+table+` r, workflow_events e
		WHERE r.id = $1 AND e.workflow_id = $2 AND e.event_type = $3`, id, workflow, eventType).Scan(&same)
	if err != nil {
		h.t.Fatal(err)
	}
	return same
}

func pollAsync[T any](poll func(context.Context) (*T, error), ctx context.Context) <-chan *T {
	out := make(chan *T, 1)
	go func() {
		got, err := poll(ctx)
		if err != nil {
			panic(err)
		}
		out <- got
	}()
	return out
}

func recv[T any](t *testing.T, ch <-chan *T) *T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatal("the poll did not answer")
		return nil
	}
}

// A workflow started, a task scheduled and a task completed while a poller
// waits go to that poller in the transaction that made them runnable: no
// claim of their own.
func TestWaitingPollersAreHandedWork(t *testing.T) {
	h := newHandoffEnv(t)
	pollWorkflow := func(ctx context.Context) (*Workflow, error) { return h.e.PollWorkflow(ctx, h.tenant, "q", "w") }
	pollTask := func(ctx context.Context) (*Task, error) { return h.e.PollTask(ctx, h.tenant, "q", "tw") }

	polled := pollAsync(pollWorkflow, h.ctx)
	h.waiting(1)
	res, err := h.e.StartWorkflow(h.ctx, StartRequest{Tenant: h.tenant, Kind: "k", Queue: "q"})
	if err != nil {
		t.Fatal(err)
	}
	wf := recv(t, polled)
	if wf == nil || wf.ID != res.ID || wf.Status != StatusRunning || wf.WorkerID == nil || *wf.WorkerID != "w" {
		t.Fatalf("handed %+v", wf)
	}
	if !h.sameTransaction("workflow_executions", wf.ID, wf.ID, EventWorkflowStarted) {
		t.Fatal("the workflow task was claimed in a transaction of its own")
	}

	// Two tasks, two waiting task pollers: one each.
	tasks := []<-chan *Task{pollAsync(pollTask, h.ctx), pollAsync(pollTask, h.ctx)}
	h.waiting(2)
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	err = h.e.SubmitCommands(h.ctx, h.tenant, wf.ID, SubmitSuspended, []Command{
		ScheduleTask{ID: ids[0], Kind: "t", Input: json.RawMessage(`1`)},
		ScheduleTask{ID: ids[1], Kind: "t", Input: json.RawMessage(`2`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uuid.UUID]bool{}
	for _, ch := range tasks {
		task := recv(t, ch)
		if task == nil || task.Status != StatusRunning || task.ExecutionCount != 1 {
			t.Fatalf("handed task %+v", task)
		}
		got[task.ID] = true
		if !h.sameTransaction("tasks", task.ID, wf.ID, EventTaskScheduled) {
			t.Fatal("a task was claimed in a transaction of its own")
		}
	}
	if !got[ids[0]] || !got[ids[1]] {
		t.Fatalf("handed tasks %v, want %v", got, ids)
	}
	var attempts int
	if err := h.st.Pool().QueryRow(h.ctx, `SELECT count(*) FROM task_attempts WHERE task_id = ANY($1) AND status = 'RUNNING'`, ids).Scan(&attempts); err != nil || attempts != 2 {
		t.Fatalf("%d running attempts (%v), want 2", attempts, err)
	}

	// The last task's completion hands the workflow back.
	polled = pollAsync(pollWorkflow, h.ctx)
	h.waiting(1)
	for _, id := range ids {
		if err := h.e.CompleteTask(h.ctx, h.tenant, id, json.RawMessage(`"ok"`)); err != nil {
			t.Fatal(err)
		}
	}
	if again := recv(t, polled); again == nil || again.ID != wf.ID || again.Status != StatusRunning {
		t.Fatalf("handed %+v", again)
	}
}

// A change that took a poller's offer and did not commit gives it back:
// the poller waits on, and gets the next work.
func TestOfferOfAFailedChangeIsGivenBack(t *testing.T) {
	h := newHandoffEnv(t)
	wf := h.held()
	polled := pollAsync(func(ctx context.Context) (*Task, error) { return h.e.PollTask(ctx, h.tenant, "q", "tw") }, h.ctx)
	h.waiting(1)
	lost := uuid.New()
	err := h.e.SubmitCommands(h.ctx, h.tenant, wf.ID, SubmitSuspended, []Command{
		ScheduleTask{ID: lost, Kind: "t"},
		ScheduleTask{ID: uuid.New(), Kind: ""}, // refused: the whole submission is
	})
	if err == nil {
		t.Fatal("a submission with an empty task kind was accepted")
	}
	h.waiting(1) // the same poller, with a new offer
	kept := uuid.New()
	if err := h.e.SubmitCommands(h.ctx, h.tenant, wf.ID, SubmitSuspended, []Command{ScheduleTask{ID: kept, Kind: "t"}}); err != nil {
		t.Fatal(err)
	}
	if task := recv(t, polled); task == nil || task.ID != kept {
		t.Fatalf("handed %+v, want task %s", task, kept)
	}
	var n int
	if err := h.st.Pool().QueryRow(h.ctx, `SELECT count(*) FROM tasks WHERE id = $1`, lost).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused submission's task exists (%d, %v)", n, err)
	}
}

// A poller that leaves as work is handed to it leaves nothing leased to
// nobody: whichever comes first, the workflow ends up PENDING, and the next
// poll claims it.
func TestPollerLeavingAsWorkIsHandedOver(t *testing.T) {
	h := newHandoffEnv(t)
	for round := range 20 {
		ctx, cancel := context.WithCancel(h.ctx)
		polled := pollAsync(func(ctx context.Context) (*Workflow, error) { return h.e.PollWorkflow(ctx, h.tenant, "q", "gone") }, ctx)
		h.waiting(1)
		var wg sync.WaitGroup
		var res StartResult
		wg.Go(func() {
			var err error
			if res, err = h.e.StartWorkflow(h.ctx, StartRequest{Tenant: h.tenant, Kind: "k", Queue: "q"}); err != nil {
				t.Error(err)
			}
		})
		cancel()
		wg.Wait()
		if got := recv(t, polled); got != nil {
			t.Fatalf("round %d: a poller whose caller left returned %+v", round, got)
		}
		if w, err := h.e.Workflow(h.ctx, h.tenant, res.ID); err != nil || w.Status != StatusPending || w.WorkerID != nil {
			t.Fatalf("round %d: the workflow is %s held by %v (%v), want PENDING and free", round, w.Status, w.WorkerID, err)
		}
		h.e.cfg.PollHold = 0
		if next, err := h.e.PollWorkflow(h.ctx, h.tenant, "q", "next"); err != nil || next == nil || next.ID != res.ID {
			t.Fatalf("round %d: the next poll got %+v (%v), want %s", round, next, err, res.ID)
		}
		h.e.cfg.PollHold = time.Minute
	}
}

// An agent created, or woken, while an agent poller waits goes to it in
// the same transaction.
func TestWaitingAgentPollersAreHandedAgents(t *testing.T) {
	h := newHandoffEnv(t)
	poll := func(ctx context.Context) (*Agent, error) {
		return h.e.PollAgent(ctx, h.tenant, "q", "aw", []string{"chat"})
	}
	polled := pollAsync(poll, h.ctx)
	h.waiting(1)
	// Another kind is not for this poller: it stays PENDING.
	other, err := h.e.CreateAgent(h.ctx, CreateAgentRequest{Tenant: h.tenant, Kind: "research", Queue: "q"})
	if err != nil {
		t.Fatal(err)
	}
	h.waiting(1) // woken by its announcement, the poller found nothing and waits again
	a, err := h.e.CreateAgent(h.ctx, CreateAgentRequest{Tenant: h.tenant, Kind: "chat", Queue: "q"})
	if err != nil || a.Status != StatusPending {
		t.Fatalf("created %+v (%v), want it PENDING", a, err)
	}
	got := recv(t, polled)
	if got == nil || got.ID != a.ID || got.Status != StatusRunning || got.StartedAt == nil || !got.StartedAt.Equal(got.CreatedAt) {
		t.Fatalf("handed %+v; want %s, claimed in the transaction that created it", got, a.ID)
	}
	if o, err := h.e.Agent(h.ctx, h.tenant, other.ID); err != nil || o.Status != StatusPending {
		t.Fatalf("the agent of another kind is %s (%v)", o.Status, err)
	}

	// A signal it waits for wakes it into the next waiting poll.
	if err := h.e.SuspendAgent(h.ctx, h.tenant, a.ID, AgentWait{Kind: WaitSignal, Signal: "go"}); err != nil {
		t.Fatal(err)
	}
	polled = pollAsync(poll, h.ctx)
	h.waiting(1)
	if _, resumed, err := h.e.SignalAgent(h.ctx, h.tenant, a.ID, "go", []byte(`1`), nil); err != nil || !resumed {
		t.Fatalf("signal: resumed %v, %v", resumed, err)
	}
	if again := recv(t, polled); again == nil || again.ID != a.ID || again.Status != StatusRunning {
		t.Fatalf("handed %+v after the signal", again)
	}
}

// A poll still running on a connection that has closed (after the reclaim
// of its worker's work ran) does not keep what it claims: the work goes
// back to the queue, not to a worker that cannot receive it.
func TestPollOfAWorkerWhoseConnectionClosedClaimsNothing(t *testing.T) {
	h := newHandoffEnv(t)
	h.e.cfg.PollHold = 0
	h.e.presence.Seen(7, h.tenant, "gone")
	h.e.ConnectionClosed(h.ctx, 7)
	res, err := h.e.StartWorkflow(h.ctx, StartRequest{Tenant: h.tenant, Kind: "k", Queue: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.e.PollWorkflow(h.ctx, h.tenant, "q", "gone"); err != nil || got != nil {
		t.Fatalf("the poll of a worker whose connection closed got %+v (%v)", got, err)
	}
	if w, err := h.e.Workflow(h.ctx, h.tenant, res.ID); err != nil || w.Status != StatusPending || w.WorkerID != nil {
		t.Fatalf("the workflow is %s held by %v (%v), want PENDING", w.Status, w.WorkerID, err)
	}
	// Back on a new connection, the worker gets it.
	h.e.presence.Seen(8, h.tenant, "gone")
	if got, err := h.e.PollWorkflow(h.ctx, h.tenant, "q", "gone"); err != nil || got == nil || got.ID != res.ID {
		t.Fatalf("after reconnecting the worker got %+v (%v)", got, err)
	}
}
