package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flovyn/flovyn/internal/pgtest"
	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/store"
)

// longHold is a poll hold no test waits out: a shutdown that did not
// release held polls would be cut at its deadline instead, and fail.
const longHold = time.Minute

// shutdownDeadline is shorter than longHold.
const shutdownDeadline = 20 * time.Second

func lifecycleOptions(databaseURL string) server.Options {
	return server.Options{
		DatabaseURL:   databaseURL,
		HTTPAddr:      "127.0.0.1:0",
		GRPCAddr:      "127.0.0.1:0",
		RunMigrations: true,
		Tenants:       []store.Tenant{testTenant},
		StaticKeys: []auth.StaticKey{{Key: staticKey, Principal: auth.Principal{
			TenantID: testTenant.ID, Type: auth.PrincipalWorker, ID: "worker:test",
		}}},
		GRPCMethods: auth.AllMethods,
		HTTPMethods: auth.AllMethods,
		Engine:      engine.Config{PollHold: longHold},
	}
}

func startLifecycle(t *testing.T, o server.Options) *server.Server {
	t.Helper()
	srv, err := server.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return srv
}

func shutdown(t *testing.T, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// eventually polls cond until it holds, failing the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// heldPoll starts a workflow poll on conn and returns once the server has
// it; the poll's outcome arrives on the channel.
func heldPoll(t *testing.T, srv *server.Server, conn *grpc.ClientConn) <-chan error {
	t.Helper()
	worker := uuid.NewString()
	polled := make(chan error, 1)
	go func() {
		resp, err := flovynv1.NewWorkflowDispatchClient(conn).PollWorkflow(withBearer(staticKey),
			&flovynv1.PollRequest{WorkerId: worker, Queue: "held"})
		if err == nil && resp.WorkflowExecution != nil {
			err = errors.New("the poll got work: " + resp.WorkflowExecution.Id)
		}
		polled <- err
	}()
	eventually(t, "the poll to reach the server", func() bool {
		return slices.Contains(srv.Engine().Presence().Workers(), store.WorkerRef{Tenant: testTenant.ID, ID: worker})
	})
	return polled
}

// released checks the outcome of a poll the shutdown released: no work,
// or cancelled when the release came before the poll's first look.
func released(t *testing.T, polled <-chan error) {
	t.Helper()
	if err := <-polled; err != nil && status.Code(err) != codes.Canceled {
		t.Fatalf("held poll at shutdown: %v, want an empty answer", err)
	}
}

// cycle starts a server, uses it as a client and a worker would (a REST
// call on a kept-alive connection, a gRPC connection holding a poll), and
// shuts it down while the poll is held. Nothing may warn meanwhile: work
// running on into a closed pool would.
func cycle(t *testing.T, databaseURL string) {
	t.Helper()
	o := lifecycleOptions(databaseURL)
	logs := &syncBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := startLifecycle(t, o)

	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Get("http://" + srv.HTTPAddr() + "/_/health")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %d", resp.StatusCode)
	}

	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	polled := heldPoll(t, srv, conn)
	shutdown(t, srv)
	released(t, polled)
	if logs.String() != "" {
		t.Fatalf("the server warned:\n%s", logs)
	}
}

// Starting and shutting down a server, with clients connected and a poll
// held, leaves no goroutine behind: the listeners', the services', the
// reclaim after the worker's connection closed, the pool's.
func TestStartShutdownLeavesNoGoroutine(t *testing.T) {
	url := pgtest.NewDatabase(t)
	// What starts once per process (the embedded PostgreSQL's log readers,
	// say) is not the server's: the baseline is taken after one cycle.
	cycle(t, url)
	baseline := goleak.IgnoreCurrent()
	const cycles = 30
	for i := range cycles {
		cycle(t, url)
		if err := goleak.Find(baseline); err != nil {
			t.Fatalf("after %d start/shutdown cycles: %v", i+1, err)
		}
	}

	// A start that fails leaves nothing either: taken port, no database.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	o := lifecycleOptions(url)
	o.HTTPAddr = taken.Addr().String()
	srv, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP listener") {
		t.Fatalf("Start on a taken port: %v, want an HTTP listener error", err)
	}
	o = lifecycleOptions(unreachableDatabase)
	if srv, err = server.New(o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err == nil {
		t.Fatal("Start without a database succeeded")
	}
	if err := goleak.Find(baseline); err != nil {
		t.Fatalf("after failed starts: %v", err)
	}
}

// unreachableDatabase is a database URL nothing answers.
const unreachableDatabase = "postgres://flovyn@127.0.0.1:1/none?connect_timeout=1"

func TestShutdownIsIdempotent(t *testing.T) {
	srv := startLifecycle(t, lifecycleOptions(pgtest.NewDatabase(t)))
	ctx, cancel := context.WithTimeout(context.Background(), shutdownDeadline)
	defer cancel()
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = srv.Shutdown(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Shutdown %d: %v", i, err)
		}
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown once more: %v", err)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done is not closed after Shutdown")
	}
	if err := srv.Start(ctx); !errors.Is(err, server.ErrClosed) {
		t.Fatalf("Start after Shutdown: %v, want ErrClosed", err)
	}
}

