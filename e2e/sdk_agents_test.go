package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/sdk"
)

// Durable agents driven by real sdk agent workers against the real server:
// the scenarios of the Rust SDK's agent e2e suite
// (worker-sdk/tests/e2e/agent_tests.rs), one subtest each, with fixtures
// that behave like its fixtures (fixtures/agents.rs, fixtures/tasks.rs).
// Agents are created, signalled and inspected over REST, as the Rust
// harness does. Every wait polls observed state with a deadline.
//
// The scenarios share one server and run concurrently (each on a queue of
// its own); the two timing budgets run alone, each on a server of its own.

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

// agentHarness is one scenario: a queue, its workers and REST helpers.
type agentHarness struct {
	t *testing.T
	e *env
	q string
	// quit is closed when the scenario ends, before its workers stop: the
	// sleeping fixture tasks return at once instead of holding the
	// worker's shutdown for their whole delay.
	quit     chan struct{}
	quitOnce sync.Once
	mu       sync.Mutex
	counts   map[string]int // fixture executions, by name
}

func newAgentHarness(t *testing.T, e *env) *agentHarness {
	return &agentHarness{t: t, e: e, q: queue(t), quit: make(chan struct{}), counts: map[string]int{}}
}

func (h *agentHarness) count(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[name]++
}

func (h *agentHarness) executions(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[name]
}

// worker runs an sdk worker on the scenario's queue until the scenario
// ends, and returns once the server has registered it.
func (h *agentHarness) worker(register func(w *sdk.Worker)) *sdk.Worker {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: h.e.srv.GRPCAddr(), Token: h.e.key, OrgID: h.e.tenant.ID.String(),
		ResultPollInterval: 20 * time.Millisecond})
	cancel()
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { c.Close() })
	w := sdk.NewWorker(c, sdk.WorkerOptions{Queue: h.q, NoWorkBackoff: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	register(w)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	h.t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			h.t.Errorf("worker: %v", err)
		}
	})
	h.t.Cleanup(func() { h.quitOnce.Do(func() { close(h.quit) }) }) // runs before the stop above
	waitUntil(h.t, "the worker is registered", func() bool {
		select {
		case err := <-done:
			h.t.Fatalf("worker: %v", err)
		default:
		}
		return w.WorkerID() != ""
	})
	return w
}

// sleep waits d or until the scenario ends.
func (h *agentHarness) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-h.quit:
	}
}

type agentView struct {
	ID                   string          `json:"id"`
	Kind                 string          `json:"kind"`
	Status               string          `json:"status"`
	Output               json.RawMessage `json:"output"`
	Error                *string         `json:"error"`
	CurrentCheckpointSeq int32           `json:"currentCheckpointSeq"`
}

// out decodes the agent's output.
func (a agentView) out(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Output, &m); err != nil {
		t.Fatalf("agent %s output %s: %v", a.ID, a.Output, err)
	}
	return m
}

type agentTaskView struct {
	ID     string  `json:"id"`
	Kind   string  `json:"kind"`
	Status string  `json:"status"`
	Error  *string `json:"error"`
}

type checkpointView struct {
	ID       string `json:"id"`
	Sequence int32  `json:"sequence"`
}

