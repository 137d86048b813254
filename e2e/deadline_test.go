package e2e

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/store"
)

// Task deadlines (timeout_ms) are enforced by the server: a task still
// PENDING or RUNNING past its deadline fails for good as timed out, and
// what its worker reports afterwards is answered OK and changes nothing.

// endedAtDeadline checks, on the database's clock, that a task ended at
// or after its deadline.
func endedAtDeadline(t *testing.T, e *env, task uuid.UUID) {
	t.Helper()
	var atDeadline bool
	err := e.srv.Store().Pool().QueryRow(ctxT(t),
		`SELECT completed_at >= deadline_at FROM tasks WHERE tenant_id = $1 AND id = $2`, e.tenant.ID, task).Scan(&atDeadline)
	if err != nil || !atDeadline {
		t.Fatalf("task %s ended before its deadline (%v)", task, err)
	}
}

// A task whose worker is still running it at its deadline fails as timed
// out — once, with no retry although it has retries left — and its
// workflow sees TASK_FAILED. When the task function returns later, the
// SDK's CompleteTask is answered OK and the history stays as it was.
func TestTaskDeadlineWhileRunning(t *testing.T) {
	e := start(t)
	q := queue(t)
	started := make(chan string, 10)
	release := make(chan struct{})
	logs := newLogCounter()
	stop := e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("stuck", func(ctx *sdk.TaskContext, _ json.RawMessage) (any, error) {
			started <- ctx.TaskExecutionID()
			<-release
			return "too late", nil
		})
		w.RegisterWorkflow("awaits-stuck", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			_, err := ctx.ExecuteTask("stuck", nil, sdk.TaskOptions{Timeout: 300 * time.Millisecond})
			failed, ok := asErr[*sdk.TaskFailedError](err)
			if !ok {
				return nil, fmt.Errorf("want a TaskFailedError, got %v", err)
			}
			return failed.Message, nil
		})
	}, func(o *sdk.WorkerOptions) { o.Logger = slog.New(logs) })
	// Runs before the worker's own cleanup, which waits for the task.
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock)

	c := e.client()
	id := e.startWF(c, "awaits-stuck", nil, q)
	var taskID string
	select {
	case taskID = <-started:
	case <-ctxT(t).Done():
		t.Fatal("the task never started")
	}
	var out string
	if err := e.wait(c, id, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "timed out") {
		t.Fatalf("the workflow saw %q, want a task that timed out", out)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"TASK_SCHEDULED": 1, "TASK_FAILED": 1, "TASK_COMPLETED": 0, "WORKFLOW_COMPLETED": 1})
	wantField(t, first(t, evs, "TASK_SCHEDULED"), "maxRetries", `3`)
	failed := first(t, evs, "TASK_FAILED")
	if str(t, failed, "taskExecutionId") != taskID || !strings.Contains(str(t, failed, "error"), "timed out") || num(t, failed, "attempts") != 1 {
		t.Fatalf("TASK_FAILED %s, want task %s timed out after 1 attempt", failed.Data, taskID)
	}

	// The task function returns now; stopping the worker waits until the
	// SDK has reported its result and heard the answer.
	unblock()
	stop()
	if n := logs.count("complete task failed"); n != 0 {
		t.Fatalf("the late CompleteTask was answered with an error (%d times)", n)
	}
	if n := len(started); n != 0 {
		t.Fatalf("the task ran %d more attempts after it timed out", n)
	}
	// A late FailTask is answered OK too.
	_, tasks, _, _ := raw(c)
	if _, err := tasks.FailTask(ctxT(t), &flovynv1.FailTaskRequest{TaskExecutionId: taskID, Error: "late failure"}); err != nil {
		t.Fatalf("late FailTask: %v", err)
	}
	if after := e.events(c, id); len(after) != len(evs) {
		t.Fatalf("history grew after the timeout: %v, was %v", types(after), types(evs))
	}
	d, err := e.srv.Store().TaskOfWorkflow(ctxT(t), e.tenant.ID, mustUUID(t, id), mustUUID(t, taskID))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.StatusFailed || d.Error == nil || !strings.Contains(*d.Error, "timed out") || d.Output != nil || d.ExecutionCount != 1 {
		t.Fatalf("task %s: status %s, error %v, output %s, attempts %d", taskID, d.Status, d.Error, d.Output, d.ExecutionCount)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].Status != store.StatusFailed || d.Attempts[0].Error == nil || *d.Attempts[0].Error != *d.Error {
		t.Fatalf("attempts %+v, want the one that ran, FAILED as timed out", d.Attempts)
	}
	endedAtDeadline(t, e, d.ID)
}

