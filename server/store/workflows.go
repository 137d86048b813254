package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Workflow statuses.
const (
	StatusPending   = "PENDING"
	StatusRunning   = "RUNNING"
	StatusWaiting   = "WAITING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
)

// Workflow is one workflow execution.
type Workflow struct {
	ID              uuid.UUID
	TenantID        uuid.UUID
	Kind            string
	Queue           string
	Status          string
	PrioritySeconds int32
	Input           json.RawMessage
	Output          json.RawMessage
	Error           *string
	Version         string
	Metadata        map[string]string
	ParentID        *uuid.UUID
	ParentChildName *string
	LastSequence    int32
	WakePending     bool
	CancelRequested bool
	WorkerID        *string
	TaskTimeMs      int64
	CreatedAt       time.Time
	StartedAt       *time.Time
	UpdatedAt       time.Time
	CompletedAt     *time.Time
	// HistoryBytes is the size of the event data in its history.
	HistoryBytes int64
}

// Terminal reports whether a status, of a workflow, a task or an agent, is
// an end: COMPLETED, FAILED or CANCELLED.
func Terminal(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// Terminal reports whether the workflow has ended.
func (w Workflow) Terminal() bool { return Terminal(w.Status) }

const workflowColumns = `id, tenant_id, kind, queue, status, priority_seconds, input, output, error, workflow_version,
	metadata, parent_id, parent_child_name, last_sequence, wake_pending, cancel_requested, worker_id,
	workflow_task_time_ms, created_at, started_at, updated_at, completed_at, history_bytes`

func scanWorkflow(row pgx.Row) (Workflow, error) {
	var w Workflow
	var input, output []byte
	err := row.Scan(&w.ID, &w.TenantID, &w.Kind, &w.Queue, &w.Status, &w.PrioritySeconds, &input, &output, &w.Error,
		&w.Version, &w.Metadata, &w.ParentID, &w.ParentChildName, &w.LastSequence, &w.WakePending, &w.CancelRequested,
		&w.WorkerID, &w.TaskTimeMs, &w.CreatedAt, &w.StartedAt, &w.UpdatedAt, &w.CompletedAt, &w.HistoryBytes)
	w.Input, w.Output = input, output
	return w, notFound(err)
}

// TaskTimeNow, as a workflow's TaskTimeMs, stores the database's time of
// the write: the time a workflow task is given comes from the one clock all
// replicas share.
const TaskTimeNow int64 = -1

// taskTime is the SQL for a task time parameter: TaskTimeNow means now().
func taskTime(param string) string {
	return `CASE WHEN ` + param + `::bigint < 0 THEN (extract(epoch FROM now()) * 1000)::bigint ELSE ` + param + ` END`
}

// jsonText passes a JSON payload to a json column; nil stays NULL.
func jsonText(b json.RawMessage) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// LockWorkflow reads a workflow, without its input and output (a change
// writes an output, never reads one), and locks its row until the
// transaction ends; every append to its history happens under this lock.
func (t *Tx) LockWorkflow(ctx context.Context, tenant, id uuid.UUID) (Workflow, error) {
	return scanWorkflow(t.tx.QueryRow(ctx,
		`SELECT `+workflowSummaryColumns+` FROM workflow_executions WHERE tenant_id = $2 AND id = $1 FOR UPDATE`, id, tenant))
}

// WorkflowParent returns a tenant's workflow's parent and the name the
// parent gave it (nil for a top-level workflow), without locking it.
func (t *Tx) WorkflowParent(ctx context.Context, tenant, id uuid.UUID) (parent *uuid.UUID, name *string, err error) {
	err = t.tx.QueryRow(ctx, `SELECT parent_id, parent_child_name FROM workflow_executions WHERE tenant_id = $1 AND id = $2`,
		tenant, id).Scan(&parent, &name)
	return parent, name, notFound(err)
}

// Workflow reads a workflow without locking it.
func (s *Store) Workflow(ctx context.Context, tenant, id uuid.UUID) (Workflow, error) {
	return scanWorkflow(s.pool.QueryRow(ctx,
		`SELECT `+workflowColumns+` FROM workflow_executions WHERE tenant_id = $2 AND id = $1`, id, tenant))
}

// WorkflowTenants returns the tenants that have a workflow with this id,
// for a server whose authentication is disabled: its requests name no
// tenant. It reads every tenant's rows.
func (s *Store) WorkflowTenants(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error) {
	return s.tenantsOf(ctx, "workflow_executions", id)
}

// WorkflowUpdate is the new state written back after a change.
type WorkflowUpdate struct {
	Status          string
	LastSequence    int32
	WakePending     bool
	CancelRequested bool
	Output          json.RawMessage
	Error           *string
	TaskTimeMs      int64
	// ReleaseWorker clears the worker and lease (the workflow task ended).
	ReleaseWorker bool
	// ClaimFor, when set, hands the workflow task to that waiting worker
	// in the same write (Status is then RUNNING): leased for Lease, as a
	// claim would.
	ClaimFor string
	Lease    time.Duration
}

// CreateWorkflow inserts w with its first events and the state u gives it,
// in one statement. An id already in use gives ErrConflict, without
// aborting the transaction (a replayed SCHEDULE_CHILD_WORKFLOW meets its
// child this way). With u.ClaimFor it returns the row as a claim does;
// otherwise nil.
func (t *Tx) CreateWorkflow(ctx context.Context, w Workflow, events []Event, u WorkflowUpdate) (*Workflow, error) {
	if w.Metadata == nil {
		w.Metadata = map[string]string{}
	}
	seqs, types, data, size := eventColumns(events)
	created, err := scanWorkflow(t.tx.QueryRow(ctx,
		`WITH created AS (
		     INSERT INTO workflow_executions (id, tenant_id, kind, queue, status, priority_seconds, dispatch_order, input,
		         workflow_version, metadata, parent_id, parent_child_name, workflow_task_time_ms, last_sequence, history_bytes,
		         worker_id, lease_expires_at, claimed_at, started_at)
		     VALUES ($1, $2, $3, $4, $5, $6, now() - $6::int * interval '1 second', $7::json, $8, $9, $10, $11, `+taskTime("$12")+`,
		         $13, $14, nullif($15, ''), CASE WHEN $15 <> '' THEN now() + $16::interval END,
		         CASE WHEN $15 <> '' THEN now() END, CASE WHEN $15 <> '' THEN now() END)
		     ON CONFLICT (tenant_id, id) DO NOTHING
		     RETURNING `+workflowColumns+`),
		 appended AS (
		     INSERT INTO workflow_events (tenant_id, workflow_id, sequence, event_type, event_data)
		     SELECT $2, $1, s, t, d::json FROM unnest($17::int[], $18::text[], $19::text[]) AS u(s, t, d)
		     WHERE EXISTS (SELECT 1 FROM created))
		 SELECT * FROM created`,
		w.ID, w.TenantID, w.Kind, w.Queue, u.Status, w.PrioritySeconds, jsonText(w.Input), w.Version, w.Metadata,
		w.ParentID, w.ParentChildName, u.TaskTimeMs, u.LastSequence, size, u.ClaimFor, u.Lease, seqs, types, data))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrConflict
	case err != nil || u.ClaimFor == "":
		return nil, err
	}
	return &created, nil
}

