package server

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/config"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/store"
)

// OptionsFromConfig turns a validated configuration into server options.
func OptionsFromConfig(c *config.Config, log *slog.Logger) (Options, error) {
	o := Options{
		DatabaseURL:      c.DatabaseURL,
		HTTPAddr:         c.HTTPAddr(),
		GRPCAddr:         c.GRPCAddr(),
		RunMigrations:    c.RunMigrations,
		AuthDisabled:     !c.Auth.Enabled,
		GRPCMethods:      methods(c.Auth.Endpoints.GRPC.Authenticators),
		HTTPMethods:      methods(c.Auth.Endpoints.HTTP.Authenticators),
		HTTPExcludePaths: c.Auth.Endpoints.HTTP.ExcludePaths,
		CredentialSecret: c.Auth.WorkerToken.Secret,
		PolicyFile:       c.Auth.PolicyFile,
		Engine: engine.Config{
			PollHold:          c.Engine.PollHold.Duration,
			WorkflowTaskLease: c.Engine.WorkflowTaskLease.Duration,
			WorkerTimeout:     c.Engine.WorkerTimeout.Duration,
			RecheckInterval:   c.Engine.RecheckInterval.Duration,
			MaxPayloadBytes:   c.Limits.MaxPayloadBytes,
			MaxHistoryBytes:   c.Limits.MaxHistoryBytes,
			HistoryWarnBytes:  c.Limits.HistoryWarnBytes,
		},
		Metrics: c.Metrics.Enabled,
		NATSURL: natsURL(c.NATS),
		Logger:  log,
	}
	if c.Auth.Enabled && (o.GRPCMethods.JWT || o.HTTPMethods.JWT) {
		j := c.Auth.JWT
		o.JWT = &auth.JWTConfig{
			Issuer:                    j.Issuer,
			Audience:                  j.Audience,
			JWKSURL:                   j.JWKSURL,
			PublicKeyFile:             j.PublicKeyFile,
			HS256Secret:               j.HS256Secret,
			SkipSignatureVerification: j.SkipSignatureVerification,
			ClockSkew:                 j.ClockSkew.Duration,
			TenantClaim:               j.TenantClaim,
			RoleClaim:                 j.RoleClaim,
		}
	}
	for _, org := range c.Orgs {
		id, err := uuid.Parse(org.ID)
		if err != nil {
			return o, fmt.Errorf("orgs: id %q: %w", org.ID, err)
		}
		o.Tenants = append(o.Tenants, store.Tenant{ID: id, Slug: org.Slug, Name: org.Name, Tier: org.Tier, Region: org.Region})
	}
	for _, k := range c.Auth.StaticAPIKey.Keys {
		tenant, err := uuid.Parse(k.OrgID)
		if err != nil {
			return o, fmt.Errorf("static key %q: org_id: %w", k.PrincipalID, err)
		}
		o.StaticKeys = append(o.StaticKeys, auth.StaticKey{Key: k.Key, Principal: auth.Principal{
			TenantID:      tenant,
			Type:          auth.PrincipalType(k.PrincipalType),
			ID:            k.PrincipalID,
			Role:          k.Role,
			InstanceAdmin: k.InstanceAdmin,
		}})
	}
	return o, nil
}

func methods(authenticators []string) auth.Methods {
	return auth.Methods{
		StaticKeys:   slices.Contains(authenticators, config.AuthStaticAPIKey),
		WorkerTokens: slices.Contains(authenticators, config.AuthWorkerToken),
		APIKeys:      slices.Contains(authenticators, config.AuthAPIKey),
		JWT:          slices.Contains(authenticators, config.AuthJWT),
	}
}

// natsURL is the NATS server to use, or "" for none. NATS__ENABLED without a
// URL (as the SDK harnesses may set) means no NATS.
func natsURL(n config.NATSConfig) string {
	if !n.Enabled {
		return ""
	}
	return n.URL
}
