package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/limits"
)

// The RPCs the SDKs wrap but do not call in their worker paths.

func TestStandaloneTaskStateHeartbeatAndSubscription(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dispatch := flovynv1.NewWorkflowDispatchClient(c.Conn())
	tasks := flovynv1.NewTaskExecutionClient(c.Conn())

	// A subscriber hears about work on its queue.
	sub, err := dispatch.SubscribeToNotifications(ctx, &flovynv1.SubscriptionRequest{Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Header(); err != nil { // sent once the subscription is registered
		t.Fatal(err)
	}
	heard := make(chan *flovynv1.WorkAvailableEvent, 1)
	go func() {
		if ev, err := sub.Recv(); err == nil {
			heard <- ev
		}
	}()

	req := &flovynv1.SubmitTaskRequest{Kind: "standalone", Input: []byte(`{"n":1}`), Queue: q, MaxRetries: 1, IdempotencyKey: ptr("job-1")}
	first, err := tasks.SubmitTask(ctx, req)
	if err != nil || !first.IdempotencyKeyNew {
		t.Fatalf("SubmitTask: %v %v", first, err)
	}
	again, err := tasks.SubmitTask(ctx, req)
	if err != nil || again.TaskExecutionId != first.TaskExecutionId || !again.IdempotencyKeyUsed {
		t.Fatalf("SubmitTask with the same key: %v %v; want the same task", again, err)
	}
	select {
	case ev := <-heard:
		if ev.Queue != q || ev.OrgId != e.tenant.ID.String() {
			t.Fatalf("notification %v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no WorkAvailableEvent for the submitted task")
	}

	polled, err := tasks.PollTask(ctx, &flovynv1.PollTaskRequest{WorkerId: "w1", Queue: q})
	if err != nil || polled.Task == nil || polled.Task.TaskExecutionId != first.TaskExecutionId || polled.Task.WorkflowExecutionId != "" || polled.Task.ExecutionCount != 1 {
		t.Fatalf("PollTask: %v %v", polled, err)
	}
	id := first.TaskExecutionId
	if _, err := tasks.Heartbeat(ctx, &flovynv1.HeartbeatRequest{TaskExecutionId: id}); err != nil {
		t.Fatal(err)
	}

	// Task-scoped state.
	if got, err := tasks.GetState(ctx, &flovynv1.GetStateRequest{TaskExecutionId: id, Key: "k"}); err != nil || got.Found {
		t.Fatalf("GetState before set: %v %v", got, err)
	}
	for _, k := range []string{"b", "a"} {
		if _, err := tasks.SetState(ctx, &flovynv1.SetStateRequest{TaskExecutionId: id, Key: k, Value: []byte(`{"v":"` + k + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tasks.SetState(ctx, &flovynv1.SetStateRequest{TaskExecutionId: id, Key: "bad", Value: []byte(`{`)}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("SetState with malformed JSON: %v", err)
	}
	got, err := tasks.GetState(ctx, &flovynv1.GetStateRequest{TaskExecutionId: id, Key: "a"})
	if err != nil || !got.Found || string(got.Value) != `{"v":"a"}` {
		t.Fatalf("GetState: %v %v", got, err)
	}
	keys, err := tasks.GetStateKeys(ctx, &flovynv1.GetStateKeysRequest{TaskExecutionId: id})
	if err != nil || !slices.Equal(keys.Keys, []string{"a", "b"}) {
		t.Fatalf("GetStateKeys: %v %v", keys, err)
	}
	if _, err := tasks.ClearState(ctx, &flovynv1.ClearStateRequest{TaskExecutionId: id, Key: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tasks.ClearAllState(ctx, &flovynv1.ClearAllStateRequest{TaskExecutionId: id}); err != nil {
		t.Fatal(err)
	}
	if keys, err := tasks.GetStateKeys(ctx, &flovynv1.GetStateKeysRequest{TaskExecutionId: id}); err != nil || len(keys.Keys) != 0 {
		t.Fatalf("keys after ClearAllState: %v %v", keys, err)
	}

	// Another tenant sees none of it.
	other := flovynv1.NewTaskExecutionClient(e.clientWith(e.otherKey, "").Conn())
	if _, err := other.GetState(ctx, &flovynv1.GetStateRequest{TaskExecutionId: id, Key: "a"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetState from another tenant: %v, want NotFound", err)
	}
	if _, err := other.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: []byte(`1`)}); status.Code(err) != codes.NotFound {
		t.Fatalf("CompleteTask from another tenant: %v, want NotFound", err)
	}

	if _, err := tasks.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: []byte(`{"done":true}`)}); err != nil {
		t.Fatal(err)
	}
	// Completing again is an idempotent OK.
	if _, err := tasks.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: []byte(`{"done":false}`)}); err != nil {
		t.Fatalf("second CompleteTask: %v", err)
	}
	task, err := e.srv.Store().Task(ctx, e.tenant.ID, mustUUID(t, id))
	if err != nil || task.Status != "COMPLETED" || string(task.Output) != `{"done":true}` {
		t.Fatalf("stored task %+v %v", task, err)
	}
}

func TestCancelTaskUnblocksTheWorkflow(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Only a workflow worker: the task stays PENDING until cancelled.
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("awaits-task", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			_, err := ctx.ExecuteTask("never-run", nil, sdk.TaskOptions{})
			if err == nil {
				return "task ran", nil
			}
			return "task failed: " + err.Error(), nil
		})
	})
	id, err := c.StartWorkflow(ctx, "awaits-task", nil, sdk.StartOptions{Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	var taskID string
	for taskID == "" {
		for _, ev := range e.events(c, id) {
			if ev.Type == "TASK_SCHEDULED" {
				var d struct {
					TaskExecutionID string `json:"taskExecutionId"`
				}
				_ = json.Unmarshal(ev.Data, &d)
				taskID = d.TaskExecutionID
			}
		}
		if ctx.Err() != nil {
			t.Fatal("task never scheduled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tasks := flovynv1.NewTaskExecutionClient(c.Conn())
	if _, err := tasks.CancelTask(ctx, &flovynv1.CancelTaskRequest{TaskExecutionId: taskID}); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := c.WaitForResult(ctx, id, &out); err != nil || out != "task failed: Task failed: Task cancelled" {
		t.Fatalf("result %q, %v", out, err)
	}
	evs := e.events(c, id)
	if count(evs, "TASK_CANCELLED") != 1 || count(evs, "TASK_FAILED") != 1 {
		t.Fatalf("history %v", types(evs))
	}
}

func ptr[T any](v T) *T { return &v }

func TestOversizedMessageIsRefused(t *testing.T) {
	e := start(t)
	c := e.client()
	dispatch := flovynv1.NewWorkflowDispatchClient(c.Conn())
	big := make([]byte, limits.MessageBytes(0, 0)+1)
	for i := range big {
		big[i] = ' '
	}
	big[0], big[len(big)-1] = '[', ']'
	_, err := dispatch.StartWorkflow(context.Background(), &flovynv1.StartWorkflowRequest{WorkflowKind: "big", Input: big},
		grpc.MaxCallSendMsgSize(32<<20))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a %d-byte StartWorkflow: %v, want RESOURCE_EXHAUSTED", len(big), err)
	}
}
