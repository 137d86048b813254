package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/flovyn/flovyn/client"
)

// fakeAPI is the TUI's seam in model tests: an in-memory tenant that lists
// with cursors as the server does (newest first, then id) and records the
// calls it gets.
type fakeAPI struct {
	mu       sync.Mutex
	execs    []client.Execution // any order; listed in the server's order
	events   map[string][]client.Event
	tasks    map[string][]client.Task
	children map[string][]client.Child
	err      error // when set, every call fails with it

	agents      []client.AgentExecution // any order; listed newest first
	entries     map[string][]client.AgentEntry
	checkpoints map[string][]client.AgentCheckpoint
	agentTasks  map[string][]client.AgentTask

	agentLists   []client.ListAgentsOptions
	agentGets    []string
	entriesN     int      // AgentEntries calls
	agentCancels []string // "id|reason"
	agentSignals []string // "id|name|value"
	agentStarts  []client.StartAgentRequest

	lists    []client.ListWorkflowsOptions
	gets     []string
	eventsN  int      // WorkflowEvents calls
	cancels  []string // "id|reason"
	signals  []string // "id|name|value"
	resolves []string // "promiseId|value"
	rejects  []string // "promiseId|error"
	starts   []client.StartWorkflowRequest
}

var _ API = (*fakeAPI)(nil)

func newFakeAPI(execs ...client.Execution) *fakeAPI {
	return &fakeAPI{execs: execs, events: map[string][]client.Event{}, tasks: map[string][]client.Task{}, children: map[string][]client.Child{},
		entries: map[string][]client.AgentEntry{}, checkpoints: map[string][]client.AgentCheckpoint{}, agentTasks: map[string][]client.AgentTask{}}
}

func (f *fakeAPI) fail() error {
	return f.err
}

func fakeCursor(e client.Execution) string {
	return fmt.Sprintf("%d|%s", e.CreatedAt.UnixNano(), e.ID)
}

func (f *fakeAPI) ListWorkflows(_ context.Context, o client.ListWorkflowsOptions) (client.ExecutionList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, o)
	if err := f.fail(); err != nil {
		return client.ExecutionList{}, err
	}
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.Limit > 500 {
		return client.ExecutionList{}, &client.Error{Status: 400, Title: "Bad Request", Detail: "limit above 500"}
	}
	all := slices.Clone(f.execs)
	slices.SortFunc(all, func(a, b client.Execution) int { return keyOf(a).compare(keyOf(b)) })
	var after *rowKey
	if o.Cursor != "" {
		ns, id, ok := strings.Cut(o.Cursor, "|")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			return client.ExecutionList{}, &client.Error{Status: 400, Title: "Bad Request", Detail: "not a cursor"}
		}
		after = &rowKey{time.Unix(0, n), id}
	}
	var out client.ExecutionList
	for _, e := range all {
		if after != nil && keyOf(e).compare(*after) <= 0 {
			continue
		}
		if len(o.Statuses) > 0 && !slices.Contains(o.Statuses, e.Status) {
			continue
		}
		if o.Kind != "" && e.Kind != o.Kind {
			continue
		}
		if len(out.Items) == o.Limit {
			c := fakeCursor(out.Items[len(out.Items)-1])
			out.NextCursor = &c
			break
		}
		out.Items = append(out.Items, e)
	}
	return out, nil
}

func (f *fakeAPI) find(id string) (client.Execution, error) {
	for _, e := range f.execs {
		if e.ID == id {
			return e, nil
		}
	}
	return client.Execution{}, &client.Error{Status: 404, Title: "Not Found", Detail: "workflow execution " + id + " not found"}
}

func (f *fakeAPI) GetWorkflow(_ context.Context, id string) (client.Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, id)
	if err := f.fail(); err != nil {
		return client.Execution{}, err
	}
	return f.find(id)
}

