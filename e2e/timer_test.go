package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/flovyn/flovyn/sdk"
)

func TestTwoTimersInSequence(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("two-timers", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			// ctx.Now is the server's workflow task time, the same for the
			// whole of one workflow task (replay included): Run records the
			// time of the task that reached each point.
			now := func() (int64, error) { return ctx.Now().UnixMilli(), nil }
			begin, err := sdk.Run(ctx, "begin", now)
			if err != nil {
				return nil, err
			}
			if err := ctx.Sleep(200 * time.Millisecond); err != nil {
				return nil, err
			}
			mid, err := sdk.Run(ctx, "mid", now)
			if err != nil {
				return nil, err
			}
			if err := ctx.Sleep(300 * time.Millisecond); err != nil {
				return nil, err
			}
			end, err := sdk.Run(ctx, "end", now)
			return map[string]int64{"first": mid - begin, "second": end - mid}, err
		})
	})
	c := e.client()
	var out struct{ First, Second int64 }
	id, err := e.run(c, "two-timers", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	// Logical, not a performance threshold: a timer cannot fire before it is due.
	if out.First < 200 || out.Second < 300 {
		t.Fatalf("workflow task times moved by %d and %d ms: a timer fired early", out.First, out.Second)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "OPERATION_COMPLETED", "TIMER_STARTED", "WORKFLOW_SUSPENDED", "TIMER_FIRED",
		"OPERATION_COMPLETED", "TIMER_STARTED", "WORKFLOW_SUSPENDED", "TIMER_FIRED", "OPERATION_COMPLETED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	started, fired := all(evs, "TIMER_STARTED"), all(evs, "TIMER_FIRED")
	for i, want := range []struct {
		id string
		ms int64
	}{{"sleep-1", 200}, {"sleep-2", 300}} {
		if str(t, started[i], "timerId") != want.id || str(t, fired[i], "timerId") != want.id {
			t.Fatalf("timer %d: started %s fired %s, want id %s", i, started[i].Data, fired[i].Data, want.id)
		}
		if num(t, started[i], "durationMs") != want.ms {
			t.Fatalf("timer %d: %s, want durationMs %d", i, started[i].Data, want.ms)
		}
		if num(t, started[i], "fireAt") <= 0 {
			t.Fatalf("timer %d: %s has no fireAt", i, started[i].Data)
		}
	}
	if num(t, started[1], "fireAt") < num(t, started[0], "fireAt")+300 {
		t.Fatalf("second timer due at %d, first at %d", num(t, started[1], "fireAt"), num(t, started[0], "fireAt"))
	}
}

func TestShortTimer(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("short-timer", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			if err := ctx.Sleep(100 * time.Millisecond); err != nil {
				return nil, err
			}
			return map[string]int{"sleptMs": 100}, nil
		})
	})
	c := e.client()
	began := time.Now()
	var out struct{ SleptMs int }
	id, err := e.run(c, "short-timer", nil, q, &out)
	if err != nil || out.SleptMs != 100 {
		t.Fatalf("result %+v, %v", out, err)
	}
	if time.Since(began) < 100*time.Millisecond {
		t.Fatal("the workflow finished before its timer was due")
	}
	evs := e.events(c, id)
	wantCounts(t, evs, map[string]int{"TIMER_STARTED": 1, "TIMER_FIRED": 1, "WORKFLOW_COMPLETED": 1})
	if num(t, first(t, evs, "TIMER_STARTED"), "durationMs") != 100 {
		t.Fatalf("TIMER_STARTED %s", first(t, evs, "TIMER_STARTED").Data)
	}
	if first(t, evs, "TIMER_FIRED").Sequence < first(t, evs, "TIMER_STARTED").Sequence {
		t.Fatalf("timer fired before it started: %v", types(evs))
	}
}
