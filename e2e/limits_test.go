package e2e

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	encproto "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

// small limits keep the tests fast: a 64 KiB payload, a 200 KiB history.
func smallLimits(o *options) {
	o.engine.MaxPayloadBytes = 64 << 10
	o.engine.MaxHistoryBytes = 200 << 10
}

func wantMessage(t *testing.T, what string, err error, code codes.Code, part string) {
	t.Helper()
	wantCode(t, what, err, code)
	if !strings.Contains(err.Error(), part) {
		t.Fatalf("%s: %v does not mention %q", what, err, part)
	}
}

// A payload over the limit, or a signal that would take a history past
// its limit, is refused with RESOURCE_EXHAUSTED naming the limit; the
// workflow stays dispatchable and finishes.
func TestPayloadAndHistoryLimitsRefuseRequests(t *testing.T) {
	e := start(t, smallLimits)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("collector", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return ctx.Signal("done").Raw()
		})
	})
	c := e.client()
	ctx := ctxT(t)
	big := strings.Repeat("x", 65<<10)
	_, err := c.StartWorkflow(ctx, "collector", big, sdk.StartOptions{Queue: q})
	wantMessage(t, "start with a 65 KiB input", err, codes.ResourceExhausted, "max_payload_bytes")

	id := e.startWF(c, "collector", nil, q)
	e.waitEvent(c, id, "WORKFLOW_SUSPENDED")
	_, err = c.SignalWorkflow(ctx, id, "junk", big)
	wantMessage(t, "a 65 KiB signal", err, codes.ResourceExhausted, "max_payload_bytes")
	chunk := strings.Repeat("y", 60<<10)
	refused := false
	for range 5 {
		if _, err = c.SignalWorkflow(ctx, id, "junk", chunk); err != nil {
			wantMessage(t, "a signal past the history limit", err, codes.ResourceExhausted, "max_history_bytes")
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("five 60 KiB signals fitted in a 200 KiB history")
	}
	if _, err := c.SignalWorkflow(ctx, id, "done", "ok"); err != nil {
		t.Fatalf("a small signal that fits: %v", err)
	}
	var out string
	if err := e.wait(c, id, &out); err != nil || out != "ok" {
		t.Fatalf("result %q, %v", out, err)
	}
	if size := e.workflowRow(id).HistoryBytes; size > 200<<10 {
		t.Fatalf("history is %d bytes, over the 200 KiB limit", size)
	}
}

// What a worker reports is never refused for the history's sake: when a
// task result would take the history past its limit, the workflow fails
// with the reason, and its history still fits.
func TestHistoryLimitFailsTheWorkflowOnAWorkersResult(t *testing.T) {
	e := start(t, smallLimits)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("hoarder", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			for range 5 {
				if _, err := ctx.ScheduleTask("bulky", nil, sdk.TaskOptions{}).Raw(); err != nil {
					return nil, err
				}
			}
			return "all fitted", nil
		})
		w.RegisterTask("bulky", func(*sdk.TaskContext, json.RawMessage) (any, error) {
			return strings.Repeat("z", 60<<10), nil
		})
	})
	c := e.client()
	id := e.startWF(c, "hoarder", nil, q)
	err := e.wait(c, id, nil)
	if err == nil || !strings.Contains(err.Error(), "max_history_bytes") {
		t.Fatalf("want the workflow failed by the history limit, got %v", err)
	}
	row := e.workflowRow(id)
	if row.Status != "FAILED" || row.HistoryBytes > 200<<10 {
		t.Fatalf("status %s, history %d bytes", row.Status, row.HistoryBytes)
	}
	evs := e.events(c, id)
	wantField(t, first(t, evs, "WORKFLOW_EXECUTION_FAILED"), "failureType", `"HISTORY_SIZE_LIMIT_EXCEEDED"`)
}

