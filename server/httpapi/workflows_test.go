package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/sdk"
)

type execution struct {
	ID                  uuid.UUID         `json:"id"`
	WorkflowExecutionID uuid.UUID         `json:"workflowExecutionId"`
	OrgID               uuid.UUID         `json:"orgId"`
	TenantID            uuid.UUID         `json:"tenantId"`
	WorkflowKind        string            `json:"workflowKind"`
	Kind                string            `json:"kind"`
	Status              string            `json:"status"`
	Queue               string            `json:"queue"`
	Input               json.RawMessage   `json:"input"`
	Output              json.RawMessage   `json:"output"`
	Error               *string           `json:"error"`
	Metadata            map[string]string `json:"metadata"`
	ParentID            *uuid.UUID        `json:"parentId"`
	CreatedAt           time.Time         `json:"createdAt"`
	StartedAt           *time.Time        `json:"startedAt"`
	CompletedAt         *time.Time        `json:"completedAt"`
	IdempotencyKeyUsed  bool              `json:"idempotencyKeyUsed"`
	IdempotencyKeyNew   bool              `json:"idempotencyKeyNew"`
}

func (e *env) startWorkflow(body map[string]any) execution {
	e.t.Helper()
	var x execution
	e.do("POST", "/api/tenants/acme/workflow-executions", ownerKey, body).want(201, &x)
	return x
}

func TestStartAndGetWorkflow(t *testing.T) {
	t.Parallel()
	e := start(t)

	body := map[string]any{
		"kind": "order", "input": map[string]any{"n": 1}, "queue": "q-start", "prioritySeconds": 5,
		"idempotencyKey": "order-1", "idempotencyKeyTtl": 3600, "metadata": map[string]string{"env": "prod"},
	}
	var first execution
	e.do("POST", "/api/tenants/acme/workflow-executions", ownerKey, body).want(201, &first)
	if first.ID == uuid.Nil || first.WorkflowExecutionID != first.ID || first.Status != "PENDING" || first.Kind != "order" ||
		first.WorkflowKind != "order" || first.Queue != "q-start" || first.OrgID != acme.ID || first.TenantID != acme.ID ||
		!jsonEq(first.Input, []byte(`{"n":1}`)) || first.Metadata["env"] != "prod" ||
		!first.IdempotencyKeyUsed || !first.IdempotencyKeyNew {
		t.Fatalf("started %+v", first)
	}
	// The same key: the same execution, 200.
	var again execution
	e.do("POST", "/api/orgs/acme/workflow-executions", ownerKey, body).want(200, &again)
	if again.ID != first.ID || again.IdempotencyKeyNew || !again.IdempotencyKeyUsed {
		t.Fatalf("repeated start %+v, want %s with idempotencyKeyNew=false", again, first.ID)
	}

	r := e.do("GET", "/api/orgs/acme/workflow-executions/"+first.ID.String(), ownerKey, nil)
	got := r.obj(200)
	for _, k := range []string{"id", "orgId", "tenantId", "workflowKind", "kind", "status", "queue", "input", "output",
		"error", "createdAt", "startedAt", "completedAt", "parentId", "metadata"} {
		if _, ok := got[k]; !ok {
			t.Errorf("execution has no %q: %s", k, r.body)
		}
	}
	if got["output"] != nil || got["error"] != nil || got["parentId"] != nil {
		t.Errorf("a new execution: %s", r.body)
	}
	if _, err := time.Parse(time.RFC3339, got["createdAt"].(string)); err != nil {
		t.Errorf("createdAt: %v", err)
	}

	// Another tenant's execution is not there, whichever way it is asked for.
	e.do("GET", "/api/tenants/other/workflow-executions/"+first.ID.String(), otherKey, nil).problem(404, "")
	e.do("GET", "/api/tenants/acme/workflow-executions/"+first.ID.String(), otherKey, nil).problem(404, "")
	e.do("GET", "/api/tenants/other/workflow-executions/"+first.ID.String(), ownerKey, nil).problem(404, "")
	e.do("GET", "/api/tenants/other/workflow-executions/"+first.ID.String()+"/events", otherKey, nil).problem(404, "")
	e.do("POST", "/api/tenants/other/workflow-executions/"+first.ID.String()+"/cancel", otherKey, nil).problem(404, "")
	e.do("GET", "/api/tenants/acme/workflow-executions/"+uuid.NewString(), ownerKey, nil).problem(404, "")

	// Bad input, each naming the field.
	const path = "/api/tenants/acme/workflow-executions"
	e.do("POST", path, ownerKey, `{"kind": "x",`).problem(400, "body")
	e.do("POST", path, ownerKey, map[string]any{"input": 1}).problem(400, "body.kind")
	e.do("POST", path, ownerKey, map[string]any{"kind": ""}).problem(400, "body.kind")
	e.do("POST", path, ownerKey, map[string]any{"kind": "x", "idempotencyKeyTtl": -1}).problem(400, "body.idempotencyKeyTtl")
	e.do("POST", path, ownerKey, map[string]any{"kind": "x", "metadata": map[string]any{"n": 1}}).problem(400, "body.metadata.n")
	e.do("POST", path, ownerKey, map[string]any{"kind": "x", "queeue": "typo"}).problem(400, "body.queeue")
	e.do("GET", path+"/not-a-uuid", ownerKey, nil).problem(400, "path.id")
	e.do("GET", path+"/not-a-uuid/events", ownerKey, nil).problem(400, "path.id")
	// A VIEWER reads but does not start.
	e.do("GET", path, viewerKey, nil).want(200, nil)
	e.do("POST", path, viewerKey, map[string]any{"kind": "x"}).problem(403, "")
}

