package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// Durable agents (reference/agents.md). An agent execution is its own row
// and status machine: PENDING (runnable) → RUNNING (held by one worker,
// leased like tasks while its connection lives) → WAITING (suspended until
// a signal, its tasks or its children) → PENDING again, until it ends
// COMPLETED, FAILED or CANCELLED. It is not replayed: a dispatched agent
// reads its entries and latest checkpoint. Its tasks are ordinary task
// rows linked to it, run by ordinary task workers; their ids are the SDK's
// UUIDv5 of the idempotency key, so the SDK can name them itself.

// ErrAgentNotRunnable is a request for an agent execution in a status
// that does not allow it (ResumeAgent of one not WAITING).
var ErrAgentNotRunnable = errors.New("agent execution is not waiting")

// maxWaitIDs bounds the tasks or children one suspension names.
const maxWaitIDs = 10_000

// agentRunnable makes an execution the transaction made PENDING
// claimable: handed to a poller waiting for its kind on this replica, or
// announced.
func (e *Engine) agentRunnable(ctx context.Context, tx *store.Tx, fx *effects, a Agent) error {
	return runnable(fx, notify.Key{Tenant: a.TenantID, Queue: a.Queue, Kind: notify.Agents}, a.Kind, func(worker string) (Agent, error) {
		return tx.ClaimAgentByID(ctx, a.TenantID, a.ID, worker, e.cfg.WorkerTimeout)
	})
}

// CreateAgentRequest starts an agent execution.
type CreateAgentRequest struct {
	Tenant   uuid.UUID
	Kind     string
	Input    json.RawMessage
	Queue    string
	Metadata json.RawMessage
	Parent   *uuid.UUID
}

// CreateAgent creates a PENDING agent execution and returns it.
func (e *Engine) CreateAgent(ctx context.Context, r CreateAgentRequest) (Agent, error) {
	if err := firstErr(limits.Name("kind", r.Kind), limits.OptionalName("queue", r.Queue), e.payload("input", r.Input),
		e.payload("metadata", r.Metadata)); err != nil {
		return Agent{}, err
	}
	if r.Queue == "" {
		r.Queue = DefaultQueue
	}
	if len(r.Input) == 0 {
		r.Input = json.RawMessage("null")
	}
	a := Agent{ID: uuid.New(), TenantID: r.Tenant, Kind: r.Kind, Queue: r.Queue, Input: r.Input, Metadata: r.Metadata, ParentID: r.Parent}
	// The answer is the row as created, PENDING: a poller woken by the
	// commit may claim it before the caller hears back.
	var created Agent
	err := e.change(ctx, func(tx *store.Tx, fx *effects) error {
		if r.Parent != nil {
			parent, err := tx.LockAgent(ctx, r.Tenant, *r.Parent)
			if err != nil {
				return err
			}
			if parent.Terminal() {
				return ErrTerminal
			}
		}
		var err error
		if created, err = tx.InsertAgent(ctx, a); err != nil {
			return err
		}
		return e.agentRunnable(ctx, tx, fx, created)
	})
	return created, err
}

// Agent returns one agent execution.
func (e *Engine) Agent(ctx context.Context, tenant, id uuid.UUID) (Agent, error) {
	a, err := e.st.Agent(ctx, tenant, id)
	return a, store.Refused(err)
}

// AgentTenant finds the tenant of an agent execution, for calls made with
// authentication disabled.
func (e *Engine) AgentTenant(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	return tenantOf(ctx, id, e.st.AgentTenants)
}

// ListAgents lists agent executions, newest first.
func (e *Engine) ListAgents(ctx context.Context, f AgentFilter) ([]Agent, bool, error) {
	list, more, err := e.st.ListAgents(ctx, f)
	return list, more, store.Refused(err)
}

