package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flovyn/flovyn/server/limits"
)

// Agent is one agent execution.
type Agent struct {
	ID                   uuid.UUID
	TenantID             uuid.UUID
	Kind                 string
	Queue                string
	Status               string
	Input                json.RawMessage
	Output               json.RawMessage
	Error                *string
	FailureType          *string
	Metadata             json.RawMessage
	ParentID             *uuid.UUID
	CurrentCheckpointSeq int32
	WaitKind             *string
	WaitSignal           *string
	WaitIDs              []uuid.UUID
	WaitReason           *string
	WorkerID             *string
	CreatedAt            time.Time
	StartedAt            *time.Time
	UpdatedAt            time.Time
	CompletedAt          *time.Time
}

// Terminal reports whether the execution has ended.
func (a *Agent) Terminal() bool { return Terminal(a.Status) }

// Wait kinds of a WAITING agent.
const (
	WaitSignal      = "signal"
	WaitTasksAll    = "tasks_all"
	WaitTasksAny    = "tasks_any"
	WaitChildrenAny = "children_any"
	WaitChildrenAll = "children_all"
)

const agentColumns = `id, tenant_id, kind, queue, status, input, output, error, failure_type, metadata, parent_id,
	current_checkpoint_seq, wait_kind, wait_signal, wait_ids, wait_reason, worker_id, created_at, started_at, updated_at, completed_at`

func scanAgent(row pgx.Row) (Agent, error) {
	var a Agent
	var input, output, md []byte
	err := row.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Queue, &a.Status, &input, &output, &a.Error, &a.FailureType, &md,
		&a.ParentID, &a.CurrentCheckpointSeq, &a.WaitKind, &a.WaitSignal, &a.WaitIDs, &a.WaitReason, &a.WorkerID,
		&a.CreatedAt, &a.StartedAt, &a.UpdatedAt, &a.CompletedAt)
	a.Input, a.Output, a.Metadata = input, output, md
	return a, notFound(err)
}

func collectAgents(rows pgx.Rows, err error) ([]Agent, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Agent, error) { return scanAgent(r) })
}

// InsertAgent creates a PENDING agent execution.
func (t *Tx) InsertAgent(ctx context.Context, a Agent) (Agent, error) {
	created, err := scanAgent(t.tx.QueryRow(ctx,
		`INSERT INTO agent_executions (tenant_id, id, kind, queue, status, input, metadata, parent_id)
		 VALUES ($1, $2, $3, $4, 'PENDING', $5::json, $6::json, $7)
		 RETURNING `+agentColumns,
		a.TenantID, a.ID, a.Kind, a.Queue, jsonText(a.Input), jsonText(a.Metadata), a.ParentID))
	if isUniqueViolation(err) {
		return Agent{}, ErrConflict
	}
	return created, err
}

// Agent reads an agent execution of tenant.
func (s *Store) Agent(ctx context.Context, tenant, id uuid.UUID) (Agent, error) {
	return scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agent_executions WHERE tenant_id = $1 AND id = $2`, tenant, id))
}

// AgentExists reports ErrNotFound unless the tenant has the execution; it
// reads nothing of it.
func (s *Store) AgentExists(ctx context.Context, tenant, id uuid.UUID) error {
	var one int
	return notFound(s.pool.QueryRow(ctx, `SELECT 1 FROM agent_executions WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&one))
}

// AgentTenants is TaskTenants for agent executions.
func (s *Store) AgentTenants(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error) {
	return s.tenantsOf(ctx, "agent_executions", id)
}

// LockAgent reads an agent execution of tenant and locks its row.
func (t *Tx) LockAgent(ctx context.Context, tenant, id uuid.UUID) (Agent, error) {
	return scanAgent(t.tx.QueryRow(ctx,
		`SELECT `+agentColumns+` FROM agent_executions WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE`, tenant, id))
}