func (f *fakeAPI) WorkflowEvents(_ context.Context, id string, since int32) ([]client.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eventsN++
	if err := f.fail(); err != nil {
		return nil, err
	}
	var out []client.Event
	for _, e := range f.events[id] {
		if e.Sequence > since {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeAPI) WorkflowTasks(_ context.Context, id string) ([]client.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tasks[id], f.fail()
}

func (f *fakeAPI) WorkflowChildren(_ context.Context, id string) ([]client.Child, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.children[id], f.fail()
}

func (f *fakeAPI) StartWorkflow(_ context.Context, r client.StartWorkflowRequest) (client.StartedWorkflow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, r)
	if err := f.fail(); err != nil {
		return client.StartedWorkflow{}, err
	}
	id := fmt.Sprintf("5a7e0000-0000-4000-8000-%012d", len(f.starts))
	e := client.Execution{ID: id, Kind: r.Kind, Status: client.StatusPending, Queue: r.Queue, CreatedAt: fixedNow, Input: r.Input}
	f.execs = append(f.execs, e)
	return client.StartedWorkflow{WorkflowExecutionID: id, Execution: e}, nil
}

func (f *fakeAPI) CancelWorkflow(_ context.Context, id, reason string) (client.Cancellation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id+"|"+reason)
	if err := f.fail(); err != nil {
		return client.Cancellation{}, err
	}
	if _, err := f.find(id); err != nil {
		return client.Cancellation{}, err
	}
	return client.Cancellation{WorkflowExecutionID: id, Status: "CANCELLED", WorkflowStatus: "CANCELLED"}, nil
}

func (f *fakeAPI) SignalWorkflow(_ context.Context, id, name string, value json.RawMessage) (client.Signalled, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, id+"|"+name+"|"+string(value))
	if err := f.fail(); err != nil {
		return client.Signalled{}, err
	}
	return client.Signalled{SignalEventSequence: 9}, nil
}

func (f *fakeAPI) ResolvePromise(_ context.Context, id string, value json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolves = append(f.resolves, id+"|"+string(value))
	return f.fail()
}

func (f *fakeAPI) RejectPromise(_ context.Context, id, message string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejects = append(f.rejects, id+"|"+message)
	return f.fail()
}

func (f *fakeAPI) ListAgents(_ context.Context, o client.ListAgentsOptions) (client.AgentExecutionList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.agentLists = append(f.agentLists, o)
	if err := f.fail(); err != nil {
		return client.AgentExecutionList{}, err
	}
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.Limit > 500 {
		return client.AgentExecutionList{}, &client.Error{Status: 400, Title: "Bad Request", Detail: "limit above 500"}
	}
	all := slices.Clone(f.agents)
	slices.SortFunc(all, func(a, b client.AgentExecution) int {
		return rowKey{a.CreatedAt, a.ID}.compare(rowKey{b.CreatedAt, b.ID})
	})
	out := client.AgentExecutionList{Items: []client.AgentExecution{}}
	for _, a := range all {
		if (len(o.Statuses) > 0 && !slices.Contains(o.Statuses, a.Status)) || (o.Kind != "" && a.Kind != o.Kind) {
			continue
		}
		if len(out.Items) == o.Limit {
			break
		}
		a.Input, a.Output, a.Metadata = nil, nil, nil // lists carry no payloads
		out.Items = append(out.Items, a)
	}
	return out, nil
}

func (f *fakeAPI) findAgent(id string) (client.AgentExecution, error) {
	for _, a := range f.agents {
		if a.ID == id {
			return a, nil
		}
	}
	return client.AgentExecution{}, &client.Error{Status: 404, Title: "Not Found", Detail: "agent execution " + id + " not found"}
}

func (f *fakeAPI) GetAgent(_ context.Context, id string) (client.AgentExecution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.agentGets = append(f.agentGets, id)
	if err := f.fail(); err != nil {
		return client.AgentExecution{}, err
	}
	return f.findAgent(id)
}

func (f *fakeAPI) AgentEntries(_ context.Context, id string) ([]client.AgentEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entriesN++
	return slices.Clone(f.entries[id]), f.fail()
}

func (f *fakeAPI) AgentCheckpoints(_ context.Context, id string) ([]client.AgentCheckpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.checkpoints[id]), f.fail()
}

func (f *fakeAPI) AgentTasks(_ context.Context, id string) ([]client.AgentTask, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.agentTasks[id]), f.fail()
}

func (f *fakeAPI) StartAgent(_ context.Context, r client.StartAgentRequest) (client.AgentExecution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.agentStarts = append(f.agentStarts, r)
	if err := f.fail(); err != nil {
		return client.AgentExecution{}, err
	}
	queue := r.Queue
	if queue == "" {
		queue = "default"
	}
	a := client.AgentExecution{ID: fmt.Sprintf("a9e70000-0000-4000-8000-%012d", len(f.agentStarts)), Kind: r.Kind, Status: client.StatusPending,
		Queue: queue, CurrentCheckpointSeq: -1, CreatedAt: fixedNow, UpdatedAt: fixedNow, Input: r.Input}
	f.agents = append(f.agents, a)
	return a, nil
}

