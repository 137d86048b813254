package engine

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/pgtest"
	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, store.MigrateURL)) }

// serviceEnv is an engine on a fresh database with one tenant. Its
// services are not started: each test runs the one it tests with RunOnce,
// after moving a deadline into the past in the database (whose clock every
// deadline is measured on), so nothing waits.
type serviceEnv struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	e      *Engine
	tenant uuid.UUID
}

func newServiceEnv(t *testing.T) *serviceEnv {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	tenant, err := st.CreateTenant(ctx, Tenant{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	e := New(st, notify.NewHub(), Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(e.Close)
	return &serviceEnv{t: t, ctx: ctx, st: st, e: e, tenant: tenant.ID}
}

func (s *serviceEnv) exec(sql string, args ...any) {
	s.t.Helper()
	if _, err := s.st.Pool().Exec(s.ctx, sql, args...); err != nil {
		s.t.Fatal(err)
	}
}

// held starts a workflow and claims its workflow task.
func (s *serviceEnv) held() Workflow {
	s.t.Helper()
	res, err := s.e.StartWorkflow(s.ctx, StartRequest{Tenant: s.tenant, Kind: "k", Queue: "q"})
	if err != nil {
		s.t.Fatal(err)
	}
	wf, err := s.e.PollWorkflow(s.ctx, s.tenant, "q", "w")
	if err != nil || wf == nil || wf.ID != res.ID {
		s.t.Fatalf("poll: %v, %v", wf, err)
	}
	return *wf
}

func (s *serviceEnv) lastEvent(wf uuid.UUID) string {
	s.t.Helper()
	evs, err := s.e.Events(s.ctx, s.tenant, wf)
	if err != nil {
		s.t.Fatal(err)
	}
	return evs[len(evs)-1].Type
}

func (s *serviceEnv) runOnce(name string, run func(context.Context) error) {
	s.t.Helper()
	if err := run(s.ctx); err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
}

func (s *serviceEnv) task(id uuid.UUID) Task {
	s.t.Helper()
	task, err := s.st.Task(s.ctx, s.tenant, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return task
}

func TestTimerServiceFiresDueTimers(t *testing.T) {
	s := newServiceEnv(t)
	wf := s.held()
	if err := s.e.SubmitCommands(s.ctx, s.tenant, wf.ID, SubmitSuspended, []Command{StartTimer{ID: "t", DurationMs: 3_600_000}}); err != nil {
		t.Fatal(err)
	}
	s.runOnce("timers", func(ctx context.Context) error { _, err := s.e.timers.RunOnce(ctx); return err })
	if got := s.lastEvent(wf.ID); got != EventWorkflowSuspended && got != EventTimerStarted {
		t.Fatalf("an hour's timer fired at once: last event %s", got)
	}
	s.exec(`UPDATE timers SET fire_at = now() - interval '1 second' WHERE workflow_id = $1`, wf.ID)
	s.runOnce("timers", func(ctx context.Context) error { _, err := s.e.timers.RunOnce(ctx); return err })
	if got := s.lastEvent(wf.ID); got != EventTimerFired {
		t.Fatalf("last event %s, want %s", got, EventTimerFired)
	}
	if w, _ := s.e.Workflow(s.ctx, s.tenant, wf.ID); w.Status != StatusPending {
		t.Fatalf("status %s after the timer fired, want PENDING", w.Status)
	}
}

func TestTimerServiceTimesOutPromises(t *testing.T) {
	s := newServiceEnv(t)
	wf := s.held()
	hour := int64(3_600_000)
	if err := s.e.SubmitCommands(s.ctx, s.tenant, wf.ID, SubmitSuspended, []Command{CreatePromise{Name: "p", TimeoutMs: &hour}}); err != nil {
		t.Fatal(err)
	}
	s.exec(`UPDATE promises SET timeout_at = now() - interval '1 second' WHERE workflow_id = $1`, wf.ID)
	s.runOnce("timers", func(ctx context.Context) error { _, err := s.e.timers.RunOnce(ctx); return err })
	if got := s.lastEvent(wf.ID); got != EventPromiseTimeout {
		t.Fatalf("last event %s, want %s", got, EventPromiseTimeout)
	}
}

// A failed attempt waits out its backoff (not_before, database time), then
// is offered again.
func TestRetryWaitsForItsBackoff(t *testing.T) {
	s := newServiceEnv(t)
	id, _, err := s.e.SubmitTask(s.ctx, SubmitTaskRequest{Tenant: s.tenant, Kind: "t", Queue: "q", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.e.PollTask(s.ctx, s.tenant, "q", "w"); err != nil || got == nil || got.ID != id {
		t.Fatalf("first claim: %v, %v", got, err)
	}
	if err := s.e.FailTask(s.ctx, s.tenant, id, "boom"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.e.PollTask(s.ctx, s.tenant, "q", "w"); err != nil || got != nil {
		t.Fatalf("claimed during the backoff: %v, %v", got, err)
	}
	s.exec(`UPDATE tasks SET not_before = now() - interval '1 millisecond' WHERE id = $1`, id)
	got, err := s.e.PollTask(s.ctx, s.tenant, "q", "w")
	if err != nil || got == nil || got.ExecutionCount != 2 {
		t.Fatalf("after the backoff: %v, %v; want attempt 2", got, err)
	}
}

// The lease service renews what connected workers hold; once a lease runs
// out (its replica died), the reclaim service offers the work again.
func TestLeasesRenewedThenReclaimed(t *testing.T) {
	s := newServiceEnv(t)
	id, _, err := s.e.SubmitTask(s.ctx, SubmitTaskRequest{Tenant: s.tenant, Kind: "t", Queue: "q"})
	if err != nil {
		t.Fatal(err)
	}
	s.e.Presence().Seen(1, s.tenant, "w")
	if got, err := s.e.PollTask(s.ctx, s.tenant, "q", "w"); err != nil || got == nil {
		t.Fatalf("claim: %v, %v", got, err)
	}
	s.exec(`UPDATE tasks SET lease_expires_at = now() + interval '1 second' WHERE id = $1`, id)
	s.runOnce("leases", func(ctx context.Context) error { _, err := s.e.leases.RunOnce(ctx); return err })
	var renewed bool
	if err := s.st.Pool().QueryRow(s.ctx, `SELECT lease_expires_at > now() + interval '5 seconds' FROM tasks WHERE id = $1`, id).Scan(&renewed); err != nil || !renewed {
		t.Fatalf("lease not renewed for a connected worker: %v", err)
	}

	s.e.Presence().Closed(1) // the replica holding the connection is gone: nobody renews
	s.exec(`UPDATE tasks SET lease_expires_at = now() - interval '1 millisecond' WHERE id = $1`, id)
	s.runOnce("leases", func(ctx context.Context) error { _, err := s.e.leases.RunOnce(ctx); return err })
	s.runOnce("reclaim", func(ctx context.Context) error { _, err := s.e.reclaimer.RunOnce(ctx); return err })
	if task := s.task(id); task.Status != StatusPending || task.WorkerID != nil {
		t.Fatalf("after the lease ran out: %+v, want PENDING and no worker", task)
	}
}

func TestDeadlineServiceFailsOverdueTasks(t *testing.T) {
	s := newServiceEnv(t)
	id, _, err := s.e.SubmitTask(s.ctx, SubmitTaskRequest{Tenant: s.tenant, Kind: "t", Queue: "q", TimeoutMs: 3_600_000})
	if err != nil {
		t.Fatal(err)
	}
	s.runOnce("deadlines", func(ctx context.Context) error { _, err := s.e.taskDeadlines.RunOnce(ctx); return err })
	if task := s.task(id); task.Status != StatusPending {
		t.Fatalf("an hour's deadline fired at once: %s", task.Status)
	}
	s.exec(`UPDATE tasks SET deadline_at = now() - interval '1 millisecond' WHERE id = $1`, id)
	s.runOnce("deadlines", func(ctx context.Context) error { _, err := s.e.taskDeadlines.RunOnce(ctx); return err })
	task := s.task(id)
	if task.Status != StatusFailed || task.Error == nil || !strings.Contains(*task.Error, "timed out") {
		t.Fatalf("overdue task: %s %v, want FAILED, timed out", task.Status, task.Error)
	}
}

// A poll that names no queue polls the default one, for the wake-up and
// for the claim alike.
func TestPollWithoutQueueClaimsFromTheDefaultQueue(t *testing.T) {
	s := newServiceEnv(t)
	id, _, err := s.e.SubmitTask(s.ctx, SubmitTaskRequest{Tenant: s.tenant, Kind: "t"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.e.PollTask(s.ctx, s.tenant, "", "w")
	if err != nil || got == nil || got.ID != id {
		t.Fatalf("poll without a queue: %v, %v; want task %s of queue %q", got, err, id, DefaultQueue)
	}
}
