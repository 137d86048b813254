package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/flovyn/flovyn/sdk"
)

// TestManyWorkersNoDoubleDispatch runs 100 workflows on one queue served by
// 4 workers: every workflow and every task must run exactly once.
func TestManyWorkersNoDoubleDispatch(t *testing.T) {
	e := start(t)
	q := queue(t)
	var mu sync.Mutex
	taskRuns := map[string]int{}            // task id -> executions
	holding := map[string]int{}             // execution -> worker running its workflow code now
	overlaps := []string{}                  // executions run by two workers at once
	finished := map[string]int{}            // execution -> times the workflow code reached its end
	perWorker := make([]map[string]bool, 4) // worker -> executions it ran
	for i := range 4 {
		perWorker[i] = map[string]bool{}
		e.worker(q, func(w *sdk.Worker) {
			w.RegisterTask("double", func(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
				mu.Lock()
				taskRuns[ctx.TaskExecutionID()]++
				mu.Unlock()
				return doubleTask(ctx, input)
			})
			w.RegisterWorkflow("doubler", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
				id := ctx.ExecutionID()
				mu.Lock()
				if holder, ok := holding[id]; ok {
					overlaps = append(overlaps, fmt.Sprintf("%s on workers %d and %d", id, holder, i))
				}
				holding[id] = i
				perWorker[i][id] = true
				mu.Unlock()
				defer func() { // runs on suspension too (runtime.Goexit)
					mu.Lock()
					delete(holding, id)
					mu.Unlock()
				}()
				in, err := sdk.Decode[echo](input)
				if err != nil {
					return nil, err
				}
				out, err := sdk.ExecuteTask[echo](ctx, "double", in, sdk.TaskOptions{})
				if err != nil {
					return nil, err
				}
				mu.Lock()
				finished[id]++
				mu.Unlock()
				return out, nil
			})
		})
	}
	c := e.client()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = e.startWF(c, "doubler", echo{Value: i}, q)
	}
	for i, id := range ids {
		var out echo
		if err := e.wait(c, id, &out); err != nil || out.Value != 2*i {
			t.Fatalf("workflow %d: %+v, %v", i, out, err)
		}
	}
	for i, id := range ids {
		evs := e.events(c, id)
		want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_COMPLETED", "WORKFLOW_COMPLETED"}
		if got := types(evs); !slices.Equal(got, want) {
			t.Fatalf("workflow %d: history %v, want %v", i, got, want)
		}
		wantField(t, evs[4], "output", fmt.Sprintf(`{"value":%d}`, 2*i))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(overlaps) > 0 {
		t.Fatalf("workflow tasks dispatched to two workers at once: %v", overlaps)
	}
	if len(taskRuns) != 100 {
		t.Fatalf("%d distinct tasks ran, want 100", len(taskRuns))
	}
	for id, n := range taskRuns {
		if n != 1 {
			t.Fatalf("task %s ran %d times", id, n)
		}
	}
	for _, id := range ids {
		if finished[id] != 1 {
			t.Fatalf("workflow %s reached its end %d times, want once", id, finished[id])
		}
	}
	busy := 0
	for _, m := range perWorker {
		if len(m) > 0 {
			busy++
		}
	}
	t.Logf("%d of 4 workers ran workflow tasks", busy)
}