// AgentFilter selects a tenant's agent executions for a list, newest
// first. Empty fields do not filter.
type AgentFilter struct {
	Tenant   uuid.UUID
	Statuses []string
	Kind     string
	Queue    string
	Parent   *uuid.UUID
	// IDPrefix keeps the executions whose id, as text, starts with it; only
	// lower-case hex digits and dashes are allowed.
	IDPrefix string
	After    *Cursor
	Limit    int
}

// ListAgents lists agent executions, reporting whether there are more.
func (s *Store) ListAgents(ctx context.Context, f AgentFilter) ([]Agent, bool, error) {
	if f.Limit <= 0 {
		return nil, false, fmt.Errorf("list agents: limit must be positive")
	}
	if strings.Trim(f.IDPrefix, "0123456789abcdef-") != "" {
		return nil, false, fmt.Errorf("list agents: id prefix %q has characters other than hex digits and dashes", f.IDPrefix)
	}
	var statuses []string
	if len(f.Statuses) > 0 {
		statuses = f.Statuses
	}
	args := []any{f.Tenant, statuses, f.Kind, f.Queue, f.Parent, f.Limit + 1, f.IDPrefix}
	after := "true"
	if f.After != nil {
		after = f.After.condition(func(v any) string {
			args = append(args, v)
			return fmt.Sprintf("$%d", len(args))
		})
	}
	list, err := collectAgents(s.pool.Query(ctx,
		`SELECT `+agentColumns+` FROM agent_executions
		 WHERE tenant_id = $1 AND ($2::text[] IS NULL OR status = ANY($2)) AND ($3 = '' OR kind = $3)
		     AND ($4 = '' OR queue = $4) AND ($5::uuid IS NULL OR parent_id = $5) AND ($7 = '' OR id::text LIKE $7 || '%')
		     AND `+after+`
		 ORDER BY created_at DESC, id LIMIT $6`, args...))
	return page(list, f.Limit, err)
}

// ClaimAgent moves the first PENDING agent execution of tenant+queue (of
// one of kinds, when kinds is not nil) to RUNNING for worker.
func (s *Store) ClaimAgent(ctx context.Context, tenant uuid.UUID, queue string, kinds []string, worker string, lease time.Duration) (Agent, error) {
	return scanAgent(s.pool.QueryRow(ctx, claimAgentSQL(`(SELECT id FROM agent_executions
		 WHERE tenant_id = $1 AND queue = $4 AND status = 'PENDING' AND ($5::text[] IS NULL OR kind = ANY($5))
		 ORDER BY dispatch_order LIMIT 1 FOR UPDATE SKIP LOCKED)`),
		tenant, worker, lease, queue, kinds))
}

// ClaimAgentByID is ClaimAgent of one execution the transaction just made
// PENDING, handing it to a worker waiting for it.
func (t *Tx) ClaimAgentByID(ctx context.Context, tenant, id uuid.UUID, worker string, lease time.Duration) (Agent, error) {
	return scanAgent(t.tx.QueryRow(ctx, claimAgentSQL(`$4 AND status = 'PENDING'`), tenant, worker, lease, id))
}

// claimAgentSQL claims the execution the condition selects ($1 tenant, $2
// worker, $3 lease, then the condition's own).
func claimAgentSQL(which string) string {
	return `UPDATE agent_executions SET status = 'RUNNING', worker_id = $2, lease_expires_at = now() + $3::interval,
		     started_at = coalesce(started_at, now()), updated_at = now()
		 WHERE tenant_id = $1 AND id = ` + which + `
		 RETURNING ` + agentColumns
}

// UnclaimAgent undoes ClaimAgent for a poller that left before receiving
// the execution.
func (s *Store) UnclaimAgent(ctx context.Context, a Agent) error {
	_, err := s.pool.Exec(ctx,
		`UPDATE agent_executions SET status = 'PENDING', worker_id = NULL, lease_expires_at = NULL, updated_at = now()
		 WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING' AND worker_id = $3`, a.TenantID, a.ID, a.WorkerID)
	return err
}

