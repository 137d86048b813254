package engine

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// RegisterWorker records a worker and what it can run, in one transaction,
// and returns its id (the same one when a worker of that name registers again).
func (e *Engine) RegisterWorker(ctx context.Context, w store.Worker) (uuid.UUID, error) {
	if w.Name == "" {
		return uuid.Nil, invalid("worker_name", "required")
	}
	var id uuid.UUID
	err := e.change(ctx, func(tx *store.Tx, _ *effects) error {
		var err error
		id, err = tx.UpsertWorker(ctx, w)
		return err
	})
	if err == nil {
		e.kindsMu.Lock()
		for k := range e.kinds {
			if k.tenant == w.TenantID && (k.worker == w.Name || k.worker == id.String()) {
				delete(e.kinds, k)
			}
		}
		e.kindsMu.Unlock()
	}
	return id, err
}

// Heartbeat records that a worker is alive; unknown ids are accepted.
func (e *Engine) Heartbeat(ctx context.Context, tenant uuid.UUID, workerID string) error {
	id, err := uuid.Parse(workerID)
	if err != nil {
		return nil
	}
	return e.st.TouchWorker(ctx, tenant, id)
}

type kindsKey struct {
	tenant  uuid.UUID
	worker  string
	capType string
}

type kindsEntry struct {
	kinds   []string
	fetched time.Time
}

const kindsCacheTTL = 30 * time.Second

// workerKinds returns the kinds a polling worker registered, so it is only
// offered work it can run; nil (any kind) for a worker that did not register
// or registered no kind of that type. Cached: polls are frequent.
func (e *Engine) workerKinds(ctx context.Context, tenant uuid.UUID, worker, capType string) ([]string, error) {
	if worker == "" {
		return nil, nil
	}
	key := kindsKey{tenant, worker, capType}
	e.kindsMu.Lock()
	entry, ok := e.kinds[key]
	e.kindsMu.Unlock()
	if ok && time.Since(entry.fetched) < kindsCacheTTL {
		return entry.kinds, nil
	}
	kinds, _, err := e.st.WorkerKinds(ctx, tenant, worker, capType)
	if err != nil {
		return nil, err
	}
	if len(kinds) == 0 {
		kinds = nil
	}
	e.kindsMu.Lock()
	e.kinds[key] = kindsEntry{kinds: kinds, fetched: time.Now()}
	e.kindsMu.Unlock()
	return kinds, nil
}

// Presence tracks which worker ids have a live connection to this server,
// so tasks they hold keep their lease while they run, however long, and
// are offered again soon after their worker's connection drops.
type Presence struct {
	mu    sync.Mutex
	conns map[uint64]map[string]bool // connection -> worker ids seen on it
}

func newPresence() *Presence { return &Presence{conns: map[uint64]map[string]bool{}} }

// Seen records that worker polled on connection conn.
func (p *Presence) Seen(conn uint64, worker string) {
	if worker == "" || conn == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.conns[conn]
	if ids == nil {
		ids = map[string]bool{}
		p.conns[conn] = ids
	}
	ids[worker] = true
}

// Closed forgets conn and returns the worker ids no other connection has.
func (p *Presence) Closed(conn uint64) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := p.conns[conn]
	delete(p.conns, conn)
	var gone []string
	for id := range ids {
		if !p.connected(id) {
			gone = append(gone, id)
		}
	}
	return gone
}

func (p *Presence) connected(worker string) bool {
	for _, ids := range p.conns {
		if ids[worker] {
			return true
		}
	}
	return false
}

// Workers returns every connected worker id.
func (p *Presence) Workers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	set := map[string]bool{}
	for _, ids := range p.conns {
		for id := range ids {
			set[id] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	return out
}
