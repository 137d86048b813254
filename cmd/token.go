package cmd

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/client"
	"github.com/flovyn/flovyn/server/auth"
)

// Values of --type.
const (
	tokenWorker = "worker"
	tokenAPI    = "api"
)

// credentialKind maps --type onto the API's kind ("" for both).
func credentialKind(typ string, allowBoth bool) (string, error) {
	switch strings.ToLower(typ) {
	case tokenWorker, "worker-token", client.KindWorkerToken:
		return client.KindWorkerToken, nil
	case tokenAPI, "api-key", client.KindAPIKey:
		return client.KindAPIKey, nil
	case "", "all":
		if allowBoth {
			return "", nil
		}
	}
	if allowBoth {
		return "", usageErrorf("--type %q: must be worker or api (default: both)", typ)
	}
	return "", usageErrorf("--type %q: must be worker or api", typ)
}

// kindName is how a kind reads in text output.
func kindName(kind string) string {
	if kind == client.KindAPIKey {
		return "api key"
	}
	return "worker token"
}

func newTokenCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		GroupID: "admin",
		Short:   "Issue, list and revoke worker tokens and API keys",
		Long: `Worker tokens (fwt_…) let SDK workers connect over gRPC; API keys (fak_…) are
user credentials with a role for the REST API and this CLI. A secret is
printed once, when it is created, and never again.

  TOKEN=$(flovyn token create --name ci-worker -q)`,
	}
	c.AddCommand(newTokenCreateCommand(g), newTokenListCommand(g), newTokenRevokeCommand(g))
	return c
}

func newTokenCreateCommand(g *globals) *cobra.Command {
	var (
		typ, kind string
		req       client.CreateCredentialRequest
		expiresIn time.Duration
		quiet     bool
	)
	c := &cobra.Command{
		Use:   "create",
		Short: "Issue a worker token (default) or an API key; the secret is shown once",
		Long: `Issue a worker token for SDK workers (--type worker, the default), or an API key
(--type api) with a role: OWNER, ADMIN, MEMBER (default) or VIEWER, no higher
than your own. The secret is printed once; -q prints only the secret.

  export FLOVYN_WORKER_TOKEN=$(flovyn token create --name ci-worker -q)
  flovyn token create --type api --name dashboards --role VIEWER`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if kind, err = credentialKind(typ, false); err != nil {
				return err
			}
			if cmd.Flags().Changed("role") {
				if kind != client.KindAPIKey {
					return usageErrorf("--role applies to API keys only (--type api)")
				}
				req.Role = strings.ToUpper(req.Role)
				if !slices.Contains(auth.Roles, req.Role) {
					return usageErrorf("--role %q: must be OWNER, ADMIN, MEMBER or VIEWER", req.Role)
				}
			}
			if expiresIn < 0 {
				return usageErrorf("--expires-in must be positive")
			}
			if expiresIn > 0 {
				at := time.Now().Add(expiresIn).UTC()
				req.ExpiresAt = &at
			}
			return nil
		},
		RunE: g.action(true, func(s *session, _ []string) error {
			var (
				cred client.IssuedCredential
				err  error
			)
			if kind == client.KindAPIKey {
				cred, err = s.c.CreateAPIKey(s.ctx, req)
			} else {
				cred, err = s.c.CreateWorkerToken(s.ctx, req)
			}
			switch {
			case err != nil:
				return err
			case quiet:
				s.p.line("%s", cred.Token)
				return nil
			case s.p.isJSON():
				return s.p.json(cred)
			}
			s.p.card([]field{
				{"Token", cred.Token}, {"ID", cred.ID}, {"Type", kindName(cred.Kind)}, {"Name", cred.DisplayName},
				{"Role", cred.Role}, {"Tenant", s.c.Tenant()}, {"Expires", s.p.whenPtr(cred.ExpiresAt)},
			})
			s.p.note("\nStore the token now: it is not shown again.")
			return nil
		}),
	}
	f := c.Flags()
	f.StringVar(&typ, "type", tokenWorker, "worker (a worker token) or api (an API key)")
	f.StringVar(&req.DisplayName, "name", "", "display name (default worker-token / api-key)")
	f.StringVar(&req.Role, "role", "", "role of an API key: OWNER, ADMIN, MEMBER or VIEWER (default MEMBER)")
	f.DurationVar(&expiresIn, "expires-in", 0, "stop working after this long, e.g. 720h (default never)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the secret")
	return c
}

