package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/auth"
)

type issued struct {
	ID          uuid.UUID  `json:"id"`
	Token       string     `json:"token"`
	Prefix      string     `json:"prefix"`
	Kind        string     `json:"kind"`
	DisplayName string     `json:"displayName"`
	Role        string     `json:"role"`
	CreatedAt   time.Time  `json:"createdAt"`
	RevokedAt   *time.Time `json:"revokedAt"`
}

func TestWorkerTokens(t *testing.T) {
	t.Parallel()
	e := start(t)

	var tok issued
	e.do("POST", "/api/tenants/acme/worker-tokens", ownerKey, map[string]string{"displayName": "ci"}).want(201, &tok)
	if tok.ID == uuid.Nil || !strings.HasPrefix(tok.Token, auth.WorkerTokenPrefix) || tok.Prefix == "" ||
		!strings.HasPrefix(tok.Token, tok.Prefix) || tok.Kind != "worker_token" || tok.DisplayName != "ci" {
		t.Fatalf("issued %+v", tok)
	}
	var plugin issued
	e.do("POST", "/api/orgs/acme/worker-token/tokens", ownerKey, map[string]string{"displayName": "plugin"}).want(201, &plugin)

	// Listed without secrets, under both paths.
	for _, path := range []string{"/api/tenants/acme/worker-tokens", "/api/orgs/acme/worker-token/tokens"} {
		r := e.do("GET", path, ownerKey, nil)
		var list struct {
			Credentials []map[string]any `json:"credentials"`
		}
		r.want(200, &list)
		if len(list.Credentials) != 2 || strings.Contains(string(r.body), tok.Token) || strings.Contains(string(r.body), plugin.Token) {
			t.Fatalf("%s: %s", path, r.body)
		}
		for _, c := range list.Credentials {
			for _, k := range []string{"id", "displayName", "prefix", "createdAt", "lastUsedAt", "revokedAt"} {
				if _, ok := c[k]; !ok {
					t.Fatalf("%s: entry %v has no %s", path, c, k)
				}
			}
			if _, ok := c["token"]; ok {
				t.Fatalf("%s: entry %v shows a token", path, c)
			}
		}
	}

	// The token works on REST and gRPC.
	life := flovynv1.NewWorkerLifecycleClient(e.client(tok.Token).Conn())
	heartbeat := func() error {
		_, err := life.SendHeartbeat(context.Background(), &flovynv1.WorkerHeartbeatRequest{WorkerId: uuid.NewString()})
		return err
	}
	if err := heartbeat(); err != nil {
		t.Fatalf("gRPC with the issued token: %v", err)
	}
	e.do("GET", "/api/tenants/acme/workflow-executions", tok.Token, nil).want(200, nil)

	// Revoked: refused at once on both.
	var revoked issued
	e.do("DELETE", "/api/tenants/acme/worker-tokens/"+tok.ID.String(), ownerKey, nil).want(200, &revoked)
	if revoked.ID != tok.ID || revoked.RevokedAt == nil {
		t.Fatalf("revoked %+v", revoked)
	}
	if err := heartbeat(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC after revocation: %v, want UNAUTHENTICATED", err)
	}
	e.do("GET", "/api/tenants/acme/workflow-executions", tok.Token, nil).problem(401, "")
	// Revoking again keeps the first time.
	var again issued
	e.do("DELETE", "/api/orgs/acme/worker-token/tokens/"+tok.ID.String(), ownerKey, nil).want(200, &again)
	if !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Fatalf("revoked at %v, then %v", revoked.RevokedAt, again.RevokedAt)
	}

	// Errors.
	e.do("DELETE", "/api/tenants/acme/worker-tokens/"+uuid.NewString(), ownerKey, nil).problem(404, "")
	e.do("DELETE", "/api/tenants/acme/worker-tokens/not-an-id", ownerKey, nil).problem(400, "path.id")
	e.do("DELETE", "/api/tenants/acme/worker-tokens/"+plugin.ID.String(), otherKey, nil).problem(404, "")
	e.do("DELETE", "/api/tenants/other/worker-tokens/"+plugin.ID.String(), otherKey, nil).problem(404, "")
	e.do("POST", "/api/tenants/other/worker-tokens", ownerKey, map[string]string{}).problem(404, "")
	e.do("POST", "/api/tenants/acme/worker-tokens", workerKey, map[string]string{}).problem(403, "")
	e.do("POST", "/api/tenants/acme/worker-tokens", ownerKey, map[string]any{"displayName": 7}).problem(400, "body.displayName")
	// The plugin token still works.
	e.do("GET", "/api/tenants/acme/workflow-executions", plugin.Token, nil).want(200, nil)
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	e := start(t)

	var key issued
	e.do("POST", "/api/tenants/acme/api-keys", ownerKey, map[string]string{"displayName": "ops", "role": "ADMIN"}).want(201, &key)
	if !strings.HasPrefix(key.Token, auth.APIKeyPrefix) || key.Role != "ADMIN" || key.Kind != "api_key" {
		t.Fatalf("issued %+v", key)
	}
	var member issued
	e.do("POST", "/api/orgs/acme/api-keys", key.Token, map[string]string{"displayName": "dev"}).want(201, &member)
	if member.Role != "MEMBER" {
		t.Fatalf("default role %q, want MEMBER", member.Role)
	}
	// No key with more rights than its issuer; roles are checked.
	e.do("POST", "/api/tenants/acme/api-keys", key.Token, map[string]string{"role": "OWNER"}).problem(403, "")
	e.do("POST", "/api/tenants/acme/api-keys", ownerKey, map[string]string{"role": "GOD"}).problem(400, "body.role")
	e.do("POST", "/api/tenants/acme/api-keys", viewerKey, map[string]string{"role": "VIEWER"}).problem(403, "")

	var list struct {
		Credentials []issued `json:"credentials"`
	}
	e.do("GET", "/api/tenants/acme/api-keys", key.Token, nil).want(200, &list)
	if len(list.Credentials) != 2 || list.Credentials[0].Token != "" {
		t.Fatalf("listed %+v", list.Credentials)
	}
	e.do("GET", "/api/tenants/acme/worker-tokens", key.Token, nil).want(200, &list)
	if len(list.Credentials) != 0 {
		t.Fatalf("worker tokens %+v", list.Credentials)
	}

	// An API key is not revoked through the worker-token routes.
	e.do("DELETE", "/api/tenants/acme/worker-tokens/"+member.ID.String(), ownerKey, nil).problem(404, "")
	e.do("DELETE", "/api/tenants/acme/api-keys/"+member.ID.String(), ownerKey, nil).want(200, nil)
	e.do("GET", "/api/tenants/acme", member.Token, nil).problem(401, "")
	e.do("GET", "/api/tenants/acme", key.Token, nil).want(200, nil)
}

