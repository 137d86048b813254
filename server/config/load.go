package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"
)

// setting binds one configuration value to its environment variable and flag.
// The same table drives Load and RegisterFlags.
type setting struct {
	key   string              // TOML key, dotted
	env   string              // environment variable, "" for none
	flag  string              // long flag name, "" for none
	usage string              // flag help
	field func(c *Config) any // pointer to the value inside c
}

var settings = []setting{
	{"database_url", "DATABASE_URL", "database-url", "PostgreSQL connection URL",
		func(c *Config) any { return &c.DatabaseURL }},
	{"server_port", "SERVER_PORT", "http-port", "HTTP (REST, health, metrics) port; 0 picks a free one",
		func(c *Config) any { return &c.HTTPPort }},
	{"grpc_server_port", "GRPC_SERVER_PORT", "grpc-port", "gRPC (worker protocol) port; 0 picks a free one",
		func(c *Config) any { return &c.GRPCPort }},
	{"bind_address", "BIND_ADDRESS", "ip", "address both listeners bind to",
		func(c *Config) any { return &c.BindAddress }},
	{"run_migrations", "RUN_MIGRATIONS", "run-migrations", "apply database migrations at start",
		func(c *Config) any { return &c.RunMigrations }},
	{"log.level", "LOG_LEVEL", "log-level", "log level: debug, info, warn or error",
		func(c *Config) any { return &c.Log.Level }},
	{"log.format", "LOG_FORMAT", "log-format", "log format: auto, text or json",
		func(c *Config) any { return &c.Log.Format }},
	{"nats.enabled", "NATS__ENABLED", "", "",
		func(c *Config) any { return &c.NATS.Enabled }},
	{"nats.url", "NATS__URL", "nats-url", "NATS server URL for wake-ups between replicas (enables NATS)",
		func(c *Config) any { return &c.NATS.URL }},
	{"metrics.enabled", "METRICS__ENABLED", "", "",
		func(c *Config) any { return &c.Metrics.Enabled }},
	{"auth.enabled", "AUTH__ENABLED", "", "",
		func(c *Config) any { return &c.Auth.Enabled }},
	{"auth.policy_file", "AUTH__POLICY_FILE", "policy-file", "Cedar policy file replacing the built-in authorization policies",
		func(c *Config) any { return &c.Auth.PolicyFile }},
	{"auth.worker_token.prefix", "AUTH__WORKER_TOKEN__PREFIX", "", "",
		func(c *Config) any { return &c.Auth.WorkerToken.Prefix }},
	{"auth.worker_token.secret", "WORKER_TOKEN_SECRET", "worker-token-secret", "secret for hashing worker tokens and API keys (prefer the env var)",
		func(c *Config) any { return &c.Auth.WorkerToken.Secret }},
	{"auth.jwt.issuer", "AUTH__JWT__ISSUER", "", "",
		func(c *Config) any { return &c.Auth.JWT.Issuer }},
	{"auth.jwt.audience", "AUTH__JWT__AUDIENCE", "", "",
		func(c *Config) any { return &c.Auth.JWT.Audience }},
	{"auth.jwt.jwks_url", "AUTH__JWT__JWKS_URL", "", "",
		func(c *Config) any { return &c.Auth.JWT.JWKSURL }},
	{"auth.jwt.public_key_file", "AUTH__JWT__PUBLIC_KEY_FILE", "", "",
		func(c *Config) any { return &c.Auth.JWT.PublicKeyFile }},
	{"auth.jwt.hs256_secret", "AUTH__JWT__HS256_SECRET", "", "",
		func(c *Config) any { return &c.Auth.JWT.HS256Secret }},
	{"auth.jwt.skip_signature_verification", "AUTH__JWT__SKIP_SIGNATURE_VERIFICATION", "", "",
		func(c *Config) any { return &c.Auth.JWT.SkipSignatureVerification }},
	{"auth.jwt.clock_skew", "AUTH__JWT__CLOCK_SKEW", "", "",
		func(c *Config) any { return &c.Auth.JWT.ClockSkew }},
	{"auth.jwt.tenant_claim", "AUTH__JWT__TENANT_CLAIM", "", "",
		func(c *Config) any { return &c.Auth.JWT.TenantClaim }},
	{"auth.jwt.role_claim", "AUTH__JWT__ROLE_CLAIM", "", "",
		func(c *Config) any { return &c.Auth.JWT.RoleClaim }},
	{"auth.endpoints.http.authenticators", "AUTH__ENDPOINTS__HTTP__AUTHENTICATORS", "", "",
		func(c *Config) any { return &c.Auth.Endpoints.HTTP.Authenticators }},
	{"auth.endpoints.http.authorizer", "AUTH__ENDPOINTS__HTTP__AUTHORIZER", "", "",
		func(c *Config) any { return &c.Auth.Endpoints.HTTP.Authorizer }},
	{"auth.endpoints.http.exclude_paths", "AUTH__ENDPOINTS__HTTP__EXCLUDE_PATHS", "", "",
		func(c *Config) any { return &c.Auth.Endpoints.HTTP.ExcludePaths }},
	{"auth.endpoints.grpc.authenticators", "AUTH__ENDPOINTS__GRPC__AUTHENTICATORS", "", "",
		func(c *Config) any { return &c.Auth.Endpoints.GRPC.Authenticators }},
	{"auth.endpoints.grpc.authorizer", "AUTH__ENDPOINTS__GRPC__AUTHORIZER", "", "",
		func(c *Config) any { return &c.Auth.Endpoints.GRPC.Authorizer }},
	{"engine.poll_hold", "ENGINE__POLL_HOLD", "", "",
		func(c *Config) any { return &c.Engine.PollHold }},
	{"engine.workflow_task_lease", "ENGINE__WORKFLOW_TASK_LEASE", "", "",
		func(c *Config) any { return &c.Engine.WorkflowTaskLease }},
	{"engine.worker_timeout", "ENGINE__WORKER_TIMEOUT", "", "",
		func(c *Config) any { return &c.Engine.WorkerTimeout }},
	{"engine.recheck_interval", "ENGINE__RECHECK_INTERVAL", "", "",
		func(c *Config) any { return &c.Engine.RecheckInterval }},
	{"limits.max_payload_bytes", "LIMITS__MAX_PAYLOAD_BYTES", "", "",
		func(c *Config) any { return &c.Limits.MaxPayloadBytes }},
	{"limits.max_history_bytes", "LIMITS__MAX_HISTORY_BYTES", "", "",
		func(c *Config) any { return &c.Limits.MaxHistoryBytes }},
	{"limits.history_warn_bytes", "LIMITS__HISTORY_WARN_BYTES", "", "",
		func(c *Config) any { return &c.Limits.HistoryWarnBytes }},
}

