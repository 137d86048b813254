// Package servertest runs a real flovyn server inside a test.
package servertest

import (
	"context"
	"testing"

	"github.com/flovyn/flovyn/server"
)

// Start creates a server with o and serves it until the test ends, then
// checks that it shut down cleanly.
func Start(t testing.TB, o server.Options) *server.Server {
	t.Helper()
	srv, err := server.New(context.Background(), o)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv
}