func (f *fakeAPI) CancelAgent(_ context.Context, id, reason string) (client.AgentCancellation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.agentCancels = append(f.agentCancels, id+"|"+reason)
	if err := f.fail(); err != nil {
		return client.AgentCancellation{}, err
	}
	for i := range f.agents {
		if a := &f.agents[i]; a.ID == id {
			if client.Terminal(a.Status) {
				return client.AgentCancellation{AgentExecutionID: id, Status: "ALREADY_TERMINAL", AgentStatus: a.Status}, nil
			}
			a.Status, a.CompletedAt, a.UpdatedAt, a.WaitingFor, a.WaitReason = client.StatusCancelled, ptr(fixedNow), fixedNow, nil, nil
			return client.AgentCancellation{AgentExecutionID: id, Status: "CANCELLED", AgentStatus: client.StatusCancelled}, nil
		}
	}
	_, err := f.findAgent(id)
	return client.AgentCancellation{}, err
}

func (f *fakeAPI) SignalAgent(_ context.Context, id, name string, value json.RawMessage) (client.AgentSignalled, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.agentSignals = append(f.agentSignals, id+"|"+name+"|"+string(value))
	if err := f.fail(); err != nil {
		return client.AgentSignalled{}, err
	}
	a, err := f.findAgent(id)
	if err != nil {
		return client.AgentSignalled{}, err
	}
	if client.Terminal(a.Status) {
		return client.AgentSignalled{}, &client.Error{Status: 409, Title: "Conflict", Detail: "agent execution " + id + " has already ended; the signal was not delivered"}
	}
	resumed := a.Status == client.StatusWaiting && a.WaitingFor != nil && *a.WaitingFor == "signal"
	return client.AgentSignalled{Signaled: true, AgentResumed: resumed, SignalID: "5e6a1000-0000-4000-8000-000000000001"}, nil
}

// ---- driving the model ----

// fixedNow is the clock of model tests.
var fixedNow = time.Date(2026, 3, 10, 14, 30, 0, 0, time.Local)

// harness drives a Model as the bubbletea runtime would, synchronously: each
// message goes through Update and the commands it returns run at once, their
// messages fed back in. The live tick is off; tests send tickMsg.
type harness struct {
	t    *testing.T
	m    Model
	api  *fakeAPI
	quit bool
}

func newHarness(t *testing.T, api *fakeAPI, w, h int) *harness {
	t.Helper()
	m := New(context.Background(), api, Options{Server: "http://127.0.0.1:8000", Tenant: "acme", Interval: -1, Now: func() time.Time { return fixedNow }})
	hs := &harness{t: t, m: m, api: api}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	return hs
}

func (h *harness) send(msgs ...tea.Msg) {
	h.t.Helper()
	for _, msg := range msgs {
		if _, ok := msg.(tea.QuitMsg); ok {
			h.quit = true
			continue
		}
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				h.run(c)
			}
			continue
		}
		next, cmd := h.m.Update(msg)
		h.m = next.(Model)
		h.run(cmd)
	}
}

func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	if cmd == nil {
		return
	}
	if msg := cmd(); msg != nil {
		h.send(msg)
	}
}

// press sends key presses by name ("j", "enter", "ctrl+c", "shift+tab").
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

// typeText types text into whatever has the focus.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

var namedKeys = map[string]tea.KeyType{
	"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
	"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
	"backspace": tea.KeyBackspace, "ctrl+c": tea.KeyCtrlC, "ctrl+d": tea.KeyCtrlD, "ctrl+u": tea.KeyCtrlU,
	"pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp, "home": tea.KeyHome, "end": tea.KeyEnd, "space": tea.KeySpace,
}

