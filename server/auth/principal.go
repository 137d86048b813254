// Package auth turns bearer credentials into principals (static keys from the
// configuration, worker tokens and API keys stored hashed in the database,
// JWTs from an identity provider) and decides what a principal may do (Cedar
// policies).
package auth

import (
	"context"

	"github.com/google/uuid"
)

// PrincipalType says whether a credential belongs to a worker or a person.
type PrincipalType string

const (
	PrincipalWorker PrincipalType = "Worker"
	PrincipalUser   PrincipalType = "User"
)

// Roles a User principal may hold, from most to least powerful.
var Roles = []string{"OWNER", "ADMIN", "MEMBER", "VIEWER"}

// DefaultRole is the role of a User credential that names none.
const DefaultRole = "MEMBER"

// RoleRank orders the roles: a higher rank is more powerful; 0 is no role.
// Nobody issues or revokes a credential ranking above their own.
func RoleRank(role string) int {
	for i, r := range Roles {
		if r == role {
			return len(Roles) - i
		}
	}
	return 0
}

// Principal is who is calling: fixed by the credential, never by the request.
type Principal struct {
	TenantID uuid.UUID
	Type     PrincipalType
	ID       string
	Role     string // OWNER, ADMIN, MEMBER or VIEWER for users; "" for workers
	// InstanceAdmin may create and list tenants and act in any tenant.
	InstanceAdmin bool
	// Email and Name are informational, from a JWT's claims.
	Email, Name string
	// CredentialID is the stored credential's id; uuid.Nil for static keys.
	CredentialID uuid.UUID
	// AnyTenant is set only when authentication is disabled in the
	// configuration: the caller is then not confined to one tenant.
	AnyTenant bool
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal stored in ctx by the auth middleware.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
