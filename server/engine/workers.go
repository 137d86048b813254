package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/ttlcache"
	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/store"
)

// maxCapabilities bounds the kinds one worker may register.
const maxCapabilities = 1000

// RegisterWorker records a worker and what it can run, in one transaction,
// and returns its id (the same one when a worker of that name registers again).
func (e *Engine) RegisterWorker(ctx context.Context, w Worker) (uuid.UUID, error) {
	err := firstErr(limits.Name("worker_name", w.Name), limits.OptionalName("worker_version", w.Version),
		limits.OptionalName("worker_type", w.Type), limits.OptionalName("host_name", w.HostName),
		limits.OptionalName("process_id", w.ProcessID), limits.Metadata("metadata", w.Metadata))
	if err != nil {
		return uuid.Nil, err
	}
	if len(w.Capability) > maxCapabilities {
		return uuid.Nil, invalid("capabilities", "more than %d kinds", maxCapabilities)
	}
	for i, c := range w.Capability {
		field := fmt.Sprintf("capabilities[%d]", i)
		if err := firstErr(limits.Name(field+".kind", c.Kind), limits.OptionalName(field+".version", c.Version),
			limits.OptionalName(field+".content_hash", c.ContentHash)); err != nil {
			return uuid.Nil, err
		}
	}
	var id uuid.UUID
	err = e.change(ctx, func(tx *store.Tx, _ *effects) error {
		var err error
		id, err = tx.UpsertWorker(ctx, w)
		return err
	})
	if err == nil {
		e.kinds.DeleteFunc(func(k kindsKey) bool {
			return k.tenant == w.TenantID && (k.worker == w.Name || k.worker == id.String())
		})
	}
	return id, err
}

// Heartbeat records that a worker is alive; unknown ids are accepted.
func (e *Engine) Heartbeat(ctx context.Context, tenant uuid.UUID, workerID string) error {
	id, err := uuid.Parse(workerID)
	if err != nil {
		return nil
	}
	if tenant == uuid.Nil {
		return e.st.TouchWorkerAnyTenant(ctx, id)
	}
	return e.st.TouchWorker(ctx, tenant, id)
}

type kindsKey struct {
	tenant  uuid.UUID
	worker  string
	capType string
}

// The kinds cache holds an entry per polling worker id for a while; worker
// ids come from the client, so the number of entries is bounded too.
const (
	kindsCacheTTL  = 30 * time.Second
	kindsCacheSize = 10_000
)

// workerKinds returns the kinds a polling worker registered, so it is only
// offered work it can run; nil (any kind) for a worker that did not register
// or registered no kind of that type. Cached: polls are frequent.
func (e *Engine) workerKinds(ctx context.Context, tenant uuid.UUID, worker, capType string) ([]string, error) {
	if worker == "" {
		return nil, nil
	}
	key := kindsKey{tenant, worker, capType}
	if kinds, ok := e.kinds.Get(key); ok {
		return kinds, nil
	}
	kinds, _, err := e.st.WorkerKinds(ctx, tenant, worker, capType)
	if err != nil {
		return nil, err
	}
	if len(kinds) == 0 {
		kinds = nil
	}
	e.kinds.Put(key, kinds)
	return kinds, nil
}

// Presence tracks which workers have a live connection to this server,
// so tasks they hold keep their lease while they run, however long, and
// are offered again soon after their worker's connection drops.
type Presence struct {
	mu    sync.Mutex
	conns map[uint64]map[store.WorkerRef]bool // connection -> workers seen on it
	// left are workers whose last connection closed a moment ago: a poll of
	// theirs still running cannot deliver what it claims.
	left *ttlcache.Cache[store.WorkerRef, bool]
}

func newPresence() *Presence {
	return &Presence{conns: map[uint64]map[store.WorkerRef]bool{}, left: ttlcache.New[store.WorkerRef, bool](time.Minute, 10_000)}
}

// maxWorkersPerConn bounds the worker ids one connection can make the
// server remember; a real worker process uses one or two.
const maxWorkersPerConn = 64

// Seen records that a tenant's worker polled on connection conn.
func (p *Presence) Seen(conn uint64, tenant uuid.UUID, worker string) {
	if worker == "" || conn == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	refs := p.conns[conn]
	if refs == nil {
		refs = map[store.WorkerRef]bool{}
		p.conns[conn] = refs
	}
	if len(refs) < maxWorkersPerConn {
		refs[store.WorkerRef{Tenant: tenant, ID: worker}] = true
	}
}

// Closed forgets conn and returns the workers no other connection has.
func (p *Presence) Closed(conn uint64) []store.WorkerRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	refs := p.conns[conn]
	delete(p.conns, conn)
	var gone []store.WorkerRef
	for w := range refs {
		if !p.connected(w) {
			gone = append(gone, w)
			p.left.Put(w, true)
		}
	}
	return gone
}

// lost reports whether the worker's connections have all closed: what a
// poll of its claims now would be leased to a worker that cannot get it.
func (p *Presence) lost(w store.WorkerRef) bool {
	if _, left := p.left.Get(w); !left {
		return false // the poll path: one lookup, no scan of the connections
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.connected(w)
}

func (p *Presence) connected(w store.WorkerRef) bool {
	for _, refs := range p.conns {
		if refs[w] {
			return true
		}
	}
	return false
}

// Workers returns every connected worker.
func (p *Presence) Workers() []store.WorkerRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	set := map[store.WorkerRef]bool{}
	for _, refs := range p.conns {
		for w := range refs {
			set[w] = true
		}
	}
	out := make([]store.WorkerRef, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	return out
}
