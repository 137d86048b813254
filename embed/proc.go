package embed

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultDataDir is flovyn's per-user data directory: $XDG_DATA_HOME/flovyn or
// ~/.local/share/flovyn, and /var/lib/flovyn for root (whose home is not
// reachable by the unprivileged user that runs postgres).
func DefaultDataDir() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/flovyn", nil
	}
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return filepath.Join(dir, "flovyn"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "flovyn"), nil
}

// runAs is the account the database processes run as; nil means the current one.
type runAs struct {
	name     string
	uid, gid uint32
}

// unprivilegedUser returns who runs PostgreSQL when we are root, which
// PostgreSQL refuses to run as.
func unprivilegedUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &runAs{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, but neither a postgres nor a nobody user exists to run PostgreSQL as")
}

func (r *runAs) sysProcAttr(deathSignal syscall.Signal) *syscall.SysProcAttr {
	// Own process group: a terminal's Ctrl-C reaches flovyn, which then stops
	// postgres cleanly, instead of hitting postgres directly.
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSignal}
	if r != nil {
		// An empty Groups drops root's supplementary groups.
		a.Credential = &syscall.Credential{Uid: r.uid, Gid: r.gid, Groups: []uint32{}}
	}
	return a
}

// chownTree gives dir and everything in it to r, unless dir already is r's.
func (r *runAs) chownTree(dir string) error {
	if r == nil {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid == r.uid && st.Gid == r.gid {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(r.uid), int(r.gid))
	})
}

// checkReachable reports an error if r cannot traverse every directory above
// path (e.g. a data dir under root's 0700 home).
func (r *runAs) checkReachable(path string) error {
	if r == nil {
		return nil
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		var ok bool
		switch {
		case st.Uid == r.uid:
			ok = perm&0o100 != 0
		case st.Gid == r.gid:
			ok = perm&0o010 != 0
		default:
			ok = perm&0o001 != 0
		}
		if !ok {
			return fmt.Errorf("PostgreSQL runs as user %q (flovyn runs as root), who cannot reach %s: %s has mode %s; use a directory elsewhere, e.g. under /var/lib/flovyn", r.name, path, dir, perm)
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

// Pdeathsig is delivered when the OS thread that started the child exits, not
// the process. Children are therefore started from one goroutine locked to its
// thread for the life of the process.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func startLocked(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error)
	spawnReqs <- spawnReq{cmd, done}
	return <-done
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// postmasterPID returns the pid recorded in dataDir/postmaster.pid, or 0.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, nil // torn or empty file: postgres will rewrite it
	}
	return pid, nil
}

// stopStale stops a postgres left running on dataDir by an earlier flovyn. A
// pid file whose process is gone is left to postgres, which handles it; one
// whose pid was reused by some other program is removed.
func stopStale(dataDir string, log *slog.Logger) error {
	pid, err := postmasterPID(dataDir)
	if err != nil || pid == 0 || !processAlive(pid) {
		return err
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if strings.TrimSpace(string(comm)) != "postgres" {
		return os.Remove(filepath.Join(dataDir, "postmaster.pid"))
	}
	log.Warn("stopping PostgreSQL left running on the data dir", "pid", pid, "dir", dataDir)
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 30 * time.Second}, {syscall.SIGQUIT, 10 * time.Second}} {
		if err := syscall.Kill(pid, step.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stopping old postgres (pid %d): %w", pid, err)
		}
		for deadline := time.Now().Add(step.wait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if !processAlive(pid) {
				return nil
			}
		}
	}
	return fmt.Errorf("old postgres (pid %d) on %s did not stop", pid, dataDir)
}

const ephemeralPrefix = "flovyn-pg-"

// sweepEphemeral removes ephemeral data dirs left in the temp dir by processes
// that were killed before they could clean up. A dir is left alone while its
// postmaster runs, while it is young (initdb may be filling it) or when we
// cannot tell.
func sweepEphemeral() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), ephemeralPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		pid, err := postmasterPID(dir)
		if err != nil || (pid != 0 && processAlive(pid)) {
			continue
		}
		os.RemoveAll(dir)
	}
}
