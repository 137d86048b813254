package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// Claims read from a JWT besides the registered ones and the configurable
// tenant and role claims.
const (
	// PrincipalTypeClaim set to "Worker" (any case) makes the token a
	// worker's; absent or "User" makes it a person's.
	PrincipalTypeClaim = "principal_type"
	// InstanceAdminClaim set to the boolean true makes the caller an
	// instance admin: it may create and list tenants and act in any tenant,
	// and needs neither a tenant nor a role claim.
	InstanceAdminClaim = "flovyn_admin"
)

// JWTConfig configures the JWT verifier.
type JWTConfig struct {
	Issuer   string // required iss when set
	Audience string // required in aud when set
	// Signing keys: any combination. HS256Secret verifies HS256 tokens; the
	// JWKS document and the PEM key verify RS*, PS*, ES* and EdDSA tokens.
	JWKSURL       string
	PublicKeyFile string
	HS256Secret   string
	// SkipSignatureVerification accepts tokens whatever their signature
	// (claims are still checked): tests only.
	SkipSignatureVerification bool
	// ClockSkew is the tolerance on exp, nbf and iat.
	ClockSkew time.Duration
	// TenantClaim holds the tenant's UUID or slug; RoleClaim the user's role.
	TenantClaim string
	RoleClaim   string

	// HTTPClient fetches the JWKS; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// JWKSMinRefresh is the least time between two fetches of the JWKS
	// caused by unknown key ids; 0 means 30 s.
	JWKSMinRefresh time.Duration
	// JWKSMaxAge is how long fetched keys are used before fetching again;
	// 0 means 10 minutes.
	JWKSMaxAge time.Duration
	// Now is the clock of token times (exp, nbf, iat), the JWKS refresh and
	// the tenant cache; nil is time.Now.
	Now func() time.Time
}

// TenantLookup finds tenants; *store.Store implements it.
type TenantLookup interface {
	TenantByID(ctx context.Context, id uuid.UUID) (store.Tenant, error)
	TenantBySlug(ctx context.Context, slug string) (store.Tenant, error)
}

// JWTVerifier turns signed JWTs into principals. It is safe for concurrent use.
type JWTVerifier struct {
	cfg     JWTConfig
	parser  *jwt.Parser
	checker *jwt.Validator // claims only, for SkipSignatureVerification
	hmacKey []byte
	pemKeys []any
	jwks    *jwksCache
	tenants TenantLookup

	mu          sync.Mutex
	tenantCache map[string]cachedTenant // by claim value
}

type cachedTenant struct {
	id      uuid.UUID
	fetched time.Time
}

const tenantCacheTTL = time.Minute

// asymmetric are the algorithms verified with a public key.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// NewJWTVerifier checks the configuration and reads the PEM key file, if any.
// With SkipSignatureVerification it logs a loud warning.
func NewJWTVerifier(cfg JWTConfig, tenants TenantLookup, log *slog.Logger) (*JWTVerifier, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "tenant"
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "role"
	}
	if tenants == nil {
		return nil, errors.New("jwt: no tenant lookup")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &JWTVerifier{cfg: cfg, tenants: tenants, tenantCache: map[string]cachedTenant{}}

	var methods []string
	if cfg.HS256Secret != "" {
		v.hmacKey = []byte(cfg.HS256Secret)
		methods = append(methods, "HS256")
	}
	if cfg.PublicKeyFile != "" {
		keys, err := readPublicKeys(cfg.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: public_key_file: %w", err)
		}
		v.pemKeys = keys
	}
	if cfg.JWKSURL != "" {
		v.jwks = newJWKSCache(cfg, log)
	}
	if len(v.pemKeys) > 0 || v.jwks != nil {
		methods = append(methods, asymmetric...)
	}
	if len(methods) == 0 && !cfg.SkipSignatureVerification {
		return nil, errors.New("jwt: no signing key: set jwks_url, public_key_file or hs256_secret")
	}

	opts := []jwt.ParserOption{
		jwt.WithLeeway(cfg.ClockSkew),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.checker = jwt.NewValidator(opts...)
	v.parser = jwt.NewParser(append(opts, jwt.WithValidMethods(methods))...)

	if cfg.SkipSignatureVerification {
		log.Warn("JWT SIGNATURE VERIFICATION IS DISABLED (auth.jwt.skip_signature_verification): " +
			"anyone can forge a token for any tenant and role; never do this outside a test")
	}
	return v, nil
}

// LooksLikeJWT reports whether s has the shape of a compact JWS: three
// base64url parts separated by dots.
func LooksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for _, r := range p {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=') {
				return false
			}
		}
	}
	return true
}

// errKeysUnavailable means the JWKS could not be fetched: not the caller's fault.
var errKeysUnavailable = errors.New("signing keys unavailable")

// Verify checks token and returns its principal, or an error wrapping
// ErrUnauthenticated that says why.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	claims := jwt.MapClaims{}
	var err error
	if v.cfg.SkipSignatureVerification {
		_, _, err = v.parser.ParseUnverified(token, claims)
		if err == nil {
			err = v.checker.Validate(claims)
		}
	} else {
		_, err = v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
			return v.key(ctx, t)
		})
	}
	if err != nil {
		if errors.Is(err, errKeysUnavailable) {
			return Principal{}, fmt.Errorf("jwt: %w", err)
		}
		return Principal{}, unauthenticated(jwtReason(err))
	}
	return v.principal(ctx, claims)
}

