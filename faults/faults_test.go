package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flovyn/flovyn/sdk"
)

// TestReplicaKilled: three replicas under load, one killed with SIGKILL.
// The workers connected to it were holding workflow tasks, agents and tasks; they
// die with it and are replaced by workers on the surviving replicas (a real
// worker would reconnect through the load balancer; ours dial one address).
// Nobody renews the dead replica's leases, so the survivors reclaim that
// work once its lease (the default worker_timeout) has run out: within
// maxRecovery of the kill, measured. Every workflow completes, each task
// once in its history, and every agent completes.
func TestReplicaKilled(t *testing.T) {
	c := newCluster(t, 3, true)
	l := newLoad(t, "kill-replica")
	// The surviving replicas run no tasks until the doomed one holds some:
	// a task scheduled where one of its pollers waits is handed to it there
	// (eager dispatch), so the doomed replica's pollers would seldom get one.
	for _, r := range c.replicas[:2] {
		for k := range 2 {
			c.startWorker(r, l.queue, fmt.Sprintf("r%d-w%d", r.n, k), func(w *sdk.Worker) {
				l.workflows(w)
				l.agents(nil)(w)
			})
		}
	}
	// The workers of the doomed replica hold every workflow task and task
	// they get until the replica is dead, so it surely dies holding both.
	doomed := c.replicas[2]
	var heldWorkflows, heldAgents, heldTasks atomic.Int32
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll)
	var doomedWorkers []*worker
	for k := range 2 {
		name := fmt.Sprintf("r2-w%d", k)
		doomedWorkers = append(doomedWorkers, c.startWorker(doomed, l.queue, name, func(w *sdk.Worker) {
			w.RegisterWorkflow("fault-wf", func(*sdk.WorkflowContext, json.RawMessage) (any, error) {
				heldWorkflows.Add(1)
				<-release
				return nil, errors.New("the replica is gone")
			})
			l.agents(func() { heldAgents.Add(1); <-release })(w)
			l.tasks(name, func(*sdk.TaskContext) { heldTasks.Add(1); <-release })(w)
		}))
	}

	const n = 60
	clients := []*sdk.Client{c.client(c.replicas[0]), c.client(c.replicas[1]), c.client(doomed)}
	l.startRange(clients, 0, n)
	waitUntil(t, "the doomed replica's workers hold workflow tasks and tasks", func() bool {
		return heldWorkflows.Load() >= 2 && heldTasks.Load() >= 2
	})
	// Agents too: created until the doomed workers hold some (on every
	// replica: one created where a poller waits is handed to that poller).
	agents := 0
	waitUntil(t, "the doomed replica's workers hold agents", func() bool {
		l.startAgent(c.replicas[agents%3], agents)
		agents++
		return heldAgents.Load() >= 2
	})
	for _, r := range c.replicas[:2] {
		for k := range 2 {
			name := fmt.Sprintf("r%d-t%d", r.n, k)
			c.startWorker(r, l.queue, name, l.tasks(name, nil))
		}
	}

	orphans := c.heldBy(doomedWorkers)
	doomed.kill()
	killed := time.Now()
	t.Logf("killed replica 2 while its workers held %d workflow tasks, %d agents and %d tasks; %d of %d workflows completed",
		heldWorkflows.Load(), heldAgents.Load(), heldTasks.Load(), c.completed(l), n)
	for k, w := range doomedWorkers {
		w.kill()
		name := fmt.Sprintf("moved-w%d", k)
		c.startWorker(c.replicas[k%2], l.queue, name, l.both(name))
	}
	releaseAll() // what they were running goes nowhere: the connection is gone

	waitUntil(t, "every item the dead replica held is offered again", func() bool { return c.redispatched(orphans) })
	recovery := time.Since(killed)
	t.Logf("recovery: the last of %d orphaned items was held again by a surviving worker %.1f s after the kill",
		orphans.len(), recovery.Seconds())
	if recovery > maxRecovery {
		t.Errorf("recovery took %s, over the %s bound", recovery.Round(100*time.Millisecond), maxRecovery)
	}

	c.waitCompleted(l, n)
	waitUntil(t, fmt.Sprintf("all %d agents completed", agents), func() bool { return c.agentsDone(l) })
	c.verify(l, clients[0], n)

	// Every task the dead replica's workers held ran again elsewhere.
	reran := l.reran()
	l.mu.Lock()
	for id, ws := range l.runs {
		if strings.HasPrefix(ws[0], "r2-") && (len(ws) < 2 || strings.HasPrefix(ws[len(ws)-1], "r2-")) {
			t.Errorf("task %s ran on %v: never re-run on a surviving replica", id, ws)
		}
	}
	l.mu.Unlock()
	if len(reran) == 0 {
		t.Error("no task was re-run after the replica died")
	}
	survivors := c.replicas[0].log() + c.replicas[1].log()
	for _, s := range []string{"reclaimed workflow task", "reclaimed task"} {
		if !strings.Contains(survivors, s) {
			t.Errorf("no surviving replica logged %q", s)
		}
	}
}

