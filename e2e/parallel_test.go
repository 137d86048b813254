package e2e

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flovyn/flovyn/sdk"
)

func squareTask(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
	in, err := sdk.Decode[echo](input)
	return echo{Value: in.Value * in.Value}, err
}

// fanOut schedules one square task per input value at once and sums the results.
func fanOut(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
	values, err := sdk.Decode[[]int](input)
	if err != nil {
		return nil, err
	}
	futures := make([]*sdk.Future, len(values))
	for i, v := range values {
		futures[i] = ctx.ScheduleTask("square", echo{Value: v}, sdk.TaskOptions{})
	}
	if err := sdk.All(futures...); err != nil {
		return nil, err
	}
	sum := 0
	for _, f := range futures {
		out, err := sdk.Await[echo](f)
		if err != nil {
			return nil, err
		}
		sum += out.Value
	}
	return map[string]int{"sum": sum, "count": len(futures)}, nil
}

// checkFanOut checks the history of a fan-out of n tasks.
func checkFanOut(t *testing.T, evs []sdk.Event, n int) {
	t.Helper()
	wantCounts(t, evs, map[string]int{"TASK_SCHEDULED": n, "TASK_COMPLETED": n, "TASK_FAILED": 0, "WORKFLOW_COMPLETED": 1})
	// All tasks were scheduled by the first submission, in one batch.
	for i := 1; i <= n; i++ {
		if evs[i].Type != "TASK_SCHEDULED" {
			t.Fatalf("event %d is %s, want the batch of TASK_SCHEDULED: %v", i+1, evs[i].Type, types(evs))
		}
	}
	scheduled := map[string]bool{}
	for _, ev := range all(evs, "TASK_SCHEDULED") {
		scheduled[str(t, ev, "taskExecutionId")] = true
	}
	completed := map[string]bool{}
	for _, ev := range all(evs, "TASK_COMPLETED") {
		id := str(t, ev, "taskExecutionId")
		if !scheduled[id] || completed[id] {
			t.Fatalf("TASK_COMPLETED for %s: scheduled %v, already completed %v", id, scheduled[id], completed[id])
		}
		completed[id] = true
	}
	if len(scheduled) != n {
		t.Fatalf("%d distinct task ids, want %d", len(scheduled), n)
	}
}

func TestParallelTasksJoinAll(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("square", squareTask)
		w.RegisterWorkflow("fan-out", fanOut)
	})
	c := e.client()
	var out struct{ Sum, Count int }
	id, err := e.run(c, "fan-out", []int{1, 2, 3, 4, 5, 6, 7, 8}, q, &out)
	if err != nil || out.Sum != 204 || out.Count != 8 {
		t.Fatalf("result %+v, %v; want sum 204 of 8", out, err)
	}
	checkFanOut(t, e.events(c, id), 8)
}

// TestParallelTasksWakeUpRace repeats a fan-out of fast tasks whose workflow
// replays slowly once some results are in, so that task completions land
// while a worker holds the workflow task. Each must still wake it.
func TestParallelTasksWakeUpRace(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("square", squareTask)
		w.RegisterWorkflow("slow-replay-fan-out", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
			futures := make([]*sdk.Future, 5)
			ready := 0
			for i := range futures {
				futures[i] = ctx.ScheduleTask("square", echo{Value: i + 1}, sdk.TaskOptions{})
				if futures[i].IsReady() {
					ready++
				}
			}
			if ready > 0 && ready < len(futures) {
				// A slow replay: the other completions arrive meanwhile.
				time.Sleep(30 * time.Millisecond)
			}
			if err := sdk.All(futures...); err != nil {
				return nil, err
			}
			sum := 0
			for _, f := range futures {
				out, err := sdk.Await[echo](f)
				if err != nil {
					return nil, err
				}
				sum += out.Value
			}
			return map[string]int{"sum": sum, "count": len(futures)}, nil
		})
	}, func(o *sdk.WorkerOptions) { o.MaxConcurrentTasks = 20 })
	c := e.client()
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = e.startWF(c, "slow-replay-fan-out", nil, q)
	}
	for i, id := range ids {
		var out struct{ Sum, Count int }
		if err := e.wait(c, id, &out); err != nil || out.Sum != 55 || out.Count != 5 {
			t.Fatalf("workflow %d: %+v, %v", i, out, err)
		}
		checkFanOut(t, e.events(c, id), 5)
	}
}

