package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
)

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// Validate checks the configuration and reports the first problem as an
// *Error naming the key. It also normalises values that have one canonical
// spelling (UUIDs, principal types, roles, log level) and fills per-item
// defaults (org name and tier, User role), so it is safe to call again.
func (c *Config) Validate() error {
	checks := []func() error{c.validateServer, c.validateOrgs, c.validateStaticKeys, c.validateAuth, c.validateEngine, c.validateLimits}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// Ready reports a value the server cannot start without but that Load leaves
// optional, because `flovyn dev` supplies it after loading: the database URL.
// Call it after
// Validate, just before starting the server.
func (c *Config) Ready() error {
	if strings.TrimSpace(c.DatabaseURL) == "" {
		return &Error{Key: "database_url", Msg: "required (set DATABASE_URL or --database-url)"}
	}
	return nil
}

func errorf(key, format string, args ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) validateServer() error {
	for _, p := range []struct {
		key  string
		port int
	}{{"server_port", c.HTTPPort}, {"grpc_server_port", c.GRPCPort}} {
		if p.port < 0 || p.port > 65535 {
			return errorf(p.key, "%d is not a port (0 to 65535; 0 picks a free one)", p.port)
		}
	}
	if c.HTTPPort != 0 && c.HTTPPort == c.GRPCPort {
		return errorf("grpc_server_port", "%d is also server_port", c.GRPCPort)
	}
	if c.BindAddress != "" && net.ParseIP(c.BindAddress) == nil && !hostnameRE.MatchString(c.BindAddress) {
		return errorf("bind_address", "%q is not an IP address or host name", c.BindAddress)
	}

	c.Log.Level = strings.ToLower(c.Log.Level)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		return errorf("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	c.Log.Format = strings.ToLower(c.Log.Format)
	if !slices.Contains([]string{"auto", "text", "json"}, c.Log.Format) {
		return errorf("log.format", "%q is not one of auto, text, json", c.Log.Format)
	}

	if c.NATS.Enabled && c.NATS.URL == "" {
		return errorf("nats.url", "required when nats.enabled is true")
	}
	return nil
}

func (c *Config) validateOrgs() error {
	ids := map[string]int{}
	slugs := map[string]int{}
	for i := range c.Orgs {
		o := &c.Orgs[i]
		key := fmt.Sprintf("orgs[%d]", i)
		id, err := uuid.Parse(o.ID)
		if err != nil {
			return errorf(key+".id", "%q is not a UUID", o.ID)
		}
		o.ID = id.String()
		if j, dup := ids[o.ID]; dup {
			return errorf(key+".id", "same id as orgs[%d]", j)
		}
		ids[o.ID] = i

		if !slugRE.MatchString(o.Slug) {
			return errorf(key+".slug", "%q must be 1 to 63 lower-case letters, digits or hyphens, starting with a letter or digit", o.Slug)
		}
		if j, dup := slugs[o.Slug]; dup {
			return errorf(key+".slug", "same slug as orgs[%d]", j)
		}
		slugs[o.Slug] = i

		if strings.TrimSpace(o.Name) == "" {
			o.Name = o.Slug
		}
		if o.Tier == "" {
			o.Tier = "FREE"
		}
	}
	return nil
}

func (c *Config) validateStaticKeys() error {
	seen := map[string]int{}
	for i := range c.Auth.StaticAPIKey.Keys {
		k := &c.Auth.StaticAPIKey.Keys[i]
		key := fmt.Sprintf("auth.static_api_key.keys[%d]", i)
		if strings.TrimSpace(k.Key) == "" {
			return errorf(key+".key", "empty")
		}
		if j, dup := seen[k.Key]; dup {
			return errorf(key+".key", "same key as keys[%d]", j)
		}
		seen[k.Key] = i

		id, err := uuid.Parse(k.OrgID)
		if err != nil {
			return errorf(key+".org_id", "%q is not a UUID", k.OrgID)
		}
		k.OrgID = id.String()

		switch {
		case strings.EqualFold(k.PrincipalType, PrincipalUser):
			k.PrincipalType = PrincipalUser
		case strings.EqualFold(k.PrincipalType, PrincipalWorker):
			k.PrincipalType = PrincipalWorker
		default:
			return errorf(key+".principal_type", "%q is not User or Worker", k.PrincipalType)
		}
		if strings.TrimSpace(k.PrincipalID) == "" {
			return errorf(key+".principal_id", "empty")
		}

		k.Role = strings.ToUpper(k.Role)
		switch {
		case k.PrincipalType == PrincipalWorker && k.Role != "":
			return errorf(key+".role", "only User keys have a role")
		case k.PrincipalType == PrincipalUser && k.Role == "":
			k.Role = auth.DefaultRole
		case k.PrincipalType == PrincipalUser && !slices.Contains(auth.Roles, k.Role):
			return errorf(key+".role", "%q is not one of %s", k.Role, strings.Join(auth.Roles, ", "))
		}
		if k.InstanceAdmin && k.PrincipalType != PrincipalUser {
			return errorf(key+".instance_admin", "only User keys can be instance admins")
		}
	}
	return nil
}

func (c *Config) validateAuth() error {
	a := &c.Auth
	used := map[string]bool{}
	for _, ep := range []struct {
		key string
		ep  *Endpoint
	}{{"auth.endpoints.http", &a.Endpoints.HTTP}, {"auth.endpoints.grpc", &a.Endpoints.GRPC}} {
		if a.Enabled && len(ep.ep.Authenticators) == 0 {
			return errorf(ep.key+".authenticators", "empty: no request could authenticate")
		}
		for _, name := range ep.ep.Authenticators {
			switch name {
			case AuthStaticAPIKey, AuthWorkerToken, AuthAPIKey, AuthJWT:
				used[name] = true
			default:
				return errorf(ep.key+".authenticators", "unknown authenticator %q (known: static_api_key, worker_token, api_key, jwt)", name)
			}
		}
		if ep.ep.Authorizer != "cedar" {
			return errorf(ep.key+".authorizer", "%q is not supported (use \"cedar\")", ep.ep.Authorizer)
		}
	}
	for _, p := range a.Endpoints.HTTP.ExcludePaths {
		if !strings.HasPrefix(p, "/") {
			return errorf("auth.endpoints.http.exclude_paths", "%q does not start with /", p)
		}
	}
	if len(a.Endpoints.GRPC.ExcludePaths) > 0 {
		return errorf("auth.endpoints.grpc.exclude_paths", "only the http endpoint has exclude_paths")
	}

	if a.WorkerToken.Prefix == "" {
		return errorf("auth.worker_token.prefix", "empty")
	}

	j := &a.JWT
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errorf("auth.jwt.jwks_url", "%q is not an http(s) URL", j.JWKSURL)
		}
	}
	if a.Enabled && used[AuthJWT] && j.JWKSURL == "" && j.PublicKeyFile == "" && j.HS256Secret == "" && !j.SkipSignatureVerification {
		return errorf("auth.jwt", "the jwt authenticator needs jwks_url, public_key_file or hs256_secret")
	}
	if j.ClockSkew.Duration < 0 {
		return errorf("auth.jwt.clock_skew", "negative")
	}
	if j.TenantClaim == "" {
		return errorf("auth.jwt.tenant_claim", "empty")
	}
	if j.RoleClaim == "" {
		return errorf("auth.jwt.role_claim", "empty")
	}
	return nil
}

