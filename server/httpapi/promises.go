package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

// ResolvePromiseRequest resolves a durable promise.
type ResolvePromiseRequest struct {
	Value json.RawMessage `json:"value,omitempty" doc:"Any JSON value; default null. At most max_payload_bytes."`
}

// RejectPromiseRequest rejects a durable promise.
type RejectPromiseRequest struct {
	Error string `json:"error,omitempty" maxLength:"65536" doc:"Default \"rejected\"."`
}

type resolveInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The promise id from PROMISE_CREATED (also id:<uuid>), or <workflow execution id>:<promise name>."`
	Body *ResolvePromiseRequest
}

type rejectInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The promise id from PROMISE_CREATED (also id:<uuid>), or <workflow execution id>:<promise name>."`
	Body *RejectPromiseRequest
}

type resolveAnyInput struct {
	ID   string `path:"id" doc:"The promise id from PROMISE_CREATED (also id:<uuid>), or <workflow execution id>:<promise name>."`
	Body *ResolvePromiseRequest
}

type rejectAnyInput struct {
	ID   string `path:"id" doc:"The promise id from PROMISE_CREATED (also id:<uuid>), or <workflow execution id>:<promise name>."`
	Body *RejectPromiseRequest
}

func (a *api) promiseRoutes(h huma.API) {
	desc := "Settles a pending promise and wakes its workflow. A promise already settled (resolved, rejected, " +
		"timed out or cancelled) keeps its first outcome: 409, saying which."
	op := func(id, summary, path string) huma.Operation {
		return a.withBody(huma.Operation{
			OperationID: id, Method: http.MethodPost, Path: path, Summary: summary, Description: desc,
			Tags: []string{tagPromises}, DefaultStatus: http.StatusNoContent, Errors: errorsPlus(http.StatusConflict),
		}, 1)
	}
	register(h, op("resolve-promise", "Resolve a promise", "/{slug}/promises/{id}/resolve"),
		func(ctx context.Context, in *resolveInput) (*struct{}, error) {
			return a.settle(ctx, in.Slug, in.ID, true, in.Body, nil)
		})
	register(h, op("reject-promise", "Reject a promise", "/{slug}/promises/{id}/reject"),
		func(ctx context.Context, in *rejectInput) (*struct{}, error) {
			return a.settle(ctx, in.Slug, in.ID, false, nil, in.Body)
		})
	// The tenant of the credential, for callers that know no slug.
	huma.Register(h, op("resolve-promise-of-caller", "Resolve a promise of the caller's tenant", "/api/promises/{id}/resolve"),
		func(ctx context.Context, in *resolveAnyInput) (*struct{}, error) {
			return a.settle(ctx, "", in.ID, true, in.Body, nil)
		})
	huma.Register(h, op("reject-promise-of-caller", "Reject a promise of the caller's tenant", "/api/promises/{id}/reject"),
		func(ctx context.Context, in *rejectAnyInput) (*struct{}, error) {
			return a.settle(ctx, "", in.ID, false, nil, in.Body)
		})
}

// settle resolves or rejects promise ref of the tenant of slug ("" = the
// caller's own tenant).
func (a *api) settle(ctx context.Context, slug, ref string, resolve bool, rb *ResolvePromiseRequest, jb *RejectPromiseRequest) (*struct{}, error) {
	var tenant uuid.UUID
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if slug != "" {
		t, _, err := a.tenantOf(ctx, slug)
		if err != nil {
			return nil, err
		}
		tenant = t.ID
	} else {
		tenant = p.TenantID // uuid.Nil (any tenant) only when authentication is disabled
	}
	ref = strings.TrimPrefix(ref, "id:")
	// An id, or <workflow id>:<promise name>.
	if err := limits.Text("path.id", ref, 37+limits.MaxName); err != nil {
		return nil, refused(err)
	}
	if err := a.authorize(ctx, p, auth.ActionPromiseSettle, auth.Resource{Type: "promise", TenantID: tenant, ID: ref}); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("promise %q", ref)
	if resolve {
		var value json.RawMessage
		if rb != nil {
			value = rb.Value
		}
		if value, err = engine.Payload("value", value); err != nil {
			return nil, a.fail(what, err)
		}
		err = a.engine.ResolvePromise(ctx, tenant, ref, value)
	} else {
		msg := "rejected"
		if jb != nil && jb.Error != "" {
			msg = jb.Error
		}
		if err := limits.Message("body.error", msg); err != nil {
			return nil, refused(err)
		}
		err = a.engine.RejectPromise(ctx, tenant, ref, msg)
	}
	if err != nil {
		return nil, a.fail(what, err)
	}
	return &struct{}{}, nil
}