func TestRacingTasksSelect(t *testing.T) {
	e := start(t)
	q := queue(t)
	slowDone := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseSlow := func() { releaseOnce.Do(func() { close(release) }) }
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("fetch", func(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
			source, err := sdk.Decode[string](input)
			if source == "slow" {
				<-release
				defer close(slowDone)
			}
			return map[string]string{"source": source}, err
		})
		w.RegisterWorkflow("race", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			slow := ctx.ScheduleTask("fetch", "slow", sdk.TaskOptions{})
			fast := ctx.ScheduleTask("fetch", "fast", sdk.TaskOptions{})
			winner := sdk.Select(slow, fast)
			return []*sdk.Future{slow, fast}[winner].Raw()
		})
	})
	// Registered after the worker, so it runs before the worker is stopped
	// (cleanups run last-in first-out) and the stop does not wait forever.
	t.Cleanup(releaseSlow)
	c := e.client()
	var out struct{ Source string }
	id, err := e.run(c, "race", nil, q, &out)
	if err != nil || out.Source != "fast" {
		t.Fatalf("result %+v, %v; want the fast task", out, err)
	}
	before := e.events(c, id)
	wantCounts(t, before, map[string]int{"TASK_SCHEDULED": 2, "TASK_COMPLETED": 1, "WORKFLOW_COMPLETED": 1})
	// The loser finishes after the workflow ended: accepted, and the workflow
	// is not reopened.
	releaseSlow()
	select {
	case <-slowDone:
	case <-time.After(waitTimeout):
		t.Fatal("the slow task never ran")
	}
	waitUntil(t, "the slow task is recorded as completed", func() bool {
		var status string
		err := e.srv.Store().Pool().QueryRow(ctxT(t), `SELECT status FROM tasks WHERE id = $1`,
			str(t, all(before, "TASK_SCHEDULED")[0], "taskExecutionId")).Scan(&status)
		if err != nil {
			t.Fatal(err)
		}
		return status == "COMPLETED"
	})
	after := e.events(c, id)
	if !slices.Equal(types(after), types(before)) {
		t.Fatalf("history changed after the workflow ended: %v -> %v", types(before), types(after))
	}
	if w := e.workflowRow(id); w.Status != "COMPLETED" {
		t.Fatalf("workflow %s after a late completion", w.Status)
	}
}

// TestTaskBeatsTimer races a task against a timer; the task wins and the
// timer, firing after the workflow ended, must not reopen it.
func TestTaskBeatsTimer(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("quick", func(ctx *sdk.TaskContext, _ json.RawMessage) (any, error) { return "task", nil })
		w.RegisterWorkflow("with-timeout", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			task := ctx.ScheduleTask("quick", nil, sdk.TaskOptions{})
			timer := ctx.Timer(500 * time.Millisecond)
			if sdk.Select(task, timer) == 1 {
				return "timeout", nil
			}
			return task.Raw()
		})
	})
	c := e.client()
	var out string
	id, err := e.run(c, "with-timeout", nil, q, &out)
	if err != nil || out != "task" {
		t.Fatalf("result %q, %v", out, err)
	}
	before := e.events(c, id)
	wantCounts(t, before, map[string]int{"TASK_COMPLETED": 1, "TIMER_STARTED": 1, "TIMER_FIRED": 0, "WORKFLOW_COMPLETED": 1})
	waitUntil(t, "the timer is due and handled", func() bool {
		var status string
		err := e.srv.Store().Pool().QueryRow(ctxT(t), `SELECT status FROM timers WHERE workflow_id = $1`, id).Scan(&status)
		if err != nil {
			t.Fatal(err)
		}
		return status != "PENDING"
	})
	after := e.events(c, id)
	if !slices.Equal(types(after), types(before)) {
		t.Fatalf("history changed after the workflow ended: %v -> %v", types(before), types(after))
	}
	if s := e.workflowRow(id).Status; s != "COMPLETED" {
		t.Fatalf("status %s", s)
	}
}

// TestMixedParallelOperations: 2 parallel tasks, a timer, 1 task, then 3
// parallel tasks: several resume cycles with interleaved events.
func TestMixedParallelOperations(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("square", squareTask)
		w.RegisterWorkflow("mixed", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			sum := 0
			add := func(fs ...*sdk.Future) error {
				if err := sdk.All(fs...); err != nil {
					return err
				}
				for _, f := range fs {
					v, err := sdk.Await[echo](f)
					if err != nil {
						return err
					}
					sum += v.Value
				}
				return nil
			}
			sq := func(n int) *sdk.Future { return ctx.ScheduleTask("square", echo{Value: n}, sdk.TaskOptions{}) }
			if err := add(sq(1), sq(2)); err != nil {
				return nil, err
			}
			if err := ctx.Sleep(100 * time.Millisecond); err != nil {
				return nil, err
			}
			if err := add(sq(3)); err != nil {
				return nil, err
			}
			if err := add(sq(4), sq(5), sq(6)); err != nil {
				return nil, err
			}
			return sum, nil
		})
	})
	c := e.client()
	var out int
	id, err := e.run(c, "mixed", nil, q, &out)
	if err != nil || out != 91 {
		t.Fatalf("result %d, %v; want 91", out, err)
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"TASK_SCHEDULED": 6, "TASK_COMPLETED": 6, "TIMER_STARTED": 1, "TIMER_FIRED": 1, "WORKFLOW_COMPLETED": 1})
	// The timer starts after the first two tasks completed, the third task after it fired.
	seqOf := func(typ string, n int) int { return all(evs, typ)[n].Sequence }
	if seqOf("TIMER_STARTED", 0) < seqOf("TASK_COMPLETED", 1) || seqOf("TASK_SCHEDULED", 2) < seqOf("TIMER_FIRED", 0) ||
		seqOf("TASK_SCHEDULED", 3) < seqOf("TASK_COMPLETED", 2) {
		t.Fatalf("history out of order: %v", types(evs))
	}
}
