package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/store"
)

// Promise outcomes.
const (
	promiseResolved = "RESOLVED"
	promiseRejected = "REJECTED"
)

// ResolvePromise settles a promise with a value and wakes its workflow.
func (e *Engine) ResolvePromise(ctx context.Context, tenant uuid.UUID, ref string, value json.RawMessage) error {
	return e.settlePromise(ctx, tenant, ref, promiseResolved, value, "")
}

// RejectPromise settles a promise with an error and wakes its workflow.
func (e *Engine) RejectPromise(ctx context.Context, tenant uuid.UUID, ref, message string) error {
	return e.settlePromise(ctx, tenant, ref, promiseRejected, nil, message)
}

// maxPromiseRef is the longest "<workflow id>:<name>".
const maxPromiseRef = 37 + limits.MaxName

// parsePromiseRef accepts a promise's id, or "<workflow id>:<name>" or
// "<workflow id>/<name>" (forms older clients send).
func parsePromiseRef(ref string) (id, workflow uuid.UUID, name string, err error) {
	if id, err := uuid.Parse(ref); err == nil {
		return id, uuid.Nil, "", nil
	}
	if len(ref) > 37 && (ref[36] == ':' || ref[36] == '/') {
		if wf, err := uuid.Parse(ref[:36]); err == nil {
			return uuid.Nil, wf, ref[37:], nil
		}
	}
	if strings.TrimSpace(ref) == "" {
		return uuid.Nil, uuid.Nil, "", invalid("promise_id", "required")
	}
	return uuid.Nil, uuid.Nil, "", invalid("promise_id", "%q is neither a promise id nor <workflow id>:<name>", ref)
}

// SettledError is the answer to settling a promise that is no longer
// pending: the first outcome stands and nothing changes. The worker
// protocol treats it as success (contract §7.3); the admin API reports it.
type SettledError struct {
	Promise uuid.UUID
	Status  string // RESOLVED, REJECTED, TIMED_OUT or CANCELLED
}

func (e *SettledError) Error() string {
	return fmt.Sprintf("promise %s is already %s", e.Promise, strings.ReplaceAll(strings.ToLower(e.Status), "_", " "))
}

// settlePromise settles a pending promise once; settling it again changes
// nothing and returns a *SettledError.
func (e *Engine) settlePromise(ctx context.Context, tenant uuid.UUID, ref, outcome string, value json.RawMessage, message string) error {
	if err := firstErr(limits.Text("promise_id", ref, maxPromiseRef), e.payload("value", value), limits.Message("error", message)); err != nil {
		return err
	}
	id, workflow, name, err := parsePromiseRef(ref)
	if err != nil {
		return err
	}
	if tenant == uuid.Nil { // authentication is disabled: the request names no tenant
		if workflow != uuid.Nil {
			tenant, err = e.WorkflowTenant(ctx, workflow)
		} else {
			tenant, err = e.st.PromiseTenant(ctx, id)
		}
		if err != nil {
			return store.Refused(err)
		}
	}
	return e.change(ctx, func(tx *store.Tx, fx *effects) error {
		p, err := tx.LockPromise(ctx, tenant, id, workflow, name)
		if err != nil {
			return err
		}
		if p.Status != StatusPending {
			return &SettledError{Promise: p.ID, Status: p.Status}
		}
		var errMsg *string
		var data any = promiseResolvedData{PromiseID: p.ID.String(), PromiseName: p.Name, Value: value}
		eventType := EventPromiseResolved
		if outcome == promiseRejected {
			errMsg = &message
			data = promiseRejectedData{PromiseID: p.ID.String(), PromiseName: p.Name, Error: message}
			eventType = EventPromiseRejected
		}
		if err := tx.SettlePromise(ctx, p.ID, outcome, value, errMsg); err != nil {
			return err
		}
		_, err = e.wake(ctx, tx, fx, p.TenantID, p.WorkflowID, eventType, data)
		return err
	})
}