func (c *Config) validateLimits() error {
	l := &c.Limits
	switch {
	case l.MaxPayloadBytes <= 0:
		return errorf("limits.max_payload_bytes", "must be positive, got %d", l.MaxPayloadBytes)
	case l.MaxHistoryBytes < l.MaxPayloadBytes:
		return errorf("limits.max_history_bytes", "%d is smaller than limits.max_payload_bytes (%d)", l.MaxHistoryBytes, l.MaxPayloadBytes)
	case l.HistoryWarnBytes <= 0 || l.HistoryWarnBytes > l.MaxHistoryBytes:
		return errorf("limits.history_warn_bytes", "must be positive and at most limits.max_history_bytes (%d), got %d", l.MaxHistoryBytes, l.HistoryWarnBytes)
	}
	return nil
}

func (c *Config) validateEngine() error {
	e := &c.Engine
	if e.PollHold.Duration < 0 {
		return errorf("engine.poll_hold", "negative (0 answers at once)")
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"engine.workflow_task_lease", e.WorkflowTaskLease},
		{"engine.worker_timeout", e.WorkerTimeout},
		{"engine.recheck_interval", e.RecheckInterval},
	} {
		if d.v.Duration <= 0 {
			return errorf(d.key, "must be positive, got %s", d.v)
		}
	}
	if e.PollHold.Duration >= e.WorkerTimeout.Duration {
		return errorf("engine.poll_hold", "%s must be shorter than engine.worker_timeout (%s)", e.PollHold, e.WorkerTimeout)
	}
	return nil
}