type page struct {
	Items      []execution `json:"items"`
	NextCursor *string     `json:"nextCursor"`
}

func (p page) ids() []uuid.UUID {
	var out []uuid.UUID
	for _, x := range p.Items {
		out = append(out, x.ID)
	}
	return out
}

// pageAll follows nextCursor through pages of size, returning every id
// listed and the size of each page.
func pageAll(list func(query string) page, size int) (ids []uuid.UUID, sizes []int) {
	cursor := ""
	for {
		q := fmt.Sprintf("limit=%d", size)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := list(q)
		ids, sizes = append(ids, p.ids()...), append(sizes, len(p.Items))
		if p.NextCursor == nil || len(sizes) > 100 {
			return ids, sizes
		}
		cursor = *p.NextCursor
	}
}

func TestListWorkflows(t *testing.T) {
	t.Parallel()
	e := start(t)

	var started []uuid.UUID
	for i := range 7 {
		env := "dev"
		if i%3 == 0 {
			env = "prod"
		}
		kind := "report"
		if i == 6 {
			kind = "invoice"
		}
		x := e.startWorkflow(map[string]any{"kind": kind, "queue": "q-list", "metadata": map[string]string{"env": env, "n": fmt.Sprint(i)}})
		started = append(started, x.ID)
	}
	// Another tenant's executions never show.
	e.do("POST", "/api/tenants/other/workflow-executions", otherKey, map[string]any{"kind": "report"}).want(201, nil)
	slices.Reverse(started) // newest first

	list := func(query string) page {
		t.Helper()
		var p page
		e.do("GET", "/api/tenants/acme/workflow-executions?"+query, ownerKey, nil).want(200, &p)
		return p
	}
	ids := page.ids

	// Pages of 3 over 7 rows: 3, 3, 1, following nextCursor.
	all, sizes := pageAll(list, 3)
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Fatalf("pages of %v items", sizes)
	}
	if !slices.Equal(all, started) {
		t.Fatalf("paged through %v, want %v", all, started)
	}
	if p := list(""); len(p.Items) != 7 || p.NextCursor != nil {
		t.Fatalf("default page: %d items, cursor %v", len(p.Items), p.NextCursor)
	}

	// Filters.
	if got := ids(list("metadata.env=prod")); !slices.Equal(got, []uuid.UUID{started[0], started[3], started[6]}) {
		t.Fatalf("metadata.env=prod: %v", got)
	}
	if got := ids(list("metadata.env=prod&metadata.n=3")); !slices.Equal(got, []uuid.UUID{started[3]}) {
		t.Fatalf("metadata.env=prod&metadata.n=3: %v", got)
	}
	if got := ids(list("kind=invoice")); !slices.Equal(got, started[:1]) {
		t.Fatalf("kind=invoice: %v", got)
	}
	if got := list("status=RUNNING,COMPLETED"); len(got.Items) != 0 {
		t.Fatalf("status=RUNNING,COMPLETED: %v", ids(got))
	}
	if got := list("status=pending&queue=q-list"); len(got.Items) != 7 {
		t.Fatalf("status=pending: %d", len(got.Items))
	}
	if got := list("queue=elsewhere"); len(got.Items) != 0 {
		t.Fatalf("queue=elsewhere: %v", ids(got))
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	if got := list("createdAfter=" + future); len(got.Items) != 0 {
		t.Fatalf("createdAfter the future: %v", ids(got))
	}
	if got := list("createdBefore=" + future); len(got.Items) != 7 {
		t.Fatalf("createdBefore the future: %d", len(got.Items))
	}
	// A cursor combines with filters.
	p := list("metadata.env=prod&limit=2")
	if p.NextCursor == nil || len(p.Items) != 2 {
		t.Fatalf("filtered page: %+v", p)
	}
	if got := ids(list("metadata.env=prod&limit=2&cursor=" + url.QueryEscape(*p.NextCursor))); !slices.Equal(got, started[6:7]) {
		t.Fatalf("filtered second page: %v", got)
	}

	const path = "/api/tenants/acme/workflow-executions?"
	e.do("GET", path+"status=BOGUS", ownerKey, nil).problem(400, "query.status")
	e.do("GET", path+"cursor=!!!", ownerKey, nil).problem(400, "query.cursor")
	e.do("GET", path+"cursor=bm90LWEtY3Vyc29y", ownerKey, nil).problem(400, "query.cursor")
	e.do("GET", path+"limit=0", ownerKey, nil).problem(400, "query.limit")
	e.do("GET", path+"limit=501", ownerKey, nil).problem(400, "query.limit")
	e.do("GET", path+"createdAfter=yesterday", ownerKey, nil).problem(400, "query.createdAfter")
	e.do("GET", "/api/tenants/other/workflow-executions", ownerKey, nil).problem(404, "")
}