// PollAgent claims a PENDING agent execution of tenant+queue for worker,
// waiting up to the poll hold for one to appear. Only the kinds in
// capabilities are offered; with none, the agent kinds the worker
// registered; with none of those either, any kind.
func (e *Engine) PollAgent(ctx context.Context, tenant uuid.UUID, queue, worker string, capabilities []string) (*Agent, error) {
	if len(capabilities) > maxCapabilities {
		return nil, invalid("agent_capabilities", "more than %d kinds", maxCapabilities)
	}
	for i, k := range capabilities {
		if err := limits.Name(fmt.Sprintf("agent_capabilities[%d]", i), k); err != nil {
			return nil, err
		}
	}
	return pollFor(ctx, e, notify.Agents, tenant, queue, worker, capabilities,
		func(queue string, kinds []string) (Agent, error) {
			return e.st.ClaimAgent(ctx, tenant, queue, kinds, worker, e.cfg.WorkerTimeout)
		},
		e.st.UnclaimAgent)
}

// ReclaimAgents makes PENDING the agent executions whose lease ran out and
// the WAITING ones whose condition holds, and announces them. The reclaim
// service runs it every recheck interval: the net under the wake-ups (a
// lost notification, a condition that came true in a race).
func (e *Engine) ReclaimAgents(ctx context.Context) ([]Agent, error) {
	woken, err := e.st.WakeReadyAgents(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range woken {
		e.hub.Notify(notify.Key{Tenant: a.TenantID, Queue: a.Queue, Kind: notify.Agents})
	}
	return woken, nil
}

// agentTaskSettled is told, in the transaction that ended task, that a
// task without a workflow has ended: when it is an agent's task, the agent
// wakes if it waits for it. CompleteTask, FailTask, CancelTask and the
// deadline loop call it.
func (e *Engine) agentTaskSettled(ctx context.Context, tx *store.Tx, fx *effects, task Task) error {
	agent, err := tx.TaskAgent(ctx, task.TenantID, task.ID)
	if err != nil || agent == nil {
		return err
	}
	_, err = e.wakeAgent(ctx, tx, fx, task.TenantID, *agent, &task.ID)
	return err
}

// wakeAgent makes a WAITING agent PENDING when what it waits for holds.
//
// The agent's row is locked before its wait is evaluated: two of its tasks
// (or children) ending at once would otherwise each see the other still
// running, as each statement sees only what had committed when it began,
// and neither would wake the agent. Under the lock, the second to get it
// looks after the first has committed.
func (e *Engine) wakeAgent(ctx context.Context, tx *store.Tx, fx *effects, tenant, id uuid.UUID, trigger *uuid.UUID) (woke bool, err error) {
	a, err := tx.LockAgent(ctx, tenant, id)
	if err != nil || a.Status != StatusWaiting {
		return false, err
	}
	if a.Queue, woke, err = tx.WakeAgentIfReady(ctx, tenant, id, trigger); !woke || err != nil {
		return false, err
	}
	return true, e.agentRunnable(ctx, tx, fx, a)
}

// liveAgent locks an agent execution that has not ended.
func liveAgent(ctx context.Context, tx *store.Tx, tenant, id uuid.UUID) (Agent, error) {
	a, err := tx.LockAgent(ctx, tenant, id)
	if err == nil && a.Terminal() {
		err = ErrTerminal
	}
	return a, err
}

// AgentEntries returns up to limit entries of an execution's conversation,
// after one entry when after is not nil, reporting whether there are more.
func (e *Engine) AgentEntries(ctx context.Context, tenant, id uuid.UUID, after *uuid.UUID, limit int) ([]AgentEntry, bool, error) {
	if err := e.st.AgentExists(ctx, tenant, id); err != nil {
		return nil, false, store.Refused(err)
	}
	entries, more, err := e.st.AgentEntries(ctx, tenant, id, after, limit)
	if errors.Is(err, ErrNotFound) {
		return nil, false, invalid("after_entry_id", "the execution has no entry %s", after)
	}
	return entries, more, store.Refused(err)
}

// EntryID is the id of an entry appended with an idempotency key: the key
// itself when it is a UUID (the SDK's keys are), else a UUID derived from it.
func EntryID(key string) uuid.UUID {
	if key == "" {
		return uuid.New()
	}
	if id, err := uuid.Parse(key); err == nil {
		return id
	}
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("agent-entry:"+key))
}

