// Package servertest runs a real flovyn server inside a test.
package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/flovyn/flovyn/server"
)

// startTimeout bounds a test server's start: migrations, seeding, listening.
const startTimeout = time.Minute

// Start creates and starts a server with o, and shuts it down when the test
// ends, checking that the calls in flight drained within
// server.ShutdownGrace and that no listener failed.
func Start(t testing.TB, o server.Options) *server.Server {
	t.Helper()
	srv, err := server.New(o)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("server Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), server.ShutdownGrace)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server Shutdown: %v", err)
		}
	})
	return srv
}
