package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// taskOfTenant is the condition tying a task id ($1) to a tenant ($2).
const taskOfTenant = `EXISTS (SELECT 1 FROM tasks WHERE tenant_id = $2 AND id = $1)`

// TaskState returns one task-scoped state value.
func (s *Store) TaskState(ctx context.Context, tenant, task uuid.UUID, key string) (json.RawMessage, error) {
	var v []byte
	err := s.pool.QueryRow(ctx,
		`SELECT value FROM task_state WHERE tenant_id = $2 AND task_id = $1 AND key = $3`, task, tenant, key).Scan(&v)
	return v, notFound(err)
}

// SetTaskState upserts a task-scoped state value.
func (s *Store) SetTaskState(ctx context.Context, tenant, task uuid.UUID, key string, value json.RawMessage) error {
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO task_state (tenant_id, task_id, key, value) SELECT $2, $1, $3, $4::json WHERE `+taskOfTenant+`
		 ON CONFLICT (tenant_id, task_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
		task, tenant, key, string(value))
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// ClearTaskState removes one key, or every key when key is empty.
func (s *Store) ClearTaskState(ctx context.Context, tenant, task uuid.UUID, key string) error {
	if _, err := s.taskExists(ctx, tenant, task); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM task_state WHERE tenant_id = $3 AND task_id = $1 AND ($2 = '' OR key = $2)`, task, key, tenant)
	return err
}

// TaskStateKeys lists a task's state keys in order.
func (s *Store) TaskStateKeys(ctx context.Context, tenant, task uuid.UUID) ([]string, error) {
	if _, err := s.taskExists(ctx, tenant, task); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT key FROM task_state WHERE tenant_id = $2 AND task_id = $1 ORDER BY key`, task, tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *Store) taskExists(ctx context.Context, tenant, task uuid.UUID) (bool, error) {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM tasks WHERE tenant_id = $2 AND id = $1`, task, tenant).Scan(&one)
	return err == nil, notFound(err)
}

// ExtendTaskLease renews the lease of a running task (a task heartbeat).
func (s *Store) ExtendTaskLease(ctx context.Context, tenant, task uuid.UUID, lease time.Duration) error {
	if _, err := s.taskExists(ctx, tenant, task); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx,
		`UPDATE tasks SET lease_expires_at = now() + $2::interval WHERE tenant_id = $3 AND id = $1 AND status = 'RUNNING'`,
		task, lease, tenant)
	return err
}