func TestCancelAndSignal(t *testing.T) {
	t.Parallel()
	e := start(t)
	base := "/api/tenants/acme/workflow-executions/"

	// No worker holds it: cancelled at once.
	x := e.startWorkflow(map[string]any{"kind": "idle", "queue": "q-cancel"})
	var c map[string]any
	e.do("POST", base+x.ID.String()+"/cancel", ownerKey, map[string]string{"reason": "no longer needed"}).want(200, &c)
	if c["status"] != "CANCELLED" || c["workflowStatus"] != "CANCELLED" {
		t.Fatalf("cancel: %v", c)
	}
	var got execution
	e.do("GET", base+x.ID.String(), ownerKey, nil).want(200, &got)
	if got.Status != "CANCELLED" || got.CompletedAt == nil || got.Error == nil || !strings.Contains(*got.Error, "no longer needed") {
		t.Fatalf("after cancel: %+v", got)
	}
	e.do("POST", base+x.ID.String()+"/cancel", ownerKey, nil).want(200, &c)
	if c["status"] != "ALREADY_TERMINAL" {
		t.Fatalf("cancel again: %v", c)
	}
	e.do("POST", base+x.ID.String()+"/signal", ownerKey, map[string]any{"signalName": "go"}).problem(409, "")

	// A worker holds it: cancellation is requested (202).
	held := e.startWorkflow(map[string]any{"kind": "held", "queue": "q-held"})
	wf, err := e.srv.Engine().PollWorkflow(context.Background(), acme.ID, "q-held", "worker-1")
	if err != nil || wf == nil || wf.ID != held.ID {
		t.Fatalf("poll: %v %v", wf, err)
	}
	e.do("POST", "/api/orgs/acme/workflow-executions/"+held.ID.String()+"/cancel", ownerKey, nil).want(202, &c)
	if c["status"] != "CANCELLING" || c["workflowStatus"] != "RUNNING" {
		t.Fatalf("cancel of a held workflow: %v", c)
	}

	// Signals.
	live := e.startWorkflow(map[string]any{"kind": "waiter", "queue": "q-signal"})
	var s struct {
		SignalEventSequence int `json:"signalEventSequence"`
	}
	e.do("POST", base+live.ID.String()+"/signal", ownerKey, map[string]any{"signalName": "go", "signalValue": map[string]int{"n": 1}}).want(200, &s)
	if s.SignalEventSequence != 2 {
		t.Fatalf("signal sequence %d, want 2 (after WORKFLOW_STARTED)", s.SignalEventSequence)
	}
	evs := e.waitEvent("acme", live.ID.String(), "SIGNAL_RECEIVED")
	sig := find(t, evs, "SIGNAL_RECEIVED")
	if !jsonEq(field(t, sig, "signalValue"), []byte(`{"n":1}`)) || string(field(t, sig, "signalName")) != `"go"` {
		t.Fatalf("SIGNAL_RECEIVED %s", sig.Data)
	}
	e.do("POST", base+live.ID.String()+"/signal", ownerKey, map[string]any{"signalValue": 1}).problem(400, "body.signalName")
	e.do("POST", base+live.ID.String()+"/signal", otherKey, map[string]any{"signalName": "go"}).problem(404, "")

	// Signal-with-start: created, then the same execution signalled.
	sws := func(status int) map[string]any {
		return e.do("POST", "/api/orgs/acme/workflow-executions/signal-with-start", ownerKey, map[string]any{
			"workflowId": "order-42", "kind": "waiter", "queue": "q-signal", "input": map[string]int{"order": 42},
			"signalName": "paid", "signalValue": true,
		}).obj(status)
	}
	created := sws(201)
	if created["workflowCreated"] != true || created["signalEventSequence"] != 2.0 || created["signalDelivered"] != true {
		t.Fatalf("signal-with-start: %v", created)
	}
	existing := sws(200)
	if existing["workflowCreated"] != false || existing["workflowExecutionId"] != created["workflowExecutionId"] ||
		existing["signalEventSequence"] != 3.0 {
		t.Fatalf("second signal-with-start: %v, first %v", existing, created)
	}
	e.do("POST", "/api/orgs/acme/workflow-executions/signal-with-start", ownerKey, map[string]any{"kind": "waiter", "signalName": "x"}).
		problem(400, "body.workflowId")
}