// eventColumns spreads events into the arrays the statements unnest, and
// sums their size.
func eventColumns(events []Event) (seqs []int32, types, data []string, size int) {
	seqs, types, data = make([]int32, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		seqs[i], types[i], data[i] = e.Sequence, e.Type, string(e.Data)
		size += EventSize(e)
	}
	return seqs, types, data, size
}

// SaveWorkflow appends events to a workflow and writes its new state in
// one statement. With u.ClaimFor it also claims the workflow task for that
// worker and returns the row as a claim does; otherwise the row is nil.
func (t *Tx) SaveWorkflow(ctx context.Context, tenant, id uuid.UUID, events []Event, u WorkflowUpdate) (*Workflow, error) {
	seqs, types, data, size := eventColumns(events)
	sql := `WITH appended AS (
		     INSERT INTO workflow_events (tenant_id, workflow_id, sequence, event_type, event_data)
		     SELECT $13, $1, s, t, d::json FROM unnest($10::int[], $11::text[], $12::text[]) AS u(s, t, d))
		 UPDATE workflow_executions SET status = $2, last_sequence = $3, wake_pending = $4 AND $15 = '', cancel_requested = $5,
		     output = coalesce($6::json, output), error = coalesce($7, error), workflow_task_time_ms = ` + taskTime("$8") + `,
		     worker_id = CASE WHEN $15 <> '' THEN $15 WHEN $9 THEN NULL ELSE worker_id END,
		     lease_expires_at = CASE WHEN $15 <> '' THEN now() + $16::interval WHEN $9 THEN NULL ELSE lease_expires_at END,
		     claimed_at = CASE WHEN $15 <> '' THEN now() ELSE claimed_at END,
		     started_at = CASE WHEN $15 <> '' THEN coalesce(started_at, now()) ELSE started_at END,
		     completed_at = CASE WHEN $2 IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN now() ELSE completed_at END,
		     history_bytes = history_bytes + $14, updated_at = now()
		 WHERE tenant_id = $13 AND id = $1`
	args := []any{id, u.Status, u.LastSequence, u.WakePending, u.CancelRequested, jsonText(u.Output), u.Error, u.TaskTimeMs,
		u.ReleaseWorker, seqs, types, data, tenant, size, u.ClaimFor, u.Lease}
	if u.ClaimFor == "" {
		_, err := t.tx.Exec(ctx, sql, args...)
		return nil, err
	}
	w, err := scanWorkflow(t.tx.QueryRow(ctx, sql+` RETURNING `+workflowColumns, args...))
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// ClaimWorkflow moves the first PENDING workflow of tenant+queue (of one of
// kinds, when kinds is not nil) to RUNNING for worker, with a lease (which
// ExtendLeases renews), and records when it was claimed.
func (s *Store) ClaimWorkflow(ctx context.Context, tenant uuid.UUID, queue string, kinds []string, worker string, lease time.Duration) (Workflow, error) {
	return scanWorkflow(s.pool.QueryRow(ctx,
		`UPDATE workflow_executions SET status = 'RUNNING', worker_id = $4, lease_expires_at = now() + $5::interval, claimed_at = now(),
		     started_at = coalesce(started_at, now()), wake_pending = false, updated_at = now()
		 WHERE tenant_id = $1 AND id = (SELECT id FROM workflow_executions
		             WHERE tenant_id = $1 AND queue = $2 AND status = 'PENDING' AND ($3::text[] IS NULL OR kind = ANY($3))
		             ORDER BY dispatch_order LIMIT 1 FOR UPDATE SKIP LOCKED)
		 RETURNING `+workflowColumns,
		tenant, queue, kinds, worker, lease))
}

// Event is one entry of a workflow's history.
type Event struct {
	Sequence  int32
	Type      string
	Data      json.RawMessage
	CreatedAt time.Time
}

// eventFraming bounds what protobuf adds around one event in a GetEvents
// response: the field tags, lengths and the sequence number.
const eventFraming = 24

// EventSize is what an event adds to a history's size: its bytes as
// GetEvents sends them. history_bytes adds these up.
func EventSize(e Event) int { return len(e.Data) + len(e.Type) + eventFraming }

// Events returns the history of a tenant's workflow in sequence order.
// Every workflow has at least its WORKFLOW_STARTED event, so no rows means
// no such workflow.
func (s *Store) Events(ctx context.Context, tenant, workflow uuid.UUID) ([]Event, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT sequence, event_type, event_data, created_at FROM workflow_events
		 WHERE tenant_id = $2 AND workflow_id = $1 ORDER BY sequence`, workflow, tenant)
	if err != nil {
		return nil, err
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var data []byte
		err := r.Scan(&e.Sequence, &e.Type, &data, &e.CreatedAt)
		e.Data = data
		return e, err
	})
	if err == nil && len(events) == 0 {
		return nil, ErrNotFound
	}
	return events, err
}

// SetWorkflowState upserts (or, with a nil value, deletes) a state key.
func (t *Tx) SetWorkflowState(ctx context.Context, tenant, workflow uuid.UUID, key string, value json.RawMessage) error {
	if value == nil {
		_, err := t.tx.Exec(ctx, `DELETE FROM workflow_state WHERE tenant_id = $3 AND workflow_id = $1 AND key = $2`, workflow, key, tenant)
		return err
	}
	_, err := t.tx.Exec(ctx,
		`INSERT INTO workflow_state (tenant_id, workflow_id, key, value) VALUES ($4, $1, $2, $3::json)
		 ON CONFLICT (tenant_id, workflow_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
		workflow, key, string(value), tenant)
	return err
}

// WorkflowState returns one state value of a workflow.
func (s *Store) WorkflowState(ctx context.Context, tenant, workflow uuid.UUID, key string) (json.RawMessage, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM workflow_state WHERE tenant_id = $3 AND workflow_id = $1 AND key = $2`,
		workflow, key, tenant).Scan(&v)
	return v, notFound(err)
}

// IdempotentWorkflow returns the workflow an unexpired key points at, locking the key row.
func (t *Tx) IdempotentWorkflow(ctx context.Context, tenant uuid.UUID, key string) (uuid.UUID, error) {
	var id uuid.UUID
	err := t.tx.QueryRow(ctx,
		`SELECT workflow_id FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at > now() FOR UPDATE`,
		tenant, key).Scan(&id)
	return id, notFound(err)
}

// PutIdempotencyKey points key at workflow until ttl from now (replacing an
// expired or superseded entry). A concurrent insert gives ErrConflict.
func (t *Tx) PutIdempotencyKey(ctx context.Context, tenant uuid.UUID, key string, workflow uuid.UUID, ttl time.Duration) error {
	tag, err := t.tx.Exec(ctx,
		`INSERT INTO idempotency_keys (tenant_id, key, workflow_id, expires_at) VALUES ($1, $2, $3, now() + $4::interval)
		 ON CONFLICT (tenant_id, key) DO UPDATE SET workflow_id = EXCLUDED.workflow_id, expires_at = EXCLUDED.expires_at,
		     created_at = now()
		 WHERE idempotency_keys.expires_at <= now()`,
		tenant, key, workflow, ttl)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrConflict
	}
	return nil
}

// ReplaceIdempotencyKey re-points a key (already locked) at workflow.
func (t *Tx) ReplaceIdempotencyKey(ctx context.Context, tenant uuid.UUID, key string, workflow uuid.UUID, ttl time.Duration) error {
	_, err := t.tx.Exec(ctx,
		`UPDATE idempotency_keys SET workflow_id = $3, expires_at = now() + $4::interval, created_at = now()
		 WHERE tenant_id = $1 AND key = $2`, tenant, key, workflow, ttl)
	return err
}

// ActiveChildrenOf returns the ids of a workflow's children that have not ended.
func (t *Tx) ActiveChildrenOf(ctx context.Context, tenant, parent uuid.UUID) ([]uuid.UUID, error) {
	rows, err := t.tx.Query(ctx,
		`SELECT id FROM workflow_executions
		 WHERE tenant_id = $2 AND parent_id = $1 AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')`, parent, tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}
