package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

const testAgentID = "0b7e1a5c-3f2d-4c8e-9a61-2f4d5e6c7b8a"

// The values were computed independently (Python hashlib/uuid) from the
// Rust SDK's formula: sha256(agent id as 16 raw bytes ":" kind ":"
// canonical input), first 16 bytes in hex, then UUIDv5(NAMESPACE_OID, key).
func TestAgentTaskKeyMatchesTheRustFormula(t *testing.T) {
	for _, c := range []struct{ kind, input, key, id string }{
		{"echo-task", `{"message":"hello","a":[1,2.5,{"z":true,"b":null}]}`,
			"task:af8c2a82fc9764df01818c249b7af0bb", "2b88f612-96ca-577b-b9f0-48931bf7d849"},
		// Key order and whitespace do not matter.
		{"echo-task", "{ \"a\": [1, 2.5, {\"b\": null, \"z\": true}],\n \"message\": \"hello\" }",
			"task:af8c2a82fc9764df01818c249b7af0bb", "2b88f612-96ca-577b-b9f0-48931bf7d849"},
		{"slow-task", `{"source":"agent-1","sleepMs":500}`,
			"task:543a70bd791947052e7b7806afb1aafe", "85b52841-029e-575c-8a69-7fdfd0b0020b"},
	} {
		key, err := AgentTaskKey(testAgentID, c.kind, json.RawMessage(c.input))
		if err != nil {
			t.Fatal(err)
		}
		if key != c.key || AgentTaskID(key) != c.id {
			t.Errorf("%s %s: key %s id %s, want %s %s", c.kind, c.input, key, AgentTaskID(key), c.key, c.id)
		}
	}
	if _, err := AgentTaskKey(testAgentID, "k", json.RawMessage(`{nope`)); err == nil {
		t.Error("a key for input that is not JSON")
	}
}

func TestCanonicalJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"b":1,"a":{"d":[true,false,null],"c":"x"}}`: `{"a":{"c":"x","d":[true,false,null]},"b":1}`,
		`[]`:                   `[]`,
		`{}`:                   `{}`,
		`"<a&b>é\u2028"`:       "\"<a&b>é\u2028\"", // serde_json escapes none of these
		`"q\"\\\n\t\b\f\r"`:    `"q\"\\\n\t\b\f\r"`,
		`"\u0001\u001f\u007f"`: "\"\\u0001\\u001f\x7f\"",
		`-0`:                   `-0.0`,
		`18446744073709551615`: `18446744073709551615`,
		`18446744073709551616`: `1.8446744073709552e19`,
		`-9223372036854775808`: `-9223372036854775808`,
		`1.0`:                  `1.0`,
		`1.50`:                 `1.5`,
		`100e0`:                `100.0`,
		`0.001`:                `0.001`,
		`0.00001`:              `0.00001`,
		`0.000001`:             `1e-6`,
		`0.0001234`:            `0.0001234`,
		`1e15`:                 `1000000000000000.0`,
		`1e16`:                 `1e16`,
		`1.5e300`:              `1.5e300`,
		`-2.5e-7`:              `-2.5e-7`,
		`123456.789`:           `123456.789`,
	} {
		got, err := CanonicalJSON(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("CanonicalJSON(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

// fakeAgents is an in-memory AgentDispatch: it hands out the executions
// queued in it, records every call in order and answers from its fields.
type fakeAgents struct {
	flovynv1.UnimplementedAgentDispatchServer

	mu          sync.Mutex
	queue       []*flovynv1.AgentExecutionInfo
	polls       []*flovynv1.PollAgentRequest
	calls       []string
	checkpoint  *flovynv1.AgentCheckpoint
	appends     []*flovynv1.AppendEntryRequest
	headers     []*flovynv1.ScheduleAgentTaskHeader
	chunks      [][][]byte
	checkpoints []*flovynv1.SubmitCheckpointRequest
	suspends    []*flovynv1.SuspendAgentRequest
	streams     []*flovynv1.StreamAgentDataRequest
	statuses    []string    // the statuses of GetAgentTaskResults, in request order
	signals     [][]byte    // what the next ConsumeSignals returns
	cancel      [2]string   // cancelled ("true"/"false"), status
	cancels     []string    // task ids
	ends        chan string // "complete <output>", "fail <failure type>: <error>", "suspend"
}

func newFakeAgents() *fakeAgents { return &fakeAgents{ends: make(chan string, 16)} }

func (f *fakeAgents) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// takeCalls returns the calls recorded since the last takeCalls.
func (f *fakeAgents) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

func (f *fakeAgents) dispatch(info *flovynv1.AgentExecutionInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, info)
}

func (f *fakeAgents) PollAgent(_ context.Context, r *flovynv1.PollAgentRequest) (*flovynv1.PollAgentResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls = append(f.polls, r)
	if len(f.queue) == 0 {
		return &flovynv1.PollAgentResponse{}, nil
	}
	info := f.queue[0]
	f.queue = f.queue[1:]
	return &flovynv1.PollAgentResponse{AgentExecution: info}, nil
}

func (f *fakeAgents) GetEntries(_ *flovynv1.GetEntriesRequest, s grpc.ServerStreamingServer[flovynv1.AgentEntryChunk]) error {
	f.record("GetEntries")
	return s.Send(&flovynv1.AgentEntryChunk{Entry: &flovynv1.AgentEntry{Id: "e0", EntryType: "message", Content: []byte(`"hi"`)}})
}

func (f *fakeAgents) GetLatestCheckpoint(context.Context, *flovynv1.GetCheckpointRequest) (*flovynv1.GetCheckpointResponse, error) {
	f.record("GetLatestCheckpoint")
	f.mu.Lock()
	defer f.mu.Unlock()
	return &flovynv1.GetCheckpointResponse{Checkpoint: f.checkpoint}, nil
}

func (f *fakeAgents) AppendEntry(_ context.Context, r *flovynv1.AppendEntryRequest) (*flovynv1.AppendEntryResponse, error) {
	f.record("AppendEntry")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appends = append(f.appends, r)
	return &flovynv1.AppendEntryResponse{EntryId: r.GetIdempotencyKey()}, nil
}

func (f *fakeAgents) SubmitCheckpoint(_ context.Context, r *flovynv1.SubmitCheckpointRequest) (*flovynv1.SubmitCheckpointResponse, error) {
	f.record("SubmitCheckpoint")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkpoints = append(f.checkpoints, r)
	return &flovynv1.SubmitCheckpointResponse{CheckpointId: uuid.NewString(), Sequence: int32(len(f.checkpoints))}, nil
}

func (f *fakeAgents) ScheduleAgentTask(s grpc.ClientStreamingServer[flovynv1.ScheduleAgentTaskChunk, flovynv1.ScheduleAgentTaskResponse]) error {
	f.record("ScheduleAgentTask")
	var header *flovynv1.ScheduleAgentTaskHeader
	var chunks [][]byte
	for {
		c, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if h := c.GetHeader(); h != nil {
			header = h
		} else {
			chunks = append(chunks, c.GetInputChunk())
		}
	}
	f.mu.Lock()
	f.headers = append(f.headers, header)
	f.chunks = append(f.chunks, chunks)
	f.mu.Unlock()
	return s.SendAndClose(&flovynv1.ScheduleAgentTaskResponse{TaskExecutionId: AgentTaskID(header.GetIdempotencyKey()), IdempotencyKeyUsed: true})
}

func (f *fakeAgents) GetAgentTaskResults(_ context.Context, r *flovynv1.GetAgentTaskResultsRequest) (*flovynv1.GetAgentTaskResultsResponse, error) {
	f.record("GetAgentTaskResults")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &flovynv1.GetAgentTaskResultsResponse{}
	for i, id := range r.GetTaskExecutionIds() {
		e := &flovynv1.TaskResultEntry{TaskExecutionId: id, Status: f.statuses[i]}
		switch e.Status {
		case TaskCompleted:
			e.Output = []byte(`{"n":` + string(rune('0'+i)) + `}`)
		case TaskFailed:
			msg := "boom " + string(rune('0'+i))
			e.Error = &msg
		}
		out.Results = append(out.Results, e)
	}
	return out, nil
}

func (f *fakeAgents) SuspendAgent(_ context.Context, r *flovynv1.SuspendAgentRequest) (*emptypb.Empty, error) {
	f.record("SuspendAgent")
	f.mu.Lock()
	f.suspends = append(f.suspends, r)
	f.mu.Unlock()
	f.ends <- "suspend"
	return &emptypb.Empty{}, nil
}

func (f *fakeAgents) ConsumeSignals(_ context.Context, r *flovynv1.ConsumeSignalsRequest) (*flovynv1.ConsumeSignalsResponse, error) {
	f.record("ConsumeSignals " + r.GetSignalName())
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &flovynv1.ConsumeSignalsResponse{}
	for _, v := range f.signals {
		out.Signals = append(out.Signals, &flovynv1.AgentSignal{Id: uuid.NewString(), SignalName: r.GetSignalName(), SignalValue: v})
	}
	f.signals = nil
	return out, nil
}

func (f *fakeAgents) CancelAgentTask(_ context.Context, r *flovynv1.CancelAgentTaskRequest) (*flovynv1.CancelAgentTaskResponse, error) {
	f.record("CancelAgentTask")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, r.GetTaskExecutionId())
	return &flovynv1.CancelAgentTaskResponse{Cancelled: f.cancel[0] == "true", Status: f.cancel[1]}, nil
}

func (f *fakeAgents) StreamAgentData(s grpc.ClientStreamingServer[flovynv1.StreamAgentDataRequest, flovynv1.StreamAgentDataResponse]) error {
	f.record("StreamAgentData")
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&flovynv1.StreamAgentDataResponse{Acknowledged: true})
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.streams = append(f.streams, r)
		f.mu.Unlock()
	}
}

func (f *fakeAgents) CompleteAgent(_ context.Context, r *flovynv1.CompleteAgentRequest) (*emptypb.Empty, error) {
	f.record("CompleteAgent")
	f.ends <- "complete " + string(r.GetOutput())
	return &emptypb.Empty{}, nil
}

func (f *fakeAgents) FailAgent(_ context.Context, r *flovynv1.FailAgentRequest) (*emptypb.Empty, error) {
	f.record("FailAgent")
	f.ends <- "fail " + r.GetFailureType() + ": " + r.GetError()
	return &emptypb.Empty{}, nil
}

// startAgentWorker runs a worker with the given agents against a fake.
func startAgentWorker(t *testing.T, agents map[string]AgentFunc) (*fakeAgents, *fakeState) {
	t.Helper()
	fa := newFakeAgents()
	s := &fakeState{token: "fwt_test", workerID: fakeWorkerID, agents: fa}
	c := startFake(t, s)
	w := NewWorker(c, WorkerOptions{Queue: "q1", NoWorkBackoff: 5 * time.Millisecond, Logger: quietLogger()})
	for k, fn := range agents {
		w.RegisterAgent(k, fn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return fa, s
}

func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("calls:\n got  %v\n want %v", got, want)
	}
}

func TestAgentWorkerDispatchesScheduleJoinAndComplete(t *testing.T) {
	big := map[string]string{"blob": strings.Repeat("x", 150<<10)} // three input chunks
	researcher := func(ctx *AgentContext, input json.RawMessage) (any, error) {
		var st struct{ Step int }
		if ok, err := ctx.State(&st); err != nil {
			return nil, err
		} else if !ok {
			if _, err := ctx.AppendEntry(RoleUser, map[string]string{"text": "hello"}); err != nil {
				return nil, err
			}
			if err := ctx.Checkpoint(map[string]int{"step": 1}); err != nil {
				return nil, err
			}
			if err := ctx.StreamProgress(0.5, ""); err != nil {
				return nil, err
			}
		}
		a := ctx.ScheduleTask("summarize", big, AgentTaskOptions{Timeout: 2 * time.Second, MaxRetries: NoRetries})
		b := ctx.ScheduleTask("lookup", map[string]string{"q": "x"}, AgentTaskOptions{})
		outs, err := ctx.JoinAll(a, b)
		if err != nil {
			return nil, err
		}
		return map[string]any{"outs": outs, "entries": len(ctx.Entries())}, nil
	}
	fa, s := startAgentWorker(t, map[string]AgentFunc{"researcher": researcher})

	// First dispatch: no checkpoint; the tasks are not done, so it suspends.
	fa.statuses = []string{TaskPending, TaskRunning}
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "researcher", OrgId: testOrgID,
		Input: []byte(`{"topic":"go"}`), Queue: "q1", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "suspend" {
		t.Fatalf("first dispatch ended with %q", end)
	}
	wantCalls(t, fa.takeCalls(), "GetEntries", "AppendEntry", "SubmitCheckpoint", "StreamAgentData",
		"ScheduleAgentTask", "ScheduleAgentTask", "GetAgentTaskResults", "SubmitCheckpoint", "SuspendAgent")

	fa.mu.Lock()
	// Registration and polling as the Rust SDK does them.
	s.mu.Lock()
	if got := s.registration.GetAgents(); len(got) != 1 || got[0].GetKind() != "researcher" {
		t.Errorf("registered agents: %v", got)
	}
	s.mu.Unlock()
	if p := fa.polls[0]; p.GetWorkerId() != fakeWorkerID || p.GetQueue() != "q1" || p.GetOrgId() != testOrgID ||
		strings.Join(p.GetAgentCapabilities(), ",") != "researcher" || p.GetTimeoutSeconds() != 60 {
		t.Errorf("poll: %v", p)
	}
	ap := fa.appends[0]
	if ap.GetEntryType() != "MESSAGE" || ap.GetRole() != "user" || uuid.Validate(ap.GetIdempotencyKey()) != nil || ap.ParentId != nil {
		t.Errorf("append: %v", ap)
	}
	jsonEq(t, ap.GetContent(), `{"text":"hello"}`)
	cp := fa.checkpoints[0]
	if cp.GetLeafEntryId() != ap.GetIdempotencyKey() {
		t.Errorf("checkpoint leaf %q, want the entry %q", cp.GetLeafEntryId(), ap.GetIdempotencyKey())
	}
	jsonEq(t, cp.GetState(), `{"step":1}`)
	jsonEq(t, fa.checkpoints[1].GetState(), `{"step":1}`) // the checkpoint before suspending
	if st := fa.streams[0]; st.GetEventType() != flovynv1.AgentStreamEventType_AGENT_PROGRESS || st.GetSequence() != 0 {
		t.Errorf("stream: %v", st)
	} else {
		jsonEq(t, []byte(st.GetPayload()), `{"progress":0.5,"details":null}`)
	}
	bigJSON, _ := json.Marshal(big)
	keyA, _ := AgentTaskKey(testAgentID, "summarize", bigJSON)
	keyB, _ := AgentTaskKey(testAgentID, "lookup", json.RawMessage(`{"q":"x"}`))
	ha, hb := fa.headers[0], fa.headers[1]
	if ha.GetTaskKind() != "summarize" || ha.GetIdempotencyKey() != keyA || ha.GetTimeoutMs() != 2000 || ha.MaxRetries == nil ||
		ha.GetMaxRetries() != 0 || ha.Queue != nil || ha.GetAgentExecutionId() != testAgentID {
		t.Errorf("header a: %v", ha)
	}
	if hb.GetIdempotencyKey() != keyB || hb.MaxRetries != nil || hb.TimeoutMs != nil {
		t.Errorf("header b: %v", hb)
	}
	if n := len(fa.chunks[0]); n != 3 || len(fa.chunks[0][0]) != 64<<10 || !bytes.Equal(bytes.Join(fa.chunks[0], nil), bigJSON) {
		t.Errorf("input of a: %d chunks", n)
	}
	wf := fa.suspends[0].GetWaitForTasks()
	if wf.GetMode() != flovynv1.WaitMode_WAIT_MODE_ALL || strings.Join(wf.GetTaskIds(), ",") != AgentTaskID(keyA)+","+AgentTaskID(keyB) {
		t.Errorf("suspend: %v", fa.suspends[0])
	}
	// Second dispatch: resumed from the checkpoint, the same tasks again, done.
	fa.checkpoint = &flovynv1.AgentCheckpoint{Id: uuid.NewString(), Sequence: 2, State: []byte(`{"step":1}`), LeafEntryId: ap.IdempotencyKey}
	fa.statuses = []string{TaskCompleted, TaskCompleted}
	fa.mu.Unlock()
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "researcher", OrgId: testOrgID, Queue: "q1", CurrentCheckpointSeq: 2})
	end := recv(t, fa.ends)
	if !strings.HasPrefix(end, "complete ") {
		t.Fatalf("second dispatch ended with %q", end)
	}
	jsonEq(t, []byte(strings.TrimPrefix(end, "complete ")), `{"outs":[{"n":0},{"n":1}],"entries":1}`)
	wantCalls(t, fa.takeCalls(), "GetLatestCheckpoint", "GetEntries", "ScheduleAgentTask", "ScheduleAgentTask",
		"GetAgentTaskResults", "CompleteAgent")
	fa.mu.Lock()
	if fa.headers[2].GetIdempotencyKey() != keyA || fa.headers[3].GetIdempotencyKey() != keyB {
		t.Errorf("rescheduled with other keys: %v %v", fa.headers[2], fa.headers[3])
	}
	fa.mu.Unlock()

	// A kind the worker does not have is failed as AGENT_NOT_FOUND.
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: uuid.NewString(), Kind: "other", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "fail AGENT_NOT_FOUND: Agent kind 'other' not registered on this worker" {
		t.Fatalf("unknown kind: %q", end)
	}
	wantCalls(t, fa.takeCalls(), "FailAgent")
}

func TestAgentSignalsSelectAndCancel(t *testing.T) {
	var mu sync.Mutex
	var got []string
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, s)
	}
	agents := map[string]AgentFunc{
		"talker": func(ctx *AgentContext, _ json.RawMessage) (any, error) {
			v, err := ctx.WaitSignal("followUp")
			if err != nil {
				return nil, err
			}
			note("first " + string(v))
			// The second signal came with the first: no new RPC.
			v, err = ctx.WaitSignal("followUp")
			if err != nil {
				return nil, err
			}
			note("second " + string(v))
			return "ok", nil
		},
		"racer": func(ctx *AgentContext, _ json.RawMessage) (any, error) {
			a := ctx.ScheduleTask("t", 1, AgentTaskOptions{})
			b := ctx.ScheduleTask("t", 2, AgentTaskOptions{})
			_, err := ctx.SelectOk(a, b)
			var all *AllTasksFailedError
			if errors.As(err, &all) {
				return nil, err
			}
			return nil, errors.New("unexpected: " + err.Error())
		},
		"canceller": func(ctx *AgentContext, _ json.RawMessage) (any, error) {
			a := ctx.ScheduleTask("t", 1, AgentTaskOptions{})
			_, _, err := ctx.CancelTask(a.ID())
			return nil, err
		},
	}
	fa, _ := startAgentWorker(t, agents)

	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "talker", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "suspend" {
		t.Fatalf("talker ended with %q", end)
	}
	wantCalls(t, fa.takeCalls(), "GetEntries", "ConsumeSignals followUp", "SubmitCheckpoint", "SuspendAgent")
	fa.mu.Lock()
	if fa.suspends[0].GetWaitForSignal() != "followUp" || fa.suspends[0].Reason != nil {
		t.Errorf("suspend: %v", fa.suspends[0])
	}
	jsonEq(t, fa.checkpoints[0].GetState(), `null`)
	fa.signals = [][]byte{[]byte(`{"m":1}`), []byte(`{"m":2}`)}
	fa.mu.Unlock()
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "talker", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != `complete "ok"` {
		t.Fatalf("talker ended with %q", end)
	}
	wantCalls(t, fa.takeCalls(), "GetEntries", "ConsumeSignals followUp", "CompleteAgent")
	if strings.Join(got, "|") != `first {"m":1}|second {"m":2}` {
		t.Fatalf("signals read: %v", got)
	}

	// SelectOk: a failure and a running task suspend with ANY; two
	// failures fail the agent.
	fa.mu.Lock()
	fa.statuses = []string{TaskFailed, TaskRunning}
	fa.mu.Unlock()
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "racer", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "suspend" {
		t.Fatalf("racer ended with %q", end)
	}
	fa.mu.Lock()
	if m := fa.suspends[1].GetWaitForTasks().GetMode(); m != flovynv1.WaitMode_WAIT_MODE_ANY || len(fa.suspends[1].GetWaitForTasks().GetTaskIds()) != 2 {
		t.Errorf("select suspend: %v", fa.suspends[1])
	}
	fa.statuses = []string{TaskFailed, TaskCancelled}
	fa.mu.Unlock()
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "racer", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); !strings.HasPrefix(end, "fail : All tasks failed: Task 't' (id=") || !strings.HasSuffix(end, "): boom 0") {
		t.Fatalf("racer ended with %q", end)
	}
	fa.takeCalls()

	// CancelTask sends a buffered task first; a status that is not terminal
	// after cancelled=false is an error.
	fa.mu.Lock()
	fa.cancel = [2]string{"false", "RUNNING"}
	fa.mu.Unlock()
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "canceller", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "fail : flovyn: unexpected task status after cancel: RUNNING" {
		t.Fatalf("canceller ended with %q", end)
	}
	wantCalls(t, fa.takeCalls(), "GetEntries", "ScheduleAgentTask", "CancelAgentTask", "FailAgent")
}

func TestAgentPanicAndStoppedContext(t *testing.T) {
	var leaked atomic.Pointer[AgentContext]
	deferred := make(chan error, 1)
	fa, _ := startAgentWorker(t, map[string]AgentFunc{
		"panicker": func(*AgentContext, json.RawMessage) (any, error) { panic("kaboom") },
		"waiter": func(ctx *AgentContext, _ json.RawMessage) (any, error) {
			leaked.Store(ctx)
			defer func() {
				// Deferred calls run when the agent is suspended; the
				// context refuses further work.
				_, err := ctx.AppendEntry(RoleAssistant, "late")
				deferred <- err
			}()
			_, err := ctx.WaitSignal("go")
			return "unreachable", err
		},
	})
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "panicker", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "fail : agent panicked: kaboom" {
		t.Fatalf("panicker ended with %q", end)
	}
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "waiter", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "suspend" {
		t.Fatalf("waiter ended with %q", end)
	}
	if err := recv(t, deferred); !errors.Is(err, ErrAgentStopped) {
		t.Fatalf("AppendEntry in a deferred call after suspending: %v", err)
	}
	if err := leaked.Load().Checkpoint(1); !errors.Is(err, ErrAgentStopped) {
		t.Fatalf("Checkpoint after the dispatch: %v", err)
	}
	// The suspension ended the dispatch: nothing is reported after it (the
	// next report is the next dispatch's).
	fa.dispatch(&flovynv1.AgentExecutionInfo{Id: testAgentID, Kind: "panicker", CurrentCheckpointSeq: -1})
	if end := recv(t, fa.ends); end != "fail : agent panicked: kaboom" {
		t.Fatalf("after the suspension: %q", end)
	}
}
