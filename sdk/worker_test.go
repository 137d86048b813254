package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

const fakeWorkerID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestWorkerLoops(t *testing.T) {
	s := &fakeState{
		token:    "fwt_test",
		workerID: fakeWorkerID,
		workflows: []*flovynv1.WorkflowExecution{{
			Id: testExecID, Kind: "hello", OrgId: testOrgID, Input: []byte(`{"name":"Ada"}`),
			Queue: "q1", WorkflowTaskTimeMillis: 1767000000000,
		}},
		events: map[string][]*flovynv1.WorkflowEvent{
			testExecID: {pbEvent(ev(1, EventWorkflowStarted, map[string]any{"input": map[string]any{"name": "Ada"}}))},
		},
		tasks: []*flovynv1.TaskExecutionInfo{
			{TaskExecutionId: "t-1", Kind: "greet", Input: []byte(`{"name":"Ada"}`), WorkflowExecutionId: testExecID, ExecutionCount: 2, Queue: "q1"},
			{TaskExecutionId: "t-2", Kind: "nope", Input: []byte(`null`), ExecutionCount: 1},
			{TaskExecutionId: "t-3", Kind: "fails", Input: []byte(`null`), ExecutionCount: 1},
		},
	}
	c := startFake(t, s)

	w := NewWorker(c, WorkerOptions{Queue: "q1", Name: "test-worker", NoWorkBackoff: 10 * time.Millisecond, Logger: quietLogger()})
	w.RegisterWorkflow("hello", func(ctx *WorkflowContext, input json.RawMessage) (any, error) {
		in, err := Decode[struct{ Name string }](input)
		if err != nil {
			return nil, err
		}
		return ExecuteTask[string](ctx, "greet", in, TaskOptions{})
	})
	w.RegisterTask("greet", func(ctx *TaskContext, input json.RawMessage) (any, error) {
		in, err := Decode[struct{ Name string }](input)
		if err != nil {
			return nil, err
		}
		ctx.StreamToken("Hel")
		ctx.StreamProgress(1.5, "")
		ctx.StreamData(map[string]int{"k": 1})
		ctx.StreamError("oops", "E1")
		ctx.ReportProgress(0.5, "half")
		ctx.Log(LevelInfo, "greeting")
		return map[string]any{"greeting": "Hello, " + in.Name, "attempt": ctx.Attempt()}, nil
	})
	w.RegisterTask("fails", func(*TaskContext, json.RawMessage) (any, error) { return nil, errors.New("bad input") })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	// Workflow task: only the new command plus SUSPEND_WORKFLOW, status SUSPENDED.
	sub := recv(t, s.submits)
	if sub.GetWorkflowExecutionId() != testExecID || sub.GetStatus() != flovynv1.WorkflowStatus_SUSPENDED {
		t.Fatalf("submit = %v", sub)
	}
	if len(sub.GetCommands()) != 2 {
		t.Fatalf("commands = %v", sub.GetCommands())
	}
	st := sub.GetCommands()[0].GetScheduleTask()
	if st.GetKind() != "greet" || st.GetTaskExecutionId() != taskID(0) || sub.GetCommands()[0].GetSequenceNumber() != 2 {
		t.Fatalf("schedule = %v", sub.GetCommands()[0])
	}
	jsonEq(t, st.GetInput(), `{"Name":"Ada"}`)
	if sub.GetCommands()[1].GetCommandType() != flovynv1.CommandType_SUSPEND_WORKFLOW {
		t.Fatalf("last command = %v", sub.GetCommands()[1])
	}

	// Tasks: success, unknown kind, error.
	comp := recv(t, s.completes)
	if comp.GetTaskExecutionId() != "t-1" {
		t.Fatalf("complete = %v", comp)
	}
	jsonEq(t, comp.GetOutput(), `{"greeting":"Hello, Ada","attempt":2}`)
	fails := map[string]string{}
	for range 2 {
		f := recv(t, s.fails)
		fails[f.GetTaskExecutionId()] = f.GetError()
	}
	if fails["t-2"] != "Task kind not found: nope" || fails["t-3"] != "bad input" {
		t.Fatalf("fails = %v", fails)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.registration
	if reg == nil || reg.GetWorkerType() != "UNIFIED" || reg.GetWorkerName() != "test-worker" || reg.GetOrgId() != testOrgID {
		t.Fatalf("registration = %v", reg)
	}
	if len(reg.GetWorkflows()) != 1 || reg.GetWorkflows()[0].GetKind() != "hello" || reg.GetWorkflows()[0].GetContentHash() != contentHash("hello", "1.0.0") {
		t.Fatalf("workflow capabilities = %v", reg.GetWorkflows())
	}
	if len(reg.GetTasks()) != 2 || reg.GetTasks()[0].GetKind() != "fails" || reg.GetTasks()[1].GetKind() != "greet" {
		t.Fatalf("task capabilities = %v", reg.GetTasks())
	}
	if len(s.wfPolls) < 2 || len(s.taskPolls) < 4 {
		t.Fatalf("polls: %d workflow, %d task", len(s.wfPolls), len(s.taskPolls))
	}
	for _, p := range s.wfPolls {
		if p.GetWorkerId() != fakeWorkerID || p.GetQueue() != "q1" || p.GetOrgId() != testOrgID || p.GetTimeoutSeconds() != 60 {
			t.Fatalf("workflow poll = %v", p)
		}
	}
	for _, p := range s.taskPolls {
		if p.GetWorkerId() != fakeWorkerID || p.GetQueue() != "q1" || p.GetOrgId() != testOrgID {
			t.Fatalf("task poll = %v", p)
		}
	}
	wantStreams := []struct {
		typ     flovynv1.StreamEventType
		payload string
	}{
		{flovynv1.StreamEventType_TOKEN, `{"type":"token","text":"Hel"}`},
		{flovynv1.StreamEventType_PROGRESS, `{"type":"progress","progress":1}`},
		{flovynv1.StreamEventType_DATA, `{"type":"data","data":{"k":1}}`},
		{flovynv1.StreamEventType_ERROR, `{"type":"error","message":"oops","code":"E1"}`},
	}
	if len(s.streams) != len(wantStreams) {
		t.Fatalf("streams = %v", s.streams)
	}
	for i, ws := range wantStreams {
		got := s.streams[i]
		if got.GetType() != ws.typ || got.GetSequence() != int32(i) || got.GetTaskExecutionId() != "t-1" || got.GetWorkflowExecutionId() != testExecID {
			t.Fatalf("stream %d = %v", i, got)
		}
		jsonEq(t, []byte(got.GetPayload()), ws.payload)
	}
}

func TestWorkerShutdownWaitsForInFlightTask(t *testing.T) {
	s := &fakeState{
		token: "tok", workerID: fakeWorkerID,
		tasks: []*flovynv1.TaskExecutionInfo{{TaskExecutionId: "slow-1", Kind: "slow", Input: []byte(`1`), ExecutionCount: 1}},
	}
	c := startFake(t, s)
	started := make(chan struct{})
	release := make(chan struct{})
	w := NewWorker(c, WorkerOptions{NoWorkBackoff: 10 * time.Millisecond, Logger: quietLogger()})
	w.RegisterTask("slow", func(tc *TaskContext, _ json.RawMessage) (any, error) {
		close(started)
		<-release
		if tc.Context().Err() != nil {
			return nil, errors.New("task context cancelled by shutdown")
		}
		return "done", nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	recv(t, started)
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a task was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if comp := recv(t, s.completes); comp.GetTaskExecutionId() != "slow-1" {
		t.Fatalf("complete = %v", comp)
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestWorkerConcurrencyLimit(t *testing.T) {
	s := &fakeState{token: "tok", workerID: fakeWorkerID}
	for i := range 5 {
		s.tasks = append(s.tasks, &flovynv1.TaskExecutionInfo{TaskExecutionId: string(rune('a' + i)), Kind: "block", ExecutionCount: 1})
	}
	c := startFake(t, s)
	running := make(chan struct{}, 5)
	release := make(chan struct{})
	w := NewWorker(c, WorkerOptions{MaxConcurrentTasks: 2, NoWorkBackoff: 5 * time.Millisecond, Logger: quietLogger()})
	w.RegisterTask("block", func(*TaskContext, json.RawMessage) (any, error) {
		running <- struct{}{}
		<-release
		return nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	recv(t, running)
	recv(t, running)
	select {
	case <-running:
		t.Fatal("more than MaxConcurrentTasks tasks running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for range 5 {
		recv(t, s.completes)
	}
	cancel()
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestWorkerRegistrationErrors(t *testing.T) {
	c := startFake(t, &fakeState{token: "right", workerID: fakeWorkerID})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A credential the server rejects makes Run fail at registration.
	wrong, err := Dial(ctx, ClientOptions{Address: c.Conn().Target(), Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	w := NewWorker(wrong, WorkerOptions{Logger: quietLogger()})
	w.RegisterTask("x", func(*TaskContext, json.RawMessage) (any, error) { return nil, nil })
	if err := w.Run(ctx); err == nil || !strings.Contains(err.Error(), "register worker") {
		t.Fatalf("Run = %v, want a registration error", err)
	}

	empty := NewWorker(c, WorkerOptions{Logger: quietLogger()})
	if err := empty.Run(ctx); err == nil {
		t.Fatal("Run with nothing registered should fail")
	}
}

func TestUnknownWorkflowKindSubmitsNothing(t *testing.T) {
	s := &fakeState{
		token: "tok", workerID: fakeWorkerID,
		workflows: []*flovynv1.WorkflowExecution{{Id: testExecID, Kind: "unknown"}},
		events:    map[string][]*flovynv1.WorkflowEvent{testExecID: {pbEvent(started())}},
	}
	c := startFake(t, s)
	w := NewWorker(c, WorkerOptions{NoWorkBackoff: 5 * time.Millisecond, Logger: quietLogger()})
	w.RegisterWorkflow("known", func(*WorkflowContext, json.RawMessage) (any, error) { return nil, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(150 * time.Millisecond)
	cancel()
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	select {
	case sub := <-s.submits:
		t.Fatalf("unexpected submit %v", sub)
	default:
	}
}