// rest calls the tenant's REST API as the Rust SDK's harness does and
// decodes a 2xx answer into out.
func (h *agentHarness) rest(method, path string, body, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctxT(h.t), method, "http://"+h.e.srv.HTTPAddr()+"/api/orgs/"+h.e.tenant.Slug+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.e.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		h.t.Fatalf("%s %s: status %d: %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// create starts an agent execution on the scenario's queue. The answer
// says PENDING, even when a waiting worker claims it at once.
func (h *agentHarness) create(kind string, input any) agentView {
	h.t.Helper()
	var a agentView
	h.rest(http.MethodPost, "/agent-executions", map[string]any{"kind": kind, "input": input, "queue": h.q}, &a)
	if a.Kind != kind || uuid.Validate(a.ID) != nil || !strings.EqualFold(a.Status, "PENDING") {
		h.t.Fatalf("created agent: %+v", a)
	}
	return a
}

func (h *agentHarness) get(id string) agentView {
	h.t.Helper()
	var a agentView
	h.rest(http.MethodGet, "/agent-executions/"+id, nil, &a)
	return a
}

// waitStatus polls the agent until its status is one of statuses.
func (h *agentHarness) waitStatus(id string, statuses ...string) agentView {
	h.t.Helper()
	var a agentView
	waitUntil(h.t, "agent "+id+" is "+strings.Join(statuses, " or "), func() bool {
		a = h.get(id)
		for _, s := range statuses {
			if strings.EqualFold(a.Status, s) {
				return true
			}
		}
		return false
	})
	return a
}

// waitDone waits until the agent has ended and checks it ended with want.
func (h *agentHarness) waitDone(id, want string) agentView {
	h.t.Helper()
	a := h.waitStatus(id, "COMPLETED", "FAILED", "CANCELLED")
	if !strings.EqualFold(a.Status, want) {
		h.t.Fatalf("agent %s ended %s (error %v, output %s), want %s", id, a.Status, deref(a.Error), a.Output, want)
	}
	return a
}

func (h *agentHarness) signal(id, name string, value any) (signaled, resumed bool) {
	h.t.Helper()
	var r struct {
		Signaled     bool `json:"signaled"`
		AgentResumed bool `json:"agentResumed"`
	}
	h.rest(http.MethodPost, "/agent-executions/"+id+"/signal", map[string]any{"signalName": name, "signalValue": value}, &r)
	return r.Signaled, r.AgentResumed
}

func (h *agentHarness) tasks(id string) []agentTaskView {
	h.t.Helper()
	var r struct {
		Tasks []agentTaskView `json:"tasks"`
	}
	h.rest(http.MethodGet, "/agent-executions/"+id+"/tasks", nil, &r)
	return r.Tasks
}

func (h *agentHarness) checkpoints(id string) []checkpointView {
	h.t.Helper()
	var r struct {
		Checkpoints []checkpointView `json:"checkpoints"`
	}
	h.rest(http.MethodGet, "/agent-executions/"+id+"/checkpoints", nil, &r)
	for i, c := range r.Checkpoints {
		if c.Sequence != int32(i+1) || uuid.Validate(c.ID) != nil {
			h.t.Fatalf("checkpoint %d of %s: %+v", i, id, c)
		}
	}
	return r.Checkpoints
}

// statusCount counts the tasks with a status (case-insensitive).
func statusCount(tasks []agentTaskView, status string) int {
	n := 0
	for _, t := range tasks {
		if strings.EqualFold(t.Status, status) {
			n++
		}
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Accessors of decoded JSON outputs.

// outAs is the output's key as a T, failing the test when it is not one.
func outAs[T any](t *testing.T, m map[string]any, key string) T {
	t.Helper()
	v, ok := m[key].(T)
	if !ok {
		t.Fatalf("output %q = %v (%T), want a %T; output %v", key, m[key], m[key], v, m)
	}
	return v
}

func outNum(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	return outAs[float64](t, m, key)
}
func outStr(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	return outAs[string](t, m, key)
}
func outBool(t *testing.T, m map[string]any, key string) bool {
	t.Helper()
	return outAs[bool](t, m, key)
}
func outList(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	return outAs[[]any](t, m, key)
}
func outObj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	return outAs[map[string]any](t, m, key)
}

// ---------------------------------------------------------------------------
// Fixtures (the Rust suite's, in Go)
// ---------------------------------------------------------------------------

// input is an agent or task input read leniently, as the Rust fixtures do
// with serde_json::Value getters.
type input map[string]json.RawMessage

func readInput(raw json.RawMessage) input {
	var in input
	_ = json.Unmarshal(raw, &in)
	return in
}

func (in input) str(key, def string) string {
	var s string
	if json.Unmarshal(in[key], &s) != nil {
		return def
	}
	return s
}

func (in input) num(key string, def int64) int64 {
	var n int64
	if json.Unmarshal(in[key], &n) != nil || n < 0 {
		return def
	}
	return n
}

func (in input) flag(key string) bool {
	var b bool
	_ = json.Unmarshal(in[key], &b)
	return b
}

func (in input) strs(key string, def []string) []string {
	var l []any
	if json.Unmarshal(in[key], &l) != nil {
		return def
	}
	out := []string{}
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (in input) objects(key string) []json.RawMessage {
	var l []json.RawMessage
	_ = json.Unmarshal(in[key], &l)
	return l
}

type text struct {
	Text string `json:"text"`
}

func (h *agentHarness) echoTask(_ *sdk.TaskContext, in json.RawMessage) (any, error) { return in, nil }

// slowTask sleeps sleepMs (or delay_ms, default 1000) and returns
// {sleptMs, source}.
func (h *agentHarness) slowTask(_ *sdk.TaskContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	ms := in.num("sleepMs", -1)
	if ms < 0 {
		ms = in.num("delay_ms", 1000)
	}
	h.sleep(time.Duration(ms) * time.Millisecond)
	out := map[string]any{"sleptMs": ms}
	if src := in.str("source", ""); src != "" {
		out["source"] = src
	}
	return out, nil
}

// conditionalFailTask waits delayMs, then fails when shouldFail is set.
func (h *agentHarness) conditionalFailTask(_ *sdk.TaskContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	name := in.str("name", "unnamed")
	h.sleep(time.Duration(in.num("delayMs", 0)) * time.Millisecond)
	if in.flag("shouldFail") {
		return nil, fmt.Errorf("Task '%s' intentionally failed", name)
	}
	return map[string]any{"name": name, "success": true}, nil
}

func (h *agentHarness) echoAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	h.count("echo-agent")
	msg := readInput(raw).str("message", "no message")
	if _, err := ctx.AppendEntry(sdk.RoleUser, text{msg}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"processed": true}); err != nil {
		return nil, err
	}
	response := "Echo: " + msg
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{response}); err != nil {
		return nil, err
	}
	return map[string]any{"response": response, "inputMessage": msg}, nil
}

func (h *agentHarness) multiTurnAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	prompt := readInput(raw).str("prompt", "Hello")
	if _, err := ctx.AppendEntry(sdk.RoleSystem, text{"You are a helpful assistant."}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleUser, text{prompt}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"turn": 1}); err != nil {
		return nil, err
	}
	first := "Acknowledged: " + prompt
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{first}); err != nil {
		return nil, err
	}
	if err := ctx.StreamProgress(0.5, "Waiting for follow-up"); err != nil {
		return nil, err
	}
	v, err := ctx.WaitSignal("followUp")
	if err != nil {
		return nil, err
	}
	followUp := readInput(v).str("message", "no follow-up")
	if _, err := ctx.AppendEntry(sdk.RoleUser, text{followUp}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"turn": 2}); err != nil {
		return nil, err
	}
	final := "Follow-up received: " + followUp
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{final}); err != nil {
		return nil, err
	}
	if err := ctx.StreamProgress(1, "Complete"); err != nil {
		return nil, err
	}
	return map[string]any{"firstResponse": first, "followUpReceived": followUp, "finalResponse": final, "turns": 2}, nil
}

func (h *agentHarness) taskSchedulingAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	taskInput := json.RawMessage(`{"default":true}`)
	if v, ok := in["taskInput"]; ok {
		taskInput = v
	}
	kind := in.str("taskKind", "echo-task")
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"Scheduling task: " + kind}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "pre-task"}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendToolCall(kind, taskInput); err != nil {
		return nil, err
	}
	results, err := ctx.JoinAll(ctx.ScheduleTask(kind, taskInput, sdk.AgentTaskOptions{}))
	if err != nil {
		return nil, err
	}
	if _, err := ctx.AppendToolResult(kind, results[0]); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "post-task", "taskCompleted": true}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"Task completed successfully"}); err != nil {
		return nil, err
	}
	return map[string]any{"taskResult": results[0], "taskKind": kind}, nil
}

func (h *agentHarness) checkpointAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	steps := readInput(raw).num("steps", 3)
	var st struct {
		CompletedStep int64 `json:"completedStep"`
	}
	if _, err := ctx.State(&st); err != nil {
		return nil, err
	}
	if st.CompletedStep > 0 {
		if _, err := ctx.AppendEntry(sdk.RoleSystem, text{fmt.Sprintf("Resuming from step %d", st.CompletedStep)}); err != nil {
			return nil, err
		}
	}
	results := []int64{}
	for step := st.CompletedStep + 1; step <= steps; step++ {
		progress := float64(step) / float64(steps)
		if err := ctx.StreamProgress(progress, fmt.Sprintf("Step %d/%d", step, steps)); err != nil {
			return nil, err
		}
		if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Processing step %d", step)}); err != nil {
			return nil, err
		}
		if err := ctx.Checkpoint(map[string]any{"completedStep": step, "progress": progress}); err != nil {
			return nil, err
		}
		results = append(results, step)
		time.Sleep(50 * time.Millisecond) // simulated work, as in the Rust fixture
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"All steps completed"}); err != nil {
		return nil, err
	}
	return map[string]any{"completedSteps": results, "totalSteps": steps, "resumedFrom": st.CompletedStep}, nil
}

func (h *agentHarness) parallelTasksAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	items := in.strs("items", []string{"a", "b", "c"})
	kind := in.str("taskKind", "echo-task")
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Scheduling %d parallel tasks", len(items))}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "pre-tasks", "itemCount": len(items)}); err != nil {
		return nil, err
	}
	var tasks []*sdk.AgentTask
	for _, item := range items {
		tasks = append(tasks, ctx.ScheduleTask(kind, map[string]any{"message": item}, sdk.AgentTaskOptions{}))
	}
	results, err := ctx.JoinAll(tasks...)
	if err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "post-tasks", "resultCount": len(results)}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("All %d tasks completed", len(results))}); err != nil {
		return nil, err
	}
	if results == nil {
		results = []json.RawMessage{}
	}
	return map[string]any{"itemCount": len(items), "results": results}, nil
}

