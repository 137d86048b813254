package cmd_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

type credentialDoc struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	DisplayName string  `json:"displayName"`
	Prefix      string  `json:"prefix"`
	Role        string  `json:"role"`
	RevokedAt   *string `json:"revokedAt"`
	Token       *string `json:"token"`
}

// registers reports whether token is accepted on gRPC.
func registers(t *testing.T, s *cliServer, token string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: s.grpc, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = flovynv1.NewWorkerLifecycleClient(c.Conn()).RegisterWorker(ctx, &flovynv1.WorkerRegistrationRequest{WorkerName: "probe", WorkerType: "UNIFIED"})
	return err == nil
}

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	// -q prints the secret alone, ready for TOKEN=$(…).
	r := s.ok("token", "create", "--name", "ci-worker", "-q")
	if !regexp.MustCompile(`^fwt_[A-Za-z0-9]+\n$`).MatchString(r.stdout) || r.stderr != "" {
		t.Fatalf("token create -q: %s", r)
	}
	worker := strings.TrimSpace(r.stdout)
	if !registers(t, s, worker) {
		t.Fatal("the new worker token is refused on gRPC")
	}

	// An API key with a role, as JSON; it works for the CLI itself.
	var key credentialDoc
	decode(t, s.ok("token", "create", "--type", "api", "--name", "dash", "--role", "viewer", "-o", "json"), &key)
	if key.Kind != "api_key" || key.Role != "VIEWER" || key.Token == nil || !strings.HasPrefix(*key.Token, "fak_") {
		t.Fatalf("api key: %+v", key)
	}
	viewer := runOpts{env: map[string]string{"FLOVYN_API_KEY": *key.Token}}
	if r := s.runWith(viewer, "workflow", "list"); r.code != 0 {
		t.Fatalf("the viewer key cannot list workflows: %s", r)
	}
	s.failsWith(viewer, 1, "403", "token", "create")

	// The table names both, never a secret.
	r = s.ok("token", "list")
	noBoxDrawing(t, r)
	if !strings.Contains(r.stdout, "ci-worker") || !strings.Contains(r.stdout, "dash") ||
		strings.Contains(r.stdout, worker) || strings.Contains(r.stdout, *key.Token) {
		t.Fatalf("token list: %s", r)
	}
	var list struct {
		Credentials []credentialDoc `json:"credentials"`
	}
	r = s.ok("token", "list", "-o", "json")
	decode(t, r, &list)
	if len(list.Credentials) != 2 || strings.Contains(r.stdout, worker) || strings.Contains(r.stdout, `"token"`) {
		t.Fatalf("token list -o json: %s", r)
	}
	decode(t, s.ok("token", "list", "--type", "api", "-o", "json"), &list)
	if len(list.Credentials) != 1 || list.Credentials[0].ID != key.ID {
		t.Fatalf("token list --type api: %+v", list)
	}
	var workerID string
	decode(t, s.ok("token", "list", "--type", "worker", "-o", "json"), &list)
	if len(list.Credentials) != 1 || list.Credentials[0].DisplayName != "ci-worker" {
		t.Fatalf("token list --type worker: %+v", list)
	}
	workerID = list.Credentials[0].ID

	// revoke finds the kind by itself; the token stops working at once.
	r = s.ok("token", "revoke", workerID)
	if !strings.Contains(r.stdout, "Revoked worker token "+workerID) {
		t.Fatalf("revoke: %s", r)
	}
	if registers(t, s, worker) {
		t.Fatal("a revoked worker token still registers")
	}
	var revoked credentialDoc
	decode(t, s.ok("token", "revoke", key.ID, "--type", "api", "-o", "json"), &revoked)
	if revoked.RevokedAt == nil {
		t.Fatalf("revoked key: %+v", revoked)
	}
	s.failsWith(viewer, 1, "401", "workflow", "list")
	if r := s.ok("token", "list"); strings.Count(r.stdout, "revoked") != 2 {
		t.Fatalf("token list after revoking both: %s", r)
	}
	s.fails(1, "no worker token or API key", "token", "revoke", "00000000-0000-4000-8000-000000000000")

	// Usage errors exit 2 before any request.
	s.fails(2, "--role applies to API keys only", "token", "create", "--role", "ADMIN")
	s.fails(2, `--type "robot"`, "token", "create", "--type", "robot")
	s.fails(2, `--role "ROOT"`, "token", "create", "--type", "api", "--role", "root")
}

// token revoke --force revokes a tenant's last OWNER credential, which the
// server refuses to revoke without it.
func TestTokenRevokeForce(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("tenant", "create", "solo")
	solo := runOpts{env: map[string]string{"FLOVYN_TENANT": "solo"}}
	create := func() credentialDoc {
		var key credentialDoc
		r := s.runWith(solo, "token", "create", "--type", "api", "--role", "OWNER", "--name", "owner", "-o", "json")
		decode(t, r, &key)
		if key.Token == nil {
			t.Fatalf("create an OWNER key: %s", r)
		}
		return key
	}

	// --force is passed through.
	key := create()
	var revoked credentialDoc
	decode(t, s.runWith(solo, "token", "revoke", key.ID, "--force", "-o", "json"), &revoked)
	if revoked.ID != key.ID || revoked.RevokedAt == nil {
		t.Fatalf("revoke --force: %+v", revoked)
	}
	decode(t, s.runWith(solo, "token", "revoke", create().ID, "--type", "api", "--force", "-o", "json"), &revoked)
	if revoked.RevokedAt == nil {
		t.Fatalf("revoke --type api --force: %+v", revoked)
	}
}

// Without --force, the server refuses to revoke a tenant's last OWNER
// credential (this needs the server to refuse it).
func TestTokenRevokeLastOwnerNeedsForce(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok("tenant", "create", "solo")
	solo := runOpts{env: map[string]string{"FLOVYN_TENANT": "solo"}}
	var key credentialDoc
	decode(t, s.runWith(solo, "token", "create", "--type", "api", "--role", "OWNER", "-o", "json"), &key)
	s.failsWith(solo, 1, "last active OWNER credential", "token", "revoke", key.ID)
	s.failsWith(solo, 1, "(409 Conflict); add --force to revoke it all the same", "token", "revoke", key.ID, "--type", "api")
	owner := runOpts{env: map[string]string{"FLOVYN_TENANT": "solo", "FLOVYN_API_KEY": *key.Token}}
	if r := s.runWith(owner, "token", "list"); r.code != 0 {
		t.Fatalf("the last owner's key stopped working though its revocation was refused: %s", r)
	}
	if r := s.runWith(solo, "token", "revoke", key.ID, "--force"); r.code != 0 || !strings.Contains(r.stdout, "Revoked api key "+key.ID) {
		t.Fatalf("revoke --force of the last owner: %s", r)
	}
}
