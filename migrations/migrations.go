// Package migrations holds the database schema as numbered goose migrations,
// embedded into the binary.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Provider returns a goose provider over db with the embedded migrations.
// A PostgreSQL advisory lock keeps replicas starting together from
// migrating at the same time.
func Provider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker))
}

// Up applies every pending migration and reports what it applied to log (may be nil).
func Up(ctx context.Context, db *sql.DB, log io.Writer) error {
	p, err := Provider(db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	if log != nil {
		for _, r := range results {
			fmt.Fprintf(log, "applied %s in %s\n", r.Source.Path, r.Duration)
		}
	}
	return nil
}
