package engine

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/store"
)

// SubmitTaskRequest submits a task that belongs to no workflow.
type SubmitTaskRequest struct {
	Tenant     uuid.UUID
	Kind       string
	Input      json.RawMessage
	Queue      string
	MaxRetries int32
	TimeoutMs  int64
	// IdempotencyKey, when set, makes the task's id a function of the key,
	// so submitting twice yields the same task.
	IdempotencyKey string
}

// taskKeyNamespace derives task ids from idempotency keys.
var taskKeyNamespace = uuid.MustParse("5b0d3f8e-8c1a-4f7e-9a55-3c2f4e1d6a70")

// SubmitTask creates a standalone task; created is false when the
// idempotency key named an existing one.
func (e *Engine) SubmitTask(ctx context.Context, r SubmitTaskRequest) (id uuid.UUID, created bool, err error) {
	if err := firstErr(limits.Name("kind", r.Kind), limits.OptionalName("queue", r.Queue), e.payload("input", r.Input),
		limits.Text("idempotency_key", r.IdempotencyKey, limits.MaxIdempotencyKey)); err != nil {
		return uuid.Nil, false, err
	}
	if _, err := limits.DurationMs("timeout_ms", r.TimeoutMs); err != nil {
		return uuid.Nil, false, err
	}
	if r.MaxRetries < 0 {
		return uuid.Nil, false, invalid("max_retries", "must not be negative")
	}
	if r.Queue == "" {
		r.Queue = DefaultQueue
	}
	id = uuid.New()
	if r.IdempotencyKey != "" {
		id = uuid.NewSHA1(taskKeyNamespace, []byte(r.Tenant.String()+"/"+r.IdempotencyKey))
	}
	var timeout *int64
	if r.TimeoutMs > 0 {
		timeout = &r.TimeoutMs
	}
	err = e.change(ctx, func(tx *store.Tx, fx *effects) error {
		task := Task{ID: id, TenantID: r.Tenant, Kind: r.Kind, Queue: r.Queue, Input: r.Input, MaxRetries: r.MaxRetries, TimeoutMs: timeout}
		created, err = e.insertTask(ctx, tx, fx, task, 0)
		if err != nil {
			return err
		}
		if created {
			e.deadlineIn(fx, timeout)
			return nil
		}
		// The key's task, unless a workflow took that id for a task of its own.
		owner, err := tx.TaskWorkflow(ctx, r.Tenant, id)
		if err == nil && owner != nil {
			return invalid("idempotency_key", "its task id %s is taken by a workflow's task", id)
		}
		return err
	})
	return id, created, err
}

// CancelTask cancels a task that has not ended. A workflow awaiting it sees
// TASK_CANCELLED and, so that SDKs which do not know that event unblock,
// TASK_FAILED.
func (e *Engine) CancelTask(ctx context.Context, tenant, id uuid.UUID) error {
	return e.changeOrFail(ctx, func(tx *store.Tx, fx *effects) error {
		task, err := tx.LockTask(ctx, tenant, id)
		if err != nil || taskEnded(task) {
			return err
		}
		if err := tx.CancelTask(ctx, tenant, id, "cancelled"); err != nil {
			return err
		}
		if task.WorkflowID == nil {
			return e.agentTaskSettled(ctx, tx, fx, task)
		}
		wf, err := tx.LockWorkflow(ctx, tenant, *task.WorkflowID)
		if err != nil || wf.Terminal() {
			return err
		}
		h := &history{wf: &wf}
		h.add(EventTaskCancelled, taskCancelledData{TaskExecutionID: id.String(), Reason: "cancelled"})
		h.add(EventTaskFailed, taskFailedData{TaskExecutionID: id.String(), Error: "Task cancelled", Attempts: task.ExecutionCount})
		makeRunnable(&wf, fx)
		return e.save(ctx, tx, fx, h, false)
	})
}

// TaskHeartbeat renews a running task's lease.
func (e *Engine) TaskHeartbeat(ctx context.Context, tenant, id uuid.UUID) error {
	return store.Refused(e.st.ExtendTaskLease(ctx, tenant, id, e.cfg.WorkerTimeout))
}

// TaskState is the task-scoped key/value store of the TaskExecution state RPCs.
func (e *Engine) TaskState(ctx context.Context, tenant, id uuid.UUID, key string) (json.RawMessage, bool, error) {
	v, err := e.st.TaskState(ctx, tenant, id, key)
	if errors.Is(err, ErrNotFound) {
		if _, terr := e.st.Task(ctx, tenant, id); terr != nil {
			return nil, false, store.Refused(terr)
		}
		return nil, false, nil
	}
	return v, err == nil, err
}

// SetTaskState sets a task-scoped key.
func (e *Engine) SetTaskState(ctx context.Context, tenant, id uuid.UUID, key string, value json.RawMessage) error {
	if err := firstErr(limits.Name("key", key), e.payload("value", value)); err != nil {
		return err
	}
	return store.Refused(e.st.SetTaskState(ctx, tenant, id, key, value))
}

// ClearTaskState removes a key, or every key when key is empty.
func (e *Engine) ClearTaskState(ctx context.Context, tenant, id uuid.UUID, key string) error {
	return store.Refused(e.st.ClearTaskState(ctx, tenant, id, key))
}

// TaskStateKeys lists a task's state keys.
func (e *Engine) TaskStateKeys(ctx context.Context, tenant, id uuid.UUID) ([]string, error) {
	keys, err := e.st.TaskStateKeys(ctx, tenant, id)
	return keys, store.Refused(err)
}

// StartChild starts a child workflow of parent from outside a workflow task.
// The parent hears of its end as of a child it scheduled itself.
func (e *Engine) StartChild(ctx context.Context, tenant, parent uuid.UUID, name string, r StartRequest) (uuid.UUID, error) {
	if err := limits.Name("child_execution_name", name); err != nil {
		return uuid.Nil, err
	}
	if err := r.normalise(e); err != nil {
		return uuid.Nil, err
	}
	id := uuid.New()
	err := e.change(ctx, func(tx *store.Tx, fx *effects) error {
		p, err := tx.LockWorkflow(ctx, tenant, parent)
		if err != nil {
			return err
		}
		if p.Terminal() {
			return ErrTerminal
		}
		w := r.workflow(id)
		w.TenantID, w.ParentID, w.ParentChildName = p.TenantID, &p.ID, &name
		return e.createWorkflow(ctx, tx, fx, w, nil)
	})
	return id, err
}