func (h *agentHarness) racingTasksAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	primaryDelay, fallbackDelay := in.num("primaryDelayMs", 2000), in.num("fallbackDelayMs", 500)
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"Racing primary and fallback tasks"}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "pre-race", "primaryDelayMs": primaryDelay, "fallbackDelayMs": fallbackDelay}); err != nil {
		return nil, err
	}
	fallback := ctx.ScheduleTask("slow-task", map[string]any{"source": "fallback", "delay_ms": fallbackDelay}, sdk.AgentTaskOptions{})
	primary := ctx.ScheduleTask("slow-task", map[string]any{"source": "primary", "delay_ms": primaryDelay}, sdk.AgentTaskOptions{})
	sel, err := ctx.SelectOk(fallback, primary)
	if err != nil {
		return nil, err
	}
	winner := readInput(sel.Output).str("source", "unknown")
	index := map[string]int{"fallback": 0, "primary": 1}[winner]
	if winner != "fallback" && winner != "primary" {
		index = -1
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "post-race"}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{winner + " task won the race"}); err != nil {
		return nil, err
	}
	return map[string]any{"winner": winner, "winnerIndex": index, "result": sel.Output, "remainingTasks": 1}, nil
}

func (h *agentHarness) selectOkAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	type cfg struct {
		ShouldFail bool  `json:"shouldFail"`
		DelayMs    int64 `json:"delayMs"`
	}
	configs := []cfg{{true, 100}, {true, 200}, {false, 300}}
	if list := readInput(raw).objects("tasks"); list != nil {
		configs = configs[:0]
		for _, o := range list {
			c := cfg{DelayMs: 100}
			_ = json.Unmarshal(o, &c)
			configs = append(configs, c)
		}
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Scheduling %d tasks with select_ok (expecting first success)", len(configs))}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "pre-tasks", "taskCount": len(configs)}); err != nil {
		return nil, err
	}
	var tasks []*sdk.AgentTask
	for i, c := range configs {
		tasks = append(tasks, ctx.ScheduleTask("conditional-fail-task",
			map[string]any{"taskIndex": i, "shouldFail": c.ShouldFail, "delayMs": c.DelayMs}, sdk.AgentTaskOptions{}))
	}
	sel, err := ctx.SelectOk(tasks...)
	if err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "post-select", "remainingCount": len(tasks) - 1}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"select_ok returned a winner"}); err != nil {
		return nil, err
	}
	return map[string]any{"result": sel.Output, "remainingTasks": len(tasks) - 1}, nil
}

func (h *agentHarness) mixedParallelSequentialAgent(ctx *sdk.AgentContext, _ json.RawMessage) (any, error) {
	echo := func(msg string) *sdk.AgentTask {
		return ctx.ScheduleTask("echo-task", map[string]any{"message": msg}, sdk.AgentTaskOptions{})
	}
	out := map[string]any{}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"Phase 1: Starting two parallel tasks"}); err != nil {
		return nil, err
	}
	phase1, err := ctx.JoinAll(echo("phase1-a"), echo("phase1-b"))
	if err != nil {
		return nil, err
	}
	out["phase1"] = phase1
	if err := ctx.Checkpoint(map[string]any{"completedPhase": 1}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"Phase 2: Starting sequential task"}); err != nil {
		return nil, err
	}
	phase2, err := ctx.JoinAll(echo("phase2-sequential"))
	if err != nil {
		return nil, err
	}
	out["phase2"] = phase2[0]
	if err := ctx.Checkpoint(map[string]any{"completedPhase": 2}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"Phase 3: Starting three parallel tasks"}); err != nil {
		return nil, err
	}
	phase3, err := ctx.JoinAll(echo("phase3-a"), echo("phase3-b"), echo("phase3-c"))
	if err != nil {
		return nil, err
	}
	out["phase3"] = phase3
	if err := ctx.Checkpoint(map[string]any{"completedPhase": 3}); err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"All phases complete: 2 parallel + 1 sequential + 3 parallel = 6 tasks"}); err != nil {
		return nil, err
	}
	out["totalTasks"], out["phases"], out["success"] = 6, 3, true
	return out, nil
}

func (h *agentHarness) timeoutTasksAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	n, delay, timeout := in.num("taskCount", 3), in.num("taskDelayMs", 5000), in.num("timeoutMs", 1000)
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Scheduling %d tasks with %dms delay, timeout %dms (server-side)", n, delay, timeout)}); err != nil {
		return nil, err
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "pre-tasks", "taskCount": n, "taskDelayMs": delay, "timeoutMs": timeout}); err != nil {
		return nil, err
	}
	opts := sdk.AgentTaskOptions{Timeout: time.Duration(timeout) * time.Millisecond}
	var tasks []*sdk.AgentTask
	for i := range n {
		tasks = append(tasks, ctx.ScheduleTask("slow-task", map[string]any{"source": fmt.Sprintf("task-%d", i), "delay_ms": delay}, opts))
	}
	res, err := ctx.JoinAllSettled(tasks...)
	if err != nil {
		return nil, err
	}
	timedOut := 0
	for _, f := range res.Failed() {
		if strings.Contains(strings.ToLower(f.Error), "timed out") {
			timedOut++
		}
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "post-timeout", "completedCount": len(res.Completed()),
		"failedCount": len(res.Failed()), "timedOutCount": timedOut}); err != nil {
		return nil, err
	}
	msg := "Some tasks failed/timed out"
	if res.AllSucceeded() {
		msg = "All tasks completed"
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{msg}); err != nil {
		return nil, err
	}
	return map[string]any{"totalTasks": n, "completedCount": len(res.Completed()), "failedCount": len(res.Failed()),
		"timedOutCount": timedOut, "cancelledCount": len(res.Cancelled()), "timedOut": timedOut > 0, "succeeded": res.AllSucceeded()}, nil
}

func (h *agentHarness) racingTasksWithCancelAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	configs := []struct {
		name  string
		delay int64
	}{{"fast", in.num("fastDelayMs", 100)}, {"medium", in.num("mediumDelayMs", 1000)}, {"slow", in.num("slowDelayMs", 5000)}}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Racing 3 tasks: fast=%dms, medium=%dms, slow=%dms",
		configs[0].delay, configs[1].delay, configs[2].delay)}); err != nil {
		return nil, err
	}
	var tasks []*sdk.AgentTask
	for _, c := range configs {
		tasks = append(tasks, ctx.ScheduleTask("slow-task", map[string]any{"sleepMs": c.delay, "source": c.name}, sdk.AgentTaskOptions{}))
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "pre-race", "taskCount": len(tasks)}); err != nil {
		return nil, err
	}
	sel, err := ctx.SelectOkWithCancel(tasks...)
	if err != nil {
		return nil, err
	}
	winner := readInput(sel.Output).str("source", "unknown")
	index := 0
	for i, c := range configs {
		if c.name == winner {
			index = i
		}
	}
	cancelResults := []any{}
	for _, id := range sel.Cancelled {
		cancelResults = append(cancelResults, map[string]any{"taskId": id, "cancelled": true})
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Winner: %s (index %d), cancelled %d tasks", winner, index, len(cancelResults))}); err != nil {
		return nil, err
	}
	return map[string]any{"winnerIndex": index, "winner": winner, "result": sel.Output, "cancelResults": cancelResults}, nil
}

