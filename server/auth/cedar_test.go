package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go"
	"github.com/google/uuid"
)

var allActions = []Action{
	ActionTenantCreate, ActionTenantList, ActionTenantRead,
	ActionCredentialCreate, ActionCredentialList, ActionCredentialRevoke,
	ActionWorkflowStart, ActionWorkflowRead, ActionWorkflowCancel, ActionWorkflowSignal,
	ActionAgentStart, ActionAgentRead, ActionAgentCancel, ActionAgentSignal,
	ActionPromiseSettle, ActionWorkerList, ActionWorkerExecute,
}

var (
	tenantA = uuid.MustParse("11111111-1111-4111-8111-111111111111")
	tenantB = uuid.MustParse("22222222-2222-4222-8222-222222222222")
)

func defaultAuthorizer(t *testing.T) (*CedarAuthorizer, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	a, err := NewCedarAuthorizer("", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a, &logs
}

// resourceFor is the resource the REST API and gRPC name for an action in
// tenant: instance-wide for tenant.create and tenant.list.
func resourceFor(action Action, tenant uuid.UUID) Resource {
	switch action {
	case ActionTenantCreate, ActionTenantList:
		return Resource{Type: "tenant"}
	case ActionTenantRead:
		return Resource{Type: "tenant", TenantID: tenant}
	case ActionCredentialCreate, ActionCredentialList, ActionCredentialRevoke:
		return Resource{Type: "credential", TenantID: tenant, ID: uuid.NewString()}
	case ActionPromiseSettle:
		return Resource{Type: "promise", TenantID: tenant, ID: "p1"}
	case ActionWorkerList:
		return Resource{Type: "worker", TenantID: tenant}
	case ActionWorkerExecute:
		return Resource{Type: "tenant", TenantID: tenant}
	case ActionAgentStart, ActionAgentRead, ActionAgentCancel, ActionAgentSignal:
		return Resource{Type: "agent", TenantID: tenant, ID: uuid.NewString()}
	default:
		return Resource{Type: "workflow", TenantID: tenant, ID: uuid.NewString()}
	}
}

func TestDefaultPoliciesPerPrincipal(t *testing.T) {
	a, _ := defaultAuthorizer(t)
	read := []Action{ActionTenantRead, ActionWorkflowRead, ActionAgentRead}
	member := append(slices.Clone(read), ActionWorkflowStart, ActionWorkflowSignal, ActionWorkflowCancel,
		ActionAgentStart, ActionAgentSignal, ActionAgentCancel, ActionPromiseSettle)
	admin := append(slices.Clone(member), ActionCredentialCreate, ActionCredentialList, ActionCredentialRevoke, ActionWorkerList)
	owner := append(slices.Clone(admin), ActionWorkerExecute)
	worker := []Action{ActionWorkerExecute, ActionWorkflowStart, ActionWorkflowRead, ActionWorkflowSignal,
		ActionAgentStart, ActionAgentRead, ActionAgentSignal, ActionPromiseSettle}

	for _, tc := range []struct {
		name    string
		p       Principal
		allowed []Action
	}{
		{"VIEWER", Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u", Role: "VIEWER"}, read},
		{"MEMBER", Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u", Role: "MEMBER"}, member},
		{"ADMIN", Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u", Role: "ADMIN"}, admin},
		{"OWNER", Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u", Role: "OWNER"}, owner},
		{"Worker", Principal{TenantID: tenantA, Type: PrincipalWorker, ID: "w"}, worker},
		{"User without a role", Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u"}, nil},
		{"unknown role", Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u", Role: "SUPERUSER"}, nil},
		{"Worker with a role", Principal{TenantID: tenantA, Type: PrincipalWorker, ID: "w", Role: "OWNER"}, worker},
		{"unknown principal type", Principal{TenantID: tenantA, Type: "Robot", ID: "r", Role: "OWNER"}, nil},
		{"instance admin", Principal{TenantID: tenantA, Type: PrincipalUser, ID: "root", InstanceAdmin: true}, allActions},
		{"instance admin without a tenant", Principal{Type: PrincipalUser, ID: "root", InstanceAdmin: true}, allActions},
	} {
		for _, action := range allActions {
			t.Run(tc.name+"/"+string(action), func(t *testing.T) {
				err := a.Authorize(context.Background(), tc.p, action, resourceFor(action, tenantA))
				want := slices.Contains(tc.allowed, action)
				if want && err != nil {
					t.Fatalf("denied: %v", err)
				}
				if !want && !errors.Is(err, ErrForbidden) {
					t.Fatalf("err = %v, want ErrForbidden", err)
				}
			})
		}
	}
}

func TestCrossTenantDenied(t *testing.T) {
	a, logs := defaultAuthorizer(t)
	for _, p := range []Principal{
		{TenantID: tenantA, Type: PrincipalUser, ID: "owner", Role: "OWNER"},
		{TenantID: tenantA, Type: PrincipalWorker, ID: "worker"},
	} {
		for _, action := range allActions {
			err := a.Authorize(context.Background(), p, action, resourceFor(action, tenantB))
			if !errors.Is(err, ErrForbidden) {
				t.Errorf("%s %s in another tenant: %v, want ErrForbidden", p.ID, action, err)
			}
		}
	}
	// The instance admin acts in any tenant.
	root := Principal{TenantID: tenantA, Type: PrincipalUser, ID: "root", InstanceAdmin: true}
	if err := a.Authorize(context.Background(), root, ActionWorkflowStart, resourceFor(ActionWorkflowStart, tenantB)); err != nil {
		t.Errorf("instance admin in another tenant: %v", err)
	}
	if !strings.Contains(logs.String(), "authorization denied") || !strings.Contains(logs.String(), tenantB.String()) {
		t.Errorf("denials not logged with the resource:\n%s", logs.String())
	}
}

// The policies alone keep tenants apart too, without the Go-side check.
func TestPoliciesForbidCrossTenant(t *testing.T) {
	a, _ := defaultAuthorizer(t)
	p := Principal{TenantID: tenantA, Type: PrincipalUser, ID: "owner", Role: "OWNER"}
	for _, action := range allActions {
		req, entities, err := request(p, action, resourceFor(action, tenantB))
		if err != nil {
			t.Fatal(err)
		}
		decision, diag := cedar.Authorize(a.policies, entities, req)
		if decision || len(diag.Errors) > 0 {
			t.Errorf("%s: decision %v, errors %v", action, decision, diag.Errors)
		}
	}
}

func TestDenialIsLoggedAndNamesTheAction(t *testing.T) {
	a, logs := defaultAuthorizer(t)
	p := Principal{TenantID: tenantA, Type: PrincipalUser, ID: "user:viewer", Role: "VIEWER"}
	err := a.Authorize(context.Background(), p, ActionWorkflowStart, Resource{Type: "tenant", TenantID: tenantA})
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "workflow.start") {
		t.Fatalf("err = %v, want ErrForbidden naming workflow.start", err)
	}
	for _, want := range []string{"authorization denied", "user:viewer", "workflow.start", "resource_type=tenant", tenantA.String()} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestAuthDisabledPrincipalIsAllowed(t *testing.T) {
	a, _ := defaultAuthorizer(t)
	p := Principal{Type: PrincipalUser, ID: "anonymous", Role: "OWNER", AnyTenant: true}
	if err := a.Authorize(context.Background(), p, ActionTenantCreate, Resource{Type: "tenant"}); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownResourceTypeDenied(t *testing.T) {
	a, _ := defaultAuthorizer(t)
	p := Principal{TenantID: tenantA, Type: PrincipalUser, ID: "o", Role: "OWNER"}
	if err := a.Authorize(context.Background(), p, ActionWorkflowRead, Resource{Type: "spaceship", TenantID: tenantA}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("err = %v", err)
	}
}

func TestPolicyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name, path, wantErr string
	}{
		{"missing", filepath.Join(dir, "nope.cedar"), "cannot read"},
		{"syntax error", write("bad.cedar", "permit (principal, action, resource) when { ;"), "invalid Cedar"},
		{"not cedar", write("json.cedar", `{"permit": true}`), "invalid Cedar"},
		{"empty", write("empty.cedar", "// nothing\n"), "no policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCedarAuthorizer(tc.path, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("err = %v, want one naming the file and %q", err, tc.wantErr)
			}
		})
	}

	// A valid file replaces the defaults: here VIEWERs may start workflows
	// and nothing else is allowed.
	a, err := NewCedarAuthorizer(write("custom.cedar", `
permit (principal is User, action == Action::"workflow.start", resource)
when { principal.role == "VIEWER" && resource has tenant && principal.tenant == resource.tenant };
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	viewer := Principal{TenantID: tenantA, Type: PrincipalUser, ID: "v", Role: "VIEWER"}
	if err := a.Authorize(context.Background(), viewer, ActionWorkflowStart, Resource{Type: "tenant", TenantID: tenantA}); err != nil {
		t.Fatalf("custom policy: %v", err)
	}
	if err := a.Authorize(context.Background(), viewer, ActionWorkflowRead, Resource{Type: "tenant", TenantID: tenantA}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("custom policy, workflow.read: %v", err)
	}

	// A policy that errors at evaluation (an attribute the server does not
	// send) denies, even when another policy would permit.
	a, err = NewCedarAuthorizer(write("erroring.cedar", `
permit (principal, action, resource);
forbid (principal, action, resource) when { principal.department == "x" };
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Authorize(context.Background(), viewer, ActionWorkflowRead, Resource{Type: "tenant", TenantID: tenantA}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("evaluation error: %v, want ErrForbidden", err)
	}
}

// Allowed requests are remembered, each by everything the policies see:
// the same request again is not evaluated again, and a request that
// differs in any part (principal, role, action, resource) is decided anew.
func TestDecisionsAreRememberedByTheWholeRequest(t *testing.T) {
	a, logs := defaultAuthorizer(t)
	viewer := Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u", Role: "VIEWER"}
	read := resourceFor(ActionWorkflowRead, tenantA)
	for range 3 {
		if err := a.Authorize(context.Background(), viewer, ActionWorkflowRead, read); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.allowed.Len(); n != 1 {
		t.Fatalf("%d remembered decisions after one request three times, want 1", n)
	}
	if err := a.Authorize(context.Background(), viewer, ActionWorkflowStart, read); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a viewer starting a workflow: %v, want ErrForbidden", err)
	}
	other := viewer
	other.TenantID = tenantB
	if err := a.Authorize(context.Background(), other, ActionWorkflowRead, read); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another tenant's viewer reading: %v, want ErrForbidden", err)
	}
	noRole := viewer
	noRole.Role = ""
	if err := a.Authorize(context.Background(), noRole, ActionWorkflowRead, read); !errors.Is(err, ErrForbidden) {
		t.Fatalf("the same user without a role: %v, want ErrForbidden", err)
	}
	for range 2 {
		_ = a.Authorize(context.Background(), viewer, ActionCredentialCreate, resourceFor(ActionCredentialCreate, tenantA))
	}
	if n := strings.Count(logs.String(), "credential.create"); n != 2 {
		t.Fatalf("a denial repeated is logged %d times, want 2", n)
	}
	if n := a.allowed.Len(); n != 1 {
		t.Fatalf("%d remembered decisions, want only the one allowed", n)
	}
}
