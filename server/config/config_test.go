package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/flovyn/flovyn/server/config"
)

// load runs config.Load with a fake environment and command-line arguments.
func load(t *testing.T, path string, env map[string]string, args ...string) (*config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags %v: %v", args, err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return config.Load(path, lookup, fs)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaults(t *testing.T) {
	c, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := config.Default(); !reflect.DeepEqual(*c, want) {
		t.Errorf("Load with nothing set:\n got %+v\nwant %+v", *c, want)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"HTTPPort", c.HTTPPort, 8080},
		{"GRPCPort", c.GRPCPort, 9090},
		{"BindAddress", c.BindAddress, "0.0.0.0"},
		{"HTTPAddr", c.HTTPAddr(), "0.0.0.0:8080"},
		{"RunMigrations", c.RunMigrations, true},
		{"Log.Level", c.Log.Level, "info"},
		{"Log.Format", c.Log.Format, "auto"},
		{"NATS.Enabled", c.NATS.Enabled, false},
		{"Metrics.Enabled", c.Metrics.Enabled, true},
		{"Auth.Enabled", c.Auth.Enabled, true},
		{"Auth.WorkerToken.Prefix", c.Auth.WorkerToken.Prefix, "fwt_"},
		{"Auth.JWT.ClockSkew", c.Auth.JWT.ClockSkew.Duration, 30 * time.Second},
		{"Engine.PollHold", c.Engine.PollHold.Duration, time.Second},
		{"Engine.WorkflowTaskLease", c.Engine.WorkflowTaskLease.Duration, 30 * time.Second},
		{"Engine.WorkerTimeout", c.Engine.WorkerTimeout.Duration, 10 * time.Second},
		{"Engine.RecheckInterval", c.Engine.RecheckInterval.Duration, time.Second},
		{"HTTP exclude_paths has health", slices.Contains(c.Auth.Endpoints.HTTP.ExcludePaths, "/_/health"), true},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		file  string // written to a temp file and passed as path unless env names it
		env   map[string]string
		args  []string
		check func(t *testing.T, c *config.Config)
	}{
		{
			name: "file overrides default",
			file: "server_port = 7000\n[log]\nlevel = \"debug\"\n",
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "HTTPPort", c.HTTPPort, 7000)
				wantEq(t, "Log.Level", c.Log.Level, "debug")
				wantEq(t, "GRPCPort", c.GRPCPort, 9090)
			},
		},
		{
			name: "env overrides file",
			file: "server_port = 7000\n",
			env:  map[string]string{"SERVER_PORT": "7001"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "HTTPPort", c.HTTPPort, 7001)
			},
		},
		{
			name: "flag overrides env",
			file: "server_port = 7000\n",
			env:  map[string]string{"SERVER_PORT": "7001", "LOG_LEVEL": "warn"},
			args: []string{"--http-port=7002", "--log-level=ERROR"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "HTTPPort", c.HTTPPort, 7002)
				wantEq(t, "Log.Level", c.Log.Level, "error")
			},
		},
		{
			name: "flag given its default value still wins",
			env:  map[string]string{"SERVER_PORT": "7001"},
			args: []string{"--http-port=8080"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "HTTPPort", c.HTTPPort, 8080)
			},
		},
		{
			name: "empty env var counts as unset",
			file: "server_port = 7000\n",
			env:  map[string]string{"SERVER_PORT": ""},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "HTTPPort", c.HTTPPort, 7000)
			},
		},
		{
			name: "env list as JSON array and as comma list",
			env: map[string]string{
				"AUTH__ENDPOINTS__GRPC__AUTHENTICATORS": `["static_api_key"]`,
				"AUTH__ENDPOINTS__HTTP__AUTHENTICATORS": "static_api_key, jwt",
				"AUTH__JWT__HS256_SECRET":               "s3cret",
			},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "grpc", c.Auth.Endpoints.GRPC.Authenticators, []string{"static_api_key"})
				wantEq(t, "http", c.Auth.Endpoints.HTTP.Authenticators, []string{"static_api_key", "jwt"})
				wantEq(t, "hs256", c.Auth.JWT.HS256Secret, "s3cret")
			},
		},
		{
			name: "durations from file and env",
			file: "[engine]\npoll_hold = \"250ms\"\nworkflow_task_lease = 45\nworker_timeout = \"2m\"\n",
			env:  map[string]string{"ENGINE__RECHECK_INTERVAL": "500ms"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "PollHold", c.Engine.PollHold.Duration, 250*time.Millisecond)
				wantEq(t, "WorkflowTaskLease", c.Engine.WorkflowTaskLease.Duration, 45*time.Second)
				wantEq(t, "WorkerTimeout", c.Engine.WorkerTimeout.Duration, 2*time.Minute)
				wantEq(t, "RecheckInterval", c.Engine.RecheckInterval.Duration, 500*time.Millisecond)
			},
		},
		{
			name: "poll hold 0 answers at once",
			env:  map[string]string{"ENGINE__POLL_HOLD": "0"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "PollHold", c.Engine.PollHold.Duration, time.Duration(0))
			},
		},
		{
			name: "nats from env",
			env:  map[string]string{"NATS__ENABLED": "true", "NATS__URL": "nats://localhost:4222"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "NATS", c.NATS, config.NATSConfig{Enabled: true, URL: "nats://localhost:4222"})
			},
		},
		{
			name: "--nats-url enables nats",
			args: []string{"--nats-url", "nats://n:4222"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "NATS", c.NATS, config.NATSConfig{Enabled: true, URL: "nats://n:4222"})
			},
		},
		{
			name: "booleans, secret and address flags",
			env:  map[string]string{"RUN_MIGRATIONS": "false", "AUTH__ENABLED": "0", "METRICS__ENABLED": "false", "WORKER_TOKEN_SECRET": "from-env"},
			args: []string{"--worker-token-secret", "from-flag", "--ip", "127.0.0.1", "--grpc-port", "0", "--log-format", "json"},
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "RunMigrations", c.RunMigrations, false)
				wantEq(t, "Auth.Enabled", c.Auth.Enabled, false)
				wantEq(t, "Metrics.Enabled", c.Metrics.Enabled, false)
				wantEq(t, "secret", c.Auth.WorkerToken.Secret, "from-flag")
				wantEq(t, "GRPCAddr", c.GRPCAddr(), "127.0.0.1:0")
				wantEq(t, "Log.Format", c.Log.Format, "json")
			},
		},
		{
			name: "an endpoint table without exclude_paths keeps the defaults",
			file: "[auth.endpoints.http]\nauthenticators = [\"static_api_key\"]\nauthorizer = \"cedar\"\n",
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "ExcludePaths", c.Auth.Endpoints.HTTP.ExcludePaths, config.Default().Auth.Endpoints.HTTP.ExcludePaths)
			},
		},
		{
			name: "a list in the file replaces the default list",
			file: "[auth.endpoints.http]\nexclude_paths = [\"/_/health\"]\n",
			check: func(t *testing.T, c *config.Config) {
				wantEq(t, "ExcludePaths", c.Auth.Endpoints.HTTP.ExcludePaths, []string{"/_/health"})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := load(t, path, tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestConfigFileLocation(t *testing.T) {
	fromEnv := writeFile(t, "server_port = 7100\n")
	fromFlag := writeFile(t, "server_port = 7200\n")
	fromArg := writeFile(t, "server_port = 7300\n")
	env := map[string]string{"CONFIG_FILE": fromEnv}
	tests := []struct {
		name string
		path string
		args []string
		want int
	}{
		{"CONFIG_FILE when path is empty", "", nil, 7100},
		{"--config beats CONFIG_FILE", "", []string{"--config", fromFlag}, 7200},
		{"path argument beats both", fromArg, []string{"--config", fromFlag}, 7300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.path, env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			wantEq(t, "HTTPPort", c.HTTPPort, tt.want)
		})
	}
}

// harnessFile is the file the Rust, TypeScript and Python SDK e2e harnesses
// write (e2e-inventory §2.1), with the values they generate.
const harnessFile = `
# Pre-configured organizations
[[orgs]]
id = "6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c"
name = "Test Organization"
slug = "test-1a2b3c4d"
tier = "FREE"

# Authentication configuration
[auth]
enabled = true

# Static API keys
[auth.static_api_key]
keys = [
    { key = "flovyn_sk_test_0b9e3c1d-7f2a-4b", org_id = "6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c", principal_type = "User", principal_id = "api:test", role = "ADMIN" },
    { key = "flovyn_wk_test_5c8d2e7f-1a3b-4c", org_id = "6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c", principal_type = "Worker", principal_id = "worker:test" }
]

# Endpoint authentication
[auth.endpoints.http]
authenticators = ["static_api_key"]
authorizer = "cedar"

[auth.endpoints.grpc]
authenticators = ["static_api_key"]
authorizer = "cedar"
`

func TestHarnessFile(t *testing.T) {
	const orgID = "6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c"
	env := map[string]string{
		"DATABASE_URL":     "postgres://flovyn:flovyn@host.docker.internal:55432/flovyn",
		"NATS__ENABLED":    "true",
		"NATS__URL":        "nats://host.docker.internal:54222",
		"SERVER_PORT":      "8000",
		"GRPC_SERVER_PORT": "9090",
		"CONFIG_FILE":      writeFile(t, harnessFile),
	}
	c, err := load(t, "", env)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(); err != nil {
		t.Errorf("Ready: %v (the harness sets no worker-token secret)", err)
	}
	wantEq(t, "HTTPPort", c.HTTPPort, 8000)
	wantEq(t, "GRPCPort", c.GRPCPort, 9090)
	wantEq(t, "NATS", c.NATS, config.NATSConfig{Enabled: true, URL: "nats://host.docker.internal:54222"})
	wantEq(t, "Orgs", c.Orgs, []config.Org{{ID: orgID, Name: "Test Organization", Slug: "test-1a2b3c4d", Tier: "FREE"}})
	wantEq(t, "Auth.Enabled", c.Auth.Enabled, true)
	wantEq(t, "Keys", c.Auth.StaticAPIKey.Keys, []config.StaticKey{
		{Key: "flovyn_sk_test_0b9e3c1d-7f2a-4b", OrgID: orgID, PrincipalType: "User", PrincipalID: "api:test", Role: "ADMIN"},
		{Key: "flovyn_wk_test_5c8d2e7f-1a3b-4c", OrgID: orgID, PrincipalType: "Worker", PrincipalID: "worker:test"},
	})
	for name, ep := range map[string]config.Endpoint{"http": c.Auth.Endpoints.HTTP, "grpc": c.Auth.Endpoints.GRPC} {
		wantEq(t, name+" authenticators", ep.Authenticators, []string{"static_api_key"})
		wantEq(t, name+" authorizer", ep.Authorizer, "cedar")
	}
	if !slices.Contains(c.Auth.Endpoints.HTTP.ExcludePaths, "/_/health") {
		t.Errorf("health check needs credentials: exclude_paths = %v", c.Auth.Endpoints.HTTP.ExcludePaths)
	}
	wantEq(t, "Ignored", len(c.Ignored), 0)
}

func TestToleratedKeys(t *testing.T) {
	const file = `
server_port = 8000

[otel]
enabled = true
otlp_endpoint = "http://localhost:4317"

[metrics]
enabled = true
port = 9093

[auth]
enabled = true

[auth.jwt]
skip_verification = true
jwks_uri = "https://id.example.com/.well-known/jwks.json"
clock_skew = 60

[auth.better_auth]
validation_url = "http://app/validate"
timeout_secs = 5

[auth.better_auth.jwt]
audience = "flovyn-server"

[auth.attr_resolver]
resolver_type = "noop"

[auth.org_resolver]
cache_ttl_secs = 300

[streaming]
backend = "memory"

[[plugins]]
name = "x"

[[plugins]]
name = "y"
`
	c, err := load(t, writeFile(t, file), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "Ignored", c.Ignored, []string{"otel", "metrics.port", "auth.better_auth", "auth.attr_resolver", "auth.org_resolver", "streaming", "plugins"})
	wantEq(t, "skip_verification alias", c.Auth.JWT.SkipSignatureVerification, true)
	wantEq(t, "jwks_uri alias", c.Auth.JWT.JWKSURL, "https://id.example.com/.well-known/jwks.json")
	wantEq(t, "clock_skew as seconds", c.Auth.JWT.ClockSkew.Duration, time.Minute)
	wantEq(t, "HTTPPort", c.HTTPPort, 8000)
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.toml")
	tests := []struct {
		name    string
		file    string
		path    string // used when file is empty
		env     map[string]string
		key     string // "$FILE" stands for the file's path
		msgPart string
	}{
		{name: "unreadable file", path: missing, key: missing, msgPart: "cannot read file"},
		{name: "TOML syntax", file: "server_port = 1\ngrpc_server_port = = 2\n", key: "$FILE", msgPart: "line 2"},
		{name: "wrong type", file: "\nserver_port = \"eighty\"\n", key: "server_port", msgPart: "line 2"},
		{name: "bad duration in file", file: "[engine]\npoll_hold = \"soon\"\n", key: "engine.poll_hold", msgPart: "invalid duration"},
		{name: "duration that is neither string nor number", file: "[engine]\nrecheck_interval = true\n", key: "engine.recheck_interval", msgPart: "invalid duration"},
		{name: "wrong type named in TOML words", file: "[auth]\nenabled = \"yes\"\n", key: "auth.enabled", msgPart: "expected a boolean"},
		{name: "typo in a known table", file: "[nats]\nenabled = true\nurll = \"nats://x\"\n", key: "nats.urll", msgPart: "unknown key"},
		{name: "unknown top-level value", file: "databse_url = \"postgres://x\"\n", key: "databse_url", msgPart: "line 1"},
		{name: "unknown key in a static key", file: "[auth.static_api_key]\nkeys = [{ key = \"k\" }, { key = \"l\", tenant_id = \"x\" }]\n", key: "auth.static_api_key.keys[1].tenant_id", msgPart: "unknown key"},
		{name: "unknown key in an org", file: "[[orgs]]\nid = \"6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c\"\nslug = \"a\"\n[[orgs]]\nid = \"0d3c6b1e-8a2f-4c7d-b5e9-1f2a3b4c5d6e\"\nslug = \"b\"\nteam_id = \"t\"\n", key: "orgs[1].team_id", msgPart: "line 7"},
		{name: "alias next to its new name", file: "[auth.jwt]\nskip_verification = true\nskip_signature_verification = true\n", key: "auth.jwt.skip_verification", msgPart: "keep only"},
		{name: "alias with a wrong type", file: "[auth.jwt]\nskip_verification = \"maybe\"\n", key: "auth.jwt.skip_verification", msgPart: "not a boolean"},
		{name: "non-integer env port", env: map[string]string{"SERVER_PORT": "http"}, key: "SERVER_PORT", msgPart: "not an integer"},
		{name: "non-integer env grpc port", env: map[string]string{"GRPC_SERVER_PORT": "9090x"}, key: "GRPC_SERVER_PORT", msgPart: "not an integer"},
		{name: "non-boolean env", env: map[string]string{"NATS__ENABLED": "yes please"}, key: "NATS__ENABLED", msgPart: "not a boolean"},
		{name: "bad env duration", env: map[string]string{"ENGINE__POLL_HOLD": "soon"}, key: "ENGINE__POLL_HOLD", msgPart: "invalid duration"},
		{name: "bad env list", env: map[string]string{"AUTH__ENDPOINTS__HTTP__AUTHENTICATORS": `["jwt"`}, key: "AUTH__ENDPOINTS__HTTP__AUTHENTICATORS", msgPart: "JSON"},
		{name: "validation runs after loading", file: "[[orgs]]\nid = \"6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c\"\nslug = \"Bad Slug\"\n", key: "orgs[0].slug", msgPart: "lower-case"},
		{name: "validation of an env value", env: map[string]string{"SERVER_PORT": "70000"}, key: "server_port", msgPart: "not a port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.path
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := load(t, path, tt.env)
			key := strings.ReplaceAll(tt.key, "$FILE", path)
			ce := wantConfigError(t, err, key)
			if ce != nil && !strings.Contains(ce.Msg, tt.msgPart) {
				t.Errorf("message %q does not contain %q", ce.Msg, tt.msgPart)
			}
		})
	}
}

// validConfig is a configuration every case of TestValidateErrors breaks in
// exactly one place.
func validConfig() config.Config {
	c := config.Default()
	c.Orgs = []config.Org{
		{ID: "6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c", Name: "One", Slug: "one"},
		{ID: "0d3c6b1e-8a2f-4c7d-b5e9-1f2a3b4c5d6e", Name: "Two", Slug: "two"},
	}
	c.Auth.StaticAPIKey.Keys = []config.StaticKey{
		{Key: "flovyn_sk_a", OrgID: c.Orgs[0].ID, PrincipalType: "User", PrincipalID: "api:a", Role: "ADMIN"},
		{Key: "flovyn_wk_b", OrgID: c.Orgs[0].ID, PrincipalType: "Worker", PrincipalID: "worker:b"},
	}
	return c
}

func TestValidateErrors(t *testing.T) {
	if c := validConfig(); c.Validate() != nil {
		t.Fatalf("base config is invalid: %v", c.Validate())
	}
	keys := "auth.static_api_key.keys"
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		key    string
	}{
		{"negative http port", func(c *config.Config) { c.HTTPPort = -1 }, "server_port"},
		{"http port too large", func(c *config.Config) { c.HTTPPort = 65536 }, "server_port"},
		{"grpc port too large", func(c *config.Config) { c.GRPCPort = 100000 }, "grpc_server_port"},
		{"same port twice", func(c *config.Config) { c.GRPCPort = c.HTTPPort }, "grpc_server_port"},
		{"bind address", func(c *config.Config) { c.BindAddress = "0.0.0.0:8080" }, "bind_address"},
		{"log level", func(c *config.Config) { c.Log.Level = "verbose" }, "log.level"},
		{"log format", func(c *config.Config) { c.Log.Format = "xml" }, "log.format"},
		{"nats without url", func(c *config.Config) { c.NATS.Enabled = true }, "nats.url"},
		{"org id not a UUID", func(c *config.Config) { c.Orgs[0].ID = "org-1" }, "orgs[0].id"},
		{"org id missing", func(c *config.Config) { c.Orgs[1].ID = "" }, "orgs[1].id"},
		{"duplicate org id", func(c *config.Config) { c.Orgs[1].ID = strings.ToUpper(c.Orgs[0].ID) }, "orgs[1].id"},
		{"slug with capitals", func(c *config.Config) { c.Orgs[0].Slug = "One" }, "orgs[0].slug"},
		{"slug starting with hyphen", func(c *config.Config) { c.Orgs[0].Slug = "-one" }, "orgs[0].slug"},
		{"slug with underscore", func(c *config.Config) { c.Orgs[0].Slug = "one_two" }, "orgs[0].slug"},
		{"slug too long", func(c *config.Config) { c.Orgs[0].Slug = strings.Repeat("a", 64) }, "orgs[0].slug"},
		{"slug empty", func(c *config.Config) { c.Orgs[0].Slug = "" }, "orgs[0].slug"},
		{"duplicate slug", func(c *config.Config) { c.Orgs[1].Slug = "one" }, "orgs[1].slug"},
		{"empty key", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[0].Key = " " }, keys + "[0].key"},
		{"duplicate key", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[1].Key = "flovyn_sk_a" }, keys + "[1].key"},
		{"key org_id not a UUID", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[0].OrgID = "one" }, keys + "[0].org_id"},
		{"principal type", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[1].PrincipalType = "Service" }, keys + "[1].principal_type"},
		{"principal id", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[0].PrincipalID = "" }, keys + "[0].principal_id"},
		{"unknown role", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[0].Role = "ROOT" }, keys + "[0].role"},
		{"worker with a role", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[1].Role = "ADMIN" }, keys + "[1].role"},
		{"worker instance admin", func(c *config.Config) { c.Auth.StaticAPIKey.Keys[1].InstanceAdmin = true }, keys + "[1].instance_admin"},
		{"unknown authenticator", func(c *config.Config) {
			c.Auth.Endpoints.GRPC.Authenticators = []string{"static_api_key", "oauth"}
		}, "auth.endpoints.grpc.authenticators"},
		{"no authenticator", func(c *config.Config) { c.Auth.Endpoints.HTTP.Authenticators = nil }, "auth.endpoints.http.authenticators"},
		{"authorizer", func(c *config.Config) { c.Auth.Endpoints.HTTP.Authorizer = "noop" }, "auth.endpoints.http.authorizer"},
		{"exclude path", func(c *config.Config) { c.Auth.Endpoints.HTTP.ExcludePaths = []string{"_/health"} }, "auth.endpoints.http.exclude_paths"},
		{"grpc exclude paths", func(c *config.Config) { c.Auth.Endpoints.GRPC.ExcludePaths = []string{"/x"} }, "auth.endpoints.grpc.exclude_paths"},
		{"worker token prefix", func(c *config.Config) { c.Auth.WorkerToken.Prefix = "" }, "auth.worker_token.prefix"},
		{"jwks url", func(c *config.Config) { c.Auth.JWT.JWKSURL = "file:///keys.json" }, "auth.jwt.jwks_url"},
		{"jwt without keys", func(c *config.Config) { c.Auth.Endpoints.HTTP.Authenticators = []string{"jwt"} }, "auth.jwt"},
		{"clock skew", func(c *config.Config) { c.Auth.JWT.ClockSkew.Duration = -time.Second }, "auth.jwt.clock_skew"},
		{"tenant claim", func(c *config.Config) { c.Auth.JWT.TenantClaim = "" }, "auth.jwt.tenant_claim"},
		{"role claim", func(c *config.Config) { c.Auth.JWT.RoleClaim = "" }, "auth.jwt.role_claim"},
		{"poll hold", func(c *config.Config) { c.Engine.PollHold.Duration = -time.Millisecond }, "engine.poll_hold"},
		{"poll hold longer than worker timeout", func(c *config.Config) { c.Engine.PollHold.Duration = time.Hour }, "engine.poll_hold"},
		{"workflow task lease", func(c *config.Config) { c.Engine.WorkflowTaskLease.Duration = 0 }, "engine.workflow_task_lease"},
		{"worker timeout", func(c *config.Config) { c.Engine.WorkerTimeout.Duration = -time.Second }, "engine.worker_timeout"},
		{"recheck interval", func(c *config.Config) { c.Engine.RecheckInterval.Duration = 0 }, "engine.recheck_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tt.mutate(&c)
			ce := wantConfigError(t, c.Validate(), tt.key)
			if ce != nil && ce.Error() != "config: "+ce.Key+": "+ce.Msg {
				t.Errorf("Error() = %q", ce.Error())
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	c := validConfig()
	c.HTTPPort, c.GRPCPort = 0, 0 // free ports
	c.Log.Level, c.Log.Format = "DEBUG", "Json"
	c.Orgs[0].ID = strings.ToUpper(c.Orgs[0].ID)
	c.Orgs[0].Name, c.Orgs[0].Tier = "", ""
	c.Auth.StaticAPIKey.Keys[0].PrincipalType, c.Auth.StaticAPIKey.Keys[0].Role = "user", ""
	c.Auth.StaticAPIKey.Keys[1].PrincipalType = "WORKER"
	c.Auth.StaticAPIKey.Keys[1].OrgID = "urn:uuid:" + strings.ToUpper(c.Orgs[1].ID)
	c.Auth.Endpoints.HTTP.Authenticators = []string{"jwt"}
	c.Auth.JWT.SkipSignatureVerification = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	wantEq(t, "Log", c.Log, config.LogConfig{Level: "debug", Format: "json"})
	wantEq(t, "org", c.Orgs[0], config.Org{ID: "6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c", Name: "one", Slug: "one", Tier: "FREE"})
	wantEq(t, "user key", [2]string{c.Auth.StaticAPIKey.Keys[0].PrincipalType, c.Auth.StaticAPIKey.Keys[0].Role}, [2]string{"User", "MEMBER"})
	wantEq(t, "worker key", [2]string{c.Auth.StaticAPIKey.Keys[1].PrincipalType, c.Auth.StaticAPIKey.Keys[1].OrgID}, [2]string{"Worker", "0d3c6b1e-8a2f-4c7d-b5e9-1f2a3b4c5d6e"})
}

func TestReady(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		key    string // "" for no error
	}{
		{"no database", func(c *config.Config) {}, "database_url"},
		{"the secret is optional", func(c *config.Config) { c.DatabaseURL = "postgres://x" }, ""},
		{"secret given", func(c *config.Config) { c.DatabaseURL = "postgres://x"; c.Auth.WorkerToken.Secret = "s" }, ""},
		{"static keys only", func(c *config.Config) {
			c.DatabaseURL = "postgres://x"
			c.Auth.Endpoints.HTTP.Authenticators = []string{"static_api_key"}
			c.Auth.Endpoints.GRPC.Authenticators = []string{"static_api_key"}
		}, ""},
		{"auth disabled", func(c *config.Config) { c.DatabaseURL = "postgres://x"; c.Auth.Enabled = false }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			err := c.Ready()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Ready: %v", err)
				}
				return
			}
			wantConfigError(t, err, tt.key)
		})
	}
}