func (h *agentHarness) parallelWithFailuresAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	configs := readInput(raw).objects("tasks")
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Scheduling %d parallel tasks with potential failures", len(configs))}); err != nil {
		return nil, err
	}
	var tasks []*sdk.AgentTask
	for _, c := range configs {
		tasks = append(tasks, ctx.ScheduleTask("conditional-fail-task", c, sdk.AgentTaskOptions{}))
	}
	if err := ctx.Checkpoint(map[string]any{"phase": "pre-tasks", "taskCount": len(configs)}); err != nil {
		return nil, err
	}
	res, err := ctx.JoinAllSettled(tasks...)
	if err != nil {
		return nil, err
	}
	completed := []any{}
	for _, r := range res.Completed() {
		completed = append(completed, map[string]any{"taskId": r.TaskID, "output": r.Output})
	}
	failed := []any{}
	for i, r := range res.Failed() {
		index := i
		for j, c := range configs {
			if name := readInput(c).str("name", ""); name != "" && strings.Contains(r.Error, name) {
				index = j
				break
			}
		}
		failed = append(failed, map[string]any{"index": index, "taskId": r.TaskID, "error": r.Error})
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Completed: %d, Failed: %d", len(completed), len(failed))}); err != nil {
		return nil, err
	}
	return map[string]any{"totalTasks": len(configs), "completedCount": len(completed), "failedCount": len(failed),
		"completedResults": completed, "failedErrors": failed}, nil
}

func (h *agentHarness) batchSchedulingAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	// The Rust SDK's batch API schedules the same way (one ScheduleAgentTask
	// each, then one join); only the answer says which was used.
	out, err := h.parallelTasksAgent(ctx, raw)
	if m, ok := out.(map[string]any); ok {
		m["usedBatchApi"] = true
	}
	return out, err
}

func (h *agentHarness) cancelAndReplaceAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	slowDelay, fastDelay, wait := in.num("slowDelayMs", 10000), in.num("fastDelayMs", 100), in.num("waitBeforeCancelMs", 200)
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Starting slow task (%dms), will cancel after %dms", slowDelay, wait)}); err != nil {
		return nil, err
	}
	slow := ctx.ScheduleTask("slow-task", map[string]any{"sleepMs": slowDelay, "source": "slow-original"}, sdk.AgentTaskOptions{})
	if err := ctx.Checkpoint(map[string]any{"phase": "slow-task-scheduled", "taskId": slow.ID()}); err != nil {
		return nil, err
	}
	time.Sleep(time.Duration(wait) * time.Millisecond)
	cancelled, status, err := ctx.CancelTask(slow.ID())
	if err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Slow task cancel result: %v (status: %s)", cancelled, status)}); err != nil {
		return nil, err
	}
	fast := ctx.ScheduleTask("slow-task", map[string]any{"sleepMs": fastDelay, "source": "fast-replacement"}, sdk.AgentTaskOptions{})
	results, err := ctx.JoinAll(fast)
	if err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{"Replacement task completed successfully"}); err != nil {
		return nil, err
	}
	return map[string]any{"slowTaskCancelled": cancelled, "slowTaskStatus": status, "success": true, "replacementResult": results[0]}, nil
}

func (h *agentHarness) cancelIdempotencyAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	in := readInput(raw)
	n, delay := in.num("cancelCount", 3), in.num("taskDelayMs", 5000)
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Testing cancel idempotency: %d cancel attempts on task with %dms delay", n, delay)}); err != nil {
		return nil, err
	}
	task := ctx.ScheduleTask("slow-task", map[string]any{"sleepMs": delay, "source": "idempotency-test"}, sdk.AgentTaskOptions{})
	if err := ctx.Checkpoint(map[string]any{"phase": "task-scheduled", "taskId": task.ID()}); err != nil {
		return nil, err
	}
	results := []any{}
	firstSucceeded := false
	for i := range n {
		cancelled, status, err := ctx.CancelTask(task.ID())
		if err != nil {
			return nil, err
		}
		if cancelled && i == 0 {
			firstSucceeded = true
		}
		results = append(results, map[string]any{"attempt": i + 1, "cancelled": cancelled, "status": status})
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Cancel attempts complete: first succeeded = %v", firstSucceeded)}); err != nil {
		return nil, err
	}
	return map[string]any{"cancelCount": n, "firstCancelSucceeded": firstSucceeded, "success": true, "cancelResults": results}, nil
}

func (h *agentHarness) joinAllWithCancelledHandleAgent(ctx *sdk.AgentContext, raw json.RawMessage) (any, error) {
	useOutcomes := readInput(raw).flag("useOutcomes")
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Testing join_all with cancelled handle (useOutcomes: %v)", useOutcomes)}); err != nil {
		return nil, err
	}
	task1 := ctx.ScheduleTask("slow-task", map[string]any{"sleepMs": 5000, "source": "task1-to-cancel"}, sdk.AgentTaskOptions{})
	task2 := ctx.ScheduleTask("slow-task", map[string]any{"sleepMs": 100, "source": "task2-completes"}, sdk.AgentTaskOptions{})
	if err := ctx.Checkpoint(map[string]any{"phase": "tasks-scheduled"}); err != nil {
		return nil, err
	}
	cancelled, _, err := ctx.CancelTask(task1.ID())
	if err != nil {
		return nil, err
	}
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, text{fmt.Sprintf("Task1 cancelled: %v", cancelled)}); err != nil {
		return nil, err
	}
	if useOutcomes {
		res, err := ctx.JoinAllSettled(task1, task2)
		if err != nil {
			return nil, err
		}
		return map[string]any{"usedOutcomes": true, "completedCount": len(res.Completed()), "cancelledCount": len(res.Cancelled()),
			"failedCount": len(res.Failed()), "success": true}, nil
	}
	_, joinErr := ctx.JoinAll(task1, task2)
	out := map[string]any{"task1Cancelled": cancelled, "joinAllSucceeded": joinErr == nil, "success": true}
	if joinErr != nil {
		out["error"] = joinErr.Error()
	}
	return out, nil
}

func echoWorkflow(_ *sdk.WorkflowContext, in json.RawMessage) (any, error) { return in, nil }

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

