package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// ErrForbidden is returned when a principal may not perform an action.
var ErrForbidden = errors.New("permission denied")

// Action names what a request does; the authorizer decides per action.
type Action string

// The actions of the REST API and the worker protocol.
const (
	ActionTenantCreate     Action = "tenant.create"
	ActionTenantList       Action = "tenant.list"
	ActionTenantRead       Action = "tenant.read"
	ActionCredentialCreate Action = "credential.create"
	ActionCredentialList   Action = "credential.list"
	ActionCredentialRevoke Action = "credential.revoke"
	ActionWorkflowStart    Action = "workflow.start"
	ActionWorkflowRead     Action = "workflow.read" // list, get, events, tasks, children, state, query
	ActionWorkflowCancel   Action = "workflow.cancel"
	ActionWorkflowSignal   Action = "workflow.signal" // signal and signal-with-start
	ActionPromiseSettle    Action = "promise.settle"  // resolve and reject
	ActionAgentStart       Action = "agent.start"
	ActionAgentRead        Action = "agent.read" // list, get, entries, checkpoints, tasks
	ActionAgentSignal      Action = "agent.signal"
	ActionAgentCancel      Action = "agent.cancel"
	ActionWorkerList       Action = "worker.list"
	// The worker side of the protocol: register, heartbeat, poll, get
	// events, submit commands, complete and fail tasks, task state.
	ActionWorkerExecute Action = "worker.execute"
)

// Resource is what an action applies to.
type Resource struct {
	Type     string    // "tenant", "workflow", "agent", "task", "credential", "promise", "worker"
	TenantID uuid.UUID // uuid.Nil for instance-wide resources (the tenant list)
	ID       string
}

// Authorizer decides whether p may perform action on res, returning nil or
// an error wrapping ErrForbidden.
type Authorizer interface {
	Authorize(ctx context.Context, p Principal, action Action, res Resource) error
}

// DenyAll refuses everything: the authorizer of a server given none.
type DenyAll struct{}

// Authorize implements Authorizer.
func (DenyAll) Authorize(_ context.Context, p Principal, action Action, _ Resource) error {
	return fmt.Errorf("%w: %s %q may not %s: no authorizer is configured", ErrForbidden, p.Type, p.ID, action)
}
