package notify

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/embed"
)

func TestSubjectRoundTrip(t *testing.T) {
	for _, q := range []string{"default", "", "q.with.dots", "spaces and *>"} {
		k := Key{Tenant: uuid.New(), Queue: q, Kind: Tasks}
		got, ok := parseSubject(subject(k))
		if !ok || got != k {
			t.Errorf("queue %q: %v %v", q, got, ok)
		}
	}
}

func TestBridgeWakesAWaiterOnAnotherReplica(t *testing.T) {
	srv, err := embed.StartNATS(embed.NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	log := slog.New(slog.DiscardHandler)
	a, b := NewHub(), NewHub()
	ba, err := Connect(srv.URL(), a, log)
	if err != nil {
		t.Fatal(err)
	}
	defer ba.Close()
	bb, err := Connect(srv.URL(), b, log)
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()

	key := Key{Tenant: uuid.New(), Queue: "q", Kind: Workflows}
	remote := b.Wait(key)
	defer remote.Done()
	local := a.Wait(key)
	defer local.Done()
	// Flush so b's subscription is registered with the server before publishing.
	if err := bb.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	a.Notify(key)
	select {
	case <-remote.C:
	case <-time.After(5 * time.Second):
		t.Fatal("the other replica's waiter was not woken")
	}
	if !woken(local) {
		t.Fatal("the local waiter was not woken")
	}
	// A replica ignores its own messages: exactly one local wake-up.
	time.Sleep(100 * time.Millisecond)
	if woken(local) {
		t.Fatal("the local waiter was woken twice")
	}
}

func TestConnectToAnAbsentNATSDoesNotFail(t *testing.T) {
	b, err := Connect("nats://127.0.0.1:1", NewHub(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Connect to a NATS that is down: %v; want a bridge that keeps retrying", err)
	}
	b.Close()
}
