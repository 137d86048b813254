// Package pgtest gives each test its own PostgreSQL database, cloned from a
// template prepared once per test binary.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, migrate)) }
//
// With FLOVYN_TEST_DATABASE_URL set (a postgres:// URL of a superuser or a role
// with CREATEDB), that server is used; otherwise an ephemeral embedded
// PostgreSQL is started the first time a test asks for a database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flovyn/flovyn/embed"
)

// URLEnv names the variable pointing at an external server to test against.
const URLEnv = "FLOVYN_TEST_DATABASE_URL"

var (
	mainCalled bool
	setup      func(ctx context.Context, databaseURL string) error

	once     sync.Once
	initErr  error
	server   *url.URL // admin connection
	pg       *embed.Postgres
	template string
	strategy string // CREATE DATABASE option, see start
	seq      atomic.Int64
)

// Main runs the tests. setupTemplate, which may be nil, prepares the template
// database every test database is cloned from (e.g. runs the migrations); it
// must close its connections before returning. Settings made with ALTER
// DATABASE are not copied to the clones.
func Main(m *testing.M, setupTemplate func(ctx context.Context, databaseURL string) error) int {
	mainCalled, setup = true, setupTemplate
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NewDatabase creates a database for this test, a clone of the template, and
// returns its URL. It is dropped when the test ends. Safe for parallel tests.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if !mainCalled {
		t.Fatal("pgtest: TestMain must call os.Exit(pgtest.Main(m, setup))")
	}
	once.Do(func() { initErr = start() })
	if initErr != nil {
		t.Fatal("pgtest:", initErr)
	}
	name := fmt.Sprintf("%s_%d", template, seq.Add(1))
	if err := admin("CREATE DATABASE " + ident(name) + " TEMPLATE " + ident(template) + strategy); err != nil {
		t.Fatal("pgtest:", err)
	}
	t.Cleanup(func() {
		if err := admin("DROP DATABASE IF EXISTS " + ident(name) + " WITH (FORCE)"); err != nil {
			t.Error("pgtest:", err)
		}
	})
	return databaseURL(name)
}

func start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if s := os.Getenv(URLEnv); s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("$%s must be a postgres:// URL", URLEnv)
		}
		server = u
	} else {
		var err error
		pg, err = embed.StartPostgres(ctx, embed.PostgresOptions{Ephemeral: true})
		if err != nil {
			return err
		}
		server, _ = url.Parse(pg.URL("postgres"))
	}

	// Unique per test binary: packages run in parallel against one server.
	b := make([]byte, 6)
	rand.Read(b)
	template = "pgtest_" + hex.EncodeToString(b)
	var version int
	err := withConn(ctx, server.String(), func(c *pgx.Conn) error {
		if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "CREATE DATABASE "+ident(template))
		return err
	})
	if err != nil {
		return err
	}
	// Copying files (the only strategy before 15) measured faster here for
	// small databases than 15's default, which writes the whole clone to WAL.
	if version >= 150000 {
		strategy = " STRATEGY FILE_COPY"
	}
	if setup != nil {
		if err := setup(ctx, databaseURL(template)); err != nil {
			return fmt.Errorf("setting up the template database: %w", err)
		}
	}
	// Cloning needs the template to have no connections: end any the setup
	// left open, and refuse new ones.
	return withConn(ctx, server.String(), func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "ALTER DATABASE "+ident(template)+" ALLOW_CONNECTIONS false")
		if err == nil {
			_, err = c.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", template)
		}
		return err
	})
}

func teardown() error {
	if server == nil {
		return nil
	}
	if pg != nil {
		return pg.Stop() // the whole cluster goes
	}
	if template == "" {
		return nil
	}
	return admin("DROP DATABASE IF EXISTS " + ident(template) + " WITH (FORCE)")
}

func admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return withConn(ctx, server.String(), func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, sql)
		return err
	})
}

func withConn(ctx context.Context, url string, f func(*pgx.Conn) error) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	return errors.Join(f(c), c.Close(ctx))
}

func databaseURL(name string) string {
	u := *server
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }
