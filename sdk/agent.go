package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// AgentFunc is an agent implementation. input is the agent input as JSON.
// The function runs from the top every time the agent is dispatched (first
// start, and after every suspension); AgentContext.State holds what it
// checkpointed before. The returned value is encoded with encoding/json
// (json.RawMessage verbatim) and sent with CompleteAgent; a returned error
// fails the agent with err.Error() (FailAgent).
type AgentFunc func(ctx *AgentContext, input json.RawMessage) (any, error)

// Role is the author of a conversation entry.
type Role string

// Roles of conversation entries.
const (
	RoleSystem     Role = "system"
	RoleUser       Role = "user"
	RoleAssistant  Role = "assistant"
	RoleToolResult Role = "tool_result"
)

// TokenUsage is LLM token accounting attached to an entry.
type TokenUsage struct {
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  *int64
	CacheWriteTokens *int64
}

// AgentEntry is one entry of the agent's conversation.
type AgentEntry struct {
	ID       string
	ParentID string // "" for a root entry
	// Type is "message", "llm_call" or "injection".
	Type    string
	Role    Role
	Content json.RawMessage
	TurnID  string
	Usage   *TokenUsage
	// CreatedAt is zero for an entry appended in this dispatch.
	CreatedAt time.Time
}

// AgentTaskOptions are the optional settings of a task scheduled by an agent.
// They are not part of the task's identity (see ScheduleTask).
type AgentTaskOptions struct {
	// Queue the task runs on; "" = the agent's queue.
	Queue string
	// MaxRetries after the first attempt; 0 = the server default (3),
	// NoRetries for a single attempt.
	MaxRetries int
	// Timeout is enforced by the server: past it the task fails for good
	// with an error saying it timed out. 0 = none.
	Timeout time.Duration
}

// AgentTask is a task scheduled by an agent. Its id is known at once: the
// SDK computes it from the agent id, the kind and the input (AgentTaskKey,
// AgentTaskID), so the same call made again after a resume names the same
// task.
type AgentTask struct {
	id, kind, key string
	err           error
}

// ID is the task execution id.
func (t *AgentTask) ID() string { return t.id }

// Kind is the task kind.
func (t *AgentTask) Kind() string { return t.kind }

// IdempotencyKey is the key the task was scheduled with.
func (t *AgentTask) IdempotencyKey() string { return t.key }

// Task statuses as the server reports them.
const (
	TaskPending   = "PENDING"
	TaskRunning   = "RUNNING"
	TaskCompleted = "COMPLETED"
	TaskFailed    = "FAILED"
	TaskCancelled = "CANCELLED"
)

// AgentTaskResult is the state of one agent task.
type AgentTaskResult struct {
	TaskID string
	Kind   string
	// Status is one of TaskPending, TaskRunning, TaskCompleted, TaskFailed
	// or TaskCancelled (an unknown status reads as TaskPending).
	Status string
	// Output is the task output (COMPLETED only).
	Output json.RawMessage
	// Error is the failure message (FAILED and CANCELLED).
	Error string
}

// Done reports whether the task has ended (completed, failed or cancelled).
func (r AgentTaskResult) Done() bool {
	return r.Status == TaskCompleted || r.Status == TaskFailed || r.Status == TaskCancelled
}

// Err is nil for a completed (or unfinished) task, else an *AgentTaskError.
func (r AgentTaskResult) Err() error {
	if r.Status != TaskFailed && r.Status != TaskCancelled {
		return nil
	}
	return &AgentTaskError{TaskID: r.TaskID, Kind: r.Kind, Status: r.Status, Message: r.Error}
}

// SettledResults are the results of JoinAllSettled, in argument order; every
// one is COMPLETED, FAILED or CANCELLED.
type SettledResults []AgentTaskResult

func (s SettledResults) with(status string) []AgentTaskResult {
	var out []AgentTaskResult
	for _, r := range s {
		if r.Status == status {
			out = append(out, r)
		}
	}
	return out
}

// Completed returns the completed tasks.
func (s SettledResults) Completed() []AgentTaskResult { return s.with(TaskCompleted) }

// Failed returns the failed tasks.
func (s SettledResults) Failed() []AgentTaskResult { return s.with(TaskFailed) }

// Cancelled returns the cancelled tasks.
func (s SettledResults) Cancelled() []AgentTaskResult { return s.with(TaskCancelled) }

// AllSucceeded reports whether every task completed.
func (s SettledResults) AllSucceeded() bool { return len(s.Completed()) == len(s) }

// Selected is the winner of SelectOk.
type Selected struct {
	// Index of the winner among the arguments.
	Index  int
	TaskID string
	Output json.RawMessage
	// Cancelled lists the other tasks SelectOkWithCancel cancelled (those
	// already ended are not in it).
	Cancelled []string
}

// AgentSignal is a signal consumed by DrainSignalsMatching.
type AgentSignal struct {
	Name  string
	Value json.RawMessage
}

// SpawnOptions are the optional settings of a child agent.
type SpawnOptions struct {
	// Queue of the child; "" lets the server decide (the template's queue,
	// else the parent's).
	Queue string
	// Mode is "REMOTE" (default), "LOCAL" or "EXTERNAL".
	Mode            string
	SystemPrompt    string
	Tools           []string
	Model           string
	MaxBudgetTokens int64
	// Template is a server-side template slug to resolve the child from.
	Template string
}

