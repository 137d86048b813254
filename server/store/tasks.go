package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Task is one task execution.
type Task struct {
	ID             uuid.UUID
	TenantID       uuid.UUID
	WorkflowID     *uuid.UUID
	Kind           string
	Queue          string
	Status         string
	Input          json.RawMessage
	Output         json.RawMessage
	Error          *string
	ExecutionCount int32
	MaxRetries     int32
	TimeoutMs      *int64
	WorkerID       *string
	CreatedAt      time.Time
}

const taskColumns = `id, tenant_id, workflow_id, kind, queue, status, input, output, error, execution_count,
	max_retries, timeout_ms, worker_id, created_at`

func scanTask(row pgx.Row) (Task, error) {
	var t Task
	var input, output []byte
	err := row.Scan(&t.ID, &t.TenantID, &t.WorkflowID, &t.Kind, &t.Queue, &t.Status, &input, &output, &t.Error,
		&t.ExecutionCount, &t.MaxRetries, &t.TimeoutMs, &t.WorkerID, &t.CreatedAt)
	t.Input, t.Output = input, output
	return t, notFound(err)
}

// InsertTask creates a PENDING task; one with a timeout gets its deadline,
// timeout_ms from now (database time). It reports false when the tenant has a
// task with that id already, in which case nothing changes: the caller
// decides whether that is a replay (LockTask tells whose task it is).
func (t *Tx) InsertTask(ctx context.Context, task Task, prioritySeconds int32) (bool, error) {
	tag, err := t.tx.Exec(ctx,
		`INSERT INTO tasks (id, tenant_id, workflow_id, kind, queue, status, priority_seconds, dispatch_order, input,
		     max_retries, timeout_ms, deadline_at)
		 VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, now() - $6::int * interval '1 second', $7::json, $8, $9,
		     CASE WHEN $9::bigint > 0 THEN now() + $9::bigint * interval '1 millisecond' END)
		 ON CONFLICT (tenant_id, id) DO NOTHING`,
		task.ID, task.TenantID, task.WorkflowID, task.Kind, task.Queue, prioritySeconds, jsonText(task.Input),
		task.MaxRetries, task.TimeoutMs)
	return tag.RowsAffected() == 1, err
}

// InsertClaimedTask is InsertTask of a task handed at once to a waiting
// worker: created RUNNING for it, leased, with its first attempt open, in
// one statement. It returns the task as a claim does, and false when the
// id exists already (nothing changes).
func (t *Tx) InsertClaimedTask(ctx context.Context, task Task, prioritySeconds int32, worker string, lease time.Duration) (Task, bool, error) {
	claimed, err := scanTask(t.tx.QueryRow(ctx,
		`WITH inserted AS (
		     INSERT INTO tasks (id, tenant_id, workflow_id, kind, queue, status, priority_seconds, dispatch_order, input,
		         max_retries, timeout_ms, deadline_at, worker_id, lease_expires_at, execution_count, started_at)
		     VALUES ($1, $2, $3, $4, $5, 'RUNNING', $6, now() - $6::int * interval '1 second', $7::json, $8, $9,
		         CASE WHEN $9::bigint > 0 THEN now() + $9::bigint * interval '1 millisecond' END,
		         $10, now() + $11::interval, 1, now())
		     ON CONFLICT (tenant_id, id) DO NOTHING
		     RETURNING `+taskColumns+`),
		 attempt AS (
		     INSERT INTO task_attempts (tenant_id, task_id, attempt, worker_id, status)
		     SELECT tenant_id, id, 1, $10, 'RUNNING' FROM inserted)
		 SELECT * FROM inserted`,
		task.ID, task.TenantID, task.WorkflowID, task.Kind, task.Queue, prioritySeconds, jsonText(task.Input),
		task.MaxRetries, task.TimeoutMs, worker, lease))
	if errors.Is(err, ErrNotFound) {
		return Task{}, false, nil
	}
	return claimed, err == nil, err
}

