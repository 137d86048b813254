package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// Durable agents, driven as the Rust SDK's agent worker drives them
// (worker-sdk/src/worker/agent_worker.rs, agent/context_impl.rs): raw
// AgentDispatch calls in the SDK's order, tasks run through PollTask and
// CompleteTask, and REST calls as the SDK's e2e harness makes them.

// agentWorker is one registered agent worker of a tenant.
type agentWorker struct {
	e     *env
	t     *testing.T
	ad    flovynv1.AgentDispatchClient
	tasks flovynv1.TaskExecutionClient
	id    string // the server's worker id, used as PollAgent's worker_id
	org   string
	kinds []string
	key   string
	slug  string
}

func (e *env) agentWorker(kinds ...string) *agentWorker {
	return e.agentWorkerWith(e.key, e.tenant.ID.String(), e.tenant.Slug, kinds...)
}

func (e *env) agentWorkerWith(key, org, slug string, kinds ...string) *agentWorker {
	e.t.Helper()
	c := e.clientWith(key, org)
	_, tasks, lifecycle, _ := raw(c)
	reg := &flovynv1.WorkerRegistrationRequest{WorkerName: "agents-" + uuid.NewString()[:8], OrgId: org}
	for _, k := range kinds {
		reg.Agents = append(reg.Agents, &flovynv1.AgentCapability{Kind: k, Name: k})
	}
	res, err := lifecycle.RegisterWorker(ctxT(e.t), reg)
	if err != nil {
		e.t.Fatalf("RegisterWorker: %v", err)
	}
	return &agentWorker{e: e, t: e.t, ad: flovynv1.NewAgentDispatchClient(c.Conn()), tasks: tasks, id: res.WorkerId,
		org: org, kinds: kinds, key: key, slug: slug}
}

// poll is one PollAgent, as the SDK makes it; nil when there is no work.
func (w *agentWorker) poll(queue string) *flovynv1.AgentExecutionInfo {
	w.t.Helper()
	res, err := w.ad.PollAgent(ctxT(w.t), &flovynv1.PollAgentRequest{
		WorkerId: w.id, OrgId: w.org, Queue: queue, TimeoutSeconds: 60, AgentCapabilities: w.kinds,
	})
	if err != nil {
		w.t.Fatalf("PollAgent: %v", err)
	}
	return res.AgentExecution
}

// pollFor polls until the agent id is dispatched.
func (w *agentWorker) pollFor(queue, id string) *flovynv1.AgentExecutionInfo {
	w.t.Helper()
	var got *flovynv1.AgentExecutionInfo
	waitUntil(w.t, "agent "+id+" is dispatched", func() bool {
		got = w.poll(queue)
		if got != nil && got.Id != id {
			w.t.Fatalf("dispatched %s (%s), want %s", got.Id, got.Kind, id)
		}
		return got != nil
	})
	return got
}

// dispatchStart does what the SDK does on every dispatch: stream the
// entries and, with a checkpoint, read it.
func (w *agentWorker) dispatchStart(info *flovynv1.AgentExecutionInfo) ([]*flovynv1.AgentEntry, *flovynv1.AgentCheckpoint) {
	w.t.Helper()
	stream, err := w.ad.GetEntries(ctxT(w.t), &flovynv1.GetEntriesRequest{AgentExecutionId: info.Id})
	if err != nil {
		w.t.Fatalf("GetEntries: %v", err)
	}
	var entries []*flovynv1.AgentEntry
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.t.Fatalf("GetEntries: %v", err)
		}
		entries = append(entries, chunk.Entry)
	}
	if info.CurrentCheckpointSeq < 0 {
		return entries, nil
	}
	cp, err := w.ad.GetLatestCheckpoint(ctxT(w.t), &flovynv1.GetCheckpointRequest{AgentExecutionId: info.Id})
	if err != nil {
		w.t.Fatalf("GetLatestCheckpoint: %v", err)
	}
	return entries, cp.Checkpoint
}

func (w *agentWorker) appendMessage(agent, role, content string) string {
	w.t.Helper()
	key := uuid.NewString()
	res, err := w.ad.AppendEntry(ctxT(w.t), &flovynv1.AppendEntryRequest{
		AgentExecutionId: agent, EntryType: "MESSAGE", Role: ptr(role), Content: []byte(content), TurnId: ptr("turn-1"), IdempotencyKey: &key,
	})
	if err != nil {
		w.t.Fatalf("AppendEntry: %v", err)
	}
	if res.EntryId != key {
		w.t.Fatalf("AppendEntry: entry id %q, want the idempotency key %q", res.EntryId, key)
	}
	return res.EntryId
}

func (w *agentWorker) checkpoint(agent, leaf, state string) int32 {
	w.t.Helper()
	req := &flovynv1.SubmitCheckpointRequest{AgentExecutionId: agent, State: []byte(state)}
	if leaf != "" {
		req.LeafEntryId = &leaf
	}
	res, err := w.ad.SubmitCheckpoint(ctxT(w.t), req)
	if err != nil {
		w.t.Fatalf("SubmitCheckpoint: %v", err)
	}
	if _, err := uuid.Parse(res.CheckpointId); err != nil {
		w.t.Fatalf("SubmitCheckpoint: checkpoint id %q is not a UUID", res.CheckpointId)
	}
	return res.Sequence
}

// sdkTaskKey is the SDK's idempotency key of an agent task.
func sdkTaskKey(agent, kind, input string) string {
	sum := sha256.Sum256([]byte(agent + ":" + kind + ":" + input))
	return "task:" + hex.EncodeToString(sum[:16])
}

// schedule schedules a task as the SDK does (header, then 64 KiB input
// chunks) and returns the SDK's id for it.
func (w *agentWorker) schedule(agent, kind, input string, header func(h *flovynv1.ScheduleAgentTaskHeader)) (string, *flovynv1.ScheduleAgentTaskResponse, error) {
	w.t.Helper()
	key := sdkTaskKey(agent, kind, input)
	h := &flovynv1.ScheduleAgentTaskHeader{AgentExecutionId: agent, TaskKind: kind, IdempotencyKey: &key}
	if header != nil {
		header(h)
	}
	stream, err := w.ad.ScheduleAgentTask(ctxT(w.t))
	if err != nil {
		w.t.Fatalf("ScheduleAgentTask: %v", err)
	}
	if err := stream.Send(&flovynv1.ScheduleAgentTaskChunk{Chunk: &flovynv1.ScheduleAgentTaskChunk_Header{Header: h}}); err != nil {
		w.t.Fatalf("ScheduleAgentTask header: %v", err)
	}
	for b := []byte(input); len(b) > 0; {
		n := min(len(b), 64<<10)
		if err := stream.Send(&flovynv1.ScheduleAgentTaskChunk{Chunk: &flovynv1.ScheduleAgentTaskChunk_InputChunk{InputChunk: b[:n]}}); err != nil {
			break // the server refused the stream; CloseAndRecv says why
		}
		b = b[n:]
	}
	res, err := stream.CloseAndRecv()
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(key)).String(), res, err
}

func (w *agentWorker) mustSchedule(agent, kind, input string, header func(h *flovynv1.ScheduleAgentTaskHeader)) string {
	w.t.Helper()
	id, res, err := w.schedule(agent, kind, input, header)
	if err != nil {
		w.t.Fatalf("ScheduleAgentTask: %v", err)
	}
	if res.TaskExecutionId != id {
		w.t.Fatalf("ScheduleAgentTask: task id %s, want the SDK's %s", res.TaskExecutionId, id)
	}
	return id
}

func (w *agentWorker) results(agent string, ids ...string) []*flovynv1.TaskResultEntry {
	w.t.Helper()
	res, err := w.ad.GetAgentTaskResults(ctxT(w.t), &flovynv1.GetAgentTaskResultsRequest{AgentExecutionId: agent, TaskExecutionIds: ids})
	if err != nil {
		w.t.Fatalf("GetAgentTaskResults: %v", err)
	}
	if len(res.Results) != len(ids) {
		w.t.Fatalf("GetAgentTaskResults: %d results for %d ids", len(res.Results), len(ids))
	}
	for i, r := range res.Results {
		if r.TaskExecutionId != ids[i] {
			w.t.Fatalf("GetAgentTaskResults: result %d is %s, want %s (request order)", i, r.TaskExecutionId, ids[i])
		}
	}
	return res.Results
}

