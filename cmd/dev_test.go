package cmd_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/flovyn/flovyn/internal/pgtest"
	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/store"
)

// flovynBin is the real binary, built once for the package's tests.
var flovynBin string

func TestMain(m *testing.M) {
	if os.Getenv(workerModeEnv) != "" {
		os.Exit(runWorkerProcess()) // this test binary, started as a user's worker by a CLI test
	}
	dir, err := os.MkdirTemp("", "flovyn-bin-")
	if err != nil {
		panic(err)
	}
	flovynBin = filepath.Join(dir, "flovyn")
	build := exec.Command("go", "build", "-o", flovynBin, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build flovyn: " + err.Error())
	}
	code := pgtest.Main(m, store.MigrateURL)
	os.RemoveAll(dir)
	os.Exit(code)
}

type devRun struct {
	cmd    *exec.Cmd
	banner map[string]string
	stderr *strings.Builder
}

var exportLine = regexp.MustCompile(`^\s*export (\w+)=(\S+)$`)

// startDev runs `flovyn dev` on dataDir and waits for its banner.
func startDev(t *testing.T, dataDir string) *devRun {
	t.Helper()
	cmd := exec.Command(flovynBin, "dev", "--data-dir", dataDir, "--http-port", "0", "--grpc-port", "0")
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dataDir, "config"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &devRun{cmd: cmd, banner: map[string]string{}, stderr: &strings.Builder{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	ready := make(chan struct{})
	go func() {
		for lines.Scan() {
			if m := exportLine.FindStringSubmatch(lines.Text()); m != nil {
				r.banner[m[1]] = m[2]
				if m[1] == "FLOVYN_API_KEY" {
					close(ready)
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("no banner from flovyn dev; stderr:\n%s", r.stderr)
	}
	return r
}

// stop sends Ctrl-C and expects a clean exit.
func (r *devRun) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("flovyn dev exited with %v; stderr:\n%s", err, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flovyn dev did not stop after SIGINT")
	}
}

func TestDevEndToEnd(t *testing.T) {
	dataDir, err := os.MkdirTemp("", "flovyn-dev-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	if err := os.Chmod(dataDir, 0o755); err != nil { // reachable by the database's own user when run as root
		t.Fatal(err)
	}

	first := startDev(t, dataDir)
	b := first.banner
	resp, err := http.Get(b["FLOVYN_SERVER"] + "/_/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"UP"`) {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(b["FLOVYN_WORKER_TOKEN"], "fwt_") || b["FLOVYN_TENANT"] != "default" {
		t.Fatalf("banner credentials: %v", b)
	}

	// The printed worker token works on gRPC.
	conn, err := grpc.NewClient(strings.TrimPrefix(b["FLOVYN_GRPC"], "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+b["FLOVYN_WORKER_TOKEN"])
	reg, err := flovynv1.NewWorkerLifecycleClient(conn).RegisterWorker(ctx, &flovynv1.WorkerRegistrationRequest{WorkerName: "dev-test", WorkerType: "UNIFIED"})
	conn.Close()
	if err != nil || !reg.Success {
		t.Fatalf("RegisterWorker with the printed token: %v %v", reg, err)
	}
	profiles, err := os.ReadFile(filepath.Join(dataDir, "config", "flovyn", "profiles.toml"))
	if err != nil || !strings.Contains(string(profiles), b["FLOVYN_API_KEY"]) || !strings.Contains(string(profiles), `current = 'dev'`) {
		t.Fatalf("dev CLI profile: %s (%v)", profiles, err)
	}
	first.stop(t)
	if out, _ := exec.Command("pgrep", "-f", "postgres -D "+dataDir).Output(); len(out) > 0 {
		t.Fatalf("postgres still running after flovyn dev stopped: pids %s", out)
	}

	// A second start on the same data has the same tenant and credentials.
	second := startDev(t, dataDir)
	for _, k := range []string{"FLOVYN_ORG_ID", "FLOVYN_WORKER_TOKEN", "FLOVYN_API_KEY"} {
		if second.banner[k] != b[k] {
			t.Errorf("%s changed across restarts: %q then %q", k, b[k], second.banner[k])
		}
	}
	second.stop(t)
}

func TestBadConfigExitsTwo(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("server_port = \"eighty\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flovynBin, "server", "--config", bad)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2; output %s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "server_port") {
		t.Fatalf("want one line naming server_port, got %q", out)
	}
}