// AppendAgentEntry stores a conversation entry; a repeated idempotency key
// returns the entry stored first (existed true).
func (e *Engine) AppendAgentEntry(ctx context.Context, tenant, id uuid.UUID, entry AgentEntry, key string) (uuid.UUID, bool, error) {
	role, turn := "", ""
	if entry.Role != nil {
		role = *entry.Role
	}
	if entry.TurnID != nil {
		turn = *entry.TurnID
	}
	if err := firstErr(limits.Name("entry_type", entry.EntryType), limits.OptionalName("role", role),
		limits.OptionalName("turn_id", turn), limits.Text("idempotency_key", key, limits.MaxIdempotencyKey),
		e.payload("content", entry.Content)); err != nil {
		return uuid.Nil, false, err
	}
	content, err := Payload("content", entry.Content)
	if err != nil {
		return uuid.Nil, false, err
	}
	entry.Content = content
	// The SDK sends "MESSAGE" and reads entry types and roles in lower case.
	entry.EntryType = lower(entry.EntryType)
	if entry.Role != nil {
		r := lower(*entry.Role)
		entry.Role = &r
	}
	entry.ID = EntryID(key)
	var created bool
	err = e.change(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := liveAgent(ctx, tx, tenant, id); err != nil {
			return err
		}
		created, err = tx.AppendAgentEntry(ctx, tenant, id, entry)
		return err
	})
	return entry.ID, !created, err
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// LatestAgentCheckpoint returns an execution's newest checkpoint, or nil.
func (e *Engine) LatestAgentCheckpoint(ctx context.Context, tenant, id uuid.UUID) (*AgentCheckpoint, error) {
	if err := e.st.AgentExists(ctx, tenant, id); err != nil {
		return nil, store.Refused(err)
	}
	c, err := e.st.LatestAgentCheckpoint(ctx, tenant, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return &c, err
}

// AgentCheckpoints lists up to limit of an execution's checkpoints after
// sequence after, in sequence order and without their state, reporting
// whether there are more.
func (e *Engine) AgentCheckpoints(ctx context.Context, tenant, id uuid.UUID, after int32, limit int) ([]AgentCheckpoint, bool, error) {
	if err := e.st.AgentExists(ctx, tenant, id); err != nil {
		return nil, false, store.Refused(err)
	}
	list, more, err := e.st.AgentCheckpoints(ctx, tenant, id, after, limit)
	return list, more, store.Refused(err)
}

// SubmitAgentCheckpoint records a checkpoint with the next sequence number.
func (e *Engine) SubmitAgentCheckpoint(ctx context.Context, tenant, id uuid.UUID, c AgentCheckpoint) (uuid.UUID, int32, error) {
	if err := e.payload("state", c.State); err != nil {
		return uuid.Nil, 0, err
	}
	state, err := Payload("state", c.State)
	if err != nil {
		return uuid.Nil, 0, err
	}
	c.State, c.AgentID, c.ID = state, id, uuid.New()
	err = e.change(ctx, func(tx *store.Tx, _ *effects) error {
		a, err := liveAgent(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		c.Sequence = max(a.CurrentCheckpointSeq, 0) + 1
		return tx.InsertAgentCheckpoint(ctx, tenant, c)
	})
	return c.ID, c.Sequence, err
}

// ScheduleAgentTaskRequest creates a task owned by an agent execution.
type ScheduleAgentTaskRequest struct {
	Tenant, Agent  uuid.UUID
	Kind           string
	Queue          string
	MaxRetries     *int32
	TimeoutMs      *int64
	IdempotencyKey string
	Input          json.RawMessage
}

// AgentTaskID is the id of an agent task scheduled with an idempotency
// key: the SDK computes it the same way, and names the task by it.
func AgentTaskID(key string) uuid.UUID { return uuid.NewSHA1(uuid.NameSpaceOID, []byte(key)) }

// ScheduleAgentTask creates an agent's task (in the agent's queue unless
// told otherwise, 3 retries unless told otherwise); with an idempotency key
// already used by this agent it returns that task (created false).
func (e *Engine) ScheduleAgentTask(ctx context.Context, r ScheduleAgentTaskRequest) (uuid.UUID, bool, error) {
	if err := firstErr(limits.Name("task_kind", r.Kind), limits.OptionalName("queue", r.Queue),
		limits.Text("idempotency_key", r.IdempotencyKey, limits.MaxIdempotencyKey), e.payload("input", r.Input)); err != nil {
		return uuid.Nil, false, err
	}
	if err := optionalDuration("timeout_ms", r.TimeoutMs); err != nil {
		return uuid.Nil, false, err
	}
	input, err := Payload("input", r.Input)
	if err != nil {
		return uuid.Nil, false, err
	}
	task := Task{TenantID: r.Tenant, Kind: r.Kind, Queue: r.Queue, Input: input, MaxRetries: 3}
	if r.MaxRetries != nil {
		if *r.MaxRetries < 0 {
			return uuid.Nil, false, invalid("max_retries", "must not be negative")
		}
		task.MaxRetries = *r.MaxRetries
	}
	if r.TimeoutMs != nil && *r.TimeoutMs > 0 {
		task.TimeoutMs = r.TimeoutMs
	}
	task.ID = uuid.New()
	if r.IdempotencyKey != "" {
		task.ID = AgentTaskID(r.IdempotencyKey)
	}
	var created bool
	err = e.change(ctx, func(tx *store.Tx, fx *effects) error {
		a, err := liveAgent(ctx, tx, r.Tenant, r.Agent)
		if err != nil {
			return err
		}
		if task.Queue == "" {
			task.Queue = a.Queue
		}
		if created, err = tx.InsertAgentTask(ctx, task, r.Agent); err != nil {
			return err
		}
		if created {
			e.deadlineIn(fx, task.TimeoutMs)
			return e.taskRunnable(ctx, tx, fx, task)
		}
		owner, err := tx.TaskAgent(ctx, r.Tenant, task.ID)
		if err == nil && (owner == nil || *owner != r.Agent) {
			return invalid("idempotency_key", "its task id %s is taken by another task", task.ID)
		}
		return err
	})
	return task.ID, created, err
}

// AgentTaskResults returns the tasks ids of an agent, in the order asked;
// an id that is not one of the agent's tasks is ErrNotFound.
func (e *Engine) AgentTaskResults(ctx context.Context, tenant, agent uuid.UUID, ids []uuid.UUID) ([]AgentTask, error) {
	if err := e.st.AgentExists(ctx, tenant, agent); err != nil {
		return nil, store.Refused(err)
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	found, err := e.st.AgentTaskResults(ctx, tenant, agent, ids, e.cfg.MaxHistoryBytes)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]AgentTask, len(found))
	for _, t := range found {
		byID[t.ID] = t
	}
	out := make([]AgentTask, len(ids))
	for i, id := range ids {
		t, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("task %s: %w", id, ErrNotFound)
		}
		out[i] = t
	}
	return out, nil
}

