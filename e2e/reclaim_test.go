package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/store"
)

// TestTaskReclaimedAfterWorkerDies kills a worker in the middle of a task
// (its connection drops); another worker must get the task as attempt 2.
func TestTaskReclaimedAfterWorkerDies(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("reclaim-wf", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return ctx.ExecuteTask("work", "payload", sdk.TaskOptions{})
		})
	})

	// The doomed worker: its task blocks until the test ends.
	started := make(chan string, 1)
	block := make(chan struct{})
	doomedClient := e.client()
	doomed := sdk.NewWorker(doomedClient, sdk.WorkerOptions{Queue: q, NoWorkBackoff: 10 * time.Millisecond})
	doomed.RegisterTask("work", func(ctx *sdk.TaskContext, _ json.RawMessage) (any, error) {
		started <- ctx.TaskExecutionID()
		<-block
		return "from the dead worker", nil
	})
	kill := runDoomed(t, doomedClient, doomed, block)

	c := e.client()
	id := e.startWF(c, "reclaim-wf", nil, q)
	var taskID string
	select {
	case taskID = <-started:
	case <-time.After(waitTimeout):
		t.Fatal("the task never started")
	}
	taskState := func() (status string, attempts int) {
		err := e.srv.Store().Pool().QueryRow(ctxT(t), `SELECT status, execution_count FROM tasks WHERE id = $1`, taskID).
			Scan(&status, &attempts)
		if err != nil {
			t.Fatal(err)
		}
		return status, attempts
	}
	if status, n := taskState(); status != "RUNNING" || n != 1 {
		t.Fatalf("task %s: %s after %d attempts, want RUNNING, attempt 1", taskID, status, n)
	}

	// Kill it: stop polling and drop the connection, the task still running.
	kill()

	attempts := make(chan int, 4)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("work", func(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
			attempts <- ctx.Attempt()
			return map[string]any{"attempt": ctx.Attempt(), "input": input, "task": ctx.TaskExecutionID()}, nil
		})
	})
	var out struct {
		Attempt int             `json:"attempt"`
		Input   json.RawMessage `json:"input"`
		Task    string          `json:"task"`
	}
	if err := e.wait(c, id, &out); err != nil {
		t.Fatal(err)
	}
	if out.Attempt != 2 || out.Task != taskID || string(out.Input) != `"payload"` {
		t.Fatalf("result %+v, want task %s at attempt 2", out, taskID)
	}
	if got := <-attempts; got != 2 {
		t.Fatalf("second worker ran attempt %d", got)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"TASK_SCHEDULED": 1, "TASK_COMPLETED": 1, "TASK_FAILED": 0, "WORKFLOW_COMPLETED": 1})
	wantField(t, first(t, evs, "TASK_COMPLETED"), "output", string(mustJSON(t, out)))
	if status, n := taskState(); status != "COMPLETED" || n != 2 {
		t.Fatalf("task %s: %s after %d attempts", taskID, status, n)
	}
	var lost int
	if err := e.srv.Store().Pool().QueryRow(ctxT(t),
		`SELECT count(*) FROM task_attempts WHERE task_id = $1 AND attempt = 1 AND status = 'LOST'`, taskID).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	if lost != 1 {
		t.Fatal("the first attempt is not recorded as lost")
	}
}

// TestWorkflowTaskReclaimedAfterWorkerDies kills a worker while it holds a
// workflow task; another worker must run the workflow, with the same
// workflow task time.
func TestWorkflowTaskReclaimedAfterWorkerDies(t *testing.T) {
	e := start(t)
	q := queue(t)
	held := make(chan int64, 1)
	block := make(chan struct{})
	doomedClient := e.client()
	doomed := sdk.NewWorker(doomedClient, sdk.WorkerOptions{Queue: q, NoWorkBackoff: 10 * time.Millisecond})
	doomed.RegisterWorkflow("stuck-wf", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
		held <- ctx.Now().UnixMilli()
		<-block
		return "from the dead worker", nil
	})
	kill := runDoomed(t, doomedClient, doomed, block)

	c := e.client()
	id := e.startWF(c, "stuck-wf", nil, q)
	var firstTime int64
	select {
	case firstTime = <-held:
	case <-time.After(waitTimeout):
		t.Fatal("the workflow was never dispatched")
	}
	if s := e.workflowRow(id).Status; s != store.StatusRunning {
		t.Fatalf("status %s while a worker holds it", s)
	}
	kill()

	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("stuck-wf", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return map[string]int64{"taskTime": ctx.Now().UnixMilli()}, nil
		})
	})
	var out struct{ TaskTime int64 }
	if err := e.wait(c, id, &out); err != nil {
		t.Fatal(err)
	}
	if out.TaskTime != firstTime {
		t.Fatalf("re-delivered workflow task has time %d, the first delivery had %d", out.TaskTime, firstTime)
	}
	evs := e.events(c, id)
	if got, want := types(evs), []string{"WORKFLOW_STARTED", "WORKFLOW_COMPLETED"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
}

// runDoomed runs w on client c; kill cuts the worker off as a crash would
// (its Run ends and its connection closes). block, which the worker's
// handler waits on, is closed when the test ends so the worker can return.
func runDoomed(t *testing.T, c *sdk.Client, w *sdk.Worker, block chan struct{}) (kill func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		close(block)
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("the killed worker never returned")
		}
	})
	return func() {
		cancel()
		c.Close()
	}
}
