package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// jwksCache fetches a JWKS document and keeps its keys by kid. It fetches
// again when the keys are older than maxAge, and when a token names an
// unknown kid (at most once per minRefresh, so unknown kids cannot make the
// server hammer the identity provider).
type jwksCache struct {
	url        string
	client     *http.Client
	log        *slog.Logger
	minRefresh time.Duration
	maxAge     time.Duration

	mu          sync.Mutex
	byKid       map[string]any
	all         []any
	fetched     time.Time // last successful fetch
	lastAttempt time.Time
	now         func() time.Time
}

func newJWKSCache(cfg JWTConfig, log *slog.Logger) *jwksCache {
	c := &jwksCache{
		url:        cfg.JWKSURL,
		client:     cfg.HTTPClient,
		log:        log,
		minRefresh: cfg.JWKSMinRefresh,
		maxAge:     cfg.JWKSMaxAge,
		now:        cfg.Now,
	}
	if c.client == nil {
		c.client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.minRefresh <= 0 {
		c.minRefresh = 30 * time.Second
	}
	if c.maxAge <= 0 {
		c.maxAge = 10 * time.Minute
	}
	return c
}

// keys returns the keys that may have signed a token with this kid: the
// one key with that kid, or every key when the token names none.
func (c *jwksCache) keys(ctx context.Context, kid string) ([]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	stale := c.fetched.IsZero() || now.Sub(c.fetched) > c.maxAge
	if stale && now.Sub(c.lastAttempt) >= c.minRefresh {
		c.refresh(ctx)
	}
	if c.fetched.IsZero() {
		return nil, errKeysUnavailable
	}
	if kid == "" {
		return c.all, nil
	}
	if k, ok := c.byKid[kid]; ok {
		return []any{k}, nil
	}
	if c.now().Sub(c.lastAttempt) >= c.minRefresh {
		c.refresh(ctx)
		if k, ok := c.byKid[kid]; ok {
			return []any{k}, nil
		}
	}
	return nil, fmt.Errorf("unknown key id %q", kid)
}

// refresh fetches the document; on failure the keys already held stay.
// Called with mu held.
func (c *jwksCache) refresh(ctx context.Context) {
	c.lastAttempt = c.now()
	byKid, all, err := c.fetch(ctx)
	if err != nil {
		c.log.Warn("could not fetch the JWKS; keeping the keys already known", "url", c.url, "err", err)
		return
	}
	c.byKid, c.all, c.fetched = byKid, all, c.now()
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (c *jwksCache) fetch(ctx context.Context) (map[string]any, []any, error) {
	// The request outlives a cancelled caller only up to the client timeout.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, c.url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	byKid := map[string]any{}
	var all []any
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		key, err := k.publicKey()
		if err != nil {
			c.log.Warn("JWKS key skipped", "url", c.url, "index", i, "kid", k.Kid, "err", err)
			continue
		}
		all = append(all, key)
		if k.Kid != "" {
			byKid[k.Kid] = key
		}
	}
	if len(all) == 0 {
		return nil, nil, errors.New("the JWKS holds no usable signing key")
	}
	return byKid, all, nil
}

func (k jwk) publicKey() (any, error) {
	b64 := func(name, s string) ([]byte, error) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("member %q is not base64url", name)
		}
		return b, nil
	}
	switch k.Kty {
	case "RSA":
		n, err := b64("n", k.N)
		if err != nil {
			return nil, err
		}
		e, err := b64("e", k.E)
		if err != nil {
			return nil, err
		}
		if len(e) > 4 {
			return nil, errors.New("RSA exponent too large")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 {
			return nil, errors.New("RSA exponent too small")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("unsupported curve %q", k.Crv)
		}
		x, err := b64("x", k.X)
		if err != nil {
			return nil, err
		}
		y, err := b64("y", k.Y)
		if err != nil {
			return nil, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) > size || len(y) > size {
			return nil, errors.New("EC coordinate too long")
		}
		point := make([]byte, 1+2*size)
		point[0] = 4
		copy(point[1+size-len(x):1+size], x)
		copy(point[1+2*size-len(y):], y)
		return ecdsa.ParseUncompressedPublicKey(curve, point)
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("unsupported curve %q", k.Crv)
		}
		x, err := b64("x", k.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key of the wrong size")
		}
		return ed25519.PublicKey(x), nil
	default:
		return nil, fmt.Errorf("unsupported key type %q", k.Kty)
	}
}