// TestWorkflowWithWorker runs a real workflow (a retried task, state, a
// child, a promise and a signal) and reads it through every route.
func TestWorkflowWithWorker(t *testing.T) {
	t.Parallel()
	e := start(t)
	const q = "q-worker"
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("flaky", func(tc *sdk.TaskContext, _ json.RawMessage) (any, error) {
			if tc.Attempt() == 1 {
				return nil, errors.New("first attempt fails")
			}
			return map[string]bool{"ok": true}, nil
		})
		w.RegisterWorkflow("kid", func(*sdk.WorkflowContext, json.RawMessage) (any, error) {
			return map[string]int{"v": 2}, nil
		})
		w.RegisterWorkflow("full", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			if _, err := ctx.ExecuteTask("flaky", map[string]int{"n": 1}, sdk.TaskOptions{}); err != nil {
				return nil, err
			}
			if err := ctx.SetState("phase", map[string]string{"at": "tasks-done"}); err != nil {
				return nil, err
			}
			if _, err := ctx.ExecuteChild("kid-1", "kid", nil, sdk.ChildOptions{}); err != nil {
				return nil, err
			}
			approval, err := ctx.Promise("approval", sdk.PromiseOptions{}).Raw()
			if err != nil {
				return nil, err
			}
			return map[string]any{"approval": approval, "signal": ctx.WaitSignal("go")}, nil
		})
		w.RegisterWorkflow("rejectable", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			_, err := ctx.Promise("gate", sdk.PromiseOptions{}).Raw()
			return map[string]string{"error": fmt.Sprint(err)}, nil
		})
	})

	x := e.startWorkflow(map[string]any{"kind": "full", "queue": q, "input": map[string]string{"who": "me"}})
	id := x.ID.String()
	base := "/api/orgs/acme/workflow-executions/" + id
	evs := e.waitEvent("acme", id, "PROMISE_CREATED")

	// The events document, exactly as the TypeScript SDK reads it.
	r := e.do("GET", base+"/events", ownerKey, nil)
	var doc map[string][]map[string]json.RawMessage
	r.want(200, &doc)
	if len(doc) != 1 || len(doc["events"]) != len(evs) {
		t.Fatalf("events document %s", r.body)
	}
	for i, ev := range doc["events"] {
		var keys []string
		for k := range ev {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"createdAt", "data", "eventType", "sequence", "sequenceNumber", "timestamp"}) {
			t.Fatalf("event keys %v", keys)
		}
		if string(ev["sequence"]) != fmt.Sprint(i+1) || string(ev["sequenceNumber"]) != fmt.Sprint(i+1) {
			t.Fatalf("event %d: %s", i, ev["sequence"])
		}
		if !strings.HasPrefix(string(ev["data"]), "{") {
			t.Fatalf("event data is not an embedded object: %s", ev["data"])
		}
		var ts, created time.Time
		if json.Unmarshal(ev["timestamp"], &ts) != nil || json.Unmarshal(ev["createdAt"], &created) != nil || !ts.Equal(created) ||
			time.Since(ts) > time.Minute {
			t.Fatalf("timestamps %s %s", ev["timestamp"], ev["createdAt"])
		}
	}
	started := find(t, evs, "WORKFLOW_STARTED")
	if !jsonEq(field(t, started, "input"), []byte(`{"who":"me"}`)) {
		t.Fatalf("WORKFLOW_STARTED %s", started.Data)
	}
	var since struct {
		Events []restEvent `json:"events"`
	}
	e.do("GET", base+"/events?sinceSequence=2", ownerKey, nil).want(200, &since)
	if len(since.Events) != len(evs)-2 || since.Events[0].Sequence != 3 {
		t.Fatalf("sinceSequence=2: %+v", since.Events)
	}

	// Tasks, with their attempts.
	var tasks struct {
		Tasks []struct {
			ID             uuid.UUID       `json:"id"`
			Kind           string          `json:"kind"`
			Status         string          `json:"status"`
			Queue          string          `json:"queue"`
			ExecutionCount int             `json:"executionCount"`
			MaxRetries     int             `json:"maxRetries"`
			Input          json.RawMessage `json:"input"`
			Output         json.RawMessage `json:"output"`
			CompletedAt    *time.Time      `json:"completedAt"`
			Attempts       []struct {
				Attempt int     `json:"attempt"`
				Status  string  `json:"status"`
				Error   *string `json:"error"`
			} `json:"attempts"`
		} `json:"tasks"`
	}
	listed := e.do("GET", base+"/tasks", ownerKey, nil).want(200, &tasks)
	if len(tasks.Tasks) != 1 {
		t.Fatalf("tasks %+v", tasks)
	}
	noPayloads(t, listed.body, "tasks")
	task := tasks.Tasks[0]
	if task.Kind != "flaky" || task.Status != "COMPLETED" || task.ExecutionCount != 2 || task.MaxRetries != 3 ||
		task.Queue != q || task.CompletedAt == nil || len(task.Attempts) != 2 ||
		task.Attempts[0].Status != "FAILED" || task.Attempts[0].Error == nil || *task.Attempts[0].Error != "first attempt fails" ||
		task.Attempts[1].Status != "COMPLETED" || task.Attempts[1].Attempt != 2 {
		t.Fatalf("task %+v", task)
	}
	// The task itself carries its payloads.
	e.do("GET", base+"/tasks/"+task.ID.String(), ownerKey, nil).want(200, &task)
	if task.Kind != "flaky" || len(task.Attempts) != 2 || !jsonEq(task.Input, []byte(`{"n":1}`)) || !jsonEq(task.Output, []byte(`{"ok":true}`)) {
		t.Fatalf("task detail %+v", task)
	}
	e.do("GET", base+"/tasks/"+uuid.NewString(), ownerKey, nil).problem(404, "")
	e.do("GET", base+"/tasks/not-a-task", ownerKey, nil).problem(400, "path.taskId")
	e.do("GET", "/api/tenants/acme/workflow-executions/"+uuid.NewString()+"/tasks/"+task.ID.String(), ownerKey, nil).problem(404, "")

	// Children.
	var children struct {
		Children []struct {
			ChildWorkflowExecutionID uuid.UUID  `json:"childWorkflowExecutionId"`
			ChildExecutionName       string     `json:"childExecutionName"`
			Kind                     string     `json:"kind"`
			Status                   string     `json:"status"`
			ParentID                 *uuid.UUID `json:"parentId"`
		} `json:"children"`
	}
	noPayloads(t, e.do("GET", base+"/children", ownerKey, nil).want(200, &children).body, "children")
	if len(children.Children) != 1 || children.Children[0].ChildExecutionName != "kid-1" || children.Children[0].Kind != "kid" ||
		children.Children[0].Status != "COMPLETED" || children.Children[0].ParentID == nil || *children.Children[0].ParentID != x.ID {
		t.Fatalf("children %+v", children)
	}
	var child execution
	e.do("GET", "/api/tenants/acme/workflow-executions/"+children.Children[0].ChildWorkflowExecutionID.String(), ownerKey, nil).want(200, &child)
	if child.ParentID == nil || *child.ParentID != x.ID || !jsonEq(child.Output, []byte(`{"v":2}`)) {
		t.Fatalf("child %+v", child)
	}

	// State.
	var state struct {
		State map[string]json.RawMessage `json:"state"`
	}
	e.do("GET", base+"/state", ownerKey, nil).want(200, &state)
	if len(state.State) != 1 || !jsonEq(state.State["phase"], []byte(`{"at":"tasks-done"}`)) {
		t.Fatalf("state %+v", state)
	}
	state.State = nil
	e.do("GET", base+"/state?key=missing", ownerKey, nil).want(200, &state)
	if len(state.State) != 0 {
		t.Fatalf("state?key=missing %+v", state)
	}
	var answer struct {
		Result json.RawMessage `json:"result"`
	}
	e.do("POST", base+"/query", ownerKey, map[string]string{"queryName": "phase"}).want(200, &answer)
	if !jsonEq(answer.Result, []byte(`{"at":"tasks-done"}`)) {
		t.Fatalf("query %s", answer.Result)
	}

	// Workers: the one running this test is online, with its capabilities.
	var workers struct {
		Workers []struct {
			Name         string `json:"name"`
			Status       string `json:"status"`
			Connected    bool   `json:"connected"`
			Capabilities []struct {
				Type string `json:"type"`
				Kind string `json:"kind"`
			} `json:"capabilities"`
		} `json:"workers"`
	}
	e.do("GET", "/api/tenants/acme/workers?status=ONLINE", ownerKey, nil).want(200, &workers)
	if len(workers.Workers) != 1 || workers.Workers[0].Name != "worker-"+q || workers.Workers[0].Status != "ONLINE" ||
		!workers.Workers[0].Connected || len(workers.Workers[0].Capabilities) != 4 {
		t.Fatalf("workers %+v", workers)
	}
	e.do("GET", "/api/tenants/acme/workers?status=OFFLINE", ownerKey, nil).want(200, &workers)
	if len(workers.Workers) != 0 {
		t.Fatalf("offline workers %+v", workers)
	}
	e.do("GET", "/api/tenants/other/workers", otherKey, nil).want(200, &workers)
	if len(workers.Workers) != 0 {
		t.Fatalf("other tenant's workers %+v", workers)
	}
	e.do("GET", "/api/tenants/acme/workers?status=BUSY", ownerKey, nil).problem(400, "query.status")

	// Resolve the promise by the id in PROMISE_CREATED, as the TypeScript SDK finds it.
	created := find(t, evs, "PROMISE_CREATED")
	var promiseID string
	if err := json.Unmarshal(field(t, created, "promiseId"), &promiseID); err != nil || string(field(t, created, "promiseName")) != `"approval"` {
		t.Fatalf("PROMISE_CREATED %s", created.Data)
	}
	e.do("POST", "/api/tenants/other/promises/"+promiseID+"/resolve", otherKey, map[string]any{"value": "stolen"}).problem(404, "")
	e.do("POST", "/api/promises/"+promiseID+"/resolve", otherKey, map[string]any{"value": "stolen"}).problem(404, "")
	e.do("POST", "/api/tenants/acme/promises/"+uuid.NewString()+"/resolve", ownerKey, map[string]any{"value": 1}).problem(404, "")
	e.do("POST", "/api/tenants/acme/promises/nonsense/resolve", ownerKey, map[string]any{"value": 1}).problem(400, "path.id")
	e.do("POST", "/api/tenants/acme/promises/"+promiseID+"/resolve", ownerKey, map[string]any{"value": map[string]string{"by": "alice"}}).want(204, nil)
	e.do("POST", base+"/signal", ownerKey, map[string]any{"signalName": "go", "signalValue": "now"}).want(200, nil)

	evs = e.waitEvent("acme", id, "WORKFLOW_COMPLETED")
	done := find(t, evs, "WORKFLOW_COMPLETED")
	if !jsonEq(field(t, done, "output"), []byte(`{"approval":{"by":"alice"},"signal":"now"}`)) {
		t.Fatalf("WORKFLOW_COMPLETED %s", done.Data)
	}
	var final execution
	e.do("GET", base, ownerKey, nil).want(200, &final)
	if final.Status != "COMPLETED" || !jsonEq(final.Output, field(t, done, "output")) || final.StartedAt == nil || final.CompletedAt == nil {
		t.Fatalf("final %+v", final)
	}
	var completed page
	e.do("GET", "/api/orgs/acme/workflow-executions?status=COMPLETED&kind=full", ownerKey, nil).want(200, &completed)
	if len(completed.Items) != 1 || completed.Items[0].ID != x.ID {
		t.Fatalf("completed: %+v", completed.Items)
	}

	// A promise rejected through the tenant-less route, by the credential's tenant.
	rj := e.startWorkflow(map[string]any{"kind": "rejectable", "queue": q})
	evs = e.waitEvent("acme", rj.ID.String(), "PROMISE_CREATED")
	if err := json.Unmarshal(field(t, find(t, evs, "PROMISE_CREATED"), "promiseId"), &promiseID); err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/promises/id:"+promiseID+"/reject", ownerKey, map[string]string{"error": "denied by bob"}).want(204, nil)
	evs = e.waitEvent("acme", rj.ID.String(), "WORKFLOW_COMPLETED")
	if out := string(field(t, find(t, evs, "WORKFLOW_COMPLETED"), "output")); !strings.Contains(out, "denied by bob") {
		t.Fatalf("rejected workflow output %s", out)
	}
}

