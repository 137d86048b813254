// Package config holds the flovyn server's configuration.
//
// Values are layered: Default(), then a TOML file, then environment
// variables, then command-line flags that were set explicitly. Load does the
// layering and validates the result; Validate can be called again after a
// caller (such as `flovyn dev`) fills in values of its own.
package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/flovyn/flovyn/server/limits"
)

// Config is the whole server configuration. The toml tags are the key names
// in the configuration file.
type Config struct {
	// DatabaseURL is the PostgreSQL connection URL. It may be empty after
	// Load: `flovyn dev` fills it in; Ready reports it missing.
	DatabaseURL string `toml:"database_url"`
	// HTTPPort serves REST, health and metrics; 0 picks a free port.
	HTTPPort int `toml:"server_port"`
	// GRPCPort serves the worker protocol; 0 picks a free port.
	GRPCPort int `toml:"grpc_server_port"`
	// BindAddress is the IP address or host name both listeners bind to.
	BindAddress string `toml:"bind_address"`
	// RunMigrations applies pending database migrations at start.
	RunMigrations bool `toml:"run_migrations"`

	Log     LogConfig     `toml:"log"`
	NATS    NATSConfig    `toml:"nats"`
	Metrics MetricsConfig `toml:"metrics"`
	// Orgs are tenants created or updated at start (tenants not listed are
	// left alone).
	Orgs   []Org        `toml:"orgs"`
	Auth   AuthConfig   `toml:"auth"`
	Engine EngineConfig `toml:"engine"`
	Limits LimitsConfig `toml:"limits"`

	// Ignored lists keys found in the file that flovyn accepts but does not
	// use (sections of the original server such as [otel]). The server logs
	// them as a warning.
	Ignored []string `toml:"-"`
}

// LogConfig selects the slog handler.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info, warn or error
	Format string `toml:"format"` // auto (text on a terminal, JSON otherwise), text or json
}

// NATSConfig connects the server to NATS for wake-ups between replicas.
type NATSConfig struct {
	Enabled bool   `toml:"enabled"`
	URL     string `toml:"url"`
}

// MetricsConfig controls the Prometheus endpoint at /metrics on the HTTP port.
type MetricsConfig struct {
	Enabled bool `toml:"enabled"`
}

// Org is a tenant seeded from the configuration file.
type Org struct {
	ID     string `toml:"id"`     // UUID, normalised to lower case by Validate
	Name   string `toml:"name"`   // defaults to Slug
	Slug   string `toml:"slug"`   // used in REST paths
	Tier   string `toml:"tier"`   // defaults to "FREE"
	Region string `toml:"region"` // optional
}

// AuthConfig configures authentication and authorization.
type AuthConfig struct {
	// Enabled false turns every check off: for local experiments only.
	Enabled bool `toml:"enabled"`
	// PolicyFile replaces the embedded Cedar policies when set.
	PolicyFile   string             `toml:"policy_file"`
	StaticAPIKey StaticAPIKeyConfig `toml:"static_api_key"`
	WorkerToken  WorkerTokenConfig  `toml:"worker_token"`
	JWT          JWTConfig          `toml:"jwt"`
	Endpoints    EndpointsConfig    `toml:"endpoints"`
}

// StaticAPIKeyConfig lists credentials written in the configuration file.
type StaticAPIKeyConfig struct {
	Keys []StaticKey `toml:"keys"`
}

// Principal types of a static key, as normalised by Validate.
const (
	PrincipalUser   = "User"
	PrincipalWorker = "Worker"
)

// StaticKey is one credential from the file. Keys are opaque strings.
type StaticKey struct {
	Key           string `toml:"key"`
	OrgID         string `toml:"org_id"`         // UUID of the tenant the key is bound to
	PrincipalType string `toml:"principal_type"` // User or Worker (any case in the file)
	PrincipalID   string `toml:"principal_id"`
	Role          string `toml:"role"` // User keys only; defaults to auth.DefaultRole
	// InstanceAdmin lets a User key create and list tenants and act in any
	// tenant (optional, default false).
	InstanceAdmin bool `toml:"instance_admin"`
}

// WorkerTokenConfig configures `fwt_` worker tokens and API keys, which are
// stored as an HMAC-SHA256 of the token keyed with Secret.
type WorkerTokenConfig struct {
	Prefix string `toml:"prefix"`
	// Secret belongs in the environment (WORKER_TOKEN_SECRET); the file is
	// accepted too. Required when worker_token or api_key authenticates.
	Secret string `toml:"secret"`
}

// JWTConfig configures the jwt authenticator. It is only parsed here.
type JWTConfig struct {
	Issuer        string `toml:"issuer"`
	Audience      string `toml:"audience"`
	JWKSURL       string `toml:"jwks_url"`
	PublicKeyFile string `toml:"public_key_file"` // PEM
	HS256Secret   string `toml:"hs256_secret"`
	// SkipSignatureVerification trusts any well-formed token: tests only.
	SkipSignatureVerification bool     `toml:"skip_signature_verification"`
	ClockSkew                 Duration `toml:"clock_skew"`
	TenantClaim               string   `toml:"tenant_claim"` // claim naming the tenant
	RoleClaim                 string   `toml:"role_claim"`
}

