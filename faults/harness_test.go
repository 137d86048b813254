package faults

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flovyn/flovyn/embed"
	"github.com/flovyn/flovyn/sdk"
)

// The engine timings every replica runs with: the defaults, but for a
// shorter poll hold and recheck. The leases (worker_timeout and
// workflow_task_lease) are the defaults, so TestReplicaKilled measures the
// recovery a user gets.
var engineEnv = []string{
	"ENGINE__POLL_HOLD=500ms",
	"ENGINE__RECHECK_INTERVAL=200ms",
}

const (
	// waitTimeout bounds each wait of a test: generous, since it only
	// matters when something is broken (2 shared cores, several processes).
	waitTimeout = 90 * time.Second
	// timerDelay is the timer each test workflow sleeps on.
	timerDelay = 300 * time.Millisecond
)

var (
	rootDir   string // removed after the tests; reachable by the postgres user
	flovynBin string // built once by TestMain
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "flovyn-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// As root, PostgreSQL runs as an unprivileged user that must reach its
	// data dir below this one.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	rootDir = dir
	flovynBin = filepath.Join(dir, "flovyn")
	build := exec.Command("go", "build", "-o", flovynBin, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: go build:", err)
		return 1
	}
	return m.Run()
}

// spawn starts cmd from one OS thread that lives as long as the test binary:
// Pdeathsig fires when the thread that started the child exits, and the
// children must die with the test binary, not with a thread.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error)
	spawnReqs <- spawnReq{cmd, done}
	return <-done
}

// cluster is one PostgreSQL, optionally one NATS, and flovyn server
// processes sharing them, with one tenant and a static worker key.
type cluster struct {
	t        *testing.T
	dir      string
	pgOpts   embed.PostgresOptions
	pg       *embed.Postgres
	dbURL    string
	nats     *embed.NATS
	natsPort int
	tenant   uuid.UUID
	key      string // a worker's
	adminKey string // a user's, for REST
	cfgPath  string
	db       *pgxpool.Pool // the test's own look at the database

	mu       sync.Mutex
	replicas []*replica
	workers  []*worker
	sdkLog   *syncBuffer // warnings and errors of the SDK workers
}

// newCluster starts PostgreSQL, NATS when withNATS, and n replicas.
func newCluster(t *testing.T, n int, withNATS bool) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp(rootDir, regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, tenant: uuid.New(), key: "flovyn_wk_faults_" + uuid.NewString()[:16],
		adminKey: "flovyn_sk_faults_" + uuid.NewString()[:16], sdkLog: &syncBuffer{}}
	t.Cleanup(c.close)

	c.pgOpts = embed.PostgresOptions{DataDir: filepath.Join(dir, "pg"), Ephemeral: true, Database: "flovyn"}
	if c.pg, err = embed.StartPostgres(t.Context(), c.pgOpts); err != nil {
		t.Fatal(err)
	}
	c.pgOpts.Port = c.pg.Port() // a restart must come back where the replicas look
	c.dbURL = c.pg.URL("flovyn")
	if c.db, err = pgxpool.New(t.Context(), c.dbURL); err != nil {
		t.Fatal(err)
	}
	if withNATS {
		c.startNATS()
	}

	c.cfgPath = filepath.Join(dir, "flovyn.toml")
	cfg := fmt.Sprintf(`[[orgs]]
id = %q
slug = "faults"

[auth]
enabled = true

[auth.static_api_key]
keys = [
  { key = %q, org_id = %q, principal_type = "Worker", principal_id = "worker:faults" },
  { key = %q, org_id = %q, principal_type = "User", principal_id = "user:faults", role = "ADMIN" },
]

[auth.endpoints.http]
authenticators = ["static_api_key"]
authorizer = "cedar"

[auth.endpoints.grpc]
authenticators = ["static_api_key"]
authorizer = "cedar"
`, c.tenant, c.key, c.tenant, c.adminKey, c.tenant)
	if err := os.WriteFile(c.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The first replica migrates the database alone; the others find it ready.
	for range n {
		c.startReplica()
	}
	return c
}

