package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/auth"
)

type tenantDoc struct {
	ID        uuid.UUID `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Tier      string    `json:"tier"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"createdAt"`
}

func TestTenantsAsInstanceAdmin(t *testing.T) {
	t.Parallel()
	// With authentication disabled every caller may act on every tenant.
	e := start(t, func(o *server.Options) { o.AuthDisabled = true })

	var created tenantDoc
	e.do("POST", "/api/tenants", noAuth, map[string]string{"name": "Test Tenant", "slug": "test-1a2b3c4d", "tier": "FREE", "region": "us-west-2"}).
		want(201, &created)
	if created.ID == uuid.Nil || created.Slug != "test-1a2b3c4d" || created.Name != "Test Tenant" || created.Tier != "FREE" ||
		created.Region != "us-west-2" || time.Since(created.CreatedAt) > time.Minute {
		t.Fatalf("created %+v", created)
	}
	// The orgs spelling and the defaults.
	var org tenantDoc
	e.do("POST", "/api/orgs", noAuth, map[string]string{"slug": "second"}).want(201, &org)
	if org.Name != "second" || org.Tier != "FREE" {
		t.Fatalf("defaults: %+v", org)
	}

	p := e.do("POST", "/api/tenants", noAuth, map[string]string{"name": "Again", "slug": "test-1a2b3c4d"}).problem(409, "")
	if p.Detail == "" {
		t.Fatalf("409 without detail")
	}
	for _, slug := range []string{"Bad_Slug", "-dash", "dash-", "", "a very bad slug", strings.Repeat("a", 64)} {
		e.do("POST", "/api/tenants", noAuth, map[string]string{"slug": slug}).problem(400, "body.slug")
	}
	e.do("POST", "/api/tenants", noAuth, map[string]string{"name": "no slug"}).problem(400, "body.slug")
	e.do("POST", "/api/tenants", noAuth, `{"slug": "x",`).problem(400, "")

	var list struct {
		Tenants []tenantDoc `json:"tenants"`
	}
	e.do("GET", "/api/tenants", noAuth, nil).want(200, &list)
	if len(list.Tenants) != 4 {
		t.Fatalf("tenants %+v, want acme, other and the two created", list.Tenants)
	}
	var got tenantDoc
	e.do("GET", "/api/orgs/test-1a2b3c4d", noAuth, nil).want(200, &got)
	if got.ID != created.ID {
		t.Fatalf("get %+v, want %+v", got, created)
	}
	e.do("GET", "/api/tenants/nope", noAuth, nil).problem(404, "")
}

func TestTenantsAsStaticInstanceAdmin(t *testing.T) {
	t.Parallel()
	e := start(t)

	// The harness flow of the first SDK era: create a tenant, then a worker
	// token in it, with the same credential.
	var created tenantDoc
	e.do("POST", "/api/tenants", adminKey, map[string]string{"name": "E2E", "slug": "test-9f8e7d6c", "tier": "FREE"}).want(201, &created)
	var tok issued
	e.do("POST", "/api/tenants/test-9f8e7d6c/worker-tokens", adminKey, map[string]string{"displayName": "e2e-test-worker"}).want(201, &tok)
	var list struct {
		Credentials []issued `json:"credentials"`
	}
	e.do("GET", "/api/tenants/test-9f8e7d6c/worker-tokens", tok.Token, nil).problem(403, "") // a worker lists no credentials
	e.do("GET", "/api/tenants/test-9f8e7d6c/workflow-executions", tok.Token, nil).want(200, nil)
	e.do("GET", "/api/tenants/acme/workflow-executions", tok.Token, nil).problem(404, "")
	e.do("GET", "/api/orgs/test-9f8e7d6c/worker-tokens", adminKey, nil).want(200, &list)
	if len(list.Credentials) != 1 || list.Credentials[0].ID != tok.ID {
		t.Fatalf("tokens of the new tenant: %+v", list.Credentials)
	}

	var tenants struct {
		Tenants []tenantDoc `json:"tenants"`
	}
	e.do("GET", "/api/tenants", adminKey, nil).want(200, &tenants)
	if len(tenants.Tenants) != 3 {
		t.Fatalf("an instance admin sees %+v", tenants.Tenants)
	}
	e.do("GET", "/api/tenants/other", adminKey, nil).want(200, nil)
	e.do("POST", "/api/tenants", adminKey, map[string]string{"slug": "test-9f8e7d6c"}).problem(409, "")
	e.do("POST", "/api/tenants", adminKey, map[string]string{"slug": "Not Valid"}).problem(400, "body.slug")
}

func TestTenantsAsTenantUser(t *testing.T) {
	t.Parallel()
	e := start(t)

	// Only an instance administrator creates tenants.
	e.do("POST", "/api/tenants", ownerKey, map[string]string{"slug": "mine"}).problem(403, "")

	var list struct {
		Tenants []tenantDoc `json:"tenants"`
	}
	e.do("GET", "/api/orgs", ownerKey, nil).want(200, &list)
	if len(list.Tenants) != 1 || list.Tenants[0].ID != acme.ID {
		t.Fatalf("a tenant's user sees %+v, want its own tenant only", list.Tenants)
	}
	var got tenantDoc
	e.do("GET", "/api/tenants/acme", ownerKey, nil).want(200, &got)
	if got.ID != acme.ID || got.Slug != "acme" || got.Name != "Acme" {
		t.Fatalf("get %+v", got)
	}
	// Another tenant is indistinguishable from no tenant.
	notFound := e.do("GET", "/api/tenants/other", ownerKey, nil).problem(404, "")
	missing := e.do("GET", "/api/tenants/nope", ownerKey, nil).problem(404, "")
	if len(notFound.Detail) == 0 || len(missing.Detail) == 0 {
		t.Fatalf("404s %+v %+v", notFound, missing)
	}
}

// authorizerFunc adapts a function to auth.Authorizer.
type authorizerFunc func(p auth.Principal, action auth.Action, res auth.Resource) error

func (f authorizerFunc) Authorize(_ context.Context, p auth.Principal, action auth.Action, res auth.Resource) error {
	return f(p, action, res)
}

func TestConfiguredAuthorizerDecides(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	e := start(t, func(o *server.Options) {
		o.Authorizer = authorizerFunc(func(p auth.Principal, action auth.Action, res auth.Resource) error {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s %s %s", p.ID, action, res.Type))
			mu.Unlock()
			if p.Role == "OWNER" {
				return nil
			}
			return fmt.Errorf("%w: only owners here", auth.ErrForbidden)
		})
	})
	e.do("POST", "/api/tenants", ownerKey, map[string]string{"slug": "by-policy"}).want(201, nil)
	e.do("GET", "/api/tenants/acme/workflow-executions", ownerKey, nil).want(200, nil)
	p := e.do("GET", "/api/tenants/acme/workflow-executions", workerKey, nil).problem(403, "")
	if p.Detail == "" {
		t.Fatal("403 without detail")
	}
	// The tenant check comes first: another tenant's slug is 404, not 403.
	e.do("GET", "/api/tenants/other/workflow-executions", workerKey, nil).problem(404, "")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("authorizer asked %q", seen)
	}
}
