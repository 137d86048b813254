// Package embed runs PostgreSQL and NATS for `flovyn dev` and the tests.
package embed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// DataDir holds the cluster; it is initialised (initdb) when it has no
	// PG_VERSION. "" means <DefaultDataDir>/postgres, or a temporary dir removed
	// by Stop when Ephemeral is set.
	DataDir string
	// BinariesDir holds initdb and postgres; "" means FindPostgresBinaries,
	// then a download.
	BinariesDir string
	// Port to listen on at 127.0.0.1; 0 picks a free one (never 5432).
	Port uint32
	// Database is created at start if missing; "" creates none.
	Database string
	// Ephemeral trades durability for speed (no fsync at all): for tests and
	// throwaway dev servers.
	Ephemeral bool
	Logger    *slog.Logger // nil discards
}

// Postgres is a running PostgreSQL server, a child process of ours.
type Postgres struct {
	port      uint32
	password  string
	dataDir   string
	removeDir bool
	cmd       *exec.Cmd
	logFile   *os.File
	exited    chan struct{}
	waitErr   error
	stopOnce  sync.Once
	stopErr   error
}

const (
	superuser    = "flovyn"
	passwordFile = "flovyn-password" // in the data dir
	logFileName  = "flovyn-postgres.log"
)

// StartPostgres starts PostgreSQL, creating the cluster if needed, and returns
// once it accepts queries. If flovyn (or a test binary) dies, postgres gets a
// fast-shutdown signal from the kernel, so it never outlives us. As root, the
// cluster is owned and run by the postgres (or nobody) user.
func StartPostgres(ctx context.Context, o PostgresOptions) (_ *Postgres, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin, err := FindPostgresBinaries(o.BinariesDir)
	if err != nil && o.BinariesDir == "" && os.Getenv(BinariesEnv) == "" {
		var derr error
		if bin, derr = downloadPostgres(ctx, log); derr != nil {
			err = fmt.Errorf("%w, and downloading them failed (%v); install PostgreSQL (e.g. `apt-get install postgresql`) or pass --postgres-binaries DIR (or set %s)", err, derr, BinariesEnv)
		} else {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	as, err := unprivilegedUser()
	if err != nil {
		return nil, err
	}
	if err := as.checkReachable(filepath.Join(bin, "postgres")); err != nil {
		return nil, err
	}

	p := &Postgres{dataDir: o.DataDir}
	if p.dataDir == "" && o.Ephemeral {
		sweepEphemeral()
		if p.dataDir, err = os.MkdirTemp("", ephemeralPrefix); err != nil {
			return nil, err
		}
		p.removeDir = true
		defer func() {
			if err != nil {
				os.RemoveAll(p.dataDir)
			}
		}()
	} else if p.dataDir == "" {
		dir, err := DefaultDataDir()
		if err != nil {
			return nil, err
		}
		p.dataDir = filepath.Join(dir, "postgres")
	}
	if p.dataDir, err = filepath.Abs(p.dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p.dataDir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(p.dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	if err := as.checkReachable(p.dataDir); err != nil {
		return nil, err
	}
	if err := as.chownTree(p.dataDir); err != nil {
		return nil, err
	}

	if _, err := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		start := time.Now()
		if err := p.initdb(ctx, bin, as, o.Ephemeral); err != nil {
			return nil, err
		}
		log.Debug("initialised PostgreSQL cluster", "dir", p.dataDir, "took", time.Since(start))
	} else if err != nil {
		return nil, err
	}
	if pw, err := os.ReadFile(filepath.Join(p.dataDir, passwordFile)); err == nil {
		p.password = strings.TrimSpace(string(pw))
	} // else: a cluster flovyn did not create; assume it trusts local connections

	if err := stopStale(p.dataDir, log); err != nil {
		return nil, err
	}
	if p.logFile, err = os.OpenFile(filepath.Join(p.dataDir, logFileName), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	if as != nil {
		p.logFile.Chown(int(as.uid), int(as.gid))
	}
	defer func() {
		if err != nil {
			p.logFile.Close()
		}
	}()

	start := time.Now()
	for attempt := 1; ; attempt++ {
		p.port = o.Port
		if p.port == 0 {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			p.port = uint32(port)
		}
		err = p.start(ctx, bin, as, o.Ephemeral)
		// A free port can be taken by someone else before postgres binds it.
		if err == nil || o.Port != 0 || attempt == 3 || !strings.Contains(err.Error(), "could not bind") {
			break
		}
		log.Debug("port taken, retrying", "port", p.port)
	}
	if err != nil {
		return nil, err
	}
	log.Debug("started PostgreSQL", "port", p.port, "dir", p.dataDir, "took", time.Since(start))

	if o.Database != "" {
		if err := p.createDatabase(ctx, o.Database); err != nil {
			p.Stop()
			return nil, err
		}
	}
	return p, nil
}

func (p *Postgres) initdb(ctx context.Context, bin string, as *runAs, ephemeral bool) error {
	// initdb reads the password from a file the run user can read; the data
	// dir's parent is known to be reachable.
	pw := make([]byte, 16)
	rand.Read(pw)
	password := hex.EncodeToString(pw)
	f, err := os.CreateTemp(filepath.Dir(p.dataDir), ".flovyn-pwfile-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(password + "\n")
	if err == nil && as != nil {
		err = f.Chown(int(as.uid), int(as.gid))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	args := []string{"-D", p.dataDir, "-U", superuser, "-E", "UTF8", "--locale=C",
		"-A", "scram-sha-256", "--pwfile=" + f.Name(), "--no-instructions"}
	if ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = "/" // initdb fails if it cannot getcwd, e.g. in /root as postgres
	// On SIGTERM initdb removes what it created.
	cmd.SysProcAttr = as.sysProcAttr(syscall.SIGTERM)
	if err := startLocked(cmd); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Signal(syscall.SIGTERM) })
	err = cmd.Wait()
	stop()
	if err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", p.dataDir, err, strings.TrimSpace(out.String()))
	}
	pwPath := filepath.Join(p.dataDir, passwordFile)
	if err := os.WriteFile(pwPath, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	if as != nil {
		return os.Chown(pwPath, int(as.uid), int(as.gid))
	}
	return nil
}

// start runs the postmaster and waits until it answers queries.
func (p *Postgres) start(ctx context.Context, bin string, as *runAs, ephemeral bool) error {
	args := []string{"-D", p.dataDir, "-p", strconv.Itoa(int(p.port)),
		"-c", "listen_addresses=127.0.0.1",
		// No unix socket: Debian's default socket dir is not writable by
		// unprivileged users, and TCP is all we use.
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "jit=off",
		"-c", "logging_collector=off",
	}
	if ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logStart, err := p.logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	cmd.Dir = "/"
	// SIGINT is PostgreSQL's fast shutdown: clean, and quick.
	cmd.SysProcAttr = as.sysProcAttr(syscall.SIGINT)
	if err := startLocked(cmd); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	if err = p.waitReady(ctx); err != nil {
		p.terminate()
		err = fmt.Errorf("PostgreSQL did not start: %w\n%s", err, p.logTail(logStart))
	}
	return err
}

func (p *Postgres) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, p.URL("postgres"))
		if err == nil {
			err = conn.Ping(cctx)
			conn.Close(cctx)
		}
		ccancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("postgres exited: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logTail returns the last lines postgres logged since offset.
func (p *Postgres) logTail(offset int64) string {
	b, _ := os.ReadFile(p.logFile.Name())
	if offset <= int64(len(b)) {
		b = b[offset:]
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func (p *Postgres) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("creating database %q: %w", name, err)
		}
	}
	return nil
}

// URL returns a connection URL for database.
func (p *Postgres) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, p.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p.port))),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	if p.password == "" {
		u.User = url.User(superuser)
	}
	return u.String()
}

