package e2e

import (
	"encoding/json"
	"testing"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

func TestIdempotentStart(t *testing.T) {
	e := start(t)
	q := queue(t)
	var runs = make(chan string, 10)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("once", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
			runs <- ctx.ExecutionID()
			return input, nil
		})
	})
	c := e.client()
	wf, _, _, _ := raw(c)
	key := "order-" + queue(t)
	start := func(input string) *flovynv1.StartWorkflowResponse {
		t.Helper()
		resp, err := wf.StartWorkflow(ctxT(t), &flovynv1.StartWorkflowRequest{
			WorkflowKind: "once", Queue: q, Input: []byte(input), IdempotencyKey: &key,
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := start(`{"n":1}`)
	// The SDK documents the flags so: the request carried a key (used), and
	// this call created the execution (new).
	if !first.IdempotencyKeyNew || !first.IdempotencyKeyUsed {
		t.Fatalf("first start: new %v used %v, want both", first.IdempotencyKeyNew, first.IdempotencyKeyUsed)
	}
	mustUUID(t, first.WorkflowExecutionId)
	var out json.RawMessage
	if err := e.wait(c, first.WorkflowExecutionId, &out); err != nil || !jsonEq(out, []byte(`{"n":1}`)) {
		t.Fatalf("result %s, %v", out, err)
	}
	// Again with the same key (even after completion, with another input):
	// the same execution, nothing new runs.
	second := start(`{"n":2}`)
	if second.WorkflowExecutionId != first.WorkflowExecutionId {
		t.Fatalf("second start gave %s, want %s", second.WorkflowExecutionId, first.WorkflowExecutionId)
	}
	if !second.IdempotencyKeyUsed || second.IdempotencyKeyNew {
		t.Fatalf("second start: new %v used %v, want the key reported used", second.IdempotencyKeyNew, second.IdempotencyKeyUsed)
	}
	// Without a key, neither flag is set and a new execution starts.
	plain, err := wf.StartWorkflow(ctxT(t), &flovynv1.StartWorkflowRequest{WorkflowKind: "once", Queue: q, Input: []byte(`3`)})
	if err != nil || plain.IdempotencyKeyNew || plain.IdempotencyKeyUsed || plain.WorkflowExecutionId == first.WorkflowExecutionId {
		t.Fatalf("start without a key: %v, %v", plain, err)
	}
	if err := e.wait(c, plain.WorkflowExecutionId, nil); err != nil {
		t.Fatal(err)
	}
	evs := e.events(c, first.WorkflowExecutionId)
	wantCounts(t, evs, map[string]int{"WORKFLOW_STARTED": 1, "WORKFLOW_COMPLETED": 1})
	wantField(t, evs[0], "input", `{"n":1}`)
	close(runs)
	seen := map[string]int{}
	for id := range runs {
		seen[id]++
	}
	if len(seen) != 2 || seen[first.WorkflowExecutionId] != 1 || seen[plain.WorkflowExecutionId] != 1 {
		t.Fatalf("workflow code ran for %v", seen)
	}
}
