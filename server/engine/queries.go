package engine

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// The reads the transports serve. Every one is scoped by tenant except
// the tenant lookups themselves.

// Ping checks that the database answers.
func (e *Engine) Ping(ctx context.Context) error { return e.st.Ping(ctx) }

// TenantBySlug finds a tenant by its slug.
func (e *Engine) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	t, err := e.st.TenantBySlug(ctx, slug)
	return t, store.Refused(err)
}

// TenantByID finds a tenant by its id.
func (e *Engine) TenantByID(ctx context.Context, id uuid.UUID) (Tenant, error) {
	t, err := e.st.TenantByID(ctx, id)
	return t, store.Refused(err)
}

// Tenants lists every tenant.
func (e *Engine) Tenants(ctx context.Context) ([]Tenant, error) {
	list, err := e.st.ListTenants(ctx)
	return list, store.Refused(err)
}

// CreateTenant creates a tenant; a taken slug is ErrConflict.
func (e *Engine) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	t, err := e.st.CreateTenant(ctx, t)
	if err == nil {
		e.tenantsSeen.Put(t.ID, true)
	}
	return t, store.Refused(err)
}

// ListWorkflows returns a page of workflow executions as summaries (no
// payloads), reporting whether there are more.
func (e *Engine) ListWorkflows(ctx context.Context, f WorkflowFilter) ([]Workflow, bool, error) {
	list, more, err := e.st.ListWorkflows(ctx, f)
	return list, more, store.Refused(err)
}

// Children returns a workflow's child executions, oldest first, as
// summaries.
func (e *Engine) Children(ctx context.Context, tenant, id uuid.UUID) ([]Workflow, error) {
	list, err := e.st.ChildrenOf(ctx, tenant, id)
	return list, store.Refused(err)
}

// WorkflowState returns every state key a workflow has set.
func (e *Engine) WorkflowState(ctx context.Context, tenant, id uuid.UUID) (map[string]json.RawMessage, error) {
	state, err := e.st.WorkflowStateAll(ctx, tenant, id)
	return state, store.Refused(err)
}

// TasksOfWorkflow returns a workflow's tasks with their attempts.
func (e *Engine) TasksOfWorkflow(ctx context.Context, tenant, id uuid.UUID) ([]TaskDetail, error) {
	list, err := e.st.TasksOfWorkflow(ctx, tenant, id)
	return list, store.Refused(err)
}

// TaskOfWorkflow returns one task of a workflow; a task of another
// workflow is ErrNotFound.
func (e *Engine) TaskOfWorkflow(ctx context.Context, tenant, workflow, task uuid.UUID) (TaskDetail, error) {
	t, err := e.st.TaskOfWorkflow(ctx, tenant, workflow, task)
	return t, store.Refused(err)
}

// Workers returns a tenant's registered workers, most recently seen first.
func (e *Engine) Workers(ctx context.Context, tenant uuid.UUID) ([]WorkerInfo, error) {
	list, err := e.st.ListWorkers(ctx, tenant)
	return list, store.Refused(err)
}
