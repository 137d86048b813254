package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// fakeTenants is an in-memory TenantLookup counting its calls.
type fakeTenants struct {
	tenants []store.Tenant
	calls   atomic.Int64
}

func (f *fakeTenants) TenantByID(_ context.Context, id uuid.UUID) (store.Tenant, error) {
	f.calls.Add(1)
	for _, t := range f.tenants {
		if t.ID == id {
			return t, nil
		}
	}
	return store.Tenant{}, store.ErrNotFound
}

func (f *fakeTenants) TenantBySlug(_ context.Context, slug string) (store.Tenant, error) {
	f.calls.Add(1)
	for _, t := range f.tenants {
		if t.Slug == slug {
			return t, nil
		}
	}
	return store.Tenant{}, store.ErrNotFound
}

func testTenants() *fakeTenants {
	return &fakeTenants{tenants: []store.Tenant{{ID: tenantA, Slug: "acme"}, {ID: tenantB, Slug: "other"}}}
}

const (
	testIssuer   = "https://idp.example"
	testAudience = "flovyn"
	testSecret   = "an HS256 secret of a decent length!"
)

func claims(over map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss":    testIssuer,
		"aud":    testAudience,
		"sub":    "user-42",
		"email":  "ada@example.com",
		"name":   "Ada",
		"iat":    now.Unix(),
		"exp":    now.Add(time.Hour).Unix(),
		"tenant": tenantA.String(),
		"role":   "member",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func hs256(t *testing.T, c jwt.MapClaims, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newVerifier(t *testing.T, cfg JWTConfig) *JWTVerifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = testAudience
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = 30 * time.Second
	}
	v, err := NewJWTVerifier(cfg, testTenants(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantRefused(t *testing.T, v *JWTVerifier, token, reason string) {
	t.Helper()
	_, err := v.Verify(context.Background(), token)
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("err = %v, want ErrUnauthenticated", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("err = %q, want it to say %q", err, reason)
	}
}

func TestJWTHS256(t *testing.T) {
	v := newVerifier(t, JWTConfig{HS256Secret: testSecret})
	p, err := v.Verify(context.Background(), hs256(t, claims(nil), testSecret))
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{TenantID: tenantA, Type: PrincipalUser, ID: "user-42", Role: "MEMBER", Email: "ada@example.com", Name: "Ada"}
	if p != want {
		t.Fatalf("principal = %+v, want %+v", p, want)
	}

	skew := 30 * time.Second
	now := time.Now()
	for _, tc := range []struct {
		name   string
		token  string
		reason string
	}{
		{"expired", hs256(t, claims(map[string]any{"exp": now.Add(-skew - time.Minute).Unix()}), testSecret), "expired"},
		{"not yet valid", hs256(t, claims(map[string]any{"nbf": now.Add(skew + time.Minute).Unix()}), testSecret), "not valid yet"},
		{"issued in the future", hs256(t, claims(map[string]any{"iat": now.Add(skew + time.Minute).Unix()}), testSecret), "issued in the future"},
		{"no expiry", hs256(t, claims(map[string]any{"exp": nil}), testSecret), "exp claim is required"},
		{"wrong audience", hs256(t, claims(map[string]any{"aud": "someone-else"}), testSecret), "audience"},
		{"no audience", hs256(t, claims(map[string]any{"aud": nil}), testSecret), "aud claim is required"},
		{"wrong issuer", hs256(t, claims(map[string]any{"iss": "https://evil.example"}), testSecret), "issuer"},
		{"bad signature", hs256(t, claims(nil), "another secret entirely, also long"), "signature is invalid"},
		{"tampered payload", tamper(t, hs256(t, claims(nil), testSecret)), "signature is invalid"},
		{"alg none", unsigned(t, claims(nil)), "algorithm not accepted"},
		{"malformed", "abc.def.ghi", "malformed"},
		{"unknown tenant", hs256(t, claims(map[string]any{"tenant": uuid.NewString()}), testSecret), "unknown tenant"},
		{"unknown slug", hs256(t, claims(map[string]any{"tenant": "nope"}), testSecret), "unknown tenant"},
		{"no tenant", hs256(t, claims(map[string]any{"tenant": nil}), testSecret), `no "tenant" claim`},
		{"no role", hs256(t, claims(map[string]any{"role": nil}), testSecret), `no "role" claim`},
		{"bad role", hs256(t, claims(map[string]any{"role": "god"}), testSecret), "GOD"},
		{"no subject", hs256(t, claims(map[string]any{"sub": nil}), testSecret), "sub"},
		{"bad principal type", hs256(t, claims(map[string]any{"principal_type": "Robot"}), testSecret), "Robot"},
		{"worker admin", hs256(t, claims(map[string]any{"principal_type": "Worker", "flovyn_admin": true}), testSecret), "instance admin"},
		{"admin claim not a boolean", hs256(t, claims(map[string]any{"flovyn_admin": "yes"}), testSecret), "not a boolean"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantRefused(t, v, tc.token, tc.reason) })
	}

	// Within the skew: accepted.
	if _, err := v.Verify(context.Background(), hs256(t, claims(map[string]any{"exp": now.Add(-skew / 2).Unix(), "nbf": now.Add(skew / 2).Unix()}), testSecret)); err != nil {
		t.Fatalf("within clock skew: %v", err)
	}
}

func TestJWTClaimsMapping(t *testing.T) {
	tenants := testTenants()
	v, err := NewJWTVerifier(JWTConfig{HS256Secret: testSecret, TenantClaim: "org", RoleClaim: "https://flovyn.io/role"}, tenants, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]any{"iss": nil, "aud": nil, "tenant": nil, "role": nil}
	with := func(m map[string]any) jwt.MapClaims {
		c := claims(base)
		for k, v := range m {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		want   Principal
	}{
		{"slug and role from configured claims", with(map[string]any{"org": "other", "https://flovyn.io/role": "Viewer"}),
			Principal{TenantID: tenantB, Type: PrincipalUser, ID: "user-42", Role: "VIEWER", Email: "ada@example.com", Name: "Ada"}},
		{"id claim when there is no sub", with(map[string]any{"sub": nil, "id": "u-7", "org": "acme", "https://flovyn.io/role": "owner", "email": nil, "name": nil}),
			Principal{TenantID: tenantA, Type: PrincipalUser, ID: "u-7", Role: "OWNER"}},
		{"worker", with(map[string]any{"org": tenantA.String(), "principal_type": "worker", "email": nil, "name": nil}),
			Principal{TenantID: tenantA, Type: PrincipalWorker, ID: "user-42"}},
		{"instance admin without tenant or role", with(map[string]any{"flovyn_admin": true, "email": nil, "name": nil}),
			Principal{Type: PrincipalUser, ID: "user-42", InstanceAdmin: true}},
		{"instance admin in a tenant", with(map[string]any{"flovyn_admin": true, "org": "acme", "https://flovyn.io/role": "ADMIN", "email": nil, "name": nil}),
			Principal{TenantID: tenantA, Type: PrincipalUser, ID: "user-42", Role: "ADMIN", InstanceAdmin: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), hs256(t, tc.claims, testSecret))
			if err != nil {
				t.Fatal(err)
			}
			if p != tc.want {
				t.Fatalf("principal = %+v, want %+v", p, tc.want)
			}
		})
	}
	// Slugs are cached.
	before := tenants.calls.Load()
	for range 3 {
		if _, err := v.Verify(context.Background(), hs256(t, with(map[string]any{"org": "other", "https://flovyn.io/role": "viewer"}), testSecret)); err != nil {
			t.Fatal(err)
		}
	}
	if n := tenants.calls.Load() - before; n != 0 {
		t.Fatalf("%d tenant lookups for a cached slug", n)
	}
}

func TestJWTSkipSignatureVerification(t *testing.T) {
	strict := newVerifier(t, JWTConfig{HS256Secret: testSecret})
	lax := newVerifier(t, JWTConfig{HS256Secret: testSecret, SkipSignatureVerification: true})
	forged := hs256(t, claims(nil), "not the configured secret, at all")
	wantRefused(t, strict, forged, "signature")
	p, err := lax.Verify(context.Background(), forged)
	if err != nil || p.TenantID != tenantA || p.Role != "MEMBER" {
		t.Fatalf("skip verification: %+v, %v", p, err)
	}
	if _, err := lax.Verify(context.Background(), unsigned(t, claims(nil))); err != nil {
		t.Fatalf("skip verification, alg none: %v", err)
	}
	// Claims are still checked.
	wantRefused(t, lax, hs256(t, claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), "x"), "expired")
	wantRefused(t, lax, hs256(t, claims(map[string]any{"aud": "other"}), "x"), "audience")

	// Without any key, skip verification is the only way to configure it.
	if _, err := NewJWTVerifier(JWTConfig{}, testTenants(), nil); err == nil {
		t.Fatal("a verifier without keys was built")
	}
	if _, err := NewJWTVerifier(JWTConfig{SkipSignatureVerification: true}, testTenants(), nil); err != nil {
		t.Fatal(err)
	}
}

