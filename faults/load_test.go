package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flovyn/flovyn/sdk"
)

// load is the workload of a test, on a queue of its own: workflow
// "fault-wf" runs task "fault-task" on its input, sleeps on a timer and
// returns the task's output; agent "fault-agent" (when a test starts
// agents) runs fault-task too and returns its output.
type load struct {
	t     *testing.T
	queue string

	retried atomic.Int32 // starts that failed at first

	mu   sync.Mutex
	ids  map[int]string      // workflow number → execution id
	runs map[string][]string // task execution id → the workers that ran it, in order
}

func newLoad(t *testing.T, queue string) *load {
	return &load{t: t, queue: queue, ids: map[int]string{}, runs: map[string][]string{}}
}

// taskOutput is what fault-task returns, and so what fault-wf returns.
type taskOutput struct {
	In      json.RawMessage `json:"in"`
	Worker  string          `json:"worker"`
	Attempt int             `json:"attempt"`
}

// workflows registers fault-wf.
func (l *load) workflows(w *sdk.Worker) {
	w.RegisterWorkflow("fault-wf", func(ctx *sdk.WorkflowContext, in json.RawMessage) (any, error) {
		out, err := ctx.ExecuteTask("fault-task", in, sdk.TaskOptions{})
		if err != nil {
			return nil, err
		}
		if err := ctx.Sleep(timerDelay); err != nil {
			return nil, err
		}
		return out, nil
	})
}

// tasks registers fault-task for the worker called name. before, when not
// nil, runs first in every attempt (to hold the task, for instance).
func (l *load) tasks(name string, before func(tc *sdk.TaskContext)) func(w *sdk.Worker) {
	return func(w *sdk.Worker) {
		w.RegisterTask("fault-task", func(tc *sdk.TaskContext, in json.RawMessage) (any, error) {
			l.mu.Lock()
			l.runs[tc.TaskExecutionID()] = append(l.runs[tc.TaskExecutionID()], name)
			l.mu.Unlock()
			if before != nil {
				before(tc)
			}
			time.Sleep(20 * time.Millisecond) // a little work, so that tasks are in flight
			return taskOutput{In: in, Worker: name, Attempt: tc.Attempt()}, nil
		})
	}
}

// agents registers fault-agent. before, when not nil, runs first in
// every dispatch.
func (l *load) agents(before func()) func(w *sdk.Worker) {
	return func(w *sdk.Worker) {
		w.RegisterAgent("fault-agent", func(ctx *sdk.AgentContext, in json.RawMessage) (any, error) {
			if before != nil {
				before()
			}
			return ctx.ExecuteTask("fault-task", in, sdk.AgentTaskOptions{})
		})
	}
}

// both registers fault-wf, fault-agent and fault-task.
func (l *load) both(name string) func(w *sdk.Worker) {
	return func(w *sdk.Worker) {
		l.workflows(w)
		l.agents(nil)(w)
		l.tasks(name, nil)(w)
	}
}

