package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flovyn/flovyn/sdk"
)

// attempts records the attempt numbers a task function saw, per task id.
type attempts struct {
	mu   sync.Mutex
	seen map[string][]int
}

func (a *attempts) add(ctx *sdk.TaskContext) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string][]int{}
	}
	a.seen[ctx.TaskExecutionID()] = append(a.seen[ctx.TaskExecutionID()], ctx.Attempt())
}

func (a *attempts) of(id string) []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.seen[id])
}

func TestSequentialTasks(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("echo-task", func(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
			return input, nil
		})
		w.RegisterTask("slow-task", func(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
			time.Sleep(100 * time.Millisecond)
			return map[string]string{"slept": "100ms"}, nil
		})
		w.RegisterWorkflow("multi-task", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			first, err := ctx.ExecuteTask("echo-task", map[string]any{"message": "hi", "number": 7}, sdk.TaskOptions{})
			if err != nil {
				return nil, err
			}
			second, err := ctx.ExecuteTask("slow-task", nil, sdk.TaskOptions{})
			if err != nil {
				return nil, err
			}
			return map[string]json.RawMessage{"first": first, "second": second}, nil
		})
	})
	c := e.client()
	var out map[string]json.RawMessage
	id, err := e.run(c, "multi-task", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEq(out["first"], []byte(`{"message":"hi","number":7}`)) || !jsonEq(out["second"], []byte(`{"slept":"100ms"}`)) {
		t.Fatalf("output %s / %s", out["first"], out["second"])
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_COMPLETED",
		"TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_COMPLETED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	scheduled := all(evs, "TASK_SCHEDULED")
	completed := all(evs, "TASK_COMPLETED")
	for i, kind := range []string{"echo-task", "slow-task"} {
		if str(t, scheduled[i], "kind") != kind {
			t.Fatalf("task %d kind: %s", i, scheduled[i].Data)
		}
		wantField(t, scheduled[i], "queue", `"`+q+`"`)
		wantField(t, scheduled[i], "maxRetries", `3`)
		if str(t, scheduled[i], "taskExecutionId") != str(t, completed[i], "taskExecutionId") {
			t.Fatalf("task %d: scheduled %s, completed %s", i, scheduled[i].Data, completed[i].Data)
		}
	}
	wantField(t, scheduled[0], "input", `{"message":"hi","number":7}`)
	wantField(t, completed[0], "output", `{"message":"hi","number":7}`)
}

func TestTaskSucceedsOnThirdAttempt(t *testing.T) {
	e := start(t)
	q := queue(t)
	var seen attempts
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("flaky", func(ctx *sdk.TaskContext, _ json.RawMessage) (any, error) {
			seen.add(ctx)
			if ctx.Attempt() < 3 {
				return nil, fmt.Errorf("transient failure on attempt %d", ctx.Attempt())
			}
			return map[string]int{"attempt": ctx.Attempt()}, nil
		})
		w.RegisterWorkflow("flaky-wf", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return ctx.ExecuteTask("flaky", nil, sdk.TaskOptions{})
		})
	})
	c := e.client()
	var out struct{ Attempt int }
	id, err := e.run(c, "flaky-wf", nil, q, &out)
	if err != nil || out.Attempt != 3 {
		t.Fatalf("result %+v, %v; want attempt 3", out, err)
	}
	evs := e.events(c, id)
	// Failed attempts that are retried never reach the history.
	want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_COMPLETED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	taskID := str(t, evs[1], "taskExecutionId")
	if got := seen.of(taskID); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("task %s ran attempts %v, want [1 2 3]", taskID, got)
	}
	wantField(t, evs[3], "output", `{"attempt":3}`)
}

func TestTaskExhaustsRetries(t *testing.T) {
	e := start(t)
	q := queue(t)
	var seen attempts
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("always-fails", func(ctx *sdk.TaskContext, _ json.RawMessage) (any, error) {
			seen.add(ctx)
			return nil, fmt.Errorf("Intentional failure (attempt %d)", ctx.Attempt())
		})
		w.RegisterWorkflow("catches-failure", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			_, err := ctx.ExecuteTask("always-fails", nil, sdk.TaskOptions{})
			failed, ok := asErr[*sdk.TaskFailedError](err)
			if !ok {
				return nil, fmt.Errorf("want a TaskFailedError, got %v", err)
			}
			return map[string]string{"caught": failed.Message, "task": failed.TaskExecutionID}, nil
		})
	})
	c := e.client()
	var out struct{ Caught, Task string }
	id, err := e.run(c, "catches-failure", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.Caught != "Intentional failure (attempt 4)" {
		t.Fatalf("workflow saw %q, want the last attempt's error", out.Caught)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_FAILED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	failed := evs[3]
	if str(t, failed, "taskExecutionId") != out.Task || str(t, evs[1], "taskExecutionId") != out.Task {
		t.Fatalf("TASK_FAILED %s, scheduled %s, workflow saw task %s", failed.Data, evs[1].Data, out.Task)
	}
	if num(t, failed, "attempts") != 4 {
		t.Fatalf("TASK_FAILED attempts: %s", failed.Data)
	}
	wantField(t, failed, "error", `"Intentional failure (attempt 4)"`)
	wantField(t, failed, "retryable", `false`)
	if got := seen.of(out.Task); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("task ran attempts %v, want [1 2 3 4]", got)
	}
}

func TestTaskMaxRetriesOption(t *testing.T) {
	e := start(t)
	q := queue(t)
	var seen attempts
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("fails", func(ctx *sdk.TaskContext, _ json.RawMessage) (any, error) {
			seen.add(ctx)
			return nil, fmt.Errorf("nope %d", ctx.Attempt())
		})
		w.RegisterWorkflow("retry-options", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			var msgs []string
			for _, opts := range []sdk.TaskOptions{{MaxRetries: 1}, {MaxRetries: sdk.NoRetries}} {
				_, err := ctx.ExecuteTask("fails", nil, opts)
				if _, ok := asErr[*sdk.TaskFailedError](err); !ok {
					return nil, fmt.Errorf("want a TaskFailedError, got %v", err)
				}
				msgs = append(msgs, err.Error())
			}
			return msgs, nil
		})
	})
	c := e.client()
	var out []string
	id, err := e.run(c, "retry-options", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out, []string{"Task failed: nope 2", "Task failed: nope 1"}) {
		t.Fatalf("workflow saw %q", out)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"TASK_SCHEDULED": 2, "TASK_FAILED": 2, "TASK_COMPLETED": 0, "WORKFLOW_COMPLETED": 1})
	scheduled, failed := all(evs, "TASK_SCHEDULED"), all(evs, "TASK_FAILED")
	for i, want := range []struct{ maxRetries, attempts int64 }{{1, 2}, {0, 1}} {
		if got := num(t, scheduled[i], "maxRetries"); got != want.maxRetries {
			t.Fatalf("task %d: TASK_SCHEDULED maxRetries %d, want %d", i, got, want.maxRetries)
		}
		if got := num(t, failed[i], "attempts"); got != want.attempts {
			t.Fatalf("task %d: TASK_FAILED attempts %d, want %d", i, got, want.attempts)
		}
		taskID := str(t, scheduled[i], "taskExecutionId")
		if str(t, failed[i], "taskExecutionId") != taskID {
			t.Fatalf("task %d: scheduled %s failed %s", i, scheduled[i].Data, failed[i].Data)
		}
		if got := len(seen.of(taskID)); int64(got) != want.attempts {
			t.Fatalf("task %d ran %d times, want %d", i, got, want.attempts)
		}
	}
}