// configFlag names the flag that points at the TOML file (env CONFIG_FILE).
const configFlag = "config"

// RegisterFlags adds the server flags to fs, showing the defaults of Default().
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(configFlag, "", "TOML configuration file (env CONFIG_FILE)")
	def := Default()
	for _, s := range settings {
		if s.flag == "" {
			continue
		}
		usage := s.usage + " (env " + s.env + ")"
		switch p := s.field(&def).(type) {
		case *string:
			fs.String(s.flag, *p, usage)
		case *int:
			fs.Int(s.flag, *p, usage)
		case *bool:
			fs.Bool(s.flag, *p, usage)
		default:
			panic(fmt.Sprintf("config: no flag type for %s", s.key))
		}
	}
}

// Load builds the configuration: defaults, then the TOML file, then the
// environment, then flags that were set explicitly, and validates the result.
//
// The file is path, or else the --config flag, or else $CONFIG_FILE; with none
// of them there is no file. lookupEnv is os.LookupEnv in production (nil means
// os.LookupEnv); an empty variable counts as unset. flags may be nil.
func Load(path string, lookupEnv func(string) (string, bool), flags *pflag.FlagSet) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	c := Default()

	if path == "" && flags != nil && flags.Changed(configFlag) {
		path, _ = flags.GetString(configFlag)
	}
	if path == "" {
		path, _ = lookupEnv("CONFIG_FILE")
	}
	if path != "" {
		if err := c.decodeFile(path); err != nil {
			return nil, err
		}
	}

	for _, s := range settings {
		if s.env == "" {
			continue
		}
		v, ok := lookupEnv(s.env)
		if !ok || v == "" {
			continue
		}
		if err := setValue(s.field(&c), v); err != nil {
			return nil, &Error{Key: s.env, Msg: err.Error()}
		}
	}

	if flags != nil {
		for _, s := range settings {
			if s.flag == "" || !flags.Changed(s.flag) {
				continue
			}
			if err := setValue(s.field(&c), flags.Lookup(s.flag).Value.String()); err != nil {
				return nil, &Error{Key: "--" + s.flag, Msg: err.Error()}
			}
		}
		// A NATS URL on the command line is a request to use it.
		if flags.Changed("nats-url") && c.NATS.URL != "" {
			c.NATS.Enabled = true
		}
	}

	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// setValue parses v into the value p points at.
