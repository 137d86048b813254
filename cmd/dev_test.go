package cmd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
	banner map[string]string // the export lines
	text   string            // the whole banner
	stderr *syncBuffer
}

var exportLine = regexp.MustCompile(`^\s*export (\w+)=(\S+)$`)

// syncBuffer is a process's output, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startDev runs `flovyn dev` on dataDir and waits for its banner; its CLI
// profiles live in dataDir/config.
func startDev(t *testing.T, dataDir string) *devRun {
	t.Helper()
	return startDevWith(t, filepath.Join(dataDir, "config"), "--data-dir", dataDir, "--http-port", "0", "--grpc-port", "0")
}

// startDevWith runs `flovyn dev args…` with XDG_CONFIG_HOME=configDir and
// no FLOVYN_* variable, and waits for the whole banner.
func startDevWith(t *testing.T, configDir string, args ...string) *devRun {
	t.Helper()
	cmd := exec.Command(flovynBin, append([]string{"dev"}, args...)...)
	cmd.Env = devEnv(configDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &devRun{cmd: cmd, banner: map[string]string{}, stderr: &syncBuffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	ready := make(chan struct{})
	go func() {
		var text strings.Builder
		for lines.Scan() {
			text.WriteString(lines.Text() + "\n")
			if m := exportLine.FindStringSubmatch(lines.Text()); m != nil {
				r.banner[m[1]] = m[2]
			}
			if strings.HasPrefix(lines.Text(), "Ctrl-C") { // the banner's last line
				r.text = text.String()
				close(ready)
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

// devEnv is the environment of a flovyn process: the test's, less FLOVYN_*
// variables, with its own config dir.
func devEnv(configDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FLOVYN_") || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "XDG_CONFIG_HOME="+configDir)
}

// devDataDir is a data dir for one test, reachable by the database's own
// user when the tests run as root.
func devDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// devCLI runs an admin command next to a flovyn dev whose profiles are in configDir.
func devCLI(t *testing.T, configDir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(flovynBin, args...)
	cmd.Env = devEnv(configDir)
	return runCLI(t, cmd, args)
}

// runBounded runs a flovyn process that should exit by itself, and fails
// the test if it has not after a minute (a defect that lets it run on).
func runBounded(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after 60 s; stdout:\n%s\nstderr:\n%s", cmd.Args, stdout.String(), stderr.String())
	}
	r := result{args: cmd.Args[1:], stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// health checks that a server answers GET /_/health with 200 UP.
func health(t *testing.T, server string) {
	t.Helper()
	resp, err := http.Get(server + "/_/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"UP"`) {
		t.Fatalf("health of %s: %d %s", server, resp.StatusCode, body)
	}
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
	health(t, b["FLOVYN_SERVER"])
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

// A second flovyn dev on the same data dir says who runs it and exits 1,
// changing nothing: the first keeps its PostgreSQL and keeps answering.
func TestDevSecondStartOnSameDataDir(t *testing.T) {
	t.Parallel()
	dataDir := devDataDir(t)
	config := filepath.Join(dataDir, "config")
	first := startDev(t, dataDir)
	httpPort := first.banner["FLOVYN_SERVER"][strings.LastIndex(first.banner["FLOVYN_SERVER"], ":")+1:]
	grpcPort := first.banner["FLOVYN_GRPC"][strings.LastIndex(first.banner["FLOVYN_GRPC"], ":")+1:]
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return string(b)
	}
	profiles := filepath.Join(config, "flovyn", "profiles.toml")
	pidFile := filepath.Join(dataDir, "postgres", "postmaster.pid")
	lockFile := filepath.Join(dataDir, "flovyn-dev.lock")
	before := []string{read(profiles), read(pidFile), read(lockFile)}

	// The same ports, as a second `flovyn dev` in another terminal would use.
	second := exec.Command(flovynBin, "dev", "--data-dir", dataDir, "--http-port", httpPort, "--grpc-port", grpcPort)
	second.Env = devEnv(config)
	r := runBounded(t, second)
	want := fmt.Sprintf("flovyn dev is already running on this data dir (pid %d, http :%s, grpc :%s)\n", first.cmd.Process.Pid, httpPort, grpcPort)
	if r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Fatalf("second flovyn dev: want exit 1 and stderr %q: %s", want, r)
	}
	if after := []string{read(profiles), read(pidFile), read(lockFile)}; strings.Join(after, "\x00") != strings.Join(before, "\x00") {
		t.Fatalf("the second flovyn dev changed the profiles, the postmaster.pid or the lock file:\nbefore %q\nafter  %q", before, after)
	}

	health(t, first.banner["FLOVYN_SERVER"])
	if r := devCLI(t, config, "workflow", "list"); r.code != 0 || !strings.HasPrefix(r.stdout, "ID\tKIND") {
		t.Fatalf("the CLI next to the first flovyn dev: %s", r)
	}
	if r := devCLI(t, config, "token", "create", "-q"); r.code != 0 || !strings.HasPrefix(r.stdout, "fwt_") {
		t.Fatalf("token create next to the first flovyn dev: %s", r)
	}
	first.stop(t)
}

// A lock left by a flovyn dev that was killed does not stop the next start,
// which also stops the PostgreSQL the dead one may have left.
func TestDevStartsOverAStaleLock(t *testing.T) {
	t.Parallel()
	dataDir := devDataDir(t)
	first := startDev(t, dataDir)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	lock, err := os.ReadFile(filepath.Join(dataDir, "flovyn-dev.lock"))
	if err != nil || !strings.Contains(string(lock), fmt.Sprintf(`"pid":%d`, first.cmd.Process.Pid)) {
		t.Fatalf("the killed flovyn dev left no lock file naming it: %q %v", lock, err)
	}
	second := startDev(t, dataDir)
	health(t, second.banner["FLOVYN_SERVER"])
	if second.banner["FLOVYN_API_KEY"] != first.banner["FLOVYN_API_KEY"] {
		t.Fatalf("the data did not survive: admin key %q then %q", first.banner["FLOVYN_API_KEY"], second.banner["FLOVYN_API_KEY"])
	}
	second.stop(t)
}

// flovyn dev --ephemeral keeps nothing: it saves the profile
// "dev-ephemeral", never the "dev" profile of the persistent data dir, and
// its banner does not promise to keep the data.
func TestDevEphemeralProfile(t *testing.T) {
	t.Parallel()

	// A user who has a saved dev profile (current).
	config := t.TempDir()
	if err := os.MkdirAll(filepath.Join(config, "flovyn"), 0o700); err != nil {
		t.Fatal(err)
	}
	saved := "current = 'dev'\n\n[profiles.dev]\nserver = 'http://127.0.0.1:8000'\ntenant = 'default'\napi_key = 'fak_saved'\n"
	profilesPath := filepath.Join(config, "flovyn", "profiles.toml")
	if err := os.WriteFile(profilesPath, []byte(saved), 0o600); err != nil {
		t.Fatal(err)
	}
	eph := startDevWith(t, config, "--ephemeral", "--http-port", "0", "--grpc-port", "0")
	if strings.Contains(eph.text, "keeps your data") || !strings.Contains(eph.text, "nothing is kept") {
		t.Fatalf("the ephemeral banner promises to keep data:\n%s", eph.text)
	}
	if !strings.Contains(eph.text, `Saved as CLI profile "dev-ephemeral" (use --profile dev-ephemeral; your current profile is "dev")`) {
		t.Fatalf("banner's profile line:\n%s", eph.text)
	}
	profiles, err := os.ReadFile(profilesPath)
	if err != nil {
		t.Fatal(err)
	}
	p := string(profiles)
	if !strings.Contains(p, "current = 'dev'\n") || !strings.Contains(p, "[profiles.dev]\nserver = 'http://127.0.0.1:8000'\ntenant = 'default'\napi_key = 'fak_saved'\n") ||
		!strings.Contains(p, "[profiles.dev-ephemeral]\nserver = '"+eph.banner["FLOVYN_SERVER"]+"'") || !strings.Contains(p, eph.banner["FLOVYN_API_KEY"]) {
		t.Fatalf("profiles after flovyn dev --ephemeral:\n%s", p)
	}
	if r := devCLI(t, config, "--profile", "dev-ephemeral", "workflow", "list"); r.code != 0 {
		t.Fatalf("--profile dev-ephemeral: %s", r)
	}

	// Without a current profile, the ephemeral one becomes current; a
	// persistent flovyn dev later takes over from it.
	fresh := t.TempDir()
	eph2 := startDevWith(t, fresh, "--ephemeral", "--http-port", "0", "--grpc-port", "0")
	if !strings.Contains(eph2.text, `now uses this server (profile "dev-ephemeral")`) {
		t.Fatalf("banner's profile line:\n%s", eph2.text)
	}
	if r := devCLI(t, fresh, "workflow", "list"); r.code != 0 {
		t.Fatalf("the CLI with no flags next to flovyn dev --ephemeral: %s", r)
	}
	eph.stop(t)
	eph2.stop(t)
	persistent := startDevWith(t, fresh, "--data-dir", devDataDir(t), "--http-port", "0", "--grpc-port", "0")
	if r := devCLI(t, fresh, "whoami", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"profile": "dev"`) ||
		!strings.Contains(r.stdout, persistent.banner["FLOVYN_SERVER"]) {
		t.Fatalf("after a persistent flovyn dev, the current profile: %s", r)
	}
	persistent.stop(t)
}

// A bad --log-level is a usage error naming the flag and its values, found
// before anything starts.
func TestBadLogLevel(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := exec.Command(flovynBin, "dev", "--log-level", "loud", "--data-dir", dataDir, "--http-port", "0", "--grpc-port", "0")
	dev.Env = devEnv(t.TempDir())
	checkFailure(t, runBounded(t, dev), 2, `--log-level "loud": must be debug, info, warn or error`)
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("flovyn dev with a bad --log-level created its data dir (%v)", err)
	}
	dev = exec.Command(flovynBin, "dev", "--log-format", "xml", "--ephemeral", "--http-port", "0", "--grpc-port", "0")
	dev.Env = devEnv(t.TempDir())
	checkFailure(t, runBounded(t, dev), 2, `--log-format "xml": must be auto, text or json`)

	srv := exec.Command(flovynBin, "server", "--log-level", "loud", "--database-url", "postgres://127.0.0.1:1/none")
	srv.Env = devEnv(t.TempDir())
	checkFailure(t, runBounded(t, srv), 2, `--log-level "loud": must be debug, info, warn or error`)
}