// jwksServer serves a JWKS on 127.0.0.1 and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]string
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) add(kid string, pub any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		s.keys = append(s.keys, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
	case *ecdsa.PublicKey:
		raw, _ := k.Bytes() // 0x04 || X || Y
		size := (len(raw) - 1) / 2
		s.keys = append(s.keys, map[string]string{"kty": "EC", "kid": kid, "crv": "P-256",
			"x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])})
	}
}

func sign(t *testing.T, method jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTRS256AndES256ViaJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := newJWKSServer(t)
	srv.add("rsa-1", &rsaKey.PublicKey)
	srv.add("ec-1", &ecKey.PublicKey)
	clock := &testClock{}
	v := newVerifier(t, JWTConfig{JWKSURL: srv.URL, JWKSMinRefresh: 300 * time.Millisecond, Now: clock.now})

	ctx := context.Background()
	if p, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claims(nil))); err != nil || p.TenantID != tenantA {
		t.Fatalf("RS256: %+v, %v", p, err)
	}
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, "ec-1", ecKey, claims(nil))); err != nil {
		t.Fatalf("ES256: %v", err)
	}
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "", rsaKey, claims(nil))); err != nil {
		t.Fatalf("RS256 without kid: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1 (keys cached)", n)
	}

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	wantRefused(t, v, sign(t, jwt.SigningMethodRS256, "rsa-1", other, claims(nil)), "signature is invalid")
	wantRefused(t, v, sign(t, jwt.SigningMethodRS256, "ec-1", rsaKey, claims(nil)), "signature is invalid")
	// HS256 signed with the public key's bytes (algorithm confusion) is refused:
	// no HS256 secret is configured.
	wantRefused(t, v, hs256(t, claims(nil), string(x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey))), "algorithm not accepted")

	// An unknown kid makes one fetch, then is refused without fetching
	// again within the refresh interval.
	clock.advance(350 * time.Millisecond)
	wantRefused(t, v, sign(t, jwt.SigningMethodRS256, "rsa-2", other, claims(nil)), `unknown key id "rsa-2"`)
	wantRefused(t, v, sign(t, jwt.SigningMethodRS256, "rsa-3", other, claims(nil)), `unknown key id "rsa-3"`)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2 (one refresh for unknown kids, rate limited)", n)
	}
}