func (w *agentWorker) suspendTasks(agent string, mode flovynv1.WaitMode, ids ...string) {
	w.t.Helper()
	_, err := w.ad.SuspendAgent(ctxT(w.t), &flovynv1.SuspendAgentRequest{AgentExecutionId: agent,
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForTasks{WaitForTasks: &flovynv1.WaitForTasks{TaskIds: ids, Mode: mode}},
		Reason:        ptr("waiting for tasks")})
	if err != nil {
		w.t.Fatalf("SuspendAgent: %v", err)
	}
}

func (w *agentWorker) suspendSignal(agent, name string) {
	w.t.Helper()
	_, err := w.ad.SuspendAgent(ctxT(w.t), &flovynv1.SuspendAgentRequest{AgentExecutionId: agent,
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForSignal{WaitForSignal: name}})
	if err != nil {
		w.t.Fatalf("SuspendAgent: %v", err)
	}
}

func (w *agentWorker) complete(agent, output string) {
	w.t.Helper()
	if _, err := w.ad.CompleteAgent(ctxT(w.t), &flovynv1.CompleteAgentRequest{AgentExecutionId: agent, Output: []byte(output)}); err != nil {
		w.t.Fatalf("CompleteAgent: %v", err)
	}
}

// runTask claims the next task of queue as a task worker and returns it.
func (w *agentWorker) claimTask(queue string) *flovynv1.TaskExecutionInfo {
	w.t.Helper()
	var got *flovynv1.TaskExecutionInfo
	waitUntil(w.t, "a task is dispatched", func() bool {
		res, err := w.tasks.PollTask(ctxT(w.t), &flovynv1.PollTaskRequest{WorkerId: "task-worker", OrgId: w.org, Queue: queue})
		if err != nil {
			w.t.Fatalf("PollTask: %v", err)
		}
		got = res.Task
		return got != nil
	})
	if got.WorkflowExecutionId != "" {
		w.t.Fatalf("agent task %s has workflow_execution_id %q", got.TaskExecutionId, got.WorkflowExecutionId)
	}
	return got
}

func (w *agentWorker) completeTask(id, output string) {
	w.t.Helper()
	if _, err := w.tasks.CompleteTask(ctxT(w.t), &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: []byte(output)}); err != nil {
		w.t.Fatalf("CompleteTask: %v", err)
	}
}

// rest makes a REST call as the SDK's harness does and decodes the answer
// into out (when not nil); it returns the status code.
func (w *agentWorker) rest(method, path string, body any, out any) int {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctxT(w.t), method, "http://"+w.e.srv.HTTPAddr()+"/api/orgs/"+w.slug+path, rd)
	req.Header.Set("Authorization", "Bearer "+w.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if p, ok := out.(*problem); ok && res.StatusCode >= 400 {
		p.ContentType = res.Header.Get("Content-Type")
		_ = json.Unmarshal(b, p)
	}
	return res.StatusCode
}

type problem struct {
	ContentType string
	Status      int    `json:"status"`
	Detail      string `json:"detail"`
}

// restAgent is the harness's AgentExecutionResponse (fields it requires).
type restAgent struct {
	ID                   uuid.UUID       `json:"id"`
	OrgID                uuid.UUID       `json:"orgId"`
	Kind                 string          `json:"kind"`
	Status               string          `json:"status"`
	Queue                string          `json:"queue"`
	Input                json.RawMessage `json:"input"`
	Output               json.RawMessage `json:"output"`
	Error                *string         `json:"error"`
	CurrentCheckpointSeq *int32          `json:"currentCheckpointSeq"`
	CreatedAt            string          `json:"createdAt"`
	CompletedAt          *string         `json:"completedAt"`
}

type restTask struct {
	ID        uuid.UUID `json:"id"`
	Kind      string    `json:"kind"`
	Status    string    `json:"status"`
	Error     *string   `json:"error"`
	CreatedAt string    `json:"createdAt"`
}

func (w *agentWorker) create(kind, input, queue string) restAgent {
	w.t.Helper()
	var a restAgent
	if code := w.rest(http.MethodPost, "/agent-executions", map[string]any{"kind": kind, "input": json.RawMessage(input), "queue": queue}, &a); code != http.StatusCreated {
		w.t.Fatalf("create agent: status %d", code)
	}
	if a.ID == uuid.Nil || a.OrgID.String() != w.org || a.Kind != kind || a.Queue != queue || a.CurrentCheckpointSeq == nil || a.CreatedAt == "" {
		w.t.Fatalf("create agent: %+v", a)
	}
	return a
}

func (w *agentWorker) get(id string) restAgent {
	w.t.Helper()
	var a restAgent
	if code := w.rest(http.MethodGet, "/agent-executions/"+id, nil, &a); code != http.StatusOK {
		w.t.Fatalf("get agent %s: status %d", id, code)
	}
	return a
}

func (w *agentWorker) wantStatus(id, status string) restAgent {
	w.t.Helper()
	a := w.get(id)
	if a.Status != status {
		w.t.Fatalf("agent %s is %s, want %s", id, a.Status, status)
	}
	return a
}

func (w *agentWorker) restTasks(id string) []restTask {
	w.t.Helper()
	var out struct {
		Tasks []restTask `json:"tasks"`
	}
	if code := w.rest(http.MethodGet, "/agent-executions/"+id+"/tasks", nil, &out); code != http.StatusOK {
		w.t.Fatalf("agent tasks: status %d", code)
	}
	return out.Tasks
}

