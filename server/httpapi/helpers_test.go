package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
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

var (
	acme  = store.Tenant{ID: uuid.MustParse("0c5b7f4e-1d2a-4b3c-8e9f-a1b2c3d4e5f6"), Slug: "acme", Name: "Acme", Tier: "FREE"}
	other = store.Tenant{ID: uuid.MustParse("7d8e9fa0-b1c2-4d3e-9f4a-5b6c7d8e9f01"), Slug: "other", Name: "Other", Tier: "FREE"}
)

const (
	ownerKey  = "flovyn_sk_test_acme_owner_0001" // User, OWNER of acme
	viewerKey = "flovyn_sk_test_acme_viewer_001" // User, VIEWER of acme
	workerKey = "flovyn_wk_test_acme_worker_001" // Worker of acme
	otherKey  = "flovyn_sk_test_other_owner_001" // User, OWNER of other
	adminKey  = "flovyn_sk_test_instance_admin1" // User, instance admin (tenant acme)
	noAuth    = ""
)

// env is a running server with two tenants, acme and other.
type env struct {
	t    testing.TB
	srv  *server.Server
	base string
}

// start runs a server on a fresh database; opts adjust its options.
func start(t testing.TB, opts ...func(*server.Options)) *env {
	t.Helper()
	o := server.Options{
		DatabaseURL:   pgtest.NewDatabase(t),
		HTTPAddr:      "127.0.0.1:0",
		GRPCAddr:      "127.0.0.1:0",
		RunMigrations: true,
		Tenants:       []store.Tenant{acme, other},
		StaticKeys: []auth.StaticKey{
			{Key: ownerKey, Principal: auth.Principal{TenantID: acme.ID, Type: auth.PrincipalUser, ID: "api:owner", Role: "OWNER"}},
			{Key: viewerKey, Principal: auth.Principal{TenantID: acme.ID, Type: auth.PrincipalUser, ID: "api:viewer", Role: "VIEWER"}},
			{Key: workerKey, Principal: auth.Principal{TenantID: acme.ID, Type: auth.PrincipalWorker, ID: "worker:test"}},
			{Key: otherKey, Principal: auth.Principal{TenantID: other.ID, Type: auth.PrincipalUser, ID: "api:other", Role: "OWNER"}},
			{Key: adminKey, Principal: auth.Principal{TenantID: acme.ID, Type: auth.PrincipalUser, ID: "api:root", Role: "OWNER", InstanceAdmin: true}},
		},
		GRPCMethods: auth.AllMethods,
		HTTPMethods: auth.AllMethods,
		Engine:      engine.Config{PollHold: 300 * time.Millisecond, RecheckInterval: 100 * time.Millisecond},
	}
	for _, f := range opts {
		f(&o)
	}
	srv := servertest.Start(t, o)
	return &env{t: t, srv: srv, base: "http://" + srv.HTTPAddr()}
}

// response is an HTTP answer, read whole.
type response struct {
	t      testing.TB
	req    string
	status int
	header http.Header
	body   []byte
}

// do sends a request. body may be nil (none), a string (sent as is) or a
// value sent as JSON.
func (e *env) do(method, path, token string, body any) *response {
	e.t.Helper()
	header := ""
	if token != "" {
		header = "Bearer " + token
	}
	return e.send(method, path, header, body)
}

// doHeader sends a request without body with the Authorization header given.
func (e *env) doHeader(method, path, authorization string) *response {
	e.t.Helper()
	return e.send(method, path, authorization, nil)
}

func (e *env) send(method, path, authorization string, body any) *response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{t: e.t, req: method + " " + path, status: resp.StatusCode, header: resp.Header, body: raw}
}

// want checks the status and decodes the body into out (when not nil).
func (r *response) want(status int, out any) *response {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("%s = %d %s, want %d", r.req, r.status, r.body, status)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			r.t.Fatalf("%s: body %s: %v", r.req, r.body, err)
		}
	}
	return r
}

// obj checks the status and returns the body as a JSON object.
func (r *response) obj(status int) map[string]any {
	r.t.Helper()
	var m map[string]any
	r.want(status, &m)
	return m
}

type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

// problem checks that the answer is an RFC 9457 problem with status and,
// when location is not empty, an error at that location.
func (r *response) problem(status int, location string) problem {
	r.t.Helper()
	var p problem
	r.want(status, &p)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("%s: content type %q, want application/problem+json", r.req, ct)
	}
	if p.Status != status || p.Title == "" {
		r.t.Fatalf("%s: problem %s", r.req, r.body)
	}
	if location != "" {
		found := false
		for _, e := range p.Errors {
			found = found || e.Location == location
		}
		if !found {
			r.t.Fatalf("%s: problem %s names no error at %s", r.req, r.body, location)
		}
	}
	return p
}

// client dials the gRPC listener with token, for acme.
func (e *env) client(token string) *sdk.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: e.srv.GRPCAddr(), Token: token, OrgID: acme.ID.String()})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// worker runs an SDK worker on queue until the test ends.
func (e *env) worker(queue string, register func(w *sdk.Worker)) *sdk.Worker {
	e.t.Helper()
	w := sdk.NewWorker(e.client(workerKey), sdk.WorkerOptions{Queue: queue, Name: "worker-" + queue, NoWorkBackoff: 10 * time.Millisecond})
	register(w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// restEvent is an event exactly as the TypeScript SDK reads it.
type restEvent struct {
	EventType string          `json:"eventType"`
	Data      json.RawMessage `json:"data"`
	Sequence  int             `json:"sequence"`
}

// waitEvent polls the REST history (as the TypeScript SDK does) until an
// event of eventType appears, and returns the history.
func (e *env) waitEvent(slug, id, eventType string) []restEvent {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var doc struct {
			Events []restEvent `json:"events"`
		}
		e.do("GET", "/api/orgs/"+slug+"/workflow-executions/"+id+"/events", ownerKey, nil).want(200, &doc)
		for _, ev := range doc.Events {
			if ev.EventType == eventType {
				return doc.Events
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s in the history of %s after 20 s: %+v", eventType, id, doc.Events)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func field(t *testing.T, ev restEvent, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatalf("%s data %s is not an object: %v", ev.EventType, ev.Data, err)
	}
	return m[name]
}

func find(t *testing.T, evs []restEvent, eventType string) restEvent {
	t.Helper()
	for _, ev := range evs {
		if ev.EventType == eventType {
			return ev
		}
	}
	t.Fatalf("no %s in %+v", eventType, evs)
	return restEvent{}
}

// jsonEq reports whether two JSON documents are equal as values.
func jsonEq(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}
