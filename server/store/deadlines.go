package store

import (
	"context"
	"time"
)

// Task deadlines: a task scheduled with a timeout has deadline_at (see
// InsertTask), counted from when it was scheduled and across its retries.
// Past it, a task that is still PENDING or RUNNING fails for good. Every
// comparison is made on the database's clock.

// OverdueTask claims one task still PENDING or RUNNING past its deadline
// and locks its row, for the caller to end it in the same transaction
// (EndOverdueTask); ErrNotFound when none is overdue. A task waiting out
// the backoff before its next attempt is overdue as well: not_before does
// not defer a deadline. SKIP LOCKED lets every replica run this: a task
// another transaction holds is left to it, so each deadline fires once.
func (t *Tx) OverdueTask(ctx context.Context) (Task, error) {
	return scanTask(t.tx.QueryRow(ctx,
		`SELECT `+taskColumns+` FROM tasks
		 WHERE status IN ('PENDING', 'RUNNING') AND deadline_at IS NOT NULL AND deadline_at <= now()
		 ORDER BY deadline_at LIMIT 1 FOR UPDATE SKIP LOCKED`))
}

// EndOverdueTask ends a task OverdueTask claimed: FAILED with msg. The
// attempt a worker is running, if any, is recorded FAILED with msg as well;
// a task waiting for its next attempt has none running, and its last
// attempt keeps the outcome it had.
func (t *Tx) EndOverdueTask(ctx context.Context, task Task, msg string) error {
	if task.Status != StatusRunning {
		// Attempts are numbered from 1: FinishTask then touches none.
		task.ExecutionCount = 0
	}
	return t.FinishTask(ctx, task, StatusFailed, nil, &msg, nil)
}

// NextTaskDeadline returns how long it is, by the database's clock, until
// the earliest deadline of a task still PENDING or RUNNING (zero or less
// when it has passed); ErrNotFound when no such task has a deadline.
func (s *Store) NextTaskDeadline(ctx context.Context) (time.Duration, error) {
	var ms *float64
	err := s.pool.QueryRow(ctx,
		`SELECT (extract(epoch FROM min(deadline_at) - now()) * 1000)::float8 FROM tasks
		 WHERE status IN ('PENDING', 'RUNNING') AND deadline_at IS NOT NULL`).Scan(&ms)
	if err != nil {
		return 0, err
	}
	if ms == nil {
		return 0, ErrNotFound
	}
	return time.Duration(*ms * float64(time.Millisecond)), nil
}