// Child event types.
const (
	ChildCompleted = "completed"
	ChildFailed    = "failed"
	ChildSignal    = "signal"
)

// ChildEvent is something that happened to a child agent.
type ChildEvent struct {
	ChildID string
	// Type is ChildCompleted, ChildFailed or ChildSignal.
	Type       string
	Output     json.RawMessage // ChildCompleted
	Error      string          // ChildFailed
	SignalName string          // ChildSignal
	Payload    json.RawMessage // ChildSignal
}

// AgentContext is what a running agent can use: its identity and input, its
// conversation, its checkpointed state, tasks, signals, live streaming and
// child agents.
//
// Appended entries and scheduled tasks are buffered and sent to the server
// at the next commit point, in call order: Checkpoint, Flush, a combinator
// (JoinAll, JoinAllSettled, SelectOk), a wait (WaitSignal, JoinChildren,
// SelectChild) and the end of the agent function. A call that must wait
// (tasks not finished, no signal yet) checkpoints the current state,
// suspends the agent on the server and stops the agent function (see the
// package documentation); the agent runs again from the top when what it
// waits for has happened.
//
// The methods are safe for concurrent use, but the ones that may suspend
// must be called from the agent function's own goroutine.
type AgentContext struct {
	goctx context.Context
	ad    flovynv1.AgentDispatchClient
	log   *slog.Logger
	info  *flovynv1.AgentExecutionInfo
	input json.RawMessage
	uuid  uuid.UUID

	mu        sync.Mutex
	entries   []AgentEntry
	state     json.RawMessage // nil: no state yet
	seq       int32           // latest checkpoint sequence, -1 = none
	leaf      string          // latest entry id: the parent of the next one
	turnID    string
	pending   []agentCommand
	signals   map[string][]json.RawMessage // consumed but not read yet
	streamSeq int32

	stopped   bool
	suspended bool
}

// agentCommand is a buffered AppendEntry or ScheduleAgentTask.
type agentCommand struct {
	entry *flovynv1.AppendEntryRequest
	task  *flovynv1.ScheduleAgentTaskHeader
	input []byte
	id    string // the entry or task id
}

// newAgentContext loads what a dispatched agent starts from, in the Rust
// SDK's order: its latest checkpoint (when current_checkpoint_seq >= 0),
// then its entries.
func newAgentContext(goctx context.Context, ad flovynv1.AgentDispatchClient, log *slog.Logger,
	info *flovynv1.AgentExecutionInfo) (*AgentContext, error) {
	id, err := uuid.Parse(info.GetId())
	if err != nil {
		id = uuid.Nil // as the Rust SDK reads an unparsable id
	}
	input := json.RawMessage(info.GetInput())
	if len(input) == 0 || !json.Valid(input) {
		input = json.RawMessage("null")
	}
	c := &AgentContext{goctx: goctx, ad: ad, log: log, info: info, input: input, uuid: id, seq: -1,
		signals: map[string][]json.RawMessage{}}
	if info.GetCurrentCheckpointSeq() >= 0 {
		resp, err := ad.GetLatestCheckpoint(goctx, &flovynv1.GetCheckpointRequest{AgentExecutionId: info.GetId()})
		if err != nil {
			return nil, fmt.Errorf("get latest checkpoint: %w", err)
		}
		if cp := resp.GetCheckpoint(); cp != nil {
			c.state = json.RawMessage(cp.GetState())
			if len(c.state) == 0 {
				c.state = json.RawMessage("null")
			}
			c.seq = cp.GetSequence()
			c.leaf = cp.GetLeafEntryId()
		}
	}
	stream, err := ad.GetEntries(goctx, &flovynv1.GetEntriesRequest{AgentExecutionId: info.GetId()})
	if err != nil {
		return nil, fmt.Errorf("get entries: %w", err)
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("get entries: %w", err)
		}
		if e := chunk.GetEntry(); e != nil {
			c.entries = append(c.entries, entryIn(e))
		}
	}
	return c, nil
}

func entryIn(e *flovynv1.AgentEntry) AgentEntry {
	role := Role(lowerASCII(e.GetRole()))
	if role == "" {
		role = RoleUser // as the Rust SDK reads an entry without a role
	}
	out := AgentEntry{ID: e.GetId(), ParentID: e.GetParentId(), Type: lowerASCII(e.GetEntryType()), Role: role,
		Content: json.RawMessage(e.GetContent()), TurnID: e.GetTurnId()}
	if out.Type == "" {
		out.Type = "message"
	}
	if e.GetCreatedAtMs() != 0 {
		out.CreatedAt = time.UnixMilli(e.GetCreatedAtMs())
	}
	if u := e.GetTokenUsage(); u != nil {
		out.Usage = &TokenUsage{InputTokens: u.GetInputTokens(), OutputTokens: u.GetOutputTokens(),
			CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens}
	}
	return out
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------

// ID is the agent execution id.
func (c *AgentContext) ID() string { return c.info.GetId() }

// Kind is the agent kind.
func (c *AgentContext) Kind() string { return c.info.GetKind() }

// OrgID is the tenant id of the execution.
func (c *AgentContext) OrgID() string { return c.info.GetOrgId() }

// Queue is the queue the agent runs on.
func (c *AgentContext) Queue() string { return c.info.GetQueue() }

// ParentID is the parent agent execution id, "" unless this is a child agent.
func (c *AgentContext) ParentID() string { return c.info.GetParentExecutionId() }

// Input is the agent input as JSON (null when empty).
func (c *AgentContext) Input() json.RawMessage { return c.input }

// DecodeInput decodes the agent input into out.
func (c *AgentContext) DecodeInput(out any) error { return decodeInto(c.input, out) }

// Metadata is the execution's metadata as JSON, or nil.
func (c *AgentContext) Metadata() json.RawMessage {
	if len(c.info.GetMetadata()) == 0 {
		return nil
	}
	return json.RawMessage(c.info.GetMetadata())
}

// Context is the worker's context.Context for this execution (not
// cancelled by worker shutdown: the worker waits for running agents).
func (c *AgentContext) Context() context.Context { return c.goctx }

// Logger logs with the execution id and kind attached.
func (c *AgentContext) Logger() *slog.Logger { return c.log }

// ---------------------------------------------------------------------------
// Conversation
// ---------------------------------------------------------------------------

// SetTurnID sets the turn id sent with the entries appended from now on
// ("" sends none).
func (c *AgentContext) SetTurnID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.turnID = id
}

