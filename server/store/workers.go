package store

import (
	"context"

	"github.com/google/uuid"
)

// Worker is a registered worker process.
type Worker struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Name       string
	Version    string
	Type       string
	HostName   string
	ProcessID  string
	Metadata   map[string]string
	Capability []Capability
}

// Capability is one kind a worker can run.
type Capability struct {
	Type        string // workflow, task or agent
	Kind        string
	Version     string
	ContentHash string
}

// UpsertWorker registers w by (tenant, name), replacing its capabilities, and
// returns its id (the existing one for a worker registering again).
func (t *Tx) UpsertWorker(ctx context.Context, w Worker) (uuid.UUID, error) {
	if w.Metadata == nil {
		w.Metadata = map[string]string{}
	}
	var id uuid.UUID
	err := t.tx.QueryRow(ctx,
		`INSERT INTO workers (id, tenant_id, name, version, worker_type, host_name, process_id, metadata)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		 ON CONFLICT (tenant_id, name) DO UPDATE SET version = EXCLUDED.version, worker_type = EXCLUDED.worker_type,
		     host_name = EXCLUDED.host_name, process_id = EXCLUDED.process_id, metadata = EXCLUDED.metadata,
		     registered_at = now(), last_seen_at = now()
		 RETURNING id`,
		uuid.New(), w.TenantID, w.Name, w.Version, w.Type, w.HostName, w.ProcessID, w.Metadata).Scan(&id)
	if err != nil {
		return id, err
	}
	if _, err := t.tx.Exec(ctx, `DELETE FROM worker_capabilities WHERE worker_id = $1`, id); err != nil {
		return id, err
	}
	if len(w.Capability) == 0 {
		return id, nil
	}
	types := make([]string, len(w.Capability))
	kinds := make([]string, len(w.Capability))
	versions := make([]string, len(w.Capability))
	hashes := make([]string, len(w.Capability))
	for i, c := range w.Capability {
		types[i], kinds[i], versions[i], hashes[i] = c.Type, c.Kind, c.Version, c.ContentHash
	}
	_, err = t.tx.Exec(ctx,
		`INSERT INTO worker_capabilities (worker_id, capability_type, kind, version, content_hash)
		 SELECT $1, t, k, v, h FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(t, k, v, h)
		 ON CONFLICT DO NOTHING`,
		id, types, kinds, versions, hashes)
	return id, err
}

// WorkerKinds returns the kinds of capType registered by the worker whose id
// or name is worker in tenant; found is false when no such worker registered.
func (s *Store) WorkerKinds(ctx context.Context, tenant uuid.UUID, worker, capType string) (kinds []string, found bool, err error) {
	var id uuid.UUID
	if parsed, perr := uuid.Parse(worker); perr == nil {
		err = s.pool.QueryRow(ctx, `SELECT id FROM workers WHERE tenant_id = $1 AND (id = $2 OR name = $3)`, tenant, parsed, worker).Scan(&id)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT id FROM workers WHERE tenant_id = $1 AND name = $2`, tenant, worker).Scan(&id)
	}
	if err = notFound(err); err == ErrNotFound {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	rows, err := s.pool.Query(ctx, `SELECT kind FROM worker_capabilities WHERE worker_id = $1 AND capability_type = $2`, id, capType)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, false, err
		}
		kinds = append(kinds, k)
	}
	return kinds, true, rows.Err()
}

// TouchWorker records a heartbeat of a tenant's worker; unknown ids are ignored.
func (s *Store) TouchWorker(ctx context.Context, tenant, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE workers SET last_seen_at = now() WHERE tenant_id = $2 AND id = $1`, id, tenant)
	return err
}

// TouchWorkerAnyTenant records a heartbeat by the worker's id alone (the
// server minted it), for a server whose authentication is disabled.
func (s *Store) TouchWorkerAnyTenant(ctx context.Context, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE workers SET last_seen_at = now() WHERE id = $1`, id)
	return err
}
