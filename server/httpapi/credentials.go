package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/limits"
)

// Credential describes a stored worker token or API key; never its secret.
type Credential struct {
	ID            uuid.UUID  `json:"id"`
	Kind          string     `json:"kind" enum:"worker_token,api_key"`
	DisplayName   string     `json:"displayName"`
	Prefix        string     `json:"prefix" doc:"The first characters of the secret, to recognise it."`
	PrincipalType string     `json:"principalType" enum:"Worker,User"`
	PrincipalID   string     `json:"principalId"`
	Role          string     `json:"role" doc:"The role of an API key; empty for worker tokens."`
	CreatedAt     time.Time  `json:"createdAt"`
	LastUsedAt    *time.Time `json:"lastUsedAt" doc:"Recorded every 30 s, not on every use."`
	ExpiresAt     *time.Time `json:"expiresAt"`
	RevokedAt     *time.Time `json:"revokedAt"`
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func credentialOut(c auth.Credential) Credential {
	return Credential{
		ID: c.ID, Kind: c.Kind, DisplayName: c.DisplayName, Prefix: c.Prefix, PrincipalType: c.PrincipalType,
		PrincipalID: c.PrincipalID, Role: c.Role, CreatedAt: c.CreatedAt.UTC(), LastUsedAt: utc(c.LastUsedAt),
		ExpiresAt: utc(c.ExpiresAt), RevokedAt: utc(c.RevokedAt),
	}
}

// IssuedCredential is a new credential with its secret, shown only once.
type IssuedCredential struct {
	Credential
	Token string `json:"token" doc:"The secret. It is not stored and cannot be shown again."`
}

// CreateWorkerTokenRequest issues a worker token.
type CreateWorkerTokenRequest struct {
	DisplayName string     `json:"displayName,omitempty" maxLength:"255"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty" doc:"When the token stops working (in the future); default never."`
}

// CreateAPIKeyRequest issues an API key: a user credential with a role.
type CreateAPIKeyRequest struct {
	DisplayName string     `json:"displayName,omitempty" maxLength:"255"`
	Role        string     `json:"role,omitempty" enum:"OWNER,ADMIN,MEMBER,VIEWER" default:"MEMBER" doc:"At most the caller's own role."`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty" doc:"When the key stops working (in the future); default never."`
}

// CredentialList lists a tenant's credentials of one kind, newest first.
type CredentialList struct {
	Credentials []Credential `json:"credentials"`
}

type createWorkerTokenInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	Body CreateWorkerTokenRequest
}

type createAPIKeyInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	Body CreateAPIKeyRequest
}

type issuedOutput struct {
	Body IssuedCredential
}

type credentialListOutput struct {
	Body CredentialList
}

type credentialIDInput struct {
	Slug  string `path:"slug" doc:"The tenant's slug."`
	ID    string `path:"id" doc:"The credential id."`
	Force bool   `query:"force" doc:"Revoke even the tenant's last active OWNER credential, or its last instance administrator's."`
}

type credentialOutput struct {
	Body Credential
}

