package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/sdk"
)

type echo struct {
	Value int `json:"value"`
}

func doubleTask(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
	in, err := sdk.Decode[echo](input)
	return echo{Value: in.Value * 2}, err
}

func TestTaskWorkflowCompletesWithContiguousHistory(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("double", doubleTask)
		w.RegisterWorkflow("doubler", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
			in, err := sdk.Decode[echo](input)
			if err != nil {
				return nil, err
			}
			return sdk.ExecuteTask[echo](ctx, "double", in, sdk.TaskOptions{})
		})
	})
	c := e.client()
	var out echo
	id, err := e.run(c, "doubler", echo{Value: 21}, q, &out)
	if err != nil || out.Value != 42 {
		t.Fatalf("result %+v, err %v; want 42", out, err)
	}
	evs := e.events(c, id)
	got := types(evs)
	want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_COMPLETED", "WORKFLOW_COMPLETED"}
	if !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	var completed struct {
		TaskExecutionID string          `json:"taskExecutionId"`
		Output          json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(evs[3].Data, &completed); err != nil || completed.TaskExecutionID == "" || string(completed.Output) != `{"value":42}` {
		t.Fatalf("TASK_COMPLETED data %s (%v)", evs[3].Data, err)
	}
}

func TestWorkflowFailureIsRecorded(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("failing", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return nil, errors.New("Test error message")
		})
	})
	c := e.client()
	id, err := e.run(c, "failing", nil, q, nil)
	var failed *sdk.WorkflowFailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.Message, "Test error message") {
		t.Fatalf("err %v, want a workflow failure with the message", err)
	}
	if evs := e.events(c, id); count(evs, "WORKFLOW_EXECUTION_FAILED") != 1 {
		t.Fatalf("history %v", types(evs))
	}
}

func TestTimerFires(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("sleeper", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			begin := time.Now()
			if err := ctx.Sleep(300 * time.Millisecond); err != nil {
				return nil, err
			}
			return map[string]int64{"slept": time.Since(begin).Milliseconds()}, nil
		})
	})
	c := e.client()
	began := time.Now()
	id, err := e.run(c, "sleeper", nil, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(began); elapsed < 300*time.Millisecond {
		t.Fatalf("finished after %v, before the timer was due", elapsed)
	}
	evs := e.events(c, id)
	if count(evs, "TIMER_STARTED") != 1 || count(evs, "TIMER_FIRED") != 1 {
		t.Fatalf("history %v", types(evs))
	}
}

func TestEchoWorkflowRoundTripsInput(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("echo", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
			return input, nil
		})
	})
	c := e.client()
	input := json.RawMessage(`{"message":"hello","number":42,"nested":{"list":[1,2,{"deep":null}],"big":1234567890123,"ok":true},"text":"héllo ✓ \"quoted\"","float":1.5,"empty":{}}`)
	var out json.RawMessage
	id, err := e.run(c, "echo", input, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEq(out, input) {
		t.Fatalf("output %s, want the input %s", out, input)
	}
	evs := e.events(c, id)
	if got, want := types(evs), []string{"WORKFLOW_STARTED", "WORKFLOW_COMPLETED"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	wantField(t, evs[0], "input", string(input))
	wantField(t, evs[0], "workflowKind", `"echo"`)
	wantField(t, evs[0], "queue", `"`+q+`"`)
	wantField(t, evs[1], "output", string(input))
}

func TestRunRecordsOperationOnce(t *testing.T) {
	e := start(t)
	q := queue(t)
	var firstRuns, secondRuns atomic.Int32
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("double", doubleTask)
		w.RegisterWorkflow("with-run", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			token, err := sdk.Run(ctx, "make-token", func() (string, error) {
				firstRuns.Add(1)
				return "token-" + uuid.NewString(), nil
			})
			if err != nil {
				return nil, err
			}
			// The task suspends the workflow: the next workflow task replays
			// make-token from history instead of running it again.
			doubled, err := sdk.ExecuteTask[echo](ctx, "double", echo{Value: 5}, sdk.TaskOptions{})
			if err != nil {
				return nil, err
			}
			n, err := sdk.Run(ctx, "count", func() (int, error) {
				secondRuns.Add(1)
				return 7, nil
			})
			return map[string]any{"token": token, "doubled": doubled.Value, "n": n}, err
		})
	})
	c := e.client()
	var out struct {
		Token   string `json:"token"`
		Doubled int    `json:"doubled"`
		N       int    `json:"n"`
	}
	id, err := e.run(c, "with-run", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Token, "token-") || out.Doubled != 10 || out.N != 7 {
		t.Fatalf("output %+v", out)
	}
	if firstRuns.Load() != 1 || secondRuns.Load() != 1 {
		t.Fatalf("operations ran %d and %d times, want once each", firstRuns.Load(), secondRuns.Load())
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "OPERATION_COMPLETED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED",
		"TASK_COMPLETED", "OPERATION_COMPLETED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	ops := all(evs, "OPERATION_COMPLETED")
	if str(t, ops[0], "operationName") != "make-token" || str(t, ops[1], "operationName") != "count" {
		t.Fatalf("operation names: %s / %s", ops[0].Data, ops[1].Data)
	}
	wantField(t, ops[0], "result", `"`+out.Token+`"`)
	wantField(t, ops[1], "result", `7`)
}

func TestStartWorkflowAsyncThenAwait(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("double", doubleTask)
		w.RegisterWorkflow("doubler", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
			in, err := sdk.Decode[echo](input)
			if err != nil {
				return nil, err
			}
			return sdk.ExecuteTask[echo](ctx, "double", in, sdk.TaskOptions{})
		})
	})
	c := e.client()
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = e.startWF(c, "doubler", echo{Value: 100 + i}, q)
		if _, err := uuid.Parse(ids[i]); err != nil {
			t.Fatalf("execution id %q is not a UUID", ids[i])
		}
	}
	for i, id := range ids {
		var out echo
		if err := e.wait(c, id, &out); err != nil || out.Value != 2*(100+i) {
			t.Fatalf("workflow %d: %+v, %v", i, out, err)
		}
		evs := e.events(c, id)
		wantCounts(t, evs, map[string]int{"WORKFLOW_STARTED": 1, "TASK_SCHEDULED": 1, "TASK_COMPLETED": 1, "WORKFLOW_COMPLETED": 1})
		wantField(t, first(t, evs, "WORKFLOW_COMPLETED"), "output", fmt.Sprintf(`{"value":%d}`, 2*(100+i)))
	}
}