// TestWorkerKilledMidTask: a worker connected to replica 0 dies while it
// runs tasks. Replica 0 sees its connection close and reclaims the tasks at
// once; a worker on replica 1 runs them as attempt 2.
func TestWorkerKilledMidTask(t *testing.T) {
	c := newCluster(t, 3, true)
	l := newLoad(t, "kill-worker")
	c.startWorker(c.replicas[2], l.queue, "workflows", l.workflows)
	const n = 5
	running := make(chan string, n)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	doomed := c.startWorker(c.replicas[0], l.queue, "doomed", l.tasks("doomed", func(tc *sdk.TaskContext) {
		running <- tc.TaskExecutionID()
		<-block
	}))

	l.startRange([]*sdk.Client{c.client(c.replicas[2])}, 0, n)
	for range n {
		select {
		case <-running:
		case <-time.After(waitTimeout):
			t.Fatal("the tasks never reached the doomed worker")
		}
	}
	// The rescuer waits on another replica; it can only get the tasks once
	// they are reclaimed.
	c.startWorker(c.replicas[1], l.queue, "rescuer", l.tasks("rescuer", nil))
	doomed.kill()

	c.waitCompleted(l, n)
	cl := c.client(c.replicas[1])
	c.verify(l, cl, n)
	for i := range n {
		var out taskOutput
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cl.WaitForResult(ctx, l.id(i), &out)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if out.Worker != "rescuer" || out.Attempt != 2 {
			t.Errorf("workflow %d: task ran on %s as attempt %d, want rescuer, attempt 2", i, out.Worker, out.Attempt)
		}
	}
	var lost int
	if err := c.db.QueryRow(context.Background(), `SELECT count(*) FROM task_attempts a JOIN tasks t ON t.id = a.task_id
		WHERE t.queue = $1 AND a.attempt = 1 AND a.status = 'LOST'`, l.queue).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	if lost != n {
		t.Errorf("%d first attempts recorded as LOST, want %d", lost, n)
	}
	if !strings.Contains(c.replicas[0].log(), "reclaimed task") {
		t.Error(`replica 0 did not log "reclaimed task"`)
	}
}

