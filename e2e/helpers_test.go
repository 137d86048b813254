package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/store"
)

// waitTimeout bounds every wait of the suite: generous, since it only
// matters when something is broken.
const waitTimeout = 30 * time.Second

// ctxT is a context that ends with the test or after waitTimeout.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond until it is true; it fails the test after waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEvent waits until the history of id holds an event of eventType and
// returns the history at that point.
func (e *env) waitEvent(c *sdk.Client, id, eventType string) []sdk.Event {
	e.t.Helper()
	var evs []sdk.Event
	waitUntil(e.t, id+" has "+eventType, func() bool {
		var err error
		evs, err = c.Events(context.Background(), id)
		if err != nil {
			e.t.Fatalf("events of %s: %v", id, err)
		}
		return count(evs, eventType) > 0
	})
	return evs
}

// start starts a workflow without waiting for it.
func (e *env) startWF(c *sdk.Client, kind string, input any, q string) string {
	e.t.Helper()
	id, err := c.StartWorkflow(ctxT(e.t), kind, input, sdk.StartOptions{Queue: q})
	if err != nil {
		e.t.Fatalf("start %s: %v", kind, err)
	}
	return id
}

// wait waits for the result of a started workflow.
func (e *env) wait(c *sdk.Client, id string, out any) error {
	e.t.Helper()
	return c.WaitForResult(ctxT(e.t), id, out)
}

// workflowRow reads an execution as the server stores it.
func (e *env) workflowRow(id string) store.Workflow {
	e.t.Helper()
	w, err := e.srv.Engine().Workflow(context.Background(), e.tenant.ID, mustUUID(e.t, id))
	if err != nil {
		e.t.Fatalf("workflow %s: %v", id, err)
	}
	return w
}

// first returns the first event of a type, failing the test if there is none.
func first(t *testing.T, evs []sdk.Event, eventType string) sdk.Event {
	t.Helper()
	for _, ev := range evs {
		if ev.Type == eventType {
			return ev
		}
	}
	t.Fatalf("no %s in history %v", eventType, types(evs))
	return sdk.Event{}
}

// all returns the events of a type, in order.
func all(evs []sdk.Event, eventType string) []sdk.Event {
	var out []sdk.Event
	for _, ev := range evs {
		if ev.Type == eventType {
			out = append(out, ev)
		}
	}
	return out
}

// str reads a string field of an event's data.
func str(t *testing.T, ev sdk.Event, key string) string {
	t.Helper()
	var s string
	raw := ev.Field(key)
	if raw == nil {
		t.Fatalf("%s (seq %d) has no %q: %s", ev.Type, ev.Sequence, key, ev.Data)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s (seq %d) field %q is not a string: %s", ev.Type, ev.Sequence, key, raw)
	}
	return s
}

// num reads a numeric field of an event's data.
func num(t *testing.T, ev sdk.Event, key string) int64 {
	t.Helper()
	var n int64
	raw := ev.Field(key)
	if raw == nil {
		t.Fatalf("%s (seq %d) has no %q: %s", ev.Type, ev.Sequence, key, ev.Data)
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("%s (seq %d) field %q is not an integer: %s", ev.Type, ev.Sequence, key, raw)
	}
	return n
}

// jsonEq reports whether two JSON documents are equal as values.
func jsonEq(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// wantField checks that an event's field equals want (as JSON values).
func wantField(t *testing.T, ev sdk.Event, key, want string) {
	t.Helper()
	if got := ev.Field(key); !jsonEq(got, []byte(want)) {
		t.Fatalf("%s (seq %d) %q = %s, want %s (data %s)", ev.Type, ev.Sequence, key, got, want, ev.Data)
	}
}

// wantCode checks the gRPC status code of an error.
func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, want)
	}
	if got := status.Code(err); got != want {
		t.Fatalf("%s: code %s (%v), want %s", what, got, err, want)
	}
}

// wantCounts checks how often each event type occurs in a history.
func wantCounts(t *testing.T, evs []sdk.Event, want map[string]int) {
	t.Helper()
	for typ, n := range want {
		if got := count(evs, typ); got != n {
			t.Fatalf("history has %d %s, want %d: %v", got, typ, n, types(evs))
		}
	}
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatalf("%q is not a UUID: %v", s, err)
	}
	return id
}

// raw returns the gRPC stubs of a client's connection.
func raw(c *sdk.Client) (flovynv1.WorkflowDispatchClient, flovynv1.TaskExecutionClient, flovynv1.WorkerLifecycleClient, flovynv1.WorkflowQueryClient) {
	return flovynv1.NewWorkflowDispatchClient(c.Conn()), flovynv1.NewTaskExecutionClient(c.Conn()),
		flovynv1.NewWorkerLifecycleClient(c.Conn()), flovynv1.NewWorkflowQueryClient(c.Conn())
}

// asErr is errors.As returning the target.
func asErr[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}