// ClaimTask moves the first claimable PENDING task of tenant+queue (of
// one of kinds, when kinds is not nil) to RUNNING for worker and records
// the attempt.
func (s *Store) ClaimTask(ctx context.Context, tenant uuid.UUID, queue string, kinds []string, worker string, lease time.Duration) (Task, error) {
	return scanTask(s.pool.QueryRow(ctx, claimTaskSQL(`(SELECT id FROM tasks
		 WHERE tenant_id = $1 AND queue = $4 AND status = 'PENDING'
		     AND (not_before IS NULL OR not_before <= now()) AND (deadline_at IS NULL OR deadline_at > now())
		     AND ($5::text[] IS NULL OR kind = ANY($5))
		 ORDER BY dispatch_order LIMIT 1 FOR UPDATE SKIP LOCKED)`),
		tenant, worker, lease, queue, kinds))
}

// ClaimTaskByID is ClaimTask of one task the transaction just made
// claimable, handing it to a worker waiting for it (ErrNotFound when it is
// not claimable after all).
func (t *Tx) ClaimTaskByID(ctx context.Context, tenant, id uuid.UUID, worker string, lease time.Duration) (Task, error) {
	return scanTask(t.tx.QueryRow(ctx, claimTaskSQL(`$4 AND status = 'PENDING'
		 AND (not_before IS NULL OR not_before <= now()) AND (deadline_at IS NULL OR deadline_at > now())`),
		tenant, worker, lease, id))
}

// claimTaskSQL claims the task the condition selects ($1 tenant, $2 worker,
// $3 lease, then the condition's own) and records its attempt.
func claimTaskSQL(which string) string {
	return `WITH claimed AS (
		     UPDATE tasks SET status = 'RUNNING', worker_id = $2, lease_expires_at = now() + $3::interval,
		         execution_count = execution_count + 1, started_at = now(), updated_at = now()
		     WHERE tenant_id = $1 AND id = ` + which + `
		     RETURNING ` + taskColumns + `),
		 attempt AS (
		     INSERT INTO task_attempts (tenant_id, task_id, attempt, worker_id, status)
		     SELECT tenant_id, id, execution_count, $2, 'RUNNING' FROM claimed
		     ON CONFLICT (tenant_id, task_id, attempt) DO UPDATE SET worker_id = EXCLUDED.worker_id, status = 'RUNNING', started_at = now())
		 SELECT * FROM claimed`
}

// LockTask reads a task of tenant and locks its row.
func (t *Tx) LockTask(ctx context.Context, tenant, id uuid.UUID) (Task, error) {
	return scanTask(t.tx.QueryRow(ctx,
		`SELECT `+taskColumns+` FROM tasks WHERE tenant_id = $2 AND id = $1 FOR UPDATE`, id, tenant))
}

// TaskWorkflow returns the workflow a tenant's task belongs to (nil for a
// standalone task), without locking the task.
func (t *Tx) TaskWorkflow(ctx context.Context, tenant, id uuid.UUID) (*uuid.UUID, error) {
	var wf *uuid.UUID
	err := t.tx.QueryRow(ctx, `SELECT workflow_id FROM tasks WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&wf)
	return wf, notFound(err)
}

// TaskTenants is WorkflowTenants for tasks.
func (s *Store) TaskTenants(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error) {
	return s.tenantsOf(ctx, "tasks", id)
}

// CompleteTask records a task's successful attempt in one statement: the
// task COMPLETED with output, its attempt closed. It returns the task as it
// was (without its input), and false when it had already ended (nothing
// changes); a task the tenant does not have is ErrNotFound.
func (t *Tx) CompleteTask(ctx context.Context, tenant, id uuid.UUID, output json.RawMessage) (Task, bool, error) {
	task, err := scanTask(t.tx.QueryRow(ctx,
		`WITH finished AS (
		     UPDATE tasks SET status = 'COMPLETED', output = $3::json, error = NULL, not_before = NULL, worker_id = NULL,
		         lease_expires_at = NULL, completed_at = now(), updated_at = now()
		     WHERE tenant_id = $1 AND id = $2 AND status IN ('PENDING', 'RUNNING')
		     RETURNING `+taskResultColumns+`),
		 attempt AS (
		     UPDATE task_attempts a SET status = 'COMPLETED', error = NULL, finished_at = now() FROM finished f
		     WHERE a.tenant_id = f.tenant_id AND a.task_id = f.id AND a.attempt = f.execution_count)
		 SELECT * FROM finished`, tenant, id, jsonText(output)))
	if !errors.Is(err, ErrNotFound) {
		return task, err == nil, err
	}
	var one int
	if err := t.tx.QueryRow(ctx, `SELECT 1 FROM tasks WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&one); err != nil {
		return Task{}, false, notFound(err)
	}
	return Task{}, false, nil
}

