package engine

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/ttlcache"
)

// tenantsSeen remembers for a minute which tenant ids exist. The ids come
// from callers (the Rust SDK sends a random org_id), so it is bounded.
func newTenantsSeen() *ttlcache.Cache[uuid.UUID, bool] {
	return ttlcache.New[uuid.UUID, bool](time.Minute, 10_000)
}

// TenantExists reports whether a tenant has this id, cheaply.
func (e *Engine) TenantExists(ctx context.Context, id uuid.UUID) (bool, error) {
	if exists, ok := e.tenantsSeen.Get(id); ok {
		return exists, nil
	}
	_, err := e.st.TenantByID(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	e.tenantsSeen.Put(id, err == nil)
	return err == nil, nil
}

// Tenant of an execution or a task, for a server whose authentication is
// disabled, where requests name no tenant: the one tenant that has it,
// ErrNotFound for none, and an error for an id that several tenants have.
func (e *Engine) WorkflowTenant(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	return tenantOf(ctx, id, e.st.WorkflowTenants)
}

// TaskTenant is WorkflowTenant for a task.
func (e *Engine) TaskTenant(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	return tenantOf(ctx, id, e.st.TaskTenants)
}

func tenantOf(ctx context.Context, id uuid.UUID, tenants func(context.Context, uuid.UUID) ([]uuid.UUID, error)) (uuid.UUID, error) {
	found, err := tenants(ctx, id)
	switch {
	case err != nil:
		return uuid.Nil, err
	case len(found) == 0:
		return uuid.Nil, ErrNotFound
	case len(found) > 1:
		return uuid.Nil, invalid("org_id", "required: several tenants have an execution or task %s", id)
	}
	return found[0], nil
}
