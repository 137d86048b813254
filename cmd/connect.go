package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flovyn/flovyn/client"
)

// Environment variables of the admin commands; each fills its flag only when
// the flag is not given, and beats the profile.
const (
	envServer  = "FLOVYN_SERVER"
	envTenant  = "FLOVYN_TENANT"
	envAPIKey  = "FLOVYN_API_KEY"
	envProfile = "FLOVYN_PROFILE"
)

// globals are the root's persistent flags, shared by every admin command.
type globals struct {
	server  string
	tenant  string
	apiKey  string
	profile string
	output  string
}

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringVar(&g.server, "server", "", "REST API URL of the flovyn server (env "+envServer+")")
	fs.StringVar(&g.tenant, "tenant", "", "tenant slug to act on (env "+envTenant+")")
	fs.StringVar(&g.apiKey, "api-key", "", "API key sent as the bearer credential (env "+envAPIKey+")")
	fs.StringVar(&g.profile, "profile", "", "CLI profile to use (env "+envProfile+"; default: the current profile)")
	fs.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
}

// Output formats.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// checkOutput validates --output; "text" is accepted for table.
func (g *globals) checkOutput() error {
	switch g.output {
	case outputTable, outputJSON:
	case "text":
		g.output = outputTable
	default:
		return usageErrorf("--output %q: must be table or json", g.output)
	}
	return nil
}

// settings are where the CLI connects, once flags, env and profile are merged.
type settings struct {
	server, tenant, apiKey string
	profile                string // the profile used, if any
}

// resolve merges flag > env > profile (the one named by --profile or
// FLOVYN_PROFILE, else the current one).
func (g *globals) resolve(cmd *cobra.Command) (settings, error) {
	pick := func(flag, value, env string) string {
		if cmd.Flags().Changed(flag) {
			return value
		}
		return os.Getenv(env)
	}
	s := settings{
		server: pick("server", g.server, envServer),
		tenant: pick("tenant", g.tenant, envTenant),
		apiKey: pick("api-key", g.apiKey, envAPIKey),
	}
	name := pick("profile", g.profile, envProfile)
	if name != "" || s.server == "" || s.apiKey == "" || s.tenant == "" {
		profiles, err := client.LoadProfiles()
		if err != nil {
			return s, usageErrorf("profiles: %v", err)
		}
		if name != "" {
			if _, ok := profiles.Profiles[name]; !ok {
				path, _ := client.ProfilesPath()
				return s, usageErrorf("no profile %q in %s (profiles: %s)", name, path, profileNames(profiles))
			}
		} else {
			name = profiles.Current
		}
		if p, ok := profiles.Profiles[name]; ok {
			s.profile = name
			s.server = orElse(s.server, p.Server)
			s.apiKey = orElse(s.apiKey, p.APIKey)
			s.tenant = orElse(s.tenant, p.Tenant)
		}
	}
	if s.server == "" {
		return s, usageErrorf("no flovyn server configured: run `flovyn dev`, or pass --server and --api-key (or set %s and %s)", envServer, envAPIKey)
	}
	return s, nil
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func profileNames(p client.Profiles) string {
	var names []string
	for n := range p.Profiles {
		names = append(names, n)
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// connect returns a REST client for the merged settings. A tenant-scoped
// command gets a tenant: the configured one, or else the only tenant the
// credential sees.
func (g *globals) connect(cmd *cobra.Command, tenantScoped bool) (*client.Client, settings, error) {
	s, err := g.resolve(cmd)
	if err != nil {
		return nil, s, err
	}
	c := client.New(client.Options{Server: s.server, APIKey: s.apiKey, Tenant: s.tenant})
	if !tenantScoped || s.tenant != "" {
		return c, s, nil
	}
	tenants, err := c.ListTenants(cmd.Context())
	if err != nil {
		return nil, s, explain(err, s)
	}
	if len(tenants) != 1 {
		return nil, s, usageErrorf("no tenant selected: pass --tenant or set %s", envTenant)
	}
	s.tenant = tenants[0].Slug
	return c.WithTenant(s.tenant), s, nil
}

// explain adds a hint to the errors whose cause is the configuration.
func explain(err error, s settings) error {
	switch {
	case errors.Is(err, client.ErrNoTenant):
		return usageErrorf("no tenant selected: pass --tenant or set %s", envTenant)
	case client.StatusCode(err) == 401 && s.apiKey == "":
		return fmt.Errorf("%w; no API key configured: pass --api-key or set %s", err, envAPIKey)
	}
	return err
}

// session is what an admin command's body works with.
type session struct {
	ctx context.Context
	c   *client.Client
	p   *printer
	cmd *cobra.Command
}

// action makes the RunE of an admin command: it checks --output, connects,
// runs body and adds hints to its errors. Checks that must come before any
// request belong in the command's PreRunE.
func (g *globals) action(tenantScoped bool, body func(s *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := g.checkOutput(); err != nil {
			return err
		}
		c, st, err := g.connect(cmd, tenantScoped)
		if err != nil {
			return err
		}
		p := newPrinter(cmd.OutOrStdout(), cmd.ErrOrStderr(), g.output)
		return explain(body(&session{ctx: cmd.Context(), c: c, p: p, cmd: cmd}, args), st)
	}
}
