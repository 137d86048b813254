package auth

import (
	"regexp"
	"testing"
)

func TestNewSecretShape(t *testing.T) {
	shape := regexp.MustCompile(`^fwt_[0-9A-Za-z]{40}$`)
	a, b := NewSecret(WorkerTokenPrefix), NewSecret(WorkerTokenPrefix)
	if !shape.MatchString(a) {
		t.Fatalf("token %q does not match %v", a, shape)
	}
	if a == b {
		t.Fatal("two tokens are equal")
	}
	prefix, ok := LookupPrefix(a)
	if !ok || len(prefix) != LookupPrefixLen || prefix != a[:16] {
		t.Fatalf("LookupPrefix = %q, %v", prefix, ok)
	}
	if _, ok := LookupPrefix("fwt_short"); ok {
		t.Fatal("a secret no longer than the prefix has no lookup prefix")
	}
}

func TestHasherVerifies(t *testing.T) {
	h := NewHasher([]byte("server-secret"))
	secret := NewSecret(APIKeyPrefix)
	stored := h.Hash(secret)
	if len(stored) != 32 {
		t.Fatalf("hash is %d bytes, want 32 (HMAC-SHA256)", len(stored))
	}
	if !h.Verify(secret, stored) {
		t.Fatal("the secret does not verify against its own hash")
	}
	if h.Verify(secret+"x", stored) {
		t.Fatal("a different secret verifies")
	}
	if NewHasher([]byte("other-secret")).Verify(secret, stored) {
		t.Fatal("a hasher with another key verifies")
	}
}

func TestDeriveIsStablePerKey(t *testing.T) {
	h := NewHasher([]byte("k1"))
	a := h.Derive(WorkerTokenPrefix, "dev-worker-token")
	if a != h.Derive(WorkerTokenPrefix, "dev-worker-token") {
		t.Fatal("Derive is not deterministic")
	}
	if a == h.Derive(WorkerTokenPrefix, "dev-admin-key") || a == NewHasher([]byte("k2")).Derive(WorkerTokenPrefix, "dev-worker-token") {
		t.Fatal("Derive gives the same secret for another name or key")
	}
	if !regexp.MustCompile(`^fwt_[0-9A-Za-z]{40}$`).MatchString(a) {
		t.Fatalf("derived token %q has the wrong shape", a)
	}
}