// Port is the TCP port postgres listens on at 127.0.0.1.
func (p *Postgres) Port() uint32 { return p.port }

// DataDir is the cluster's directory.
func (p *Postgres) DataDir() string { return p.dataDir }

// Done is closed when the postgres process has exited, expectedly or not.
func (p *Postgres) Done() <-chan struct{} { return p.exited }

// Stop shuts postgres down (fast shutdown: open transactions are rolled back)
// and waits for it to exit. An ephemeral temporary data dir is removed.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.terminate()
		p.logFile.Close()
		if p.removeDir {
			if err := os.RemoveAll(p.dataDir); err != nil && p.stopErr == nil {
				p.stopErr = err
			}
		}
	})
	return p.stopErr
}

func (p *Postgres) terminate() error {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 30 * time.Second}, {syscall.SIGQUIT, 10 * time.Second}, {syscall.SIGKILL, time.Minute}} {
		p.cmd.Process.Signal(step.sig)
		select {
		case <-p.exited:
			if step.sig != syscall.SIGINT {
				return fmt.Errorf("postgres ignored fast shutdown; stopped it with %v", step.sig)
			}
			if p.waitErr != nil {
				return fmt.Errorf("postgres: %w", p.waitErr)
			}
			return nil
		case <-time.After(step.wait):
		}
	}
	return errors.New("postgres did not exit")
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 5432 {
			return port, nil
		}
	}
}
