package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flovyn/flovyn/embed"
)

// Processes: PostgreSQL, the flovyn server, and what /proc says about them.

// startPostgres starts an ephemeral cluster in dir (removed with the bench's
// temporary directory) with commit timestamps on, which needs one restart.
func startPostgres(ctx context.Context, dir string) (*embed.Postgres, error) {
	o := embed.PostgresOptions{DataDir: dir, Ephemeral: true, Database: "flovyn"}
	pg, err := embed.StartPostgres(ctx, o)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err == nil {
		_, err = conn.Exec(ctx, "ALTER SYSTEM SET track_commit_timestamp = on")
		conn.Close(ctx)
	}
	if err = errors.Join(err, pg.Stop()); err != nil {
		return nil, err
	}
	return embed.StartPostgres(ctx, o)
}

type serverProc struct {
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	grpcAddr string
	httpAddr string
}

func (s *serverProc) pid() int { return s.cmd.Process.Pid }

// writeConfig writes the servers' configuration file: the tenant and a
// static worker key.
func writeConfig(dir string, tenant uuid.UUID, key string) (string, error) {
	cfg := fmt.Sprintf(`[[orgs]]
id = %q
slug = "bench"

[auth]
enabled = true

[auth.static_api_key]
keys = [{ key = %q, org_id = %q, principal_type = "Worker", principal_id = "worker:bench" }]

[auth.endpoints.http]
authenticators = ["static_api_key"]
authorizer = "cedar"

[auth.endpoints.grpc]
authenticators = ["static_api_key"]
authorizer = "cedar"
`, tenant, key, tenant)
	cfgPath := filepath.Join(dir, "flovyn.toml")
	return cfgPath, os.WriteFile(cfgPath, []byte(cfg), 0o600)
}

// startServer runs `flovyn server` number i (its log is server-<i>.log),
// linked to NATS when natsURL is set, and waits until its health check
// answers.
func startServer(ctx context.Context, bin, dir string, i int, cfgPath, dbURL, natsURL string) (*serverProc, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := &serverProc{logPath: filepath.Join(dir, fmt.Sprintf("server-%d.log", i)), exited: make(chan struct{}),
		grpcAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])), httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	// Flags win over the environment, so a DATABASE_URL around us is ignored.
	args := []string{"server", "--config", cfgPath, "--database-url", dbURL, "--ip", "127.0.0.1",
		"--http-port", strconv.Itoa(ports[0]), "--grpc-port", strconv.Itoa(ports[1]),
		"--log-level", "info", "--log-format", "json"}
	if natsURL != "" {
		args = append(args, "--nats-url", natsURL)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive the bench
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.exited) }()

	health := "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/_/health"
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get(health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("flovyn server exited: %s", s.logTail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("flovyn server not healthy after a minute: %s", s.logTail())
		}
	}
}

func (s *serverProc) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *serverProc) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// logProblems counts the WARN and ERROR lines of the server's JSON log and
// returns the first few.
func (s *serverProc) logProblems() (warnings, errs int, samples []string) {
	b, _ := os.ReadFile(s.logPath)
	for line := range strings.SplitSeq(string(b), "\n") {
		var rec struct{ Level string }
		if json.Unmarshal([]byte(line), &rec) != nil {
			if strings.TrimSpace(line) != "" { // not JSON: a panic or similar
				errs++
				samples = append(samples, line)
			}
			continue
		}
		switch rec.Level {
		case "WARN":
			warnings++
		case "ERROR":
			errs++
		default:
			continue
		}
		if len(samples) < 10 {
			samples = append(samples, line)
		}
	}
	return warnings, errs, samples
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

// rss returns VmRSS and VmHWM (peak) of a process in MB.
func rss(pid int) (cur, peak float64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = round(kb / 1024)
		case "VmHWM:":
			peak = round(kb / 1024)
		}
	}
	return cur, peak
}

// procStat returns a process's user+system CPU time and that of its reaped
// children, in clock ticks (1/100 s), and its parent's pid.
func procStat(pid string) (ticks, children uint64, ppid int) {
	b, _ := os.ReadFile("/proc/" + pid + "/stat")
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, 0, 0
	}
	n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
	ppid, _ = strconv.Atoi(f[1])
	return n(11) + n(12), n(13) + n(14), ppid
}

// pgTicks is the CPU time of the postmaster and all its processes, live or gone.
func pgTicks(postmaster int) uint64 {
	own, reaped, _ := procStat(strconv.Itoa(postmaster))
	total := own + reaped
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		if t, _, ppid := procStat(d.Name()); ppid == postmaster {
			total += t
		}
	}
	return total
}

// machineTicks returns the machine's non-idle CPU time (all CPUs) and the
// part of it spent in interrupts, in clock ticks.
func machineTicks() (busy, irq uint64) {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	// cpu user nice system idle iowait irq softirq steal (guest is in user)
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		switch {
		case i == 5 || i == 6:
			irq += v
			busy += v
		case i != 3 && i != 4 && i < 8:
			busy += v
		}
	}
	return busy, irq
}