// TestSDKAgents runs the Rust suite's scenarios, concurrently, against one
// server. Each runs as a subtest started on its own goroutine (not
// t.Parallel, whose limit is GOMAXPROCS: these scenarios mostly wait).
func TestSDKAgents(t *testing.T) {
	e := start(t)
	scenarios := []struct {
		name string
		run  func(t *testing.T, h *agentHarness)
	}{
		{"BasicExecution", sdkAgentBasicExecution},
		{"MultiTurnWithSignals", sdkAgentMultiTurnWithSignals},
		{"TaskScheduling", sdkAgentTaskScheduling},
		{"CheckpointPersistence", sdkAgentCheckpointPersistence},
		{"WorkerMetrics", sdkAgentWorkerMetrics},
		{"CombinedWorkerTypes", sdkAgentCombinedWorkerTypes},
		{"FailureHandling", sdkAgentFailureHandling},
		{"ConcurrentAgents", sdkAgentConcurrentAgents},
		{"MultipleWorkers", sdkAgentMultipleWorkers},
		{"RapidSignalDelivery", sdkAgentRapidSignalDelivery},
		{"ConcurrentAgentsWithTasks", sdkAgentConcurrentAgentsWithTasks},
		{"ClaimingRace", sdkAgentClaimingRace},
		{"ParallelTasksJoinAll", sdkAgentParallelTasksJoinAll},
		{"RacingTasksSelect", sdkAgentRacingTasksSelect},
		{"ParallelLargeBatch", sdkAgentParallelLargeBatch},
		{"ConcurrentAgentsParallelTasks", sdkAgentConcurrentAgentsParallelTasks},
		{"RacingTasksWithCancellation", sdkAgentRacingTasksWithCancellation},
		{"ParallelWithFailure", sdkAgentParallelWithFailure},
		{"CancelCompletedTask", sdkAgentCancelCompletedTask},
		{"ServerSideTaskTimeout", sdkAgentServerSideTaskTimeout},
		{"JoinAllSettledPartialCompletion", sdkAgentJoinAllSettledPartialCompletion},
		{"MixedParallelSequential", sdkAgentMixedParallelSequential},
		{"BatchAPIScheduling", sdkAgentBatchAPIScheduling},
		{"CancelAndReplace", sdkAgentCancelAndReplace},
		{"CancelIdempotency", sdkAgentCancelIdempotency},
		{"JoinAllWithCancelledHandle", sdkAgentJoinAllWithCancelledHandle},
		{"SelectOkSkipsFailures", sdkAgentSelectOkSkipsFailures},
		{"SelectOkAllFail", sdkAgentSelectOkAllFail},
	}
	var wg sync.WaitGroup
	for _, sc := range scenarios {
		wg.Go(func() {
			t.Run(sc.name, func(t *testing.T) { sc.run(t, newAgentHarness(t, e)) })
		})
	}
	wg.Wait()
}

func sdkAgentBasicExecution(t *testing.T, h *agentHarness) {
	// As in the Rust test, the worker polls already: the create answer
	// still says PENDING (create checks it).
	h.worker(func(w *sdk.Worker) { w.RegisterAgent("echo-agent", h.echoAgent) })
	a := h.create("echo-agent", map[string]any{"message": "Hello from E2E test"})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outStr(t, out, "response") != "Echo: Hello from E2E test" || outStr(t, out, "inputMessage") != "Hello from E2E test" {
		t.Fatalf("output: %v", out)
	}
	if n := len(h.checkpoints(a.ID)); n == 0 {
		t.Fatal("the agent created no checkpoint")
	}
}

func sdkAgentMultiTurnWithSignals(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) { w.RegisterAgent("multi-turn-agent", h.multiTurnAgent) })
	a := h.create("multi-turn-agent", map[string]any{"prompt": "What is the weather?"})
	if w := h.waitStatus(a.ID, "WAITING", "COMPLETED", "FAILED"); !strings.EqualFold(w.Status, "WAITING") {
		t.Fatalf("after the first turn the agent is %s, want WAITING", w.Status)
	}
	if len(h.checkpoints(a.ID)) == 0 {
		t.Fatal("no checkpoint before waiting")
	}
	signaled, resumed := h.signal(a.ID, "followUp", map[string]any{"message": "It's sunny today!"})
	if !signaled || !resumed {
		t.Fatalf("signal: signaled %v, agentResumed %v", signaled, resumed)
	}
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "turns") != 2 || outStr(t, out, "firstResponse") == "" || outStr(t, out, "followUpReceived") != "It's sunny today!" {
		t.Fatalf("output: %v", out)
	}
}

func sdkAgentTaskScheduling(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("task-scheduling-agent", h.taskSchedulingAgent)
		w.RegisterTask("echo-task", h.echoTask)
	})
	a := h.create("task-scheduling-agent", map[string]any{"taskKind": "echo-task", "taskInput": map[string]any{"message": "Task input from agent"}})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outStr(t, out, "taskKind") != "echo-task" || outStr(t, outObj(t, out, "taskResult"), "message") != "Task input from agent" {
		t.Fatalf("output: %v", out)
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 1 || tasks[0].Kind != "echo-task" || !strings.EqualFold(tasks[0].Status, "COMPLETED") {
		t.Fatalf("tasks: %+v", tasks)
	}
	if n := len(h.checkpoints(a.ID)); n < 2 {
		t.Fatalf("%d checkpoints, want at least 2", n)
	}
}

func sdkAgentCheckpointPersistence(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) { w.RegisterAgent("checkpoint-agent", h.checkpointAgent) })
	a := h.create("checkpoint-agent", map[string]any{"steps": 5})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "totalSteps") != 5 || len(outList(t, out, "completedSteps")) != 5 {
		t.Fatalf("output: %v", out)
	}
	if n := len(h.checkpoints(a.ID)); n < 5 {
		t.Fatalf("%d checkpoints, want at least 5", n)
	}
	// The state of the last checkpoint (REST lists checkpoints without it).
	cp, err := h.e.srv.Engine().LatestAgentCheckpoint(context.Background(), h.e.tenant.ID, mustUUID(t, a.ID))
	if err != nil || cp == nil || !jsonEq(cp.State, []byte(`{"completedStep":5,"progress":1}`)) {
		t.Fatalf("latest checkpoint: %+v %v", cp, err)
	}
}

func sdkAgentWorkerMetrics(t *testing.T, h *agentHarness) {
	// The Rust handle's agents_executed() is AgentMetrics().Executed here.
	w := h.worker(func(w *sdk.Worker) { w.RegisterAgent("echo-agent", h.echoAgent) })
	if m := w.AgentMetrics(); m.Executed != 0 {
		t.Fatalf("metrics before any agent: %+v", m)
	}
	a := h.create("echo-agent", map[string]any{"message": "test"})
	h.waitDone(a.ID, "COMPLETED")
	waitUntil(t, "the metrics count the agent", func() bool { return w.AgentMetrics().Executed >= 1 })
	if m := w.AgentMetrics(); m.Completed != 1 || m.Failed != 0 || m.Suspended != 0 {
		t.Fatalf("metrics: %+v", m)
	}
}

func sdkAgentCombinedWorkerTypes(t *testing.T, h *agentHarness) {
	w := h.worker(func(w *sdk.Worker) {
		w.RegisterWorkflow("echo-workflow", echoWorkflow)
		w.RegisterTask("echo-task", h.echoTask)
		w.RegisterTask("slow-task", h.slowTask)
		w.RegisterAgent("echo-agent", h.echoAgent)
		w.RegisterAgent("task-scheduling-agent", h.taskSchedulingAgent)
	})
	a := h.create("task-scheduling-agent", map[string]any{"taskKind": "echo-task", "taskInput": map[string]any{"message": "Combined test"}})
	h.waitDone(a.ID, "COMPLETED")
	// The same worker also runs workflows.
	c := workerClient(t, h)
	var out map[string]any
	id, err := c.StartWorkflow(ctxT(t), "echo-workflow", map[string]any{"k": 1}, sdk.StartOptions{Queue: h.q})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitForResult(ctxT(t), id, &out); err != nil || outNum(t, out, "k") != 1 {
		t.Fatalf("workflow: %v %v", out, err)
	}
	if m := w.AgentMetrics(); m.Completed < 1 {
		t.Fatalf("metrics: %+v", m)
	}
}