// TestPostgresRestart: PostgreSQL stops under load and comes back on the
// same data dir. Meanwhile every replica reports 503 on /_/health, starts
// fail and are retried, and so do the workers' calls; afterwards the
// replicas answer 200 again without being restarted and every workflow —
// started before, during or after the outage — completes, each event once.
// Some tasks finish while the database is down: their results are lost, so
// they must run again (their workers, still connected, do not report twice).
func TestPostgresRestart(t *testing.T) {
	c := newCluster(t, 3, true)
	l := newLoad(t, "pg-restart")
	const lostResults = 6 // the tasks of workflows 0..5 finish during the outage
	pgDown := make(chan struct{})
	var pgDownOnce sync.Once
	t.Cleanup(func() { pgDownOnce.Do(func() { close(pgDown) }) })
	var heldMu sync.Mutex
	var held []string
	hold := func(tc *sdk.TaskContext) {
		var in struct{ I int }
		if json.Unmarshal(tc.Input(), &in) == nil && in.I < lostResults && tc.Attempt() == 1 {
			heldMu.Lock()
			held = append(held, tc.TaskExecutionID())
			heldMu.Unlock()
			<-pgDown
		}
	}
	for _, r := range c.replicas {
		for k := range 2 {
			name := fmt.Sprintf("r%d-w%d", r.n, k)
			c.startWorker(r, l.queue, name, func(w *sdk.Worker) {
				l.workflows(w)
				l.tasks(name, hold)(w)
			})
		}
	}
	clients := []*sdk.Client{c.client(c.replicas[0]), c.client(c.replicas[1]), c.client(c.replicas[2])}

	const before, during, after = 30, 30, 30
	l.startRange(clients, 0, before) // in flight when the database goes
	waitUntil(t, "the first tasks are running", func() bool { heldMu.Lock(); defer heldMu.Unlock(); return len(held) == lostResults })
	t.Logf("stopping PostgreSQL; %d of %d workflows completed", c.completed(l), before)
	down := time.Now()
	c.stopPostgres()
	pgDownOnce.Do(func() { close(pgDown) }) // the held tasks finish now: their results cannot be saved
	duringDone := make(chan struct{})
	go func() {
		defer close(duringDone)
		l.startRange(clients, before, before+during) // fail and retry until it is back
	}()
	c.waitHealth(http.StatusServiceUnavailable, c.replicas...)
	// The outage, shorter than a task lease (so the lost results are not
	// simply reclaimed as leases run out): polls, starts, completions and
	// timers fail meanwhile.
	time.Sleep(time.Second)
	c.startPostgres()
	c.waitHealth(http.StatusOK, c.replicas...)
	t.Logf("PostgreSQL is back after %s; every replica is healthy", time.Since(down).Round(time.Millisecond))
	<-duringDone
	if l.retried.Load() == 0 {
		t.Error("no start failed while PostgreSQL was down")
	}
	l.startRange(clients, before+during, before+during+after)

	const n = before + during + after
	c.waitCompleted(l, n)
	c.verify(l, clients[0], n)
	for _, r := range c.replicas {
		select {
		case <-r.exited:
			t.Errorf("replica %d exited", r.n)
		default:
		}
	}
	reran := l.reran()
	heldMu.Lock()
	defer heldMu.Unlock()
	for _, id := range held {
		if len(reran[id]) < 2 {
			t.Errorf("task %s finished while PostgreSQL was down but was not run again", id)
		}
	}
}

// TestNATSDown: NATS stops; the replicas warn, and wake-ups between them
// fall back to the poll re-check, so everything still completes. A replica
// started while NATS is down starts anyway, with a warning. When NATS comes
// back (same port) the replicas connect again on their own.
//
// Every hand-off crosses replicas: workflows start on replica 0 (and 3),
// workflow tasks run on a worker of replica 1, tasks on a worker of replica 2.
func TestNATSDown(t *testing.T) {
	c := newCluster(t, 3, true)
	l := newLoad(t, "nats-down")
	c.startWorker(c.replicas[1], l.queue, "workflows", l.workflows)
	c.startWorker(c.replicas[2], l.queue, "tasks", l.tasks("tasks", nil))
	starter := c.client(c.replicas[0])

	l.startRange([]*sdk.Client{starter}, 0, 10)
	c.waitCompleted(l, 10)

	c.stopNATS()
	for _, r := range c.replicas {
		waitUntil(t, fmt.Sprintf("replica %d warns that NATS is gone", r.n), func() bool { return r.logHas("WARN", "NATS disconnected") })
	}
	late := c.startReplica()
	if !late.logHas("WARN", "NATS is not reachable") {
		t.Errorf("replica 3 started without NATS and did not warn:\n%s", late.logTail(10))
	}
	l.startRange([]*sdk.Client{starter, c.client(late)}, 10, 30)
	c.waitCompleted(l, 30)

	c.startNATS()
	for _, r := range c.replicas[:3] {
		waitUntil(t, fmt.Sprintf("replica %d reconnects to NATS", r.n), func() bool { return r.logHas("INFO", "NATS reconnected") })
	}
	waitUntil(t, "replica 3 connects to NATS", func() bool { return late.logHas("INFO", "NATS connected") })
	l.startRange([]*sdk.Client{starter, c.client(late)}, 30, 40)
	c.waitCompleted(l, 40)
	c.verify(l, starter, 40)
}

// logHas reports whether one line of the replica's log has the level and
// contains s.
func (r *replica) logHas(level, s string) bool {
	for line := range strings.SplitSeq(r.log(), "\n") {
		if strings.Contains(line, "level="+level) && strings.Contains(line, s) {
			return true
		}
	}
	return false
}