// FinishTask records the outcome of a task's current attempt: status
// COMPLETED, FAILED or CANCELLED ends the task; PENDING schedules another
// attempt no earlier than retryIn from now (database time).
func (t *Tx) FinishTask(ctx context.Context, task Task, status string, output json.RawMessage, errMsg *string, retryIn *time.Duration) error {
	attempt := status
	if status == StatusPending {
		attempt = StatusFailed
	}
	_, err := t.tx.Exec(ctx,
		`WITH finished AS (
		     UPDATE tasks SET status = $2, output = $3::json, error = $4, not_before = now() + $5::interval, worker_id = NULL,
		         lease_expires_at = NULL, completed_at = CASE WHEN $2 = 'PENDING' THEN NULL ELSE now() END, updated_at = now()
		     WHERE tenant_id = $8 AND id = $1)
		 UPDATE task_attempts SET status = $6, error = $4, finished_at = now()
		 WHERE tenant_id = $8 AND task_id = $1 AND attempt = $7`,
		task.ID, status, jsonText(output), errMsg, retryIn, attempt, task.ExecutionCount, task.TenantID)
	return err
}

// ActiveTasksOf returns the ids of a workflow's tasks that have not ended,
// locking them.
func (t *Tx) ActiveTasksOf(ctx context.Context, tenant, workflow uuid.UUID) ([]uuid.UUID, error) {
	return t.activeTasks(ctx, tenant, "workflow_id", workflow)
}

// activeTasks locks and returns the unfinished tasks whose owner column
// (workflow_id or agent_execution_id) is owner.
func (t *Tx) activeTasks(ctx context.Context, tenant uuid.UUID, column string, owner uuid.UUID) ([]uuid.UUID, error) {
	rows, err := t.tx.Query(ctx,
		`SELECT id FROM tasks WHERE tenant_id = $1 AND `+column+` = $2 AND status IN ('PENDING', 'RUNNING') FOR UPDATE`,
		tenant, owner)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// CancelTask marks a task CANCELLED.
func (t *Tx) CancelTask(ctx context.Context, tenant, id uuid.UUID, reason string) error {
	_, err := t.tx.Exec(ctx,
		`UPDATE tasks SET status = 'CANCELLED', error = $2, worker_id = NULL, lease_expires_at = NULL, completed_at = now(),
		     updated_at = now() WHERE tenant_id = $3 AND id = $1`, id, reason, tenant)
	return err
}

// UpdateTaskProgress stores a task's progress report.
func (s *Store) UpdateTaskProgress(ctx context.Context, tenant, id uuid.UUID, progress float64, details string) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE tasks SET progress = $3, progress_details = $4, updated_at = now()
		 WHERE tenant_id = $2 AND id = $1`, id, tenant, progress, details)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// AppendTaskLog stores a log line of a task.
func (s *Store) AppendTaskLog(ctx context.Context, tenant, id uuid.UUID, level, message string) error {
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO task_logs (tenant_id, task_id, level, message) SELECT tenant_id, id, $3, $4 FROM tasks WHERE tenant_id = $2 AND id = $1`,
		id, tenant, level, message)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// ReclaimTasks returns RUNNING tasks whose lease ran out to PENDING (their
