package engine

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// PollTask claims a claimable task of tenant+queue for worker, waiting up
// to the poll hold for one to appear. Its attempt number is ExecutionCount.
func (e *Engine) PollTask(ctx context.Context, tenant uuid.UUID, queue, worker string) (*Task, error) {
	return pollFor(ctx, e, notify.Tasks, tenant, queue, worker, nil,
		func(queue string, kinds []string) (Task, error) {
			return e.st.ClaimTask(ctx, tenant, queue, kinds, worker, e.cfg.WorkerTimeout)
		},
		func(ctx context.Context, t Task) error {
			return e.reported(t.TenantID, t.ID, e.st.UnclaimTask(ctx, t))
		})
}

// CompleteTask records a task's result and wakes its workflow. Completing a
// task that has already ended is accepted and changes nothing.
func (e *Engine) CompleteTask(ctx context.Context, tenant, id uuid.UUID, output json.RawMessage) error {
	if err := e.payload("output", output); err != nil {
		return err
	}
	return e.reported(tenant, id, e.changeOrFail(ctx, func(tx *store.Tx, fx *effects) error {
		task, finished, err := tx.CompleteTask(ctx, tenant, id, output)
		if err != nil || !finished {
			return err // a task that has ended already is left as it is
		}
		if task.WorkflowID == nil {
			return e.agentTaskSettled(ctx, tx, fx, task)
		}
		_, err = e.wake(ctx, tx, fx, task.TenantID, *task.WorkflowID, EventTaskCompleted,
			taskCompletedData{TaskExecutionID: id.String(), Output: output})
		return err
	}))
}

// reported is told how recording a worker's result for task id went. The
// worker has let go of the task either way and will not report again, so
// a result that could not be recorded (the database was unreachable, say)
// must not leave the task RUNNING with its lease renewed for as long as
// that worker stays connected: it is dropped from the renewals, runs out
// and is reclaimed.
func (e *Engine) reported(tenant, id uuid.UUID, err error) error {
	if err != nil && !errors.Is(err, ErrNotFound) {
		e.dropped.add(store.TaskRef{Tenant: tenant, ID: id})
	}
	return err
}

func taskEnded(t Task) bool { return Terminal(t.Status) }

// retryBackoff is the pause before attempt n+1 after n failed: 100 ms,
// doubling, at most 5 s.
func retryBackoff(failedAttempts int32) time.Duration {
	d := 100 * time.Millisecond
	for i := int32(1); i < failedAttempts && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// FailTask records a failed attempt. The server owns retries: while the
// task has retries left it is offered again after a short backoff; after
// the last one TASK_FAILED is appended and the workflow woken.
func (e *Engine) FailTask(ctx context.Context, tenant, id uuid.UUID, message string) error {
	if err := limits.Message("error", message); err != nil {
		return err
	}
	return e.reported(tenant, id, e.changeOrFail(ctx, func(tx *store.Tx, fx *effects) error {
		task, err := tx.LockTask(ctx, tenant, id)
		if err != nil || taskEnded(task) {
			return err
		}
		if task.ExecutionCount <= task.MaxRetries {
			backoff := retryBackoff(task.ExecutionCount)
			fx.retry = append(fx.retry, delayed{key: notify.Key{Tenant: task.TenantID, Queue: task.Queue, Kind: notify.Tasks}, at: time.Now().Add(backoff)})
			return tx.FinishTask(ctx, task, StatusPending, nil, &message, &backoff)
		}
		if err := tx.FinishTask(ctx, task, StatusFailed, nil, &message, nil); err != nil {
			return err
		}
		if task.WorkflowID == nil {
			return e.agentTaskSettled(ctx, tx, fx, task)
		}
		_, err = e.wake(ctx, tx, fx, task.TenantID, *task.WorkflowID, EventTaskFailed,
			taskFailedData{TaskExecutionID: id.String(), Error: message, Attempts: task.ExecutionCount})
		return err
	}))
}

// ReportProgress stores a task's progress (0..1).
func (e *Engine) ReportProgress(ctx context.Context, tenant, id uuid.UUID, progress float64, details string) error {
	if err := firstErr(limits.Fraction("progress", progress), limits.Message("details", details)); err != nil {
		return err
	}
	return store.Refused(e.st.UpdateTaskProgress(ctx, tenant, id, progress, details))
}

// LogMessage stores a log line of a task.
func (e *Engine) LogMessage(ctx context.Context, tenant, id uuid.UUID, level, message string) error {
	if err := firstErr(limits.OptionalName("level", level), limits.Message("message", message)); err != nil {
		return err
	}
	return store.Refused(e.st.AppendTaskLog(ctx, tenant, id, level, message))
}