// AppendEntry appends a message (entry type "MESSAGE") with the given role
// and JSON content to the conversation and returns its id, a random UUID
// that is also its idempotency key. The entry is sent at the next commit
// point. A resumed agent runs from the top, so code before its last
// suspension appends its entries again unless it checks State.
func (c *AgentContext) AppendEntry(role Role, content any) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.appendLocked(role, content)
}

// AppendToolCall appends an assistant message {"tool_name", "input"}.
func (c *AgentContext) AppendToolCall(tool string, input any) (string, error) {
	in, err := encode(input)
	if err != nil {
		return "", err
	}
	return c.AppendEntry(RoleAssistant, map[string]any{"tool_name": tool, "input": json.RawMessage(in)})
}

// AppendToolResult appends a tool_result message {"tool_name", "output"}.
func (c *AgentContext) AppendToolResult(tool string, output any) (string, error) {
	out, err := encode(output)
	if err != nil {
		return "", err
	}
	return c.AppendEntry(RoleToolResult, map[string]any{"tool_name": tool, "output": json.RawMessage(out)})
}

func (c *AgentContext) appendLocked(role Role, content any) (string, error) {
	if c.stopped {
		return "", ErrAgentStopped
	}
	payload, err := encode(content)
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	r := string(role)
	req := &flovynv1.AppendEntryRequest{
		AgentExecutionId: c.ID(), EntryType: "MESSAGE", Role: &r, Content: payload, IdempotencyKey: &id,
	}
	if c.leaf != "" {
		parent := c.leaf
		req.ParentId = &parent
	}
	if c.turnID != "" {
		turn := c.turnID
		req.TurnId = &turn
	}
	c.pending = append(c.pending, agentCommand{entry: req, id: id})
	c.entries = append(c.entries, AgentEntry{ID: id, ParentID: c.leaf, Type: "message", Role: role,
		Content: payload, TurnID: c.turnID})
	c.leaf = id
	return id, nil
}

// Entries returns the conversation: the entries stored when the agent was
// dispatched, then those appended since.
func (c *AgentContext) Entries() []AgentEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]AgentEntry(nil), c.entries...)
}

// Flush sends the buffered entries and tasks now, without a checkpoint.
func (c *AgentContext) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrAgentStopped
	}
	return c.commit(false)
}

// commit sends the buffered commands in order, then a checkpoint of the
// current state when checkpoint is set. A command that fails stays
// buffered, with those after it.
func (c *AgentContext) commit(checkpoint bool) error {
	for len(c.pending) > 0 {
		cmd := c.pending[0]
		if cmd.entry != nil {
			resp, err := c.ad.AppendEntry(c.goctx, cmd.entry)
			if err != nil {
				return fmt.Errorf("flovyn: append entry: %w", err)
			}
			if _, err := uuid.Parse(resp.GetEntryId()); err != nil {
				return fmt.Errorf("flovyn: append entry: server returned entry id %q", resp.GetEntryId())
			}
		} else if err := c.sendTask(cmd); err != nil {
			return err
		}
		c.pending = c.pending[1:]
	}
	if !checkpoint {
		return nil
	}
	state := c.state
	if state == nil {
		state = json.RawMessage("null")
	}
	req := &flovynv1.SubmitCheckpointRequest{AgentExecutionId: c.ID(), State: state}
	if c.leaf != "" {
		leaf := c.leaf
		req.LeafEntryId = &leaf
	}
	resp, err := c.ad.SubmitCheckpoint(c.goctx, req)
	if err != nil {
		return fmt.Errorf("flovyn: submit checkpoint: %w", err)
	}
	if _, err := uuid.Parse(resp.GetCheckpointId()); err != nil {
		return fmt.Errorf("flovyn: submit checkpoint: server returned checkpoint id %q", resp.GetCheckpointId())
	}
	c.state = state
	c.seq = resp.GetSequence()
	return nil
}

// agentInputChunk is the size of the input pieces of ScheduleAgentTask.
const agentInputChunk = 64 << 10