// AgentTasks lists up to limit of an agent's tasks as summaries, in the
// order they were scheduled, after the cursor, reporting whether there are
// more.
func (e *Engine) AgentTasks(ctx context.Context, tenant, agent uuid.UUID, after *Cursor, limit int) ([]AgentTask, bool, error) {
	if err := e.st.AgentExists(ctx, tenant, agent); err != nil {
		return nil, false, store.Refused(err)
	}
	list, more, err := e.st.AgentTasks(ctx, tenant, agent, after, limit)
	return list, more, store.Refused(err)
}

// AgentTaskCount counts an agent's tasks.
func (e *Engine) AgentTaskCount(ctx context.Context, tenant, agent uuid.UUID) (int32, error) {
	if err := e.st.AgentExists(ctx, tenant, agent); err != nil {
		return 0, store.Refused(err)
	}
	return e.st.AgentTaskCount(ctx, tenant, agent)
}

// CancelAgentTask cancels an agent's task that has not ended (cancelled
// true, status CANCELLED) or reports the status it ended with. Its worker
// is not told; what that worker reports later changes nothing.
func (e *Engine) CancelAgentTask(ctx context.Context, tenant, agent, id uuid.UUID, reason string) (bool, string, error) {
	if err := limits.Message("reason", reason); err != nil {
		return false, "", err
	}
	if reason == "" {
		reason = "cancelled"
	}
	var cancelled bool
	var status string
	err := e.change(ctx, func(tx *store.Tx, fx *effects) error {
		owner, err := tx.TaskAgent(ctx, tenant, id)
		if err != nil {
			return err
		}
		if owner == nil || *owner != agent {
			return ErrNotFound
		}
		task, err := tx.LockTask(ctx, tenant, id)
		if err != nil {
			return err
		}
		if taskEnded(task) {
			cancelled, status = false, task.Status
			return nil
		}
		if err := tx.CancelTask(ctx, tenant, id, reason); err != nil {
			return err
		}
		cancelled, status = true, StatusCancelled
		task.Status = StatusCancelled
		return e.agentTaskSettled(ctx, tx, fx, task)
	})
	return cancelled, status, err
}

