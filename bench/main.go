// Command bench measures flovyn against the targets of DESIGN §7: `make bench`.
//
// It starts an ephemeral embedded PostgreSQL and the flovyn server as a
// separate process (`flovyn server`, built from this module), so the RSS and
// CPU figures are those of the flovyn process alone. Go SDK workers and the
// starters run in this process. Everything shares the machine's cores.
//
// Replicas. -replicas lists server counts (default "1,3"): every scenario
// runs on the first count, and the one-task scenario at -replica-workers
// workers and the wake-up scenario run again on each further count. Extra
// replicas are more `flovyn server` processes on the same database, linked
// by an embedded NATS (in this process) that carries wake-ups between them;
// when any scenario has several replicas every server, the first included,
// is linked to it, so that 1 and N replicas are compared like for like.
// Workers and starters are spread round-robin over the replicas; in the
// wake-up scenario the workflow worker and the task worker are two workers,
// so with several replicas the task is scheduled on one replica and
// delivered to a poller waiting on another.
//
// Each scenario is a closed loop: -starters goroutines each start a workflow,
// wait for it to complete, and start the next, for -warmup then -duration;
// only the -duration window is measured.
//
// How completion is detected. Polling GetEvents (WaitForResult) would add an
// RPC and a query per poll and quantise the latency by the poll interval.
// Instead the workers log through a slog handler of ours, and the SDK logs
// "workflow task done" with status COMPLETED right after
// SubmitWorkflowCommands returned, i.e. after the server committed the
// completion. That record wakes the starter: no extra load on the server or
// the database, and the latency (start RPC issued → completion acknowledged
// to the worker) overstates the commit time only by the response's way back.
//
// How the other figures are taken:
//   - PostgreSQL is started with track_commit_timestamp = on (one restart
//     after initdb), so "when was X committed" is pg_xact_commit_timestamp of
//     the row's xmin. Events are never updated, so their xmin is the
//     transaction that appended them.
//   - task wake-up: commit time of the TASK_SCHEDULED event (the workflow's
//     submit) → the moment the task function is called in the worker (PollTask
//     returned). Under the closed loop this includes queueing behind busy
//     pollers; the "wakeup" scenario (one starter, so the poller is always
//     waiting) isolates the wake-up path itself.
//   - timer lateness: commit time of TIMER_FIRED − fireAt of TIMER_STARTED.
//     The created_at variants (now() = start of the transaction) are in the JSON.
//   - transactions per workflow: deltas of pg_stat_database.xact_commit over
//     the window divided by the workflows completed in it. PostgreSQL ≥ 15
//     flushes a busy backend's counters about once a second, so each end of
//     the window lags by up to ~1 s of work; in steady state the two lags
//     cancel out. The exact count of transactions that wrote (they get an xid;
//     read-only ones, such as empty polls, do not) is the delta of the next
//     xid, reported as write txn/wf.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flovyn/flovyn/embed"
	"github.com/flovyn/flovyn/sdk"
)

var (
	duration     = flag.Duration("duration", 8*time.Second, "measured time per scenario")
	warmup       = flag.Duration("warmup", 2*time.Second, "unmeasured time before each scenario's window")
	starters     = flag.Int("starters", 50, "concurrent starters (closed loop)")
	workerCounts = flag.String("workers", "1,4,16", "worker counts for the hello and one-task scenarios")
	timerWorkers = flag.Int("timer-workers", 4, "workers in the timer scenario")
	maxWorkflows = flag.Int("max-workflows", 0, "MaxConcurrentWorkflows per worker (0: SDK default)")
	maxTasks     = flag.Int("max-tasks", 0, "MaxConcurrentTasks per worker (0: SDK default)")
	serverBin    = flag.String("server-bin", "", "flovyn binary to run (default: go build this module)")
	jsonOnly     = flag.Bool("json-only", false, "print only the JSON document")
	only         = flag.String("only", "", "comma-separated scenario names to run (hello, one-task, timer-200ms, agent-3-tasks, wakeup); default all")
	replicaList  = flag.String("replicas", "1,3", "server replica counts: every scenario runs on the first; one-task (at -replica-workers) and wakeup also on the others")
	replicaWkrs  = flag.Int("replica-workers", 4, "workers in the one-task scenario repeated for each further replica count")
)