// ResumeAgent moves a WAITING execution straight to RUNNING for worker.
func (t *Tx) ResumeAgent(ctx context.Context, tenant, id uuid.UUID, worker string, lease time.Duration) (Agent, error) {
	return scanAgent(t.tx.QueryRow(ctx,
		`UPDATE agent_executions SET status = 'RUNNING', worker_id = $3, lease_expires_at = now() + $4::interval,
		     wait_kind = NULL, wait_signal = NULL, wait_ids = NULL, wait_since = NULL, updated_at = now()
		 WHERE tenant_id = $1 AND id = $2 AND status = 'WAITING'
		 RETURNING `+agentColumns, tenant, id, worker, lease))
}

// AgentEnd is how an execution ends.
type AgentEnd struct {
	Status      string
	Output      json.RawMessage
	Error       *string
	FailureType *string
}

// EndAgent ends an execution.
func (t *Tx) EndAgent(ctx context.Context, tenant, id uuid.UUID, end AgentEnd) error {
	_, err := t.tx.Exec(ctx,
		`UPDATE agent_executions SET status = $3, output = $4::json, error = $5, failure_type = $6, worker_id = NULL,
		     lease_expires_at = NULL, wait_kind = NULL, wait_signal = NULL, wait_ids = NULL, wait_since = NULL,
		     completed_at = now(), updated_at = now()
		 WHERE tenant_id = $1 AND id = $2`, tenant, id, end.Status, jsonText(end.Output), end.Error, end.FailureType)
	return err
}

// AgentWait is what a suspended execution waits for.
type AgentWait struct {
	Kind   string
	Signal string
	IDs    []uuid.UUID
	Reason *string
}

// SuspendAgent makes an execution WAITING for w.
func (t *Tx) SuspendAgent(ctx context.Context, tenant, id uuid.UUID, w AgentWait) error {
	var signal *string
	if w.Kind == WaitSignal {
		signal = &w.Signal
	}
	_, err := t.tx.Exec(ctx,
		`UPDATE agent_executions SET status = 'WAITING', wait_kind = $3, wait_signal = $4, wait_ids = $5, wait_since = now(),
		     wait_reason = $6, worker_id = NULL, lease_expires_at = NULL, updated_at = now()
		 WHERE tenant_id = $1 AND id = $2`, tenant, id, w.Kind, signal, w.IDs, w.Reason)
	return err
}

// agentWaitHolds is the condition under which a WAITING execution (alias
// a) is woken; $3 is the task that just settled (or NULL), which counts
// for the ANY mode whatever the clocks of the two transactions say. Only
// the execution's own tasks and children count. ANY counts a success at
// any time, a failure or cancellation only after the suspension (the
// worker saw the earlier ones: counting them would wake a select_ok that
// saw only failures at once, again and again), and every listed task
// having ended (nothing more can come).
const agentWaitHolds = `(CASE a.wait_kind
	WHEN 'signal' THEN EXISTS (SELECT 1 FROM agent_signals s WHERE s.tenant_id = a.tenant_id AND s.agent_id = a.id
	    AND s.consumed_at IS NULL AND s.name = a.wait_signal)
	WHEN 'tasks_all' THEN NOT EXISTS (SELECT 1 FROM tasks t WHERE t.tenant_id = a.tenant_id AND t.id = ANY(a.wait_ids)
	    AND t.agent_execution_id = a.id AND t.status IN ('PENDING', 'RUNNING'))
	WHEN 'tasks_any' THEN $3::uuid = ANY(a.wait_ids)
	    OR EXISTS (SELECT 1 FROM tasks t WHERE t.tenant_id = a.tenant_id AND t.id = ANY(a.wait_ids) AND t.agent_execution_id = a.id
	        AND (t.status = 'COMPLETED' OR t.status IN ('FAILED', 'CANCELLED') AND t.completed_at >= a.wait_since))
	    OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.tenant_id = a.tenant_id AND t.id = ANY(a.wait_ids) AND t.agent_execution_id = a.id
	        AND t.status IN ('PENDING', 'RUNNING'))
	WHEN 'children_any' THEN EXISTS (SELECT 1 FROM agent_executions c WHERE c.tenant_id = a.tenant_id AND c.parent_id = a.id
	        AND (cardinality(a.wait_ids) = 0 OR c.id = ANY(a.wait_ids)) AND c.status IN ('COMPLETED', 'FAILED', 'CANCELLED'))
	    OR EXISTS (SELECT 1 FROM agent_signals s WHERE s.tenant_id = a.tenant_id AND s.agent_id = a.id
	        AND s.consumed_at IS NULL AND s.from_child IS NOT NULL AND (cardinality(a.wait_ids) = 0 OR s.from_child = ANY(a.wait_ids)))
	WHEN 'children_all' THEN NOT EXISTS (SELECT 1 FROM agent_executions c WHERE c.tenant_id = a.tenant_id AND c.parent_id = a.id
	    AND (cardinality(a.wait_ids) = 0 OR c.id = ANY(a.wait_ids)) AND c.status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED'))
	ELSE false END)`

