package server_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flovyn/flovyn/internal/pgtest"
	"github.com/flovyn/flovyn/internal/servertest"
	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/config"
	"github.com/flovyn/flovyn/server/store"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestInvalidPolicyFileStopsTheServer(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.cedar")
	if err := os.WriteFile(bad, []byte(`permit (principal, action, resource) when { principal.role == };`), 0o600); err != nil {
		t.Fatal(err)
	}
	url := pgtest.NewDatabase(t)
	for _, path := range []string{bad, filepath.Join(dir, "missing.cedar")} {
		_, err := server.New(server.Options{
			DatabaseURL: url, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", RunMigrations: true,
			GRPCMethods: auth.AllMethods, HTTPMethods: auth.AllMethods, PolicyFile: path,
		})
		if err == nil {
			t.Fatalf("%s: server.New succeeded", path)
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("%s: error %q does not name the file", path, err)
		}
	}

	// A valid file is used instead of the embedded policies: here nobody
	// but workers may do anything.
	good := filepath.Join(dir, "good.cedar")
	if err := os.WriteFile(good, []byte(`permit (principal is Worker, action, resource);`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{
		DatabaseURL: url, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", RunMigrations: true,
		GRPCMethods: auth.AllMethods, HTTPMethods: auth.AllMethods, PolicyFile: good,
	})
	if err != nil {
		t.Fatal(err)
	}
	owner := auth.Principal{TenantID: testTenant.ID, Type: auth.PrincipalUser, ID: "o", Role: "OWNER"}
	if err := srv.Authorizer().Authorize(context.Background(), owner, auth.ActionWorkflowRead, auth.Resource{Type: "tenant", TenantID: testTenant.ID}); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("OWNER under the custom policy: %v, want ErrForbidden", err)
	}
}

const (
	viewerKey = "flovyn_sk_test_viewer_0123456789"
	memberKey = "flovyn_sk_test_member_0123456789"
	rootKey   = "flovyn_sk_test_root_00123456789"
	ownerKey  = "flovyn_sk_test_owner_0123456789"
	jwtSecret = "a shared HS256 secret for the tests"
)

var otherTenant = store.Tenant{ID: uuid.MustParse("7b2e4d3f-1e5c-4d9f-8a68-2c3d4e5f6a71"), Slug: "other", Name: "Other", Tier: "FREE"}

// startConfigured runs a server built from a configuration, as `flovyn
// server` does: static keys of every kind and JWTs on both endpoints.
func startConfigured(t *testing.T, edit func(c *config.Config)) (*server.Server, *syncBuffer) {
	t.Helper()
	c := config.Default()
	c.DatabaseURL = pgtest.NewDatabase(t)
	c.BindAddress = "127.0.0.1"
	c.HTTPPort, c.GRPCPort = 0, 0
	c.Orgs = []config.Org{
		{ID: testTenant.ID.String(), Slug: testTenant.Slug, Name: testTenant.Name},
		{ID: otherTenant.ID.String(), Slug: otherTenant.Slug, Name: otherTenant.Name},
	}
	tenant := testTenant.ID.String()
	c.Auth.StaticAPIKey.Keys = []config.StaticKey{
		{Key: staticKey, OrgID: tenant, PrincipalType: "worker", PrincipalID: "worker:test"},
		{Key: viewerKey, OrgID: tenant, PrincipalType: "user", PrincipalID: "user:viewer", Role: "viewer"},
		{Key: memberKey, OrgID: tenant, PrincipalType: "user", PrincipalID: "user:member", Role: "member"},
		{Key: ownerKey, OrgID: tenant, PrincipalType: "user", PrincipalID: "user:owner", Role: "owner"},
		{Key: rootKey, OrgID: tenant, PrincipalType: "user", PrincipalID: "user:root", Role: "owner", InstanceAdmin: true},
	}
	for _, ep := range []*config.Endpoint{&c.Auth.Endpoints.GRPC, &c.Auth.Endpoints.HTTP} {
		ep.Authenticators = append(ep.Authenticators, config.AuthJWT)
	}
	c.Auth.JWT.HS256Secret = jwtSecret
	c.Auth.JWT.Issuer = "https://idp.test"
	c.Auth.JWT.Audience = "flovyn-test"
	if edit != nil {
		edit(&c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts, err := server.OptionsFromConfig(&c, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, opts), logs
}

func token(t *testing.T, over jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{
		"iss": "https://idp.test", "aud": "flovyn-test", "sub": "ada",
		"exp": time.Now().Add(time.Hour).Unix(), "tenant": testTenant.Slug, "role": "member",
	}
	for k, v := range over {
		c[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGRPCAuthorization(t *testing.T) {
	srv, logs := startConfigured(t, nil)
	conn := dial(t, srv)
	dispatch := flovynv1.NewWorkflowDispatchClient(conn)
	lifecycle := flovynv1.NewWorkerLifecycleClient(conn)
	start := func(cred string) error {
		_, err := dispatch.StartWorkflow(withBearer(cred), &flovynv1.StartWorkflowRequest{WorkflowKind: "greet", Queue: "default", Input: []byte(`{}`)})
		return err
	}
	heartbeat := func(cred string) error {
		_, err := lifecycle.SendHeartbeat(withBearer(cred), &flovynv1.WorkerHeartbeatRequest{WorkerId: uuid.NewString()})
		return err
	}

	for _, tc := range []struct {
		name string
		call func(string) error
		cred string
		want codes.Code
	}{
		{"VIEWER key starts a workflow", start, viewerKey, codes.PermissionDenied},
		{"Worker key starts a workflow", start, staticKey, codes.OK},
		{"MEMBER key starts a workflow", start, memberKey, codes.OK},
		{"MEMBER key sends a worker heartbeat", heartbeat, memberKey, codes.PermissionDenied},
		{"OWNER key sends a worker heartbeat", heartbeat, ownerKey, codes.OK},
		{"Worker key sends a heartbeat", heartbeat, staticKey, codes.OK},
		{"VIEWER JWT starts a workflow", start, token(t, jwt.MapClaims{"role": "VIEWER"}), codes.PermissionDenied},
		{"MEMBER JWT (tenant by slug) starts a workflow", start, token(t, nil), codes.OK},
		{"MEMBER JWT (tenant by id) starts a workflow", start, token(t, jwt.MapClaims{"tenant": testTenant.ID.String()}), codes.OK},
		{"Worker JWT sends a heartbeat", heartbeat, token(t, jwt.MapClaims{"principal_type": "Worker"}), codes.OK},
		{"expired JWT", start, token(t, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}), codes.Unauthenticated},
		{"JWT for another audience", start, token(t, jwt.MapClaims{"aud": "elsewhere"}), codes.Unauthenticated},
		{"JWT with a bad signature", start, token(t, nil)[:len(token(t, nil))-2] + "xx", codes.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.cred)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.want)
			}
		})
	}

	err := start(viewerKey)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "workflow.start") {
		t.Fatalf("denial message %q does not name the action", msg)
	}
	if l := logs.String(); !strings.Contains(l, "authorization denied") || !strings.Contains(l, "user:viewer") || !strings.Contains(l, "action=workflow.start") {
		t.Fatalf("denial not logged with principal and action:\n%s", l)
	}

	// A worker of one tenant naming another tenant's org_id is refused by
	// the handler (the credential fixes the tenant).
	_, err = dispatch.StartWorkflow(withBearer(staticKey), &flovynv1.StartWorkflowRequest{WorkflowKind: "greet", Queue: "default", OrgId: otherTenant.ID.String()})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("cross-tenant start: %v, want PERMISSION_DENIED", err)
	}
}

