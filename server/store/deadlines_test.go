package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// pastDeadline moves a task's deadline one second before the database's now.
func pastDeadline(t *testing.T, s *store.Store, tenant, id uuid.UUID) {
	t.Helper()
	tag, err := s.Pool().Exec(context.Background(),
		`UPDATE tasks SET deadline_at = now() - interval '1 second' WHERE tenant_id = $1 AND id = $2`, tenant, id)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("moving the deadline of %s: %v", id, err)
	}
}

func hour() *int64 { ms := time.Hour.Milliseconds(); return &ms }

// Two tenants hold a task of the same id, each with a deadline an hour
// away. Only the one whose deadline passed is claimed — by one transaction
// while it holds it, and never again once it has ended.
func TestOverdueTaskClaimedOnce(t *testing.T) {
	s, ctx := open(t), context.Background()
	var tenants [2]uuid.UUID
	for i, slug := range []string{"a", "b"} {
		created, err := s.CreateTenant(ctx, store.Tenant{Slug: slug, Name: slug})
		if err != nil {
			t.Fatal(err)
		}
		tenants[i] = created.ID
	}
	task := uuid.New()
	for _, tenant := range tenants {
		err := s.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertTask(ctx, store.Task{ID: task, TenantID: tenant, Kind: "k", Queue: "q", TimeoutMs: hour()}, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if d, err := s.NextTaskDeadline(ctx); err != nil || d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("next deadline in %v, %v; want about an hour", d, err)
	}
	if err := s.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.OverdueTask(ctx)
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a claim before any deadline passed: %v, want ErrNotFound", err)
	}

	a, b := tenants[0], tenants[1]
	pastDeadline(t, s, a, task)
	if d, err := s.NextTaskDeadline(ctx); err != nil || d > 0 {
		t.Fatalf("next deadline in %v, %v; want passed", d, err)
	}
	err := s.InTx(ctx, func(tx *store.Tx) error {
		claimed, err := tx.OverdueTask(ctx)
		if err != nil {
			return err
		}
		if claimed.TenantID != a || claimed.ID != task || claimed.Status != store.StatusPending {
			t.Fatalf("claimed %+v, want tenant a's pending task", claimed)
		}
		// Another replica, meanwhile, finds nothing to do: tenant a's task
		// is held, tenant b's is not due.
		if err := s.InTx(ctx, func(other *store.Tx) error {
			_, err := other.OverdueTask(ctx)
			return err
		}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a second claim while the first holds the task: %v, want ErrNotFound", err)
		}
		return tx.EndOverdueTask(ctx, claimed, "task timed out after 3600000 ms (timeout_ms)")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.OverdueTask(ctx)
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a claim after the task ended: %v, want ErrNotFound", err)
	}
	ended, err := s.Task(ctx, a, task)
	if err != nil || ended.Status != store.StatusFailed || ended.Error == nil || *ended.Error != "task timed out after 3600000 ms (timeout_ms)" {
		t.Fatalf("tenant a's task: %+v, %v", ended, err)
	}
	untouched, err := s.Task(ctx, b, task)
	if err != nil || untouched.Status != store.StatusPending || untouched.Error != nil {
		t.Fatalf("tenant b's task: %+v, %v", untouched, err)
	}
	if d, err := s.NextTaskDeadline(ctx); err != nil || d <= 59*time.Minute {
		t.Fatalf("next deadline in %v, %v; want tenant b's, about an hour away", d, err)
	}
}

// A task a worker is running fails with its running attempt; a task waiting
// out the backoff before its next attempt is overdue all the same, and its
// last attempt keeps its own error.
func TestOverdueTaskAttempts(t *testing.T) {
	s, ctx := open(t), context.Background()
	tenant, err := s.CreateTenant(ctx, store.Tenant{Slug: "a", Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	wf, running, retrying := uuid.New(), uuid.New(), uuid.New()
	err = s.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.CreateWorkflow(ctx, store.Workflow{ID: wf, TenantID: tenant.ID, Kind: "k", Queue: "q"}, nil, store.WorkflowUpdate{Status: store.StatusWaiting}); err != nil {
			return err
		}
		for _, id := range []uuid.UUID{running, retrying} {
			if _, err := tx.InsertTask(ctx, store.Task{ID: id, TenantID: tenant.ID, WorkflowID: &wf, Kind: "t", Queue: "q", MaxRetries: 3, TimeoutMs: hour()}, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.ClaimTask(ctx, tenant.ID, "q", nil, "w", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// The retrying task's first attempt failed; its next may not start
	// for an hour.
	retryIn := time.Hour
	boom := "boom"
	err = s.InTx(ctx, func(tx *store.Tx) error {
		task, err := tx.LockTask(ctx, tenant.ID, retrying)
		if err != nil {
			return err
		}
		return tx.FinishTask(ctx, task, store.StatusPending, nil, &boom, &retryIn)
	})
	if err != nil {
		t.Fatal(err)
	}
	pastDeadline(t, s, tenant.ID, running)
	pastDeadline(t, s, tenant.ID, retrying)
	for range 2 {
		err := s.InTx(ctx, func(tx *store.Tx) error {
			task, err := tx.OverdueTask(ctx)
			if err != nil {
				return err
			}
			return tx.EndOverdueTask(ctx, task, "timed out")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[uuid.UUID]string{running: "timed out", retrying: "boom"} {
		d, err := s.TaskOfWorkflow(ctx, tenant.ID, wf, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != store.StatusFailed || d.Error == nil || *d.Error != "timed out" || d.ExecutionCount != 1 {
			t.Fatalf("task %s: status %s, error %v, attempts %d; want FAILED, timed out, 1", id, d.Status, d.Error, d.ExecutionCount)
		}
		if len(d.Attempts) != 1 || d.Attempts[0].Status != store.StatusFailed || d.Attempts[0].Error == nil || *d.Attempts[0].Error != want {
			t.Fatalf("task %s attempts %+v, want one FAILED with %q", id, d.Attempts, want)
		}
	}
}

// A lease renewal never waits for a row another transaction holds: it
// skips that row this round (so it cannot close a cycle of locks with a
// transaction completing the task) and renews the others.
func TestExtendLeasesSkipsLockedRows(t *testing.T) {
	s, ctx := open(t), context.Background()
	tenant, err := s.CreateTenant(ctx, store.Tenant{Slug: "a", Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var held []store.Task
	for range 2 {
		if err := s.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertTask(ctx, store.Task{ID: uuid.New(), TenantID: tenant.ID, Kind: "k", Queue: "q"}, 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		task, err := s.ClaimTask(ctx, tenant.ID, "q", nil, "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, task)
	}
	lease := func(id uuid.UUID) time.Duration {
		t.Helper()
		var left time.Duration
		if err := s.Pool().QueryRow(ctx, `SELECT lease_expires_at - now() FROM tasks WHERE id = $1`, id).Scan(&left); err != nil {
			t.Fatal(err)
		}
		return left
	}

	locker, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback(ctx)
	if _, err := locker.Exec(ctx, `SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE`, held[0].ID); err != nil {
		t.Fatal(err)
	}
	renewed := make(chan error, 1)
	go func() {
		renewed <- s.ExtendLeases(ctx, []store.WorkerRef{{Tenant: tenant.ID, ID: "w"}}, nil, time.Hour, time.Hour)
	}()
	select {
	case err := <-renewed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ExtendLeases waited for a row another transaction holds")
	}
	if err := locker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if l := lease(held[0].ID); l > time.Minute {
		t.Fatalf("the locked task's lease was renewed (%v left)", l)
	}
	if l := lease(held[1].ID); l < 59*time.Minute {
		t.Fatalf("the other task's lease was not renewed (%v left)", l)
	}
}
