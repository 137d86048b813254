package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

type executionDoc struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Status   string            `json:"status"`
	Queue    string            `json:"queue"`
	Input    json.RawMessage   `json:"input"`
	Output   json.RawMessage   `json:"output"`
	Error    *string           `json:"error"`
	Metadata map[string]string `json:"metadata"`
}

func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestWorkflowStartWait(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	token := strings.TrimSpace(s.ok("token", "create", "-q").stdout)
	s.worker(token)

	// --wait prints the output, pretty, and nothing else.
	r := s.ok("workflow", "start", "greet", "--input", `{"name": "ada"}`, "--wait", "--timeout", "30s")
	if r.stdout != "{\n  \"greeting\": \"Hello, ADA\"\n}\n" || r.stderr != "" {
		t.Fatalf("start --wait: %s", r)
	}

	// Input from stdin ("-") and from a file; -o json prints the execution.
	r = s.runWith(runOpts{stdin: `{"name": "bob"}`}, "workflow", "start", "greet", "-", "--wait", "-o", "json")
	var done executionDoc
	decode(t, r, &done)
	if r.code != 0 || done.Status != "COMPLETED" || !jsonEqual(t, string(done.Output), `{"greeting":"Hello, BOB"}`) {
		t.Fatalf("start - --wait -o json: %s", r)
	}
	file := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(file, []byte(`{"name": "cy"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = s.ok("workflow", "start", "greet", "--input-file", file, "--wait")
	if !jsonEqual(t, r.stdout, `{"greeting":"Hello, CY"}`) {
		t.Fatalf("--input-file: %s", r)
	}

	// A failed workflow exits 1 with its error on stderr.
	r = s.fails(1, "failed: boom: disk full", "workflow", "start", "fail", "--input", `{"reason": "disk full"}`, "--wait")
	if r.stdout != "" {
		t.Fatalf("a failed --wait printed on stdout: %s", r)
	}

	// --timeout runs out on a workflow no worker runs.
	s.fails(1, "timed out after 300ms", "workflow", "start", "greet", "--queue", "nobody", "--wait", "--timeout", "300ms")

	// Invalid input is a usage error, before any request: nothing was started.
	before := len(listIDs(t, s))
	s.fails(2, "--input: not valid JSON", "workflow", "start", "greet", "--input", `{"name":`)
	s.failsWith(runOpts{stdin: "not json"}, 2, "--input-file stdin: not valid JSON", "workflow", "start", "greet", "-")
	s.fails(2, "--metadata", "workflow", "start", "greet", "--metadata", "novalue")
	s.fails(2, "--timeout applies to --wait", "workflow", "start", "greet", "--timeout", "1s")
	s.fails(2, "give the input once", "workflow", "start", "greet", "-", "--input", "{}")
	if after := len(listIDs(t, s)); after != before {
		t.Fatalf("usage errors started workflows: %d then %d", before, after)
	}

	// Without --wait: the new execution; the same idempotency key finds it again.
	var first, second struct {
		WorkflowExecutionID string `json:"workflowExecutionId"`
		IdempotencyKeyNew   bool   `json:"idempotencyKeyNew"`
		Status              string `json:"status"`
	}
	decode(t, s.ok("workflow", "start", "greet", "--queue", "nobody", "--idempotency-key", "order-7", "-o", "json"), &first)
	decode(t, s.ok("workflow", "start", "greet", "--queue", "nobody", "--idempotency-key", "order-7", "-o", "json"), &second)
	if !first.IdempotencyKeyNew || second.IdempotencyKeyNew || first.WorkflowExecutionID != second.WorkflowExecutionID {
		t.Fatalf("idempotency: %+v then %+v", first, second)
	}
	r = s.ok("workflow", "start", "greet", "--queue", "nobody", "--input", `{"name":"x"}`)
	noBoxDrawing(t, r)
	if !strings.Contains(r.stdout, "PENDING") || !strings.Contains(r.stdout, "nobody") {
		t.Fatalf("start: %s", r)
	}
}

// listIDs lists every execution id through the CLI.
func listIDs(t *testing.T, s *cliServer) []string {
	t.Helper()
	var page struct {
		Items []executionDoc `json:"items"`
	}
	decode(t, s.ok("workflow", "list", "--limit", "500", "-o", "json"), &page)
	var ids []string
	for _, w := range page.Items {
		ids = append(ids, w.ID)
	}
	return ids
}

func TestWorkflowListInspectEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.worker(workerKey)
	s.ok("workflow", "start", "greet", "--input", `{"name":"ada"}`, "--metadata", "team=blue", "--wait")
	failed := s.startID("fail", "--input", `{"reason":"nope"}`)
	pending := s.startID("greet", "--queue", "nobody", "--metadata", "team=red")
	// Newest first: the greet that completed is the oldest.
	done := listIDs(t, s)[2]
	// Another failure, to filter by status.
	s.run("workflow", "start", "fail", "--wait")
	s.waitForEvent(failed, "WORKFLOW_EXECUTION_FAILED")

	// list: piped text, one line per execution; filters; JSON with the page shape.
	r := s.ok("workflow", "list")
	noBoxDrawing(t, r)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "ID\tKIND\tSTATUS") {
		t.Fatalf("workflow list: %s", r)
	}
	var page struct {
		Items      []executionDoc `json:"items"`
		NextCursor *string        `json:"nextCursor"`
	}
	decode(t, s.ok("workflow", "list", "--status", "completed", "-o", "json"), &page)
	if len(page.Items) != 1 || page.Items[0].ID != done {
		t.Fatalf("--status completed: %+v", page)
	}
	decode(t, s.ok("workflow", "list", "--status", "FAILED,PENDING", "--kind", "fail", "-o", "json"), &page)
	if len(page.Items) != 2 {
		t.Fatalf("--status FAILED,PENDING --kind fail: %+v", page)
	}
	decode(t, s.ok("workflow", "list", "--metadata", "team=red", "-o", "json"), &page)
	if len(page.Items) != 1 || page.Items[0].ID != pending {
		t.Fatalf("--metadata team=red: %+v", page)
	}
	decode(t, s.ok("workflow", "list", "--queue", "nobody", "-o", "json"), &page)
	if len(page.Items) != 1 || page.Items[0].ID != pending {
		t.Fatalf("--queue nobody: %+v", page)
	}
	decode(t, s.ok("workflow", "list", "--limit", "2", "-o", "json"), &page)
	if len(page.Items) != 2 || page.NextCursor == nil {
		t.Fatalf("--limit 2: %+v", page)
	}
	var rest struct {
		Items []executionDoc `json:"items"`
	}
	decode(t, s.ok("workflow", "list", "--limit", "2", "--cursor", *page.NextCursor, "-o", "json"), &rest)
	if len(rest.Items) != 2 || rest.Items[0].ID == page.Items[0].ID {
		t.Fatalf("second page: %+v", rest)
	}
	s.fails(2, `--status "DONE"`, "workflow", "list", "--status", "done")
	s.fails(2, "--limit must be between 1 and 500", "workflow", "list", "--limit", "0")

	// inspect: details, pretty input and output, tasks, history.
	r = s.ok("workflow", "inspect", done)
	noBoxDrawing(t, r)
	for _, want := range []string{
		done, "COMPLETED", "team=blue", "Input:", `"name": "ada"`, "Output:", `"greeting": "Hello, ADA"`,
		"Tasks (1):", "upper", "Events (", "WORKFLOW_STARTED", "TASK_SCHEDULED", "TASK_COMPLETED", "WORKFLOW_COMPLETED",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("inspect lacks %q: %s", want, r)
		}
	}
	var doc struct {
		Workflow executionDoc `json:"workflow"`
		Tasks    []struct {
			Kind   string `json:"kind"`
			Status string `json:"status"`
		} `json:"tasks"`
		Events []struct {
			Sequence  int             `json:"sequence"`
			EventType string          `json:"eventType"`
			Data      json.RawMessage `json:"data"`
		} `json:"events"`
	}
	decode(t, s.ok("workflow", "inspect", done, "-o", "json"), &doc)
	if doc.Workflow.ID != done || len(doc.Tasks) != 1 || doc.Tasks[0].Status != "COMPLETED" ||
		len(doc.Events) < 4 || doc.Events[len(doc.Events)-1].EventType != "WORKFLOW_COMPLETED" {
		t.Fatalf("inspect -o json: %+v", doc)
	}
	r = s.ok("workflow", "inspect", failed)
	if !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "boom: nope") {
		t.Fatalf("inspect of a failed workflow: %s", r)
	}
	s.fails(1, "not found", "workflow", "inspect", "00000000-0000-4000-8000-000000000000")
	s.fails(2, `workflow id "nope": not a UUID or an id prefix`, "workflow", "inspect", "nope")

	// events and tasks.
	r = s.ok("workflow", "events", done)
	noBoxDrawing(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if lines[0] != "SEQ\tTYPE\tTIME\tDATA" || !strings.HasPrefix(lines[1], "1\tWORKFLOW_STARTED\t") || len(lines) != len(doc.Events)+1 {
		t.Fatalf("events: %s", r)
	}
	var evs struct {
		Events []struct {
			Sequence int `json:"sequence"`
		} `json:"events"`
	}
	decode(t, s.ok("workflow", "events", done, "--since", "2", "-o", "json"), &evs)
	if len(evs.Events) != len(doc.Events)-2 || evs.Events[0].Sequence != 3 {
		t.Fatalf("events --since 2: %+v", evs)
	}
	r = s.ok("workflow", "tasks", done)
	if !strings.Contains(r.stdout, "upper\tCOMPLETED\t1") {
		t.Fatalf("tasks: %s", r)
	}
}

func TestWorkflowSignalCancelFollow(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.worker(workerKey)

	// inspect --follow prints events as they come until the workflow ends.
	id := s.startID("await-signal")
	s.waitForEvent(id, "WORKFLOW_SUSPENDED")
	follow := s.command(runOpts{}, "workflow", "inspect", id, "--follow")
	var out, errOut syncBuffer
	follow.Stdout, follow.Stderr = &out, &errOut
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- follow.Wait() }()
	// It is following once it has printed the history so far.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "WORKFLOW_SUSPENDED"); {
		select {
		case err := <-exited:
			t.Fatalf("inspect --follow ended early: %v\n%s\n%s", err, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("inspect --follow printed no history:\n%s", out.String())
		}
	}

	r := s.ok("workflow", "signal", id, "go", "--value", `{"color":"green"}`)
	if !strings.Contains(r.stdout, `Signal "go" delivered`) {
		t.Fatalf("signal: %s", r)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("inspect --follow: %v\n%s\n%s", err, out.String(), errOut.String())
		}
	case <-time.After(20 * time.Second):
		_ = follow.Process.Kill()
		t.Fatalf("inspect --follow did not end with the workflow:\n%s", out.String())
	}
	got := out.String()
	for _, want := range []string{"SIGNAL_RECEIVED", "WORKFLOW_COMPLETED", "Ended COMPLETED", `"color": "green"`} {
		if !strings.Contains(got, want) {
			t.Fatalf("inspect --follow lacks %q:\n%s", want, got)
		}
	}

	// A signal to an ended workflow is refused; a bad value is a usage error.
	s.fails(1, "409", "workflow", "signal", id, "go")
	s.fails(2, "--value: not valid JSON", "workflow", "signal", id, "go", "--value", "{")
	var sig struct {
		SignalEventSequence int `json:"signalEventSequence"`
	}
	id2 := s.startID("await-signal")
	decode(t, s.ok("workflow", "signal", id2, "other", "--value", "1", "-o", "json"), &sig)
	if sig.SignalEventSequence < 2 {
		t.Fatalf("signal -o json: %+v", sig)
	}

	// cancel: a start --wait sees it and exits 1.
	id3 := s.startID("await-signal")
	s.waitForEvent(id3, "WORKFLOW_SUSPENDED")
	waiter := s.command(runOpts{}, "workflow", "inspect", id3, "--follow", "-o", "json")
	var wout bytes.Buffer
	waiter.Stdout = &wout
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	r = s.ok("workflow", "cancel", id3, "--reason", "changed my mind")
	if !strings.Contains(r.stdout, "CANCELLED") {
		t.Fatalf("cancel: %s", r)
	}
	if err := waiter.Wait(); err != nil {
		t.Fatalf("inspect --follow -o json: %v", err)
	}
	var ended struct {
		Workflow executionDoc `json:"workflow"`
	}
	if err := json.Unmarshal(wout.Bytes(), &ended); err != nil || ended.Workflow.Status != "CANCELLED" ||
		!strings.Contains(*ended.Workflow.Error, "changed my mind") {
		t.Fatalf("inspect --follow -o json after cancel: %v %s", err, wout.String())
	}
	var c struct {
		Status         string `json:"status"`
		WorkflowStatus string `json:"workflowStatus"`
	}
	decode(t, s.ok("workflow", "cancel", id3, "-o", "json"), &c)
	if c.Status != "ALREADY_TERMINAL" || c.WorkflowStatus != "CANCELLED" {
		t.Fatalf("second cancel: %+v", c)
	}
	// events --follow on a workflow that has ended prints its history and returns.
	r = s.ok("workflow", "events", id3, "--follow")
	if !strings.Contains(r.stdout, "CANCELLATION_REQUESTED") {
		t.Fatalf("events --follow: %s", r)
	}

	// start --wait on a workflow cancelled while waiting exits 1.
	wait := s.command(runOpts{}, "workflow", "start", "await-signal", "--idempotency-key", "k1", "--wait")
	var werr bytes.Buffer
	wait.Stderr = &werr
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	var started struct {
		WorkflowExecutionID string `json:"workflowExecutionId"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for started.WorkflowExecutionID == "" && time.Now().Before(deadline) {
		// The same key returns the execution the waiting start created.
		decode(t, s.ok("workflow", "start", "await-signal", "--idempotency-key", "k1", "-o", "json"), &started)
	}
	s.waitForEvent(started.WorkflowExecutionID, "WORKFLOW_SUSPENDED")
	s.ok("workflow", "cancel", started.WorkflowExecutionID)
	err := wait.Wait()
	if code := wait.ProcessState.ExitCode(); code != 1 || !strings.Contains(werr.String(), "was cancelled") {
		t.Fatalf("start --wait on a cancelled workflow: %v %d %s", err, code, werr.String())
	}
}

// A workflow id may be given as the unique start of one, as the TUI shows it.
func TestWorkflowIDPrefixes(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.worker(workerKey)
	// Two executions whose ids share their first 8 hex digits.
	twins := []uuid.UUID{uuid.MustParse("abcd0000-0000-4000-8000-000000000001"), uuid.MustParse("abcd0000-1111-4000-8000-000000000002")}
	ctx := context.Background()
	for _, id := range twins {
		err := s.srv.Store().InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.CreateWorkflow(ctx, store.Workflow{ID: id, TenantID: acme.ID, Kind: "twin", Queue: "nobody"}, nil, store.WorkflowUpdate{Status: store.StatusPending})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	id := s.startID("await-signal")
	short := id[:8]
	s.waitForEvent(short, "WORKFLOW_SUSPENDED")

	var doc struct {
		Workflow executionDoc `json:"workflow"`
	}
	for _, prefix := range []string{short, strings.ToUpper(short), id[:13], strings.ReplaceAll(id[:18], "-", ""), id[:4]} {
		decode(t, s.ok("workflow", "inspect", prefix, "-o", "json"), &doc)
		if doc.Workflow.ID != id {
			t.Fatalf("inspect %s: %+v", prefix, doc.Workflow)
		}
	}
	if r := s.ok("workflow", "events", short); !strings.Contains(r.stdout, "WORKFLOW_STARTED") {
		t.Fatalf("events %s: %s", short, r)
	}
	s.ok("workflow", "tasks", short)
	if r := s.ok("workflow", "signal", short, "go", "--value", `"on"`); !strings.Contains(r.stdout, "delivered to workflow "+id) {
		t.Fatalf("signal %s: %s", short, r)
	}
	s.waitForEvent(id, "WORKFLOW_COMPLETED")
	if r := s.ok("workflow", "cancel", twins[0].String()[:35]); !strings.Contains(r.stdout, twins[0].String()) {
		t.Fatalf("cancel by a 35-character prefix: %s", r)
	}

	// <workflow id prefix>:<promise name>.
	pid := s.startID("await-promise")
	s.waitForEvent(pid, "PROMISE_CREATED")
	var outcome struct {
		PromiseID string `json:"promiseId"`
	}
	decode(t, s.ok("promise", "resolve", pid[:8]+":approval", "--value", "true", "-o", "json"), &outcome)
	if outcome.PromiseID != pid+":approval" {
		t.Fatalf("promise resolve by a prefix: %+v", outcome)
	}
	s.waitForEvent(pid, "WORKFLOW_COMPLETED")

	// Ambiguous and unknown prefixes fail before acting.
	r := s.fails(1, "id prefix abcd0000 is ambiguous (matches ", "workflow", "cancel", "abcd0000")
	if !strings.Contains(r.stderr, twins[0].String()) || !strings.Contains(r.stderr, twins[1].String()) {
		t.Fatalf("ambiguous prefix: %s", r)
	}
	s.fails(1, "id prefix abcd is ambiguous", "workflow", "inspect", "abcd")
	s.fails(1, `no workflow execution with id prefix 0000ffff in tenant "acme"`, "workflow", "inspect", "0000ffff")
	s.fails(1, `no workflow execution with id prefix 0000ffff`, "promise", "resolve", "0000ffff:approval")
	var page struct {
		Items []executionDoc `json:"items"`
	}
	decode(t, s.ok("workflow", "list", "--kind", "twin", "-o", "json"), &page)
	if len(page.Items) != 2 || page.Items[0].ID != twins[1].String() || page.Items[0].Status != "PENDING" {
		t.Fatalf("a refused prefix changed a workflow: %+v", page.Items)
	}
}