func TestJWTJWKSKeyRotation(t *testing.T) {
	first, _ := rsa.GenerateKey(rand.Reader, 2048)
	second, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := newJWKSServer(t)
	srv.add("k1", &first.PublicKey)
	clock := &testClock{}
	v := newVerifier(t, JWTConfig{JWKSURL: srv.URL, JWKSMinRefresh: time.Millisecond, Now: clock.now})
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "k1", first, claims(nil))); err != nil {
		t.Fatal(err)
	}
	srv.add("k2", &second.PublicKey)
	clock.advance(5 * time.Millisecond)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "k2", second, claims(nil))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
}

func TestJWTJWKSUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	v := newVerifier(t, JWTConfig{JWKSURL: srv.URL, HTTPClient: &http.Client{Timeout: time.Second}})
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "k", key, claims(nil)))
	if err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("err = %v, want a server-side error (not the caller's fault)", err)
	}
}

func writePEM(t *testing.T, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJWTRS256ViaPEMFile(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	v := newVerifier(t, JWTConfig{PublicKeyFile: writePEM(t, "PUBLIC KEY", der)})
	p, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "any", key, claims(map[string]any{"role": "admin"})))
	if err != nil || p.Role != "ADMIN" || p.TenantID != tenantA {
		t.Fatalf("PEM RS256: %+v, %v", p, err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	wantRefused(t, v, sign(t, jwt.SigningMethodRS256, "", other, claims(nil)), "signature is invalid")

	// PKCS#1 and EC keys are read too.
	v = newVerifier(t, JWTConfig{PublicKeyFile: writePEM(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey))})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "", key, claims(nil))); err != nil {
		t.Fatalf("PKCS#1 PEM: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ = x509.MarshalPKIXPublicKey(&ec.PublicKey)
	v = newVerifier(t, JWTConfig{PublicKeyFile: writePEM(t, "PUBLIC KEY", der)})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, "", ec, claims(nil))); err != nil {
		t.Fatalf("EC PEM: %v", err)
	}

	// An unreadable or invalid key file fails at start.
	for _, path := range []string{filepath.Join(t.TempDir(), "missing.pem"), writePEM(t, "PRIVATE KEY", []byte("x"))} {
		if _, err := NewJWTVerifier(JWTConfig{PublicKeyFile: path}, testTenants(), nil); err == nil {
			t.Errorf("%s: verifier built", path)
		}
	}
}