func (a *api) credentialRoutes(h huma.API) {
	for _, tokens := range []struct{ path, id string }{
		{"/{slug}/worker-tokens", "worker-token"},
		// The path of the worker-token plugin of the original server.
		{"/{slug}/worker-token/tokens", "worker-token-plugin"},
	} {
		register(h, a.withBody(huma.Operation{
			OperationID: "create-" + tokens.id, Method: http.MethodPost, Path: tokens.path,
			Summary:       "Issue a worker token",
			Description:   "Issues a worker token (fwt_…) for the tenant. The token is in the response only.",
			Tags:          []string{tagCredentials},
			DefaultStatus: http.StatusCreated,
			Errors:        tenantErrors,
		}, 0), a.createWorkerToken)
		register(h, huma.Operation{
			OperationID: "list-" + tokens.id + "s", Method: http.MethodGet, Path: tokens.path,
			Summary: "List worker tokens",
			Tags:    []string{tagCredentials},
			Errors:  tenantErrors,
		}, a.credentialLister(auth.CredentialWorkerToken))
		register(h, huma.Operation{
			OperationID: "revoke-" + tokens.id, Method: http.MethodDelete, Path: tokens.path + "/{id}",
			Summary:     "Revoke a worker token",
			Description: "Revokes the token; it is refused at once on gRPC and REST.",
			Tags:        []string{tagCredentials},
			Errors:      errorsPlus(http.StatusConflict),
		}, a.credentialRevoker(auth.CredentialWorkerToken))
	}
	register(h, a.withBody(huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/{slug}/api-keys",
		Summary:       "Issue an API key",
		Description:   "Issues an API key (fak_…): a user credential with a role no higher than the caller's.",
		Tags:          []string{tagCredentials},
		DefaultStatus: http.StatusCreated,
		Errors:        tenantErrors,
	}, 0), a.createAPIKey)
	register(h, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/{slug}/api-keys",
		Summary: "List API keys",
		Tags:    []string{tagCredentials},
		Errors:  tenantErrors,
	}, a.credentialLister(auth.CredentialAPIKey))
	register(h, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/{slug}/api-keys/{id}",
		Summary: "Revoke an API key",
		Description: "Revokes the key; it is refused at once on gRPC and REST. Nobody revokes a key of a higher role " +
			"than their own (403; instance administrators rank above OWNER), and the tenant's last active OWNER key, " +
			"or last instance administrator's key, is revoked only with force=true (409 otherwise).",
		Tags:   []string{tagCredentials},
		Errors: errorsPlus(http.StatusConflict),
	}, a.credentialRevoker(auth.CredentialAPIKey))
}

