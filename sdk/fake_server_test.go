package sdk

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// fakeState is the in-memory state of a tiny fake flovyn server: just what
// the SDK tests need, no engine.
type fakeState struct {
	token    string
	workerID string

	mu           sync.Mutex
	registration *flovynv1.WorkerRegistrationRequest
	wfPolls      []*flovynv1.PollRequest
	taskPolls    []*flovynv1.PollTaskRequest
	workflows    []*flovynv1.WorkflowExecution // handed out once each
	tasks        []*flovynv1.TaskExecutionInfo
	events       map[string][]*flovynv1.WorkflowEvent
	eventCalls   map[string]int
	// eventsAfter, when set, replaces the history of an execution from the
	// given GetEvents call number on (1-based).
	eventsAfter map[string]struct {
		call   int
		events []*flovynv1.WorkflowEvent
	}
	starts  []*flovynv1.StartWorkflowRequest
	signals []*flovynv1.SignalWorkflowRequest
	sws     []*flovynv1.SignalWithStartWorkflowRequest
	settled []string // "resolve <id> <value>" / "reject <id> <error>"
	streams []*flovynv1.StreamTaskDataRequest
	methods []string

	// agents, when set, serves AgentDispatch (see agent_test.go).
	agents flovynv1.AgentDispatchServer

	submits   chan *flovynv1.SubmitWorkflowCommandsRequest
	completes chan *flovynv1.CompleteTaskRequest
	fails     chan *flovynv1.FailTaskRequest
}

type fakeDispatch struct {
	flovynv1.UnimplementedWorkflowDispatchServer
	s *fakeState
}
type fakeTasks struct {
	flovynv1.UnimplementedTaskExecutionServer
	s *fakeState
}
type fakeLifecycle struct {
	flovynv1.UnimplementedWorkerLifecycleServer
	s *fakeState
}
type fakeQuery struct {
	flovynv1.UnimplementedWorkflowQueryServer
	s *fakeState
}