// start starts workflow number i through cl. A start that fails (the
// replica cannot reach the database, say) is retried with the same
// idempotency key, so a start that committed but whose answer was lost is
// not doubled.
func (l *load) start(cl *sdk.Client, i int) {
	deadline := time.Now().Add(waitTimeout)
	for try := 0; ; try++ {
		if try == 1 {
			l.retried.Add(1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		id, err := cl.StartWorkflow(ctx, "fault-wf", map[string]int{"i": i},
			sdk.StartOptions{Queue: l.queue, IdempotencyKey: fmt.Sprintf("%s-%d", l.queue, i)})
		cancel()
		if err == nil {
			l.mu.Lock()
			l.ids[i] = id
			l.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			l.t.Errorf("start workflow %d: %v", i, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startAgent creates agent number i over r's REST API.
func (l *load) startAgent(r *replica, i int) string {
	l.t.Helper()
	body, _ := json.Marshal(map[string]any{"kind": "fault-agent", "queue": l.queue, "input": map[string]int{"agent": i}})
	req, _ := http.NewRequestWithContext(l.t.Context(), http.MethodPost, "http://"+r.httpAddr+"/api/orgs/faults/agent-executions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.c.adminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatalf("create agent %d: %v", i, err)
	}
	defer res.Body.Close()
	var created struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil || res.StatusCode != http.StatusCreated {
		l.t.Fatalf("create agent %d: status %d (%v)", i, res.StatusCode, err)
	}
	return created.ID
}

// agentsDone reports whether every agent of the load has completed with
// the output of its task, failing the test for one that ended otherwise.
func (c *cluster) agentsDone(l *load) bool {
	rows, err := c.db.Query(c.t.Context(), `SELECT status, coalesce(output::text, '') FROM agent_executions WHERE queue = $1`, l.queue)
	if err != nil {
		return false
	}
	done := true
	var status, output string
	_, err = pgx.ForEachRow(rows, []any{&status, &output}, func() error {
		var out taskOutput
		switch {
		case status == "COMPLETED" && (json.Unmarshal([]byte(output), &out) != nil || !strings.Contains(string(out.In), `"agent"`)):
			c.t.Errorf("an agent completed with %s", output)
		case status == "FAILED" || status == "CANCELLED":
			c.t.Errorf("an agent ended %s", status)
		case status != "COMPLETED":
			done = false
		}
		return nil
	})
	return err == nil && done
}

// id is the execution id of workflow number i.
func (l *load) id(i int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids[i]
}

// startRange starts workflows from..to-1, round-robin over clients.
func (l *load) startRange(clients []*sdk.Client, from, to int) {
	for i := from; i < to; i++ {
		l.start(clients[i%len(clients)], i)
	}
}

// completed counts the load's completed workflows, -1 when the database
// does not answer.
func (c *cluster) completed(l *load) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM workflow_executions WHERE queue = $1 AND status = 'COMPLETED'`, l.queue).Scan(&n); err != nil {
		return -1
	}
	return n
}

// waitCompleted waits until n workflows of the load have completed. On a
// timeout it reports what is left and where.
func (c *cluster) waitCompleted(l *load, n int) {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for c.completed(l) < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s, %d of %d workflows completed; left: %s", waitTimeout, c.completed(l), n, c.describeLeftovers(l))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leftovers lists the load's workflows, agents, tasks and timers that have not
// finished, grouped by state.
func (c *cluster) leftovers(l *load) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.db.Query(ctx, `
		SELECT 'workflow ' || status || coalesce(' held by ' || worker_id || ' until ' || to_char(lease_expires_at, 'HH24:MI:SS.MS'), ''), count(*)
		  FROM workflow_executions WHERE queue = $1 AND status <> 'COMPLETED' GROUP BY 1
		UNION ALL
		SELECT 'task ' || status || coalesce(' held by ' || worker_id || ' until ' || to_char(lease_expires_at, 'HH24:MI:SS.MS'), ''), count(*)
		  FROM tasks WHERE queue = $1 AND status <> 'COMPLETED' GROUP BY 1
		UNION ALL
		SELECT 'agent ' || status || coalesce(' held by ' || worker_id || ' until ' || to_char(lease_expires_at, 'HH24:MI:SS.MS'), ''), count(*)
		  FROM agent_executions WHERE queue = $1 AND status <> 'COMPLETED' GROUP BY 1
		UNION ALL
		SELECT 'timer ' || t.status, count(*)
		  FROM timers t JOIN workflow_executions w ON w.id = t.workflow_id WHERE w.queue = $1 AND t.status <> 'FIRED' GROUP BY 1`, l.queue)
	if err != nil {
		return nil, err
	}
	var out []string
	var what string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&what, &n}, func() error { out = append(out, fmt.Sprintf("%d %s", n, what)); return nil })
	sort.Strings(out)
	return out, err
}

// describeLeftovers is leftovers for a failure message.
func (c *cluster) describeLeftovers(l *load) string {
	left, err := c.leftovers(l)
	if err != nil {
		return "(database: " + err.Error() + ")"
	}
	return strings.Join(left, "; ") + " (now " + time.Now().Format("15:04:05.000") + ")"
}

// verify checks the final state of every workflow the load started: its
// history through GetEvents (contiguous sequence numbers; one start, one
// completion with the expected output; one task scheduled and completed
// once; one timer started and fired once) and, in the database, that no
// start was doubled and no workflow, task or timer is left unfinished.
func (c *cluster) verify(l *load, cl *sdk.Client, n int) {
	t := c.t
	t.Helper()
	l.mu.Lock()
	ids := make(map[int]string, len(l.ids))
	for i, id := range l.ids {
		ids[i] = id
	}
	l.mu.Unlock()
	if len(ids) != n {
		t.Fatalf("%d workflows started, want %d", len(ids), n)
	}
	for i := range n {
		id := ids[i]
		var evs []sdk.Event
		var err error
		for try := 0; try < 3; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			evs, err = cl.Events(ctx, id)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("workflow %d (%s): %v", i, id, err)
		}
		checkHistory(t, i, id, evs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var workflows, tasks int
	err := c.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM workflow_executions WHERE queue = $1),
		(SELECT count(*) FROM tasks WHERE queue = $1 AND agent_execution_id IS NULL)`, l.queue).Scan(&workflows, &tasks)
	if err != nil {
		t.Fatal(err)
	}
	if workflows != n || tasks != n {
		t.Fatalf("the queue has %d workflows and %d tasks, want %d of each", workflows, tasks, n)
	}
	if left, err := c.leftovers(l); err != nil || len(left) > 0 {
		t.Fatalf("unfinished: %v %v", left, err)
	}
}

// checkHistory checks one final history of fault-wf number i.
func checkHistory(t *testing.T, i int, id string, evs []sdk.Event) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		var types []string
		for _, e := range evs {
			types = append(types, fmt.Sprintf("%d:%s", e.Sequence, e.Type))
		}
		t.Fatalf("workflow %d (%s): %s\nhistory: %s", i, id, fmt.Sprintf(format, args...), strings.Join(types, " "))
	}
	counts := map[string]int{}
	for k, e := range evs {
		if e.Sequence != k+1 {
			fail("event %d has sequence %d", k+1, e.Sequence)
		}
		counts[e.Type]++
	}
	for typ, want := range map[string]int{
		"WORKFLOW_STARTED": 1, "WORKFLOW_COMPLETED": 1, "WORKFLOW_EXECUTION_FAILED": 0,
		"TASK_SCHEDULED": 1, "TASK_COMPLETED": 1, "TASK_FAILED": 0,
		"TIMER_STARTED": 1, "TIMER_FIRED": 1,
	} {
		if counts[typ] != want {
			fail("%d %s, want %d", counts[typ], typ, want)
		}
	}
	if last := evs[len(evs)-1]; last.Type != "WORKFLOW_COMPLETED" {
		fail("the last event is %s", last.Type)
	}
	var scheduled, completed string
	var out taskOutput
	for _, e := range evs {
		switch e.Type {
		case "TASK_SCHEDULED":
			_ = json.Unmarshal(e.Field("taskExecutionId"), &scheduled)
		case "TASK_COMPLETED":
			_ = json.Unmarshal(e.Field("taskExecutionId"), &completed)
		case "WORKFLOW_COMPLETED":
			if err := json.Unmarshal(e.Field("output"), &out); err != nil {
				fail("output %s: %v", e.Field("output"), err)
			}
		}
	}
	if scheduled == "" || completed != scheduled {
		fail("task scheduled %q, completed %q", scheduled, completed)
	}
	var in struct{ I *int }
	if err := json.Unmarshal(out.In, &in); err != nil || in.I == nil || *in.I != i {
		fail("output %+v does not carry input %d", out, i)
	}
}

// reran returns the task executions that ran on more than one worker, with
// the workers in order.
func (l *load) reran() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]string{}
	for id, ws := range l.runs {
		if len(ws) > 1 {
			out[id] = append([]string(nil), ws...)
		}
	}
	return out
}
