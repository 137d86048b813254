package e2e

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/pgtest"
	"github.com/flovyn/flovyn/internal/servertest"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, store.MigrateURL)) }

// env is one running server with a tenant and a worker key for it.
type env struct {
	t      *testing.T
	srv    *server.Server
	tenant store.Tenant
	key    string
	// other is a second tenant with its own key, for isolation tests.
	other       store.Tenant
	otherKey    string
	databaseURL string
}

// options tweak the server a test starts.
type options struct {
	engine engine.Config
	// replicaOf makes the server another replica of that env's: same
	// database, tenants and keys.
	replicaOf *env
	natsURL   string
}

// start runs a fresh server on a fresh database; it stops with the test.
func start(t *testing.T, opts ...func(*options)) *env {
	t.Helper()
	o := options{engine: engine.Config{PollHold: 500 * time.Millisecond, RecheckInterval: 200 * time.Millisecond}}
	for _, f := range opts {
		f(&o)
	}
	e := &env{
		t:        t,
		tenant:   store.Tenant{ID: uuid.New(), Slug: "acme", Name: "Acme", Tier: "FREE"},
		key:      "flovyn_wk_test_" + uuid.NewString()[:16],
		other:    store.Tenant{ID: uuid.New(), Slug: "other", Name: "Other", Tier: "FREE"},
		otherKey: "flovyn_wk_test_" + uuid.NewString()[:16],
	}
	if o.replicaOf != nil {
		r := o.replicaOf
		e.tenant, e.key, e.other, e.otherKey, e.databaseURL = r.tenant, r.key, r.other, r.otherKey, r.databaseURL
	} else {
		e.databaseURL = pgtest.NewDatabase(t)
	}
	srv := servertest.Start(t, server.Options{
		NATSURL:       o.natsURL,
		DatabaseURL:   e.databaseURL,
		HTTPAddr:      "127.0.0.1:0",
		GRPCAddr:      "127.0.0.1:0",
		RunMigrations: true,
		Tenants:       []store.Tenant{e.tenant, e.other},
		StaticKeys: []auth.StaticKey{
			{Key: e.key, Principal: auth.Principal{TenantID: e.tenant.ID, Type: auth.PrincipalWorker, ID: "worker:test"}},
			{Key: e.otherKey, Principal: auth.Principal{TenantID: e.other.ID, Type: auth.PrincipalWorker, ID: "worker:other"}},
		},
		GRPCMethods: auth.AllMethods,
		HTTPMethods: auth.AllMethods,
		Engine:      o.engine,
	})
	e.srv = srv
	return e
}

// client dials the server with the tenant's key.
func (e *env) client() *sdk.Client { return e.clientWith(e.key, e.tenant.ID.String()) }

func (e *env) clientWith(token, org string) *sdk.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: e.srv.GRPCAddr(), Token: token, OrgID: org, ResultPollInterval: 20 * time.Millisecond})
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// worker runs a worker with the given registrations until the test ends
// (or until the returned stop is called).
func (e *env) worker(queue string, register func(w *sdk.Worker), opts ...func(*sdk.WorkerOptions)) (stop func()) {
	e.t.Helper()
	o := sdk.WorkerOptions{Queue: queue, NoWorkBackoff: 10 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	w := sdk.NewWorker(e.client(), o)
	register(w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			e.t.Errorf("worker: %v", err)
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// run starts a workflow and waits for its result (decoded into out).
func (e *env) run(c *sdk.Client, kind string, input any, queue string, out any) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := c.StartWorkflow(ctx, kind, input, sdk.StartOptions{Queue: queue})
	if err != nil {
		e.t.Fatalf("start %s: %v", kind, err)
	}
	return id, c.WaitForResult(ctx, id, out)
}

// events returns a workflow's history and checks its invariants: sequence
// numbers 1..n without gaps and at most one terminal event.
func (e *env) events(c *sdk.Client, id string) []sdk.Event {
	e.t.Helper()
	evs, err := c.Events(context.Background(), id)
	if err != nil {
		e.t.Fatalf("events of %s: %v", id, err)
	}
	terminal := 0
	for i, ev := range evs {
		if int(ev.Sequence) != i+1 {
			e.t.Fatalf("history of %s: event %d has sequence %d", id, i+1, ev.Sequence)
		}
		if !json.Valid(ev.Data) {
			e.t.Fatalf("history of %s: event %d data is not JSON: %q", id, ev.Sequence, ev.Data)
		}
		switch ev.Type {
		case "WORKFLOW_COMPLETED", "WORKFLOW_EXECUTION_FAILED":
			terminal++
		}
	}
	if terminal > 1 {
		e.t.Fatalf("history of %s has %d terminal events", id, terminal)
	}
	return evs
}

// types lists the event types of a history.
func types(evs []sdk.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func count(evs []sdk.Event, eventType string) int {
	n := 0
	for _, e := range evs {
		if e.Type == eventType {
			n++
		}
	}
	return n
}

// queue returns a queue name of its own for one test.
func queue(t *testing.T) string { return "q-" + uuid.NewString()[:8] }