// New connects nothing, so a server that never started needs no database
// and shuts down at once.
func TestShutdownOfAServerNeverStarted(t *testing.T) {
	srv, err := server.New(lifecycleOptions(unreachableDatabase))
	if err != nil {
		t.Fatal(err)
	}
	if srv.Store() != nil || srv.HTTPAddr() != "" || srv.GRPCAddr() != "" {
		t.Fatalf("New opened something: store %v, http %q, grpc %q", srv.Store(), srv.HTTPAddr(), srv.GRPCAddr())
	}
	for range 2 {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
	if err := srv.Start(context.Background()); !errors.Is(err, server.ErrClosed) {
		t.Fatalf("Start after Shutdown: %v, want ErrClosed", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	worker := auth.NewCredential{Kind: store.CredentialWorkerToken}
	for _, tc := range []struct {
		name string
		edit func(o *server.Options)
		want string
	}{
		{"no database", func(o *server.Options) { o.DatabaseURL = "" }, "database URL"},
		{"bad database url", func(o *server.Options) { o.DatabaseURL = "postgres://x:y@[::1" }, "database url"},
		{"bad HTTP address", func(o *server.Options) { o.HTTPAddr = "8000" }, "HTTP address"},
		{"bad gRPC address", func(o *server.Options) { o.GRPCAddr = "" }, "gRPC address"},
		{"seed without slug", func(o *server.Options) { o.Seed = &server.Seed{} }, "tenant slug"},
		{"seed credential named twice", func(o *server.Options) {
			o.Seed = &server.Seed{Tenant: store.Tenant{Slug: "s"}, Credentials: []server.SeedCredential{{Name: "a", Credential: worker}, {Name: "a", Credential: worker}}}
		}, `"a" named twice`},
		{"seed credential of no kind", func(o *server.Options) {
			o.Seed = &server.Seed{Tenant: store.Tenant{Slug: "s"}, Credentials: []server.SeedCredential{{Name: "a"}}}
		}, "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := lifecycleOptions(unreachableDatabase)
			tc.edit(&o)
			if _, err := server.New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// Held polls and server streams end when the shutdown begins; they are not
// waited out, which would cut the shutdown at its deadline.
func TestShutdownReleasesHeldCalls(t *testing.T) {
	srv := startLifecycle(t, lifecycleOptions(pgtest.NewDatabase(t)))
	conn := dial(t, srv)

	// A notification stream: its headers say it is subscribed.
	streamCtx, cancel := context.WithCancel(withBearer(staticKey))
	defer cancel()
	stream, err := flovynv1.NewWorkflowDispatchClient(conn).SubscribeToNotifications(streamCtx, &flovynv1.SubscriptionRequest{Queue: "notified"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatalf("stream headers: %v", err)
	}

	polled := heldPoll(t, srv, conn)
	shutdown(t, srv)
	released(t, polled)
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream after shutdown: %v, want its end", err)
	}
}

// The last-used times gathered since the last flush are written at
// shutdown, not lost.
func TestShutdownFlushesLastUsed(t *testing.T) {
	url := pgtest.NewDatabase(t)
	srv := startLifecycle(t, lifecycleOptions(url))
	ctx := context.Background()
	token, cred, err := srv.Auth().Issue(ctx, auth.NewCredential{TenantID: testTenant.ID, Kind: store.CredentialWorkerToken})
	if err != nil {
		t.Fatal(err)
	}
	_, err = flovynv1.NewWorkerLifecycleClient(dial(t, srv)).SendHeartbeat(withBearer(token), &flovynv1.WorkerHeartbeatRequest{WorkerId: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, srv)

	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.CredentialByPrefix(ctx, cred.Prefix)
	if err != nil || stored.LastUsedAt == nil {
		t.Fatalf("after shutdown: last used %v, err %v; want it recorded", stored.LastUsedAt, err)
	}
}

// A seeded tenant and its credentials are created once and come out the
// same on the next start.
func TestSeedIsStableAcrossStarts(t *testing.T) {
	url := pgtest.NewDatabase(t)
	o := lifecycleOptions(url)
	o.Seed = &server.Seed{
		Tenant: store.Tenant{Slug: "seeded", Name: "Seeded", Tier: "FREE"},
		Credentials: []server.SeedCredential{
			{Name: "worker", Credential: auth.NewCredential{Kind: store.CredentialWorkerToken, PrincipalID: "worker:seeded"}},
			{Name: "admin", Credential: auth.NewCredential{Kind: store.CredentialAPIKey, PrincipalID: "user:seeded", Role: "OWNER"}},
		},
	}
	var first server.Seeded
	for i := range 2 {
		srv := startLifecycle(t, o)
		got := srv.Seeded()
		if got.Tenant.Slug != "seeded" || got.Tenant.ID == uuid.Nil || len(got.Secrets) != 2 {
			t.Fatalf("start %d: seeded %+v", i+1, got)
		}
		for name, secret := range got.Secrets {
			p, err := srv.Auth().Authenticate(context.Background(), "Bearer "+secret, auth.AllMethods)
			if err != nil || p.TenantID != got.Tenant.ID {
				t.Fatalf("start %d: credential %s: principal %+v, err %v", i+1, name, p, err)
			}
		}
		if i == 0 {
			first = got
		} else if got.Tenant.ID != first.Tenant.ID || got.Secrets["worker"] != first.Secrets["worker"] || got.Secrets["admin"] != first.Secrets["admin"] {
			t.Fatalf("the seed changed across starts:\nfirst  %+v\nsecond %+v", first, got)
		}
		shutdown(t, srv)
	}
}
