package auth

import (
	"context"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// Credential is a stored worker token or API key (its secret's hash, never
// the secret).
type Credential = store.Credential

// LastCredentialError refuses to revoke the last credential that can
// manage a tenant (its last OWNER) or the instance (its last administrator).
type LastCredentialError = store.LastCredentialError

// The kinds of credential.
const (
	CredentialWorkerToken = store.CredentialWorkerToken
	CredentialAPIKey      = store.CredentialAPIKey
)

// Credentials lists a tenant's credentials of a kind.
func (a *Authenticator) Credentials(ctx context.Context, tenantID uuid.UUID, kind string) ([]Credential, error) {
	list, err := a.store.ListCredentials(ctx, tenantID, kind)
	return list, store.Refused(err)
}

// Credential returns one of a tenant's credentials of a kind, revoked or
// not; another kind is store.ErrNotFound.
func (a *Authenticator) Credential(ctx context.Context, tenantID, id uuid.UUID, kind string) (Credential, error) {
	cred, err := a.store.CredentialByID(ctx, tenantID, id)
	if err == nil && cred.Kind != kind {
		return Credential{}, store.ErrNotFound
	}
	return cred, store.Refused(err)
}