func TestRegisterFlags(t *testing.T) {
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	tests := []struct{ flag, def, env string }{
		{"config", "", "CONFIG_FILE"},
		{"database-url", "", "DATABASE_URL"},
		{"http-port", "8080", "SERVER_PORT"},
		{"grpc-port", "9090", "GRPC_SERVER_PORT"},
		{"ip", "0.0.0.0", "BIND_ADDRESS"},
		{"nats-url", "", "NATS__URL"},
		{"run-migrations", "true", "RUN_MIGRATIONS"},
		{"log-level", "info", "LOG_LEVEL"},
		{"log-format", "auto", "LOG_FORMAT"},
		{"worker-token-secret", "", "WORKER_TOKEN_SECRET"},
		{"policy-file", "", "AUTH__POLICY_FILE"},
	}
	for _, tt := range tests {
		f := fs.Lookup(tt.flag)
		if f == nil {
			t.Errorf("--%s not registered", tt.flag)
			continue
		}
		if f.DefValue != tt.def {
			t.Errorf("--%s default = %q, want %q", tt.flag, f.DefValue, tt.def)
		}
		if !strings.Contains(f.Usage, tt.env) {
			t.Errorf("--%s help %q does not name %s", tt.flag, f.Usage, tt.env)
		}
	}
}

