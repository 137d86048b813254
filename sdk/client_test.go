package sdk

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]struct {
		target string
		tls    bool
	}{
		"":                           {"localhost:9090", false},
		"localhost:9090":             {"localhost:9090", false},
		"http://127.0.0.1:9090":      {"127.0.0.1:9090", false},
		"http://127.0.0.1:9090/":     {"127.0.0.1:9090", false},
		"https://worker.example:443": {"worker.example:443", true},
	} {
		target, tlsOn := parseAddress(in)
		if target != want.target || tlsOn != want.tls {
			t.Errorf("parseAddress(%q) = %q,%v want %q,%v", in, target, tlsOn, want.target, want.tls)
		}
	}
}

func TestDialUnreachableFails(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := Dial(ctx, ClientOptions{Address: addr}); err == nil {
		c.Close()
		t.Fatal("Dial to a closed port succeeded")
	}
}

func TestClientCalls(t *testing.T) {
	done := []*flovynv1.WorkflowEvent{
		pbEvent(started()),
		pbEvent(ev(2, EventPromiseCreated, map[string]any{"promiseId": "p-uuid", "promiseName": "approval"})),
		pbEvent(ev(3, EventWorkflowCompleted, map[string]any{"output": map[string]any{"greeting": "hi"}})),
	}
	s := &fakeState{
		token: "key",
		events: map[string][]*flovynv1.WorkflowEvent{
			testExecID: {pbEvent(started())},
			"failed": {pbEvent(started()), pbEvent(ev(2, EventWorkflowExecutionFailed,
				map[string]any{"error": "Workflow failed: Test error message", "failureType": "ERROR"}))},
			"cancelled": {pbEvent(started()), pbEvent(ev(2, EventWorkflowCancelled, map[string]any{"reason": "admin"}))},
		},
		eventsAfter: map[string]struct {
			call   int
			events []*flovynv1.WorkflowEvent
		}{testExecID: {call: 3, events: done}},
	}
	c := startFake(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	id, err := c.StartWorkflow(ctx, "hello", map[string]string{"name": "Ada"}, StartOptions{
		IdempotencyKey: "k1", IdempotencyKeyTTL: time.Hour, Version: "1.0.0", Metadata: map[string]string{"a": "b"},
	})
	if err != nil || id != testExecID {
		t.Fatalf("StartWorkflow = %q, %v", id, err)
	}
	if _, err := c.StartWorkflow(ctx, "hello", nil, StartOptions{Queue: "q9"}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	st, st2 := s.starts[0], s.starts[1]
	s.mu.Unlock()
	if st.GetWorkflowKind() != "hello" || st.GetQueue() != "default" || st.GetOrgId() != testOrgID ||
		st.GetIdempotencyKey() != "k1" || st.GetIdempotencyKeyTtlSeconds() != 3600 || st.GetWorkflowVersion() != "1.0.0" ||
		st.GetMetadata()["a"] != "b" {
		t.Fatalf("start = %v", st)
	}
	jsonEq(t, st.GetInput(), `{"name":"Ada"}`)
	if st2.GetQueue() != "q9" || string(st2.GetInput()) != "null" || st2.IdempotencyKey != nil || st2.WorkflowVersion != nil {
		t.Fatalf("start 2 = %v", st2)
	}

	seq, err := c.SignalWorkflow(ctx, id, "go", map[string]string{"action": "approve"})
	if err != nil || seq != 7 {
		t.Fatalf("SignalWorkflow = %d, %v", seq, err)
	}

	for i, wantCreated := range []bool{true, false} {
		got, created, err := c.SignalWithStart(ctx, "signal-test-workflow-1", "sig-wf", map[string]int{"n": i},
			"signal", "v", StartOptions{IdempotencyKeyTTL: 90 * time.Second})
		if err != nil || got != testExecID || created != wantCreated {
			t.Fatalf("SignalWithStart #%d = %q, %v, %v", i, got, created, err)
		}
	}
	s.mu.Lock()
	sw := s.sws[0]
	s.mu.Unlock()
	if sw.GetWorkflowId() != "signal-test-workflow-1" || sw.GetWorkflowKind() != "sig-wf" || sw.GetQueue() != "default" ||
		sw.GetSignalName() != "signal" || string(sw.GetSignalValue()) != `"v"` || sw.GetIdempotencyKeyTtlSeconds() != 90 ||
		sw.GetOrgId() != testOrgID {
		t.Fatalf("signal-with-start = %v", sw)
	}
	jsonEq(t, sw.GetWorkflowInput(), `{"n":0}`)

	if err := c.ResolvePromise(ctx, "p1", map[string]bool{"approved": true}); err != nil {
		t.Fatal(err)
	}
	if err := c.RejectPromise(ctx, "p2", "Request denied by admin"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	settled := append([]string(nil), s.settled...)
	s.mu.Unlock()
	if len(settled) != 2 || settled[0] != `resolve p1 {"approved":true}` || settled[1] != "reject p2 Request denied by admin" {
		t.Fatalf("settled = %q", settled)
	}

	var out struct{ Greeting string }
	if err := c.WaitForResult(ctx, id, &out); err != nil || out.Greeting != "hi" {
		t.Fatalf("WaitForResult = %+v, %v", out, err)
	}
	pid, err := c.PromiseID(ctx, id, "approval")
	if err != nil || pid != "p-uuid" {
		t.Fatalf("PromiseID = %q, %v", pid, err)
	}

	var wf *WorkflowFailedError
	if err := c.WaitForResult(ctx, "failed", nil); !errors.As(err, &wf) || wf.Message != "Workflow failed: Test error message" {
		t.Fatalf("WaitForResult(failed) = %v", err)
	}
	var wc *WorkflowCancelledError
	if err := c.WaitForResult(ctx, "cancelled", nil); !errors.As(err, &wc) || wc.Reason != "admin" {
		t.Fatalf("WaitForResult(cancelled) = %v", err)
	}
	if _, err := c.Events(ctx, "missing"); err == nil {
		t.Fatal("Events(missing) succeeded")
	}

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	s.mu.Lock()
	s.events["running"] = []*flovynv1.WorkflowEvent{pbEvent(started())}
	s.mu.Unlock()
	if err := c.WaitForResult(short, "running", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForResult(running) = %v", err)
	}

	var q map[string]int
	if err := c.Query(ctx, id, "status", &q); err != nil || q["step"] != 3 {
		t.Fatalf("Query = %v, %v", q, err)
	}
	if err := c.Query(ctx, id, "other", nil); err == nil {
		t.Fatal("Query error not returned")
	}

	// Every RPC carried the bearer token (the fake rejects others); make sure
	// some went through.
	s.mu.Lock()
	n := len(s.methods)
	s.mu.Unlock()
	if n == 0 {
		t.Fatal("no RPC reached the fake")
	}
}