// Revoking respects rank as issuing does, and the tenant's last active
// OWNER (or instance administrator) credential goes only with force.
func TestRevokeRespectsRank(t *testing.T) {
	t.Parallel()
	e := start(t)
	const keys = "/api/tenants/acme/api-keys/"
	issue := func(token, role string) issued {
		var k issued
		e.do("POST", "/api/tenants/acme/api-keys", token, map[string]string{"displayName": role, "role": role}).want(201, &k)
		return k
	}
	owner := issue(ownerKey, "OWNER")
	admin := issue(ownerKey, "ADMIN")
	member := issue(ownerKey, "MEMBER")

	// An ADMIN revokes a MEMBER's key, and its own rank's, not an OWNER's.
	e.do("DELETE", keys+member.ID.String(), admin.Token, nil).want(200, nil)
	p := e.do("DELETE", keys+owner.ID.String(), admin.Token, nil).problem(403, "")
	if !strings.Contains(p.Detail, "OWNER") || !strings.Contains(p.Detail, "ranks above") {
		t.Fatalf("403 detail %q", p.Detail)
	}
	e.do("DELETE", keys+owner.ID.String()+"?force=true", admin.Token, nil).problem(403, "")
	e.do("GET", "/api/tenants/acme", owner.Token, nil).want(200, nil)

	// The last active OWNER key: only with force.
	p = e.do("DELETE", keys+owner.ID.String(), ownerKey, nil).problem(409, "")
	if !strings.Contains(p.Detail, "last active OWNER") || !strings.Contains(p.Detail, "force=true") {
		t.Fatalf("409 detail %q", p.Detail)
	}
	e.do("GET", "/api/tenants/acme", owner.Token, nil).want(200, nil)
	// With a second OWNER key, the first goes without force.
	second := issue(owner.Token, "OWNER")
	e.do("DELETE", keys+owner.ID.String(), second.Token, nil).want(200, nil)
	e.do("DELETE", keys+owner.ID.String(), second.Token, nil).want(200, nil) // again: unchanged
	e.do("DELETE", keys+second.ID.String(), ownerKey, nil).problem(409, "")
	e.do("DELETE", keys+second.ID.String()+"?force=true", ownerKey, nil).want(200, nil)
	e.do("GET", "/api/tenants/acme", second.Token, nil).problem(401, "")

	// An instance administrator's key: above every tenant role.
	secret, root, err := e.srv.Auth().Issue(context.Background(), auth.NewCredential{
		TenantID: acme.ID, Kind: "api_key", DisplayName: "root", PrincipalID: "api-key:root", Role: "OWNER", InstanceAdmin: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{admin.Token, ownerKey} {
		p = e.do("DELETE", keys+root.ID.String()+"?force=true", token, nil).problem(403, "")
		if !strings.Contains(p.Detail, "instance administrator") {
			t.Fatalf("403 detail %q", p.Detail)
		}
	}
	// Even an instance administrator needs force for the last one.
	p = e.do("DELETE", keys+root.ID.String(), adminKey, nil).problem(409, "")
	if !strings.Contains(p.Detail, "instance administrator") || !strings.Contains(p.Detail, "force=true") {
		t.Fatalf("409 detail %q", p.Detail)
	}
	e.do("GET", "/api/tenants", secret, nil).want(200, nil)
	e.do("DELETE", keys+root.ID.String()+"?force=true", adminKey, nil).want(200, nil)
	e.do("GET", "/api/tenants", secret, nil).problem(401, "")

	// Worker tokens have no rank: an ADMIN revokes them.
	var tok issued
	e.do("POST", "/api/tenants/acme/worker-tokens", ownerKey, map[string]string{"displayName": "w"}).want(201, &tok)
	e.do("DELETE", "/api/tenants/acme/worker-tokens/"+tok.ID.String(), admin.Token, nil).want(200, nil)
}
