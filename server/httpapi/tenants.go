package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

// Tenant is an isolated space of workflows and credentials (the proto's org).
type Tenant struct {
	ID        uuid.UUID `json:"id" doc:"The tenant id: the org_id of the worker protocol."`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Tier      string    `json:"tier"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"createdAt"`
}

func tenantOut(t engine.Tenant) Tenant {
	return Tenant{ID: t.ID, Slug: t.Slug, Name: t.Name, Tier: t.Tier, Region: t.Region, CreatedAt: t.CreatedAt.UTC()}
}

// CreateTenantRequest creates a tenant.
type CreateTenantRequest struct {
	Name   string `json:"name,omitempty" maxLength:"255" doc:"Display name; default the slug."`
	Slug   string `json:"slug" doc:"1–63 lower-case letters, digits and inner hyphens; unique."`
	Tier   string `json:"tier,omitempty" default:"FREE" maxLength:"255"`
	Region string `json:"region,omitempty" maxLength:"255"`
}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

type createTenantInput struct {
	Body CreateTenantRequest
}

type tenantOutput struct {
	Body Tenant
}

type tenantSlugInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
}

// TenantList lists tenants.
type TenantList struct {
	Tenants []Tenant `json:"tenants"`
}

type tenantListOutput struct {
	Body TenantList
}

func (a *api) tenantRoutes(h huma.API) {
	register(h, a.withBody(huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "",
		Summary:       "Create a tenant",
		Description:   "Creates a tenant (an org). Only an instance administrator may. A slug already taken is 409.",
		Tags:          []string{tagTenants},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict},
	}, 0), a.createTenant)
	register(h, huma.Operation{
		OperationID: "list-tenants", Method: http.MethodGet, Path: "",
		Summary:     "List tenants",
		Description: "Every tenant for an instance administrator; otherwise the caller's own tenant.",
		Tags:        []string{tagTenants},
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, a.listTenants)
	register(h, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/{slug}",
		Summary: "Get a tenant",
		Tags:    []string{tagTenants},
		Errors:  tenantErrors,
	}, a.getTenant)
}

func (a *api) createTenant(ctx context.Context, in *createTenantInput) (*tenantOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	b := in.Body
	if err := a.authorize(ctx, p, auth.ActionTenantCreate, auth.Resource{Type: "tenant", ID: b.Slug}); err != nil {
		return nil, err
	}
	if !slugPattern.MatchString(b.Slug) {
		return nil, badRequest("body.slug", "must be 1 to 63 lower-case letters, digits or hyphens, starting and ending with a letter or digit", b.Slug)
	}
	if err := errors.Join(limits.OptionalName("body.name", b.Name), limits.OptionalName("body.tier", b.Tier),
		limits.OptionalName("body.region", b.Region)); err != nil {
		return nil, refused(err)
	}
	if b.Name == "" {
		b.Name = b.Slug
	}
	if b.Tier == "" {
		b.Tier = "FREE"
	}
	t, err := a.engine.CreateTenant(ctx, engine.Tenant{Slug: b.Slug, Name: b.Name, Tier: b.Tier, Region: b.Region})
	if err != nil {
		return nil, a.fail(fmt.Sprintf("a tenant with slug %q", b.Slug), err)
	}
	a.log.Info("tenant created", "slug", t.Slug, "id", t.ID, "by", p.ID)
	return &tenantOutput{Body: tenantOut(t)}, nil
}

func (a *api) listTenants(ctx context.Context, _ *struct{}) (*tenantListOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	out := &tenantListOutput{Body: TenantList{Tenants: []Tenant{}}}
	if !instanceAdmin(p) {
		t, err := a.engine.TenantByID(ctx, p.TenantID)
		if err != nil {
			return nil, a.fail("tenant", err)
		}
		if err := a.authorize(ctx, p, auth.ActionTenantRead, auth.Resource{Type: "tenant", TenantID: t.ID, ID: t.Slug}); err != nil {
			return nil, err
		}
		out.Body.Tenants = append(out.Body.Tenants, tenantOut(t))
		return out, nil
	}
	if err := a.authorize(ctx, p, auth.ActionTenantList, auth.Resource{Type: "tenant"}); err != nil {
		return nil, err
	}
	list, err := a.engine.Tenants(ctx)
	if err != nil {
		return nil, a.fail("tenants", err)
	}
	for _, t := range list {
		out.Body.Tenants = append(out.Body.Tenants, tenantOut(t))
	}
	return out, nil
}

func (a *api) getTenant(ctx context.Context, in *tenantSlugInput) (*tenantOutput, error) {
	t, _, err := a.scope(ctx, in.Slug, auth.ActionTenantRead, "tenant", in.Slug)
	if err != nil {
		return nil, err
	}
	return &tenantOutput{Body: tenantOut(t)}, nil
}