// sendTask is one ScheduleAgentTask stream: the header, then the input in
// 64 KiB chunks.
func (c *AgentContext) sendTask(cmd agentCommand) error {
	stream, err := c.ad.ScheduleAgentTask(c.goctx)
	if err != nil {
		return fmt.Errorf("flovyn: schedule task %q: %w", cmd.task.GetTaskKind(), err)
	}
	err = stream.Send(&flovynv1.ScheduleAgentTaskChunk{Chunk: &flovynv1.ScheduleAgentTaskChunk_Header{Header: cmd.task}})
	for b := cmd.input; err == nil && len(b) > 0; {
		n := min(len(b), agentInputChunk)
		err = stream.Send(&flovynv1.ScheduleAgentTaskChunk{Chunk: &flovynv1.ScheduleAgentTaskChunk_InputChunk{InputChunk: b[:n]}})
		b = b[n:]
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("flovyn: schedule task %q: %w", cmd.task.GetTaskKind(), err)
	}
	// On io.EOF the server ended the stream; CloseAndRecv says why.
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("flovyn: schedule task %q: %w", cmd.task.GetTaskKind(), err)
	}
	if _, err := uuid.Parse(resp.GetTaskExecutionId()); err != nil {
		return fmt.Errorf("flovyn: schedule task %q: server returned task id %q", cmd.task.GetTaskKind(), resp.GetTaskExecutionId())
	}
	if resp.GetTaskExecutionId() != cmd.id {
		// Like the Rust SDK, the SDK's id is the one used from now on.
		c.log.Warn("server named the agent task differently", "task_id", cmd.id, "server_task_id", resp.GetTaskExecutionId())
	}
	return nil
}

// ---------------------------------------------------------------------------
// State and checkpoints
// ---------------------------------------------------------------------------

// State decodes the agent's state into out and reports whether there is
// one: the state of the latest checkpoint when the agent was dispatched, or
// what SetState or Checkpoint set since.
func (c *AgentContext) State(out any) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		return false, nil
	}
	return true, decodeInto(c.state, out)
}

// StateRaw is the agent's state as JSON, nil when there is none.
func (c *AgentContext) StateRaw() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SetState replaces the agent's state without sending anything: it is
// stored by the next checkpoint, explicit or the one before a suspension.
func (c *AgentContext) SetState(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrAgentStopped
	}
	payload, err := encode(v)
	if err != nil {
		return err
	}
	c.state = payload
	return nil
}

// Checkpoint makes state the agent's state and stores it: the buffered
// entries and tasks are sent, then SubmitCheckpoint with the latest entry
// as leaf. A resumed agent starts from the latest checkpoint's state.
func (c *AgentContext) Checkpoint(state any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrAgentStopped
	}
	payload, err := encode(state)
	if err != nil {
		return err
	}
	c.state = payload
	return c.commit(true)
}

// CheckpointSequence is the sequence number of the latest checkpoint (1, 2,
// …), or -1 when there is none.
func (c *AgentContext) CheckpointSequence() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.seq)
}

// ---------------------------------------------------------------------------
// Suspension
// ---------------------------------------------------------------------------

// suspend checkpoints the current state, suspends the execution on the
// server with req's condition, and stops the agent function. It returns
// only with an error (c.mu is held, and released by the caller's defer,
// which runtime.Goexit runs).
func (c *AgentContext) suspend(req *flovynv1.SuspendAgentRequest) error {
	if err := c.commit(true); err != nil {
		return err
	}
	req.AgentExecutionId = c.ID()
	if _, err := c.ad.SuspendAgent(c.goctx, req); err != nil {
		return fmt.Errorf("flovyn: suspend agent: %w", err)
	}
	c.stopped, c.suspended = true, true
	runtime.Goexit()
	return nil
}

func (c *AgentContext) suspendForTasks(ids []string, mode flovynv1.WaitMode) error {
	reason := "Waiting for parallel tasks"
	return c.suspend(&flovynv1.SuspendAgentRequest{
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForTasks{WaitForTasks: &flovynv1.WaitForTasks{TaskIds: ids, Mode: mode}},
		Reason:        &reason,
	})
}

// ---------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------

// ScheduleTask schedules a task without waiting for it; it is sent at the
// next commit point. Its identity is the agent id, the kind and the
// canonical JSON of the input (not the options): scheduling the same kind
// with the same input again returns the same task, which is what makes a
// resumed agent find the tasks it scheduled before. An error (input not
// encodable, agent stopped) is reported by the call that uses the task.
func (c *AgentContext) ScheduleTask(kind string, input any, opts AgentTaskOptions) *AgentTask {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &AgentTask{kind: kind}
	if c.stopped {
		t.err = ErrAgentStopped
		return t
	}
	if kind == "" {
		t.err = errors.New("flovyn: schedule task: empty kind")
		return t
	}
	payload, err := encode(input)
	if err != nil {
		t.err = err
		return t
	}
	t.key, t.err = AgentTaskKey(c.ID(), kind, payload)
	if t.err != nil {
		return t
	}
	t.id = AgentTaskID(t.key)
	h := &flovynv1.ScheduleAgentTaskHeader{AgentExecutionId: c.ID(), TaskKind: kind, IdempotencyKey: &t.key}
	if opts.Queue != "" {
		q := opts.Queue
		h.Queue = &q
	}
	switch {
	case opts.MaxRetries > 0:
		n := int32(opts.MaxRetries)
		h.MaxRetries = &n
	case opts.MaxRetries == NoRetries:
		n := int32(0)
		h.MaxRetries = &n
	}
	if opts.Timeout > 0 {
		ms := opts.Timeout.Milliseconds()
		h.TimeoutMs = &ms
	}
	c.pending = append(c.pending, agentCommand{task: h, input: payload, id: t.id})
	return t
}

