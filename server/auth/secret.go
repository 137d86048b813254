package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
)

// Secret prefixes: they tell a reader what a leaked string is.
const (
	WorkerTokenPrefix = "fwt_"
	APIKeyPrefix      = "fak_"
)

const (
	base62          = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretBodyLen   = 40 // about 238 bits
	LookupPrefixLen = 16
)

// NewSecret returns prefix followed by random base62 characters.
func NewSecret(prefix string) string {
	b := make([]byte, secretBodyLen)
	max := big.NewInt(int64(len(base62)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("auth: system randomness unavailable: " + err.Error())
		}
		b[i] = base62[n.Int64()]
	}
	return prefix + string(b)
}

// LookupPrefix is the part of a secret stored in clear to find its row.
func LookupPrefix(secret string) (string, bool) {
	if len(secret) <= LookupPrefixLen {
		return "", false
	}
	return secret[:LookupPrefixLen], true
}

// Hasher computes the keyed hash stored for each secret, so a database dump
// alone is not enough to forge or check a credential.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher keyed by the server's secret.
func NewHasher(key []byte) Hasher { return Hasher{key: key} }

// Hash returns HMAC-SHA256(key, secret).
func (h Hasher) Hash(secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Verify compares secret against a stored hash in constant time.
func (h Hasher) Verify(secret string, stored []byte) bool {
	return hmac.Equal(h.Hash(secret), stored)
}

// Derive returns a deterministic secret for name, used by `flovyn dev` so its
// seeded credentials stay the same across restarts without storing them.
func (h Hasher) Derive(prefix, name string) string {
	sum := h.Hash("derive:" + name)
	b := make([]byte, secretBodyLen)
	n := new(big.Int).SetBytes(sum)
	base := big.NewInt(int64(len(base62)))
	mod := new(big.Int)
	for i := range b {
		n.DivMod(n, base, mod)
		b[i] = base62[mod.Int64()]
	}
	return prefix + string(b)
}
