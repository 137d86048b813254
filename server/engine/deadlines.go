package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flovyn/flovyn/server/store"
)

// Task deadlines: a task scheduled with timeout_ms (ScheduleTaskCommand or
// SubmitTask) must end within that time of being scheduled, across all its
// attempts and the backoffs between them. One still PENDING or RUNNING past
// its deadline fails for good — no further attempt — with an error saying it
// timed out, and its workflow sees TASK_FAILED. The worker still running it
// is not told (no channel exists for that); its late CompleteTask or
// FailTask finds the task ended and changes nothing.

// overdueRecheck is how soon the timer and deadline services look again
// at something overdue they could not take (another transaction holds it:
// another replica ending it, or a worker's result).
const overdueRecheck = time.Millisecond

// failOverdueTasks ends every task past its deadline, each in its own
// transaction.
func (e *Engine) failOverdueTasks(ctx context.Context) error {
	for {
		var ended Task
		err := e.changeOrFail(ctx, func(tx *store.Tx, fx *effects) error {
			task, err := tx.OverdueTask(ctx)
			if err != nil {
				return err
			}
			ended = task
			msg := timedOut(task)
			if err := tx.EndOverdueTask(ctx, task, msg); err != nil {
				return err
			}
			if task.WorkflowID == nil {
				return e.agentTaskSettled(ctx, tx, fx, task)
			}
			_, err = e.wake(ctx, tx, fx, task.TenantID, *task.WorkflowID, EventTaskFailed,
				taskFailedData{TaskExecutionID: task.ID.String(), Error: msg, Attempts: task.ExecutionCount})
			return err
		})
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		e.log.Info("task timed out", "task", ended.ID, "kind", ended.Kind, "status", ended.Status, "attempts", ended.ExecutionCount)
	}
}

// timedOut is the error of a task that reached its deadline.
func timedOut(t Task) string {
	if t.TimeoutMs == nil {
		return "task timed out (timeout_ms)"
	}
	return fmt.Sprintf("task timed out after %d ms (timeout_ms)", *t.TimeoutMs)
}

// deadlineIn wakes the deadline service, once the change commits, for a task
// it creates with timeoutMs: the service looks at the database only every
// recheck interval, and a nearer deadline must not wait for that.
func (e *Engine) deadlineIn(fx *effects, timeoutMs *int64) {
	if timeoutMs == nil || *timeoutMs <= 0 || *timeoutMs >= e.cfg.RecheckInterval.Milliseconds() {
		return
	}
	// The database counted the deadline from the start of this
	// transaction: from now, the loop wakes at it or just after.
	at := time.Now().Add(time.Duration(*timeoutMs) * time.Millisecond)
	fx.after = append(fx.after, func() { e.taskDeadlines.WakeAt(at) })
}