// REQUEST_CANCEL_CHILD_WORKFLOW names a child of the submitting workflow;
// any other execution is refused and left alone.
func TestCancelChildOnlyCancelsAChild(t *testing.T) {
	e := start(t)
	c := e.client()
	ctx := ctxT(t)
	q := queue(t)
	wf, _, _, _ := raw(c)
	bystander, err := wf.StartWorkflow(ctx, &flovynv1.StartWorkflowRequest{WorkflowKind: "bystander", Queue: queue(t)})
	if err != nil {
		t.Fatal(err)
	}
	started, err := wf.StartWorkflow(ctx, &flovynv1.StartWorkflowRequest{WorkflowKind: "canceller", Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wf.PollWorkflow(ctx, &flovynv1.PollRequest{WorkerId: "w", Queue: q}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{bystander.WorkflowExecutionId, uuid.NewString()} {
		_, err = wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
			WorkflowExecutionId: started.WorkflowExecutionId, Status: flovynv1.WorkflowStatus_SUSPENDED,
			Commands: []*flovynv1.WorkflowCommand{{CommandType: flovynv1.CommandType_REQUEST_CANCEL_CHILD_WORKFLOW,
				CommandData: &flovynv1.WorkflowCommand_RequestCancelChildWorkflow{RequestCancelChildWorkflow: &flovynv1.RequestCancelChildWorkflowCommand{
					ChildWorkflowExecutionId: target, Reason: "not mine"}}}},
		})
		wantMessage(t, "cancel a workflow that is not a child", err, codes.InvalidArgument, "commands[0].request_cancel_child_workflow")
	}
	if row := e.workflowRow(bystander.WorkflowExecutionId); row.Status != "PENDING" || row.CancelRequested {
		t.Fatalf("the bystander is %s (cancel requested %v)", row.Status, row.CancelRequested)
	}
	if got := types(e.events(c, bystander.WorkflowExecutionId)); len(got) != 1 {
		t.Fatalf("the bystander's history is %v", got)
	}
}

// Bad input over gRPC is INVALID_ARGUMENT naming the field, and stores nothing.
func TestBadInputIsRefusedOverGRPC(t *testing.T) {
	e := start(t)
	c := e.client()
	ctx := ctxT(t)
	q := queue(t)
	wf, task, life, _ := raw(c)
	long := strings.Repeat("k", 256)
	ptr := func(s string) *string { return &s }
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name  string
		field string
		req   *flovynv1.StartWorkflowRequest
	}{
		{"NUL in kind", "workflow_kind", &flovynv1.StartWorkflowRequest{WorkflowKind: "a\x00b"}},
		{"long kind", "workflow_kind", &flovynv1.StartWorkflowRequest{WorkflowKind: long}},
		{"long queue", "queue", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Queue: long}},
		{"NUL in queue", "queue", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Queue: "q\x00"}},
		{"long metadata key", "metadata", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Metadata: map[string]string{long: "v"}}},
		{"long metadata value", "metadata", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Metadata: map[string]string{"k": strings.Repeat("v", 1025)}}},
		{"NUL in metadata", "metadata", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Metadata: map[string]string{"k": "\x00"}}},
		{"long idempotency key", "idempotency_key", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", IdempotencyKey: ptr(strings.Repeat("i", 513))}},
		{"overflowing ttl", "idempotency_key_ttl_seconds", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", IdempotencyKeyTtlSeconds: i64(math.MaxInt64)}},
		{"negative ttl", "idempotency_key_ttl_seconds", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", IdempotencyKeyTtlSeconds: i64(-1)}},
		{"input not JSON", "input", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Input: []byte("{")}},
		{"long version", "workflow_version", &flovynv1.StartWorkflowRequest{WorkflowKind: "k", WorkflowVersion: &long}},
	} {
		_, err := wf.StartWorkflow(ctx, tc.req)
		wantMessage(t, tc.name, err, codes.InvalidArgument, tc.field)
	}

	_, err := life.RegisterWorker(ctx, &flovynv1.WorkerRegistrationRequest{WorkerName: long})
	wantMessage(t, "a long worker name", err, codes.InvalidArgument, "worker_name")
	_, err = task.SubmitTask(ctx, &flovynv1.SubmitTaskRequest{Kind: "k", TimeoutMs: math.MaxInt64})
	wantMessage(t, "an overflowing task timeout", err, codes.InvalidArgument, "timeout_ms")

	// A workflow, then commands with bad fields.
	started, err := wf.StartWorkflow(ctx, &flovynv1.StartWorkflowRequest{WorkflowKind: "k", Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	id := started.WorkflowExecutionId
	if _, err := wf.PollWorkflow(ctx, &flovynv1.PollRequest{WorkerId: "w", Queue: q}); err != nil {
		t.Fatal(err)
	}
	_, err = wf.SignalWorkflow(ctx, &flovynv1.SignalWorkflowRequest{WorkflowExecutionId: id, SignalName: "s\x00"})
	wantMessage(t, "NUL in a signal name", err, codes.InvalidArgument, "signal_name")
	for _, tc := range []struct {
		name, field string
		cmd         *flovynv1.WorkflowCommand
	}{
		{"overflowing timer", "commands[0].start_timer.duration_ms", &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_START_TIMER,
			CommandData: &flovynv1.WorkflowCommand_StartTimer{StartTimer: &flovynv1.StartTimerCommand{TimerId: "t", DurationMs: math.MaxInt64}}}},
		{"long timer id", "commands[0].start_timer.timer_id", &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_START_TIMER,
			CommandData: &flovynv1.WorkflowCommand_StartTimer{StartTimer: &flovynv1.StartTimerCommand{TimerId: long, DurationMs: 1}}}},
		{"long promise name", "commands[0].create_promise.promise_id", &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_CREATE_PROMISE,
			CommandData: &flovynv1.WorkflowCommand_CreatePromise{CreatePromise: &flovynv1.CreatePromiseCommand{PromiseId: long}}}},
		{"overflowing promise timeout", "commands[0].create_promise.timeout_ms", &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_CREATE_PROMISE,
			CommandData: &flovynv1.WorkflowCommand_CreatePromise{CreatePromise: &flovynv1.CreatePromiseCommand{PromiseId: "p", TimeoutMs: i64(math.MaxInt64)}}}},
		{"NUL in a task kind", "commands[0].schedule_task.kind", &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_SCHEDULE_TASK,
			CommandData: &flovynv1.WorkflowCommand_ScheduleTask{ScheduleTask: &flovynv1.ScheduleTaskCommand{TaskExecutionId: uuid.NewString(), Kind: "t\x00"}}}},
		{"NUL in a state key", "commands[0].set_state.key", &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_SET_STATE,
			CommandData: &flovynv1.WorkflowCommand_SetState{SetState: &flovynv1.SetStateCommand{Key: "\x00", Value: []byte("1")}}}},
		{"NUL in an error", "commands[0].fail_workflow.error", &flovynv1.WorkflowCommand{CommandType: flovynv1.CommandType_FAIL_WORKFLOW,
			CommandData: &flovynv1.WorkflowCommand_FailWorkflow{FailWorkflow: &flovynv1.FailWorkflowCommand{Error: "bad\x00"}}}},
	} {
		_, err := wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
			WorkflowExecutionId: id, Status: flovynv1.WorkflowStatus_SUSPENDED, Commands: []*flovynv1.WorkflowCommand{tc.cmd}})
		wantMessage(t, tc.name, err, codes.InvalidArgument, tc.field)
	}
	_, err = wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{WorkflowExecutionId: id, Status: 99})
	wantMessage(t, "an unknown status", err, codes.InvalidArgument, "status")
	if got := types(e.events(c, id)); len(got) != 1 {
		t.Fatalf("refused requests changed the history: %v", got)
	}
	if row := e.workflowRow(id); row.Status != "RUNNING" {
		t.Fatalf("status %s after refused submissions, want RUNNING (still held)", row.Status)
	}

	// Progress must be a number in [0, 1].
	submitted, err := task.SubmitTask(ctx, &flovynv1.SubmitTaskRequest{Kind: "k", Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []float64{math.NaN(), math.Inf(1), -0.5, 1.5} {
		_, err = task.ReportProgress(ctx, &flovynv1.ReportProgressRequest{TaskExecutionId: submitted.TaskExecutionId, Progress: p})
		wantMessage(t, "progress", err, codes.InvalidArgument, "progress")
	}
}

// rawBytes sends a request's bytes as they are, whatever they hold.
type rawBytes []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(rawBytes))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return encproto.Unmarshal(data.Materialize(), v.(protoreflect.ProtoMessage))
}
func (rawCodec) Name() string { return "proto" }

// A string field that is not UTF-8 cannot be sent by the SDKs (protobuf
// refuses to encode it), but a hand-made message can carry one: it is the
// caller's bad input, INVALID_ARGUMENT naming the field, never INTERNAL;
// and a caller without a credential still learns only that.
func TestUndecodableRequestIsInvalidArgument(t *testing.T) {
	e := start(t)
	field := (&flovynv1.StartWorkflowRequest{}).ProtoReflect().Descriptor().Fields().ByName("workflow_kind").Number()
	msg := protowire.AppendTag(nil, field, protowire.BytesType)
	msg = protowire.AppendBytes(msg, []byte("bad\xff\xfekind"))
	call := func(c *sdk.Client) error {
		var resp flovynv1.StartWorkflowResponse
		return c.Conn().Invoke(ctxT(t), "/flovyn.v1.WorkflowDispatch/StartWorkflow", rawBytes(msg), &resp, grpc.ForceCodecV2(rawCodec{}))
	}
	wantMessage(t, "invalid UTF-8 in workflow_kind", call(e.client()), codes.InvalidArgument, "workflow_kind")
	wantCode(t, "the same without a credential", call(e.clientWith("", "")), codes.Unauthenticated)
}