func TestInstanceAdminFromStaticKey(t *testing.T) {
	srv, _ := startConfigured(t, nil)
	ctx := context.Background()
	az := srv.Authorizer()
	for _, tc := range []struct {
		key  string
		want bool
	}{{rootKey, true}, {ownerKey, false}, {staticKey, false}} {
		p, err := srv.Auth().Authenticate(ctx, "Bearer "+tc.key, auth.AllMethods)
		if err != nil {
			t.Fatal(err)
		}
		if p.InstanceAdmin != tc.want {
			t.Fatalf("%s: InstanceAdmin = %v", p.ID, p.InstanceAdmin)
		}
		for _, action := range []auth.Action{auth.ActionTenantCreate, auth.ActionTenantList} {
			err := az.Authorize(ctx, p, action, auth.Resource{Type: "tenant", ID: "new-tenant"})
			if tc.want && err != nil || !tc.want && !errors.Is(err, auth.ErrForbidden) {
				t.Fatalf("%s %s: %v", p.ID, action, err)
			}
		}
		// Only the instance admin acts in another tenant.
		err = az.Authorize(ctx, p, auth.ActionWorkflowRead, auth.Resource{Type: "workflow", TenantID: otherTenant.ID, ID: uuid.NewString()})
		if tc.want && err != nil || !tc.want && !errors.Is(err, auth.ErrForbidden) {
			t.Fatalf("%s in another tenant: %v", p.ID, err)
		}
	}
}

func TestJWTSkipSignatureVerificationWarnsAtStart(t *testing.T) {
	srv, logs := startConfigured(t, func(c *config.Config) {
		c.Auth.JWT.HS256Secret = ""
		c.Auth.JWT.SkipSignatureVerification = true
	})
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "SIGNATURE VERIFICATION IS DISABLED") {
		t.Fatalf("no warning at start:\n%s", logs.String())
	}
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://idp.test", "aud": "flovyn-test", "sub": "mallory",
		"exp": time.Now().Add(time.Hour).Unix(), "tenant": testTenant.Slug, "role": "owner",
	}).SignedString([]byte("anything"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = flovynv1.NewWorkerLifecycleClient(dial(t, srv)).SendHeartbeat(withBearer(forged), &flovynv1.WorkerHeartbeatRequest{WorkerId: uuid.NewString()})
	if err != nil {
		t.Fatalf("forged token with skip_signature_verification: %v", err)
	}
}

func TestAuthDisabledSkipsAuthorization(t *testing.T) {
	srv := servertest.Start(t, server.Options{
		DatabaseURL: pgtest.NewDatabase(t), HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", RunMigrations: true,
		Tenants: []store.Tenant{testTenant}, AuthDisabled: true,
	})
	_, err := flovynv1.NewWorkflowDispatchClient(dial(t, srv)).StartWorkflow(context.Background(), &flovynv1.StartWorkflowRequest{
		WorkflowKind: "greet", Queue: "default", OrgId: testTenant.ID.String(),
	})
	if err != nil {
		t.Fatalf("StartWorkflow with auth disabled: %v", err)
	}
}
