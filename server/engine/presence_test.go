package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// A worker id means something only in its tenant: the same id polling for
// two tenants is two workers, and one connection closing leaves the other.
// One connection cannot make the server remember worker ids without bound.
func TestPresenceIsPerTenantAndBounded(t *testing.T) {
	p := newPresence()
	a, b := uuid.New(), uuid.New()
	p.Seen(1, a, "w")
	p.Seen(2, b, "w")
	if gone := p.Closed(1); !slices.Equal(gone, []store.WorkerRef{{Tenant: a, ID: "w"}}) {
		t.Fatalf("closing tenant a's connection lost %v", gone)
	}
	if live := p.Workers(); !slices.Equal(live, []store.WorkerRef{{Tenant: b, ID: "w"}}) {
		t.Fatalf("connected: %v", live)
	}
	for i := range 10_000 {
		p.Seen(3, a, fmt.Sprint("w", i))
	}
	if n := len(p.conns[3]); n != maxWorkersPerConn {
		t.Fatalf("one connection holds %d worker ids, want at most %d", n, maxWorkersPerConn)
	}
}
