package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// InsertTimer creates a pending timer due in d (database time: from the
// start of the transaction) and returns when it fires and how long that is
// from now by the database's clock; false means the workflow already has a
// timer with that id (a replayed command) and nothing changed.
func (t *Tx) InsertTimer(ctx context.Context, tenant, workflow uuid.UUID, timerID string, d time.Duration) (fireAt time.Time, in time.Duration, created bool, err error) {
	err = t.tx.QueryRow(ctx,
		`INSERT INTO timers (tenant_id, workflow_id, timer_id, fire_at) VALUES ($4, $1, $2, now() + $3::interval)
		 ON CONFLICT DO NOTHING RETURNING fire_at, fire_at - clock_timestamp()`,
		workflow, timerID, d, tenant).Scan(&fireAt, &in)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, 0, false, nil
	}
	return fireAt, in, err == nil, err
}

// CancelTimer cancels a pending timer; false means it was not pending.
func (t *Tx) CancelTimer(ctx context.Context, tenant, workflow uuid.UUID, timerID string) (bool, error) {
	tag, err := t.tx.Exec(ctx,
		`UPDATE timers SET status = 'CANCELLED'
		 WHERE tenant_id = $3 AND workflow_id = $1 AND timer_id = $2 AND status = 'PENDING'`,
		workflow, timerID, tenant)
	return tag.RowsAffected() == 1, err
}

// DueTimer claims one due timer, marks it FIRED and returns it; ErrNotFound
// when none is due. SKIP LOCKED lets every replica run this safely.
func (t *Tx) DueTimer(ctx context.Context) (tenant, workflow uuid.UUID, timerID string, err error) {
	err = t.tx.QueryRow(ctx,
		`UPDATE timers SET status = 'FIRED'
		 WHERE (tenant_id, workflow_id, timer_id) = (SELECT tenant_id, workflow_id, timer_id FROM timers
		                                             WHERE status = 'PENDING' AND fire_at <= now()
		                                             ORDER BY fire_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		 RETURNING tenant_id, workflow_id, timer_id`).Scan(&tenant, &workflow, &timerID)
	return tenant, workflow, timerID, notFound(err)
}

// NextTimerIn returns how long until the earliest pending timer or promise
// timeout is due, by the database's clock (negative when one is overdue).
func (s *Store) NextTimerIn(ctx context.Context) (time.Duration, error) {
	var in *time.Duration
	err := s.pool.QueryRow(ctx,
		`SELECT least((SELECT min(fire_at) FROM timers WHERE status = 'PENDING'),
		              (SELECT min(timeout_at) FROM promises WHERE status = 'PENDING' AND timeout_at IS NOT NULL)) - now()`).Scan(&in)
	if err != nil {
		return 0, err
	}
	if in == nil {
		return 0, ErrNotFound
	}
	return *in, nil
}

// Promise is a durable promise created by a workflow.
type Promise struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	WorkflowID uuid.UUID
	Name       string
	Status     string
	Value      json.RawMessage
	Error      *string
}

const promiseColumns = `id, tenant_id, workflow_id, name, status, value, error`

func scanPromise(row pgx.Row) (Promise, error) {
	var p Promise
	var value []byte
	err := row.Scan(&p.ID, &p.TenantID, &p.WorkflowID, &p.Name, &p.Status, &value, &p.Error)
	p.Value = value
	return p, notFound(err)
}

// InsertPromise creates a pending promise, timing out after timeout from
// now (database time) when timeout is not nil; false means the workflow
// already has one of that name (a replayed command), returned as it is.
func (t *Tx) InsertPromise(ctx context.Context, p Promise, timeout *time.Duration, idempotencyKey *string) (Promise, bool, error) {
	tag, err := t.tx.Exec(ctx,
		`INSERT INTO promises (id, tenant_id, workflow_id, name, timeout_at, idempotency_key) VALUES ($1, $6, $2, $3, now() + $4::interval, $5)
		 ON CONFLICT (tenant_id, workflow_id, name) DO NOTHING`,
		p.ID, p.WorkflowID, p.Name, timeout, idempotencyKey, p.TenantID)
	if err != nil {
		return p, false, err
	}
	if tag.RowsAffected() == 1 {
		return p, true, nil
	}
	existing, err := scanPromise(t.tx.QueryRow(ctx,
		`SELECT `+promiseColumns+` FROM promises WHERE tenant_id = $3 AND workflow_id = $1 AND name = $2`,
		p.WorkflowID, p.Name, p.TenantID))
	return existing, false, err
}

// LockPromise finds a tenant's promise by id, or by workflow id and name
// when name is not empty, and locks it.
func (t *Tx) LockPromise(ctx context.Context, tenant uuid.UUID, id uuid.UUID, workflow uuid.UUID, name string) (Promise, error) {
	if name == "" {
		return scanPromise(t.tx.QueryRow(ctx,
			`SELECT `+promiseColumns+` FROM promises WHERE tenant_id = $2 AND id = $1 FOR UPDATE`, id, tenant))
	}
	return scanPromise(t.tx.QueryRow(ctx,
		`SELECT `+promiseColumns+` FROM promises WHERE tenant_id = $1 AND workflow_id = $2 AND name = $3 FOR UPDATE`,
		tenant, workflow, name))
}

// PromiseTenant returns the tenant of a promise by its id alone (the
// server minted it), for a server whose authentication is disabled.
func (s *Store) PromiseTenant(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	var tenant uuid.UUID
	err := s.pool.QueryRow(ctx, `SELECT tenant_id FROM promises WHERE id = $1`, id).Scan(&tenant)
	return tenant, notFound(err)
}

// SettlePromise records a promise's outcome.
func (t *Tx) SettlePromise(ctx context.Context, id uuid.UUID, status string, value json.RawMessage, errMsg *string) error {
	_, err := t.tx.Exec(ctx,
		`UPDATE promises SET status = $2, value = $3::json, error = $4, settled_at = now() WHERE id = $1`,
		id, status, jsonText(value), errMsg)
	return err
}

// DuePromiseTimeout claims one pending promise whose timeout has passed and
// marks it TIMED_OUT; ErrNotFound when none is due.
func (t *Tx) DuePromiseTimeout(ctx context.Context) (Promise, error) {
	return scanPromise(t.tx.QueryRow(ctx,
		`UPDATE promises SET status = 'TIMED_OUT', settled_at = now()
		 WHERE id = (SELECT id FROM promises WHERE status = 'PENDING' AND timeout_at <= now()
		             ORDER BY timeout_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		 RETURNING `+promiseColumns))
}
