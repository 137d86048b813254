package e2e

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

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
