package auth

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/ttlcache"
)

// DefaultPolicies is the Cedar policy document used when no policy file is
// configured. Its comments describe the entities the server sends.
//
//go:embed policies.cedar
var DefaultPolicies string

// CedarAuthorizer decides with Cedar policies. It is safe for concurrent use.
type CedarAuthorizer struct {
	policies *cedar.PolicySet
	source   string // "embedded default policies" or the file name
	log      *slog.Logger
	// allowed remembers requests the policies allowed. A decision depends
	// only on what request puts in the Cedar request, and the policies do
	// not change while the server runs; a worker's every call is the same
	// request, evaluated once. (Denials are evaluated, and logged, each time.)
	allowed *ttlcache.Cache[decisionKey, struct{}]
}

// decisionKey is everything of a request that the policies see.
type decisionKey struct {
	ptype         PrincipalType
	pid, role     string
	ptenant       uuid.UUID
	instanceAdmin bool
	action        Action
	res           Resource
}

// Allowed requests are remembered for this long, this many at most.
const (
	decisionCacheTTL  = 10 * time.Minute
	decisionCacheSize = 10_000
)

func newCedarAuthorizer(ps *cedar.PolicySet, source string, log *slog.Logger) *CedarAuthorizer {
	return &CedarAuthorizer{policies: ps, source: source, log: log,
		allowed: ttlcache.New[decisionKey, struct{}](decisionCacheTTL, decisionCacheSize)}
}

var _ Authorizer = (*CedarAuthorizer)(nil)

// NewCedarAuthorizer loads the policies in file, or the embedded defaults
// when file is "". A file that cannot be read or parsed, or that holds no
// policy, is an error: the server must not start rather than guess.
func NewCedarAuthorizer(file string, log *slog.Logger) (*CedarAuthorizer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if file == "" {
		ps, err := ParsePolicies("policies.cedar", []byte(DefaultPolicies))
		if err != nil {
			return nil, fmt.Errorf("embedded policies: %w", err)
		}
		return newCedarAuthorizer(ps, "embedded default policies", log), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("policy file %s: cannot read: %w", file, err)
	}
	ps, err := ParsePolicies(file, data)
	if err != nil {
		return nil, fmt.Errorf("policy file %s: %w", file, err)
	}
	log.Info("authorization policies loaded", "file", file)
	return newCedarAuthorizer(ps, file, log), nil
}

// ParsePolicies parses a Cedar policy document; one without any policy is
// refused, as it would deny everything.
func ParsePolicies(name string, data []byte) (*cedar.PolicySet, error) {
	ps, err := cedar.NewPolicySetFromBytes(name, data)
	if err != nil {
		return nil, fmt.Errorf("invalid Cedar: %w", err)
	}
	n := 0
	for range ps.All() {
		n++
	}
	if n == 0 {
		return nil, errors.New("no policy in the document (it would deny every request)")
	}
	return ps, nil
}

// resourceTypes maps Resource.Type to the Cedar entity type.
var resourceTypes = map[string]cedar.EntityType{
	"tenant":     "Tenant",
	"workflow":   "Workflow",
	"agent":      "Agent",
	"task":       "Task",
	"credential": "Credential",
	"promise":    "Promise",
	"worker":     "Worker",
}