// CompleteAgent ends an execution with its output.
func (e *Engine) CompleteAgent(ctx context.Context, tenant, id uuid.UUID, output json.RawMessage) error {
	if err := e.payload("output", output); err != nil {
		return err
	}
	out, err := Payload("output", output)
	if err != nil {
		return err
	}
	return e.endAgent(ctx, tenant, id, store.AgentEnd{Status: StatusCompleted, Output: out}, false)
}

// FailAgent ends an execution as FAILED.
func (e *Engine) FailAgent(ctx context.Context, tenant, id uuid.UUID, msg, failureType string) error {
	if err := firstErr(limits.Message("error", msg), limits.OptionalName("failure_type", failureType)); err != nil {
		return err
	}
	end := store.AgentEnd{Status: StatusFailed, Error: &msg}
	if failureType != "" {
		end.FailureType = &failureType
	}
	return e.endAgent(ctx, tenant, id, end, false)
}

// CancelAgent cancels an execution from outside: it ends CANCELLED at once
// and its tasks that have not ended are cancelled. A worker holding it
// finds it ended at its next call. ended is false when it had ended already.
func (e *Engine) CancelAgent(ctx context.Context, tenant, id uuid.UUID, reason string) (bool, error) {
	if err := limits.Message("reason", reason); err != nil {
		return false, err
	}
	msg := "cancelled"
	if reason != "" {
		msg += ": " + reason
	}
	err := e.endAgent(ctx, tenant, id, store.AgentEnd{Status: StatusCancelled, Error: &msg}, true)
	if errors.Is(err, ErrTerminal) {
		return false, nil
	}
	return err == nil, err
}

