package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/sdk"
)

func TestSignalWakesWaitingWorkflow(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("signal-wf", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			v := ctx.WaitSignal("approve")
			return map[string]json.RawMessage{"got": v}, nil
		})
	})
	c := e.client()
	id := e.startWF(c, "signal-wf", nil, q)
	e.waitEvent(c, id, "WORKFLOW_SUSPENDED")
	value := `{"action":"approve","by":"alice"}`
	seq, err := c.SignalWorkflow(ctxT(t), id, "approve", json.RawMessage(value))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := e.wait(c, id, &out); err != nil || !jsonEq(out["got"], []byte(value)) {
		t.Fatalf("result %s, %v", out["got"], err)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "WORKFLOW_SUSPENDED", "SIGNAL_RECEIVED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if seq <= 0 || int(seq) != evs[2].Sequence {
		t.Fatalf("signal sequence %d, SIGNAL_RECEIVED is event %d", seq, evs[2].Sequence)
	}
	wantField(t, evs[2], "signalName", `"approve"`)
	wantField(t, evs[2], "signalValue", value)
	// A signal to an ended workflow is accepted and changes nothing.
	if _, err := c.SignalWorkflow(ctxT(t), id, "approve", 2); err != nil {
		t.Fatalf("signal after completion: %v", err)
	}
	if got := types(e.events(c, id)); !slices.Equal(got, want) {
		t.Fatalf("history after a late signal %v", got)
	}
}

func TestMultipleSignalsAreDeliveredInOrder(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("multi-signal", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			var got []int
			for range 3 {
				var n int
				if err := ctx.Signal("msg").Get(&n); err != nil {
					return nil, err
				}
				got = append(got, n)
			}
			return got, nil
		})
	})
	c := e.client()
	id := e.startWF(c, "multi-signal", nil, q)
	var seqs []int64
	for i := 1; i <= 3; i++ {
		time.Sleep(100 * time.Millisecond)
		seq, err := c.SignalWorkflow(ctxT(t), id, "msg", i)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	var out []int
	if err := e.wait(c, id, &out); err != nil || !slices.Equal(out, []int{1, 2, 3}) {
		t.Fatalf("workflow saw %v (%v), want [1 2 3]", out, err)
	}
	evs := e.events(c, id)
	signals := all(evs, "SIGNAL_RECEIVED")
	if len(signals) != 3 {
		t.Fatalf("history %v", types(evs))
	}
	for i, s := range signals {
		wantField(t, s, "signalName", `"msg"`)
		wantField(t, s, "signalValue", mustJSON(t, i+1))
		if int64(s.Sequence) != seqs[i] {
			t.Fatalf("signal %d is event %d, SignalWorkflow said %d", i+1, s.Sequence, seqs[i])
		}
	}
	if !slices.IsSorted(seqs) {
		t.Fatalf("signal sequences %v", seqs)
	}
}

func TestSignalWithStartTwice(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("sws", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
			// Recorded by the first workflow task: did it already see the signal?
			sawFirst, err := sdk.Run(ctx, "first-look", func() (bool, error) { return ctx.HasSignal("go"), nil })
			if err != nil {
				return nil, err
			}
			first := ctx.WaitSignal("go")
			second := ctx.WaitSignal("go")
			return map[string]any{"sawFirst": sawFirst, "input": input, "signals": []json.RawMessage{first, second}}, nil
		})
	})
	c := e.client()
	ctx := ctxT(t)
	workflowID := "signal-test-workflow-" + uuid.NewString()[:8]
	opts := sdk.StartOptions{Queue: q}
	id1, created1, err := c.SignalWithStart(ctx, workflowID, "sws", map[string]int{"in": 1}, "go", "first", opts)
	if err != nil {
		t.Fatal(err)
	}
	id2, created2, err := c.SignalWithStart(ctx, workflowID, "sws", map[string]int{"in": 2}, "go", "second", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !created1 || created2 || id1 != id2 {
		t.Fatalf("first call (%s, created %v), second (%s, created %v): want one execution created once", id1, created1, id2, created2)
	}
	mustUUID(t, id1)
	var out struct {
		SawFirst bool              `json:"sawFirst"`
		Input    json.RawMessage   `json:"input"`
		Signals  []json.RawMessage `json:"signals"`
	}
	if err := e.wait(c, id1, &out); err != nil {
		t.Fatal(err)
	}
	if !out.SawFirst || !jsonEq(out.Input, []byte(`{"in":1}`)) || len(out.Signals) != 2 ||
		string(out.Signals[0]) != `"first"` || string(out.Signals[1]) != `"second"` {
		t.Fatalf("output %+v (signals %s)", out, out.Signals)
	}
	evs := e.events(c, id1)
	wantCounts(t, evs, map[string]int{"WORKFLOW_STARTED": 1, "SIGNAL_RECEIVED": 2, "WORKFLOW_COMPLETED": 1})
	// The signal is in history before the first dispatch.
	if evs[0].Type != "WORKFLOW_STARTED" || evs[1].Type != "SIGNAL_RECEIVED" {
		t.Fatalf("history starts %v", types(evs))
	}
	wantField(t, evs[1], "signalValue", `"first"`)
	wantField(t, evs[0], "input", `{"in":1}`)
}