func setValue(p any, v string) error {
	switch p := p.(type) {
	case *string:
		*p = v
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		*p = b
	case *Duration:
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		p.Duration = d
	case *[]string:
		list, err := parseList(v)
		if err != nil {
			return err
		}
		*p = list
	default:
		return fmt.Errorf("unsupported type %T", p)
	}
	return nil
}

// parseList reads a JSON array of strings, or a comma-separated list.
func parseList(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		var list []string
		if err := json.Unmarshal([]byte(v), &list); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %q", v)
		}
		return list, nil
	}
	var list []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list, nil
}

// The file may carry sections of the original Rust server, and SDK harnesses
// may be written against it. Those must not stop the server from starting,
// while a misspelt key in one of our own tables should. So the file is
// decoded strictly and unknown keys are sorted:
//   - an unknown top-level table ([otel], [streaming], ...) is tolerated;
//   - keys of the original server inside our tables (tolerated below) are
//     tolerated, and its spellings of keys we have (aliases) are honoured;
//   - anything else is an error naming the key and its line.
//
// Tolerated keys are listed in Config.Ignored for the server to log.
var tolerated = []string{
	"metrics.port",
	"auth.better_auth",
	"auth.attr_resolver",
	"auth.org_resolver",
}

var aliases = map[string]string{
	"auth.jwt.skip_verification": "auth.jwt.skip_signature_verification",
	"auth.jwt.jwks_uri":          "auth.jwt.jwks_url",
}

func (c *Config) decodeFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &Error{Key: path, Msg: "cannot read file: " + err.Error()}
	}
	// A generic decode first: it reports syntax errors, and tells tables
	// from plain values when sorting unknown keys.
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return decodeError(path, nil, err)
	}
	err = toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(c)
	var missing *toml.StrictMissingError
	if !errors.As(err, &missing) {
		if err != nil {
			return decodeError(path, raw, err)
		}
		return nil
	}
	for _, e := range missing.Errors {
		key := resolveKey(raw, e.Key())
		if canonical, ok := aliases[key]; ok {
			if err := c.applyAlias(raw, key, canonical); err != nil {
				return err
			}
			continue
		}
		if !c.tolerate(raw, key) {
			row, _ := e.Position()
			return &Error{Key: key, Msg: fmt.Sprintf("unknown key (%s line %d)", path, row)}
		}
	}
	return nil
}

// tolerate reports whether an unknown key may be ignored, and records it.
func (c *Config) tolerate(raw map[string]any, key string) bool {
	for _, seen := range c.Ignored {
		if key == seen || strings.HasPrefix(key, seen+".") {
			return true // already listed, or a sub-table of a listed section
		}
	}
	ok := slices.ContainsFunc(tolerated, func(t string) bool {
		return key == t || strings.HasPrefix(key, t+".")
	})
	if !ok && !strings.Contains(key, ".") {
		switch v := raw[key].(type) {
		case map[string]any:
			ok = true
		case []any: // an array of tables
			ok = len(v) > 0 && !slices.ContainsFunc(v, func(x any) bool {
				_, isTable := x.(map[string]any)
				return !isTable
			})
		}
	}
	if ok {
		c.Ignored = append(c.Ignored, key)
	}
	return ok
}