// agentWake is the change that makes a WAITING execution PENDING again.
// It keeps its place in the queue (dispatch_order): an agent under way
// goes before those created after it.
const agentWake = `status = 'PENDING', wait_kind = NULL, wait_signal = NULL, wait_ids = NULL, wait_since = NULL,
	updated_at = now()`

// WakeAgentIfReady makes a WAITING execution of tenant PENDING when what it
// waits for holds (trigger, when not nil, is a task that just settled) and
// reports whether it did, and its queue. The caller holds the execution's row lock or
// does not need it: the statement locks the row itself.
func (t *Tx) WakeAgentIfReady(ctx context.Context, tenant, id uuid.UUID, trigger *uuid.UUID) (queue string, woke bool, err error) {
	err = t.tx.QueryRow(ctx,
		`UPDATE agent_executions a SET `+agentWake+`
		 WHERE a.tenant_id = $1 AND a.id = $2 AND a.status = 'WAITING' AND `+agentWaitHolds+`
		 RETURNING queue`, tenant, id, trigger).Scan(&queue)
	if err == pgx.ErrNoRows {
		return "", false, nil
	}
	return queue, err == nil, err
}

// WakeReadyAgents is the re-check under the wake-ups: it makes PENDING
// every WAITING execution whose condition holds (a wake-up lost, or one
// nothing announced, such as a task failed by its deadline), and every
// RUNNING one whose lease ran out. It returns them.
func (s *Store) WakeReadyAgents(ctx context.Context) ([]Agent, error) {
	return collectAgents(s.pool.Query(ctx,
		`UPDATE agent_executions a SET `+agentWake+`, worker_id = NULL, lease_expires_at = NULL
		 WHERE (a.tenant_id, a.id) IN (
		     SELECT a.tenant_id, a.id FROM agent_executions a
		     WHERE a.status = 'WAITING' AND `+strings.ReplaceAll(agentWaitHolds, "$3::uuid", "NULL::uuid")+`
		        OR a.status = 'RUNNING' AND a.lease_expires_at < now()
		     LIMIT 1000 FOR UPDATE SKIP LOCKED)
		 RETURNING `+agentColumns))
}

// AgentEntry is one entry of a conversation.
type AgentEntry struct {
	ID               uuid.UUID
	ParentID         *uuid.UUID
	EntryType        string
	Role             *string
	Content          json.RawMessage
	TurnID           *string
	InputTokens      *int64
	OutputTokens     *int64
	CacheReadTokens  *int64
	CacheWriteTokens *int64
	CreatedAt        time.Time
}

// AppendAgentEntry stores an entry; false when the execution has one with
// that id already (nothing changes).
func (t *Tx) AppendAgentEntry(ctx context.Context, tenant, agent uuid.UUID, e AgentEntry) (bool, error) {
	tag, err := t.tx.Exec(ctx,
		`INSERT INTO agent_entries (tenant_id, agent_id, id, parent_id, entry_type, role, content, turn_id,
		     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
		 VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10, $11, $12)
		 ON CONFLICT (tenant_id, agent_id, id) DO NOTHING`,
		tenant, agent, e.ID, e.ParentID, e.EntryType, e.Role, string(e.Content), e.TurnID,
		e.InputTokens, e.OutputTokens, e.CacheReadTokens, e.CacheWriteTokens)
	return tag.RowsAffected() == 1, err
}