// attempt is recorded as LOST) and returns their tenant and queue.
func (s *Store) ReclaimTasks(ctx context.Context) ([]Task, error) {
	rows, err := s.pool.Query(ctx,
		`WITH lost AS (
		     UPDATE tasks SET status = 'PENDING', worker_id = NULL, lease_expires_at = NULL, updated_at = now()
		     WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM tasks WHERE status = 'RUNNING' AND lease_expires_at < now()
		                               FOR UPDATE SKIP LOCKED)
		     RETURNING `+taskColumns+`),
		 attempts AS (
		     UPDATE task_attempts a SET status = 'LOST', finished_at = now() FROM lost
		     WHERE a.tenant_id = lost.tenant_id AND a.task_id = lost.id AND a.attempt = lost.execution_count AND a.status = 'RUNNING')
		 SELECT * FROM lost`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Task, error) { return scanTask(r) })
}

// WorkerRef names a polling worker: the worker id a poll carries is
// chosen by the client, so it means something only within its tenant.
type WorkerRef struct {
	Tenant uuid.UUID
	ID     string
}

// TaskRef names a task: task ids are unique within a tenant.
type TaskRef struct {
	Tenant uuid.UUID
	ID     uuid.UUID
}

func splitWorkers(workers []WorkerRef) ([]uuid.UUID, []string) {
	tenants, ids := make([]uuid.UUID, len(workers)), make([]string, len(workers))
	for i, w := range workers {
		tenants[i], ids[i] = w.Tenant, w.ID
	}
	return tenants, ids
}

// ExtendLeases renews, in one statement, the leases of the work held by
// workers, which are still connected: a task's to lease from now, a
// workflow task's too but never past workflowTaskLease after its claim.
// Tasks in except are left alone, and so is a lease that has already run
// out: that work is up for reclaim (after a database outage longer than
// the lease, say), and renewing it would race with the reclaim.
func (s *Store) ExtendLeases(ctx context.Context, workers []WorkerRef, except []TaskRef, lease, workflowTaskLease time.Duration) error {
	if len(workers) == 0 {
		return nil
	}
	tenants, ids := splitWorkers(workers)
	exTenants, exIDs := make([]uuid.UUID, len(except)), make([]uuid.UUID, len(except))
	for i, t := range except {
		exTenants[i], exIDs[i] = t.Tenant, t.ID
	}
	// A row another transaction holds is skipped, not waited for: it is
	// being changed (completed, woken), and a renewal that waited could
	// close a cycle with a transaction that locks a task and then its
	// workflow or agent (deadlock_timeout, a second, would break it). A
	// lease outlives several renewal rounds, so missing one is harmless.
	_, err := s.pool.Exec(ctx,
		`WITH w AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS w(tenant_id, worker_id)),
		 t AS (
		     UPDATE tasks SET lease_expires_at = now() + $3::interval
		     WHERE (tenant_id, id) IN (
		         SELECT t.tenant_id, t.id FROM tasks t JOIN w ON t.tenant_id = w.tenant_id AND t.worker_id = w.worker_id
		         WHERE t.status = 'RUNNING' AND t.lease_expires_at > now()
		             AND NOT EXISTS (SELECT 1 FROM unnest($4::uuid[], $5::uuid[]) AS x(tenant_id, id)
		                             WHERE x.tenant_id = t.tenant_id AND x.id = t.id)
		         FOR NO KEY UPDATE OF t SKIP LOCKED)),
		 ag AS (
		     UPDATE agent_executions SET lease_expires_at = now() + $3::interval
		     WHERE (tenant_id, id) IN (
		         SELECT a.tenant_id, a.id FROM agent_executions a JOIN w ON a.tenant_id = w.tenant_id AND a.worker_id = w.worker_id
		         WHERE a.status = 'RUNNING' AND a.lease_expires_at > now()
		         FOR NO KEY UPDATE OF a SKIP LOCKED))
		 UPDATE workflow_executions SET lease_expires_at = least(claimed_at + $6::interval, now() + $3::interval)
		 WHERE (tenant_id, id) IN (
		     SELECT x.tenant_id, x.id FROM workflow_executions x JOIN w ON x.tenant_id = w.tenant_id AND x.worker_id = w.worker_id
		     WHERE x.status = 'RUNNING' AND x.lease_expires_at > now()
		     FOR NO KEY UPDATE OF x SKIP LOCKED)`,
		tenants, ids, lease, exTenants, exIDs, workflowTaskLease)
	return err
}