// ExecuteTask schedules a task and waits for its output (JoinAll of one).
func (c *AgentContext) ExecuteTask(kind string, input any, opts AgentTaskOptions) (json.RawMessage, error) {
	out, err := c.JoinAll(c.ScheduleTask(kind, input, opts))
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ExecuteAgentTask schedules a task from an agent, waits for it and decodes
// its output as a T.
func ExecuteAgentTask[T any](ctx *AgentContext, kind string, input any, opts AgentTaskOptions) (T, error) {
	raw, err := ctx.ExecuteTask(kind, input, opts)
	if err != nil {
		var zero T
		return zero, err
	}
	return Decode[T](raw)
}

// results commits the buffered commands and reads the tasks' results, in
// argument order.
func (c *AgentContext) results(tasks []*AgentTask) ([]AgentTaskResult, []string, error) {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		if t == nil {
			return nil, nil, errors.New("flovyn: nil agent task")
		}
		if t.err != nil {
			return nil, nil, t.err
		}
		ids[i] = t.id
	}
	if err := c.commit(false); err != nil {
		return nil, nil, err
	}
	resp, err := c.ad.GetAgentTaskResults(c.goctx, &flovynv1.GetAgentTaskResultsRequest{AgentExecutionId: c.ID(), TaskExecutionIds: ids})
	if err != nil {
		return nil, nil, fmt.Errorf("flovyn: get agent task results: %w", err)
	}
	if len(resp.GetResults()) != len(ids) {
		return nil, nil, fmt.Errorf("flovyn: get agent task results: %d results for %d tasks", len(resp.GetResults()), len(ids))
	}
	out := make([]AgentTaskResult, len(ids))
	for i, r := range resp.GetResults() {
		out[i] = taskResultIn(ids[i], tasks[i].kind, r.GetStatus(), r.Output, r.Error)
	}
	return out, ids, nil
}

func taskResultIn(id, kind, status string, output []byte, errMsg *string) AgentTaskResult {
	r := AgentTaskResult{TaskID: id, Kind: kind, Status: status}
	switch status {
	case TaskCompleted:
		r.Output = json.RawMessage(output)
		if len(r.Output) == 0 {
			r.Output = json.RawMessage("null")
		}
	case TaskFailed, TaskCancelled:
		r.Error = "Task failed"
		if errMsg != nil {
			r.Error = *errMsg
		}
	case TaskRunning:
	default:
		r.Status = TaskPending // as the Rust SDK reads an unknown status
	}
	return r
}

// JoinAll waits until every task has completed and returns their outputs in
// argument order. If one has failed or was cancelled (the first in argument
// order), it returns an *AgentTaskError at once. When some are still
// running it suspends the agent until all have ended (WAIT_MODE_ALL).
func (c *AgentContext) JoinAll(tasks ...*AgentTask) ([]json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, ErrAgentStopped
	}
	if len(tasks) == 0 {
		return nil, nil
	}
	res, ids, err := c.results(tasks)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(res))
	done := true
	for i, r := range res {
		switch r.Status {
		case TaskCompleted:
			out[i] = r.Output
		case TaskFailed, TaskCancelled:
			return nil, r.Err()
		default:
			done = false
		}
	}
	if done {
		return out, nil
	}
	return nil, c.suspendForTasks(ids, flovynv1.WaitMode_WAIT_MODE_ALL)
}

// JoinAllSettled waits until every task has ended, completed or not, and
// returns their results in argument order. It suspends the agent until
// then (WAIT_MODE_ALL).
func (c *AgentContext) JoinAllSettled(tasks ...*AgentTask) (SettledResults, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, ErrAgentStopped
	}
	if len(tasks) == 0 {
		return SettledResults{}, nil
	}
	res, ids, err := c.results(tasks)
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		if !r.Done() {
			return nil, c.suspendForTasks(ids, flovynv1.WaitMode_WAIT_MODE_ALL)
		}
	}
	return SettledResults(res), nil
}

// SelectOk returns the first task (in argument order) that has completed,
// skipping failed and cancelled ones. When none has completed and some are
// still running it suspends the agent until one of them ends
// (WAIT_MODE_ANY) and looks again when the agent runs again; when all have
// failed it returns an *AllTasksFailedError.
func (c *AgentContext) SelectOk(tasks ...*AgentTask) (Selected, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.selectOk(tasks)
}

func (c *AgentContext) selectOk(tasks []*AgentTask) (Selected, error) {
	if c.stopped {
		return Selected{}, ErrAgentStopped
	}
	if len(tasks) == 0 {
		return Selected{}, errors.New("flovyn: SelectOk needs at least one task")
	}
	res, ids, err := c.results(tasks)
	if err != nil {
		return Selected{}, err
	}
	running := 0
	var failed []AgentTaskResult
	for i, r := range res {
		switch r.Status {
		case TaskCompleted:
			return Selected{Index: i, TaskID: r.TaskID, Output: r.Output}, nil
		case TaskFailed, TaskCancelled:
			failed = append(failed, r)
		default:
			running++
		}
	}
	if running == 0 {
		return Selected{}, &AllTasksFailedError{Results: failed}
	}
	return Selected{}, c.suspendForTasks(ids, flovynv1.WaitMode_WAIT_MODE_ANY)
}