func TestInstanceAdminAndPolicyFile(t *testing.T) {
	const orgID = "6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c"
	path := writeFile(t, `
[auth]
policy_file = "/etc/flovyn/file.cedar"

[auth.static_api_key]
keys = [
    { key = "root", org_id = "`+orgID+`", principal_type = "User", principal_id = "user:root", role = "OWNER", instance_admin = true },
    { key = "plain", org_id = "`+orgID+`", principal_type = "User", principal_id = "user:plain" },
]
`)
	c, err := load(t, path, map[string]string{"AUTH__POLICY_FILE": "/env.cedar"}, "--policy-file", "/flag.cedar")
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "PolicyFile", c.Auth.PolicyFile, "/flag.cedar")
	wantEq(t, "InstanceAdmin", []bool{c.Auth.StaticAPIKey.Keys[0].InstanceAdmin, c.Auth.StaticAPIKey.Keys[1].InstanceAdmin}, []bool{true, false})
	c, err = load(t, path, map[string]string{"AUTH__POLICY_FILE": "/env.cedar"})
	if err != nil {
		t.Fatal(err)
	}
	wantEq(t, "PolicyFile", c.Auth.PolicyFile, "/env.cedar")
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1s", time.Second, true},
		{"250ms", 250 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{"0", 0, true},
		{"5", 5 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"1_000", 1000 * time.Second, true},
		{"soon", 0, false},
		{"", 0, false},
		{"1e300", 0, false},
	}
	for _, tt := range tests {
		var d config.Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || d.Duration != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, ok=%v", tt.in, d.Duration, err, tt.want, tt.ok)
		}
	}
}

func wantEq[T any](t *testing.T, name string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", name, got, want)
	}
}

// wantConfigError checks that err is a *config.Error for key and returns it.
func wantConfigError(t *testing.T, err error, key string) *config.Error {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Errorf("error = %v (%T), want a *config.Error for %q", err, err, key)
		return nil
	}
	if ce.Key != key {
		t.Errorf("error key = %q, want %q (error: %v)", ce.Key, key, err)
	}
	return ce
}