// idempotencyKeyUsed says the request carried a key; idempotencyKeyNew
// that this call created the execution under it.
func TestIdempotencyFlags(t *testing.T) {
	t.Parallel()
	e := start(t)
	const path = "/api/tenants/acme/workflow-executions"
	flags := func(m map[string]any) [2]any { return [2]any{m["idempotencyKeyUsed"], m["idempotencyKeyNew"]} }
	keyed := map[string]any{"kind": "k", "idempotencyKey": "flags-1"}
	first := e.do("POST", path, ownerKey, keyed).obj(201)
	if got := flags(first); got != [2]any{true, true} {
		t.Fatalf("first start with a key: used, new = %v", got)
	}
	again := e.do("POST", path, ownerKey, keyed).obj(200)
	if got := flags(again); got != [2]any{true, false} || again["id"] != first["id"] {
		t.Fatalf("repeated start: used, new = %v, id %v (first %v)", got, again["id"], first["id"])
	}
	if got := flags(e.do("POST", path, ownerKey, map[string]any{"kind": "k"}).obj(201)); got != [2]any{false, false} {
		t.Fatalf("start without a key: used, new = %v", got)
	}

	// Signal-with-start: workflowId is the key.
	sws := map[string]any{"workflowId": "flags-2", "kind": "k", "signalName": "s"}
	created := e.do("POST", path+"/signal-with-start", ownerKey, sws).obj(201)
	if got := flags(created); got != [2]any{true, true} || created["workflowCreated"] != true {
		t.Fatalf("signal-with-start that starts: %v", created)
	}
	signalled := e.do("POST", path+"/signal-with-start", ownerKey, sws).obj(200)
	if got := flags(signalled); got != [2]any{true, false} || signalled["workflowCreated"] != false {
		t.Fatalf("signal-with-start that signals: %v", signalled)
	}
}

