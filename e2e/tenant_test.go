package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

func TestTenantIsolation(t *testing.T) {
	e := start(t)
	q := queue(t)
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("private", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			if err := ctx.SetState("secret", "s3cr3t"); err != nil {
				return nil, err
			}
			v, err := ctx.Promise("approval", sdk.PromiseOptions{}).Raw()
			return v, err
		})
	})
	c := e.client()
	id := e.startWF(c, "private", nil, q)
	e.waitEvent(c, id, "WORKFLOW_SUSPENDED")
	pid, err := c.PromiseID(ctxT(t), id, "approval")
	if err != nil || pid == "" {
		t.Fatalf("promise id %q, %v", pid, err)
	}
	before := e.events(c, id)

	other := e.clientWith(e.otherKey, e.other.ID.String())
	ctx := ctxT(t)
	_, err = other.Events(ctx, id)
	wantCode(t, "GetEvents from another tenant", err, codes.NotFound)
	_, err = other.SignalWorkflow(ctx, id, "approve", true)
	wantCode(t, "SignalWorkflow from another tenant", err, codes.NotFound)
	err = other.Query(ctx, id, "secret", nil)
	wantCode(t, "QueryWorkflow from another tenant", err, codes.NotFound)
	err = other.ResolvePromise(ctx, pid, "stolen")
	wantCode(t, "ResolvePromise from another tenant", err, codes.NotFound)
	err = other.ResolvePromise(ctx, id+":approval", "stolen")
	wantCode(t, "ResolvePromise by workflow:name from another tenant", err, codes.NotFound)
	wf, _, _, _ := raw(other)
	_, err = wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
		WorkflowExecutionId: id, Status: flovynv1.WorkflowStatus_COMPLETED,
	})
	wantCode(t, "SubmitWorkflowCommands from another tenant", err, codes.NotFound)
	// The other tenant's workers are not offered this tenant's work.
	resp, err := wf.PollWorkflow(ctx, &flovynv1.PollRequest{WorkerId: "other-worker", Queue: q})
	if err != nil || resp.WorkflowExecution != nil {
		t.Fatalf("poll from another tenant: %v, %v", resp.WorkflowExecution, err)
	}

	// Naming the other, existing tenant in org_id is refused, with this
	// tenant's own key.
	sneaky := e.clientWith(e.key, e.other.ID.String())
	_, err = sneaky.StartWorkflow(ctx, "private", nil, sdk.StartOptions{Queue: q})
	wantCode(t, "StartWorkflow naming another tenant", err, codes.PermissionDenied)
	_, err = sneaky.SignalWorkflow(ctx, id, "approve", true)
	wantCode(t, "SignalWorkflow naming another tenant", err, codes.PermissionDenied)
	swf, _, _, _ := raw(sneaky)
	_, err = swf.PollWorkflow(ctx, &flovynv1.PollRequest{OrgId: e.other.ID.String(), WorkerId: "w", Queue: q})
	wantCode(t, "PollWorkflow naming another tenant", err, codes.PermissionDenied)

	// Nothing of the above touched the workflow.
	if after := e.events(c, id); !slices.Equal(types(after), types(before)) {
		t.Fatalf("history changed from %v to %v", types(before), types(after))
	}
	if err := c.ResolvePromise(ctx, pid, "owner"); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := e.wait(c, id, &out); err != nil || out != "owner" {
		t.Fatalf("result %q, %v", out, err)
	}
}

func TestAuthFailures(t *testing.T) {
	e := start(t)
	q := queue(t)
	for name, token := range map[string]string{
		"no token":      "",
		"wrong token":   "flovyn_wk_test_0000000000000000",
		"key prefix":    e.key[:len(e.key)-1],
		"key plus junk": e.key + "x",
	} {
		c := e.clientWith(token, "")
		ctx := ctxT(t)
		_, err := c.StartWorkflow(ctx, "k", nil, sdk.StartOptions{Queue: q})
		wantCode(t, name+": StartWorkflow", err, codes.Unauthenticated)
		_, err = c.Events(ctx, "00000000-0000-0000-0000-000000000001")
		wantCode(t, name+": GetEvents", err, codes.Unauthenticated)
		wf, task, life, _ := raw(c)
		_, err = wf.PollWorkflow(ctx, &flovynv1.PollRequest{Queue: q})
		wantCode(t, name+": PollWorkflow", err, codes.Unauthenticated)
		_, err = task.PollTask(ctx, &flovynv1.PollTaskRequest{Queue: q})
		wantCode(t, name+": PollTask", err, codes.Unauthenticated)
		_, err = life.RegisterWorker(ctx, &flovynv1.WorkerRegistrationRequest{WorkerName: "w"})
		wantCode(t, name+": RegisterWorker", err, codes.Unauthenticated)
		// A worker with a bad credential fails to start (registration is fatal).
		w := sdk.NewWorker(c, sdk.WorkerOptions{Queue: q})
		w.RegisterWorkflow("k", func(*sdk.WorkflowContext, json.RawMessage) (any, error) { return nil, nil })
		wantCode(t, name+": worker Run", w.Run(ctx), codes.Unauthenticated)
	}
	// The right key works on the same server.
	if _, err := e.client().StartWorkflow(ctxT(t), "k", nil, sdk.StartOptions{Queue: q}); err != nil {
		t.Fatalf("start with the right key: %v", err)
	}
}

// TestRandomOrgIDIsIgnored: the Rust SDK sends a random org_id when the user
// sets none; an org_id naming no tenant falls back to the credential's.
func TestRandomOrgIDIsIgnored(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.clientWith(e.key, uuid.NewString())
	w := sdk.NewWorker(c, sdk.WorkerOptions{Queue: q, NoWorkBackoff: 10 * time.Millisecond})
	w.RegisterWorkflow("org-echo", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
		return ctx.OrgID(), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	var org string
	id, err := e.run(c, "org-echo", nil, q, &org)
	if err != nil || org != e.tenant.ID.String() {
		t.Fatalf("workflow ran in org %q (%v), want %s", org, err, e.tenant.ID)
	}
	// It belongs to the credential's tenant.
	if got := e.workflowRow(id); got.TenantID != e.tenant.ID {
		t.Fatalf("workflow stored under tenant %s", got.TenantID)
	}
	wantCounts(t, e.events(e.client(), id), map[string]int{"WORKFLOW_COMPLETED": 1})
}
