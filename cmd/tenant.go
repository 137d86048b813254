package cmd

import (
	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/client"
)

func newTenantCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "tenant",
		Aliases: []string{"tenants", "org", "orgs"},
		GroupID: "admin",
		Short:   "Create, list and show tenants (orgs)",
		Long: `Tenants are isolated spaces of workflows, workers and credentials (the worker
protocol calls them orgs, and a tenant's id is its org_id).

  flovyn tenant create acme --name "Acme Inc" --if-not-exists`,
	}
	c.AddCommand(newTenantCreateCommand(g), newTenantListCommand(g), newTenantGetCommand(g))
	return c
}

func newTenantCreateCommand(g *globals) *cobra.Command {
	var (
		req         client.CreateTenantRequest
		ifNotExists bool
	)
	c := &cobra.Command{
		Use:   "create <slug>",
		Short: "Create a tenant (instance administrators only)",
		Long: `Create a tenant. The slug is 1 to 63 lower-case letters, digits and inner hyphens.

With --if-not-exists, a slug already taken is not an error: the existing
tenant is printed and the exit status is 0, so a setup script can run again.

  flovyn tenant create acme --name "Acme Inc" --tier PRO --if-not-exists`,
		Args: cobra.ExactArgs(1),
		RunE: g.action(false, func(s *session, args []string) error {
			req.Slug = args[0]
			t, err := s.c.CreateTenant(s.ctx, req)
			if client.StatusCode(err) == 409 && ifNotExists {
				t, err = s.c.GetTenant(s.ctx, req.Slug)
			}
			if err != nil {
				return err
			}
			return printTenant(s.p, t)
		}),
	}
	f := c.Flags()
	f.StringVar(&req.Name, "name", "", "display name (default: the slug)")
	f.StringVar(&req.Tier, "tier", "", "tier label (default FREE)")
	f.StringVar(&req.Region, "region", "", "region label")
	f.BoolVar(&ifNotExists, "if-not-exists", false, "succeed, printing the existing tenant, when the slug is taken")
	return c
}

func newTenantListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List tenants (all of them for an instance administrator, else your own)",
		Args:    cobra.NoArgs,
		RunE: g.action(false, func(s *session, _ []string) error {
			tenants, err := s.c.ListTenants(s.ctx)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(client.TenantList{Tenants: tenants})
			}
			rows := make([][]string, 0, len(tenants))
			for _, t := range tenants {
				rows = append(rows, []string{t.Slug, t.Name, t.Tier, t.Region, t.ID, s.p.when(t.CreatedAt)})
			}
			s.p.table([]string{"SLUG", "NAME", "TIER", "REGION", "ID", "CREATED"}, rows)
			return nil
		}),
	}
}

func newTenantGetCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "get <slug>",
		Aliases: []string{"show"},
		Short:   "Show a tenant",
		Args:    cobra.ExactArgs(1),
		RunE: g.action(false, func(s *session, args []string) error {
			t, err := s.c.GetTenant(s.ctx, args[0])
			if err != nil {
				return err
			}
			return printTenant(s.p, t)
		}),
	}
}

func printTenant(p *printer, t client.Tenant) error {
	if p.isJSON() {
		return p.json(t)
	}
	p.card([]field{
		{"Slug", t.Slug}, {"Name", t.Name}, {"ID", t.ID}, {"Tier", t.Tier}, {"Region", t.Region},
		{"Created", p.when(t.CreatedAt)},
	})
	return nil
}
