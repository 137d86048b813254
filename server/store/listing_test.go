package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// Workflows created in one transaction share created_at: the cursor must
// still visit each exactly once, in id order within the tie.
func TestListWorkflowsPagesThroughTies(t *testing.T) {
	s, ctx := open(t), context.Background()
	tenant, err := s.CreateTenant(ctx, store.Tenant{Slug: "acme", Name: "Acme", Tier: "FREE"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	err = s.InTx(ctx, func(tx *store.Tx) error {
		for range 5 {
			id := uuid.New()
			ids = append(ids, id)
			if _, err := tx.CreateWorkflow(ctx, store.Workflow{ID: id, TenantID: tenant.ID, Kind: "k", Queue: "q"}, nil, store.WorkflowUpdate{Status: store.StatusPending}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })

	var seen []uuid.UUID
	f := store.WorkflowFilter{Tenant: tenant.ID, Limit: 2}
	for pages := 0; ; pages++ {
		list, more, err := s.ListWorkflows(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range list {
			seen = append(seen, w.ID)
		}
		if !more {
			if pages != 2 {
				t.Fatalf("%d pages", pages+1)
			}
			break
		}
		last := list[len(list)-1]
		f.After = &store.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if !slices.Equal(seen, ids) {
		t.Fatalf("paged %v, want %v", seen, ids)
	}

	f = store.WorkflowFilter{Tenant: tenant.ID, Statuses: []string{store.StatusCompleted}, Limit: 10}
	if list, more, err := s.ListWorkflows(ctx, f); err != nil || more || len(list) != 0 {
		t.Fatalf("COMPLETED: %d, %v, %v", len(list), more, err)
	}
}