// startNATS starts NATS, on the port of the previous one if there was one.
func (c *cluster) startNATS() {
	c.t.Helper()
	n, err := embed.StartNATS(embed.NATSOptions{Port: c.natsPort})
	if err != nil {
		c.t.Fatal(err)
	}
	c.nats = n
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(n.URL(), "nats://"))
	c.natsPort, _ = strconv.Atoi(port)
}

func (c *cluster) stopNATS() {
	c.nats.Stop()
	c.nats = nil
}

// stopPostgres shuts PostgreSQL down (fast shutdown: sessions are
// terminated, open transactions rolled back); startPostgres brings it back
// on the same data dir and port.
func (c *cluster) stopPostgres() {
	c.t.Helper()
	if err := c.pg.Stop(); err != nil {
		c.t.Fatal(err)
	}
	c.pg = nil
}

func (c *cluster) startPostgres() {
	c.t.Helper()
	pg, err := embed.StartPostgres(c.t.Context(), c.pgOpts)
	if err != nil {
		c.t.Fatal(err)
	}
	c.pg = pg
}

func (c *cluster) close() {
	t := c.t
	c.mu.Lock()
	workers, replicas := c.workers, c.replicas
	c.mu.Unlock()
	for _, w := range workers {
		w.kill()
	}
	for _, w := range workers {
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Errorf("worker %s did not stop", w.name)
		}
	}
	for _, r := range replicas {
		r.stop()
	}
	if t.Failed() {
		for _, r := range replicas {
			t.Logf("log of replica %d (last lines):\n%s", r.n, r.logTail(40))
		}
		if s := c.sdkLog.tail(30); s != "" {
			t.Logf("SDK worker warnings (last lines):\n%s", s)
		}
	}
	if c.db != nil {
		c.db.Close()
	}
	if c.nats != nil {
		c.nats.Stop()
	}
	if c.pg != nil {
		if err := c.pg.Stop(); err != nil {
			t.Error(err)
		}
	}
	os.RemoveAll(c.dir)
}

// replica is one `flovyn server` process.
type replica struct {
	c        *cluster
	n        int
	cmd      *exec.Cmd
	httpAddr string
	grpcAddr string
	logPath  string
	exited   chan struct{}
}

// startReplica runs one more `flovyn server` and waits until it is healthy.
func (c *cluster) startReplica() *replica {
	c.t.Helper()
	c.mu.Lock()
	n := len(c.replicas)
	c.mu.Unlock()
	var r *replica
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		// A free port can be taken by someone else before the server binds it.
		if r, err = c.tryReplica(n); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.replicas = append(c.replicas, r)
	c.mu.Unlock()
	return r
}

func (c *cluster) tryReplica(n int) (*replica, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	r := &replica{c: c, n: n, exited: make(chan struct{}),
		httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		grpcAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		logPath:  filepath.Join(c.dir, fmt.Sprintf("replica-%d.log", n))}
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	r.cmd = exec.Command(flovynBin, "server")
	r.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"CONFIG_FILE=" + c.cfgPath,
		"DATABASE_URL=" + c.dbURL,
		"BIND_ADDRESS=127.0.0.1",
		"SERVER_PORT=" + strconv.Itoa(ports[0]),
		"GRPC_SERVER_PORT=" + strconv.Itoa(ports[1]),
		"LOG_LEVEL=info",
		"LOG_FORMAT=text",
	}, engineEnv...)
	if c.natsPort != 0 {
		r.cmd.Env = append(r.cmd.Env, "NATS__ENABLED=true", fmt.Sprintf("NATS__URL=nats://127.0.0.1:%d", c.natsPort))
	}
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tests
	if err := spawn(r.cmd); err != nil {
		return nil, err
	}
	go func() { r.cmd.Wait(); close(r.exited) }()

	deadline := time.Now().Add(waitTimeout)
	for r.health() != http.StatusOK {
		select {
		case <-r.exited:
			return nil, fmt.Errorf("replica %d exited at start:\n%s", n, r.logTail(20))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.kill()
			return nil, fmt.Errorf("replica %d not healthy after %s:\n%s", n, waitTimeout, r.logTail(20))
		}
	}
	return r, nil
}

// health is the status code of GET /_/health, 0 when there is no answer.
func (r *replica) health() int {
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + r.httpAddr + "/_/health")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *replica) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// stop shuts the replica down gracefully (SIGKILL if it takes too long).
func (r *replica) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		r.kill()
	}
}