// waitTimeout is how long a starter waits for one workflow before counting it stuck.
const waitTimeout = 30 * time.Second

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

// scenario is one measured run.
type scenario struct {
	name     string // hello, one-task, timer, wakeup
	workflow string // registered workflow kind
	workers  int
	starters int
	replicas int
	// split: worker 0 runs workflows only, worker 1 tasks only (wakeup).
	split bool
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A closed stdout (| head) must end in an error, not a death that skips the clean-up.
	signal.Ignore(syscall.SIGPIPE)
	counts, err := positiveList("-replicas", *replicaList)
	if err != nil {
		return err
	}
	workerNs, err := positiveList("-workers", *workerCounts)
	if err != nil {
		return err
	}
	base := counts[0]
	var scenarios []scenario
	for _, kind := range []string{"hello", "one-task"} {
		for _, n := range workerNs {
			scenarios = append(scenarios, scenario{name: kind, workflow: kind, workers: n, starters: *starters, replicas: base})
		}
		// One starter: the latency of a workflow alone (in a closed loop of
		// many, p50 is about starters ÷ throughput).
		scenarios = append(scenarios, scenario{name: kind, workflow: kind, workers: *replicaWkrs, starters: 1, replicas: base})
	}
	wakeup := scenario{name: "wakeup", workflow: "one-task", workers: 2, starters: 1, replicas: base, split: true}
	scenarios = append(scenarios,
		scenario{name: "timer-200ms", workflow: "timer", workers: *timerWorkers, starters: *starters, replicas: base},
		scenario{name: "agent-3-tasks", workflow: agentKind, workers: *timerWorkers, starters: *starters, replicas: base},
		wakeup)
	for _, r := range counts[1:] {
		wakeup.replicas = r
		scenarios = append(scenarios,
			scenario{name: "one-task", workflow: "one-task", workers: *replicaWkrs, starters: *starters, replicas: r},
			wakeup)
	}
	if *only != "" {
		names := strings.Split(*only, ",")
		for _, n := range names {
			if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == n }) {
				return fmt.Errorf("-only: no scenario %q", n)
			}
		}
		scenarios = slices.DeleteFunc(scenarios, func(s scenario) bool { return !slices.Contains(names, s.name) })
	}

	tmp, err := os.MkdirTemp("", "flovyn-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// As root, postgres runs as another user and must reach its data dir.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}

	bin := *serverBin
	if bin == "" {
		bin = filepath.Join(tmp, "flovyn")
		progress("building the flovyn binary")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/flovyn/flovyn")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}

	progress("starting PostgreSQL")
	pg, err := startPostgres(ctx, filepath.Join(tmp, "pg"))
	if err != nil {
		return err
	}
	defer pg.Stop()

	e := &env{hub: newHub(), tenant: uuid.New(), key: "flovyn_wk_bench_" + uuid.NewString()[:16],
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *starters}, Timeout: 10 * time.Second}}
	pidFile, err := os.ReadFile(filepath.Join(pg.DataDir(), "postmaster.pid"))
	if err != nil {
		return err
	}
	line, _, _ := strings.Cut(string(pidFile), "\n")
	if e.postmaster, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		return fmt.Errorf("postmaster.pid: %w", err)
	}
	e.bin, e.dir, e.dbURL = bin, tmp, pg.URL("flovyn")
	if slices.ContainsFunc(scenarios, func(s scenario) bool { return s.replicas > 1 }) {
		progress("starting NATS")
		nats, err := embed.StartNATS(embed.NATSOptions{})
		if err != nil {
			return err
		}
		defer nats.Stop()
		e.natsURL = nats.URL()
	}
	if e.cfgPath, err = writeConfig(tmp, e.tenant, e.key); err != nil {
		return err
	}
	progress("starting the flovyn server")
	defer e.stopServers()
	if err := e.scaleTo(ctx, 1); err != nil {
		return err
	}

	if e.db, err = pgxpool.New(ctx, pg.URL("flovyn")); err != nil {
		return err
	}
	defer e.db.Close()
	// Counters are sampled on a connection of their own so that the bench's
	// analysis queries are never flushed into a window.
	if e.stats, err = pgx.Connect(ctx, pg.URL("flovyn")); err != nil {
		return err
	}
	defer e.stats.Close(context.Background())

	rep := report{Scenarios: []result{}}
	rep.Config.Duration, rep.Config.Warmup = duration.String(), warmup.String()
	rep.Config.Starters, rep.Config.MaxWorkflows, rep.Config.MaxTasks = *starters, *maxWorkflows, *maxTasks
	rep.Config.CPUs = runtime.NumCPU()
	rep.Config.Replicas = counts
	_ = e.db.QueryRow(ctx, "SHOW server_version").Scan(&rep.Config.Postgres)
	rep.Server.Mode = "separate process (flovyn server), default engine settings"
	if e.natsURL != "" {
		rep.Server.Mode += "; every server linked by an embedded NATS"
	}
	rep.Server.PID = e.primary().pid()

	time.Sleep(time.Second) // let the server settle after start-up
	rep.Server.RSSIdleStartMB, _ = rss(e.primary().pid())
	progress("measuring the idle server")
	if rep.Server.Idle, err = e.idle(ctx, 3*time.Second); err != nil {
		return err
	}

	for _, sc := range scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := e.scaleTo(ctx, sc.replicas); err != nil {
			return err
		}
		progress("scenario %s, %d worker(s), %d starter(s), %d replica(s)", sc.name, sc.workers, sc.starters, sc.replicas)
		r, err := e.runScenario(ctx, sc)
		if err != nil {
			return fmt.Errorf("scenario %s/%d/%d replicas: %w", sc.name, sc.workers, sc.replicas, err)
		}
		rep.Scenarios = append(rep.Scenarios, r)
	}

	if err := e.scaleTo(ctx, 1); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // idle again: no workers, no load
	rep.Server.RSSIdleEndMB, rep.Server.PeakRSSMB = rss(e.primary().pid())
	for _, s := range e.allServers {
		w, er, samples := s.logProblems()
		rep.Server.Warnings += w
		rep.Server.Errors += er
		rep.Server.Samples = append(rep.Server.Samples, samples...)
	}
	rep.Server.Samples = rep.Server.Samples[:min(len(rep.Server.Samples), 10)]
	rep.SDK.Problems, rep.SDK.Samples = e.hub.problemReport()
	rep.Targets = targets(&rep)

	if !*jsonOnly {
		printTable(os.Stdout, &rep)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

type env struct {
	bin, dir   string // the flovyn binary; the bench's temporary directory
	dbURL      string
	natsURL    string // "" when no scenario has several replicas
	cfgPath    string
	servers    []*serverProc // running; servers[0] is the primary, never stopped
	starters   []*sdk.Client // starters[i] is connected to servers[i]
	allServers []*serverProc // every server started, for their logs
	postmaster int
	db         *pgxpool.Pool
	stats      *pgx.Conn
	hub        *hub
	tenant     uuid.UUID
	key        string
	http       *http.Client // the agent starters' REST calls
}

func (e *env) primary() *serverProc { return e.servers[0] }

// scaleTo starts or stops servers until n replicas run, each with a
// starters' connection.
func (e *env) scaleTo(ctx context.Context, n int) error {
	for len(e.servers) < n {
		i := len(e.servers)
		if i > 0 {
			progress("starting flovyn server replica %d", i+1)
		}
		s, err := startServer(ctx, e.bin, e.dir, i, e.cfgPath, e.dbURL, e.natsURL)
		if err != nil {
			return err
		}
		e.servers = append(e.servers, s)
		e.allServers = append(e.allServers, s)
		c, err := e.dial(ctx, i)
		if err != nil {
			return err
		}
		e.starters = append(e.starters, c)
	}
	for len(e.servers) > max(n, 1) {
		last := len(e.servers) - 1
		e.starters[last].Close()
		e.servers[last].stop()
		e.servers, e.starters = e.servers[:last], e.starters[:last]
	}
	return nil
}

func (e *env) stopServers() {
	for i := len(e.servers) - 1; i >= 0; i-- {
		e.starters[i].Close()
		e.servers[i].stop()
	}
}

// dial connects to replica i.
func (e *env) dial(ctx context.Context, i int) (*sdk.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return sdk.Dial(ctx, sdk.ClientOptions{Address: e.servers[i].grpcAddr, Token: e.key, OrgID: e.tenant.String()})
}

// startWorkers runs n workers, each on a connection of its own, spread
// round-robin over the running replicas, and returns once all are
// registered. With split, worker 0 runs only workflows and worker 1 only
// tasks.
func (e *env) startWorkers(ctx context.Context, queue string, n int, split bool) (stop func(), err error) {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var clients []*sdk.Client
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			for _, c := range clients {
				c.Close()
			}
		})
	}
	var workers []*sdk.Worker
	for k := range n {
		c, err := e.dial(ctx, k%len(e.servers))
		if err != nil {
			stop()
			return nil, err
		}
		clients = append(clients, c)
		w := sdk.NewWorker(c, sdk.WorkerOptions{Queue: queue, MaxConcurrentWorkflows: *maxWorkflows,
			MaxConcurrentTasks: *maxTasks, Logger: slog.New(hookHandler{h: e.hub})})
		if !split || k == 0 {
			w.RegisterWorkflow("hello", func(_ *sdk.WorkflowContext, in json.RawMessage) (any, error) { return in, nil })
			w.RegisterWorkflow("one-task", func(ctx *sdk.WorkflowContext, in json.RawMessage) (any, error) {
				return ctx.ExecuteTask("echo", in, sdk.TaskOptions{})
			})
			w.RegisterWorkflow("timer", func(ctx *sdk.WorkflowContext, in json.RawMessage) (any, error) {
				return in, ctx.Sleep(200 * time.Millisecond)
			})
			w.RegisterAgent(agentKind, func(ac *sdk.AgentContext, in json.RawMessage) (any, error) {
				e.hub.dispatched(ac.ID(), time.Now())
				var tasks []*sdk.AgentTask
				for i := range 3 {
					tasks = append(tasks, ac.ScheduleTask("echo", map[string]any{"in": in, "i": i}, sdk.AgentTaskOptions{}))
				}
				return ac.JoinAll(tasks...)
			})
		}
		if !split || k != 0 {
			w.RegisterTask("echo", func(tc *sdk.TaskContext, in json.RawMessage) (any, error) {
				e.hub.deliver(tc.TaskExecutionID(), time.Now())
				return in, nil
			})
		}
		workers = append(workers, w)
		wg.Go(func() {
			if err := w.Run(wctx); err != nil {
				e.hub.problem("worker: " + err.Error())
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, w := range workers {
		for w.WorkerID() == "" {
			if time.Now().After(deadline) {
				stop()
				return nil, errors.New("workers did not register within 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return stop, nil
}

// wfRun is one workflow as a starter saw it.
type wfRun struct {
	id         string
	start, end time.Time
}

type sample struct {
	at                          time.Time
	commits, rollbacks, nextXid int64
	server, self, pg, irq, busy uint64 // CPU clock ticks
}

func (e *env) sample(ctx context.Context) (s sample, err error) {
	s.at = time.Now()
	for _, srv := range e.servers {
		t, _, _ := procStat(strconv.Itoa(srv.pid()))
		s.server += t
	}
	s.self, _, _ = procStat("self")
	s.pg = pgTicks(e.postmaster)
	s.busy, s.irq = machineTicks()
	err = e.stats.QueryRow(ctx, `SELECT xact_commit, xact_rollback, pg_snapshot_xmax(pg_current_snapshot())::text::bigint
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&s.commits, &s.rollbacks, &s.nextXid)
	return s, err
}

// cpu is CPU use between two samples, in percent of one core.
type cpu struct {
	Server   float64 `json:"server"` // all replicas together
	Bench    float64 `json:"bench_workers_and_starters"`
	Postgres float64 `json:"postgres"`
	IRQ      float64 `json:"kernel_irq"` // mostly softirq: the loopback network
	Other    float64 `json:"other"`      // foreign processes: the machine was not quiet
}

func cpuBetween(s0, s1 sample) cpu {
	secs := s1.at.Sub(s0.at).Seconds()
	pct := func(a, b uint64) float64 { return round(float64(b-a) / secs) } // 100 ticks/s
	c := cpu{Server: pct(s0.server, s1.server), Bench: pct(s0.self, s1.self), Postgres: pct(s0.pg, s1.pg), IRQ: pct(s0.irq, s1.irq)}
	c.Other = round(max(0, pct(s0.busy, s1.busy)-c.Server-c.Bench-c.Postgres-c.IRQ))
	return c
}

// idle is what the server costs with no workers and no workflows.
type idle struct {
	CPU            cpu     `json:"cpu_percent_of_one_core"`
	CommitsPerSec  float64 `json:"pg_xact_commit_per_sec"`
	RollbackPerSec float64 `json:"pg_xact_rollback_per_sec"`
	WritesPerSec   float64 `json:"pg_write_xacts_per_sec"`
}

func (e *env) idle(ctx context.Context, d time.Duration) (idle, error) {
	s0, err := e.sample(ctx)
	if err != nil {
		return idle{}, err
	}
	time.Sleep(d)
	s1, err := e.sample(ctx)
	secs := s1.at.Sub(s0.at).Seconds()
	return idle{
		CPU:            cpuBetween(s0, s1),
		CommitsPerSec:  round(float64(s1.commits-s0.commits) / secs),
		RollbackPerSec: round(float64(s1.rollbacks-s0.rollbacks) / secs),
		WritesPerSec:   round(float64(s1.nextXid-s0.nextXid) / secs),
	}, err
}

func (e *env) runScenario(ctx context.Context, sc scenario) (result, error) {
	r := result{Name: sc.name, Workflow: sc.workflow, Workers: sc.workers, Starters: sc.starters, Replicas: sc.replicas, NATS: e.natsURL != ""}
	queue := fmt.Sprintf("bench-%s-%d-%d-r%d", sc.name, sc.workers, sc.starters, sc.replicas)
	stopWorkers, err := e.startWorkers(ctx, queue, sc.workers, sc.split)
	if err != nil {
		return r, err
	}
	defer stopWorkers()
	e.hub.takeDeliveries()

	w0 := time.Now().Add(*warmup)
	w1 := w0.Add(*duration)
	runs := make([][]wfRun, sc.starters)
	var startErrs, stuck, failed sync.Map
	var wg sync.WaitGroup
	for i := range sc.starters {
		wg.Go(func() {
			for n := 0; time.Now().Before(w1) && ctx.Err() == nil; n++ {
				t0 := time.Now()
				id, err := e.start(ctx, i, sc.workflow, queue, map[string]int{"starter": i, "n": n})
				if err != nil {
					startErrs.Store(t0, err.Error())
					time.Sleep(50 * time.Millisecond)
					continue
				}
				c, ok := e.hub.wait(ctx, id)
				switch {
				case !ok:
					stuck.Store(id, true)
				case c.failed:
					failed.Store(id, true)
				default:
					runs[i] = append(runs[i], wfRun{id, t0, c.at})
				}
			}
		})
	}
	time.Sleep(time.Until(w0))
	s0, err := e.sample(ctx)
	if err != nil {
		return r, err
	}
	time.Sleep(time.Until(w1))
	s1, err := e.sample(ctx)
	if err != nil {
		return r, err
	}
	wg.Wait() // the starters finish the workflows in flight
	stopWorkers()
	if ctx.Err() != nil {
		return r, ctx.Err()
	}

	var window []wfRun
	for _, rs := range runs {
		for _, x := range rs {
			if !x.end.Before(s0.at) && x.end.Before(s1.at) {
				window = append(window, x)
			}
		}
	}
	secs := s1.at.Sub(s0.at).Seconds()
	n := float64(len(window))
	r.Completed = len(window)
	r.Throughput = round(n / secs)
	lat := make([]float64, len(window))
	ids := make([]string, len(window))
	for i, x := range window {
		lat[i], ids[i] = ms(x.end.Sub(x.start)), x.id
	}
	r.Latency = distOf(lat)
	if n > 0 {
		r.TxnPerWf = round(float64(s1.commits-s0.commits) / n)
		r.RollbackPerWf = round(float64(s1.rollbacks-s0.rollbacks) / n)
		r.WriteTxnPerWf = round(float64(s1.nextXid-s0.nextXid) / n)
		r.ServerCPUMsPerWf = round(float64(s1.server-s0.server) * 10 / n) // 100 ticks/s
	}
	r.CPU = cpuBetween(s0, s1)
	for _, srv := range e.servers {
		m, _ := rss(srv.pid())
		r.ServerRSSMB += m
	}
	r.StartErrors, r.StartErrorSample = countMap(&startErrs)
	r.Stuck, _ = countMap(&stuck)
	r.Failed, _ = countMap(&failed)

	switch sc.workflow {
	case "one-task":
		r.TaskWakeup, r.TaskWakeupCreatedAt, err = e.taskWakeups(ctx, ids, e.hub.takeDeliveries())
	case "timer":
		r.TimerLateness, r.TimerLatenessCreatedAt, err = e.timerLateness(ctx, ids)
	case agentKind:
		r.AgentResume, err = e.agentResumes(ctx, ids, e.hub.takeDispatches())
	}
	if err != nil {
		return r, err
	}
	r.NotCompleted, err = e.leftovers(ctx, queue)
	return r, err
}

// agentKind is the agent of the agent-3-tasks scenario: it schedules three
// echo tasks at once and completes with their outputs (JoinAll), so each
// run is two dispatches, the second once the last task has completed.
const agentKind = "three-tasks"

// start starts one run of a scenario through starter i's replica: a
// workflow over gRPC, or an agent over REST.
func (e *env) start(ctx context.Context, i int, kind, queue string, input any) (string, error) {
	if kind != agentKind {
		return e.starters[i%len(e.starters)].StartWorkflow(ctx, kind, input, sdk.StartOptions{Queue: queue})
	}
	body, err := json.Marshal(map[string]any{"kind": kind, "queue": queue, "input": input})
	if err != nil {
		return "", err
	}
	url := "http://" + e.servers[i%len(e.servers)].httpAddr + "/api/orgs/bench/agent-executions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var created struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil || res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create agent: status %d (%v)", res.StatusCode, err)
	}
	return created.ID, nil
}

// agentResumes: the agent's last task completed (committed) → its
// function called again.
func (e *env) agentResumes(ctx context.Context, ids []string, dispatched map[string]time.Time) (*dist, error) {
	rows, err := e.db.Query(ctx, `SELECT agent_execution_id::text, max(pg_xact_commit_timestamp(xmin))
		FROM tasks WHERE agent_execution_id = ANY($1::text[]::uuid[]) GROUP BY 1`, ids)
	if err != nil {
		return nil, err
	}
	var lat []float64
	var agent string
	var lastDone *time.Time
	_, err = pgx.ForEachRow(rows, []any{&agent, &lastDone}, func() error {
		if at, ok := dispatched[agent]; ok && lastDone != nil && at.After(*lastDone) {
			lat = append(lat, ms(at.Sub(*lastDone)))
		}
		return nil
	})
	return distOf(lat), err
}

// taskWakeups: TASK_SCHEDULED committed (and created) → task function called.
func (e *env) taskWakeups(ctx context.Context, ids []string, delivered map[string]time.Time) (commit, created *dist, err error) {
	rows, err := e.db.Query(ctx, `SELECT event_data->>'taskExecutionId', created_at, pg_xact_commit_timestamp(xmin)
		FROM workflow_events WHERE workflow_id = ANY($1::text[]::uuid[]) AND event_type = 'TASK_SCHEDULED'`, ids)
	if err != nil {
		return nil, nil, err
	}
	var fromCommit, fromCreated []float64
	var task string
	var createdAt time.Time
	var committedAt *time.Time
	_, err = pgx.ForEachRow(rows, []any{&task, &createdAt, &committedAt}, func() error {
		at, ok := delivered[task]
		if !ok {
			return nil
		}
		fromCreated = append(fromCreated, ms(at.Sub(createdAt)))
		if committedAt != nil {
			fromCommit = append(fromCommit, ms(at.Sub(*committedAt)))
		}
		return nil
	})
	return distOf(fromCommit), distOf(fromCreated), err
}

// timerLateness: TIMER_FIRED committed (and created) − TIMER_STARTED fireAt.
func (e *env) timerLateness(ctx context.Context, ids []string) (commit, created *dist, err error) {
	rows, err := e.db.Query(ctx, `SELECT workflow_id::text || '/' || (event_data->>'timerId'), event_type,
		    coalesce((event_data->>'fireAt')::bigint, 0), created_at, pg_xact_commit_timestamp(xmin)
		FROM workflow_events WHERE workflow_id = ANY($1::text[]::uuid[]) AND event_type IN ('TIMER_STARTED', 'TIMER_FIRED')`, ids)
	if err != nil {
		return nil, nil, err
	}
	type fired struct{ created, committed time.Time }
	fireAt := map[string]int64{}
	firedAt := map[string]fired{}
	var key, typ string
	var fa int64
	var createdAt time.Time
	var committedAt *time.Time
	_, err = pgx.ForEachRow(rows, []any{&key, &typ, &fa, &createdAt, &committedAt}, func() error {
		if typ == "TIMER_STARTED" {
			fireAt[key] = fa
		} else if committedAt != nil {
			firedAt[key] = fired{createdAt, *committedAt}
		}
		return nil
	})
	var fromCommit, fromCreated []float64
	for k, f := range firedAt {
		if at, ok := fireAt[k]; ok {
			due := time.UnixMilli(at)
			fromCommit = append(fromCommit, ms(f.committed.Sub(due)))
			fromCreated = append(fromCreated, ms(f.created.Sub(due)))
		}
	}
	return distOf(fromCommit), distOf(fromCreated), err
}

// leftovers counts the scenario's workflows and tasks that did not complete
// after the starters gave up on them or drained.
func (e *env) leftovers(ctx context.Context, queue string) (map[string]int, error) {
	rows, err := e.db.Query(ctx, `SELECT 'workflow ' || status, count(*) FROM workflow_executions WHERE queue = $1 AND status <> 'COMPLETED' GROUP BY 1
		UNION ALL SELECT 'task ' || status, count(*) FROM tasks WHERE queue = $1 AND status <> 'COMPLETED' GROUP BY 1
		UNION ALL SELECT 'agent ' || status, count(*) FROM agent_executions WHERE queue = $1 AND status <> 'COMPLETED' GROUP BY 1`, queue)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var k string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// positiveList parses a comma-separated list of positive numbers.
func positiveList(flagName, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive number", flagName, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func countMap(m *sync.Map) (n int, sample string) {
	m.Range(func(_, v any) bool {
		n++
		if s, ok := v.(string); ok && sample == "" {
			sample = s
		}
		return true
	})
	return n, sample
}
