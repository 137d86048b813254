package embed

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tempDataDir is a fresh dir directly under the temp dir: t.TempDir nests in a
// 0700 dir, which the unprivileged postgres user could not enter when we are root.
func tempDataDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "flovyn-embed-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startPostgres(t *testing.T, o PostgresOptions) *Postgres {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	p, err := StartPostgres(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

func query(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// gone reports whether pid has exited (a zombie nobody reaps counts as exited).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !gone(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("postgres pid %d still running", pid)
		}
	}
}

func processUID(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[1])
			return uid
		}
	}
	t.Fatal("no Uid in /proc status")
	return -1
}

func TestPostgresRestartKeepsData(t *testing.T) {
	parent := tempDataDir(t)
	os.Chmod(parent, 0o755) // reachable for the postgres user when we are root
	dir := filepath.Join(parent, "pg")
	begin := time.Now()
	p := startPostgres(t, PostgresOptions{DataDir: dir, Database: "flovyn"})
	t.Logf("first start (initdb): %v", time.Since(begin))

	if p.Port() == 0 || p.Port() == 5432 {
		t.Fatalf("port %d", p.Port())
	}
	pid := p.cmd.Process.Pid
	if uid := processUID(t, pid); os.Geteuid() == 0 && uid == 0 {
		t.Fatal("postgres runs as root")
	} else if os.Geteuid() != 0 && uid != os.Geteuid() {
		t.Fatalf("postgres runs as uid %d", uid)
	}
	url := p.URL("flovyn")
	if !strings.Contains(url, "@127.0.0.1:") || !strings.HasSuffix(url, "/flovyn?sslmode=disable") {
		t.Fatalf("URL %s", url)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())

	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
		t.Fatal("postmaster.pid left behind")
	}

	begin = time.Now()
	p = startPostgres(t, PostgresOptions{DataDir: dir, Database: "flovyn"})
	t.Logf("start on existing data dir: %v", time.Since(begin))
	if v := query(t, p.URL("flovyn"), "SELECT v FROM kept"); v != 42 {
		t.Fatalf("got %d", v)
	}
}

func TestPostgresEphemeral(t *testing.T) {
	begin := time.Now()
	p := startPostgres(t, PostgresOptions{Ephemeral: true})
	t.Logf("ephemeral start: %v", time.Since(begin))
	if !strings.HasPrefix(filepath.Base(p.DataDir()), ephemeralPrefix) {
		t.Fatalf("data dir %s", p.DataDir())
	}
	if n := query(t, p.URL("postgres"), "SELECT 1"); n != 1 {
		t.Fatal(n)
	}
	pid := p.cmd.Process.Pid
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if _, err := os.Stat(p.DataDir()); !os.IsNotExist(err) {
		t.Fatalf("data dir not removed: %v", err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
}

// A postgres found running on the data dir (say, left by a killed flovyn) is
// stopped before a new one starts.
func TestStopStale(t *testing.T) {
	p := startPostgres(t, PostgresOptions{Ephemeral: true})
	if err := stopStale(p.DataDir(), testLogger(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(time.Minute):
		t.Fatal("postgres still running")
	}
}

const helperEnv = "FLOVYN_EMBED_TEST_HELPER_DIR"

// TestHelperPostgres is the child process of TestPostgresDiesWithParent.
func TestHelperPostgres(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	p, err := StartPostgres(context.Background(), PostgresOptions{DataDir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("postgres-pid=%d\n", p.cmd.Process.Pid)
	time.Sleep(time.Hour)
}

func TestPostgresDiesWithParent(t *testing.T) {
	dir := tempDataDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPostgres$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := 0
	for sc := bufio.NewScanner(out); pid == 0 && sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "postgres-pid="); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatal("helper did not start postgres")
	}
	if gone(pid) {
		t.Fatal("postgres not running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitGone(t, pid)
}

func TestFindPostgresBinaries(t *testing.T) {
	dir, err := FindPostgresBinaries("")
	if err != nil {
		t.Skip(err) // no local PostgreSQL
	}
	prefix := filepath.Dir(dir)
	if got, err := FindPostgresBinaries(prefix); err != nil || got != dir {
		t.Fatalf("install prefix: %q, %v", got, err)
	}
	t.Setenv(BinariesEnv, dir)
	if got, err := FindPostgresBinaries(""); err != nil || got != dir {
		t.Fatalf("$%s: %q, %v", BinariesEnv, got, err)
	}
	if _, err := FindPostgresBinaries(t.TempDir()); err == nil {
		t.Fatal("empty dir accepted")
	}
	t.Setenv(BinariesEnv, t.TempDir())
	if _, err := FindPostgresBinaries(""); err == nil {
		t.Fatal("bad $" + BinariesEnv + " accepted")
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		sign int
	}{{"15", "9.6", 1}, {"9.6", "10", -1}, {"16", "16", 0}, {"9.6", "9.5", 1}} {
		if got := compareVersions(c.a, c.b); (got > 0) != (c.sign > 0) || (got < 0) != (c.sign < 0) {
			t.Errorf("compareVersions(%s, %s) = %d", c.a, c.b, got)
		}
	}
}

func TestCheckReachable(t *testing.T) {
	r := &runAs{name: "someone", uid: 54321, gid: 54321}
	dir := tempDataDir(t) // mode 0700, not ours to enter as someone
	if err := r.checkReachable(filepath.Join(dir, "pg")); err == nil {
		t.Fatal("0700 dir reported reachable")
	}
	os.Chmod(dir, 0o755)
	if err := r.checkReachable(filepath.Join(dir, "pg")); err != nil {
		t.Fatal(err)
	}
}
