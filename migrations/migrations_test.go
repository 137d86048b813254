package migrations_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/flovyn/flovyn/internal/pgtest"
	"github.com/flovyn/flovyn/migrations"
)

// The template stays empty: these tests migrate themselves.
func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(context.Context, string) error { return nil }))
}

func TestUpOnEmptyDatabaseThenIdempotent(t *testing.T) {
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	if err := migrations.Up(ctx, db, nil); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	if err := migrations.Up(ctx, db, nil); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	p, err := migrations.Provider(db)
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) == 0 {
		t.Fatal("no migrations found")
	}
	for _, s := range statuses {
		if s.State != goose.StateApplied {
			t.Errorf("%s: state %s, want applied", s.Source.Path, s.State)
		}
	}
	for _, table := range []string{"tenants", "credentials", "workflow_executions", "workflow_events", "tasks", "task_attempts", "timers", "promises", "workflow_state", "idempotency_keys", "workers", "worker_capabilities"} {
		var exists bool
		if err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s missing after migration (err %v)", table, err)
		}
	}
}
