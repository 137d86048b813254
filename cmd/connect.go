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
	verbose bool
}

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringVar(&g.server, "server", "", "REST API URL of the flovyn server (env "+envServer+")")
	fs.StringVar(&g.tenant, "tenant", "", "tenant slug to act on (env "+envTenant+")")
	fs.StringVar(&g.apiKey, "api-key", "", "API key sent as the bearer credential (env "+envAPIKey+")")
	fs.StringVar(&g.profile, "profile", "", "CLI profile to use (env "+envProfile+"; default: the current profile)")
	fs.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	fs.BoolVarP(&g.verbose, "verbose", "v", false, "print the server and tenant an admin command talks to, on stderr")
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

// settings are where the CLI connects, once flags, env and profile are
// merged, and where each value came from ("flag --server", "env
// FLOVYN_SERVER", "profile \"dev\"").
type settings struct {
	server, tenant, apiKey string
	profile                string // the profile used, if any
	profilesPath           string // the profiles file, when it was read

	serverFrom, tenantFrom, apiKeyFrom, profileFrom string
}

// resolve merges flag > env > profile (the one named by --profile or
// FLOVYN_PROFILE, else the current one).
func (g *globals) resolve(cmd *cobra.Command) (settings, error) {
	pick := func(flag, value, env string) (string, string) {
		if cmd.Flags().Changed(flag) {
			return value, "flag --" + flag
		}
		if v := os.Getenv(env); v != "" {
			return v, "env " + env
		}
		return "", ""
	}
	var s settings
	s.server, s.serverFrom = pick("server", g.server, envServer)
	s.tenant, s.tenantFrom = pick("tenant", g.tenant, envTenant)
	s.apiKey, s.apiKeyFrom = pick("api-key", g.apiKey, envAPIKey)
	name, nameFrom := pick("profile", g.profile, envProfile)
	if name != "" || s.server == "" || s.apiKey == "" || s.tenant == "" {
		profiles, err := client.LoadProfiles()
		if err != nil {
			return s, usageErrorf("profiles: %v", err)
		}
		s.profilesPath, _ = client.ProfilesPath()
		if name != "" {
			if _, ok := profiles.Profiles[name]; !ok {
				return s, usageErrorf("no profile %q in %s (profiles: %s)", name, s.profilesPath, profileNames(profiles))
			}
		} else {
			name, nameFrom = profiles.Current, "the current profile of "+s.profilesPath
		}
		if p, ok := profiles.Profiles[name]; ok {
			s.profile, s.profileFrom = name, nameFrom
			from := fmt.Sprintf("profile %q", name)
			fill := func(v, vFrom *string, fromProfile string) {
				if *v == "" && fromProfile != "" {
					*v, *vFrom = fromProfile, from
				}
			}
			fill(&s.server, &s.serverFrom, p.Server)
			fill(&s.apiKey, &s.apiKeyFrom, p.APIKey)
			fill(&s.tenant, &s.tenantFrom, p.Tenant)
		}
	}
	if s.server == "" {
		return s, usageErrorf("no flovyn server configured: run `flovyn dev`, or pass --server and --api-key (or set %s and %s)", envServer, envAPIKey)
	}
	s.server = client.NormalizeServer(s.server)
	return s, nil
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
// credential sees. With --verbose it says where it connects, on stderr.
func (g *globals) connect(cmd *cobra.Command, tenantScoped bool) (*client.Client, settings, error) {
	s, err := g.resolve(cmd)
	if err != nil {
		return nil, s, err
	}
	c := client.New(client.Options{Server: s.server, APIKey: s.apiKey, Tenant: s.tenant})
	if tenantScoped && s.tenant == "" {
		if c, err = onlyTenant(cmd, c, &s); err != nil {
			return nil, s, err
		}
	}
	if g.verbose {
		fmt.Fprintln(cmd.ErrOrStderr(), s.describe())
	}
	return c, s, nil
}

// onlyTenant picks the only tenant the credential sees.
func onlyTenant(cmd *cobra.Command, c *client.Client, s *settings) (*client.Client, error) {
	tenants, err := c.ListTenants(cmd.Context())
	if err != nil {
		return nil, explain(err, *s)
	}
	if len(tenants) != 1 {
		return nil, usageErrorf("no tenant selected: pass --tenant or set %s", envTenant)
	}
	s.tenant, s.tenantFrom = tenants[0].Slug, "the only tenant the credential sees"
	return c.WithTenant(s.tenant), nil
}

// describe is the --verbose line: "→ server http://127.0.0.1:8000 tenant default (profile dev)".
func (s settings) describe() string {
	line := "→ server " + s.server
	if s.tenant != "" {
		line += " tenant " + s.tenant
	}
	if s.profile != "" {
		line += " (profile " + s.profile + ")"
	}
	return line
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
	st  settings
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
		return explain(body(&session{ctx: cmd.Context(), c: c, p: p, cmd: cmd, st: st}, args), st)
	}
}