// checkNewCredential checks the fields of a credential to issue.
func checkNewCredential(displayName string, expiresAt *time.Time) error {
	if err := limits.OptionalName("body.displayName", displayName); err != nil {
		return refused(err)
	}
	if expiresAt != nil && !expiresAt.After(time.Now()) {
		return badRequest("body.expiresAt", "must be in the future", expiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

func (a *api) issue(ctx context.Context, n auth.NewCredential) (*issuedOutput, error) {
	secret, cred, err := a.auth.Issue(ctx, n)
	if err != nil {
		return nil, a.fail("credential", err)
	}
	return &issuedOutput{Body: IssuedCredential{Credential: credentialOut(cred), Token: secret}}, nil
}

func (a *api) createWorkerToken(ctx context.Context, in *createWorkerTokenInput) (*issuedOutput, error) {
	t, p, err := a.scope(ctx, in.Slug, auth.ActionCredentialCreate, "credential", "")
	if err != nil {
		return nil, err
	}
	if err := checkNewCredential(in.Body.DisplayName, in.Body.ExpiresAt); err != nil {
		return nil, err
	}
	name := in.Body.DisplayName
	if name == "" {
		name = "worker-token"
	}
	out, err := a.issue(ctx, auth.NewCredential{
		TenantID: t.ID, Kind: auth.CredentialWorkerToken, DisplayName: name, PrincipalID: "worker:" + name,
		ExpiresAt: in.Body.ExpiresAt,
	})
	if err == nil {
		a.log.Info("worker token issued", "tenant", t.Slug, "id", out.Body.ID, "by", p.ID)
	}
	return out, err
}

func (a *api) createAPIKey(ctx context.Context, in *createAPIKeyInput) (*issuedOutput, error) {
	t, p, err := a.scope(ctx, in.Slug, auth.ActionCredentialCreate, "credential", "")
	if err != nil {
		return nil, err
	}
	role := in.Body.Role
	if role == "" {
		role = "MEMBER"
	}
	if !instanceAdmin(p) && auth.RoleRank(role) > auth.RoleRank(p.Role) {
		return nil, huma.Error403Forbidden(fmt.Sprintf("an API key may not have a higher role (%s) than its issuer's (%q)", role, p.Role))
	}
	if err := checkNewCredential(in.Body.DisplayName, in.Body.ExpiresAt); err != nil {
		return nil, err
	}
	name := in.Body.DisplayName
	if name == "" {
		name = "api-key"
	}
	out, err := a.issue(ctx, auth.NewCredential{
		TenantID: t.ID, Kind: auth.CredentialAPIKey, DisplayName: name, PrincipalID: "api-key:" + name, Role: role,
		ExpiresAt: in.Body.ExpiresAt,
	})
	if err == nil {
		a.log.Info("API key issued", "tenant", t.Slug, "id", out.Body.ID, "role", role, "by", p.ID)
	}
	return out, err
}

func (a *api) credentialLister(kind string) func(context.Context, *tenantSlugInput) (*credentialListOutput, error) {
	return func(ctx context.Context, in *tenantSlugInput) (*credentialListOutput, error) {
		t, _, err := a.scope(ctx, in.Slug, auth.ActionCredentialList, "credential", "")
		if err != nil {
			return nil, err
		}
		list, err := a.auth.Credentials(ctx, t.ID, kind)
		if err != nil {
			return nil, a.fail("credentials", err)
		}
		out := &credentialListOutput{Body: CredentialList{Credentials: make([]Credential, 0, len(list))}}
		for _, c := range list {
			out.Body.Credentials = append(out.Body.Credentials, credentialOut(c))
		}
		return out, nil
	}
}

func (a *api) credentialRevoker(kind string) func(context.Context, *credentialIDInput) (*credentialOutput, error) {
	return func(ctx context.Context, in *credentialIDInput) (*credentialOutput, error) {
		t, p, err := a.tenantOf(ctx, in.Slug)
		if err != nil {
			return nil, err
		}
		id, err := parseUUID("path.id", in.ID)
		if err != nil {
			return nil, err
		}
		if err := a.authorize(ctx, p, auth.ActionCredentialRevoke, auth.Resource{Type: "credential", TenantID: t.ID, ID: id.String()}); err != nil {
			return nil, err
		}
		what := fmt.Sprintf("credential %s", id)
		cred, err := a.auth.Credential(ctx, t.ID, id, kind)
		if err != nil {
			return nil, a.fail(what, err)
		}
		if err := mayRevoke(p, cred); err != nil {
			return nil, err
		}
		cred, err = a.auth.Revoke(ctx, t.ID, id, !in.Force)
		var last *auth.LastCredentialError
		if errors.As(err, &last) {
			return nil, huma.Error409Conflict(fmt.Sprintf("%s; revoking it may leave nobody able to manage the %s. "+
				"Issue another first, or pass force=true", last, lockedOut(last)))
		}
		if err != nil {
			return nil, a.fail(what, err)
		}
		a.log.Info("credential revoked", "tenant", t.Slug, "id", id, "kind", kind, "by", p.ID, "force", in.Force)
		return &credentialOutput{Body: credentialOut(cred)}, nil
	}
}

// mayRevoke applies the rules of rank to revoking cred, as to issuing one:
// nobody revokes a credential ranking above their own (instance
// administrators rank above OWNER). Revoking a revoked credential again
// changes nothing and is always allowed. (The tenant's last active OWNER
// credential, or its last instance administrator's, goes only with force:
// the store checks that as it revokes.)
func mayRevoke(p auth.Principal, cred auth.Credential) error {
	if cred.RevokedAt != nil {
		return nil
	}
	if !instanceAdmin(p) {
		if cred.InstanceAdmin {
			return huma.Error403Forbidden(fmt.Sprintf("%s %q may not revoke credential %s: it belongs to an instance "+
				"administrator, who ranks above every tenant role; only an instance administrator may", p.Type, p.ID, cred.ID))
		}
		if auth.RoleRank(cred.Role) > auth.RoleRank(p.Role) {
			return huma.Error403Forbidden(fmt.Sprintf("%s %q may not revoke credential %s: its role %s ranks above "+
				"the caller's (%q)", p.Type, p.ID, cred.ID, cred.Role, p.Role))
		}
	}
	return nil
}

// lockedOut says what nobody might manage after revoking the last credential.
func lockedOut(last *auth.LastCredentialError) string {
	if last.What == "OWNER" {
		return "tenant"
	}
	return "tenants"
}

// parseUUID parses an id from the request, naming where it was on error.
func parseUUID(location, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, badRequest(location, "not a UUID", s)
	}
	return id, nil
}
