package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

// WhoAmI is what `flovyn whoami -o json` prints: where the admin commands
// connect, and where each setting came from ("flag --server", "env
// FLOVYN_SERVER", "profile \"dev\"", …).
type WhoAmI struct {
	Server     string `json:"server"`
	Tenant     string `json:"tenant"` // slug; "" when none is selected
	TenantID   string `json:"tenantId,omitempty"`
	TenantName string `json:"tenantName,omitempty"`
	// APIKey is the start of the credential, as `token list` shows it; never the secret.
	APIKey  string            `json:"apiKey,omitempty"`
	Profile string            `json:"profile,omitempty"`
	Sources map[string]string `json:"sources"` // server, tenant, apiKey, profile
}

func newWhoamiCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "whoami",
		GroupID: "admin",
		Short:   "Show the server, tenant and credential the admin commands use, and where each comes from",
		Long: `Show which server and tenant the admin commands talk to, the credential they
send (its first characters only) and the profile, each with where it came
from: a flag, an environment variable or a profile. It asks the server for
the tenant, so it also checks that the server answers and accepts the
credential.

  flovyn whoami
  flovyn whoami -o json`,
		Args: cobra.NoArgs,
		RunE: g.action(false, func(s *session, _ []string) error {
			st := s.st
			if st.tenant == "" {
				// Like a tenant-scoped command: the credential's only tenant.
				if c, err := onlyTenant(s.cmd, s.c, &st); err == nil {
					s.c = c
				}
			}
			w := WhoAmI{Server: st.server, Tenant: st.tenant, Profile: st.profile, APIKey: keyStart(st.apiKey), Sources: map[string]string{}}
			if st.tenant != "" {
				t, err := s.c.GetTenant(s.ctx, st.tenant)
				if err != nil {
					return err
				}
				w.TenantID, w.TenantName = t.ID, t.Name
			} else if _, err := s.c.ListTenants(s.ctx); err != nil {
				return err // the server or the credential is the problem, not the tenant
			}
			for k, v := range map[string]string{"server": st.serverFrom, "tenant": st.tenantFrom, "apiKey": st.apiKeyFrom, "profile": st.profileFrom} {
				if v != "" {
					w.Sources[k] = v
				}
			}
			if s.p.isJSON() {
				return s.p.json(w)
			}
			from := func(k string) string {
				if v := w.Sources[k]; v != "" {
					return "   (" + v + ")"
				}
				return ""
			}
			tenant := "none selected: pass --tenant or set " + envTenant
			if w.Tenant != "" {
				tenant = fmt.Sprintf("%s (id %s)%s", w.Tenant, w.TenantID, from("tenant"))
			}
			apiKey := "none (pass --api-key or set " + envAPIKey + ")"
			if w.APIKey != "" {
				apiKey = w.APIKey + from("apiKey")
			}
			profile := "none"
			if w.Profile != "" {
				profile = w.Profile + from("profile")
			}
			s.p.card([]field{
				{"Server", w.Server + from("server")},
				{"Tenant", tenant},
				{"API key", apiKey},
				{"Profile", profile},
			})
			return nil
		}),
	}
}

// keyStart is the first characters of a credential, enough to tell which
// one it is (`token list` shows the same prefix), never the secret.
func keyStart(key string) string {
	if key == "" {
		return ""
	}
	n := min(len(key)/2, 8)
	return key[:n] + "…"
}