func TestAgentBasicExecution(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("echo-agent")
	a := w.create("echo-agent", `{"message":"hello"}`, q)
	if a.Status != "PENDING" || *a.CurrentCheckpointSeq != -1 {
		t.Fatalf("created agent: %+v", a)
	}

	info := w.pollFor(q, a.ID.String())
	if info.Kind != "echo-agent" || info.OrgId != e.tenant.ID.String() || !jsonEq(info.Input, []byte(`{"message":"hello"}`)) ||
		info.CurrentCheckpointSeq != -1 || info.Queue != q || info.ParentExecutionId != nil {
		t.Fatalf("PollAgent: %v", info)
	}
	w.wantStatus(info.Id, "RUNNING")
	entries, cp := w.dispatchStart(info)
	if len(entries) != 0 || cp != nil {
		t.Fatalf("a new agent has entries %v, checkpoint %v", entries, cp)
	}

	user := w.appendMessage(info.Id, "user", `{"text":"hello"}`)
	// A repeated key returns the first entry.
	again, err := w.ad.AppendEntry(ctxT(t), &flovynv1.AppendEntryRequest{AgentExecutionId: info.Id, EntryType: "MESSAGE",
		Role: ptr("user"), Content: []byte(`{"text":"other"}`), IdempotencyKey: &user})
	if err != nil || again.EntryId != user || !again.AlreadyExisted {
		t.Fatalf("AppendEntry again: %v %v", again, err)
	}
	reply := w.appendMessage(info.Id, "assistant", `{"text":"Echo: hello"}`)
	if seq := w.checkpoint(info.Id, reply, `{"turns":1}`); seq != 1 {
		t.Fatalf("first checkpoint has sequence %d", seq)
	}
	if seq := w.checkpoint(info.Id, reply, `{"turns":2}`); seq != 2 {
		t.Fatalf("second checkpoint has sequence %d", seq)
	}
	sd, err := w.ad.StreamAgentData(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Send(&flovynv1.StreamAgentDataRequest{AgentExecutionId: info.Id, Sequence: 1, EventType: flovynv1.AgentStreamEventType_AGENT_PROGRESS, Payload: `{"p":0.5}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := sd.CloseAndRecv(); err != nil {
		t.Fatalf("StreamAgentData: %v", err)
	}
	w.complete(info.Id, `{"response":"Echo: hello"}`)

	done := w.wantStatus(info.Id, "COMPLETED")
	if !jsonEq(done.Output, []byte(`{"response":"Echo: hello"}`)) || done.CompletedAt == nil || *done.CurrentCheckpointSeq != 2 {
		t.Fatalf("completed agent: %+v", done)
	}
	entries, _ = w.dispatchStart(info)
	if len(entries) != 2 || entries[0].Id != user || entries[0].EntryType != "message" || entries[0].GetRole() != "user" ||
		!jsonEq(entries[0].Content, []byte(`{"text":"hello"}`)) || entries[1].Id != reply {
		t.Fatalf("entries: %v", entries)
	}
	after, err := w.ad.GetEntries(ctxT(t), &flovynv1.GetEntriesRequest{AgentExecutionId: info.Id, AfterEntryId: &user})
	if err != nil {
		t.Fatal(err)
	}
	if chunk, err := after.Recv(); err != nil || chunk.Entry.Id != reply {
		t.Fatalf("GetEntries after the first: %v %v", chunk, err)
	}
	if _, err := after.Recv(); err != io.EOF {
		t.Fatalf("GetEntries after the first: more than one entry (%v)", err)
	}
	var cps struct {
		Checkpoints []struct {
			ID               uuid.UUID `json:"id"`
			AgentExecutionID uuid.UUID `json:"agentExecutionId"`
			Sequence         int32     `json:"sequence"`
			CreatedAt        string    `json:"createdAt"`
		} `json:"checkpoints"`
	}
	if code := w.rest(http.MethodGet, "/agent-executions/"+info.Id+"/checkpoints", nil, &cps); code != 200 ||
		len(cps.Checkpoints) != 2 || cps.Checkpoints[1].Sequence != 2 || cps.Checkpoints[0].AgentExecutionID != a.ID || cps.Checkpoints[0].CreatedAt == "" {
		t.Fatalf("checkpoints: %d %+v", code, cps)
	}
	// An ended agent takes no more changes.
	_, err = w.ad.CompleteAgent(ctxT(t), &flovynv1.CompleteAgentRequest{AgentExecutionId: info.Id, Output: []byte(`1`)})
	wantCode(t, "CompleteAgent of a completed agent", err, codes.FailedPrecondition)
	var list struct {
		Items []restAgent `json:"items"`
	}
	if code := w.rest(http.MethodGet, "/agent-executions?status=COMPLETED", nil, &list); code != 200 || len(list.Items) != 1 || list.Items[0].ID != a.ID {
		t.Fatalf("list: %d %+v", code, list)
	}
}

func TestAgentFailAndClaimRace(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("race-agent")
	a := w.create("race-agent", `{}`, q)
	workers := []*agentWorker{w, e.agentWorker("race-agent"), e.agentWorker("race-agent")}
	got := make([]*flovynv1.AgentExecutionInfo, len(workers))
	var wg sync.WaitGroup
	for i, pw := range workers {
		wg.Go(func() {
			res, err := pw.ad.PollAgent(ctxT(t), &flovynv1.PollAgentRequest{WorkerId: pw.id, OrgId: pw.org, Queue: q, AgentCapabilities: pw.kinds})
			if err == nil {
				got[i] = res.AgentExecution
			}
		})
	}
	wg.Wait()
	winners := 0
	for _, g := range got {
		if g != nil {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d of 3 racing pollers got the agent, want 1", winners)
	}
	if _, err := w.ad.FailAgent(ctxT(t), &flovynv1.FailAgentRequest{AgentExecutionId: a.ID.String(), Error: "all tasks failed",
		FailureType: ptr("BUSINESS_LOGIC")}); err != nil {
		t.Fatal(err)
	}
	failed := w.wantStatus(a.ID.String(), "FAILED")
	if failed.Error == nil || *failed.Error != "all tasks failed" {
		t.Fatalf("failed agent: %+v", failed)
	}
}

func TestAgentCapabilityFiltering(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("echo-agent")
	other := w.create("non-existent-agent", `{}`, q)
	mine := w.create("echo-agent", `{}`, q)
	// Only the registered kind is dispatched, however often the worker polls.
	w.pollFor(q, mine.ID.String())
	if got := w.poll(q); got != nil {
		t.Fatalf("an unregistered kind was dispatched: %v", got)
	}
	w.wantStatus(other.ID.String(), "PENDING")
	// A worker that sends no capabilities gets the kinds it registered.
	res, err := w.ad.PollAgent(ctxT(t), &flovynv1.PollAgentRequest{WorkerId: w.id, Queue: q})
	if err != nil || res.AgentExecution != nil {
		t.Fatalf("PollAgent without capabilities: %v %v", res, err)
	}
	w.wantStatus(other.ID.String(), "PENDING")
}

func TestAgentMultiTurnWithSignals(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("multi-turn-agent")
	a := w.create("multi-turn-agent", `{"message":"first"}`, q)
	id := a.ID.String()

	info := w.pollFor(q, id)
	w.dispatchStart(info)
	// wait_for_signal: consume first, then checkpoint, then suspend.
	sigs, err := w.ad.ConsumeSignals(ctxT(t), &flovynv1.ConsumeSignalsRequest{AgentExecutionId: id, SignalName: ptr("followUp")})
	if err != nil || len(sigs.Signals) != 0 {
		t.Fatalf("ConsumeSignals: %v %v", sigs, err)
	}
	leaf := w.appendMessage(id, "assistant", `{"text":"turn 1"}`)
	w.checkpoint(id, leaf, `{"turn":1}`)
	w.suspendSignal(id, "followUp")
	w.wantStatus(id, "WAITING")
	if got := w.poll(q); got != nil {
		t.Fatalf("a waiting agent was dispatched: %v", got)
	}

	// Another signal's name does not wake it.
	var sr struct {
		Signaled     bool `json:"signaled"`
		AgentResumed bool `json:"agentResumed"`
	}
	if code := w.rest(http.MethodPost, "/agent-executions/"+id+"/signal", map[string]any{"signalName": "other", "signalValue": 1}, &sr); code != 200 || !sr.Signaled || sr.AgentResumed {
		t.Fatalf("signal other: %d %+v", code, sr)
	}
	w.wantStatus(id, "WAITING")
	if code := w.rest(http.MethodPost, "/agent-executions/"+id+"/signal", map[string]any{"signalName": "followUp", "signalValue": map[string]string{"message": "second"}}, &sr); code != 200 || !sr.Signaled || !sr.AgentResumed {
		t.Fatalf("signal followUp: %d %+v", code, sr)
	}
	w.wantStatus(id, "PENDING")

	info = w.pollFor(q, id)
	if info.CurrentCheckpointSeq < 0 {
		t.Fatalf("re-dispatched with current_checkpoint_seq %d", info.CurrentCheckpointSeq)
	}
	entries, cp := w.dispatchStart(info)
	if cp == nil || !jsonEq(cp.State, []byte(`{"turn":1}`)) || cp.GetLeafEntryId() != leaf || len(entries) != 1 {
		t.Fatalf("resume: checkpoint %v, entries %v", cp, entries)
	}
	sigs, err = w.ad.ConsumeSignals(ctxT(t), &flovynv1.ConsumeSignalsRequest{AgentExecutionId: id, SignalName: ptr("followUp")})
	if err != nil || len(sigs.Signals) != 1 || !jsonEq(sigs.Signals[0].SignalValue, []byte(`{"message":"second"}`)) || sigs.Signals[0].SignalName != "followUp" {
		t.Fatalf("ConsumeSignals after resume: %v %v", sigs, err)
	}
	if again, _ := w.ad.ConsumeSignals(ctxT(t), &flovynv1.ConsumeSignalsRequest{AgentExecutionId: id, SignalName: ptr("followUp")}); len(again.Signals) != 0 {
		t.Fatalf("a consumed signal came back: %v", again)
	}

	// A signal that arrives between ConsumeSignals and SuspendAgent is not
	// lost: the suspension finds it and the agent is PENDING at once.
	if code := w.rest(http.MethodPost, "/agent-executions/"+id+"/signal", map[string]any{"signalName": "followUp", "signalValue": "third"}, &sr); code != 200 || sr.AgentResumed {
		t.Fatalf("signal to a running agent: %d %+v", code, sr)
	}
	w.suspendSignal(id, "followUp")
	w.wantStatus(id, "PENDING")
	w.pollFor(q, id)
	w.complete(id, `{"turns":3}`)
	w.wantStatus(id, "COMPLETED")
	code := w.rest(http.MethodPost, "/agent-executions/"+id+"/signal", map[string]any{"signalName": "followUp"}, nil)
	if code != http.StatusConflict {
		t.Fatalf("signal to a completed agent: %d, want 409", code)
	}
}

func TestAgentTasks(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("task-agent")
	id := w.create("task-agent", `{}`, q).ID.String()
	w.pollFor(q, id)

	big := `{"blob":"` + strings.Repeat("x", 150<<10) + `"}` // three input chunks
	inputs := []string{`{"n":1}`, `{"n":2}`, big}
	var ids []string
	for _, in := range inputs {
		ids = append(ids, w.mustSchedule(id, "echo-task", in, nil))
	}
	// Scheduling again (a resumed agent re-runs from the top) returns the same task.
	again, res, err := w.schedule(id, "echo-task", inputs[0], nil)
	if err != nil || res.TaskExecutionId != ids[0] || again != ids[0] || !res.IdempotencyKeyUsed || res.IdempotencyKeyNew {
		t.Fatalf("schedule again: %v %v", res, err)
	}
	for _, r := range w.results(id, ids...) {
		if r.Status != "PENDING" || r.Output != nil {
			t.Fatalf("new task: %v", r)
		}
	}
	if n, err := w.ad.GetAgentTaskCount(ctxT(t), &flovynv1.GetAgentTaskCountRequest{AgentExecutionId: id}); err != nil || n.TaskCount != 3 {
		t.Fatalf("GetAgentTaskCount: %v %v", n, err)
	}
	w.checkpoint(id, "", `{"phase":"scheduled"}`)
	w.suspendTasks(id, flovynv1.WaitMode_WAIT_MODE_ALL, ids...)
	w.wantStatus(id, "WAITING")

	// An ordinary task worker runs them, in the agent's queue.
	for i := range 3 {
		task := w.claimTask(q)
		if task.Kind != "echo-task" || task.ExecutionCount != 1 {
			t.Fatalf("task: %v", task)
		}
		if task.TaskExecutionId == ids[2] && !jsonEq(task.Input, []byte(big)) {
			t.Fatalf("the chunked input arrived as %d bytes", len(task.Input))
		}
		w.completeTask(task.TaskExecutionId, fmt.Sprintf(`{"echo":%q}`, task.TaskExecutionId))
		if i < 2 {
			w.wantStatus(id, "WAITING")
		}
	}
	w.wantStatus(id, "PENDING")
	info := w.pollFor(q, id)
	if info.CurrentCheckpointSeq != 1 {
		t.Fatalf("re-dispatched with checkpoint %d", info.CurrentCheckpointSeq)
	}
	order := []string{ids[2], ids[0], ids[1]}
	for i, r := range w.results(id, order...) {
		if r.Status != "COMPLETED" || !jsonEq(r.Output, fmt.Appendf(nil, `{"echo":%q}`, order[i])) || r.Error != nil {
			t.Fatalf("result %d: %v", i, r)
		}
	}
	single, err := w.ad.GetAgentTaskResult(ctxT(t), &flovynv1.GetAgentTaskResultRequest{AgentExecutionId: id, TaskExecutionId: ids[1]})
	if err != nil || single.Status != "COMPLETED" || !jsonEq(single.Output, fmt.Appendf(nil, `{"echo":%q}`, ids[1])) {
		t.Fatalf("GetAgentTaskResult: %v %v", single, err)
	}
	_, err = w.ad.GetAgentTaskResults(ctxT(t), &flovynv1.GetAgentTaskResultsRequest{AgentExecutionId: id, TaskExecutionIds: []string{uuid.NewString()}})
	wantCode(t, "GetAgentTaskResults of another id", err, codes.NotFound)
	w.complete(id, `{"done":true}`)
	tasks := w.restTasks(id)
	if len(tasks) != 3 {
		t.Fatalf("REST lists %d tasks, want 3", len(tasks))
	}
	for _, task := range tasks {
		if task.Kind != "echo-task" || task.Status != "COMPLETED" || task.CreatedAt == "" {
			t.Fatalf("REST task: %+v", task)
		}
	}
}

func TestAgentTaskInputLimit(t *testing.T) {
	e := start(t, func(o *options) { o.engine.MaxPayloadBytes = 100 << 10 })
	q := queue(t)
	w := e.agentWorker("task-agent")
	id := w.create("task-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	_, _, err := w.schedule(id, "echo-task", `"`+strings.Repeat("x", 200<<10)+`"`, nil)
	wantCode(t, "ScheduleAgentTask over the payload limit", err, codes.ResourceExhausted)
	_, _, err = w.schedule(id, "echo-task", `{"n":1}`, func(h *flovynv1.ScheduleAgentTaskHeader) { h.TaskKind = "" })
	wantCode(t, "ScheduleAgentTask without a kind", err, codes.InvalidArgument)
	_, _, err = w.schedule(id, "echo-task", `{not json`, nil)
	wantCode(t, "ScheduleAgentTask with an input that is not JSON", err, codes.InvalidArgument)
	if n, _ := w.ad.GetAgentTaskCount(ctxT(t), &flovynv1.GetAgentTaskCountRequest{AgentExecutionId: id}); n.TaskCount != 0 {
		t.Fatalf("refused tasks were stored: %d", n.TaskCount)
	}
}

func TestAgentSuspendEvaluatesConditionOnArrival(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("join-agent")
	id := w.create("join-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	a := w.mustSchedule(id, "fast", `{"n":1}`, nil)
	b := w.mustSchedule(id, "fast", `{"n":2}`, nil)
	// The tasks finish while the agent is still on its way to suspend.
	for range 2 {
		task := w.claimTask(q)
		w.completeTask(task.TaskExecutionId, `"ok"`)
	}
	w.suspendTasks(id, flovynv1.WaitMode_WAIT_MODE_ALL, a, b)
	w.wantStatus(id, "PENDING")
	w.pollFor(q, id)

	// ANY: a failure from before the suspension does not count (the SDK
	// saw it), a success after it does.
	f := w.mustSchedule(id, "flaky", `{"n":3}`, func(h *flovynv1.ScheduleAgentTaskHeader) { h.MaxRetries = ptr[int32](0) })
	s := w.mustSchedule(id, "flaky", `{"n":4}`, nil)
	first := w.claimTask(q)
	second := w.claimTask(q)
	byID := map[string]*flovynv1.TaskExecutionInfo{first.TaskExecutionId: first, second.TaskExecutionId: second}
	if _, err := w.tasks.FailTask(ctxT(t), &flovynv1.FailTaskRequest{TaskExecutionId: byID[f].TaskExecutionId, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if r := w.results(id, f, s); r[0].Status != "FAILED" || r[0].GetError() != "boom" || r[1].Status != "RUNNING" {
		t.Fatalf("results: %v", r)
	}
	w.suspendTasks(id, flovynv1.WaitMode_WAIT_MODE_ANY, f, s)
	w.wantStatus(id, "WAITING")
	w.completeTask(byID[s].TaskExecutionId, `"won"`)
	w.wantStatus(id, "PENDING")

	// ANY when every listed task has ended: nothing more can come, so the
	// agent is not left waiting.
	w.pollFor(q, id)
	w.suspendTasks(id, flovynv1.WaitMode_WAIT_MODE_ANY, f)
	w.wantStatus(id, "PENDING")
}

func TestAgentServerSideTaskTimeout(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("timeout-agent")
	id := w.create("timeout-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	var ids []string
	for i := range 3 {
		ids = append(ids, w.mustSchedule(id, "slow", fmt.Sprintf(`{"n":%d}`, i), func(h *flovynv1.ScheduleAgentTaskHeader) { h.TimeoutMs = ptr[int64](300) }))
	}
	var claimed []*flovynv1.TaskExecutionInfo
	for range 3 {
		claimed = append(claimed, w.claimTask(q)) // the worker is "running" them
	}
	w.suspendTasks(id, flovynv1.WaitMode_WAIT_MODE_ALL, ids...)
	// The deadlines fail the tasks and the agent is dispatched again.
	w.pollFor(q, id)
	for _, r := range w.results(id, ids...) {
		if r.Status != "FAILED" || !strings.Contains(r.GetError(), "timed out") {
			t.Fatalf("timed-out task: %v", r)
		}
	}
	// The worker's late results change nothing.
	for _, task := range claimed {
		w.completeTask(task.TaskExecutionId, `"late"`)
	}
	failed := 0
	for _, task := range w.restTasks(id) {
		if task.Status == "COMPLETED" {
			t.Fatalf("a late result completed %s", task.ID)
		}
		if task.Status == "FAILED" && task.Error != nil && strings.Contains(*task.Error, "timed out") {
			failed++
		}
	}
	if failed != 3 {
		t.Fatalf("%d tasks FAILED as timed out, want 3", failed)
	}
}

func TestAgentCancelTask(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("cancel-agent")
	id := w.create("cancel-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	pending := w.mustSchedule(id, "t", `{"n":1}`, nil)
	cancel := func(task string) *flovynv1.CancelAgentTaskResponse {
		t.Helper()
		res, err := w.ad.CancelAgentTask(ctxT(t), &flovynv1.CancelAgentTaskRequest{AgentExecutionId: id, TaskExecutionId: task, Reason: ptr("select won")})
		if err != nil {
			t.Fatalf("CancelAgentTask: %v", err)
		}
		return res
	}
	if res := cancel(pending); !res.Cancelled || res.Status != "CANCELLED" {
		t.Fatalf("first cancel: %v", res)
	}
	for range 3 {
		if res := cancel(pending); res.Cancelled || res.Status != "CANCELLED" {
			t.Fatalf("repeated cancel: %v", res)
		}
	}
	// A running task: cancelled; its worker's result is ignored.
	running := w.mustSchedule(id, "t", `{"n":2}`, nil)
	task := w.claimTask(q)
	if task.TaskExecutionId != running {
		t.Fatalf("claimed %s, want %s (a cancelled task is not dispatched)", task.TaskExecutionId, running)
	}
	if res := cancel(running); !res.Cancelled || res.Status != "CANCELLED" {
		t.Fatalf("cancel running: %v", res)
	}
	w.completeTask(running, `"late"`)
	// Finished tasks report how they ended.
	done := w.mustSchedule(id, "t", `{"n":3}`, nil)
	w.completeTask(w.claimTask(q).TaskExecutionId, `"ok"`)
	if res := cancel(done); res.Cancelled || res.Status != "COMPLETED" {
		t.Fatalf("cancel completed: %v", res)
	}
	bad := w.mustSchedule(id, "t", `{"n":4}`, func(h *flovynv1.ScheduleAgentTaskHeader) { h.MaxRetries = ptr[int32](0) })
	if _, err := w.tasks.FailTask(ctxT(t), &flovynv1.FailTaskRequest{TaskExecutionId: w.claimTask(q).TaskExecutionId, Error: "no"}); err != nil {
		t.Fatal(err)
	}
	if res := cancel(bad); res.Cancelled || res.Status != "FAILED" {
		t.Fatalf("cancel failed: %v", res)
	}
	statuses := map[string]string{}
	for _, task := range w.restTasks(id) {
		statuses[task.ID.String()] = task.Status
	}
	if statuses[pending] != "CANCELLED" || statuses[running] != "CANCELLED" || statuses[done] != "COMPLETED" || statuses[bad] != "FAILED" {
		t.Fatalf("REST statuses: %v", statuses)
	}
	// join_all_settled over a cancelled task resumes once the others end.
	w.suspendTasks(id, flovynv1.WaitMode_WAIT_MODE_ALL, pending, running, done, bad)
	w.wantStatus(id, "PENDING")
	_, err := w.ad.CancelAgentTask(ctxT(t), &flovynv1.CancelAgentTaskRequest{AgentExecutionId: id, TaskExecutionId: uuid.NewString()})
	wantCode(t, "CancelAgentTask of an unknown task", err, codes.NotFound)
}

func TestAgentTenantIsolation(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("iso-agent")
	id := w.create("iso-agent", `{}`, q).ID.String()
	// The other tenant's worker, polling the same queue name, gets nothing.
	o := e.agentWorkerWith(e.otherKey, e.other.ID.String(), e.other.Slug, "iso-agent")
	if got := o.poll(q); got != nil {
		t.Fatalf("another tenant's agent was dispatched: %v", got)
	}
	info := w.pollFor(q, id)
	task := w.mustSchedule(id, "t", `{"n":1}`, nil)

	ctx := ctxT(t)
	notFound := func(what string, err error) { t.Helper(); wantCode(t, what, err, codes.NotFound) }
	stream, err := o.ad.GetEntries(ctx, &flovynv1.GetEntriesRequest{AgentExecutionId: id})
	if err == nil {
		_, err = stream.Recv()
	}
	notFound("GetEntries", err)
	_, err = o.ad.AppendEntry(ctx, &flovynv1.AppendEntryRequest{AgentExecutionId: id, EntryType: "MESSAGE", Content: []byte(`1`)})
	notFound("AppendEntry", err)
	_, err = o.ad.GetLatestCheckpoint(ctx, &flovynv1.GetCheckpointRequest{AgentExecutionId: id})
	notFound("GetLatestCheckpoint", err)
	_, err = o.ad.SubmitCheckpoint(ctx, &flovynv1.SubmitCheckpointRequest{AgentExecutionId: id, State: []byte(`1`)})
	notFound("SubmitCheckpoint", err)
	_, _, err = o.schedule(id, "t", `{"n":2}`, nil)
	notFound("ScheduleAgentTask", err)
	_, err = o.ad.GetAgentTaskResults(ctx, &flovynv1.GetAgentTaskResultsRequest{AgentExecutionId: id, TaskExecutionIds: []string{task}})
	notFound("GetAgentTaskResults", err)
	_, err = o.ad.GetAgentTaskResult(ctx, &flovynv1.GetAgentTaskResultRequest{AgentExecutionId: id, TaskExecutionId: task})
	notFound("GetAgentTaskResult", err)
	_, err = o.ad.GetAgentTaskCount(ctx, &flovynv1.GetAgentTaskCountRequest{AgentExecutionId: id})
	notFound("GetAgentTaskCount", err)
	_, err = o.ad.CancelAgentTask(ctx, &flovynv1.CancelAgentTaskRequest{AgentExecutionId: id, TaskExecutionId: task})
	notFound("CancelAgentTask", err)
	_, err = o.ad.SuspendAgent(ctx, &flovynv1.SuspendAgentRequest{AgentExecutionId: id, WaitCondition: &flovynv1.SuspendAgentRequest_WaitForSignal{WaitForSignal: "x"}})
	notFound("SuspendAgent", err)
	_, err = o.ad.ResumeAgent(ctx, &flovynv1.ResumeAgentRequest{AgentExecutionId: id, WorkerId: o.id})
	notFound("ResumeAgent", err)
	_, err = o.ad.SignalAgent(ctx, &flovynv1.SignalAgentRequest{AgentExecutionId: id, SignalName: "x"})
	notFound("SignalAgent", err)
	_, err = o.ad.ConsumeSignals(ctx, &flovynv1.ConsumeSignalsRequest{AgentExecutionId: id})
	notFound("ConsumeSignals", err)
	_, err = o.ad.HasSignal(ctx, &flovynv1.HasSignalRequest{AgentExecutionId: id, SignalName: "x"})
	notFound("HasSignal", err)
	sd, err := o.ad.StreamAgentData(ctx)
	if err == nil {
		_ = sd.Send(&flovynv1.StreamAgentDataRequest{AgentExecutionId: id, Payload: `{}`})
		_, err = sd.CloseAndRecv()
	}
	notFound("StreamAgentData", err)
	_, err = o.ad.SpawnChildAgent(ctx, &flovynv1.SpawnChildAgentRequest{ParentExecutionId: id, AgentKind: "iso-agent"})
	notFound("SpawnChildAgent", err)
	_, err = o.ad.SendParentSignal(ctx, &flovynv1.SendParentSignalRequest{ChildExecutionId: id, SignalName: "x"})
	notFound("SendParentSignal", err)
	_, err = o.ad.SendChildSignal(ctx, &flovynv1.SendChildSignalRequest{ParentExecutionId: id, ChildExecutionId: id, SignalName: "x"})
	notFound("SendChildSignal", err)
	_, err = o.ad.PollChildEvents(ctx, &flovynv1.PollChildEventsRequest{ParentExecutionId: id})
	notFound("PollChildEvents", err)
	_, err = o.ad.CompleteAgent(ctx, &flovynv1.CompleteAgentRequest{AgentExecutionId: id, Output: []byte(`1`)})
	notFound("CompleteAgent", err)
	_, err = o.ad.FailAgent(ctx, &flovynv1.FailAgentRequest{AgentExecutionId: id, Error: "x"})
	notFound("FailAgent", err)
	_, err = o.tasks.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: task, Output: []byte(`1`)})
	notFound("CompleteTask of another tenant's agent task", err)
	for _, path := range []string{"", "/checkpoints", "/tasks", "/entries"} {
		if code := o.rest(http.MethodGet, "/agent-executions/"+id+path, nil, nil); code != http.StatusNotFound {
			t.Fatalf("GET %s of another tenant's agent: %d, want 404", path, code)
		}
	}
	if code := o.rest(http.MethodPost, "/agent-executions/"+id+"/signal", map[string]any{"signalName": "x"}, nil); code != http.StatusNotFound {
		t.Fatalf("signal another tenant's agent: %d, want 404", code)
	}
	// The same task key in the other tenant names another task: ids are
	// scoped by tenant.
	oid := o.create("iso-agent", `{}`, q).ID.String()
	o.pollFor(q, oid)
	key := sdkTaskKey(id, "t", `{"n":1}`)
	stream2, _ := o.ad.ScheduleAgentTask(ctx)
	_ = stream2.Send(&flovynv1.ScheduleAgentTaskChunk{Chunk: &flovynv1.ScheduleAgentTaskChunk_Header{Header: &flovynv1.ScheduleAgentTaskHeader{
		AgentExecutionId: oid, TaskKind: "t", IdempotencyKey: &key}}})
	res, err := stream2.CloseAndRecv()
	if err != nil || res.TaskExecutionId != task || !res.IdempotencyKeyNew {
		t.Fatalf("the same key in another tenant: %v %v; want a new task %s", res, err, task)
	}
	if r := w.results(info.Id, task); r[0].Status != "PENDING" {
		t.Fatalf("the first tenant's task: %v", r)
	}
}

func TestAgentBadInput(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("bad-agent")
	id := w.create("bad-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	ctx := ctxT(t)
	wantField := func(what string, err error, field string) {
		t.Helper()
		wantCode(t, what, err, codes.InvalidArgument)
		if !strings.Contains(err.Error(), field) {
			t.Fatalf("%s: %v does not name %s", what, err, field)
		}
	}
	_, err := w.ad.AppendEntry(ctx, &flovynv1.AppendEntryRequest{AgentExecutionId: "nope", EntryType: "MESSAGE"})
	wantField("AppendEntry with a bad id", err, "agent_execution_id")
	_, err = w.ad.AppendEntry(ctx, &flovynv1.AppendEntryRequest{AgentExecutionId: id, Content: []byte(`{}`)})
	wantField("AppendEntry without entry_type", err, "entry_type")
	_, err = w.ad.AppendEntry(ctx, &flovynv1.AppendEntryRequest{AgentExecutionId: id, EntryType: "MESSAGE", Content: []byte(`{nope`)})
	wantField("AppendEntry with content that is not JSON", err, "content")
	_, err = w.ad.SubmitCheckpoint(ctx, &flovynv1.SubmitCheckpointRequest{AgentExecutionId: id, State: []byte(`{nope`)})
	wantField("SubmitCheckpoint with state that is not JSON", err, "state")
	_, err = w.ad.SuspendAgent(ctx, &flovynv1.SuspendAgentRequest{AgentExecutionId: id})
	wantField("SuspendAgent without a condition", err, "wait_condition")
	_, err = w.ad.SuspendAgent(ctx, &flovynv1.SuspendAgentRequest{AgentExecutionId: id,
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForTasks{WaitForTasks: &flovynv1.WaitForTasks{TaskIds: []string{"x"}}}})
	wantField("SuspendAgent with a bad task id", err, "wait_for_tasks.task_ids[0]")
	_, err = w.ad.PollAgent(ctx, &flovynv1.PollAgentRequest{WorkerId: w.id, Queue: q, AgentCapabilities: []string{""}})
	wantField("PollAgent with an empty capability", err, "agent_capabilities[0]")
	_, err = w.ad.ConsumeSignals(ctx, &flovynv1.ConsumeSignalsRequest{AgentExecutionId: id, SignalPattern: ptr("[")})
	wantField("ConsumeSignals with a bad pattern", err, "signal_pattern")
	w.wantStatus(id, "RUNNING")

	var p problem
	if code := w.rest(http.MethodPost, "/agent-executions", map[string]any{"input": 1}, &p); code != http.StatusBadRequest ||
		!strings.HasPrefix(p.ContentType, "application/problem+json") {
		t.Fatalf("create without kind: %d %+v", code, p)
	}
	if code := w.rest(http.MethodPost, "/agent-executions/"+id+"/signal", map[string]any{"signalName": ""}, &p); code != http.StatusBadRequest {
		t.Fatalf("signal without a name: %d", code)
	}
	if code := w.rest(http.MethodGet, "/agent-executions/not-a-uuid", nil, &p); code != http.StatusBadRequest {
		t.Fatalf("get with a bad id: %d", code)
	}
	if code := w.rest(http.MethodGet, "/agent-executions/"+uuid.NewString(), nil, &p); code != http.StatusNotFound {
		t.Fatalf("get an unknown id: %d", code)
	}
}

// The RPCs the SDK's agent tests do not drive.

func TestAgentResumeSignalAndHasSignal(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("resume-agent")
	id := w.create("resume-agent", `{}`, q).ID.String()
	w.pollFor(q, id)

	// ResumeAgent of an execution that is not WAITING fails softly.
	res, err := w.ad.ResumeAgent(ctxT(t), &flovynv1.ResumeAgentRequest{AgentExecutionId: id, WorkerId: w.id})
	if err != nil || res.Success || res.Agent != nil {
		t.Fatalf("ResumeAgent of a running agent: %v %v", res, err)
	}
	w.suspendSignal(id, "go")
	has, err := w.ad.HasSignal(ctxT(t), &flovynv1.HasSignalRequest{AgentExecutionId: id, SignalName: "go"})
	if err != nil || has.HasSignal {
		t.Fatalf("HasSignal before: %v %v", has, err)
	}
	// ResumeAgent takes a WAITING execution straight to RUNNING.
	res, err = w.ad.ResumeAgent(ctxT(t), &flovynv1.ResumeAgentRequest{AgentExecutionId: id, WorkerId: w.id})
	if err != nil || !res.Success || res.Agent.GetId() != id {
		t.Fatalf("ResumeAgent: %v %v", res, err)
	}
	w.wantStatus(id, "RUNNING")

	// SignalAgent over gRPC: kept while running, wakes a waiting agent.
	sig, err := w.ad.SignalAgent(ctxT(t), &flovynv1.SignalAgentRequest{AgentExecutionId: id, SignalName: "child:done", SignalValue: []byte(`{"k":1}`)})
	if err != nil || sig.AgentResumed || uuid.Validate(sig.SignalId) != nil {
		t.Fatalf("SignalAgent to a running agent: %v %v", sig, err)
	}
	if has, _ := w.ad.HasSignal(ctxT(t), &flovynv1.HasSignalRequest{AgentExecutionId: id, SignalName: "child:done"}); !has.HasSignal {
		t.Fatal("HasSignal after SignalAgent: false")
	}
	w.suspendSignal(id, "go")
	sig, err = w.ad.SignalAgent(ctxT(t), &flovynv1.SignalAgentRequest{AgentExecutionId: id, SignalName: "go"})
	if err != nil || !sig.AgentResumed {
		t.Fatalf("SignalAgent to a waiting agent: %v %v", sig, err)
	}
	w.pollFor(q, id)
	// A pattern wins over a name, and consumes only what matches.
	got, err := w.ad.ConsumeSignals(ctxT(t), &flovynv1.ConsumeSignalsRequest{AgentExecutionId: id, SignalName: ptr("go"), SignalPattern: ptr("child:*")})
	if err != nil || len(got.Signals) != 1 || got.Signals[0].SignalName != "child:done" || !jsonEq(got.Signals[0].SignalValue, []byte(`{"k":1}`)) {
		t.Fatalf("ConsumeSignals by pattern: %v %v", got, err)
	}
	// Without a filter, every unconsumed signal.
	got, err = w.ad.ConsumeSignals(ctxT(t), &flovynv1.ConsumeSignalsRequest{AgentExecutionId: id})
	if err != nil || len(got.Signals) != 1 || got.Signals[0].SignalName != "go" || !jsonEq(got.Signals[0].SignalValue, []byte(`null`)) {
		t.Fatalf("ConsumeSignals of all: %v %v", got, err)
	}
	if has, _ := w.ad.HasSignal(ctxT(t), &flovynv1.HasSignalRequest{AgentExecutionId: id, SignalName: "go"}); has.HasSignal {
		t.Fatal("HasSignal after consuming: true")
	}
}

func TestAgentSingleTaskWaitAndCount(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("single-agent")
	id := w.create("single-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	task := w.mustSchedule(id, "t", `{"n":1}`, nil)
	if n, err := w.ad.GetAgentTaskCount(ctxT(t), &flovynv1.GetAgentTaskCountRequest{AgentExecutionId: id}); err != nil || n.TaskCount != 1 {
		t.Fatalf("GetAgentTaskCount: %v %v", n, err)
	}
	if _, err := w.ad.SuspendAgent(ctxT(t), &flovynv1.SuspendAgentRequest{AgentExecutionId: id,
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForTask{WaitForTask: task}}); err != nil {
		t.Fatal(err)
	}
	w.wantStatus(id, "WAITING")
	claimed := w.claimTask(q)
	if _, err := w.tasks.FailTask(ctxT(t), &flovynv1.FailTaskRequest{TaskExecutionId: claimed.TaskExecutionId, Error: "retry me"}); err != nil {
		t.Fatal(err)
	}
	// A failed attempt with retries left is retried, not settled.
	r, err := w.ad.GetAgentTaskResult(ctxT(t), &flovynv1.GetAgentTaskResultRequest{AgentExecutionId: id, TaskExecutionId: task})
	if err != nil || r.Status != "PENDING" {
		t.Fatalf("GetAgentTaskResult after a failed attempt: %v %v", r, err)
	}
	w.wantStatus(id, "WAITING")
	claimed = w.claimTask(q)
	if claimed.ExecutionCount != 2 {
		t.Fatalf("retry attempt %d", claimed.ExecutionCount)
	}
	w.completeTask(claimed.TaskExecutionId, `{"ok":true}`)
	w.wantStatus(id, "PENDING")
}

func TestAgentChildren(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("parent-agent", "child-agent")
	parent := w.create("parent-agent", `{}`, q).ID.String()
	w.pollFor(q, parent)
	org := e.tenant.ID.String()

	spawn := func(input string) string {
		t.Helper()
		res, err := w.ad.SpawnChildAgent(ctxT(t), &flovynv1.SpawnChildAgentRequest{OrgId: org, ParentExecutionId: parent,
			AgentKind: "child-agent", Input: []byte(input), Mode: "REMOTE", Tools: []string{"search"}, Model: ptr("m")})
		if err != nil || res.Status != "PENDING" {
			t.Fatalf("SpawnChildAgent: %v %v", res, err)
		}
		return res.ChildExecutionId
	}
	c1, c2 := spawn(`{"n":1}`), spawn(`{"n":2}`)
	events, err := w.ad.PollChildEvents(ctxT(t), &flovynv1.PollChildEventsRequest{OrgId: org, ParentExecutionId: parent, ChildExecutionIds: []string{c1, c2}})
	if err != nil || len(events.Events) != 0 {
		t.Fatalf("PollChildEvents before: %v %v", events, err)
	}
	// select_child: wait for any event from the children.
	if _, err := w.ad.SuspendAgent(ctxT(t), &flovynv1.SuspendAgentRequest{AgentExecutionId: parent,
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForChildEvent{WaitForChildEvent: &flovynv1.WaitForChildEvent{ChildExecutionIds: []string{c1, c2}}}}); err != nil {
		t.Fatal(err)
	}
	w.wantStatus(parent, "WAITING")

	// The children run in the parent's queue and know their parent.
	got := map[string]*flovynv1.AgentExecutionInfo{}
	for len(got) < 2 {
		if info := w.poll(q); info != nil {
			got[info.Id] = info
		}
	}
	if got[c1].GetParentExecutionId() != parent || got[c1].Queue != q || !jsonEq(got[c1].Input, []byte(`{"n":1}`)) || len(got[c1].Metadata) == 0 {
		t.Fatalf("child: %v", got[c1])
	}
	// A parent signal wakes the parent; a child signal reaches the child.
	sent, err := w.ad.SendParentSignal(ctxT(t), &flovynv1.SendParentSignalRequest{OrgId: org, ChildExecutionId: c1, SignalName: "progress", Payload: []byte(`{"p":1}`)})
	if err != nil || !sent.Delivered {
		t.Fatalf("SendParentSignal: %v %v", sent, err)
	}
	w.wantStatus(parent, "PENDING")
	w.pollFor(q, parent)
	delivered, err := w.ad.SendChildSignal(ctxT(t), &flovynv1.SendChildSignalRequest{OrgId: org, ParentExecutionId: parent, ChildExecutionId: c2, SignalName: "cancel", Payload: []byte(`null`)})
	if err != nil || !delivered.Delivered {
		t.Fatalf("SendChildSignal: %v %v", delivered, err)
	}
	if has, _ := w.ad.HasSignal(ctxT(t), &flovynv1.HasSignalRequest{AgentExecutionId: c2, SignalName: "cancel"}); !has.HasSignal {
		t.Fatal("the child did not get the parent's signal")
	}
	_, err = w.ad.SendChildSignal(ctxT(t), &flovynv1.SendChildSignalRequest{OrgId: org, ParentExecutionId: c1, ChildExecutionId: c2, SignalName: "x"})
	wantCode(t, "SendChildSignal to another's child", err, codes.NotFound)
	if res, err := w.ad.SendParentSignal(ctxT(t), &flovynv1.SendParentSignalRequest{OrgId: org, ChildExecutionId: parent, SignalName: "x"}); err != nil || res.Delivered {
		t.Fatalf("SendParentSignal without a parent: %v %v", res, err)
	}
	events, err = w.ad.PollChildEvents(ctxT(t), &flovynv1.PollChildEventsRequest{OrgId: org, ParentExecutionId: parent, ChildExecutionIds: []string{c1, c2}})
	if err != nil || len(events.Events) != 1 || events.Events[0].EventType != "signal" || events.Events[0].GetSignalName() != "progress" ||
		events.Events[0].ChildExecutionId != c1 || !jsonEq(events.Events[0].SignalPayload, []byte(`{"p":1}`)) {
		t.Fatalf("PollChildEvents signal: %v %v", events, err)
	}

	// join_children: wait for all; the parent wakes when the last ends.
	if _, err := w.ad.SuspendAgent(ctxT(t), &flovynv1.SuspendAgentRequest{AgentExecutionId: parent,
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForAllChildren{WaitForAllChildren: &flovynv1.WaitForAllChildren{ChildExecutionIds: []string{c1, c2}}}}); err != nil {
		t.Fatal(err)
	}
	w.complete(c1, `{"r":1}`)
	w.wantStatus(parent, "WAITING")
	if _, err := w.ad.FailAgent(ctxT(t), &flovynv1.FailAgentRequest{AgentExecutionId: c2, Error: "child broke"}); err != nil {
		t.Fatal(err)
	}
	w.wantStatus(parent, "PENDING")
	events, err = w.ad.PollChildEvents(ctxT(t), &flovynv1.PollChildEventsRequest{OrgId: org, ParentExecutionId: parent})
	if err != nil || len(events.Events) != 2 {
		t.Fatalf("PollChildEvents after: %v %v", events, err)
	}
	byChild := map[string]*flovynv1.ChildEventInfo{}
	for _, ev := range events.Events {
		byChild[ev.ChildExecutionId] = ev
	}
	if ev := byChild[c1]; ev.EventType != "completed" || !jsonEq(ev.Output, []byte(`{"r":1}`)) {
		t.Fatalf("completed child: %v", ev)
	}
	if ev := byChild[c2]; ev.EventType != "failed" || ev.GetError() != "child broke" {
		t.Fatalf("failed child: %v", ev)
	}
	var list struct {
		Items []restAgent `json:"items"`
	}
	if code := w.rest(http.MethodGet, "/agent-executions?parentExecutionId="+parent, nil, &list); code != 200 || len(list.Items) != 2 {
		t.Fatalf("children list: %d %+v", code, list)
	}
}

func TestAgentCancelExecution(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("cancelled-agent")
	id := w.create("cancelled-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	task := w.mustSchedule(id, "t", `{"n":1}`, nil)
	w.suspendTasks(id, flovynv1.WaitMode_WAIT_MODE_ALL, task)
	// The worker token may not cancel over REST; an admin may (here, the engine).
	if code := w.rest(http.MethodPost, "/agent-executions/"+id+"/cancel", map[string]any{}, nil); code != http.StatusForbidden {
		t.Fatalf("worker cancels over REST: %d, want 403", code)
	}
	ended, err := e.srv.Engine().CancelAgent(context.Background(), e.tenant.ID, mustUUID(t, id), "stop")
	if err != nil || !ended {
		t.Fatalf("CancelAgent: %v %v", ended, err)
	}
	a := w.wantStatus(id, "CANCELLED")
	if a.Error == nil || !strings.Contains(*a.Error, "stop") {
		t.Fatalf("cancelled agent: %+v", a)
	}
	if r := w.results(id, task); r[0].Status != "CANCELLED" {
		t.Fatalf("its task: %v", r)
	}
	if ended, err := e.srv.Engine().CancelAgent(context.Background(), e.tenant.ID, mustUUID(t, id), "again"); err != nil || ended {
		t.Fatalf("CancelAgent again: %v %v", ended, err)
	}
	_, err = w.ad.AppendEntry(ctxT(t), &flovynv1.AppendEntryRequest{AgentExecutionId: id, EntryType: "MESSAGE", Content: []byte(`1`)})
	wantCode(t, "AppendEntry to a cancelled agent", err, codes.FailedPrecondition)
}

func TestAgentReclaimedWhenItsWorkerDisconnects(t *testing.T) {
	e := start(t)
	q := queue(t)
	w := e.agentWorker("held-agent")
	id := w.create("held-agent", `{}`, q).ID.String()
	// A worker on a connection of its own takes the agent, then goes away.
	c := e.clientWith(e.key, e.tenant.ID.String())
	gone := &agentWorker{e: e, t: t, ad: flovynv1.NewAgentDispatchClient(c.Conn()), id: "gone-worker", org: w.org, kinds: w.kinds}
	if got := gone.poll(q); got == nil || got.Id != id {
		t.Fatalf("PollAgent: %v", got)
	}
	w.wantStatus(id, "RUNNING")
	if got := w.poll(q); got != nil {
		t.Fatalf("a held agent was dispatched twice: %v", got)
	}
	c.Close()
	info := w.pollFor(q, id)
	if info.CurrentCheckpointSeq != -1 {
		t.Fatalf("re-dispatched: %v", info)
	}
	w.wantStatus(id, "RUNNING")
}

func TestAgentLeaseRenewedWhileItsWorkerIsConnected(t *testing.T) {
	e := start(t, func(o *options) { o.engine.WorkerTimeout = 300 * time.Millisecond })
	q := queue(t)
	w := e.agentWorker("long-agent")
	id := w.create("long-agent", `{}`, q).ID.String()
	w.pollFor(q, id)
	// Held for several leases by a connected worker, it is offered to no one else.
	other := e.agentWorker("long-agent")
	for end := time.Now().Add(4 * 300 * time.Millisecond); time.Now().Before(end); {
		if got := other.poll(q); got != nil {
			t.Fatalf("an agent held by a connected worker was dispatched again: %v", got)
		}
	}
	w.wantStatus(id, "RUNNING")
	w.complete(id, `"done"`)
}

// An agent's conversation, checkpoints and tasks come in pages: REST
// follows nextCursor, GetEntries streams a conversation longer than one
// read, and GetAgentTaskResults refuses to gather more output than one
// answer may carry.
func TestAgentListsArePaged(t *testing.T) {
	e := start(t, func(o *options) { o.engine.MaxHistoryBytes = 64 << 10 })
	q := queue(t)
	w := e.agentWorker("pager")
	a := w.create("pager", `{}`, q)
	info := w.pollFor(q, a.ID.String())
	var entries []string
	for i := range 40 {
		entries = append(entries, w.appendMessage(info.Id, "user", fmt.Sprintf(`{"n":%d}`, i)))
	}
	for i := range 3 {
		w.checkpoint(info.Id, entries[len(entries)-1], fmt.Sprintf(`{"round":%d}`, i))
	}
	big := `"` + strings.Repeat("x", 40<<10) + `"`
	var tasks []string
	for i := range 3 {
		tasks = append(tasks, w.mustSchedule(info.Id, "work", fmt.Sprintf(`{"n":%d}`, i), nil))
	}

	streamed, _ := w.dispatchStart(info)
	if len(streamed) != len(entries) {
		t.Fatalf("GetEntries streamed %d of %d entries", len(streamed), len(entries))
	}
	for i, en := range streamed {
		if en.Id != entries[i] {
			t.Fatalf("GetEntries: entry %d is %s, want %s", i, en.Id, entries[i])
		}
	}

	// pageIDs follows nextCursor through path's pages of size, returning
	// the ids under key and the size of each page.
	pageIDs := func(path, key string, size int) (ids []string, sizes []int) {
		t.Helper()
		cursor := ""
		for len(sizes) < 100 {
			url := fmt.Sprintf("%s?limit=%d", path, size)
			if cursor != "" {
				url += "&cursor=" + cursor
			}
			var out map[string]json.RawMessage
			if code := w.rest(http.MethodGet, url, nil, &out); code != http.StatusOK {
				var p problem
				w.rest(http.MethodGet, url, nil, &p)
				t.Fatalf("GET %s: status %d: %s", url, code, p.Detail)
			}
			var items []struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(out[key], &items); err != nil {
				t.Fatalf("GET %s: %s: %v", url, key, err)
			}
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			sizes = append(sizes, len(items))
			next, ok := out["nextCursor"]
			if !ok {
				return ids, sizes
			}
			if err := json.Unmarshal(next, &cursor); err != nil {
				t.Fatalf("GET %s: nextCursor %s", url, next)
			}
		}
		t.Fatalf("GET %s: no end to the pages", path)
		return nil, nil
	}
	base := "/agent-executions/" + info.Id
	if ids, sizes := pageIDs(base+"/entries", "entries", 16); !slices.Equal(ids, entries) || fmt.Sprint(sizes) != "[16 16 8]" {
		t.Fatalf("entries in pages of %v: %v", sizes, ids)
	}
	if ids, sizes := pageIDs(base+"/checkpoints", "checkpoints", 2); len(ids) != 3 || fmt.Sprint(sizes) != "[2 1]" {
		t.Fatalf("checkpoints in pages of %v: %v", sizes, ids)
	}
	if ids, sizes := pageIDs(base+"/tasks", "tasks", 2); !slices.Equal(ids, tasks) || fmt.Sprint(sizes) != "[2 1]" {
		t.Fatalf("tasks in pages of %v: %v, want %v", sizes, ids, tasks)
	}
	for _, path := range []string{"/entries?cursor=nope", "/entries?cursor=" + uuid.NewString(), "/checkpoints?cursor=-3",
		"/tasks?cursor=!!", "/entries?limit=0", "/tasks?limit=501"} {
		var p problem
		if code := w.rest(http.MethodGet, base+path, nil, &p); code != http.StatusBadRequest {
			t.Errorf("GET %s: status %d (%s), want 400", path, code, p.Detail)
		}
	}

	// Two outputs of 40 KiB fit the 64 KiB an answer may carry here, three do not.
	for range tasks {
		task := w.claimTask(q)
		w.completeTask(task.TaskExecutionId, big)
	}
	if got := w.results(info.Id, tasks[:1]...); got[0].Status != "COMPLETED" {
		t.Fatalf("result: %v", got)
	}
	_, err := w.ad.GetAgentTaskResults(ctxT(t), &flovynv1.GetAgentTaskResultsRequest{AgentExecutionId: info.Id, TaskExecutionIds: tasks})
	wantCode(t, "GetAgentTaskResults of 120 KiB of outputs", err, codes.ResourceExhausted)
}

// Two tasks of an agent that end at once wake it: each completion sees the
// other's once it has the agent's row, so the last one to commit finds the
// wait satisfied. The re-check that would repair a lost wake-up is an hour
// away here, so the agent must be PENDING as soon as both calls returned.
func TestAgentTasksEndingTogetherWakeIt(t *testing.T) {
	e := start(t, func(o *options) { o.engine.RecheckInterval = time.Hour })
	q := queue(t)
	w := e.agentWorker("pair")
	for round := range 30 {
		a := w.create("pair", fmt.Sprintf(`{"round":%d}`, round), q)
		info := w.pollFor(q, a.ID.String())
		ids := []string{
			w.mustSchedule(info.Id, "half", `{"n":1}`, nil),
			w.mustSchedule(info.Id, "half", `{"n":2}`, nil),
		}
		w.suspendTasks(info.Id, flovynv1.WaitMode_WAIT_MODE_ALL, ids...)
		claimed := []string{w.claimTask(q).TaskExecutionId, w.claimTask(q).TaskExecutionId}
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for _, id := range claimed {
			wg.Go(func() {
				<-ready
				if _, err := w.tasks.CompleteTask(context.Background(), &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: []byte(`1`)}); err != nil {
					t.Errorf("CompleteTask: %v", err)
				}
			})
		}
		close(ready)
		wg.Wait()
		if got := w.get(info.Id); got.Status != "PENDING" {
			t.Fatalf("round %d: both tasks completed, the agent is %s", round, got.Status)
		}
		w.complete(w.pollFor(q, info.Id).Id, `"done"`)
	}
}
