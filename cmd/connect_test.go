package cmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noEnv removes the harness's default connection variables.
var noEnv = map[string]string{"FLOVYN_SERVER": "", "FLOVYN_API_KEY": "", "FLOVYN_TENANT": ""}

func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestNothingConfigured(t *testing.T) {
	t.Parallel()
	s := &cliServer{t: t, home: t.TempDir()}
	for _, args := range [][]string{{"tenant", "list"}, {"workflow", "list"}, {"token", "create", "-q"}} {
		r := s.failsWith(runOpts{env: noEnv}, 2, "run `flovyn dev`, or pass --server and --api-key", args...)
		if r.stdout != "" {
			t.Fatalf("stdout: %s", r)
		}
	}
	// A server that is not there.
	s.failsWith(runOpts{}, 1, "cannot reach the flovyn server at http://127.0.0.1:1: ", "--server", "127.0.0.1:1", "tenant", "list")
}

func TestProfilesAndPrecedence(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	dir := filepath.Join(s.home, ".config", "flovyn")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	profiles := `current = 'dev'

[profiles.dev]
server = '` + s.url + `'
tenant = 'acme'
api_key = '` + adminKey + `'

[profiles.broken]
server = '` + s.url + `'
tenant = 'acme'
api_key = 'wrong-key'
`
	if err := os.WriteFile(filepath.Join(dir, "profiles.toml"), []byte(profiles), 0o600); err != nil {
		t.Fatal(err)
	}

	// The current profile: no flags, no env (as next to `flovyn dev`).
	r := s.runWith(runOpts{env: noEnv}, "workflow", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ID\tKIND") {
		t.Fatalf("with the current profile: %s", r)
	}
	// A named profile, by flag and by env.
	s.failsWith(runOpts{env: noEnv}, 1, "401", "--profile", "broken", "tenant", "list")
	s.failsWith(runOpts{env: with(noEnv, "FLOVYN_PROFILE", "broken")}, 1, "401", "tenant", "list")
	s.failsWith(runOpts{env: noEnv}, 2, `no profile "nope"`, "--profile", "nope", "tenant", "list")
	// env beats the profile; a flag beats env.
	s.failsWith(runOpts{env: with(noEnv, "FLOVYN_API_KEY", "wrong")}, 1, "401", "tenant", "list")
	if r := s.runWith(runOpts{env: with(noEnv, "FLOVYN_API_KEY", "wrong")}, "--api-key", adminKey, "tenant", "list"); r.code != 0 {
		t.Fatalf("--api-key over env: %s", r)
	}
	s.failsWith(runOpts{env: with(noEnv, "FLOVYN_TENANT", "ghost")}, 1, `tenant "ghost" not found`, "workflow", "list")
	if r := s.runWith(runOpts{env: with(noEnv, "FLOVYN_TENANT", "ghost")}, "--tenant", "acme", "workflow", "list"); r.code != 0 {
		t.Fatalf("--tenant over env: %s", r)
	}

	// Without a tenant anywhere (and no profiles), the credential's only tenant is used.
	bare := *s
	bare.home = t.TempDir()
	r = bare.runWith(runOpts{env: with(noEnv, "FLOVYN_SERVER", s.url, "FLOVYN_API_KEY", ownerKey)}, "token", "create", "-q")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "fwt_") {
		t.Fatalf("tenant from the credential: %s", r)
	}
	bare.ok("tenant", "create", "second")
	bare.failsWith(runOpts{env: with(noEnv, "FLOVYN_SERVER", s.url, "FLOVYN_API_KEY", adminKey)}, 2, "no tenant selected", "workflow", "list")
}