// workerClient dials a client for the scenario.
func workerClient(t *testing.T, h *agentHarness) *sdk.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: h.e.srv.GRPCAddr(), Token: h.e.key, OrgID: h.e.tenant.ID.String(),
		ResultPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sdkAgentFailureHandling(t *testing.T, h *agentHarness) {
	w := h.worker(func(w *sdk.Worker) { w.RegisterAgent("echo-agent", h.echoAgent) })
	unknown := h.create("non-existent-agent", map[string]any{"message": "test"})
	// Instead of the Rust test's 3 s pause: an agent of a known kind,
	// created after the unknown one, completes, so the worker's polls have
	// passed over the older unknown agent (claims go oldest first).
	known := h.create("echo-agent", map[string]any{"message": "after"})
	h.waitDone(known.ID, "COMPLETED")
	if a := h.get(unknown.ID); !strings.EqualFold(a.Status, "PENDING") && !strings.EqualFold(a.Status, "RUNNING") {
		t.Fatalf("the unknown agent is %s, want PENDING or RUNNING", a.Status)
	}
	if m := w.AgentMetrics(); m.Failed != 0 {
		t.Fatalf("metrics: %+v", m)
	}
}

func sdkAgentConcurrentAgents(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) { w.RegisterAgent("echo-agent", h.echoAgent) })
	var ids []string
	for i := range 5 {
		ids = append(ids, h.create("echo-agent", map[string]any{"message": fmt.Sprintf("Agent %d", i)}).ID)
	}
	for i, id := range ids {
		out := h.waitDone(id, "COMPLETED").out(t)
		if want := fmt.Sprintf("Echo: Agent %d", i); outStr(t, out, "response") != want {
			t.Fatalf("agent %d: response %v, want %q", i, out["response"], want)
		}
	}
}

func sdkAgentMultipleWorkers(t *testing.T, h *agentHarness) {
	w1 := h.worker(func(w *sdk.Worker) { w.RegisterAgent("echo-agent", h.echoAgent) })
	w2 := h.worker(func(w *sdk.Worker) { w.RegisterAgent("echo-agent", h.echoAgent) })
	var ids []string
	for i := range 6 {
		ids = append(ids, h.create("echo-agent", map[string]any{"message": fmt.Sprintf("Multi-worker agent %d", i)}).ID)
	}
	for _, id := range ids {
		h.waitDone(id, "COMPLETED")
	}
	// Each agent ran exactly once, on one of the two workers.
	waitUntil(t, "the workers count 6 agents", func() bool {
		return w1.AgentMetrics().Completed+w2.AgentMetrics().Completed == 6
	})
	if n := h.executions("echo-agent"); n != 6 {
		t.Fatalf("%d executions of 6 agents", n)
	}
}

func sdkAgentRapidSignalDelivery(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) { w.RegisterAgent("multi-turn-agent", h.multiTurnAgent) })
	a := h.create("multi-turn-agent", map[string]any{"prompt": "Start conversation"})
	if w := h.waitStatus(a.ID, "WAITING", "COMPLETED", "FAILED"); !strings.EqualFold(w.Status, "WAITING") {
		t.Fatalf("agent is %s, want WAITING", w.Status)
	}
	if signaled, _ := h.signal(a.ID, "followUp", map[string]any{"message": "Signal received"}); !signaled {
		t.Fatal("signal not created")
	}
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outStr(t, out, "followUpReceived") != "Signal received" {
		t.Fatalf("output: %v", out)
	}
}

func sdkAgentConcurrentAgentsWithTasks(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("task-scheduling-agent", h.taskSchedulingAgent)
		w.RegisterTask("echo-task", h.echoTask)
	})
	var ids []string
	for i := range 3 {
		ids = append(ids, h.create("task-scheduling-agent", map[string]any{"taskKind": "echo-task",
			"taskInput": map[string]any{"message": fmt.Sprintf("Task from agent %d", i)}}).ID)
	}
	for i, id := range ids {
		out := h.waitDone(id, "COMPLETED").out(t)
		if want := fmt.Sprintf("Task from agent %d", i); outStr(t, outObj(t, out, "taskResult"), "message") != want {
			t.Fatalf("agent %d got another's result: %v", i, out)
		}
		tasks := h.tasks(id)
		if len(tasks) != 1 || tasks[0].Kind != "echo-task" || !strings.EqualFold(tasks[0].Status, "COMPLETED") {
			t.Fatalf("agent %d tasks: %+v", i, tasks)
		}
	}
}

func sdkAgentClaimingRace(t *testing.T, h *agentHarness) {
	for range 3 {
		h.worker(func(w *sdk.Worker) { w.RegisterAgent("echo-agent", h.echoAgent) })
	}
	a := h.create("echo-agent", map[string]any{"message": "Race test"})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outStr(t, out, "response") != "Echo: Race test" {
		t.Fatalf("output: %v", out)
	}
	if n := h.executions("echo-agent"); n != 1 {
		t.Fatalf("the agent ran %d times, want once", n)
	}
}

func sdkAgentParallelTasksJoinAll(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("parallel-tasks-agent", h.parallelTasksAgent)
		w.RegisterTask("echo-task", h.echoTask)
	})
	a := h.create("parallel-tasks-agent", map[string]any{"items": []string{"alpha", "beta", "gamma"}, "taskKind": "echo-task"})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	results := outList(t, out, "results")
	if outNum(t, out, "itemCount") != 3 || len(results) != 3 {
		t.Fatalf("output: %v", out)
	}
	for i, want := range []string{"alpha", "beta", "gamma"} { // in scheduling order
		if r, _ := results[i].(map[string]any); r["message"] != want {
			t.Fatalf("result %d: %v, want %s", i, results[i], want)
		}
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 3 || statusCount(tasks, "COMPLETED") != 3 {
		t.Fatalf("tasks: %+v", tasks)
	}
	if n := len(h.checkpoints(a.ID)); n < 2 {
		t.Fatalf("%d checkpoints, want at least 2", n)
	}
}

func sdkAgentRacingTasksSelect(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("racing-tasks-agent", h.racingTasksAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a := h.create("racing-tasks-agent", map[string]any{"primaryDelayMs": 5000, "fallbackDelayMs": 100})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "winnerIndex") != 0 || outStr(t, out, "winner") != "fallback" || outStr(t, outObj(t, out, "result"), "source") != "fallback" {
		t.Fatalf("output: %v", out)
	}
}

