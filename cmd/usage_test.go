package cmd_test

import (
	"strings"
	"testing"
)

// offline is a harness whose server is not there: a command that sends a
// request exits 1 ("cannot reach"), so exit 2 proves none was sent.
func offline(t *testing.T) *cliServer {
	s := &cliServer{t: t, home: t.TempDir()}
	s.baseEnv = map[string]string{"FLOVYN_SERVER": "127.0.0.1:1", "FLOVYN_API_KEY": "k", "FLOVYN_TENANT": "acme"}
	return s
}

func TestUnknownSubcommandIsAUsageError(t *testing.T) {
	t.Parallel()
	s := offline(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"workflow", "lst"}, `unknown command "lst" for "flovyn workflow"; did you mean list?`},
		{[]string{"wf", "inspct", "x"}, `unknown command "inspct" for "flovyn workflow"; did you mean inspect?`},
		{[]string{"tenant", "lsit"}, `unknown command "lsit" for "flovyn tenant"; did you mean list?`},
		{[]string{"token", "revok"}, `unknown command "revok" for "flovyn token"; did you mean revoke?`},
		{[]string{"promise", "reslve"}, `unknown command "reslve" for "flovyn promise"; did you mean resolve?`},
		{[]string{"migrate", "stats"}, `unknown command "stats" for "flovyn migrate"; did you mean status?`},
		{[]string{"tenat"}, `unknown command "tenat" for "flovyn"; did you mean tenant?`},
		{[]string{"completion", "bsh"}, `unknown command "bsh" for "flovyn completion"; did you mean bash`},
		{[]string{"workflow", "bogus"}, `unknown command "bogus" for "flovyn workflow" (see "flovyn workflow --help")`},
	} {
		if r := s.fails(2, c.want, c.args...); r.stdout != "" {
			t.Fatalf("an unknown command printed on stdout: %s", r)
		}
	}
	// A noun alone shows its commands.
	if r := s.ok("workflow"); !strings.Contains(r.stdout, "Available Commands:") || !strings.Contains(r.stdout, "inspect") {
		t.Fatalf("workflow alone: %s", r)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	s := offline(t)
	v := s.ok("version")
	if !strings.HasPrefix(v.stdout, "flovyn ") || strings.Count(v.stdout, "\n") != 1 {
		t.Fatalf("version: %s", v)
	}
	if r := s.ok("--version"); r.stdout != v.stdout {
		t.Fatalf("--version printed %q, version %q", r.stdout, v.stdout)
	}
	var info map[string]any
	decode(t, s.ok("version", "-o", "json"), &info)
	for _, k := range []string{"version", "commit", "date", "go"} {
		if _, ok := info[k].(string); !ok {
			t.Fatalf("version -o json has no string %q: %v", k, info)
		}
	}
	if !strings.HasPrefix(info["go"].(string), "go") || !strings.Contains(v.stdout, info["version"].(string)) {
		t.Fatalf("version -o json: %v (version: %s)", info, v.stdout)
	}
	s.fails(2, `--output "yaml"`, "version", "-o", "yaml")
}

// Ids are checked before any request; a bad one is a usage error naming the argument.
func TestMalformedIDsAreUsageErrors(t *testing.T) {
	t.Parallel()
	s := offline(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"workflow", "inspect", "xyz"}, `workflow id "xyz": not a UUID or an id prefix`},
		{[]string{"workflow", "inspect", "abc"}, `workflow id "abc": not a UUID or an id prefix`}, // too short
		{[]string{"workflow", "events", "0123456789abcdef0123456789abcdef0"}, `workflow id "0123456789abcdef0123456789abcdef0"`},
		{[]string{"workflow", "tasks", "nope"}, `workflow id "nope"`},
		{[]string{"workflow", "cancel", "g1234567"}, `workflow id "g1234567"`},
		{[]string{"workflow", "signal", "xyz", "go"}, `workflow id "xyz"`},
		{[]string{"promise", "resolve", "xyz"}, `promise id "xyz": not a UUID or <workflow id>:<promise name>`},
		{[]string{"promise", "reject", "xyz:approval", "--error", "no"}, `workflow id "xyz": not a UUID or an id prefix`},
		{[]string{"promise", "resolve", "id:xyz"}, `promise id "id:xyz": not a UUID`},
		{[]string{"promise", "resolve", "abcd1234:"}, `promise id "abcd1234:": no promise name`},
		{[]string{"token", "revoke", "abcd1234"}, `token id "abcd1234": not a UUID`},
	} {
		s.fails(2, c.want, c.args...)
	}
	// Well-formed ids and prefixes pass the check and go to the server.
	for _, args := range [][]string{
		{"workflow", "inspect", "7C9E6679"},
		{"workflow", "inspect", "7c9e6679-74"},
		{"workflow", "events", "7c9e667974"},
		{"workflow", "inspect", "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
		{"workflow", "signal", "7c9e", "go"},
		{"promise", "resolve", "7c9e6679:approval"},
		{"promise", "resolve", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"},
		{"token", "revoke", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"},
	} {
		s.fails(1, "cannot reach the flovyn server", args...)
	}
}