// SelectOkWithCancel is SelectOk, then it cancels the other tasks. Those it
// cancelled are listed in Selected.Cancelled; failures to cancel are only
// logged.
func (c *AgentContext) SelectOkWithCancel(tasks ...*AgentTask) (Selected, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sel, err := c.selectOk(tasks)
	if err != nil {
		return sel, err
	}
	for i, t := range tasks {
		if i == sel.Index {
			continue
		}
		cancelled, _, err := c.cancelLocked(t.id)
		if err != nil {
			c.log.Warn("cancel of a losing task failed", "task_id", t.id, "err", err)
			continue
		}
		if cancelled {
			sel.Cancelled = append(sel.Cancelled, t.id)
		}
	}
	return sel, nil
}

// CancelTask cancels a task of this agent. cancelled is true when this call
// cancelled it (it was PENDING or RUNNING); otherwise status says how it had
// already ended (TaskCompleted, TaskFailed or TaskCancelled). The task's
// worker is not told: what it reports later is ignored.
func (c *AgentContext) CancelTask(taskID string) (cancelled bool, status string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false, "", ErrAgentStopped
	}
	return c.cancelLocked(taskID)
}

func (c *AgentContext) cancelLocked(taskID string) (bool, string, error) {
	// A task still buffered is sent first, so that the server knows it.
	for _, cmd := range c.pending {
		if cmd.task != nil && cmd.id == taskID {
			if err := c.commit(false); err != nil {
				return false, "", err
			}
			break
		}
	}
	resp, err := c.ad.CancelAgentTask(c.goctx, &flovynv1.CancelAgentTaskRequest{AgentExecutionId: c.ID(), TaskExecutionId: taskID})
	if err != nil {
		return false, "", fmt.Errorf("flovyn: cancel task %s: %w", taskID, err)
	}
	if resp.GetCancelled() {
		return true, TaskCancelled, nil
	}
	switch st := resp.GetStatus(); st {
	case TaskCompleted, TaskFailed, TaskCancelled:
		return false, st, nil
	default:
		return false, st, fmt.Errorf("flovyn: unexpected task status after cancel: %s", st)
	}
}

// TaskResult reads the current state of one of this agent's tasks without
// waiting (buffered commands are sent first).
func (c *AgentContext) TaskResult(taskID string) (AgentTaskResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return AgentTaskResult{}, ErrAgentStopped
	}
	if err := c.commit(false); err != nil {
		return AgentTaskResult{}, err
	}
	resp, err := c.ad.GetAgentTaskResult(c.goctx, &flovynv1.GetAgentTaskResultRequest{AgentExecutionId: c.ID(), TaskExecutionId: taskID})
	if err != nil {
		return AgentTaskResult{}, fmt.Errorf("flovyn: get agent task result %s: %w", taskID, err)
	}
	return taskResultIn(taskID, "", resp.GetStatus(), resp.Output, resp.Error), nil
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

// WaitSignal returns the value of the next signal named name. It consumes
// the signals of that name waiting on the server (ConsumeSignals); if there
// are none it checkpoints the current state and suspends the agent until
// one arrives. ConsumeSignals hands over every waiting signal of the name
// at once: the extra ones are kept for the following WaitSignal and
// DrainSignals calls of this dispatch, and are lost if the agent suspends
// before reading them (as in the Rust SDK).
func (c *AgentContext) WaitSignal(name string) (json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, ErrAgentStopped
	}
	if v, ok := c.popSignal(name); ok {
		return v, nil
	}
	vals, err := c.consume(name)
	if err != nil {
		return nil, err
	}
	if len(vals) > 0 {
		c.signals[name] = append(c.signals[name], vals[1:]...)
		return vals[0], nil
	}
	return nil, c.suspend(&flovynv1.SuspendAgentRequest{WaitCondition: &flovynv1.SuspendAgentRequest_WaitForSignal{WaitForSignal: name}})
}

func (c *AgentContext) popSignal(name string) (json.RawMessage, bool) {
	q := c.signals[name]
	if len(q) == 0 {
		return nil, false
	}
	c.signals[name] = q[1:]
	return q[0], true
}

func (c *AgentContext) consume(name string) ([]json.RawMessage, error) {
	resp, err := c.ad.ConsumeSignals(c.goctx, &flovynv1.ConsumeSignalsRequest{AgentExecutionId: c.ID(), SignalName: &name})
	if err != nil {
		return nil, fmt.Errorf("flovyn: consume signals %q: %w", name, err)
	}
	out := make([]json.RawMessage, 0, len(resp.GetSignals()))
	for _, s := range resp.GetSignals() {
		out = append(out, signalValue(s.GetSignalValue()))
	}
	return out, nil
}

func signalValue(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}