func sdkAgentParallelLargeBatch(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("parallel-tasks-agent", h.parallelTasksAgent)
		w.RegisterTask("echo-task", h.echoTask)
	})
	var items []string
	for i := range 10 {
		items = append(items, fmt.Sprintf("item-%d", i))
	}
	a := h.create("parallel-tasks-agent", map[string]any{"items": items, "taskKind": "echo-task"})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "itemCount") != 10 || len(outList(t, out, "results")) != 10 {
		t.Fatalf("output: %v", out)
	}
	if tasks := h.tasks(a.ID); len(tasks) != 10 {
		t.Fatalf("%d tasks, want 10", len(tasks))
	}
}

func sdkAgentConcurrentAgentsParallelTasks(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("parallel-tasks-agent", h.parallelTasksAgent)
		w.RegisterTask("echo-task", h.echoTask)
	})
	var ids []string
	for i := range 3 {
		var items []string
		for j := range 3 {
			items = append(items, fmt.Sprintf("agent%d-item%d", i, j))
		}
		ids = append(ids, h.create("parallel-tasks-agent", map[string]any{"items": items, "taskKind": "echo-task"}).ID)
	}
	for i, id := range ids {
		out := h.waitDone(id, "COMPLETED").out(t)
		if outNum(t, out, "itemCount") != 3 {
			t.Fatalf("agent %d output: %v", i, out)
		}
		for j, r := range outList(t, out, "results") {
			if m, _ := r.(map[string]any); m["message"] != fmt.Sprintf("agent%d-item%d", i, j) {
				t.Fatalf("agent %d result %d is %v", i, j, r)
			}
		}
		if tasks := h.tasks(id); len(tasks) != 3 {
			t.Fatalf("agent %d has %d tasks, want 3", i, len(tasks))
		}
	}
}

func sdkAgentRacingTasksWithCancellation(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("racing-tasks-with-cancel-agent", h.racingTasksWithCancelAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a := h.create("racing-tasks-with-cancel-agent", map[string]any{"fastDelayMs": 100, "mediumDelayMs": 3000, "slowDelayMs": 10000})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "winnerIndex") != 0 || outStr(t, out, "winner") != "fast" || outStr(t, outObj(t, out, "result"), "source") != "fast" {
		t.Fatalf("output: %v", out)
	}
	if n := len(outList(t, out, "cancelResults")); n != 2 {
		t.Fatalf("%d cancellations, want 2: %v", n, out)
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 3 || statusCount(tasks, "COMPLETED") < 1 {
		t.Fatalf("tasks: %+v", tasks)
	}
	// Both losers were still running, so both are CANCELLED, and the
	// results their worker reports later change nothing.
	if statusCount(tasks, "CANCELLED") != 2 {
		t.Fatalf("tasks: %+v", tasks)
	}
}

func sdkAgentParallelWithFailure(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("parallel-with-failures-agent", h.parallelWithFailuresAgent)
		w.RegisterTask("conditional-fail-task", h.conditionalFailTask)
	})
	a := h.create("parallel-with-failures-agent", map[string]any{"tasks": []any{
		map[string]any{"name": "task-a", "shouldFail": false},
		map[string]any{"name": "task-b", "shouldFail": true},
		map[string]any{"name": "task-c", "shouldFail": false},
	}})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "totalTasks") != 3 || outNum(t, out, "completedCount") != 2 || outNum(t, out, "failedCount") != 1 ||
		len(outList(t, out, "completedResults")) != 2 {
		t.Fatalf("output: %v", out)
	}
	failed := outList(t, out, "failedErrors")
	if len(failed) != 1 {
		t.Fatalf("failed: %v", failed)
	}
	if f, _ := failed[0].(map[string]any); f["index"] != float64(1) {
		t.Fatalf("the failed task is %v, want index 1", failed[0])
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 3 || statusCount(tasks, "COMPLETED") != 2 || statusCount(tasks, "FAILED") != 1 {
		t.Fatalf("tasks: %+v", tasks)
	}
}

func sdkAgentCancelCompletedTask(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("racing-tasks-with-cancel-agent", h.racingTasksWithCancelAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a := h.create("racing-tasks-with-cancel-agent", map[string]any{"fastDelayMs": 50, "mediumDelayMs": 100, "slowDelayMs": 150})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "winnerIndex") != 0 {
		t.Fatalf("output: %v", out)
	}
	results := outList(t, out, "cancelResults")
	if len(results) > 2 {
		t.Fatalf("%d cancellations, want at most 2", len(results))
	}
	for _, r := range results {
		if m, _ := r.(map[string]any); m["cancelled"] != true || m["taskId"] == nil {
			t.Fatalf("cancel result %v", r)
		}
	}
}

func sdkAgentServerSideTaskTimeout(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("timeout-tasks-agent", h.timeoutTasksAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a := h.create("timeout-tasks-agent", map[string]any{"taskCount": 3, "taskDelayMs": 5000, "timeoutMs": 1000})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "totalTasks") != 3 || !outBool(t, out, "timedOut") || outNum(t, out, "completedCount") != 0 ||
		outNum(t, out, "timedOutCount") != 3 {
		t.Fatalf("output: %v", out)
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 3 || statusCount(tasks, "FAILED") != 3 || statusCount(tasks, "COMPLETED") != 0 {
		t.Fatalf("tasks: %+v", tasks)
	}
}

func sdkAgentJoinAllSettledPartialCompletion(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("timeout-tasks-agent", h.timeoutTasksAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a := h.create("timeout-tasks-agent", map[string]any{"taskCount": 3, "taskDelayMs": 100, "timeoutMs": 5000})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "totalTasks") != 3 || outNum(t, out, "completedCount") != 3 || outNum(t, out, "failedCount") != 0 ||
		outNum(t, out, "timedOutCount") != 0 || outBool(t, out, "timedOut") || !outBool(t, out, "succeeded") {
		t.Fatalf("output: %v", out)
	}
}

func sdkAgentMixedParallelSequential(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("mixed-parallel-sequential-agent", h.mixedParallelSequentialAgent)
		w.RegisterTask("echo-task", h.echoTask)
	})
	a := h.create("mixed-parallel-sequential-agent", map[string]any{})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "totalTasks") != 6 || outNum(t, out, "phases") != 3 || !outBool(t, out, "success") ||
		len(outList(t, out, "phase1")) != 2 || outStr(t, outObj(t, out, "phase2"), "message") != "phase2-sequential" ||
		len(outList(t, out, "phase3")) != 3 {
		t.Fatalf("output: %v", out)
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 6 || statusCount(tasks, "COMPLETED") != 6 {
		t.Fatalf("tasks: %+v", tasks)
	}
	if n := len(h.checkpoints(a.ID)); n < 3 {
		t.Fatalf("%d checkpoints, want at least 3", n)
	}
}

func sdkAgentBatchAPIScheduling(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("batch-scheduling-agent", h.batchSchedulingAgent)
		w.RegisterTask("echo-task", h.echoTask)
	})
	a := h.create("batch-scheduling-agent", map[string]any{"items": []string{"alpha", "beta", "gamma", "delta", "epsilon"}, "taskKind": "echo-task"})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "itemCount") != 5 || !outBool(t, out, "usedBatchApi") || len(outList(t, out, "results")) != 5 {
		t.Fatalf("output: %v", out)
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 5 || statusCount(tasks, "COMPLETED") != 5 {
		t.Fatalf("tasks: %+v", tasks)
	}
}