// AgentEntries lists up to limit of an execution's entries in order,
// reporting whether there are more; after, when not nil, keeps only those
// appended after that entry (ErrNotFound when the execution has no such
// entry).
func (s *Store) AgentEntries(ctx context.Context, tenant, agent uuid.UUID, after *uuid.UUID, limit int) ([]AgentEntry, bool, error) {
	position := int64(0)
	if after != nil {
		err := s.pool.QueryRow(ctx, `SELECT position FROM agent_entries WHERE tenant_id = $1 AND agent_id = $2 AND id = $3`,
			tenant, agent, *after).Scan(&position)
		if err != nil {
			return nil, false, notFound(err)
		}
	}
	rows, err := s.pool.Query(ctx,
		`SELECT id, parent_id, entry_type, role, content, turn_id, input_tokens, output_tokens, cache_read_tokens,
		     cache_write_tokens, created_at
		 FROM agent_entries WHERE tenant_id = $1 AND agent_id = $2 AND position > $3
		 ORDER BY position LIMIT $4`, tenant, agent, position, limit+1)
	if err != nil {
		return nil, false, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentEntry, error) {
		var e AgentEntry
		var content []byte
		err := r.Scan(&e.ID, &e.ParentID, &e.EntryType, &e.Role, &content, &e.TurnID, &e.InputTokens, &e.OutputTokens,
			&e.CacheReadTokens, &e.CacheWriteTokens, &e.CreatedAt)
		e.Content = content
		return e, err
	})
	return page(list, limit, err)
}

// AgentCheckpoint is one checkpoint of an execution.
type AgentCheckpoint struct {
	ID           uuid.UUID
	AgentID      uuid.UUID
	Sequence     int32
	LeafEntryID  *uuid.UUID
	State        json.RawMessage
	InputTokens  *int64
	OutputTokens *int64
	CreatedAt    time.Time
}