// A standalone task (SubmitTask) past its deadline ends FAILED as timed
// out; a late CompleteTask or FailTask is answered OK and changes nothing.
func TestStandaloneTaskDeadline(t *testing.T) {
	e := start(t)
	q := queue(t)
	_, tasks, _, _ := raw(e.client())
	ctx := ctxT(t)
	submitted, err := tasks.SubmitTask(ctx, &flovynv1.SubmitTaskRequest{Kind: "standalone", Queue: q, MaxRetries: 3, TimeoutMs: 300})
	if err != nil {
		t.Fatal(err)
	}
	id := mustUUID(t, submitted.TaskExecutionId)
	polled, err := tasks.PollTask(ctx, &flovynv1.PollTaskRequest{WorkerId: "w1", Queue: q})
	if err != nil || polled.Task == nil || polled.Task.TaskExecutionId != id.String() || polled.Task.ExecutionCount != 1 {
		t.Fatalf("PollTask: %v, %v", polled, err)
	}
	var ended store.Task
	waitUntil(t, "the task ended", func() bool {
		ended, err = e.srv.Store().Task(ctx, e.tenant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return ended.Status != store.StatusRunning
	})
	if ended.Status != store.StatusFailed || ended.Error == nil || !strings.Contains(*ended.Error, "timed out") {
		t.Fatalf("task: status %s, error %v; want FAILED, timed out", ended.Status, ended.Error)
	}
	endedAtDeadline(t, e, id)

	if _, err := tasks.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: id.String(), Output: []byte(`"late"`)}); err != nil {
		t.Fatalf("late CompleteTask: %v", err)
	}
	if _, err := tasks.FailTask(ctx, &flovynv1.FailTaskRequest{TaskExecutionId: id.String(), Error: "late failure"}); err != nil {
		t.Fatalf("late FailTask: %v", err)
	}
	after, err := e.srv.Store().Task(ctx, e.tenant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != store.StatusFailed || after.Error == nil || *after.Error != *ended.Error || after.Output != nil || after.ExecutionCount != 1 {
		t.Fatalf("after the late results: status %s, error %v, output %s, attempts %d; want it as it ended",
			after.Status, after.Error, after.Output, after.ExecutionCount)
	}
}

// A task whose attempts failed and that waits out the backoff before its
// next one (PENDING, not claimable yet) fails as timed out at its
// deadline, not once the backoff is over; its attempts keep their own
// errors. The test is the task's worker, through raw gRPC, failing each
// attempt at once until the deadline falls within a backoff.
func TestTaskDeadlineDuringBackoff(t *testing.T) {
	e := start(t)
	c := e.client()
	for try := 1; ; try++ {
		if deadlineDuringBackoff(t, e, c) {
			return
		}
		if try == 3 {
			t.Fatal("the deadline came while an attempt ran, three times")
		}
		t.Logf("try %d: the deadline came while an attempt ran; trying again", try)
	}
}