func (v *JWTVerifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
		if v.hmacKey == nil {
			return nil, errors.New("HS256 is not accepted")
		}
		return v.hmacKey, nil
	}
	var keys []jwt.VerificationKey
	for _, k := range v.pemKeys {
		keys = append(keys, k)
	}
	if v.jwks != nil {
		kid, _ := t.Header["kid"].(string)
		found, err := v.jwks.keys(ctx, kid)
		if err != nil && len(keys) == 0 {
			return nil, err
		}
		for _, k := range found {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no key for this token")
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

// jwtReason turns a golang-jwt error into a short reason for the caller.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return "JWT signing algorithm not accepted"
		}
		return "JWT signature is invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "JWT expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "JWT not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "JWT issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "JWT issuer not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "JWT audience not accepted"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "JWT lacks a required claim: " + lastReason(err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "JWT cannot be verified: " + lastReason(err)
	default:
		return "invalid JWT: " + lastReason(err)
	}
}

// lastReason is the innermost part of a golang-jwt error message.
func lastReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// principal builds the principal from verified claims.
func (v *JWTVerifier) principal(ctx context.Context, c jwt.MapClaims) (Principal, error) {
	str := func(name string) (string, error) {
		raw, ok := c[name]
		if !ok || raw == nil {
			return "", nil
		}
		s, ok := raw.(string)
		if !ok {
			return "", unauthenticated(fmt.Sprintf("JWT claim %q is not a string", name))
		}
		return strings.TrimSpace(s), nil
	}
	var p Principal
	var err error
	if p.ID, err = str("sub"); err != nil {
		return Principal{}, err
	}
	if p.ID == "" {
		if p.ID, err = str("id"); err != nil {
			return Principal{}, err
		}
	}
	if p.ID == "" {
		return Principal{}, unauthenticated("JWT has neither a sub nor an id claim")
	}
	if p.Email, err = str("email"); err != nil {
		return Principal{}, err
	}
	if p.Name, err = str("name"); err != nil {
		return Principal{}, err
	}

	switch raw := c[InstanceAdminClaim].(type) {
	case nil:
	case bool:
		p.InstanceAdmin = raw
	default:
		return Principal{}, unauthenticated(fmt.Sprintf("JWT claim %q is not a boolean", InstanceAdminClaim))
	}

	typ, err := str(PrincipalTypeClaim)
	if err != nil {
		return Principal{}, err
	}
	switch {
	case typ == "" || strings.EqualFold(typ, string(PrincipalUser)):
		p.Type = PrincipalUser
	case strings.EqualFold(typ, string(PrincipalWorker)):
		p.Type = PrincipalWorker
	default:
		return Principal{}, unauthenticated(fmt.Sprintf("JWT claim %q is %q, not User or Worker", PrincipalTypeClaim, typ))
	}
	if p.Type == PrincipalWorker && p.InstanceAdmin {
		return Principal{}, unauthenticated("a Worker JWT cannot be an instance admin")
	}

	role, err := str(v.cfg.RoleClaim)
	if err != nil {
		return Principal{}, err
	}
	role = strings.ToUpper(role)
	switch {
	case p.Type == PrincipalWorker:
		// Workers have no role; the claim is ignored.
	case role == "" && p.InstanceAdmin:
	case role == "":
		return Principal{}, unauthenticated(fmt.Sprintf("JWT has no %q claim", v.cfg.RoleClaim))
	case !slices.Contains(Roles, role):
		return Principal{}, unauthenticated(fmt.Sprintf("JWT role %q is not one of %s", role, strings.Join(Roles, ", ")))
	default:
		p.Role = role
	}

	tenant, err := str(v.cfg.TenantClaim)
	if err != nil {
		return Principal{}, err
	}
	switch {
	case tenant == "" && p.InstanceAdmin:
	case tenant == "":
		return Principal{}, unauthenticated(fmt.Sprintf("JWT has no %q claim", v.cfg.TenantClaim))
	default:
		if p.TenantID, err = v.resolveTenant(ctx, tenant); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// resolveTenant turns the tenant claim (a UUID or a slug) into the id of an
// existing tenant, caching the answer for a minute.
func (v *JWTVerifier) resolveTenant(ctx context.Context, claim string) (uuid.UUID, error) {
	v.mu.Lock()
	c, ok := v.tenantCache[claim]
	v.mu.Unlock()
	if ok && v.cfg.Now().Sub(c.fetched) < tenantCacheTTL {
		return c.id, nil
	}
	var t store.Tenant
	var err error
	if id, perr := uuid.Parse(claim); perr == nil {
		t, err = v.tenants.TenantByID(ctx, id)
	} else {
		t, err = v.tenants.TenantBySlug(ctx, claim)
	}
	if errors.Is(err, store.ErrNotFound) {
		return uuid.Nil, unauthenticated(fmt.Sprintf("JWT names an unknown tenant %q", claim))
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("jwt: look up tenant: %w", err)
	}
	v.mu.Lock()
	v.tenantCache[claim] = cachedTenant{id: t.ID, fetched: v.cfg.Now()}
	v.mu.Unlock()
	return t.ID, nil
}

// readPublicKeys reads every public key (or certificate) in a PEM file.
func readPublicKeys(path string) ([]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []any
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, cert.PublicKey)
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}
