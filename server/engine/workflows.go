package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// DefaultQueue is used when a request names none.
const DefaultQueue = "default"

// Idempotency key lifetimes (contract §8).
const (
	DefaultIdempotencyTTL = 24 * time.Hour
	MaxIdempotencyTTL     = 30 * 24 * time.Hour
)

// StartRequest starts a workflow execution.
type StartRequest struct {
	Tenant          uuid.UUID
	Kind            string
	Input           json.RawMessage
	Queue           string
	PrioritySeconds int32
	Version         string
	Metadata        map[string]string
	IdempotencyKey  string
	IdempotencyTTL  time.Duration
}

// StartResult says which execution a start refers to.
type StartResult struct {
	ID uuid.UUID
	// Created is false when an idempotency key returned an existing execution.
	Created bool
}

func (r *StartRequest) normalise(e *Engine) error {
	if r.Kind == "" {
		return invalid("workflow_kind", "required")
	}
	err := firstErr(limits.Name("workflow_kind", r.Kind), limits.OptionalName("queue", r.Queue),
		limits.OptionalName("workflow_version", r.Version), limits.Metadata("metadata", r.Metadata),
		limits.Text("idempotency_key", r.IdempotencyKey, limits.MaxIdempotencyKey), e.payload("input", r.Input))
	if err != nil {
		return err
	}
	if r.IdempotencyTTL > limits.MaxDuration {
		return invalid("idempotency_key_ttl_seconds", "at most %d seconds", int64(limits.MaxDuration/time.Second))
	}
	if r.Queue == "" {
		r.Queue = DefaultQueue
	}
	if r.Input == nil {
		r.Input = json.RawMessage("null")
	}
	switch {
	case r.IdempotencyTTL < 0:
		return invalid("idempotency_key_ttl_seconds", "must not be negative")
	case r.IdempotencyTTL == 0:
		r.IdempotencyTTL = DefaultIdempotencyTTL
	case r.IdempotencyTTL > MaxIdempotencyTTL:
		r.IdempotencyTTL = MaxIdempotencyTTL
	}
	return nil
}

func (r *StartRequest) workflow(id uuid.UUID) Workflow {
	return Workflow{
		ID: id, TenantID: r.Tenant, Kind: r.Kind, Queue: r.Queue, Status: StatusPending,
		PrioritySeconds: r.PrioritySeconds, Input: r.Input, Version: r.Version, Metadata: r.Metadata,
		TaskTimeMs: store.TaskTimeNow,
	}
}

// createWorkflow inserts w with its WORKFLOW_STARTED event followed by the
// events extra adds, and makes it runnable.
func (e *Engine) createWorkflow(ctx context.Context, tx *store.Tx, fx *effects, w Workflow, extra func(h *history)) error {
	h := &history{wf: &w}
	h.add(EventWorkflowStarted, workflowStartedData{Input: w.Input, WorkflowKind: w.Kind, Queue: w.Queue})
	if extra != nil {
		extra(h)
	}
	fx.workflowRunnable(&w)
	return e.write(fx, h, false, func(u store.WorkflowUpdate) (*Workflow, error) {
		return tx.CreateWorkflow(ctx, w, h.events, u)
	})
}

