package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

var setups atomic.Int32

func TestMain(m *testing.M) {
	os.Exit(Main(m, func(ctx context.Context, databaseURL string) error {
		setups.Add(1)
		c, err := pgx.Connect(ctx, databaseURL)
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'seed')")
		// Left open on purpose on error paths; Main must cope with leftovers.
		return errors.Join(err, c.Close(ctx))
	}))
}

func TestFreshIsolatedDatabases(t *testing.T) {
	urls := make(chan string, 8)
	t.Run("group", func(t *testing.T) {
		for i := range cap(urls) {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				url := NewDatabase(t)
				urls <- url
				c, err := pgx.Connect(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(context.Background())
				if _, err := c.Exec(t.Context(), "INSERT INTO items VALUES ($1, 'mine')", i+100); err != nil {
					t.Fatal(err)
				}
				var n, mine int
				if err := c.QueryRow(t.Context(), "SELECT count(*), count(*) FILTER (WHERE id = $1) FROM items", i+100).Scan(&n, &mine); err != nil {
					t.Fatal(err)
				}
				if n != 2 || mine != 1 {
					t.Fatalf("items: %d rows, %d mine; want the seed row and mine only", n, mine)
				}
			})
		}
	})
	close(urls)
	seen := map[string]bool{}
	for u := range urls {
		if seen[u] {
			t.Fatalf("database URL handed out twice: %s", u)
		}
		seen[u] = true
		// Dropped at the end of its test.
		c, err := pgx.Connect(t.Context(), u)
		if err == nil {
			c.Close(t.Context())
			t.Fatalf("database %s still exists", u)
		}
	}
	if n := setups.Load(); n != 1 {
		t.Fatalf("template set up %d times", n)
	}
}

func TestTemplateSetupConnectionLeftOpen(t *testing.T) {
	// A connection to the template would make cloning fail; Main refuses them.
	url := NewDatabase(t)
	tmpl := databaseURL(template)
	if c, err := pgx.Connect(t.Context(), tmpl); err == nil {
		c.Close(t.Context())
		t.Fatal("template accepts connections")
	}
	if url == tmpl {
		t.Fatal("handed out the template")
	}
}
