package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
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

// The CLI tests run the real binary (flovynBin) against an in-process server
// on a fresh database, with these credentials.
var acme = store.Tenant{ID: uuid.MustParse("3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"), Slug: "acme", Name: "Acme", Tier: "FREE"}

const (
	adminKey  = "flovyn_sk_cli_test_instance_admin" // User, OWNER of acme and instance admin
	ownerKey  = "flovyn_sk_cli_test_acme_owner_01"  // User, OWNER of acme only
	workerKey = "flovyn_wk_cli_test_acme_worker_1"  // Worker of acme
)

type cliServer struct {
	t       *testing.T
	srv     *server.Server
	url     string // REST base URL
	grpc    string // gRPC address
	home    string // HOME and XDG_CONFIG_HOME of the CLI
	baseEnv map[string]string
}

// startServer runs a server for one test and returns a harness whose CLI
// runs default to FLOVYN_SERVER, FLOVYN_API_KEY=adminKey and FLOVYN_TENANT=acme.
func startServer(t *testing.T) *cliServer {
	t.Helper()
	o := server.Options{
		DatabaseURL:   pgtest.NewDatabase(t),
		HTTPAddr:      "127.0.0.1:0",
		GRPCAddr:      "127.0.0.1:0",
		RunMigrations: true,
		Tenants:       []store.Tenant{acme},
		StaticKeys: []auth.StaticKey{
			{Key: adminKey, Principal: auth.Principal{TenantID: acme.ID, Type: auth.PrincipalUser, ID: "api:root", Role: "OWNER", InstanceAdmin: true}},
			{Key: ownerKey, Principal: auth.Principal{TenantID: acme.ID, Type: auth.PrincipalUser, ID: "api:owner", Role: "OWNER"}},
			{Key: workerKey, Principal: auth.Principal{TenantID: acme.ID, Type: auth.PrincipalWorker, ID: "worker:test"}},
		},
		GRPCMethods: auth.AllMethods,
		HTTPMethods: auth.AllMethods,
		Engine:      engine.Config{PollHold: 300 * time.Millisecond, RecheckInterval: 100 * time.Millisecond},
	}
	srv := servertest.Start(t, o)
	s := &cliServer{t: t, srv: srv, url: "http://" + srv.HTTPAddr(), grpc: srv.GRPCAddr(), home: t.TempDir()}
	s.baseEnv = map[string]string{"FLOVYN_SERVER": s.url, "FLOVYN_API_KEY": adminKey, "FLOVYN_TENANT": acme.Slug}
	return s
}

// result is one finished CLI run.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("flovyn %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs the CLI with the default environment.
func (s *cliServer) run(args ...string) result {
	s.t.Helper()
	return s.runWith(runOpts{}, args...)
}

// runOpts change one run: env entries replace the defaults (an empty value
// removes the variable), stdin is fed to the process.
type runOpts struct {
	env   map[string]string
	stdin string
}

func (s *cliServer) runWith(o runOpts, args ...string) result {
	s.t.Helper()
	return runCLI(s.t, s.command(o, args...), args)
}

// runCLI runs a flovyn process to its end and returns what it printed and
// its exit code.
func runCLI(t *testing.T, cmd *exec.Cmd, args []string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run flovyn %v: %v", args, err)
	}
	return r
}

// command builds a CLI process: its config dir is the test's, and no
// FLOVYN_* variable of the developer's shell leaks in.
func (s *cliServer) command(o runOpts, args ...string) *exec.Cmd {
	cmd := exec.Command(flovynBin, args...)
	env := map[string]string{}
	for k, v := range s.baseEnv {
		env[k] = v
	}
	for k, v := range o.env {
		env[k] = v
	}
	cmd.Env = cliEnv(s.home, env)
	if o.stdin != "" {
		cmd.Stdin = strings.NewReader(o.stdin)
	}
	return cmd
}

func cliEnv(home string, vars map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FLOVYN_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	for k, v := range vars {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// ok runs the CLI and fails the test unless it exits 0.
func (s *cliServer) ok(args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("want exit 0: %s", r)
	}
	return r
}

// fails runs the CLI and checks its exit code and one-line stderr.
func (s *cliServer) fails(code int, wantErr string, args ...string) result {
	s.t.Helper()
	return s.failsWith(runOpts{}, code, wantErr, args...)
}

func (s *cliServer) failsWith(o runOpts, code int, wantErr string, args ...string) result {
	s.t.Helper()
	r := s.runWith(o, args...)
	checkFailure(s.t, r, code, wantErr)
	return r
}

func checkFailure(t *testing.T, r result, code int, wantErr string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "flovyn: ") || !strings.Contains(lines[0], wantErr) {
		t.Fatalf("want one stderr line \"flovyn: …%s…\": %s", wantErr, r)
	}
}