// StartWorkflow creates a workflow execution, or with an idempotency key
// already in use returns the execution that key started.
func (e *Engine) StartWorkflow(ctx context.Context, r StartRequest) (StartResult, error) {
	if err := r.normalise(e); err != nil {
		return StartResult{}, err
	}
	var res StartResult
	err := e.withKeyRetry(func() error {
		return e.change(ctx, func(tx *store.Tx, fx *effects) error {
			if r.IdempotencyKey != "" {
				existing, err := tx.IdempotentWorkflow(ctx, r.Tenant, r.IdempotencyKey)
				if err == nil {
					res = StartResult{ID: existing}
					return nil
				}
				if !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			res = StartResult{ID: uuid.New(), Created: true}
			if err := e.createWorkflow(ctx, tx, fx, r.workflow(res.ID), nil); err != nil {
				return err
			}
			if r.IdempotencyKey != "" {
				return tx.PutIdempotencyKey(ctx, r.Tenant, r.IdempotencyKey, res.ID, r.IdempotencyTTL)
			}
			return nil
		})
	})
	return res, err
}

// withKeyRetry runs fn again when a concurrent request took the same
// idempotency key first: the second run then finds that key.
func (e *Engine) withKeyRetry(fn func() error) error {
	err := fn()
	if errors.Is(err, ErrConflict) {
		err = fn()
	}
	return err
}

// SignalWithStartResult reports what SignalWithStart did.
type SignalWithStartResult struct {
	ID             uuid.UUID
	Created        bool
	SignalSequence int32
}

// SignalWithStart signals the live execution started under workflowID, or
// starts one with the signal already in its history.
func (e *Engine) SignalWithStart(ctx context.Context, r StartRequest, workflowID, signalName string, value json.RawMessage) (SignalWithStartResult, error) {
	if workflowID == "" {
		return SignalWithStartResult{}, invalid("workflow_id", "required")
	}
	if err := firstErr(limits.Text("workflow_id", workflowID, limits.MaxIdempotencyKey), limits.Name("signal_name", signalName),
		e.payload("signal_value", value)); err != nil {
		return SignalWithStartResult{}, err
	}
	r.IdempotencyKey = workflowID
	if err := r.normalise(e); err != nil {
		return SignalWithStartResult{}, err
	}
	signal := signalData{SignalName: signalName, SignalValue: value}
	var res SignalWithStartResult
	err := e.withKeyRetry(func() error {
		return e.change(ctx, func(tx *store.Tx, fx *effects) error {
			existing, err := tx.IdempotentWorkflow(ctx, r.Tenant, workflowID)
			switch {
			case err == nil:
				seq, err := e.wake(ctx, tx, fx, r.Tenant, existing, EventSignalReceived, signal)
				if err != nil || seq > 0 {
					res = SignalWithStartResult{ID: existing, SignalSequence: seq}
					return err
				}
				// The execution has ended: start a new one under the same id.
			case !errors.Is(err, ErrNotFound):
				return err
			}
			res = SignalWithStartResult{ID: uuid.New(), Created: true}
			err = e.createWorkflow(ctx, tx, fx, r.workflow(res.ID), func(h *history) {
				res.SignalSequence = h.add(EventSignalReceived, signal)
			})
			if err != nil {
				return err
			}
			if existing != uuid.Nil {
				return tx.ReplaceIdempotencyKey(ctx, r.Tenant, workflowID, res.ID, r.IdempotencyTTL)
			}
			return tx.PutIdempotencyKey(ctx, r.Tenant, workflowID, res.ID, r.IdempotencyTTL)
		})
	})
	return res, err
}

// Signal appends SIGNAL_RECEIVED to a workflow and wakes it. A workflow that
// has ended accepts the signal without change (sequence 0).
func (e *Engine) Signal(ctx context.Context, tenant, id uuid.UUID, name string, value json.RawMessage) (int32, error) {
	if err := firstErr(limits.Name("signal_name", name), e.payload("signal_value", value)); err != nil {
		return 0, err
	}
	var seq int32
	err := e.change(ctx, func(tx *store.Tx, fx *effects) error {
		var err error
		seq, err = e.wake(ctx, tx, fx, tenant, id, EventSignalReceived, signalData{SignalName: name, SignalValue: value})
		return err
	})
	return seq, err
}

// PollWorkflow claims a runnable workflow of tenant+queue for worker,
// waiting up to the poll hold for one to appear.
func (e *Engine) PollWorkflow(ctx context.Context, tenant uuid.UUID, queue, worker string) (*Workflow, error) {
	return pollFor(ctx, e, notify.Workflows, tenant, queue, worker, nil,
		func(queue string, kinds []string) (Workflow, error) {
			return e.st.ClaimWorkflow(ctx, tenant, queue, kinds, worker, e.workflowTaskLease())
		},
		e.st.UnclaimWorkflow)
}

// capabilityTypes name, for each kind of work, the capabilities a worker
// registers for it.
var capabilityTypes = map[notify.WorkKind]string{notify.Workflows: "workflow", notify.Tasks: "task", notify.Agents: "agent"}

// pollFor is the shared shape of PollWorkflow, PollTask and PollAgent:
// claim work of the kinds offered (by default, those the worker
// registered), holding the poll until some appears; work claimed for a
// poller that left meanwhile is given back.
func pollFor[T any](ctx context.Context, e *Engine, kind notify.WorkKind, tenant uuid.UUID, queue, worker string, offered []string,
	claim func(queue string, kinds []string) (T, error), unclaim func(context.Context, T) error) (*T, error) {
	if err := firstErr(limits.OptionalName("queue", queue), limits.OptionalName("worker_id", worker)); err != nil {
		return nil, err
	}
	if queue == "" {
		queue = DefaultQueue
	}
	kinds := offered
	if len(kinds) == 0 {
		var err error
		if kinds, err = e.workerKinds(ctx, tenant, worker, capabilityTypes[kind]); err != nil {
			return nil, err
		}
	}
	key := notify.Key{Tenant: tenant, Queue: queue, Kind: kind}
	var got *T
	handed, err := e.poll(ctx, key, worker, kinds, func() (bool, error) {
		item, err := claim(queue, kinds)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		got = &item
		return true, nil
	})
	if handed != nil {
		item := handed.(T)
		got = &item
	}
	if got != nil && (ctx.Err() != nil || e.presence.lost(store.WorkerRef{Tenant: tenant, ID: worker})) {
		// The caller left (or its connection has closed, and the reclaim of
		// its work ran before this claim): the work goes back to the queue.
		err = unclaim(context.WithoutCancel(ctx), *got)
		e.hub.Notify(key)
		return nil, err
	}
	return got, err
}

// poll calls claim until it finds work, the hold runs out or the caller
// goes away. While it waits between looks, an offer is open (see offer): a
// change that makes matching work runnable meanwhile hands it over, and
// poll returns it. The waiter is registered before the first look, so work
// that appears between a look and the wait still wakes this poller; the
// offer is open only while it waits, so it never gets work both ways.
func (e *Engine) poll(ctx context.Context, key notify.Key, worker string, kinds []string, claim func() (bool, error)) (handed any, err error) {
	w := e.hub.Wait(key)
	defer w.Done()
	deadline := time.Now().Add(e.cfg.PollHold)
	for {
		if ctx.Err() != nil {
			return nil, nil // the caller left: claim nothing it would not receive
		}
		found, err := claim()
		if found || err != nil {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(left, e.cfg.RecheckInterval))
		o := e.offers.make(key, worker, kinds)
		select {
		case row := <-o.result:
			o = nil
			if row != nil {
				t.Stop()
				return row, nil
			}
		case <-w.C:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if o != nil && e.offers.withdraw(o) {
			if row := <-o.result; row != nil {
				return row, nil
			}
		}
	}
}

// Events returns a workflow's history.
func (e *Engine) Events(ctx context.Context, tenant, id uuid.UUID) ([]Event, error) {
	events, err := e.st.Events(ctx, tenant, id)
	return events, store.Refused(err)
}

// Workflow returns one workflow execution.
func (e *Engine) Workflow(ctx context.Context, tenant, id uuid.UUID) (Workflow, error) {
	w, err := e.st.Workflow(ctx, tenant, id)
	return w, store.Refused(err)
}

// Query answers a query from the workflow's stored state: the query name is
// the state key.
func (e *Engine) Query(ctx context.Context, tenant, id uuid.UUID, name string) (json.RawMessage, error) {
	if _, err := e.st.Workflow(ctx, tenant, id); err != nil {
		return nil, store.Refused(err)
	}
	v, err := e.st.WorkflowState(ctx, tenant, id, name)
	if errors.Is(err, ErrNotFound) {
		return nil, invalid("query_name", "the workflow has no state key %q", name)
	}
	return v, err
}

// CancelWorkflow cancels a workflow from outside: CANCELLATION_REQUESTED is
// recorded, its running tasks and children are cancelled, and it ends
// CANCELLED, at once when no worker holds it, else when that worker submits.
func (e *Engine) CancelWorkflow(ctx context.Context, tenant, id uuid.UUID, reason, requestedBy string) error {
	if err := limits.Message("reason", reason); err != nil {
		return err
	}
	return e.change(ctx, func(tx *store.Tx, fx *effects) error {
		wf, err := tx.LockWorkflow(ctx, tenant, id)
		if err != nil {
			return err
		}
		if wf.Terminal() {
			return ErrTerminal
		}
		if wf.CancelRequested {
			return nil
		}
		h := &history{wf: &wf}
		h.add(EventCancellationRequested, cancellationData{Reason: reason, RequestedBy: requestedBy})
		wf.CancelRequested = true
		held := wf.Status == StatusRunning
		if !held {
			if err := e.finishCancelled(ctx, tx, fx, h, reason); err != nil {
				return err
			}
		}
		return e.save(ctx, tx, fx, h, !held)
	})
}

// finishCancelled ends a cancelled workflow: its tasks are cancelled, the
// parent hears of it, and its live children are cancelled after commit,
// each in its own transaction (the lock order is always child, then parent).
func (e *Engine) finishCancelled(ctx context.Context, tx *store.Tx, fx *effects, h *history, reason string) error {
	wf := h.wf
	h.mustLand = true
	wf.Status = StatusCancelled
	msg := "cancelled: " + reason
	wf.Error = &msg
	if err := e.stopWork(ctx, tx, fx, wf, "parent cancelled: "+reason); err != nil {
		return err
	}
	return e.tellParent(ctx, tx, fx, wf, EventChildCancelled, msg)
}

// stopWork cancels the tasks of a workflow that has ended and, after
// commit, its live children.
func (e *Engine) stopWork(ctx context.Context, tx *store.Tx, fx *effects, wf *Workflow, childReason string) error {
	tasks, err := tx.ActiveTasksOf(ctx, wf.TenantID, wf.ID)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if err := tx.CancelTask(ctx, wf.TenantID, t, "workflow "+strings.ToLower(wf.Status)); err != nil {
			return err
		}
	}
	children, err := tx.ActiveChildrenOf(ctx, wf.TenantID, wf.ID)
	for _, c := range children {
		fx.cancelLater(e, wf.TenantID, c, childReason)
	}
	return err
}

// cancelLater cancels workflow id once the current change has committed.
func (fx *effects) cancelLater(e *Engine, tenant, id uuid.UUID, reason string) {
	fx.after = append(fx.after, func() {
		err := e.CancelWorkflow(context.Background(), tenant, id, reason, "parent")
		if err != nil && !errors.Is(err, ErrTerminal) {
			e.log.Warn("could not cancel child workflow", "child", id, "err", err)
		}
	})
}

// tellParent reports a child's end to its parent and wakes the parent.
func (e *Engine) tellParent(ctx context.Context, tx *store.Tx, fx *effects, child *Workflow, outcome, errMsg string) error {
	if child.ParentID == nil {
		return nil
	}
	name := ""
	if child.ParentChildName != nil {
		name = *child.ParentChildName
	}
	id := child.ID.String()
	parent, err := tx.LockWorkflow(ctx, child.TenantID, *child.ParentID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || parent.Terminal() {
		return err
	}
	h := &history{wf: &parent}
	switch outcome {
	case EventChildCompleted:
		h.add(EventChildCompleted, childCompletedData{ChildExecutionName: name, ChildExecutionID: id, Output: child.Output})
	case EventChildCancelled:
		h.add(EventChildCancelled, childCancelledData{ChildExecutionName: name, ChildExecutionID: id, Reason: errMsg})
		// The Rust SDK does not know CHILD_WORKFLOW_CANCELLED: the failure unblocks it.
		h.add(EventChildFailed, childFailedData{ChildExecutionName: name, ChildExecutionID: id, ChildWorkflowExecutionID: id, Error: errMsg})
	default:
		h.add(EventChildFailed, childFailedData{ChildExecutionName: name, ChildExecutionID: id, ChildWorkflowExecutionID: id, Error: errMsg})
	}
	makeRunnable(&parent, fx)
	return e.save(ctx, tx, fx, h, false)
}

// Subscribe returns a subscription to the work that appears on a queue.
func (e *Engine) Subscribe(tenant uuid.UUID, queue string) *notify.Subscription {
	if queue == "" {
		queue = DefaultQueue
	}
	return e.hub.Subscribe(notify.QueueKey{Tenant: tenant, Queue: queue})
}
