package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

func TestWorkerRegistration(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.client()
	w := sdk.NewWorker(c, sdk.WorkerOptions{Queue: q, Name: "registration-test", NoWorkBackoff: 10 * time.Millisecond})
	w.RegisterWorkflow("noop", func(*sdk.WorkflowContext, json.RawMessage) (any, error) { return nil, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	waitUntil(t, "the worker is registered", func() bool { return w.WorkerID() != "" })
	id, err := uuid.Parse(w.WorkerID())
	if err != nil || id == uuid.Nil {
		t.Fatalf("worker id %q is not a UUID (%v)", w.WorkerID(), err)
	}
	// The worker works once registered.
	if _, err := e.run(c, "noop", nil, q, nil); err != nil {
		t.Fatal(err)
	}

	_, _, life, _ := raw(c)
	req := &flovynv1.WorkerRegistrationRequest{
		WorkerName: "raw-worker", WorkerVersion: "1.0.0", WorkerType: "UNIFIED", OrgId: e.tenant.ID.String(),
		HostName: "host", ProcessId: "1",
		Workflows: []*flovynv1.WorkflowCapability{{Kind: "a", Name: "a", Version: "1.0.0"}},
		Tasks:     []*flovynv1.TaskCapability{{Kind: "t", Name: "t"}},
	}
	first, err := life.RegisterWorker(ctxT(t), req)
	if err != nil || !first.Success || first.GetError() != "" {
		t.Fatalf("register: %v %v", first, err)
	}
	if id, err := uuid.Parse(first.WorkerId); err != nil || id == uuid.Nil {
		t.Fatalf("worker id %q", first.WorkerId)
	}
	if first.WorkerId == w.WorkerID() {
		t.Fatal("two workers got the same id")
	}
	// A restarted worker registering the same name again is fine, as are
	// several workers with the same kinds.
	again, err := life.RegisterWorker(ctxT(t), req)
	if err != nil || !again.Success || len(again.WorkflowConflicts)+len(again.TaskConflicts) != 0 {
		t.Fatalf("register again: %v %v", again, err)
	}
	if _, err := uuid.Parse(again.WorkerId); err != nil {
		t.Fatalf("worker id %q", again.WorkerId)
	}
	for _, hb := range []string{first.WorkerId, uuid.NewString()} {
		if _, err := life.SendHeartbeat(ctxT(t), &flovynv1.WorkerHeartbeatRequest{WorkerId: hb}); err != nil {
			t.Fatalf("heartbeat of %s: %v", hb, err)
		}
	}
}

// logCounter is a slog handler counting records by message.
type logCounter struct {
	mu   *sync.Mutex
	msgs map[string]int
}

func newLogCounter() logCounter { return logCounter{mu: &sync.Mutex{}, msgs: map[string]int{}} }

func (l logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs[r.Message]++
	l.mu.Unlock()
	return nil
}
func (l logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logCounter) WithGroup(string) slog.Handler      { return l }
func (l logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

// TestRoutingByKind runs two workers on one queue with different kinds:
// each must only be handed the workflows and tasks it registered.
func TestRoutingByKind(t *testing.T) {
	e := start(t)
	q := queue(t)
	var mu sync.Mutex
	ran := map[string]map[string]int{"A": {}, "B": {}} // worker -> kind -> runs
	taskAttempts := map[string]int{}                   // task kind@attempt -> count
	logs := map[string]logCounter{"A": newLogCounter(), "B": newLogCounter()}
	for _, name := range []string{"A", "B"} {
		wfKind, taskKind := "wf-"+name, "task-"+name
		e.worker(q, func(w *sdk.Worker) {
			w.RegisterWorkflow(wfKind, func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
				mu.Lock()
				ran[name][ctx.Kind()]++
				mu.Unlock()
				out, err := ctx.ExecuteTask(taskKind, input, sdk.TaskOptions{})
				return map[string]any{"worker": name, "task": out}, err
			})
			w.RegisterTask(taskKind, func(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
				mu.Lock()
				ran[name][ctx.Kind()]++
				taskAttempts[fmt.Sprintf("%s@%d", ctx.Kind(), ctx.Attempt())]++
				mu.Unlock()
				return map[string]string{"ranBy": name}, nil
			})
		}, func(o *sdk.WorkerOptions) { o.Logger = slog.New(logs[name]) })
	}
	c := e.client()
	var ids []string
	var kinds []string
	for i := range 10 {
		for _, name := range []string{"A", "B"} {
			ids = append(ids, e.startWF(c, "wf-"+name, i, q))
			kinds = append(kinds, name)
		}
	}
	for i, id := range ids {
		var out struct {
			Worker string
			Task   struct{ RanBy string }
		}
		if err := e.wait(c, id, &out); err != nil {
			t.Fatal(err)
		}
		if out.Worker != kinds[i] || out.Task.RanBy != kinds[i] {
			t.Fatalf("wf-%s ran on worker %s, its task on %s", kinds[i], out.Worker, out.Task.RanBy)
		}
		wantCounts(t, e.events(c, id), map[string]int{"TASK_SCHEDULED": 1, "TASK_COMPLETED": 1, "TASK_FAILED": 0})
	}
	mu.Lock()
	defer mu.Unlock()
	for name, other := range map[string]string{"A": "B", "B": "A"} {
		if ran[name]["wf-"+other]+ran[name]["task-"+other] != 0 {
			t.Fatalf("worker %s ran kinds of %s: %v", name, other, ran[name])
		}
		if n := logs[name].count("workflow kind not registered on this worker"); n != 0 {
			t.Fatalf("worker %s was handed %d workflow tasks of a kind it does not have", name, n)
		}
	}
	// A task of the wrong kind would be failed by the SDK and retried.
	if taskAttempts["task-A@1"] != 10 || taskAttempts["task-B@1"] != 10 || len(taskAttempts) != 2 {
		t.Fatalf("task attempts %v, want each task to run once, at attempt 1", taskAttempts)
	}
}