// decode parses a run's stdout as JSON into out.
func decode(t *testing.T, r result, out any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		t.Fatalf("stdout is not JSON (%v): %s", err, r)
	}
}

// noBoxDrawing checks that piped output is plain text.
func noBoxDrawing(t *testing.T, r result) {
	t.Helper()
	for _, c := range r.stdout {
		if c >= 0x2500 && c <= 0x257F || c == 0x1b {
			t.Fatalf("piped output has box drawing or escape characters: %s", r)
		}
	}
}

// ---- workers ----

// registerTestWorkflows registers the workflows and tasks the CLI tests run.
func registerTestWorkflows(w *sdk.Worker) {
	w.RegisterTask("upper", func(_ *sdk.TaskContext, input json.RawMessage) (any, error) {
		var s string
		if err := json.Unmarshal(input, &s); err != nil {
			return nil, err
		}
		return strings.ToUpper(s), nil
	})
	// greet: {"name": N} → {"greeting": "Hello, <upper N>"}, through a task.
	w.RegisterWorkflow("greet", func(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
		var in struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		name, err := sdk.ExecuteTask[string](ctx, "upper", in.Name, sdk.TaskOptions{})
		if err != nil {
			return nil, err
		}
		return map[string]string{"greeting": "Hello, " + name}, nil
	})
	// fail: fails with "boom: <reason>".
	w.RegisterWorkflow("fail", func(_ *sdk.WorkflowContext, input json.RawMessage) (any, error) {
		var in struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(input, &in)
		return nil, errors.New("boom: " + in.Reason)
	})
	// await-signal: waits for signal "go" and returns {"got": value}.
	w.RegisterWorkflow("await-signal", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
		return map[string]json.RawMessage{"got": ctx.WaitSignal("go")}, nil
	})
	// await-promise: waits on promise "approval" and returns {"approval": value}.
	w.RegisterWorkflow("await-promise", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
		v, err := ctx.Promise("approval", sdk.PromiseOptions{}).Raw()
		if err != nil {
			return nil, err
		}
		return map[string]json.RawMessage{"approval": v}, nil
	})
}

// worker runs an SDK worker in the test process with token, on queue
// "default", until the test ends.
func (s *cliServer) worker(token string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: s.grpc, Token: token})
	if err != nil {
		s.t.Fatal(err)
	}
	w := sdk.NewWorker(c, sdk.WorkerOptions{Name: "cli-test-worker", NoWorkBackoff: 10 * time.Millisecond})
	registerTestWorkflows(w)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	s.t.Cleanup(func() {
		stop()
		<-done
		c.Close()
	})
}

// workerModeEnv makes the test binary run as a worker process (TestMain),
// with FLOVYN_GRPC and FLOVYN_WORKER_TOKEN, as a user's worker would.
const workerModeEnv = "FLOVYN_CLI_TEST_WORKER"

func runWorkerProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := sdk.Dial(dctx, sdk.ClientOptions{Address: os.Getenv("FLOVYN_GRPC"), Token: os.Getenv("FLOVYN_WORKER_TOKEN")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer c.Close()
	w := sdk.NewWorker(c, sdk.WorkerOptions{Name: "ci-worker", NoWorkBackoff: 10 * time.Millisecond})
	registerTestWorkflows(w)
	if err := w.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// waitForEvent polls the history (through the CLI) until eventType appears.
func (s *cliServer) waitForEvent(id, eventType string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var doc struct {
			Events []struct {
				EventType string `json:"eventType"`
			} `json:"events"`
		}
		decode(s.t, s.ok("workflow", "events", id, "-o", "json"), &doc)
		for _, e := range doc.Events {
			if e.EventType == eventType {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s in the history of %s after 20 s: %+v", eventType, id, doc.Events)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startID starts a workflow with -q and returns its id.
func (s *cliServer) startID(args ...string) string {
	s.t.Helper()
	r := s.ok(append([]string{"workflow", "start", "-q"}, args...)...)
	id := strings.TrimSpace(r.stdout)
	if _, err := uuid.Parse(id); err != nil {
		s.t.Fatalf("start -q printed %q, not an id: %s", id, r)
	}
	return id
}