func TestAuthenticatorRoutesJWTs(t *testing.T) {
	v := newVerifier(t, JWTConfig{HS256Secret: testSecret})
	a := New(Options{JWT: v, Static: []StaticKey{{Key: "static.key.withdots", Principal: Principal{TenantID: tenantB, Type: PrincipalWorker, ID: "w"}}}})
	ctx := context.Background()
	token := hs256(t, claims(nil), testSecret)
	p, err := a.Authenticate(ctx, "Bearer "+token, AllMethods)
	if err != nil || p.ID != "user-42" {
		t.Fatalf("JWT: %+v, %v", p, err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+token, Methods{StaticKeys: true, WorkerTokens: true, APIKeys: true}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("JWT on an endpoint without jwt: %v", err)
	}
	if p, err := a.Authenticate(ctx, "Bearer static.key.withdots", AllMethods); err != nil || p.ID != "w" {
		t.Fatalf("static key: %+v, %v", p, err)
	}
	if _, err := a.Authenticate(ctx, "Bearer "+hs256(t, claims(nil), "wrong secret, wrong secret, wrong"), AllMethods); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("bad signature: %v", err)
	}
	// Without a verifier, JWTs are unknown credentials.
	if _, err := New(Options{}).Authenticate(ctx, "Bearer "+token, AllMethods); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("no verifier: %v", err)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for s, want := range map[string]bool{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abc": true,
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.":     true,
		"fwt_abcdef":                               false,
		"a.b":                                      false,
		"a.b.c.d":                                  false,
		"a b.c.d":                                  false,
		".b.c":                                     false,
	} {
		if got := LooksLikeJWT(s); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v", s, got)
		}
	}
}

func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"member"`, `"owner"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func unsigned(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testClock is the real time moved on by what a test advances it: tokens
// signed with the real time stay valid, and waits cost nothing.
type testClock struct{ ahead atomic.Int64 }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

func (c *testClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }
