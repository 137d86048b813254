package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/store"
)

// Seed is a tenant and credentials that Start creates when they are missing
// and leaves as they are when present: what `flovyn dev` needs on its
// database. Unlike Options.Tenants, which are matched by id and updated, the
// tenant is matched by its slug, so the id it got at creation stays.
type Seed struct {
	// Tenant is looked up by Slug (required); when missing it is created
	// with these fields, and a new id when ID is zero.
	Tenant      store.Tenant
	Credentials []SeedCredential
}

// SeedCredential is a credential of the seeded tenant whose secret is
// derived from Name and the instance's credential hashing key: it comes out
// the same on every start against the same database.
type SeedCredential struct {
	Name string
	// Credential describes it; its TenantID is the seeded tenant's.
	Credential auth.NewCredential
}

// Seeded is what Start found or created for Options.Seed.
type Seeded struct {
	Tenant store.Tenant
	// Secrets are the credentials' secrets, by SeedCredential.Name.
	Secrets map[string]string
}

// Seeded returns the tenant and the secrets of Options.Seed; zero before
// Start, or without a Seed.
func (s *Server) Seeded() Seeded { return s.seeded }

func (sd *Seed) validate() error {
	if sd.Tenant.Slug == "" {
		return errors.New("seed: tenant slug required")
	}
	names := map[string]bool{}
	for _, c := range sd.Credentials {
		switch {
		case c.Name == "":
			return errors.New("seed: credential name required")
		case names[c.Name]:
			return fmt.Errorf("seed: credential %q named twice", c.Name)
		case c.Credential.Kind != store.CredentialWorkerToken && c.Credential.Kind != store.CredentialAPIKey:
			return fmt.Errorf("seed: credential %q: kind %q is neither %q nor %q", c.Name, c.Credential.Kind,
				store.CredentialWorkerToken, store.CredentialAPIKey)
		}
		names[c.Name] = true
	}
	return nil
}

func (s *Server) seed(ctx context.Context, sd Seed) (Seeded, error) {
	slug := sd.Tenant.Slug
	tenant, err := s.store.TenantBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) {
		tenant, err = s.store.CreateTenant(ctx, sd.Tenant)
		if errors.Is(err, store.ErrConflict) { // created meanwhile, by another replica
			tenant, err = s.store.TenantBySlug(ctx, slug)
		}
	}
	if err != nil {
		return Seeded{}, fmt.Errorf("seed tenant %q: %w", slug, err)
	}
	seeded := Seeded{Tenant: tenant, Secrets: map[string]string{}}
	for _, c := range sd.Credentials {
		n := c.Credential
		n.TenantID = tenant.ID
		secret, err := s.auth.EnsureDerived(ctx, c.Name, n)
		if err != nil {
			return Seeded{}, fmt.Errorf("seed credential %q: %w", c.Name, err)
		}
		seeded.Secrets[c.Name] = secret
	}
	return seeded, nil
}