// deadlineDuringBackoff is one try of TestTaskDeadlineDuringBackoff: false
// when the deadline came while an attempt ran, which is not the case under
// test (TestTaskDeadlineWhileRunning covers it).
func deadlineDuringBackoff(t *testing.T, e *env, c *sdk.Client) bool {
	t.Helper()
	const timeout = 220 * time.Millisecond // within the backoff after the 2nd attempt (200 ms), typically
	q, qt := queue(t), queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("awaits-flaky", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			_, err := ctx.ExecuteTask("flaky", nil, sdk.TaskOptions{Queue: qt, MaxRetries: 10, Timeout: timeout})
			failed, ok := asErr[*sdk.TaskFailedError](err)
			if !ok {
				return nil, fmt.Errorf("want a TaskFailedError, got %v", err)
			}
			return failed.Message, nil
		})
	})
	ctx := ctxT(t)
	_, tasks, _, _ := raw(c)
	id := e.startWF(c, "awaits-flaky", nil, q)
	var taskID uuid.UUID
	var retryAt time.Time
	for attempt := int32(1); ; attempt++ {
		var polled *flovynv1.TaskExecutionInfo
		for polled == nil {
			p, err := tasks.PollTask(ctx, &flovynv1.PollTaskRequest{WorkerId: "raw", Queue: qt})
			if err != nil {
				t.Fatal(err)
			}
			polled = p.Task
			if polled == nil && taskID != uuid.Nil {
				if task, err := e.srv.Store().Task(ctx, e.tenant.ID, taskID); err != nil || task.Status != store.StatusPending {
					return false // ended while its next attempt was due
				}
			}
		}
		taskID = mustUUID(t, polled.TaskExecutionId)
		if polled.ExecutionCount != attempt {
			t.Fatalf("polled attempt %d, want %d", polled.ExecutionCount, attempt)
		}
		if _, err := tasks.FailTask(ctx, &flovynv1.FailTaskRequest{TaskExecutionId: taskID.String(), Error: fmt.Sprintf("attempt %d failed", attempt)}); err != nil {
			t.Fatal(err)
		}
		var status string
		var notBefore *time.Time
		var inBackoff *bool
		err := e.srv.Store().Pool().QueryRow(ctx,
			`SELECT status, not_before, not_before > deadline_at FROM tasks WHERE tenant_id = $1 AND id = $2`,
			e.tenant.ID, taskID).Scan(&status, &notBefore, &inBackoff)
		if err != nil {
			t.Fatal(err)
		}
		if status != store.StatusPending {
			return false // the deadline came first
		}
		if *inBackoff {
			retryAt = *notBefore
			break
		}
	}

	var out string
	if err := e.wait(c, id, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "timed out") {
		t.Fatalf("the workflow saw %q, want a task that timed out", out)
	}
	d, err := e.srv.Store().TaskOfWorkflow(ctx, e.tenant.ID, mustUUID(t, id), taskID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.StatusFailed || d.Error == nil || !strings.Contains(*d.Error, "timed out") {
		t.Fatalf("task: status %s, error %v; want FAILED, timed out", d.Status, d.Error)
	}
	for i, a := range d.Attempts {
		if want := fmt.Sprintf("attempt %d failed", i+1); a.Status != store.StatusFailed || a.Error == nil || *a.Error != want {
			t.Fatalf("attempts %+v: attempt %d should have failed with %q", d.Attempts, i+1, want)
		}
	}
	if int(d.ExecutionCount) != len(d.Attempts) {
		t.Fatalf("%d attempts recorded, execution count %d", len(d.Attempts), d.ExecutionCount)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"TASK_FAILED": 1, "TASK_COMPLETED": 0})
	if got := num(t, first(t, evs, "TASK_FAILED"), "attempts"); got != int64(d.ExecutionCount) {
		t.Fatalf("TASK_FAILED counts %d attempts, want %d", got, d.ExecutionCount)
	}
	// At the deadline, not after the backoff: the next attempt was due at
	// retryAt and never started.
	var beforeRetry bool
	if err := e.srv.Store().Pool().QueryRow(ctx, `SELECT completed_at < $3 FROM tasks WHERE tenant_id = $1 AND id = $2`,
		e.tenant.ID, taskID, retryAt).Scan(&beforeRetry); err != nil || !beforeRetry {
		t.Fatalf("the task ended after its next attempt was due (%v)", err)
	}
	endedAtDeadline(t, e, taskID)
	t.Logf("timed out in the backoff after attempt %d", d.ExecutionCount)
	return true
}