// Settling a promise already settled is 409, saying how it was settled.
func TestSettleSettledPromise(t *testing.T) {
	t.Parallel()
	e := start(t)
	const q = "q-settle"
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterWorkflow("gate", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			v, err := ctx.Promise("gate", sdk.PromiseOptions{}).Raw()
			return map[string]any{"value": v, "error": fmt.Sprint(err)}, nil
		})
	})
	promiseOf := func() (string, string) {
		x := e.startWorkflow(map[string]any{"kind": "gate", "queue": q})
		evs := e.waitEvent("acme", x.ID.String(), "PROMISE_CREATED")
		var id string
		if err := json.Unmarshal(field(t, find(t, evs, "PROMISE_CREATED"), "promiseId"), &id); err != nil {
			t.Fatal(err)
		}
		return id, x.ID.String()
	}
	const promises = "/api/tenants/acme/promises/"
	for _, first := range []string{"resolve", "reject"} {
		id, wf := promiseOf()
		body := map[string]any{"value": 1}
		if first == "reject" {
			body = map[string]any{"error": "no"}
		}
		e.do("POST", promises+id+"/"+first, ownerKey, body).want(204, nil)
		want := "promise " + id + " is already resolved"
		if first == "reject" {
			want = "promise " + id + " is already rejected"
		}
		for _, path := range []string{promises + id + "/resolve", promises + wf + ":gate/reject", "/api/promises/" + id + "/reject",
			"/api/promises/id:" + id + "/resolve"} {
			p := e.do("POST", path, ownerKey, map[string]any{}).problem(409, "")
			if p.Detail != want {
				t.Fatalf("%s after %s: detail %q, want %q", path, first, p.Detail, want)
			}
		}
		e.waitEvent("acme", wf, "WORKFLOW_COMPLETED")
	}
}
