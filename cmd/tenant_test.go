package cmd_test

import (
	"strings"
	"testing"
)

type tenantDoc struct {
	ID     string `json:"id"`
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	Tier   string `json:"tier"`
	Region string `json:"region"`
}

func TestTenantCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	// create prints the tenant; piped, as aligned plain text.
	r := s.ok("tenant", "create", "globex", "--name", "Globex Corp", "--tier", "PRO", "--region", "eu-west")
	noBoxDrawing(t, r)
	for _, want := range []string{"globex", "Globex Corp", "PRO", "eu-west"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("create output lacks %q: %s", want, r)
		}
	}

	// -o json is the API's tenant document.
	var created tenantDoc
	decode(t, s.ok("tenant", "create", "initech", "-o", "json"), &created)
	if created.Slug != "initech" || created.Name != "initech" || created.Tier != "FREE" || created.ID == "" {
		t.Fatalf("created %+v", created)
	}

	// A taken slug fails; with --if-not-exists it prints the existing tenant and succeeds.
	s.fails(1, `already exists`, "tenant", "create", "initech")
	var again tenantDoc
	r = s.ok("tenant", "create", "initech", "--if-not-exists", "-o", "json")
	decode(t, r, &again)
	if again != created || r.stderr != "" {
		t.Fatalf("--if-not-exists printed %+v (stderr %q), want %+v", again, r.stderr, created)
	}

	// A bad slug fails with the server's message.
	s.fails(1, "lower-case letters", "tenant", "create", "Not_A_Slug")

	// list has every tenant; JSON parses; piped output is tab-separated.
	r = s.ok("tenant", "list")
	noBoxDrawing(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SLUG\tNAME\tTIER") {
		t.Fatalf("tenant list: %s", r)
	}
	var list struct {
		Tenants []tenantDoc `json:"tenants"`
	}
	decode(t, s.ok("tenant", "list", "-o", "json"), &list)
	slugs := map[string]bool{}
	for _, tn := range list.Tenants {
		slugs[tn.Slug] = true
	}
	if len(list.Tenants) != 3 || !slugs["acme"] || !slugs["globex"] || !slugs["initech"] {
		t.Fatalf("tenant list -o json: %+v", list)
	}

	// get, through the org alias.
	var got tenantDoc
	decode(t, s.ok("org", "get", "globex", "-o", "json"), &got)
	if got.Name != "Globex Corp" || got.Region != "eu-west" {
		t.Fatalf("get globex: %+v", got)
	}
	s.fails(1, `tenant "nope" not found`, "tenant", "get", "nope")

	// Only an instance administrator creates tenants.
	s.failsWith(runOpts{env: map[string]string{"FLOVYN_API_KEY": ownerKey}}, 1, "403", "tenant", "create", "hooli")
	// A tenant owner's list is its own tenant.
	r = s.runWith(runOpts{env: map[string]string{"FLOVYN_API_KEY": ownerKey}}, "tenant", "list", "-o", "json")
	decode(t, r, &list)
	if len(list.Tenants) != 1 || list.Tenants[0].Slug != "acme" {
		t.Fatalf("owner's tenant list: %s", r)
	}

	// Usage errors exit 2.
	s.fails(2, "accepts 1 arg", "tenant", "create")
	s.fails(2, "unknown flag", "tenant", "list", "--bogus")
	s.fails(2, `--output "yaml"`, "tenant", "list", "-o", "yaml")
}