func (e *Engine) endAgent(ctx context.Context, tenant, id uuid.UUID, end store.AgentEnd, cancelTasks bool) error {
	return e.change(ctx, func(tx *store.Tx, fx *effects) error {
		if cancelTasks {
			// Tasks first: a task's result locks the task, then its agent.
			tasks, err := tx.ActiveTasksOfAgent(ctx, tenant, id)
			if err != nil {
				return err
			}
			for _, t := range tasks {
				if err := tx.CancelTask(ctx, tenant, t, "agent execution cancelled"); err != nil {
					return err
				}
			}
		}
		a, err := liveAgent(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		if err := tx.EndAgent(ctx, tenant, id, end); err != nil {
			return err
		}
		if a.ParentID == nil {
			return nil
		}
		_, err = e.wakeAgent(ctx, tx, fx, tenant, *a.ParentID, nil)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
}

// SuspendAgent makes an execution WAITING until w holds. The condition is
// evaluated at once: what it waits for may have happened while the worker
// was on its way here, and the execution is then PENDING again at once.
func (e *Engine) SuspendAgent(ctx context.Context, tenant, id uuid.UUID, w AgentWait) error {
	switch w.Kind {
	case WaitSignal:
		if err := limits.Name("wait_for_signal", w.Signal); err != nil {
			return err
		}
	case WaitTasksAll, WaitTasksAny:
		if len(w.IDs) == 0 {
			return invalid("wait_for_tasks.task_ids", "required")
		}
	case WaitChildrenAll, WaitChildrenAny:
	default:
		return invalid("wait_condition", "required")
	}
	if len(w.IDs) > maxWaitIDs {
		return invalid("wait_condition", "more than %d ids", maxWaitIDs)
	}
	if w.IDs == nil {
		w.IDs = []uuid.UUID{}
	}
	if w.Reason != nil {
		if err := limits.Message("reason", *w.Reason); err != nil {
			return err
		}
	}
	return e.change(ctx, func(tx *store.Tx, fx *effects) error {
		if _, err := liveAgent(ctx, tx, tenant, id); err != nil {
			return err
		}
		if err := tx.SuspendAgent(ctx, tenant, id, w); err != nil {
			return err
		}
		_, err := e.wakeAgent(ctx, tx, fx, tenant, id, nil)
		return err
	})
}

// ResumeAgent moves a WAITING execution straight to RUNNING for worker;
// ErrAgentNotRunnable when it is not WAITING.
func (e *Engine) ResumeAgent(ctx context.Context, tenant, id uuid.UUID, worker string) (Agent, error) {
	if err := limits.OptionalName("worker_id", worker); err != nil {
		return Agent{}, err
	}
	var a Agent
	err := e.change(ctx, func(tx *store.Tx, _ *effects) error {
		cur, err := tx.LockAgent(ctx, tenant, id)
		if err != nil {
			return err
		}
		if cur.Status != StatusWaiting {
			return ErrAgentNotRunnable
		}
		a, err = tx.ResumeAgent(ctx, tenant, id, worker, e.cfg.WorkerTimeout)
		return err
	})
	return a, err
}

// SignalAgent delivers a signal, kept until consumed, and wakes the
// execution when it waits for it (resumed). fromChild is the child agent
// that sent it to its parent, or nil.
func (e *Engine) SignalAgent(ctx context.Context, tenant, id uuid.UUID, name string, value []byte, fromChild *uuid.UUID) (uuid.UUID, bool, error) {
	if err := firstErr(limits.Name("signal_name", name), e.payload("signal_value", value)); err != nil {
		return uuid.Nil, false, err
	}
	v, err := Payload("signal_value", value)
	if err != nil {
		return uuid.Nil, false, err
	}
	sig := AgentSignal{ID: uuid.New(), Name: name, Value: v, FromChild: fromChild}
	var resumed bool
	err = e.change(ctx, func(tx *store.Tx, fx *effects) error {
		if _, err := liveAgent(ctx, tx, tenant, id); err != nil {
			return err
		}
		if err := tx.InsertAgentSignal(ctx, tenant, id, sig); err != nil {
			return err
		}
		resumed, err = e.wakeAgent(ctx, tx, fx, tenant, id, nil)
		return err
	})
	return sig.ID, resumed, err
}

// ConsumeAgentSignals returns and marks consumed an execution's unconsumed
// signals, in the order they came: those matching pattern (a glob) when it
// is set, else those named name when it is set, else all.
func (e *Engine) ConsumeAgentSignals(ctx context.Context, tenant, id uuid.UUID, name, pattern string) ([]AgentSignal, error) {
	if err := firstErr(limits.OptionalName("signal_name", name), limits.OptionalName("signal_pattern", pattern)); err != nil {
		return nil, err
	}
	if pattern != "" {
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, invalid("signal_pattern", "not a valid glob pattern")
		}
		name = ""
	}
	var out []AgentSignal
	err := e.change(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := tx.LockAgent(ctx, tenant, id); err != nil {
			return err
		}
		all, err := tx.UnconsumedAgentSignals(ctx, tenant, id, name, nil)
		if err != nil {
			return err
		}
		out = out[:0]
		ids := make([]uuid.UUID, 0, len(all))
		for _, s := range all {
			if pattern != "" {
				if ok, _ := path.Match(pattern, s.Name); !ok {
					continue
				}
			}
			out = append(out, s)
			ids = append(ids, s.ID)
		}
		return tx.ConsumeAgentSignals(ctx, tenant, ids)
	})
	return out, err
}

// HasAgentSignal reports whether an unconsumed signal of name exists.
func (e *Engine) HasAgentSignal(ctx context.Context, tenant, id uuid.UUID, name string) (bool, error) {
	if err := limits.Name("signal_name", name); err != nil {
		return false, err
	}
	if err := e.st.AgentExists(ctx, tenant, id); err != nil {
		return false, store.Refused(err)
	}
	return e.st.HasAgentSignal(ctx, tenant, id, name)
}

// SendParentSignal delivers a child's signal to its parent; delivered is
// false when the child has no parent or the parent has ended.
func (e *Engine) SendParentSignal(ctx context.Context, tenant, child uuid.UUID, name string, payload []byte) (bool, error) {
	c, err := e.st.Agent(ctx, tenant, child)
	if err != nil {
		return false, store.Refused(err)
	}
	if c.ParentID == nil {
		return false, nil
	}
	_, _, err = e.SignalAgent(ctx, tenant, *c.ParentID, name, payload, &child)
	if errors.Is(err, ErrTerminal) || errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// SendChildSignal delivers a parent's signal to one of its children;
// delivered is false when the child has ended.
func (e *Engine) SendChildSignal(ctx context.Context, tenant, parent, child uuid.UUID, name string, payload []byte) (bool, error) {
	c, err := e.st.Agent(ctx, tenant, child)
	if err != nil {
		return false, store.Refused(err)
	}
	if c.ParentID == nil || *c.ParentID != parent {
		return false, ErrNotFound
	}
	_, _, err = e.SignalAgent(ctx, tenant, child, name, payload, nil)
	if errors.Is(err, ErrTerminal) {
		return false, nil
	}
	return err == nil, err
}

// ChildEvent is something that happened to a child agent.
type ChildEvent struct {
	ChildID    uuid.UUID
	Type       string // "completed", "failed" or "signal"
	Output     json.RawMessage
	Error      string
	SignalName string
	Payload    json.RawMessage
}

// PollChildEvents returns what happened to a parent's children (those of
// ids, or all): one "completed" or "failed" event per child that has
// ended, every time it is asked, then the signals those children sent the
// parent, which are consumed.
func (e *Engine) PollChildEvents(ctx context.Context, tenant, parent uuid.UUID, ids []uuid.UUID) ([]ChildEvent, error) {
	if len(ids) > maxWaitIDs {
		return nil, invalid("child_execution_ids", "more than %d ids", maxWaitIDs)
	}
	if err := e.st.AgentExists(ctx, tenant, parent); err != nil {
		return nil, store.Refused(err)
	}
	var filter []uuid.UUID
	if len(ids) > 0 {
		filter = ids
	}
	children, err := e.st.ChildAgents(ctx, tenant, parent, filter)
	if err != nil {
		return nil, err
	}
	var out []ChildEvent
	childIDs := make([]uuid.UUID, 0, len(children))
	for _, c := range children {
		childIDs = append(childIDs, c.ID)
		switch c.Status {
		case StatusCompleted:
			out = append(out, ChildEvent{ChildID: c.ID, Type: "completed", Output: c.Output})
		case StatusFailed, StatusCancelled:
			msg := c.Status
			if c.Error != nil {
				msg = *c.Error
			}
			out = append(out, ChildEvent{ChildID: c.ID, Type: "failed", Error: msg})
		}
	}
	if len(childIDs) == 0 {
		return out, nil
	}
	var signals []ChildEvent
	err = e.change(ctx, func(tx *store.Tx, _ *effects) error {
		sigs, err := tx.UnconsumedAgentSignals(ctx, tenant, parent, "", childIDs)
		if err != nil {
			return err
		}
		signals = signals[:0]
		ids := make([]uuid.UUID, 0, len(sigs))
		for _, s := range sigs {
			signals = append(signals, ChildEvent{ChildID: *s.FromChild, Type: "signal", SignalName: s.Name, Payload: s.Value})
			ids = append(ids, s.ID)
		}
		return tx.ConsumeAgentSignals(ctx, tenant, ids)
	})
	return append(out, signals...), err
}

// MaxPayloadBytes is the configured limit of one payload, for the edges
// that assemble a payload from pieces (ScheduleAgentTask's input chunks).
func (e *Engine) MaxPayloadBytes() int { return e.cfg.MaxPayloadBytes }