// startFake serves the fake on 127.0.0.1:0 and returns a connected client.
func startFake(t *testing.T, s *fakeState) *Client {
	t.Helper()
	if s.events == nil {
		s.events = map[string][]*flovynv1.WorkflowEvent{}
	}
	s.eventCalls = map[string]int{}
	s.submits = make(chan *flovynv1.SubmitWorkflowCommandsRequest, 16)
	s.completes = make(chan *flovynv1.CompleteTaskRequest, 16)
	s.fails = make(chan *flovynv1.FailTaskRequest, 16)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+s.token {
			return nil, status.Error(codes.Unauthenticated, "bad credentials")
		}
		s.mu.Lock()
		s.methods = append(s.methods, info.FullMethod)
		s.mu.Unlock()
		return h(ctx, req)
	}))
	flovynv1.RegisterWorkflowDispatchServer(srv, &fakeDispatch{s: s})
	flovynv1.RegisterTaskExecutionServer(srv, &fakeTasks{s: s})
	flovynv1.RegisterWorkerLifecycleServer(srv, &fakeLifecycle{s: s})
	flovynv1.RegisterWorkflowQueryServer(srv, &fakeQuery{s: s})
	if s.agents != nil {
		flovynv1.RegisterAgentDispatchServer(srv, s.agents)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ClientOptions{Address: "http://" + lis.Addr().String(), Token: s.token, OrgID: testOrgID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const testOrgID = "11111111-2222-4333-8444-555555555555"

func (f *fakeLifecycle) RegisterWorker(_ context.Context, r *flovynv1.WorkerRegistrationRequest) (*flovynv1.WorkerRegistrationResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.registration = r
	return &flovynv1.WorkerRegistrationResponse{WorkerId: f.s.workerID, Success: true}, nil
}

func (f *fakeLifecycle) SendHeartbeat(context.Context, *flovynv1.WorkerHeartbeatRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (f *fakeDispatch) PollWorkflow(_ context.Context, r *flovynv1.PollRequest) (*flovynv1.PollResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.wfPolls = append(f.s.wfPolls, r)
	if len(f.s.workflows) == 0 {
		return &flovynv1.PollResponse{}, nil
	}
	wf := f.s.workflows[0]
	f.s.workflows = f.s.workflows[1:]
	return &flovynv1.PollResponse{WorkflowExecution: wf}, nil
}

func (f *fakeDispatch) GetEvents(_ context.Context, r *flovynv1.GetEventsRequest) (*flovynv1.GetEventsResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	id := r.GetWorkflowExecutionId()
	f.s.eventCalls[id]++
	if a, ok := f.s.eventsAfter[id]; ok && f.s.eventCalls[id] >= a.call {
		return &flovynv1.GetEventsResponse{Events: a.events}, nil
	}
	evs, ok := f.s.events[id]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such execution")
	}
	return &flovynv1.GetEventsResponse{Events: evs}, nil
}

func (f *fakeDispatch) SubmitWorkflowCommands(_ context.Context, r *flovynv1.SubmitWorkflowCommandsRequest) (*emptypb.Empty, error) {
	f.s.submits <- r
	return &emptypb.Empty{}, nil
}

func (f *fakeDispatch) StartWorkflow(_ context.Context, r *flovynv1.StartWorkflowRequest) (*flovynv1.StartWorkflowResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.starts = append(f.s.starts, r)
	return &flovynv1.StartWorkflowResponse{WorkflowExecutionId: testExecID, IdempotencyKeyNew: true}, nil
}

func (f *fakeDispatch) SignalWorkflow(_ context.Context, r *flovynv1.SignalWorkflowRequest) (*flovynv1.SignalWorkflowResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.signals = append(f.s.signals, r)
	return &flovynv1.SignalWorkflowResponse{SignalEventSequence: 7}, nil
}

func (f *fakeDispatch) SignalWithStartWorkflow(_ context.Context, r *flovynv1.SignalWithStartWorkflowRequest) (*flovynv1.SignalWithStartWorkflowResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.sws = append(f.s.sws, r)
	return &flovynv1.SignalWithStartWorkflowResponse{WorkflowExecutionId: testExecID, WorkflowCreated: len(f.s.sws) == 1, SignalEventSequence: 2}, nil
}

func (f *fakeDispatch) ResolvePromise(_ context.Context, r *flovynv1.ResolvePromiseRequest) (*emptypb.Empty, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.settled = append(f.s.settled, "resolve "+r.GetPromiseId()+" "+string(r.GetValue()))
	return &emptypb.Empty{}, nil
}

func (f *fakeDispatch) RejectPromise(_ context.Context, r *flovynv1.RejectPromiseRequest) (*emptypb.Empty, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.settled = append(f.s.settled, "reject "+r.GetPromiseId()+" "+r.GetError())
	return &emptypb.Empty{}, nil
}

func (f *fakeTasks) PollTask(_ context.Context, r *flovynv1.PollTaskRequest) (*flovynv1.PollTaskResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.taskPolls = append(f.s.taskPolls, r)
	if len(f.s.tasks) == 0 {
		return &flovynv1.PollTaskResponse{}, nil
	}
	tk := f.s.tasks[0]
	f.s.tasks = f.s.tasks[1:]
	return &flovynv1.PollTaskResponse{Task: tk}, nil
}

func (f *fakeTasks) CompleteTask(_ context.Context, r *flovynv1.CompleteTaskRequest) (*emptypb.Empty, error) {
	f.s.completes <- r
	return &emptypb.Empty{}, nil
}

func (f *fakeTasks) FailTask(_ context.Context, r *flovynv1.FailTaskRequest) (*emptypb.Empty, error) {
	f.s.fails <- r
	return &emptypb.Empty{}, nil
}

func (f *fakeTasks) StreamTaskData(_ context.Context, r *flovynv1.StreamTaskDataRequest) (*flovynv1.StreamTaskDataResponse, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.streams = append(f.s.streams, r)
	return &flovynv1.StreamTaskDataResponse{Acknowledged: true}, nil
}

func (f *fakeTasks) ReportProgress(context.Context, *flovynv1.ReportProgressRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (f *fakeTasks) LogMessage(context.Context, *flovynv1.LogMessageRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (f *fakeQuery) QueryWorkflow(_ context.Context, r *flovynv1.QueryWorkflowRequest) (*flovynv1.QueryWorkflowResponse, error) {
	if r.GetQueryName() == "status" {
		return &flovynv1.QueryWorkflowResponse{Result: []byte(`{"step":3}`)}, nil
	}
	msg := "unknown query"
	return &flovynv1.QueryWorkflowResponse{Error: &msg}, nil
}

func pbEvent(e Event) *flovynv1.WorkflowEvent {
	return &flovynv1.WorkflowEvent{SequenceNumber: int32(e.Sequence), EventType: e.Type, EventData: e.Data}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for the worker")
		panic("unreachable")
	}
}