// InsertAgentCheckpoint stores a checkpoint and makes it the execution's
// current one. The caller holds the execution's row lock.
func (t *Tx) InsertAgentCheckpoint(ctx context.Context, tenant uuid.UUID, c AgentCheckpoint) error {
	_, err := t.tx.Exec(ctx,
		`WITH cp AS (
		     INSERT INTO agent_checkpoints (tenant_id, agent_id, sequence, id, leaf_entry_id, state, input_tokens, output_tokens)
		     VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8))
		 UPDATE agent_executions SET current_checkpoint_seq = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
		tenant, c.AgentID, c.Sequence, c.ID, c.LeafEntryID, string(c.State), c.InputTokens, c.OutputTokens)
	return err
}

const checkpointColumns = `id, agent_id, sequence, leaf_entry_id, state, input_tokens, output_tokens, created_at`

func scanCheckpoint(r pgx.Row) (AgentCheckpoint, error) {
	var c AgentCheckpoint
	var state []byte
	err := r.Scan(&c.ID, &c.AgentID, &c.Sequence, &c.LeafEntryID, &state, &c.InputTokens, &c.OutputTokens, &c.CreatedAt)
	c.State = state
	return c, notFound(err)
}

// LatestAgentCheckpoint returns an execution's newest checkpoint.
func (s *Store) LatestAgentCheckpoint(ctx context.Context, tenant, agent uuid.UUID) (AgentCheckpoint, error) {
	return scanCheckpoint(s.pool.QueryRow(ctx,
		`SELECT `+checkpointColumns+` FROM agent_checkpoints WHERE tenant_id = $1 AND agent_id = $2
		 ORDER BY sequence DESC LIMIT 1`, tenant, agent))
}

// AgentCheckpoints lists up to limit of an execution's checkpoints after
// sequence after, in order and without their state, reporting whether
// there are more.
func (s *Store) AgentCheckpoints(ctx context.Context, tenant, agent uuid.UUID, after int32, limit int) ([]AgentCheckpoint, bool, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+strings.Replace(checkpointColumns, "state,", "NULL::json,", 1)+` FROM agent_checkpoints
		 WHERE tenant_id = $1 AND agent_id = $2 AND sequence > $3 ORDER BY sequence LIMIT $4`, tenant, agent, after, limit+1)
	if err != nil {
		return nil, false, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentCheckpoint, error) { return scanCheckpoint(r) })
	return page(list, limit, err)
}

// AgentSignal is a signal sent to an execution.
type AgentSignal struct {
	ID        uuid.UUID
	Name      string
	Value     json.RawMessage
	FromChild *uuid.UUID
	CreatedAt time.Time
}

// InsertAgentSignal stores a signal for an execution.
func (t *Tx) InsertAgentSignal(ctx context.Context, tenant, agent uuid.UUID, s AgentSignal) error {
	_, err := t.tx.Exec(ctx,
		`INSERT INTO agent_signals (tenant_id, agent_id, id, name, value, from_child) VALUES ($1, $2, $3, $4, $5::json, $6)`,
		tenant, agent, s.ID, s.Name, string(s.Value), s.FromChild)
	return err
}

// UnconsumedAgentSignals lists an execution's unconsumed signals in the
// order they came, of name when it is not empty, from one of children
// when that is not nil, and locks them.
func (t *Tx) UnconsumedAgentSignals(ctx context.Context, tenant, agent uuid.UUID, name string, children []uuid.UUID) ([]AgentSignal, error) {
	rows, err := t.tx.Query(ctx,
		`SELECT id, name, value, from_child, created_at FROM agent_signals
		 WHERE tenant_id = $1 AND agent_id = $2 AND consumed_at IS NULL AND ($3 = '' OR name = $3)
		     AND ($4::uuid[] IS NULL OR from_child = ANY($4))
		 ORDER BY position FOR UPDATE`, tenant, agent, name, children)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentSignal, error) {
		var s AgentSignal
		var v []byte
		err := r.Scan(&s.ID, &s.Name, &v, &s.FromChild, &s.CreatedAt)
		s.Value = v
		return s, err
	})
}

// ConsumeAgentSignals marks signals consumed.
func (t *Tx) ConsumeAgentSignals(ctx context.Context, tenant uuid.UUID, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := t.tx.Exec(ctx, `UPDATE agent_signals SET consumed_at = now() WHERE tenant_id = $1 AND id = ANY($2)`, tenant, ids)
	return err
}

// HasAgentSignal reports whether an execution has an unconsumed signal of name.
func (s *Store) HasAgentSignal(ctx context.Context, tenant, agent uuid.UUID, name string) (bool, error) {
	var has bool
	err := s.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM agent_signals WHERE tenant_id = $1 AND agent_id = $2 AND consumed_at IS NULL AND name = $3)`,
		tenant, agent, name).Scan(&has)
	return has, err
}

// InsertAgentTask creates a PENDING task owned by an agent execution (see
// InsertTask); false when the tenant has a task with that id already.
func (t *Tx) InsertAgentTask(ctx context.Context, task Task, agent uuid.UUID) (bool, error) {
	tag, err := t.tx.Exec(ctx,
		`INSERT INTO tasks (id, tenant_id, agent_execution_id, kind, queue, status, dispatch_order, input,
		     max_retries, timeout_ms, deadline_at)
		 VALUES ($1, $2, $3, $4, $5, 'PENDING', now(), $6::json, $7, $8,
		     CASE WHEN $8::bigint > 0 THEN now() + $8::bigint * interval '1 millisecond' END)
		 ON CONFLICT (tenant_id, id) DO NOTHING`,
		task.ID, task.TenantID, agent, task.Kind, task.Queue, jsonText(task.Input), task.MaxRetries, task.TimeoutMs)
	return tag.RowsAffected() == 1, err
}

