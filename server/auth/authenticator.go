package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/service"
	"github.com/flovyn/flovyn/server/store"
)

// ErrUnauthenticated wraps every authentication failure; its message says why
// without echoing the credential.
var ErrUnauthenticated = errors.New("unauthenticated")

func unauthenticated(reason string) error { return fmt.Errorf("%w: %s", ErrUnauthenticated, reason) }

// StaticKey is a credential written in the configuration file.
type StaticKey struct {
	Key       string
	Principal Principal
}

// Methods selects which kinds of credential an endpoint accepts.
type Methods struct {
	StaticKeys   bool
	WorkerTokens bool
	APIKeys      bool
	// JWT accepts bearer JWTs when the Authenticator has a JWT verifier.
	JWT bool
}

// AllMethods accepts every credential kind (JWTs only when configured).
var AllMethods = Methods{StaticKeys: true, WorkerTokens: true, APIKeys: true, JWT: true}

// Options configures an Authenticator.
type Options struct {
	Store  *store.Store
	Hasher Hasher
	Static []StaticKey
	// Disabled turns authentication off: every caller becomes an
	// unconfined principal. Only for local experiments.
	Disabled bool
	// CacheTTL bounds how long a verified stored credential is trusted
	// without reading it again (revocations through this process apply at once).
	CacheTTL time.Duration
	// JWT verifies bearer JWTs; nil refuses them.
	JWT *JWTVerifier
	// Now is the clock of expiry checks and the cache; nil is time.Now.
	Now func() time.Time
}

// Authenticator checks bearer credentials. It is safe for concurrent use.
type Authenticator struct {
	store    *store.Store
	hasher   Hasher
	static   map[[32]byte]Principal
	disabled bool
	ttl      time.Duration
	jwt      *JWTVerifier
	now      func() time.Time

	mu       sync.Mutex
	cache    map[string]cachedCredential // by lookup prefix
	lastUsed map[uuid.UUID]time.Time
}

type cachedCredential struct {
	cred    Credential
	fetched time.Time
}

// New returns an Authenticator.
func New(o Options) *Authenticator {
	a := &Authenticator{
		store:    o.Store,
		hasher:   o.Hasher,
		static:   make(map[[32]byte]Principal, len(o.Static)),
		disabled: o.Disabled,
		ttl:      o.CacheTTL,
		jwt:      o.JWT,
		now:      o.Now,
		cache:    map[string]cachedCredential{},
		lastUsed: map[uuid.UUID]time.Time{},
	}
	if a.ttl == 0 {
		a.ttl = 5 * time.Second
	}
	if a.now == nil {
		a.now = time.Now
	}
	// Static keys are indexed by their SHA-256 so the lookup's timing says
	// nothing about the keys themselves.
	for _, k := range o.Static {
		a.static[sha256.Sum256([]byte(k.Key))] = k.Principal
	}
	return a
}

// Hasher returns the hasher used for stored credentials.
func (a *Authenticator) Hasher() Hasher { return a.hasher }

// Authenticate resolves an Authorization header value ("Bearer <credential>")
// to a principal, trying only the credential kinds m allows.
func (a *Authenticator) Authenticate(ctx context.Context, header string, m Methods) (Principal, error) {
	if a.disabled {
		return Principal{Type: PrincipalUser, ID: "anonymous", Role: "OWNER", AnyTenant: true}, nil
	}
	if header == "" {
		return Principal{}, unauthenticated("missing authorization: send 'Bearer <token>'")
	}
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" {
		return Principal{}, unauthenticated("authorization must be 'Bearer <token>'")
	}
	if m.StaticKeys {
		if p, ok := a.static[sha256.Sum256([]byte(secret))]; ok {
			return p, nil
		}
	}
	if m.JWT && a.jwt != nil && LooksLikeJWT(secret) {
		return a.jwt.Verify(ctx, secret)
	}
	kind := ""
	switch {
	case m.WorkerTokens && strings.HasPrefix(secret, WorkerTokenPrefix):
		kind = CredentialWorkerToken
	case m.APIKeys && strings.HasPrefix(secret, APIKeyPrefix):
		kind = CredentialAPIKey
	default:
		return Principal{}, unauthenticated("unknown credential")
	}
	return a.stored(ctx, secret, kind)
}