// HasSignal reports whether a signal named name is waiting, without
// consuming it.
func (c *AgentContext) HasSignal(name string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false, ErrAgentStopped
	}
	if len(c.signals[name]) > 0 {
		return true, nil
	}
	resp, err := c.ad.HasSignal(c.goctx, &flovynv1.HasSignalRequest{AgentExecutionId: c.ID(), SignalName: name})
	if err != nil {
		return false, fmt.Errorf("flovyn: has signal %q: %w", name, err)
	}
	return resp.GetHasSignal(), nil
}

// DrainSignals consumes and returns the values of every waiting signal
// named name, oldest first, without waiting.
func (c *AgentContext) DrainSignals(name string) ([]json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, ErrAgentStopped
	}
	vals, err := c.consume(name)
	if err != nil {
		return nil, err
	}
	out := append(c.signals[name], vals...)
	delete(c.signals, name)
	return out, nil
}

// DrainSignalsMatching consumes and returns every waiting signal whose name
// matches the glob pattern (such as "child:*"), oldest first.
func (c *AgentContext) DrainSignalsMatching(pattern string) ([]AgentSignal, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, ErrAgentStopped
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("flovyn: signal pattern %q: %w", pattern, err)
	}
	resp, err := c.ad.ConsumeSignals(c.goctx, &flovynv1.ConsumeSignalsRequest{AgentExecutionId: c.ID(), SignalPattern: &pattern})
	if err != nil {
		return nil, fmt.Errorf("flovyn: consume signals %q: %w", pattern, err)
	}
	var out []AgentSignal
	for _, name := range sortedKeys(c.signals) {
		if ok, _ := path.Match(pattern, name); ok {
			for _, v := range c.signals[name] {
				out = append(out, AgentSignal{Name: name, Value: v})
			}
			delete(c.signals, name)
		}
	}
	for _, s := range resp.GetSignals() {
		out = append(out, AgentSignal{Name: s.GetSignalName(), Value: signalValue(s.GetSignalValue())})
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Live data
// ---------------------------------------------------------------------------

// StreamToken streams LLM output text to the execution's observers.
func (c *AgentContext) StreamToken(text string) error {
	return c.stream(flovynv1.AgentStreamEventType_AGENT_TOKEN, map[string]any{"text": text})
}

// StreamProgress streams progress in [0,1] (clamped) with optional details.
func (c *AgentContext) StreamProgress(progress float64, details string) error {
	var d any
	if details != "" {
		d = details
	}
	return c.stream(flovynv1.AgentStreamEventType_AGENT_PROGRESS, map[string]any{"progress": clamp01(progress), "details": d})
}

// StreamData streams an application-defined JSON value.
func (c *AgentContext) StreamData(v any) error {
	payload, err := encode(v)
	if err != nil {
		return err
	}
	return c.stream(flovynv1.AgentStreamEventType_AGENT_DATA, map[string]any{"data": json.RawMessage(payload)})
}

// StreamError streams an error notification; code may be "".
func (c *AgentContext) StreamError(message, code string) error {
	var cd any
	if code != "" {
		cd = code
	}
	return c.stream(flovynv1.AgentStreamEventType_AGENT_ERROR, map[string]any{"message": message, "code": cd})
}

// stream sends one event (one StreamAgentData call). Unlike task streaming,
// its error is returned: the Rust SDK's agents fail on it.
func (c *AgentContext) stream(typ flovynv1.AgentStreamEventType, ev map[string]any) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("flovyn: stream event: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrAgentStopped
	}
	seq := c.streamSeq
	c.streamSeq++
	s, err := c.ad.StreamAgentData(c.goctx)
	if err == nil {
		err = s.Send(&flovynv1.StreamAgentDataRequest{AgentExecutionId: c.ID(), Sequence: seq, EventType: typ,
			Payload: string(payload), TimestampMs: time.Now().UnixMilli()})
		if err == io.EOF {
			err = nil // the server ended the stream; CloseAndRecv says why
		}
	}
	if err == nil {
		_, err = s.CloseAndRecv()
	}
	if err != nil {
		return fmt.Errorf("flovyn: stream agent data: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Child agents
// ---------------------------------------------------------------------------

// SpawnChildAgent creates a child agent execution of kind and returns its
// id. It is not idempotent: an agent that may be resumed should keep the
// ids of its children in its state.
func (c *AgentContext) SpawnChildAgent(kind string, input any, opts SpawnOptions) (string, error) {
	payload, err := encode(input)
	if err != nil {
		return "", err
	}
	req := &flovynv1.SpawnChildAgentRequest{OrgId: c.OrgID(), ParentExecutionId: c.ID(), AgentKind: kind, Input: payload,
		Mode: opts.Mode, Tools: opts.Tools}
	if req.Mode == "" {
		req.Mode = "REMOTE"
	}
	if opts.Queue != "" {
		req.Queue = &opts.Queue
	}
	if opts.SystemPrompt != "" {
		req.SystemPrompt = &opts.SystemPrompt
	}
	if opts.Model != "" {
		req.Model = &opts.Model
	}
	if opts.MaxBudgetTokens > 0 {
		req.MaxBudgetTokens = &opts.MaxBudgetTokens
	}
	if opts.Template != "" {
		req.TemplateSlug = &opts.Template
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return "", ErrAgentStopped
	}
	resp, err := c.ad.SpawnChildAgent(c.goctx, req)
	if err != nil {
		return "", fmt.Errorf("flovyn: spawn child agent %q: %w", kind, err)
	}
	if _, err := uuid.Parse(resp.GetChildExecutionId()); err != nil {
		return "", fmt.Errorf("flovyn: spawn child agent: server returned id %q", resp.GetChildExecutionId())
	}
	return resp.GetChildExecutionId(), nil
}

// SignalChild sends a signal to one of this agent's children; delivered is
// false when the child has ended.
func (c *AgentContext) SignalChild(childID, name string, payload any) (delivered bool, err error) {
	p, err := encode(payload)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false, ErrAgentStopped
	}
	resp, err := c.ad.SendChildSignal(c.goctx, &flovynv1.SendChildSignalRequest{OrgId: c.OrgID(), ParentExecutionId: c.ID(),
		ChildExecutionId: childID, SignalName: name, Payload: p})
	if err != nil {
		return false, fmt.Errorf("flovyn: signal child %s: %w", childID, err)
	}
	return resp.GetDelivered(), nil
}

// CancelChild asks a child to stop by sending it a "cancel" signal (null
// payload); the child decides what to do with it.
func (c *AgentContext) CancelChild(childID string) error {
	_, err := c.SignalChild(childID, "cancel", nil)
	return err
}

// SignalParent sends a signal to this agent's parent; delivered is false
// when the parent has ended. It is an error for an agent without a parent.
func (c *AgentContext) SignalParent(name string, payload any) (delivered bool, err error) {
	if c.ParentID() == "" {
		return false, errors.New("flovyn: this agent has no parent to signal")
	}
	p, err := encode(payload)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false, ErrAgentStopped
	}
	resp, err := c.ad.SendParentSignal(c.goctx, &flovynv1.SendParentSignalRequest{OrgId: c.OrgID(), ChildExecutionId: c.ID(),
		SignalName: name, Payload: p})
	if err != nil {
		return false, fmt.Errorf("flovyn: signal parent: %w", err)
	}
	return resp.GetDelivered(), nil
}

// PollChildEvents returns what happened to the given children (all of this
// agent's children when none is given) without waiting: a completed or
// failed event for each child that has ended, every time, then the signals
// the children sent since the last call (consumed by this call).
func (c *AgentContext) PollChildEvents(childIDs ...string) ([]ChildEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, ErrAgentStopped
	}
	return c.pollChildren(childIDs)
}