// EndpointsConfig holds the authenticator chain of each listener.
type EndpointsConfig struct {
	HTTP Endpoint `toml:"http"`
	GRPC Endpoint `toml:"grpc"`
}

// Authenticator names accepted in Endpoint.Authenticators.
const (
	AuthStaticAPIKey = "static_api_key"
	AuthWorkerToken  = "worker_token"
	AuthAPIKey       = "api_key"
	AuthJWT          = "jwt"
)

// Endpoint is the authentication set-up of one listener. Authenticators are
// tried in order.
type Endpoint struct {
	Authenticators []string `toml:"authenticators"`
	Authorizer     string   `toml:"authorizer"` // "cedar"
	// ExcludePaths are exact request paths served without credentials
	// (HTTP only). Setting the list replaces the default one.
	ExcludePaths []string `toml:"exclude_paths"`
}

// EngineConfig holds the dispatch tuning knobs.
type EngineConfig struct {
	// PollHold is how long an empty poll is held waiting for work; 0 answers at once.
	PollHold Duration `toml:"poll_hold"`
	// WorkflowTaskLease is how long a worker may hold a workflow task before
	// it goes back to PENDING.
	WorkflowTaskLease Duration `toml:"workflow_task_lease"`
	// WorkerTimeout is the lease of the work a worker holds through a
	// replica, renewed by that replica while the worker stays connected: a
	// replica that dies stops renewing, and its work is offered again once
	// the lease runs out.
	WorkerTimeout Duration `toml:"worker_timeout"`
	// RecheckInterval bounds the cost of a lost wake-up: held polls and
	// background loops look at the database at least this often.
	RecheckInterval Duration `toml:"recheck_interval"`
}

// LimitsConfig bounds what one request or one workflow may store.
type LimitsConfig struct {
	// MaxPayloadBytes bounds each payload: an input, output, signal value,
	// task result or state value.
	MaxPayloadBytes int `toml:"max_payload_bytes"`
	// MaxHistoryBytes bounds a workflow's history as GetEvents sends it.
	// The default fits the 4 MiB a gRPC client receives unless configured
	// otherwise (tonic's and grpc-go's default, which the SDKs keep).
	MaxHistoryBytes int `toml:"max_history_bytes"`
	// HistoryWarnBytes logs a warning when a history grows past it.
	HistoryWarnBytes int `toml:"history_warn_bytes"`
}

// Default returns the configuration used when nothing else is given.
func Default() Config {
	return Config{
		HTTPPort:      8080,
		GRPCPort:      9090,
		BindAddress:   "0.0.0.0",
		RunMigrations: true,
		Log:           LogConfig{Level: "info", Format: "auto"},
		Metrics:       MetricsConfig{Enabled: true},
		Auth: AuthConfig{
			Enabled:     true,
			WorkerToken: WorkerTokenConfig{Prefix: "fwt_"},
			JWT: JWTConfig{
				ClockSkew:   Duration{30 * time.Second},
				TenantClaim: "tenant",
				RoleClaim:   "role",
			},
			Endpoints: EndpointsConfig{
				HTTP: Endpoint{
					Authenticators: []string{AuthWorkerToken, AuthAPIKey, AuthStaticAPIKey},
					Authorizer:     "cedar",
					ExcludePaths:   []string{"/_/health", "/api/docs", "/api/docs/openapi.json", "/metrics"},
				},
				GRPC: Endpoint{
					Authenticators: []string{AuthWorkerToken, AuthAPIKey, AuthStaticAPIKey},
					Authorizer:     "cedar",
				},
			},
		},
		Engine: EngineConfig{
			PollHold:          Duration{time.Second},
			WorkflowTaskLease: Duration{30 * time.Second},
			WorkerTimeout:     Duration{10 * time.Second},
			RecheckInterval:   Duration{time.Second},
		},
		Limits: LimitsConfig{
			MaxPayloadBytes:  limits.DefaultMaxPayloadBytes,
			MaxHistoryBytes:  limits.DefaultMaxHistoryBytes,
			HistoryWarnBytes: limits.DefaultHistoryWarnBytes,
		},
	}
}

// HTTPAddr is the listen address of the REST server.
func (c *Config) HTTPAddr() string {
	return net.JoinHostPort(c.BindAddress, strconv.Itoa(c.HTTPPort))
}

// GRPCAddr is the listen address of the gRPC server.
func (c *Config) GRPCAddr() string {
	return net.JoinHostPort(c.BindAddress, strconv.Itoa(c.GRPCPort))
}

// Error is a configuration problem. Key names the setting: a TOML key such as
// "orgs[0].slug", an environment variable, or the file when the file itself
// is at fault. Callers exit with status 2 on it.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return "config: " + e.Key + ": " + e.Msg }

// Duration is a time.Duration written as a string with a unit ("250ms",
// "30s", "1m"). A bare number is read as seconds, so `poll_hold = 0` works.
type Duration struct{ time.Duration }

// UnmarshalText parses "1s", "250ms", or a number of seconds.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go's notation ("1m30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if n, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil {
		if secs := n * float64(time.Second); secs >= -(1<<63) && secs < 1<<63 {
			return time.Duration(secs), nil
		}
	}
	return 0, fmt.Errorf("invalid duration %q (use a unit, e.g. \"30s\" or \"250ms\")", s)
}
