package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

// instanceAdmin reports whether p may act on every tenant: an instance
// administrator, or anyone when authentication is disabled (AnyTenant).
func instanceAdmin(p auth.Principal) bool {
	return p.InstanceAdmin || p.AnyTenant
}

// seesTenant reports whether p may even learn that tenant exists.
func seesTenant(p auth.Principal, tenant uuid.UUID) bool {
	return instanceAdmin(p) || p.TenantID == tenant
}

func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return p, huma.Error401Unauthorized("missing authorization: send 'Bearer <token>'")
	}
	return p, nil
}

// tenantOf resolves the tenant a route names and the caller. A tenant the
// caller does not belong to is reported exactly like one that does not
// exist (404), so its existence is not revealed.
func (a *api) tenantOf(ctx context.Context, slug string) (engine.Tenant, auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return engine.Tenant{}, p, err
	}
	if err := limits.Name("path.slug", slug); err != nil {
		return engine.Tenant{}, p, refused(err)
	}
	t, err := a.engine.TenantBySlug(ctx, slug)
	if errors.Is(err, engine.ErrNotFound) || err == nil && !seesTenant(p, t.ID) {
		return engine.Tenant{}, p, huma.Error404NotFound(fmt.Sprintf("tenant %q not found", slug))
	}
	if err != nil {
		return engine.Tenant{}, p, a.fail("tenant", err)
	}
	return t, p, nil
}

// authorize asks the authorizer; a refusal is 403.
func (a *api) authorize(ctx context.Context, p auth.Principal, action auth.Action, res auth.Resource) error {
	err := a.authz.Authorize(ctx, p, action, res)
	if err == nil {
		return nil
	}
	if errors.Is(err, auth.ErrForbidden) {
		return huma.Error403Forbidden(err.Error())
	}
	return a.fail("authorization", err)
}

// scope resolves the tenant of slug and authorizes action on a resource of it.
func (a *api) scope(ctx context.Context, slug string, action auth.Action, resType, resID string) (engine.Tenant, auth.Principal, error) {
	t, p, err := a.tenantOf(ctx, slug)
	if err != nil {
		return t, p, err
	}
	return t, p, a.authorize(ctx, p, action, auth.Resource{Type: resType, TenantID: t.ID, ID: resID})
}
