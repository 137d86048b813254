// Package store is flovyn's PostgreSQL access layer: one file of SQL per
// aggregate, a transaction helper, and the sentinel errors callers branch on.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/flovyn/flovyn/migrations"
	"github.com/flovyn/flovyn/server/limits"
)

var (
	// ErrNotFound means the row does not exist (or belongs to another tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique value (a slug, a key) is already taken.
	ErrConflict = errors.New("already exists")
)

// Store wraps a pgx connection pool.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to databaseURL and checks that the database answers.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	// Encode google/uuid values directly; pgx's generic path for them goes
	// through text and a failed attempt, a measurable cost on every query.
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection of the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool to the packages that build their own queries on it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// SQLDB returns a database/sql handle on the pool, for goose.
func (s *Store) SQLDB() *sql.DB { return stdlib.OpenDBFromPool(s.pool) }

// Migrate applies every pending migration.
func (s *Store) Migrate(ctx context.Context, log io.Writer) error {
	db := s.SQLDB()
	defer db.Close()
	return migrations.Up(ctx, db, log)
}

// Tx is one database transaction; the engine's per-aggregate statements are
// its methods.
type Tx struct{ tx pgx.Tx }

// InTx runs fn in one transaction, committing when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(&Tx{tx: tx}) })
}

// tenantsOf returns (at most two of) the tenants that have a row of table
// with this id: for a server whose authentication is disabled, whose
// requests name no tenant. It reads every tenant's rows.
func (s *Store) tenantsOf(ctx context.Context, table string, id uuid.UUID) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id FROM `+table+` WHERE id = $1 LIMIT 2`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// notFound maps pgx's "no rows" onto ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// IsRetryable reports whether err is a deadlock or serialization failure,
// after which the whole transaction may simply be run again.
func IsRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// DataError reports whether err is PostgreSQL refusing a value itself
// (SQLSTATE class 22, data exception: bad encoding, a NUL, a number or date
// out of range; or 54000, a value too large for an index) and says why.
// Such an error is the caller's bad input, never a server fault; the edges
// check every field first, and this is the net under those checks.
func DataError(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return "", false
	}
	if strings.HasPrefix(pgErr.Code, "22") || pgErr.Code == "54000" {
		return pgErr.Message, true
	}
	return "", false
}

// Refused is err, unless it is PostgreSQL refusing a value (DataError):
// then the caller's bad input, as the edges' own checks report it.
func Refused(err error) error {
	if msg, ok := DataError(err); ok {
		return limits.Invalid("request", "the database refused a value: %s", msg)
	}
	return err
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// MigrateURL applies every pending migration to the database at databaseURL.
func MigrateURL(ctx context.Context, databaseURL string) error {
	s, err := Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Migrate(ctx, nil)
}
