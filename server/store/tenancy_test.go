package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// Two tenants may hold the same workflow and task ids (the SDKs derive them
// from execution ids), and a worker id means something only in its tenant:
// the leases of one tenant's worker never move another tenant's tasks.
func TestSameIDsInTwoTenants(t *testing.T) {
	s, ctx := open(t), context.Background()
	var tenants [2]uuid.UUID
	for i, slug := range []string{"a", "b"} {
		created, err := s.CreateTenant(ctx, store.Tenant{Slug: slug, Name: slug})
		if err != nil {
			t.Fatal(err)
		}
		tenants[i] = created.ID
	}
	wf, task := uuid.New(), uuid.New()
	for _, tenant := range tenants {
		err := s.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.CreateWorkflow(ctx, store.Workflow{ID: wf, TenantID: tenant, Kind: "k", Queue: "q"}, nil, store.WorkflowUpdate{Status: store.StatusPending}); err != nil {
				return err
			}
			created, err := tx.InsertTask(ctx, store.Task{ID: task, TenantID: tenant, WorkflowID: &wf, Kind: "t", Queue: "q"}, 0)
			if err == nil && !created {
				t.Fatalf("tenant %s could not create task %s", tenant, task)
			}
			return err
		})
		if err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
	}
	for _, tenant := range tenants {
		if _, err := s.ClaimTask(ctx, tenant, "q", nil, "shared-worker", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	a := store.WorkerRef{Tenant: tenants[0], ID: "shared-worker"}
	if err := s.ExpireLeases(ctx, []store.WorkerRef{a}); err != nil {
		t.Fatal(err)
	}
	lost, err := s.ReclaimTasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) != 1 || lost[0].TenantID != tenants[0] {
		t.Fatalf("reclaimed %+v, want only tenant a's task", lost)
	}
	b, err := s.Task(ctx, tenants[1], task)
	if err != nil || b.Status != store.StatusRunning {
		t.Fatalf("tenant b's task: %+v, %v", b, err)
	}
}
