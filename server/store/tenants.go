package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Tenant is an isolated space of workflows and credentials (the proto's org).
type Tenant struct {
	ID        uuid.UUID
	Slug      string
	Name      string
	Tier      string
	Region    string
	CreatedAt time.Time
}

const tenantColumns = `id, slug, name, tier, region, created_at`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Slug, &t.Name, &t.Tier, &t.Region, &t.CreatedAt)
	return t, notFound(err)
}

// CreateTenant inserts t; a taken id or slug gives ErrConflict.
func (s *Store) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if t.ID == uuid.Nil {
		t.ID = uuid.New()
	}
	row := s.pool.QueryRow(ctx,
		`INSERT INTO tenants (id, slug, name, tier, region) VALUES ($1, $2, $3, $4, $5)
		 RETURNING `+tenantColumns,
		t.ID, t.Slug, t.Name, t.Tier, t.Region)
	created, err := scanTenant(row)
	if isUniqueViolation(err) {
		return Tenant{}, ErrConflict
	}
	return created, err
}

// EnsureTenant makes the configured tenant t exist with its configured name,
// slug and tier; it is how [[orgs]] from the config file are seeded at start.
func (s *Store) EnsureTenant(ctx context.Context, t Tenant) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO tenants (id, slug, name, tier, region) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name,
		     tier = EXCLUDED.tier, region = EXCLUDED.region`,
		t.ID, t.Slug, t.Name, t.Tier, t.Region)
	if isUniqueViolation(err) {
		return ErrConflict
	}
	return err
}

// TenantByID returns the tenant with id.
func (s *Store) TenantByID(ctx context.Context, id uuid.UUID) (Tenant, error) {
	return scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
}

// TenantBySlug returns the tenant with slug.
func (s *Store) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	return scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE slug = $1`, slug))
}

// ListTenants returns every tenant, oldest first.
func (s *Store) ListTenants(ctx context.Context) ([]Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, slug`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}