func sdkAgentCancelAndReplace(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("cancel-and-replace-agent", h.cancelAndReplaceAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a := h.create("cancel-and-replace-agent", map[string]any{"slowDelayMs": 10000, "fastDelayMs": 100, "waitBeforeCancelMs": 200})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if !outBool(t, out, "success") || outStr(t, outObj(t, out, "replacementResult"), "source") != "fast-replacement" {
		t.Fatalf("output: %v", out)
	}
	// The agent ran twice (it suspended for the replacement): the second run's
	// cancel found the task already cancelled.
	if outStr(t, out, "slowTaskStatus") != "CANCELLED" {
		t.Fatalf("output: %v", out)
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 2 || statusCount(tasks, "COMPLETED") < 1 ||
		statusCount(tasks, "CANCELLED")+statusCount(tasks, "COMPLETED")+statusCount(tasks, "RUNNING") != 2 {
		t.Fatalf("tasks: %+v", tasks)
	}
}

func sdkAgentCancelIdempotency(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("cancel-idempotency-agent", h.cancelIdempotencyAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a := h.create("cancel-idempotency-agent", map[string]any{"cancelCount": 3, "taskDelayMs": 5000})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if outNum(t, out, "cancelCount") != 3 || !outBool(t, out, "firstCancelSucceeded") || !outBool(t, out, "success") {
		t.Fatalf("output: %v", out)
	}
	results := outList(t, out, "cancelResults")
	if len(results) != 3 {
		t.Fatalf("cancel results: %v", results)
	}
	for i, r := range results {
		m, _ := r.(map[string]any)
		if m["cancelled"] != (i == 0) || m["status"] != "CANCELLED" {
			t.Fatalf("cancel attempt %d: %v", i+1, r)
		}
	}
	tasks := h.tasks(a.ID)
	if len(tasks) != 1 || !strings.EqualFold(tasks[0].Status, "CANCELLED") {
		t.Fatalf("tasks: %+v", tasks)
	}
}

func sdkAgentJoinAllWithCancelledHandle(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("join-all-cancelled-handle-agent", h.joinAllWithCancelledHandleAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	a1 := h.create("join-all-cancelled-handle-agent", map[string]any{"useOutcomes": false})
	out1 := h.waitDone(a1.ID, "COMPLETED").out(t)
	if !outBool(t, out1, "task1Cancelled") || outBool(t, out1, "joinAllSucceeded") || !outBool(t, out1, "success") ||
		!strings.Contains(outStr(t, out1, "error"), "was cancelled") {
		t.Fatalf("join_all: %v", out1)
	}
	a2 := h.create("join-all-cancelled-handle-agent", map[string]any{"useOutcomes": true})
	out2 := h.waitDone(a2.ID, "COMPLETED").out(t)
	if !outBool(t, out2, "usedOutcomes") || outNum(t, out2, "completedCount") != 1 || outNum(t, out2, "cancelledCount") != 1 ||
		!outBool(t, out2, "success") {
		t.Fatalf("join_all_settled: %v", out2)
	}
}

func sdkAgentSelectOkSkipsFailures(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("select-ok-agent", h.selectOkAgent)
		w.RegisterTask("conditional-fail-task", h.conditionalFailTask)
	})
	a := h.create("select-ok-agent", map[string]any{"tasks": []any{
		map[string]any{"shouldFail": true, "delayMs": 100},
		map[string]any{"shouldFail": true, "delayMs": 200},
		map[string]any{"shouldFail": false, "delayMs": 300},
	}})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	if !outBool(t, outObj(t, out, "result"), "success") {
		t.Fatalf("output: %v", out)
	}
	outNum(t, out, "remainingTasks")
	tasks := h.tasks(a.ID)
	if len(tasks) != 3 || statusCount(tasks, "COMPLETED") < 1 {
		t.Fatalf("tasks: %+v", tasks)
	}
}

func sdkAgentSelectOkAllFail(t *testing.T, h *agentHarness) {
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("select-ok-agent", h.selectOkAgent)
		w.RegisterTask("conditional-fail-task", h.conditionalFailTask)
	})
	a := h.create("select-ok-agent", map[string]any{"tasks": []any{
		map[string]any{"shouldFail": true, "delayMs": 100},
		map[string]any{"shouldFail": true, "delayMs": 200},
		map[string]any{"shouldFail": true, "delayMs": 300},
	}})
	failed := h.waitDone(a.ID, "FAILED")
	msg := strings.ToLower(deref(failed.Error))
	if failed.Error == nil || (!strings.Contains(msg, "all") && !strings.Contains(msg, "fail")) {
		t.Fatalf("error %q should say all tasks failed", deref(failed.Error))
	}
}

// ---------------------------------------------------------------------------
// Timing budgets (each alone, on a server of its own)
// ---------------------------------------------------------------------------

// TestSDKAgentConcurrentTaskExecution: five 1 s tasks joined by one agent
// take well under the 5 s they would take one after the other.
func TestSDKAgentConcurrentTaskExecution(t *testing.T) {
	h := newAgentHarness(t, start(t))
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("parallel-tasks-agent", h.parallelTasksAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	began := time.Now()
	a := h.create("parallel-tasks-agent", map[string]any{"items": []string{"task-1", "task-2", "task-3", "task-4", "task-5"}, "taskKind": "slow-task"})
	out := h.waitDone(a.ID, "COMPLETED").out(t)
	elapsed := time.Since(began)
	if outNum(t, out, "itemCount") != 5 {
		t.Fatalf("output: %v", out)
	}
	if elapsed >= 4*time.Second {
		t.Fatalf("5 × 1000 ms tasks took %v, want < 4 s (they must run concurrently)", elapsed)
	}
	t.Logf("5 × 1000 ms tasks in %v", elapsed)
}

// TestSDKAgentConcurrentAgentExecutionTiming: three agents with a 500 ms
// task each run concurrently.
func TestSDKAgentConcurrentAgentExecutionTiming(t *testing.T) {
	h := newAgentHarness(t, start(t))
	h.worker(func(w *sdk.Worker) {
		w.RegisterAgent("task-scheduling-agent", h.taskSchedulingAgent)
		w.RegisterTask("slow-task", h.slowTask)
	})
	began := time.Now()
	var ids []string
	for i := 1; i <= 3; i++ {
		ids = append(ids, h.create("task-scheduling-agent", map[string]any{"taskKind": "slow-task",
			"taskInput": map[string]any{"sleepMs": 500, "source": fmt.Sprintf("agent-%d", i)}}).ID)
	}
	for _, id := range ids {
		h.waitDone(id, "COMPLETED")
	}
	elapsed := time.Since(began)
	if elapsed >= 3*time.Second {
		t.Fatalf("3 agents with a 500 ms task took %v, want < 3 s", elapsed)
	}
	t.Logf("3 agents in %v", elapsed)
}