func (r *replica) log() string {
	b, _ := os.ReadFile(r.logPath)
	return string(b)
}

func (r *replica) logTail(n int) string {
	lines := strings.Split(strings.TrimSpace(r.log()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitHealth waits until every listed replica answers its health check
// with code.
func (c *cluster) waitHealth(code int, rs ...*replica) {
	c.t.Helper()
	for _, r := range rs {
		waitUntil(c.t, fmt.Sprintf("replica %d health is %d", r.n, code), func() bool { return r.health() == code })
	}
}

// client dials a replica with the tenant's worker key.
func (c *cluster) client(r *replica) *sdk.Client {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := sdk.Dial(ctx, sdk.ClientOptions{Address: r.grpcAddr, Token: c.key, OrgID: c.tenant.String(), ResultPollInterval: 50 * time.Millisecond})
	if err != nil {
		c.t.Fatalf("dial replica %d: %v", r.n, err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// worker is an SDK worker of the test process, connected to one replica.
type worker struct {
	name   string
	client *sdk.Client
	w      *sdk.Worker
	cancel context.CancelFunc
	done   chan struct{}
}

// startWorker runs a worker on r and returns once it is registered.
func (c *cluster) startWorker(r *replica, queue, name string, register func(w *sdk.Worker)) *worker {
	c.t.Helper()
	cl := c.client(r)
	w := &worker{name: name, client: cl, done: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(c.sdkLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w.w = sdk.NewWorker(cl, sdk.WorkerOptions{Queue: queue, Name: name, NoWorkBackoff: 10 * time.Millisecond, Logger: log})
	register(w.w)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		defer close(w.done)
		if err := w.w.Run(ctx); err != nil && ctx.Err() == nil {
			c.t.Errorf("worker %s: %v", name, err)
		}
	}()
	c.mu.Lock()
	c.workers = append(c.workers, w)
	c.mu.Unlock()
	waitUntil(c.t, "worker "+name+" registered", func() bool { return w.w.WorkerID() != "" })
	return w
}

// kill makes the worker vanish as a crashed process would: it stops
// polling and its connection drops, whatever it is running.
func (w *worker) kill() {
	w.cancel()
	w.client.Close()
}

// waitUntil polls cond until it holds; the test fails after waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", waitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(s.b.String()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// maxRecovery bounds how long the work held through a replica killed with
// SIGKILL waits before a surviving replica offers it again (DESIGN §7).
const maxRecovery = 15 * time.Second

// orphans are the workflow tasks, agents and tasks some workers held.
type orphans struct {
	workers   []string
	workflows []string
	agents    []string
	tasks     []string
}

func (o orphans) len() int { return len(o.workflows) + len(o.agents) + len(o.tasks) }

// tables maps each table to the orphans that are its rows.
func (o *orphans) tables() map[string]*[]string {
	return map[string]*[]string{"workflow_executions": &o.workflows, "agent_executions": &o.agents, "tasks": &o.tasks}
}

// heldBy lists what the workers hold now.
func (c *cluster) heldBy(workers []*worker) orphans {
	c.t.Helper()
	var o orphans
	for _, w := range workers {
		o.workers = append(o.workers, w.w.WorkerID())
	}
	for table, ids := range o.tables() {
		rows, err := c.db.Query(c.t.Context(),
			`SELECT id::text FROM `+table+` WHERE status = 'RUNNING' AND worker_id = ANY($1)`, o.workers)
		if err != nil {
			c.t.Fatal(err)
		}
		if *ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			c.t.Fatal(err)
		}
	}
	if o.len() == 0 {
		c.t.Fatal("the workers hold nothing")
	}
	return o
}

// redispatched reports whether every orphan is held by another worker now,
// or has ended.
func (c *cluster) redispatched(o orphans) bool {
	for table, ids := range o.tables() {
		var waiting int
		err := c.db.QueryRow(c.t.Context(),
			`SELECT count(*) FROM `+table+` WHERE id::text = ANY($1)
			     AND (status = 'PENDING' OR status = 'RUNNING' AND worker_id = ANY($2))`, *ids, o.workers).Scan(&waiting)
		if err != nil || waiting > 0 {
			return false
		}
	}
	return true
}