func keyMsg(k string) tea.KeyMsg {
	if t, ok := namedKeys[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// view is the screen as plain text.
func (h *harness) view() string { return ansi.Strip(h.m.View()) }

// contains fails unless the screen shows each of want.
func (h *harness) contains(want ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range want {
		if !strings.Contains(v, w) {
			h.t.Fatalf("screen lacks %q:\n%s", w, v)
		}
	}
}

func (h *harness) lacks(unwanted ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range unwanted {
		if strings.Contains(v, w) {
			h.t.Fatalf("screen shows %q:\n%s", w, v)
		}
	}
}

// checkFrame fails unless the screen is exactly w×h cells at most.
func checkFrame(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Fatalf("screen has %d lines, want %d:\n%s", len(lines), h, view)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Fatalf("line %d is %d cells wide, more than %d: %q", i, n, w, l)
		}
	}
}

var errDown = &client.ConnectError{Server: "http://127.0.0.1:8000", Err: errors.New("dial tcp 127.0.0.1:8000: connect: connection refused")}

// ---- sample data ----

func at(d time.Duration) time.Time { return fixedNow.Add(d) }

func ptr[T any](v T) *T { return &v }

func event(seq int32, t time.Time, typ, data string) client.Event {
	return client.Event{Sequence: seq, SequenceNumber: seq, EventType: typ, Timestamp: t, CreatedAt: t, Data: json.RawMessage(data)}
}

// Ids of the sample tenant.
const (
	idOrder   = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	idGreet   = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	idApprove = "a1b2c3d4-e5f6-4789-abcd-ef0123456789"
	idFail    = "f00dbabe-0000-4000-8000-000000000001"
	idCharge  = "c4a96e1d-2b3f-4d5e-8f60-718293a4b5c6"
	idPending = "0b5f4e2d-9c8a-4b7d-a6e5-f4d3c2b1a098"
	idCancel  = "d3adb33f-1111-4222-8333-444455556666"
	promiseID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
)