// Authorize returns nil when the policies allow p to perform action on res,
// and otherwise an error wrapping ErrForbidden. Every denial is logged.
// Principals of a server whose authentication is disabled (AnyTenant) are
// allowed everything.
func (a *CedarAuthorizer) Authorize(_ context.Context, p Principal, action Action, res Resource) error {
	if p.AnyTenant {
		return nil
	}
	// The credential fixes the tenant, whatever the policies say.
	if !p.InstanceAdmin && res.TenantID != uuid.Nil && res.TenantID != p.TenantID {
		return a.deny(p, action, res, "resource in another tenant")
	}
	key := decisionKey{ptype: p.Type, pid: p.ID, role: p.Role, ptenant: p.TenantID, instanceAdmin: p.InstanceAdmin, action: action, res: res}
	if _, ok := a.allowed.Get(key); ok {
		return nil
	}
	req, entities, err := request(p, action, res)
	if err != nil {
		return a.deny(p, action, res, err.Error())
	}
	decision, diag := cedar.Authorize(a.policies, entities, req)
	if len(diag.Errors) > 0 {
		msgs := make([]string, len(diag.Errors))
		for i, e := range diag.Errors {
			msgs[i] = e.String()
		}
		return a.deny(p, action, res, "policy evaluation error: "+strings.Join(msgs, "; "))
	}
	if decision != cedar.Allow {
		reason := "no policy permits it"
		if len(diag.Reasons) > 0 {
			ids := make([]string, len(diag.Reasons))
			for i, r := range diag.Reasons {
				ids[i] = a.policyName(r.PolicyID)
			}
			reason = "forbidden by " + strings.Join(ids, ", ")
		}
		return a.deny(p, action, res, reason)
	}
	a.allowed.Put(key, struct{}{})
	return nil
}

// policyName is a policy's @id annotation, or its position in the document.
func (a *CedarAuthorizer) policyName(id cedar.PolicyID) string {
	if pol := a.policies.Get(id); pol != nil {
		if v, ok := pol.Annotations()["id"]; ok {
			return string(v)
		}
	}
	return string(id)
}

func (a *CedarAuthorizer) deny(p Principal, action Action, res Resource, reason string) error {
	a.log.Warn("authorization denied",
		"principal_type", string(p.Type), "principal_id", p.ID, "principal_tenant", p.TenantID,
		"role", p.Role, "instance_admin", p.InstanceAdmin,
		"action", string(action),
		"resource_type", res.Type, "resource_id", res.ID, "resource_tenant", res.TenantID,
		"reason", reason, "policies", a.source)
	who := string(p.Type)
	if p.Role != "" {
		who += " with role " + p.Role
	}
	return fmt.Errorf("%w: %s may not %s on this %s", ErrForbidden, who, action, resourceNoun(res.Type))
}

func resourceNoun(t string) string {
	if t == "" {
		return "resource"
	}
	return t
}

func request(p Principal, action Action, res Resource) (cedar.Request, cedar.EntityMap, error) {
	var ptype cedar.EntityType
	switch p.Type {
	case PrincipalUser:
		ptype = "User"
	case PrincipalWorker:
		ptype = "Worker"
	default:
		return cedar.Request{}, nil, fmt.Errorf("unknown principal type %q", p.Type)
	}
	rtype, ok := resourceTypes[res.Type]
	if !ok {
		return cedar.Request{}, nil, fmt.Errorf("unknown resource type %q", res.Type)
	}
	if action == "" {
		return cedar.Request{}, nil, errors.New("no action")
	}
	tenant := ""
	if p.TenantID != uuid.Nil {
		tenant = p.TenantID.String()
	}
	principal := cedar.Entity{
		UID: cedar.NewEntityUID(ptype, cedar.String(p.ID)),
		Attributes: cedar.NewRecord(cedar.RecordMap{
			"tenant":         cedar.String(tenant),
			"role":           cedar.String(p.Role),
			"instance_admin": cedar.Boolean(p.InstanceAdmin),
		}),
	}
	resID := res.ID
	if resID == "" && res.Type == "tenant" && res.TenantID != uuid.Nil {
		resID = res.TenantID.String()
	}
	attrs := cedar.RecordMap{}
	if res.TenantID != uuid.Nil {
		attrs["tenant"] = cedar.String(res.TenantID.String())
	}
	resource := cedar.Entity{UID: cedar.NewEntityUID(rtype, cedar.String(resID)), Attributes: cedar.NewRecord(attrs)}
	entities := cedar.EntityMap{principal.UID: principal}
	if resource.UID != principal.UID {
		entities[resource.UID] = resource
	}
	return cedar.Request{
		Principal: principal.UID,
		Action:    cedar.NewEntityUID("Action", cedar.String(action)),
		Resource:  resource.UID,
		Context:   cedar.NewRecord(cedar.RecordMap{}),
	}, entities, nil
}