func (c *AgentContext) pollChildren(childIDs []string) ([]ChildEvent, error) {
	resp, err := c.ad.PollChildEvents(c.goctx, &flovynv1.PollChildEventsRequest{OrgId: c.OrgID(), ParentExecutionId: c.ID(),
		ChildExecutionIds: childIDs})
	if err != nil {
		return nil, fmt.Errorf("flovyn: poll child events: %w", err)
	}
	out := make([]ChildEvent, 0, len(resp.GetEvents()))
	for _, e := range resp.GetEvents() {
		ev := ChildEvent{ChildID: e.GetChildExecutionId(), Type: e.GetEventType()}
		switch ev.Type {
		case ChildCompleted:
			ev.Output = signalValue(e.GetOutput())
		case ChildFailed:
			ev.Error = e.GetError()
		case ChildSignal:
			ev.SignalName, ev.Payload = e.GetSignalName(), signalValue(e.GetSignalPayload())
		default:
			ev.Type, ev.Error = ChildFailed, "Unknown event type: "+e.GetEventType()
		}
		out = append(out, ev)
	}
	return out, nil
}

// JoinChildren waits until every listed child has ended and returns the
// events polled then (one completed or failed event per child, plus any
// signals they sent). Until then it suspends the agent
// (wait_for_all_children).
func (c *AgentContext) JoinChildren(childIDs ...string) ([]ChildEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, ErrAgentStopped
	}
	if len(childIDs) == 0 {
		return nil, nil
	}
	events, err := c.pollChildren(childIDs)
	if err != nil {
		return nil, err
	}
	ended := map[string]bool{}
	for _, e := range events {
		if e.Type != ChildSignal {
			ended[e.ChildID] = true
		}
	}
	all := true
	for _, id := range childIDs {
		all = all && ended[id]
	}
	if all {
		return events, nil
	}
	reason := "Waiting for all children to complete"
	return nil, c.suspend(&flovynv1.SuspendAgentRequest{
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForAllChildren{WaitForAllChildren: &flovynv1.WaitForAllChildren{ChildExecutionIds: childIDs}},
		Reason:        &reason,
	})
}

// SelectChild returns the first event of the listed children (one ended or
// sent a signal); when there is none yet it suspends the agent until there
// is (wait_for_child_event).
func (c *AgentContext) SelectChild(childIDs ...string) (ChildEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ChildEvent{}, ErrAgentStopped
	}
	if len(childIDs) == 0 {
		return ChildEvent{}, errors.New("flovyn: SelectChild needs at least one child")
	}
	events, err := c.pollChildren(childIDs)
	if err != nil {
		return ChildEvent{}, err
	}
	if len(events) > 0 {
		return events[0], nil
	}
	reason := "Waiting for any child event"
	return ChildEvent{}, c.suspend(&flovynv1.SuspendAgentRequest{
		WaitCondition: &flovynv1.SuspendAgentRequest_WaitForChildEvent{WaitForChildEvent: &flovynv1.WaitForChildEvent{ChildExecutionIds: childIDs}},
		Reason:        &reason,
	})
}