// ReclaimWorkflows returns RUNNING workflows whose lease ran out to PENDING.
func (s *Store) ReclaimWorkflows(ctx context.Context) ([]Workflow, error) {
	rows, err := s.pool.Query(ctx,
		`UPDATE workflow_executions SET status = 'PENDING', worker_id = NULL, lease_expires_at = NULL, updated_at = now()
		 WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM workflow_executions
		                           WHERE status = 'RUNNING' AND lease_expires_at < now() FOR UPDATE SKIP LOCKED)
		 RETURNING `+workflowColumns)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Workflow, error) { return scanWorkflow(r) })
}

// ExpireLeases ends at once the leases of the tasks and workflow tasks held
// by workers, whose connection is gone, so they are reclaimed.
func (s *Store) ExpireLeases(ctx context.Context, workers []WorkerRef) error {
	if len(workers) == 0 {
		return nil
	}
	tenants, ids := splitWorkers(workers)
	_, err := s.pool.Exec(ctx,
		`WITH gone AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS w(tenant_id, worker_id)),
		 t AS (UPDATE tasks t SET lease_expires_at = now() FROM gone
		       WHERE t.tenant_id = gone.tenant_id AND t.worker_id = gone.worker_id AND t.status = 'RUNNING'),
		 ag AS (UPDATE agent_executions a SET lease_expires_at = now() FROM gone
		       WHERE a.tenant_id = gone.tenant_id AND a.worker_id = gone.worker_id AND a.status = 'RUNNING')
		 UPDATE workflow_executions w SET lease_expires_at = now() FROM gone
		 WHERE w.tenant_id = gone.tenant_id AND w.worker_id = gone.worker_id AND w.status = 'RUNNING'`, tenants, ids)
	return err
}

// Task reads a task of tenant.
func (s *Store) Task(ctx context.Context, tenant, id uuid.UUID) (Task, error) {
	return scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE tenant_id = $2 AND id = $1`, id, tenant))
}

// UnclaimTask undoes ClaimTask for a poller that left before receiving the
// task: the attempt did not happen.
func (s *Store) UnclaimTask(ctx context.Context, t Task) error {
	return s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.tx.Exec(ctx,
			`UPDATE tasks SET status = 'PENDING', worker_id = NULL, lease_expires_at = NULL, started_at = NULL,
			     execution_count = execution_count - 1, updated_at = now()
			 WHERE tenant_id = $3 AND id = $1 AND status = 'RUNNING' AND execution_count = $2`, t.ID, t.ExecutionCount, t.TenantID)
		if err != nil {
			return err
		}
		_, err = tx.tx.Exec(ctx, `DELETE FROM task_attempts WHERE tenant_id = $3 AND task_id = $1 AND attempt = $2`,
			t.ID, t.ExecutionCount, t.TenantID)
		return err
	})
}

// UnclaimWorkflow undoes ClaimWorkflow for a poller that left before
// receiving the workflow task.
func (s *Store) UnclaimWorkflow(ctx context.Context, w Workflow) error {
	_, err := s.pool.Exec(ctx,
		`UPDATE workflow_executions SET status = 'PENDING', worker_id = NULL, lease_expires_at = NULL,
		     wake_pending = false, updated_at = now()
		 WHERE tenant_id = $3 AND id = $1 AND status = 'RUNNING' AND worker_id = $2`, w.ID, w.WorkerID, w.TenantID)
	return err
}