func newTokenListCommand(g *globals) *cobra.Command {
	var typ, kind string
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List worker tokens and API keys (never their secrets)",
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) (err error) {
			kind, err = credentialKind(typ, true)
			return err
		},
		RunE: g.action(true, func(s *session, _ []string) error {
			var creds []client.Credential
			if kind != client.KindAPIKey {
				list, err := s.c.ListWorkerTokens(s.ctx)
				if err != nil {
					return err
				}
				creds = append(creds, list...)
			}
			if kind != client.KindWorkerToken {
				list, err := s.c.ListAPIKeys(s.ctx)
				if err != nil {
					return err
				}
				creds = append(creds, list...)
			}
			if s.p.isJSON() {
				return s.p.json(client.CredentialList{Credentials: creds})
			}
			rows := make([][]string, 0, len(creds))
			for _, c := range creds {
				rows = append(rows, []string{
					c.ID, kindName(c.Kind), c.DisplayName, c.Role, c.Prefix + "…", credentialStatus(c),
					s.p.when(c.CreatedAt), s.p.whenPtr(c.LastUsedAt),
				})
			}
			s.p.table([]string{"ID", "TYPE", "NAME", "ROLE", "PREFIX", "STATUS", "CREATED", "LAST USED"}, rows)
			return nil
		}),
	}
	c.Flags().StringVar(&typ, "type", "", "worker or api (default: both)")
	return c
}

// credentialStatus is active, revoked or expired.
func credentialStatus(c client.Credential) string {
	switch {
	case c.RevokedAt != nil:
		return "revoked"
	case c.ExpiresAt != nil && c.ExpiresAt.Before(time.Now()):
		return "expired"
	}
	return "active"
}

func newTokenRevokeCommand(g *globals) *cobra.Command {
	var (
		typ, kind string
		opts      client.RevokeOptions
	)
	c := &cobra.Command{
		Use:   "revoke <id>",
		Short: "Revoke a worker token or API key; it stops working at once",
		Long: `Revoke a credential by the id shown by "flovyn token list" (a whole UUID).
Without --type, the id is looked up among worker tokens, then API keys.

The server refuses to revoke a tenant's last OWNER or instance-admin
credential, which would leave nobody able to administer it; --force revokes
it all the same.`,
		Args: credentialIDArgs,
		PreRunE: func(*cobra.Command, []string) (err error) {
			kind, err = credentialKind(typ, true)
			return err
		},
		RunE: g.action(true, func(s *session, args []string) error {
			var (
				cred client.Credential
				err  error
			)
			switch kind {
			case client.KindWorkerToken, client.KindAPIKey:
				cred, err = s.c.RevokeCredential(s.ctx, kind, args[0], opts)
			default:
				cred, err = s.c.RevokeCredential(s.ctx, client.KindWorkerToken, args[0], opts)
				if client.StatusCode(err) == 404 {
					cred, err = s.c.RevokeCredential(s.ctx, client.KindAPIKey, args[0], opts)
				}
				if client.StatusCode(err) == 404 {
					err = fmt.Errorf("no worker token or API key %s in tenant %q", args[0], s.c.Tenant())
				}
			}
			if client.StatusCode(err) == 409 && !opts.Force {
				return fmt.Errorf("%w; add --force to revoke it all the same", err)
			}
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(cred)
			}
			s.p.line("Revoked %s %s (%s).", kindName(cred.Kind), cred.ID, cred.DisplayName)
			return nil
		}),
	}
	c.Flags().StringVar(&typ, "type", "", "worker or api (default: whichever has the id)")
	c.Flags().BoolVar(&opts.Force, "force", false, "revoke even the tenant's last OWNER or instance-admin credential")
	return c
}
