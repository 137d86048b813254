package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/flovyn/flovyn/internal/pgtest"
	"github.com/flovyn/flovyn/internal/servertest"
	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, store.MigrateURL)) }

var (
	testTenant = store.Tenant{ID: uuid.MustParse("6a1f3c2e-0d4b-4c8e-9f57-1b2c3d4e5f60"), Slug: "acme", Name: "Acme", Tier: "FREE"}
	staticKey  = "flovyn_wk_test_0123456789abcdef"
)

// startServer runs a server on a fresh database with free ports.
func startServer(t *testing.T, databaseURL string) *server.Server {
	t.Helper()
	srv := servertest.Start(t, server.Options{
		DatabaseURL:   databaseURL,
		HTTPAddr:      "127.0.0.1:0",
		GRPCAddr:      "127.0.0.1:0",
		RunMigrations: true,
		Tenants:       []store.Tenant{testTenant},
		StaticKeys: []auth.StaticKey{{Key: staticKey, Principal: auth.Principal{
			TenantID: testTenant.ID, Type: auth.PrincipalWorker, ID: "worker:test",
		}}},
		GRPCMethods: auth.AllMethods,
		HTTPMethods: auth.AllMethods,
	})
	return srv
}

func getHealth(t *testing.T, srv *server.Server) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/_/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc map[string]string
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("health body %q: %v", body, err)
	}
	return resp.StatusCode, doc
}

func TestHealthUpThenDownWhenDatabaseGoes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	srv := startServer(t, url)
	if code, doc := getHealth(t, srv); code != http.StatusOK || doc["status"] != "UP" {
		t.Fatalf("health = %d %v, want 200 UP", code, doc)
	}

	// Drop the database under the running server: every new connection fails.
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	code, doc := getHealth(t, srv)
	if code != http.StatusServiceUnavailable || doc["status"] != "DOWN" || doc["reason"] == "" {
		t.Fatalf("health = %d %v, want 503 DOWN with a reason", code, doc)
	}
}

func dial(t *testing.T, srv *server.Server) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func withBearer(token string) context.Context {
	ctx := context.Background()
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func TestGRPCAuthentication(t *testing.T) {
	srv := startServer(t, pgtest.NewDatabase(t))
	client := flovynv1.NewWorkerLifecycleClient(dial(t, srv))
	ctx := context.Background()

	token, _, err := srv.Auth().Issue(ctx, auth.NewCredential{TenantID: testTenant.ID, Kind: store.CredentialWorkerToken, PrincipalID: "worker:issued"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedCred, err := srv.Auth().Issue(ctx, auth.NewCredential{TenantID: testTenant.ID, Kind: store.CredentialWorkerToken, PrincipalID: "worker:revoked"})
	if err != nil {
		t.Fatal(err)
	}
	// Use it once so it is cached, then revoke: it must stop working at once.
	call := func(token string) error {
		_, err := client.SendHeartbeat(withBearer(token), &flovynv1.WorkerHeartbeatRequest{WorkerId: uuid.NewString()})
		return err
	}
	if err := call(revoked); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if _, err := srv.Auth().Revoke(ctx, testTenant.ID, revokedCred.ID, false); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		token string
		want  codes.Code
	}{
		{"no credential", "", codes.Unauthenticated},
		{"unknown credential", "flovyn_wk_test_nope", codes.Unauthenticated},
		{"unknown worker token", auth.NewSecret(auth.WorkerTokenPrefix), codes.Unauthenticated},
		{"tampered worker token", token[:len(token)-1] + "x", codes.Unauthenticated},
		{"revoked worker token", revoked, codes.Unauthenticated},
		{"static worker key", staticKey, codes.OK},
		{"worker token", token, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := call(tc.token)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.want)
			}
		})
	}

	// A valid credential reaches a method that is not built, which says so.
	dispatch := flovynv1.NewWorkflowDispatchClient(dial(t, srv))
	_, err = dispatch.GetVisualWorkflowDefinitionById(withBearer(token), &flovynv1.GetVisualWorkflowDefinitionByIdRequest{})
	if status.Code(err) != codes.Unimplemented || status.Convert(err).Message() == "" {
		t.Fatalf("GetVisualWorkflowDefinitionById: %v, want UNIMPLEMENTED with a message", err)
	}
	_, err = dispatch.GetVisualWorkflowDefinitionById(withBearer(""), &flovynv1.GetVisualWorkflowDefinitionByIdRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without credential: %v, want UNAUTHENTICATED before anything else", err)
	}
}

func TestLastUsedIsRecordedOnFlush(t *testing.T) {
	srv := startServer(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	token, cred, err := srv.Auth().Issue(ctx, auth.NewCredential{TenantID: testTenant.ID, Kind: store.CredentialWorkerToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Auth().Authenticate(ctx, "Bearer "+token, auth.AllMethods); err != nil {
		t.Fatal(err)
	}
	stored, err := srv.Store().CredentialByPrefix(ctx, cred.Prefix)
	if err != nil || stored.LastUsedAt != nil {
		t.Fatalf("before flush: last used %v, err %v; want nothing written yet", stored.LastUsedAt, err)
	}
	if err := srv.Auth().FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err = srv.Store().CredentialByPrefix(ctx, cred.Prefix)
	if err != nil || stored.LastUsedAt == nil || time.Since(*stored.LastUsedAt) > time.Minute {
		t.Fatalf("after flush: last used %v, err %v", stored.LastUsedAt, err)
	}
}

func TestInstanceAdminAPIKeyCreatesTenants(t *testing.T) {
	srv := startServer(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	issue := func(admin bool) string {
		key, _, err := srv.Auth().Issue(ctx, auth.NewCredential{TenantID: testTenant.ID, Kind: store.CredentialAPIKey,
			PrincipalID: "user:x", Role: "OWNER", InstanceAdmin: admin})
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	create := func(key, slug string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+srv.HTTPAddr()+"/api/tenants",
			strings.NewReader(`{"name":"N","slug":"`+slug+`"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := create(issue(false), "by-owner"); code != http.StatusForbidden {
		t.Fatalf("an OWNER key creating a tenant: %d, want 403", code)
	}
	if code := create(issue(true), "by-admin"); code != http.StatusCreated {
		t.Fatalf("an instance-admin key creating a tenant: %d, want 201", code)
	}
}
