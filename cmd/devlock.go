package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// devLockFile, in the data dir, is held (an exclusive OS file lock) by the
// `flovyn dev` that uses the dir, from before PostgreSQL is touched until it
// has stopped. The kernel releases the lock when its holder dies, however it
// dies, so a lock that can be taken is never someone else's: the PostgreSQL
// left on the dir by a dead flovyn is then stale, and embed stops it.
//
// The file holds JSON saying who holds it: {"pid":…,"httpPort":…,"grpcPort":…}.
// The JSON starts at byte 1 and byte 0 is left alone (a newline): on Windows
// the lock covers byte 0 and keeps everyone else, even the holder's other
// handles, from reading or writing it, but not the rest of the file.
const devLockFile = "flovyn-dev.lock"

// devLockInfo is the lock file's JSON.
type devLockInfo struct {
	PID      int `json:"pid"`
	HTTPPort int `json:"httpPort,omitempty"` // 0 until the listeners are bound
	GRPCPort int `json:"grpcPort,omitempty"`
}

// devLock is a held lock on a data dir.
type devLock struct {
	path string
	fl   *flock.Flock
}

// errDevRunning is a `flovyn dev` already holding the data dir's lock.
type errDevRunning struct{ info devLockInfo }

func (e errDevRunning) Error() string {
	msg := "flovyn dev is already running on this data dir"
	switch i := e.info; {
	case i.PID != 0 && i.HTTPPort != 0:
		msg += fmt.Sprintf(" (pid %d, http :%d, grpc :%d)", i.PID, i.HTTPPort, i.GRPCPort)
	case i.PID != 0:
		msg += fmt.Sprintf(" (pid %d, starting)", i.PID)
	}
	return msg
}

// lockDataDir takes the lock of dataDir (creating the dir) without waiting:
// errDevRunning when another flovyn dev holds it. It changes nothing in the
// dir when the lock is taken.
func lockDataDir(dataDir string) (*devLock, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dataDir, devLockFile)
	// Byte 0 is written once, before anyone locks the file.
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
		_, werr := f.Write([]byte("\n"))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("lock file: %w", werr)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	fl := flock.New(path, flock.SetPermissions(0o644))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if !ok {
		info, _ := readDevLock(path)
		return nil, errDevRunning{info}
	}
	return &devLock{path: path, fl: fl}, nil
}

// readDevLock reads who holds the lock file; zero values when it does not say.
func readDevLock(path string) (devLockInfo, error) {
	var info devLockInfo
	f, err := os.Open(path)
	if err != nil {
		return info, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.NewSectionReader(f, 1, 1<<16))
	if err != nil {
		return info, err
	}
	err = json.Unmarshal(raw, &info)
	return info, err
}

// write records who holds the lock.
func (l *devLock) write(info devLockInfo) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err = f.Truncate(1); err == nil {
		_, err = f.WriteAt(append(raw, '\n'), 1)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// release forgets the holder and lets go of the lock. The file stays: a
// lock file removed while another process waits to lock it would let two
// processes each lock a file of that name.
func (l *devLock) release() {
	if f, err := os.OpenFile(l.path, os.O_WRONLY, 0); err == nil {
		_ = f.Truncate(1)
		f.Close()
	}
	_ = l.fl.Unlock()
	_ = l.fl.Close()
}
