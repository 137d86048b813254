package cmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type whoamiDoc struct {
	Server     string            `json:"server"`
	Tenant     string            `json:"tenant"`
	TenantID   string            `json:"tenantId"`
	TenantName string            `json:"tenantName"`
	APIKey     string            `json:"apiKey"`
	Profile    string            `json:"profile"`
	Sources    map[string]string `json:"sources"`
}

func TestWhoamiAndVerbose(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	// From the environment.
	r := s.ok("whoami")
	noBoxDrawing(t, r)
	for _, want := range []string{s.url, "(env FLOVYN_SERVER)", "acme (id " + acme.ID.String() + ")", "(env FLOVYN_TENANT)", adminKey[:8] + "…", "(env FLOVYN_API_KEY)"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("whoami lacks %q: %s", want, r)
		}
	}
	if strings.Contains(r.stdout, adminKey) {
		t.Fatalf("whoami printed the secret: %s", r)
	}
	var w whoamiDoc
	decode(t, s.ok("whoami", "-o", "json"), &w)
	if w.Server != s.url || w.Tenant != "acme" || w.TenantID != acme.ID.String() || w.TenantName != "Acme" || w.Profile != "" ||
		w.APIKey != adminKey[:8]+"…" || w.Sources["server"] != "env FLOVYN_SERVER" || w.Sources["tenant"] != "env FLOVYN_TENANT" ||
		w.Sources["apiKey"] != "env FLOVYN_API_KEY" {
		t.Fatalf("whoami -o json: %+v", w)
	}
	decode(t, s.ok("--tenant", "acme", "whoami", "-o", "json"), &w)
	if w.Sources["tenant"] != "flag --tenant" {
		t.Fatalf("tenant from the flag: %+v", w)
	}

	// The credential's only tenant.
	decode(t, s.runWith(runOpts{env: map[string]string{"FLOVYN_TENANT": "", "FLOVYN_API_KEY": ownerKey}}, "whoami", "-o", "json"), &w)
	if w.Tenant != "acme" || w.Sources["tenant"] != "the only tenant the credential sees" {
		t.Fatalf("whoami with the tenant of the credential: %+v", w)
	}

	// From a profile.
	dir := filepath.Join(s.home, ".config", "flovyn")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	profiles := "current = 'dev'\n\n[profiles.dev]\nserver = '" + s.url + "'\ntenant = 'acme'\napi_key = '" + adminKey + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "profiles.toml"), []byte(profiles), 0o600); err != nil {
		t.Fatal(err)
	}
	decode(t, s.runWith(runOpts{env: noEnv}, "whoami", "-o", "json"), &w)
	if w.Profile != "dev" || w.Server != s.url || w.Sources["server"] != `profile "dev"` || w.Sources["apiKey"] != `profile "dev"` ||
		!strings.HasPrefix(w.Sources["profile"], "the current profile of ") || !strings.HasSuffix(w.Sources["profile"], "profiles.toml") {
		t.Fatalf("whoami with the current profile: %+v", w)
	}
	decode(t, s.runWith(runOpts{env: with(noEnv, "FLOVYN_PROFILE", "dev")}, "whoami", "-o", "json"), &w)
	if w.Sources["profile"] != "env FLOVYN_PROFILE" {
		t.Fatalf("whoami with FLOVYN_PROFILE: %+v", w)
	}

	// A refused credential is an error, like for any command.
	s.failsWith(runOpts{env: map[string]string{"FLOVYN_API_KEY": "wrong"}}, 1, "401", "whoami")

	// -v says where each admin command goes, on one stderr line, before the request.
	r = s.ok("-v", "workflow", "list")
	if r.stderr != "→ server "+s.url+" tenant acme\n" || !strings.HasPrefix(r.stdout, "ID\tKIND") {
		t.Fatalf("-v workflow list: %s", r)
	}
	r = s.runWith(runOpts{env: noEnv}, "--verbose", "tenant", "list")
	if r.code != 0 || r.stderr != "→ server "+s.url+" tenant acme (profile dev)\n" {
		t.Fatalf("--verbose tenant list with a profile: %s", r)
	}
	r = s.runWith(runOpts{env: map[string]string{"FLOVYN_SERVER": "127.0.0.1:1"}}, "-v", "workflow", "list")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "→ server http://127.0.0.1:1 tenant acme\nflovyn: cannot reach") {
		t.Fatalf("-v with a server that is not there: %s", r)
	}
}
