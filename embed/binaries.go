package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// BinariesEnv names the environment variable that points at a directory
// holding initdb and postgres.
const BinariesEnv = "FLOVYN_POSTGRES_BINARIES"

// downloadVersion is the PostgreSQL version fetched when no local install exists.
const downloadVersion = embeddedpostgres.V17

// FindPostgresBinaries returns the directory holding initdb and postgres. It
// tries, in order: explicit (a bin dir or an install prefix), $FLOVYN_POSTGRES_BINARIES,
// the highest version under /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin,
// `pg_config --bindir`, postgres on $PATH, and binaries downloaded earlier.
// It never downloads; StartPostgres does that when this fails.
func FindPostgresBinaries(explicit string) (string, error) {
	if explicit != "" {
		return checkBinDir(explicit)
	}
	if env := os.Getenv(BinariesEnv); env != "" {
		dir, err := checkBinDir(env)
		if err != nil {
			return "", fmt.Errorf("$%s: %w", BinariesEnv, err)
		}
		return dir, nil
	}
	var candidates []string
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		matches, _ := filepath.Glob(pattern)
		// Highest major version first: compare the numeric path segment.
		slices.SortFunc(matches, func(a, b string) int { return compareVersions(versionOf(b), versionOf(a)) })
		candidates = append(candidates, matches...)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	if dir, err := downloadDir(); err == nil {
		candidates = append(candidates, dir)
	}
	for _, c := range candidates {
		if dir, err := checkBinDir(c); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries found")
}

// checkBinDir accepts a directory containing initdb and postgres, or an
// install prefix whose bin/ does.
func checkBinDir(dir string) (string, error) {
	for _, d := range []string{dir, filepath.Join(dir, "bin")} {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf("%s does not contain the PostgreSQL binaries initdb and postgres", dir)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// versionOf extracts "15" from /usr/lib/postgresql/15/bin or /usr/pgsql-15/bin.
func versionOf(binDir string) string {
	v := filepath.Base(filepath.Dir(binDir))
	return strings.TrimPrefix(v, "pgsql-")
}

func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// cacheDir is where downloaded binaries live. As root it must be reachable by
// the unprivileged user that runs postgres, so not under /root.
func cacheDir() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/flovyn/cache", nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "flovyn"), nil
}

func downloadDir() (string, error) {
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "postgres-"+string(downloadVersion)), nil
}

// downloadPostgres fetches PostgreSQL binaries with the embedded-postgres
// library into its cache and returns their bin dir. The library only
// downloads as part of starting a throwaway cluster; that start fails as root
// (initdb refuses root) or succeeds and is stopped again, and in both cases
// the extracted binaries stay behind.
func downloadPostgres(ctx context.Context, log *slog.Logger) (string, error) {
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	dest := filepath.Join(cache, "postgres-"+string(downloadVersion))
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	scratch, err := os.MkdirTemp("", "flovyn-pgdownload-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	port, err := freePort()
	if err != nil {
		return "", err
	}
	log.Info("downloading PostgreSQL binaries", "version", downloadVersion, "dir", dest)
	db := embeddedpostgres.NewDatabase(embeddedpostgres.DefaultConfig().
		Version(downloadVersion).
		CachePath(cache).
		BinariesPath(dest).
		RuntimePath(filepath.Join(scratch, "runtime")).
		DataPath(filepath.Join(scratch, "data")).
		Port(uint32(port)).
		Logger(io.Discard))
	done := make(chan error, 1)
	go func() {
		err := db.Start()
		if err == nil {
			err = db.Stop()
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		// The library's download cannot be cancelled; abandon it.
		return "", ctx.Err()
	}
	if dir, cerr := checkBinDir(dest); cerr == nil {
		return dir, nil
	}
	return "", err
}