func (a *Authenticator) stored(ctx context.Context, secret, kind string) (Principal, error) {
	prefix, ok := LookupPrefix(secret)
	if !ok {
		return Principal{}, unauthenticated("unknown credential")
	}
	cred, err := a.lookup(ctx, prefix)
	if _, bad := store.DataError(err); bad || errors.Is(err, store.ErrNotFound) {
		// No credential holds bytes the database refuses.
		return Principal{}, unauthenticated("unknown credential")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up credential: %w", err)
	}
	now := a.now()
	switch {
	case cred.Kind != kind || !a.hasher.Verify(secret, cred.SecretHash):
		return Principal{}, unauthenticated("unknown credential")
	case cred.RevokedAt != nil:
		return Principal{}, unauthenticated("credential revoked")
	case cred.ExpiresAt != nil && now.After(*cred.ExpiresAt):
		return Principal{}, unauthenticated("credential expired")
	}
	a.mu.Lock()
	a.lastUsed[cred.ID] = now
	a.mu.Unlock()
	return Principal{
		TenantID:      cred.TenantID,
		Type:          PrincipalType(cred.PrincipalType),
		ID:            cred.PrincipalID,
		Role:          cred.Role,
		InstanceAdmin: cred.InstanceAdmin,
		CredentialID:  cred.ID,
	}, nil
}

func (a *Authenticator) lookup(ctx context.Context, prefix string) (Credential, error) {
	a.mu.Lock()
	c, ok := a.cache[prefix]
	a.mu.Unlock()
	if ok && a.now().Sub(c.fetched) < a.ttl {
		return c.cred, nil
	}
	cred, err := a.store.CredentialByPrefix(ctx, prefix)
	if err != nil {
		return cred, err
	}
	a.mu.Lock()
	a.cache[prefix] = cachedCredential{cred: cred, fetched: a.now()}
	a.mu.Unlock()
	return cred, nil
}

// NewCredential describes a worker token or API key to issue.
type NewCredential struct {
	TenantID    uuid.UUID
	Kind        string // CredentialWorkerToken or CredentialAPIKey
	DisplayName string
	PrincipalID string
	Role        string
	ExpiresAt   *time.Time
	// InstanceAdmin lets the credential create tenants and act in any tenant.
	InstanceAdmin bool
}

// Issue creates a credential and returns its secret, which is not stored and
// cannot be shown again.
func (a *Authenticator) Issue(ctx context.Context, n NewCredential) (string, Credential, error) {
	return a.insert(ctx, n, NewSecret(secretPrefix(n.Kind)))
}

// EnsureDerived makes sure the deterministic credential called name exists
// and returns its secret: the same one on every call with the same hasher key.
func (a *Authenticator) EnsureDerived(ctx context.Context, name string, n NewCredential) (string, error) {
	secret := a.hasher.Derive(secretPrefix(n.Kind), name)
	prefix, _ := LookupPrefix(secret)
	if _, err := a.store.CredentialByPrefix(ctx, prefix); err == nil {
		return secret, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	_, _, err := a.insert(ctx, n, secret)
	if errors.Is(err, store.ErrConflict) { // created concurrently
		err = nil
	}
	return secret, err
}

func (a *Authenticator) insert(ctx context.Context, n NewCredential, secret string) (string, Credential, error) {
	prefix, _ := LookupPrefix(secret)
	principalType := string(PrincipalUser)
	if n.Kind == CredentialWorkerToken {
		principalType = string(PrincipalWorker)
	}
	cred, err := a.store.InsertCredential(ctx, Credential{
		ID:            uuid.New(),
		TenantID:      n.TenantID,
		Kind:          n.Kind,
		DisplayName:   n.DisplayName,
		Prefix:        prefix,
		SecretHash:    a.hasher.Hash(secret),
		PrincipalType: principalType,
		PrincipalID:   n.PrincipalID,
		Role:          n.Role,
		ExpiresAt:     n.ExpiresAt,
		InstanceAdmin: n.InstanceAdmin,
	})
	if err != nil {
		return "", Credential{}, store.Refused(err)
	}
	return secret, cred, nil
}

func secretPrefix(kind string) string {
	if kind == CredentialAPIKey {
		return APIKeyPrefix
	}
	return WorkerTokenPrefix
}

// Revoke revokes a tenant's credential; this process refuses it at once.
func (a *Authenticator) Revoke(ctx context.Context, tenantID, id uuid.UUID, keepLast bool) (Credential, error) {
	cred, err := a.store.RevokeCredential(ctx, tenantID, id, keepLast)
	if err != nil {
		return cred, store.Refused(err)
	}
	a.mu.Lock()
	delete(a.cache, cred.Prefix)
	a.mu.Unlock()
	return cred, nil
}

// FlushLastUsed writes the last-used times gathered since the previous flush.
func (a *Authenticator) FlushLastUsed(ctx context.Context) error {
	a.mu.Lock()
	used := a.lastUsed
	a.lastUsed = map[uuid.UUID]time.Time{}
	a.mu.Unlock()
	return a.store.TouchCredentials(ctx, used)
}

// LastUsedFlusher is the service that writes the last-used times gathered
// in memory every interval. Whoever stops it flushes once more
// (FlushLastUsed), so the last ones are not lost.
func (a *Authenticator) LastUsedFlusher(interval time.Duration, log *slog.Logger) *service.Service {
	return service.New(service.Config{Name: "credential-last-used", Interval: interval}, log,
		func(ctx context.Context) (time.Duration, error) { return 0, a.FlushLastUsed(ctx) })
}
