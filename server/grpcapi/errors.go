package grpcapi

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
)

// toStatus maps engine errors onto gRPC status codes.
func (a *api) toStatus(method string, err error) error {
	var inv *engine.InvalidError
	var tooLarge *engine.TooLargeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &inv):
		return status.Error(codes.InvalidArgument, inv.Error())
	case errors.As(err, &tooLarge):
		return status.Error(codes.ResourceExhausted, tooLarge.Error())
	case errors.Is(err, engine.ErrNotFound):
		return status.Error(codes.NotFound, "not found")
	case errors.Is(err, engine.ErrTerminal), errors.Is(err, engine.ErrNotHeld):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	}
	a.log.Error("request failed", "method", method, "err", err)
	// Not UNAVAILABLE: the Rust SDK backs off for up to a minute on that.
	return status.Error(codes.Internal, "internal error; see the server log")
}

func invalidArg(field, msg string) error {
	return status.Error(codes.InvalidArgument, field+": "+msg)
}

func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		if s == "" {
			return uuid.Nil, invalidArg(field, "required")
		}
		return uuid.Nil, invalidArg(field, "not a UUID")
	}
	return id, nil
}

// tenantScope resolves the tenant a request acts in. The credential fixes
// it; an org_id naming another existing tenant is refused. An org_id that
// names no tenant at all is ignored: the Rust SDK sends a random one when
// the user sets none.
func (a *api) tenantScope(ctx context.Context, orgID string) (uuid.UUID, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return uuid.Nil, status.Error(codes.Unauthenticated, "no principal")
	}
	var requested uuid.UUID
	if orgID != "" {
		id, err := uuid.Parse(orgID)
		if err != nil {
			return uuid.Nil, invalidArg("org_id", "not a UUID")
		}
		requested = id
	}
	if p.AnyTenant {
		return requested, nil
	}
	if requested != uuid.Nil && requested != p.TenantID {
		exists, err := a.engine.TenantExists(ctx, requested)
		if err != nil {
			return uuid.Nil, a.toStatus("tenant", err)
		}
		if exists {
			return uuid.Nil, status.Error(codes.PermissionDenied, "org_id names a tenant this credential does not belong to")
		}
	}
	return p.TenantID, nil
}

// concreteTenant is tenantScope for requests that create or claim work and
// so need one tenant even when authentication is disabled.
func (a *api) concreteTenant(ctx context.Context, orgID string) (uuid.UUID, error) {
	tenant, err := a.tenantScope(ctx, orgID)
	if err == nil && tenant == uuid.Nil {
		return uuid.Nil, invalidArg("org_id", "required when authentication is disabled")
	}
	return tenant, err
}