// TaskAgent returns the agent execution a tenant's task belongs to (nil
// for none).
func (t *Tx) TaskAgent(ctx context.Context, tenant, id uuid.UUID) (*uuid.UUID, error) {
	var agent *uuid.UUID
	err := t.tx.QueryRow(ctx, `SELECT agent_execution_id FROM tasks WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&agent)
	return agent, notFound(err)
}

// AgentTask is a task of an agent, with what the agent reads of it.
type AgentTask struct {
	Task
	CompletedAt *time.Time
}

func scanAgentTask(r pgx.CollectableRow) (AgentTask, error) {
	var t AgentTask
	var input, output []byte
	err := r.Scan(&t.ID, &t.TenantID, &t.WorkflowID, &t.Kind, &t.Queue, &t.Status, &input, &output, &t.Error,
		&t.ExecutionCount, &t.MaxRetries, &t.TimeoutMs, &t.WorkerID, &t.CreatedAt, &t.CompletedAt)
	t.Input, t.Output = input, output
	return t, err
}

// AgentTaskResults returns those of an agent's tasks whose ids are in ids
// (in any order; unknown ids are missing), with their outputs but not
// their inputs. Outputs adding up to more than maxBytes (the engine passes
// max_history_bytes: one answer is bounded like one history) are a
// *limits.TooLargeError, and nothing more is read.
func (s *Store) AgentTaskResults(ctx context.Context, tenant, agent uuid.UUID, ids []uuid.UUID, maxBytes int) ([]AgentTask, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+taskResultColumns+`, completed_at FROM tasks
		 WHERE tenant_id = $1 AND agent_execution_id = $2 AND id = ANY($3)`, tenant, agent, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []AgentTask
	size := 0
	for rows.Next() {
		t, err := scanAgentTask(rows)
		if err != nil {
			return nil, err
		}
		if size += len(t.Output); size > maxBytes {
			return nil, &limits.TooLargeError{Field: "task_execution_ids", Limit: "max_history_bytes", Size: size, Max: maxBytes}
		}
		list = append(list, t)
	}
	return list, rows.Err()
}

// AgentTasks lists up to limit of an agent's tasks as summaries (no input
// or output) in the order they were scheduled, after the cursor,
// reporting whether there are more.
func (s *Store) AgentTasks(ctx context.Context, tenant, agent uuid.UUID, after *Cursor, limit int) ([]AgentTask, bool, error) {
	args := []any{tenant, agent, limit + 1}
	cond := "true"
	if after != nil {
		args = append(args, after.CreatedAt, after.ID)
		cond = "(created_at, id) > ($4, $5)"
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+taskSummaryColumns+`, completed_at FROM tasks
		 WHERE tenant_id = $1 AND agent_execution_id = $2 AND `+cond+` ORDER BY created_at, id LIMIT $3`, args...)
	if err != nil {
		return nil, false, err
	}
	list, err := pgx.CollectRows(rows, scanAgentTask)
	return page(list, limit, err)
}

// AgentTaskCount counts an agent's tasks.
func (s *Store) AgentTaskCount(ctx context.Context, tenant, agent uuid.UUID) (int32, error) {
	var n int32
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE tenant_id = $1 AND agent_execution_id = $2`, tenant, agent).Scan(&n)
	return n, err
}

// ActiveTasksOfAgent returns the ids of an agent's tasks that have not
// ended, locking them.
func (t *Tx) ActiveTasksOfAgent(ctx context.Context, tenant, agent uuid.UUID) ([]uuid.UUID, error) {
	return t.activeTasks(ctx, tenant, "agent_execution_id", agent)
}

// ChildAgents returns a parent's child executions: those of ids, or every
// one when ids is nil, oldest first.
func (s *Store) ChildAgents(ctx context.Context, tenant, parent uuid.UUID, ids []uuid.UUID) ([]Agent, error) {
	return collectAgents(s.pool.Query(ctx,
		`SELECT `+agentColumns+` FROM agent_executions WHERE tenant_id = $1 AND parent_id = $2 AND ($3::uuid[] IS NULL OR id = ANY($3))
		 ORDER BY created_at, id`, tenant, parent, ids))
}
