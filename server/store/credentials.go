package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Credential kinds.
const (
	CredentialWorkerToken = "worker_token"
	CredentialAPIKey      = "api_key"
)

// Credential is a stored worker token or API key: never the secret itself,
// only its lookup prefix and keyed hash.
type Credential struct {
	ID            uuid.UUID
	TenantID      uuid.UUID
	Kind          string
	DisplayName   string
	Prefix        string
	SecretHash    []byte
	PrincipalType string
	PrincipalID   string
	Role          string
	InstanceAdmin bool
	CreatedAt     time.Time
	LastUsedAt    *time.Time
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
}

const credentialColumns = `id, tenant_id, kind, display_name, prefix, secret_hash, principal_type,
	principal_id, role, instance_admin, created_at, last_used_at, expires_at, revoked_at`

func scanCredential(row pgx.Row) (Credential, error) {
	var c Credential
	err := row.Scan(&c.ID, &c.TenantID, &c.Kind, &c.DisplayName, &c.Prefix, &c.SecretHash, &c.PrincipalType,
		&c.PrincipalID, &c.Role, &c.InstanceAdmin, &c.CreatedAt, &c.LastUsedAt, &c.ExpiresAt, &c.RevokedAt)
	return c, notFound(err)
}

// InsertCredential stores c; a prefix already in use gives ErrConflict.
func (s *Store) InsertCredential(ctx context.Context, c Credential) (Credential, error) {
	row := s.pool.QueryRow(ctx,
		`INSERT INTO credentials (id, tenant_id, kind, display_name, prefix, secret_hash, principal_type, principal_id, role,
		     instance_admin, expires_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+credentialColumns,
		c.ID, c.TenantID, c.Kind, c.DisplayName, c.Prefix, c.SecretHash, c.PrincipalType, c.PrincipalID, c.Role,
		c.InstanceAdmin, c.ExpiresAt)
	created, err := scanCredential(row)
	if isUniqueViolation(err) {
		return Credential{}, ErrConflict
	}
	return created, err
}

// CredentialByPrefix finds a credential by its lookup prefix, revoked or not.
func (s *Store) CredentialByPrefix(ctx context.Context, prefix string) (Credential, error) {
	return scanCredential(s.pool.QueryRow(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE prefix = $1`, prefix))
}

// ListCredentials returns a tenant's credentials of one kind, newest first.
func (s *Store) ListCredentials(ctx context.Context, tenantID uuid.UUID, kind string) ([]Credential, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+credentialColumns+` FROM credentials WHERE tenant_id = $1 AND kind = $2 ORDER BY created_at DESC`,
		tenantID, kind)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Credential, error) { return scanCredential(r) })
}

// LastCredentialError refuses to revoke the last active API key of a
// tenant's OWNERs (or of its instance administrators).
type LastCredentialError struct {
	ID   uuid.UUID
	What string // "OWNER" or "instance administrator"
}

func (e *LastCredentialError) Error() string {
	return fmt.Sprintf("credential %s is the tenant's last active %s credential", e.ID, e.What)
}

// RevokeCredential marks the tenant's credential id revoked and returns it.
// Revoking twice keeps the first revocation time. With keepLast, the
// tenant's last active OWNER or instance-administrator API key is not
// revoked (a *LastCredentialError); the revocations of one tenant then take
// turns, so two at once cannot each leave the other as the last.
func (s *Store) RevokeCredential(ctx context.Context, tenantID, id uuid.UUID, keepLast bool) (Credential, error) {
	var out Credential
	err := s.InTx(ctx, func(tx *Tx) error {
		if keepLast {
			if _, err := tx.tx.Exec(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, tenantID); err != nil {
				return err
			}
			cred, err := scanCredential(tx.tx.QueryRow(ctx,
				`SELECT `+credentialColumns+` FROM credentials WHERE tenant_id = $1 AND id = $2`, tenantID, id))
			if err != nil {
				return err
			}
			if cred.RevokedAt == nil && (cred.Role == "OWNER" || cred.InstanceAdmin) {
				var owners, admins int
				err := tx.tx.QueryRow(ctx,
					`SELECT count(*) FILTER (WHERE role = 'OWNER'), count(*) FILTER (WHERE instance_admin) FROM credentials
					 WHERE tenant_id = $1 AND id <> $2 AND kind = 'api_key' AND revoked_at IS NULL
					     AND (expires_at IS NULL OR expires_at > now())`, tenantID, id).Scan(&owners, &admins)
				switch {
				case err != nil:
					return err
				case cred.InstanceAdmin && admins == 0:
					return &LastCredentialError{ID: id, What: "instance administrator"}
				case cred.Role == "OWNER" && owners == 0:
					return &LastCredentialError{ID: id, What: "OWNER"}
				}
			}
		}
		var err error
		out, err = scanCredential(tx.tx.QueryRow(ctx,
			`UPDATE credentials SET revoked_at = coalesce(revoked_at, now())
			 WHERE tenant_id = $1 AND id = $2 RETURNING `+credentialColumns,
			tenantID, id))
		return err
	})
	return out, err
}

// TouchCredentials records last-used times collected in memory, in one statement.
func (s *Store) TouchCredentials(ctx context.Context, used map[uuid.UUID]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(used))
	times := make([]time.Time, 0, len(used))
	for id, at := range used {
		ids = append(ids, id)
		times = append(times, at)
	}
	_, err := s.pool.Exec(ctx,
		`UPDATE credentials c SET last_used_at = greatest(c.last_used_at, u.at)
		 FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE c.id = u.id`,
		ids, times)
	return err
}