// applyAlias copies the value of an old key name onto the key that replaced it.
func (c *Config) applyAlias(raw map[string]any, alias, canonical string) error {
	if _, both := lookupRaw(raw, canonical); both {
		return &Error{Key: alias, Msg: "set together with " + canonical + "; keep only " + canonical}
	}
	v, _ := lookupRaw(raw, alias)
	for _, s := range settings {
		if s.key == canonical {
			if err := setValue(s.field(c), fmt.Sprint(v)); err != nil {
				return &Error{Key: alias, Msg: err.Error()}
			}
			return nil
		}
	}
	panic("config: alias target without a setting: " + canonical)
}

// resolveKey turns the key path of a go-toml error into the key as written,
// with array indexes: go-toml reports a key inside an inline table of an
// array as "auth.static_api_key.tenant_id"; this returns
// "auth.static_api_key.keys[0].tenant_id".
func resolveKey(raw map[string]any, parts []string) string {
	path := ""
	var cur any = raw
	for _, part := range parts {
		next, step, ok := findKey(cur, part)
		if !ok {
			return strings.Join(parts, ".")
		}
		if path != "" && !strings.HasPrefix(step, "[") {
			path += "."
		}
		path += step
		cur = next
	}
	return path
}

// findKey finds part in cur, looking into arrays of tables when cur is one
// or holds one. It returns the value and the path step leading to it.
func findKey(cur any, part string) (any, string, bool) {
	inArray := func(arr []any) (any, int, bool) {
		for i, el := range arr {
			if m, ok := el.(map[string]any); ok {
				if v, ok := m[part]; ok {
					return v, i, true
				}
			}
		}
		return nil, 0, false
	}
	switch c := cur.(type) {
	case []any:
		if v, i, ok := inArray(c); ok {
			return v, fmt.Sprintf("[%d].%s", i, part), true
		}
	case map[string]any:
		if v, ok := c[part]; ok {
			return v, part, true
		}
		names := slices.Sorted(maps.Keys(c))
		for _, name := range names {
			if arr, ok := c[name].([]any); ok {
				if v, i, ok := inArray(arr); ok {
					return v, fmt.Sprintf("%s[%d].%s", name, i, part), true
				}
			}
		}
	}
	return nil, "", false
}

func lookupRaw(raw map[string]any, key string) (any, bool) {
	var v any = raw
	for part := range strings.SplitSeq(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

var (
	typeMismatchRE = regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (.+)$`)
	typeWords      = map[string]string{
		"int":                "an integer",
		"bool":               "a boolean (true or false)",
		"string":             "a string",
		"[]string":           "an array of strings",
		"config.Duration":    `a duration such as "30s"`,
		"[]config.Org":       "an array of tables",
		"[]config.StaticKey": "an array of tables",
	}
)

// decodeError turns a go-toml error into an *Error with the line number.
func decodeError(path string, raw map[string]any, err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		// Duration.UnmarshalText failed on a number or boolean, and go-toml
		// does not say where: find the culprit.
		for _, s := range settings {
			if _, ok := s.field(&Config{}).(*Duration); !ok {
				continue
			}
			if v, ok := lookupRaw(raw, s.key); ok {
				if _, err := parseDuration(fmt.Sprint(v)); err != nil {
					return &Error{Key: s.key, Msg: fmt.Sprintf("%v (%s)", err, path)}
				}
			}
		}
		return &Error{Key: path, Msg: err.Error()}
	}
	row, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	// "cannot decode TOML string into struct field config.Config.HTTPPort of
	// type int" speaks Go; say what the key wants instead.
	if m := typeMismatchRE.FindStringSubmatch(msg); m != nil {
		want, ok := typeWords[m[2]]
		if !ok {
			want = "a table"
		}
		msg = fmt.Sprintf("expected %s, got a TOML %s", want, m[1])
	}
	if key := strings.Join(de.Key(), "."); key != "" {
		return &Error{Key: key, Msg: fmt.Sprintf("%s (%s line %d)", msg, path, row)}
	}
	return &Error{Key: path, Msg: fmt.Sprintf("line %d, column %d: %s", row, col, msg)}
}