// sampleAPI is a small tenant with one execution of each status; the
// order-fulfilment one has tasks, a timer, a child, a promise and waits.
func sampleAPI() *fakeAPI {
	f := newFakeAPI(
		client.Execution{ID: idPending, Kind: "send-newsletter", Status: client.StatusPending, Queue: "batch", CreatedAt: at(-2 * time.Second)},
		client.Execution{ID: idOrder, Kind: "order-fulfilment", Status: client.StatusWaiting, Queue: "default", CreatedAt: at(-42 * time.Second),
			StartedAt: ptr(at(-42 * time.Second)), CurrentSequence: 16, Input: json.RawMessage(`{"orderId":42,"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"customer":{"name":"Ada Lovelace","email":"ada@example.com"}}`),
			Metadata: map[string]string{"env": "prod", "region": "eu"}},
		client.Execution{ID: idCharge, Kind: "charge-card", Status: client.StatusCompleted, Queue: "default", CreatedAt: at(-40 * time.Second),
			StartedAt: ptr(at(-40 * time.Second)), CompletedAt: ptr(at(-31 * time.Second)), ParentID: ptr(idOrder), ChildExecutionName: ptr("charge"),
			Input: json.RawMessage(`{"amount":129.5}`), Output: json.RawMessage(`{"receipt":"r-7781"}`)},
		client.Execution{ID: idApprove, Kind: "expense-approval", Status: client.StatusWaiting, Queue: "default", CreatedAt: at(-3 * time.Minute),
			StartedAt: ptr(at(-3 * time.Minute)), CurrentSequence: 3},
		client.Execution{ID: idGreet, Kind: "greet", Status: client.StatusCompleted, Queue: "default", CreatedAt: at(-5 * time.Minute),
			StartedAt: ptr(at(-5 * time.Minute)), CompletedAt: ptr(at(-5*time.Minute + 180*time.Millisecond)),
			Input: json.RawMessage(`{"name":"ada"}`), Output: json.RawMessage(`{"greeting":"Hello, ADA"}`)},
		client.Execution{ID: idFail, Kind: "import-csv", Status: client.StatusFailed, Queue: "batch", CreatedAt: at(-12 * time.Minute),
			StartedAt: ptr(at(-12 * time.Minute)), CompletedAt: ptr(at(-11 * time.Minute)), Error: ptr("task parse-rows failed after 3 attempts: line 17: unexpected EOF")},
		client.Execution{ID: idCancel, Kind: "nightly-report", Status: client.StatusCancelled, Queue: "reports", CreatedAt: at(-26 * time.Hour),
			StartedAt: ptr(at(-26 * time.Hour)), CompletedAt: ptr(at(-26*time.Hour + 3*time.Minute))},
	)
	o := at(-42 * time.Second)
	s := func(d time.Duration) time.Time { return o.Add(d) }
	f.events[idOrder] = []client.Event{
		event(1, s(0), "WORKFLOW_STARTED", `{"workflowKind":"order-fulfilment","queue":"default","input":{"orderId":42}}`),
		event(2, s(30*time.Millisecond), "TASK_SCHEDULED", `{"taskExecutionId":"6f0c1a2b-aaaa-4bbb-8ccc-000000000001","kind":"reserve-stock","input":{"orderId":42},"queue":"default","maxRetries":3}`),
		event(3, s(40*time.Millisecond), "WORKFLOW_SUSPENDED", `{"reason":"Waiting for task 6f0c1a2b to complete"}`),
		event(4, s(2400*time.Millisecond), "TASK_FAILED", `{"taskExecutionId":"6f0c1a2b-aaaa-4bbb-8ccc-000000000001","error":"warehouse timeout","retryable":true,"attempts":1}`),
		event(5, s(2500*time.Millisecond), "TASK_SCHEDULED", `{"taskExecutionId":"8d2e4f60-aaaa-4bbb-8ccc-000000000002","kind":"reserve-stock","input":{"orderId":42},"queue":"default","maxRetries":3}`),
		event(6, s(2510*time.Millisecond), "WORKFLOW_SUSPENDED", `{"reason":"Waiting for task 8d2e4f60 to complete"}`),
		event(7, s(6*time.Second), "TASK_COMPLETED", `{"taskExecutionId":"8d2e4f60-aaaa-4bbb-8ccc-000000000002","output":{"reserved":true}}`),
		event(8, s(6100*time.Millisecond), "CHILD_WORKFLOW_INITIATED", `{"childExecutionName":"charge","childWorkflowKind":"charge-card","childExecutionId":"`+idCharge+`","input":{"amount":129.5}}`),
		event(9, s(6110*time.Millisecond), "WORKFLOW_SUSPENDED", `{"reason":"Waiting for child charge"}`),
		event(10, s(15*time.Second), "CHILD_WORKFLOW_COMPLETED", `{"childExecutionName":"charge","childExecutionId":"`+idCharge+`","output":{"receipt":"r-7781"}}`),
		event(11, s(15100*time.Millisecond), "TIMER_STARTED", `{"timerId":"cool-off","durationMs":5000,"fireAt":0}`),
		event(12, s(15110*time.Millisecond), "WORKFLOW_SUSPENDED", `{"reason":"Waiting for timer cool-off"}`),
		event(13, s(20100*time.Millisecond), "TIMER_FIRED", `{"timerId":"cool-off"}`),
		event(14, s(20150*time.Millisecond), "STATE_SET", `{"key":"stage","value":"awaiting-approval"}`),
		event(15, s(20200*time.Millisecond), "PROMISE_CREATED", `{"promiseId":"`+promiseID+`","promiseName":"manager-approval","timeoutMs":3600000}`),
		event(16, s(20210*time.Millisecond), "WORKFLOW_SUSPENDED", `{"reason":"Waiting for promise manager-approval"}`),
	}
	f.tasks[idOrder] = []client.Task{
		{ID: "6f0c1a2b-aaaa-4bbb-8ccc-000000000001", Kind: "reserve-stock", Status: client.StatusFailed, Queue: "default", ExecutionCount: 1, MaxRetries: 0,
			CreatedAt: s(30 * time.Millisecond), StartedAt: ptr(s(50 * time.Millisecond)), CompletedAt: ptr(s(2400 * time.Millisecond)), Error: ptr("warehouse timeout"),
			Attempts: []client.TaskAttempt{{Attempt: 1, WorkerID: "w-4f2a9c01", Status: client.StatusFailed, Error: ptr("warehouse timeout"), StartedAt: s(50 * time.Millisecond), FinishedAt: ptr(s(2400 * time.Millisecond))}}},
		{ID: "8d2e4f60-aaaa-4bbb-8ccc-000000000002", Kind: "reserve-stock", Status: client.StatusCompleted, Queue: "default", ExecutionCount: 2, MaxRetries: 3,
			Progress: ptr(1.0), CreatedAt: s(2500 * time.Millisecond), StartedAt: ptr(s(2600 * time.Millisecond)), CompletedAt: ptr(s(6 * time.Second)),
			Attempts: []client.TaskAttempt{
				{Attempt: 1, WorkerID: "w-4f2a9c01", Status: client.StatusFailed, Error: ptr("deadlock detected"), StartedAt: s(2600 * time.Millisecond), FinishedAt: ptr(s(3 * time.Second))},
				{Attempt: 2, WorkerID: "w-77b01e3d", Status: client.StatusCompleted, StartedAt: s(4 * time.Second), FinishedAt: ptr(s(6 * time.Second))},
			}},
		{ID: "b7c8d9e0-bbbb-4ccc-8ddd-000000000003", Kind: "pack-parcel", Status: client.StatusRunning, Queue: "default", ExecutionCount: 1, MaxRetries: 3,
			Progress: ptr(0.4), ProgressDetails: ptr("4 of 10 items packed"), CreatedAt: s(20300 * time.Millisecond), StartedAt: ptr(s(21 * time.Second)),
			Attempts: []client.TaskAttempt{{Attempt: 1, WorkerID: "w-77b01e3d", Status: client.StatusRunning, StartedAt: s(21 * time.Second)}}},
	}
	f.children[idOrder] = []client.Child{{ChildWorkflowExecutionID: idCharge, Execution: f.execs[2]}}
	addSampleAgents(f)
	f.events[idApprove] = []client.Event{
		event(1, at(-3*time.Minute), "WORKFLOW_STARTED", `{"workflowKind":"expense-approval","queue":"default","input":null}`),
		event(2, at(-3*time.Minute+time.Second), "PROMISE_CREATED", `{"promiseId":"p-1","promiseName":"finance"}`),
		event(3, at(-3*time.Minute+2*time.Second), "PROMISE_CREATED", `{"promiseId":"p-2","promiseName":"legal"}`),
	}
	return f
}

