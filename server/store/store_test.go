package store_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/pgtest"
	"github.com/flovyn/flovyn/server/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, store.MigrateURL)) }

func open(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestTenants(t *testing.T) {
	s, ctx := open(t), context.Background()
	created, err := s.CreateTenant(ctx, store.Tenant{Slug: "acme", Name: "Acme", Tier: "FREE"})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == uuid.Nil || created.CreatedAt.IsZero() {
		t.Fatalf("created tenant lacks id or time: %+v", created)
	}
	if _, err := s.CreateTenant(ctx, store.Tenant{Slug: "acme", Name: "Other"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate slug: err %v, want ErrConflict", err)
	}
	bySlug, err := s.TenantBySlug(ctx, "acme")
	if err != nil || bySlug.ID != created.ID {
		t.Fatalf("TenantBySlug = %+v, %v", bySlug, err)
	}
	if _, err := s.TenantByID(ctx, uuid.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: err %v, want ErrNotFound", err)
	}

	// Seeding is idempotent and updates the configured fields.
	seed := store.Tenant{ID: uuid.New(), Slug: "seeded", Name: "Seeded", Tier: "FREE"}
	for range 2 {
		if err := s.EnsureTenant(ctx, seed); err != nil {
			t.Fatal(err)
		}
	}
	seed.Tier = "PRO"
	if err := s.EnsureTenant(ctx, seed); err != nil {
		t.Fatal(err)
	}
	got, err := s.TenantByID(ctx, seed.ID)
	if err != nil || got.Tier != "PRO" {
		t.Fatalf("after re-seed: %+v, %v", got, err)
	}
	// A seed may not steal another tenant's slug.
	if err := s.EnsureTenant(ctx, store.Tenant{ID: uuid.New(), Slug: "acme", Name: "x"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("seed with a taken slug: err %v, want ErrConflict", err)
	}
	all, err := s.ListTenants(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("ListTenants = %d tenants, %v; want 2", len(all), err)
	}
}

func TestCredentials(t *testing.T) {
	s, ctx := open(t), context.Background()
	tenant, err := s.CreateTenant(ctx, store.Tenant{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	c := store.Credential{ID: uuid.New(), TenantID: tenant.ID, Kind: store.CredentialWorkerToken, Prefix: "fwt_abcdefghijkl",
		SecretHash: []byte{1, 2, 3}, PrincipalType: "Worker", PrincipalID: "worker:a"}
	if _, err := s.InsertCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	dup := c
	dup.ID = uuid.New()
	if _, err := s.InsertCredential(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate prefix: err %v, want ErrConflict", err)
	}
	got, err := s.CredentialByPrefix(ctx, c.Prefix)
	if err != nil || got.ID != c.ID || string(got.SecretHash) != string(c.SecretHash) {
		t.Fatalf("CredentialByPrefix = %+v, %v", got, err)
	}
	other, err := s.CreateTenant(ctx, store.Tenant{Slug: "other", Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeCredential(ctx, other.ID, c.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke through another tenant: err %v, want ErrNotFound", err)
	}
	revoked, err := s.RevokeCredential(ctx, tenant.ID, c.ID, false)
	if err != nil || revoked.RevokedAt == nil {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	again, err := s.RevokeCredential(ctx, tenant.ID, c.ID, false)
	if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Fatalf("second revoke changed the time: %v vs %v (%v)", again.RevokedAt, revoked.RevokedAt, err)
	}
	used := time.Now().Truncate(time.Microsecond)
	if err := s.TouchCredentials(ctx, map[uuid.UUID]time.Time{c.ID: used}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListCredentials(ctx, tenant.ID, store.CredentialWorkerToken)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(used) {
		t.Fatalf("ListCredentials = %+v, %v", list, err)
	}
}

func TestSettingIsCreatedOnce(t *testing.T) {
	s, ctx := open(t), context.Background()
	first, err := s.Setting(ctx, "k", func() string { return "one" })
	if err != nil || first != "one" {
		t.Fatalf("first Setting = %q, %v", first, err)
	}
	second, err := s.Setting(ctx, "k", func() string { return "two" })
	if err != nil || second != "one" {
		t.Fatalf("second Setting = %q, %v; want the stored value", second, err)
	}
}
