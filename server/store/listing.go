package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The read-side queries of the admin API: lists and details that no rule
// of the engine needs.

// Cursor is the position after which a page of executions starts: the
// last row of the previous page in (created_at DESC, id) order.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// WorkflowFilter selects a tenant's workflow executions. Empty fields do
// not filter.
type WorkflowFilter struct {
	Tenant   uuid.UUID
	Statuses []string
	Kind     string
	Queue    string
	// Metadata holds key/value pairs that must all be in a workflow's metadata.
	Metadata      map[string]string
	CreatedAfter  *time.Time // inclusive
	CreatedBefore *time.Time // exclusive
	// IDPrefix keeps the executions whose id, as text, starts with it; only
	// lower-case hex digits and dashes are allowed.
	IDPrefix string
	After    *Cursor
	Limit    int
}

// workflowSummaryColumns are workflowColumns without the payloads: a list
// never carries inputs or outputs, however many rows it has.
var workflowSummaryColumns = strings.NewReplacer("input,", "NULL::json,", "output,", "NULL::json,").Replace(workflowColumns)

// ListWorkflows returns one page of a tenant's workflow executions, newest
// first (created_at DESC, then id), and whether more rows follow, as
// summaries: Input and Output are nil. It reads the (tenant_id, created_at
// DESC, id) index; a metadata filter uses the GIN index on metadata.
func (s *Store) ListWorkflows(ctx context.Context, f WorkflowFilter) ([]Workflow, bool, error) {
	if f.Limit <= 0 {
		return nil, false, fmt.Errorf("list workflows: limit must be positive")
	}
	conds := []string{"tenant_id = $1"}
	args := []any{f.Tenant}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if len(f.Statuses) > 0 {
		conds = append(conds, "status = ANY("+arg(f.Statuses)+"::text[])")
	}
	if f.Kind != "" {
		conds = append(conds, "kind = "+arg(f.Kind))
	}
	if f.Queue != "" {
		conds = append(conds, "queue = "+arg(f.Queue))
	}
	if len(f.Metadata) > 0 {
		b, err := json.Marshal(f.Metadata)
		if err != nil {
			return nil, false, err
		}
		conds = append(conds, "metadata @> "+arg(string(b))+"::jsonb")
	}
	if f.CreatedAfter != nil {
		conds = append(conds, "created_at >= "+arg(*f.CreatedAfter))
	}
	if f.CreatedBefore != nil {
		conds = append(conds, "created_at < "+arg(*f.CreatedBefore))
	}
	if f.IDPrefix != "" {
		if strings.Trim(f.IDPrefix, "0123456789abcdef-") != "" {
			return nil, false, fmt.Errorf("list workflows: id prefix %q has characters other than hex digits and dashes", f.IDPrefix)
		}
		conds = append(conds, "id::text LIKE "+arg(f.IDPrefix+"%"))
	}
	if f.After != nil {
		conds = append(conds, f.After.condition(arg))
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+workflowSummaryColumns+` FROM workflow_executions WHERE `+strings.Join(conds, " AND ")+
			` ORDER BY created_at DESC, id LIMIT `+arg(f.Limit+1), args...)
	if err != nil {
		return nil, false, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Workflow, error) { return scanWorkflow(r) })
	return page(list, f.Limit, err)
}

// condition is the SQL that keeps the rows after c, its values bound by arg.
func (c *Cursor) condition(arg func(any) string) string {
	t, id := arg(c.CreatedAt), arg(c.ID)
	return fmt.Sprintf("created_at <= %s AND (created_at < %s OR id > %s)", t, t, id)
}

// page cuts a list fetched with limit+1 rows to limit, reporting whether
// there was more.
func page[T any](list []T, limit int, err error) ([]T, bool, error) {
	if err != nil {
		return nil, false, err
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}

// ChildrenOf returns a workflow's child executions, oldest first, as
// summaries (no payloads).
func (s *Store) ChildrenOf(ctx context.Context, tenant, parent uuid.UUID) ([]Workflow, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+workflowSummaryColumns+` FROM workflow_executions WHERE tenant_id = $2 AND parent_id = $1
		 ORDER BY created_at, id`, parent, tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Workflow, error) { return scanWorkflow(r) })
}

// WorkflowStateAll returns every state key of a workflow with its value.
func (s *Store) WorkflowStateAll(ctx context.Context, tenant, workflow uuid.UUID) (map[string]json.RawMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM workflow_state WHERE tenant_id = $2 AND workflow_id = $1`, workflow, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	state := map[string]json.RawMessage{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		state[k] = v
	}
	return state, rows.Err()
}

// TaskAttempt is one dispatch of a task to a worker.
type TaskAttempt struct {
	Attempt    int32
	WorkerID   string
	Status     string // RUNNING, COMPLETED, FAILED, CANCELLED or LOST
	Error      *string
	StartedAt  time.Time
	FinishedAt *time.Time
}

// TaskDetail is a task with what the admin API shows besides its dispatch
// state: progress, timestamps and attempts.
type TaskDetail struct {
	Task
	Progress        *float64
	ProgressDetails *string
	StartedAt       *time.Time
	UpdatedAt       time.Time
	CompletedAt     *time.Time
	Attempts        []TaskAttempt
}

// taskSummaryColumns are taskColumns without the payloads.
var taskSummaryColumns = strings.NewReplacer("input,", "NULL::json,", "output,", "NULL::json,").Replace(taskColumns)

// taskResultColumns are taskColumns without the input.
var taskResultColumns = strings.Replace(taskColumns, "input,", "NULL::json,", 1)

// TasksOfWorkflow returns a workflow's tasks in the order they were
// scheduled, each with its attempts, as summaries: Input and Output are nil.
func (s *Store) TasksOfWorkflow(ctx context.Context, tenant, workflow uuid.UUID) ([]TaskDetail, error) {
	return s.taskDetails(ctx, tenant, `SELECT `+taskSummaryColumns+`, progress, progress_details, started_at, updated_at, completed_at
		 FROM tasks WHERE tenant_id = $1 AND workflow_id = $2 ORDER BY created_at, id`, workflow)
}

// TaskOfWorkflow returns one of a workflow's tasks with its payloads and attempts.
func (s *Store) TaskOfWorkflow(ctx context.Context, tenant, workflow, task uuid.UUID) (TaskDetail, error) {
	tasks, err := s.taskDetails(ctx, tenant, `SELECT `+taskColumns+`, progress, progress_details, started_at, updated_at, completed_at
		 FROM tasks WHERE tenant_id = $1 AND workflow_id = $2 AND id = $3`, workflow, task)
	if err == nil && len(tasks) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return TaskDetail{}, err
	}
	return tasks[0], nil
}

// taskDetails runs a query of tasks of tenant ($1) and adds their attempts.
func (s *Store) taskDetails(ctx context.Context, tenant uuid.UUID, query string, args ...any) ([]TaskDetail, error) {
	rows, err := s.pool.Query(ctx, query, append([]any{tenant}, args...)...)
	if err != nil {
		return nil, err
	}
	tasks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TaskDetail, error) {
		var d TaskDetail
		var input, output []byte
		err := r.Scan(&d.ID, &d.TenantID, &d.WorkflowID, &d.Kind, &d.Queue, &d.Status, &input, &output, &d.Error,
			&d.ExecutionCount, &d.MaxRetries, &d.TimeoutMs, &d.WorkerID, &d.CreatedAt,
			&d.Progress, &d.ProgressDetails, &d.StartedAt, &d.UpdatedAt, &d.CompletedAt)
		d.Input, d.Output = input, output
		return d, err
	})
	if err != nil || len(tasks) == 0 {
		return tasks, err
	}
	index := make(map[uuid.UUID]int, len(tasks))
	ids := make([]uuid.UUID, len(tasks))
	for i, t := range tasks {
		index[t.ID] = i
		ids[i] = t.ID
		tasks[i].Attempts = []TaskAttempt{}
	}
	rows, err = s.pool.Query(ctx,
		`SELECT task_id, attempt, worker_id, status, error, started_at, finished_at
		 FROM task_attempts WHERE tenant_id = $2 AND task_id = ANY($1) ORDER BY task_id, attempt`, ids, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var a TaskAttempt
		if err := rows.Scan(&id, &a.Attempt, &a.WorkerID, &a.Status, &a.Error, &a.StartedAt, &a.FinishedAt); err != nil {
			return nil, err
		}
		i := index[id]
		tasks[i].Attempts = append(tasks[i].Attempts, a)
	}
	return tasks, rows.Err()
}

// WorkerInfo is a registered worker with its registration and last-seen times.
type WorkerInfo struct {
	Worker
	RegisteredAt time.Time
	LastSeenAt   time.Time
}

// ListWorkers returns a tenant's registered workers, most recently seen
// first, with their capabilities.
func (s *Store) ListWorkers(ctx context.Context, tenant uuid.UUID) ([]WorkerInfo, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT id, tenant_id, name, version, worker_type, host_name, process_id, metadata, registered_at, last_seen_at
		 FROM workers WHERE tenant_id = $1 ORDER BY last_seen_at DESC, name`, tenant)
	if err != nil {
		return nil, err
	}
	workers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WorkerInfo, error) {
		var w WorkerInfo
		err := r.Scan(&w.ID, &w.TenantID, &w.Name, &w.Version, &w.Type, &w.HostName, &w.ProcessID, &w.Metadata,
			&w.RegisteredAt, &w.LastSeenAt)
		return w, err
	})
	if err != nil || len(workers) == 0 {
		return workers, err
	}
	index := make(map[uuid.UUID]int, len(workers))
	ids := make([]uuid.UUID, len(workers))
	for i, w := range workers {
		index[w.ID] = i
		ids[i] = w.ID
		workers[i].Capability = []Capability{}
	}
	rows, err = s.pool.Query(ctx,
		`SELECT worker_id, capability_type, kind, version, content_hash FROM worker_capabilities
		 WHERE worker_id = ANY($1) ORDER BY worker_id, capability_type, kind`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var c Capability
		if err := rows.Scan(&id, &c.Type, &c.Kind, &c.Version, &c.ContentHash); err != nil {
			return nil, err
		}
		i := index[id]
		workers[i].Capability = append(workers[i].Capability, c)
	}
	return workers, rows.Err()
}

// CredentialByID returns a tenant's credential, revoked or not.
func (s *Store) CredentialByID(ctx context.Context, tenant, id uuid.UUID) (Credential, error) {
	return scanCredential(s.pool.QueryRow(ctx,
		`SELECT `+credentialColumns+` FROM credentials WHERE tenant_id = $1 AND id = $2`, tenant, id))
}