// Ids of the sample agents.
const (
	idResearch  = "1a2b3c4d-5e6f-4a70-8b9c-0d1e2f3a4b5c"
	idSupport   = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
	idWriter    = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
	idTranslate = "e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7"
	idPlanner   = "9d8c7b6a-5f4e-4d3c-8b2a-190817263544"
	idDigest    = "b0c1d2e3-f4a5-4b6c-8d7e-8f9a0b1c2d3e"

	entrySystem    = "e0000001-0000-4000-8000-000000000001"
	entryQuestion  = "e0000002-0000-4000-8000-000000000002"
	entryThinking  = "e0000003-0000-4000-8000-000000000003"
	entryTool      = "e0000004-0000-4000-8000-000000000004"
	entryAnswer    = "e0000005-0000-4000-8000-000000000005"
	taskLookup     = "3e9f0a1b-2c3d-5e4f-8a5b-6c7d8e9f0a1b"
	taskFetch      = "8c7d6e5f-4a3b-5c2d-9e1f-0a9b8c7d6e5f"
	taskSummarise  = "d4c3b2a1-f0e9-5d8c-a7b6-c5d4e3f2a1b0"
	checkpointOne  = "c0000001-0000-4000-8000-000000000001"
	checkpointTwo  = "c0000002-0000-4000-8000-000000000002"
	sampleAnswer   = "Tides are the rise and fall of sea levels, caused by the Moon's and the Sun's gravity and the Earth's rotation. Most coasts see two high and two low tides a day; spring tides, at new and full moon, are the largest."
	researchPrompt = "You are a careful research assistant. Cite your sources."
)

// addSampleAgents gives the sample tenant one agent execution of each
// status; the researcher has a conversation, checkpoints and tasks and
// waits for a signal.
func addSampleAgents(f *fakeAPI) {
	r := at(-90 * time.Second)
	s := func(d time.Duration) time.Time { return r.Add(d) }
	f.agents = []client.AgentExecution{
		{ID: idPlanner, Kind: "trip-planner", Status: client.StatusPending, Queue: "nobody", CurrentCheckpointSeq: -1, CreatedAt: at(-3 * time.Second), UpdatedAt: at(-3 * time.Second)},
		{ID: idSupport, Kind: "support-bot", Status: client.StatusRunning, Queue: "default", CurrentCheckpointSeq: 0, CreatedAt: at(-30 * time.Second),
			StartedAt: ptr(at(-29 * time.Second)), UpdatedAt: at(-29 * time.Second), Input: json.RawMessage(`{"ticket":812}`)},
		{ID: idResearch, Kind: "researcher", Status: client.StatusWaiting, Queue: "agents", CurrentCheckpointSeq: 2, CreatedAt: r,
			StartedAt: ptr(s(100 * time.Millisecond)), UpdatedAt: s(21 * time.Second), WaitingFor: ptr("signal"), WaitReason: ptr("waiting for followUp"),
			Input: json.RawMessage(`{"topic":"tides","depth":"overview"}`), Metadata: json.RawMessage(`{"team":"oceans"}`)},
		{ID: idWriter, Kind: "writer", Status: client.StatusCompleted, Queue: "default", CurrentCheckpointSeq: 1, CreatedAt: at(-20 * time.Minute),
			StartedAt: ptr(at(-20 * time.Minute)), UpdatedAt: at(-18 * time.Minute), CompletedAt: ptr(at(-18 * time.Minute)),
			Input: json.RawMessage(`{"brief":"launch post"}`), Output: json.RawMessage(`{"words":640}`)},
		{ID: idTranslate, Kind: "translator", Status: client.StatusFailed, Queue: "default", CurrentCheckpointSeq: -1, CreatedAt: at(-time.Hour),
			StartedAt: ptr(at(-time.Hour)), UpdatedAt: at(-59 * time.Minute), CompletedAt: ptr(at(-59 * time.Minute)),
			Error: ptr("model quota exceeded"), FailureType: ptr("TRANSIENT_ERROR")},
		{ID: idDigest, Kind: "news-digest", Status: client.StatusCancelled, Queue: "reports", CurrentCheckpointSeq: -1, CreatedAt: at(-26 * time.Hour),
			StartedAt: ptr(at(-26 * time.Hour)), UpdatedAt: at(-26*time.Hour + time.Minute), CompletedAt: ptr(at(-26*time.Hour + time.Minute))},
	}
	entry := func(id, role, turn string, d time.Duration, content string) client.AgentEntry {
		return client.AgentEntry{ID: id, EntryType: "message", Role: ptr(role), TurnID: ptr(turn), Content: json.RawMessage(content), CreatedAt: s(d)}
	}
	f.entries[idResearch] = []client.AgentEntry{
		entry(entrySystem, "system", "1", 200*time.Millisecond, `{"text":"`+researchPrompt+`"}`),
		entry(entryQuestion, "user", "1", 300*time.Millisecond, `{"text":"Tell me about tides"}`),
		entry(entryThinking, "assistant", "1", 2100*time.Millisecond, `{"text":"Let me look that up."}`),
		entry(entryTool, "tool_result", "1", 14*time.Second, `{"tool":"lookup","hits":3,"source":"noaa.gov"}`),
		entry(entryAnswer, "assistant", "1", 20*time.Second, `{"text":"`+sampleAnswer+`"}`),
	}
	f.checkpoints[idResearch] = []client.AgentCheckpoint{
		{ID: checkpointOne, AgentExecutionID: idResearch, Sequence: 1, LeafEntryID: ptr(entryThinking), CreatedAt: s(2200 * time.Millisecond)},
		{ID: checkpointTwo, AgentExecutionID: idResearch, Sequence: 2, LeafEntryID: ptr(entryAnswer), CreatedAt: s(20500 * time.Millisecond)},
	}
	f.agentTasks[idResearch] = []client.AgentTask{
		{ID: taskLookup, AgentExecutionID: idResearch, Kind: "lookup", Status: client.StatusCompleted, Queue: "agents", ExecutionCount: 2, MaxRetries: 3,
			CreatedAt: s(2300 * time.Millisecond), CompletedAt: ptr(s(14 * time.Second))},
		{ID: taskFetch, AgentExecutionID: idResearch, Kind: "fetch-page", Status: client.StatusFailed, Queue: "agents", ExecutionCount: 4, MaxRetries: 3,
			CreatedAt: s(3 * time.Second), CompletedAt: ptr(s(12 * time.Second)), Error: ptr("HTTP 503 from example.org")},
		{ID: taskSummarise, AgentExecutionID: idResearch, Kind: "summarise", Status: client.StatusRunning, Queue: "agents", ExecutionCount: 1, MaxRetries: 3,
			TimeoutMs: ptr(int64(120000)), CreatedAt: s(20400 * time.Millisecond)},
	}
}
