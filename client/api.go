package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ---- tenants ----

// CreateTenant creates a tenant (instance administrators only). A taken slug
// is an *Error with Status 409.
func (c *Client) CreateTenant(ctx context.Context, r CreateTenantRequest) (Tenant, error) {
	var t Tenant
	_, err := c.do(ctx, http.MethodPost, "/api/tenants", nil, r, &t)
	return t, err
}

// ListTenants lists every tenant for an instance administrator, else the
// caller's own.
func (c *Client) ListTenants(ctx context.Context) ([]Tenant, error) {
	var l TenantList
	_, err := c.do(ctx, http.MethodGet, "/api/tenants", nil, nil, &l)
	return l.Tenants, err
}

// GetTenant gets the tenant of slug.
func (c *Client) GetTenant(ctx context.Context, slug string) (Tenant, error) {
	var t Tenant
	_, err := c.do(ctx, http.MethodGet, joinPath("api", "tenants", slug), nil, nil, &t)
	return t, err
}

// ---- credentials ----

// credentialPath is the route of a credential kind.
func credentialPath(kind string) string {
	if kind == KindAPIKey {
		return "api-keys"
	}
	return "worker-tokens"
}

// CreateWorkerToken issues a worker token (fwt_…); the secret is in Token.
func (c *Client) CreateWorkerToken(ctx context.Context, r CreateCredentialRequest) (IssuedCredential, error) {
	r.Role = ""
	return c.createCredential(ctx, KindWorkerToken, r)
}

// CreateAPIKey issues an API key with r.Role (default MEMBER).
func (c *Client) CreateAPIKey(ctx context.Context, r CreateCredentialRequest) (IssuedCredential, error) {
	return c.createCredential(ctx, KindAPIKey, r)
}

func (c *Client) createCredential(ctx context.Context, kind string, r CreateCredentialRequest) (IssuedCredential, error) {
	var out IssuedCredential
	p, err := c.tenantPath(credentialPath(kind))
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, r, &out)
	return out, err
}

// ListWorkerTokens lists the tenant's worker tokens, newest first.
func (c *Client) ListWorkerTokens(ctx context.Context) ([]Credential, error) {
	return c.listCredentials(ctx, KindWorkerToken)
}

// ListAPIKeys lists the tenant's API keys, newest first.
func (c *Client) ListAPIKeys(ctx context.Context) ([]Credential, error) {
	return c.listCredentials(ctx, KindAPIKey)
}

func (c *Client) listCredentials(ctx context.Context, kind string) ([]Credential, error) {
	var l CredentialList
	p, err := c.tenantPath(credentialPath(kind))
	if err != nil {
		return nil, err
	}
	_, err = c.do(ctx, http.MethodGet, p, nil, nil, &l)
	return l.Credentials, err
}

// RevokeWorkerToken revokes a worker token; it stops working at once.
func (c *Client) RevokeWorkerToken(ctx context.Context, id string) (Credential, error) {
	return c.RevokeCredential(ctx, KindWorkerToken, id, RevokeOptions{})
}

// RevokeAPIKey revokes an API key; it stops working at once.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) (Credential, error) {
	return c.RevokeCredential(ctx, KindAPIKey, id, RevokeOptions{})
}

// RevokeOptions tune RevokeCredential.
type RevokeOptions struct {
	// Force revokes the tenant's last OWNER or instance-admin credential,
	// which the server otherwise refuses to (?force=true).
	Force bool
}

// RevokeCredential revokes a credential of kind (KindWorkerToken or
// KindAPIKey); it stops working at once.
func (c *Client) RevokeCredential(ctx context.Context, kind, id string, o RevokeOptions) (Credential, error) {
	var out Credential
	p, err := c.tenantPath(credentialPath(kind), id)
	if err != nil {
		return out, err
	}
	var q url.Values
	if o.Force {
		q = url.Values{"force": {"true"}}
	}
	_, err = c.do(ctx, http.MethodDelete, p, q, nil, &out)
	return out, err
}

// ---- workflow executions ----

// StartWorkflow starts an execution. With an idempotency key that is still
// live, the execution it started is returned (IdempotencyKeyNew false).
func (c *Client) StartWorkflow(ctx context.Context, r StartWorkflowRequest) (StartedWorkflow, error) {
	var out StartedWorkflow
	p, err := c.tenantPath("workflow-executions")
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, r, &out)
	return out, err
}

// ListWorkflows returns one page of executions, newest first.
func (c *Client) ListWorkflows(ctx context.Context, o ListWorkflowsOptions) (ExecutionList, error) {
	var out ExecutionList
	p, err := c.tenantPath("workflow-executions")
	if err != nil {
		return out, err
	}
	q := url.Values{}
	if len(o.Statuses) > 0 {
		q.Set("status", strings.Join(o.Statuses, ","))
	}
	if o.Kind != "" {
		q.Set("kind", o.Kind)
	}
	if o.Queue != "" {
		q.Set("queue", o.Queue)
	}
	for k, v := range o.Metadata {
		q.Set("metadata."+k, v)
	}
	if o.CreatedAfter != nil {
		q.Set("createdAfter", o.CreatedAfter.UTC().Format(time.RFC3339Nano))
	}
	if o.CreatedBefore != nil {
		q.Set("createdBefore", o.CreatedBefore.UTC().Format(time.RFC3339Nano))
	}
	if o.IDPrefix != "" {
		q.Set("idPrefix", o.IDPrefix)
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	_, err = c.do(ctx, http.MethodGet, p, q, nil, &out)
	return out, err
}

// GetWorkflow gets an execution.
func (c *Client) GetWorkflow(ctx context.Context, id string) (Execution, error) {
	var out Execution
	p, err := c.tenantPath("workflow-executions", id)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodGet, p, nil, nil, &out)
	return out, err
}

// WorkflowEvents returns the history of an execution after sequence number
// since (0: all of it).
func (c *Client) WorkflowEvents(ctx context.Context, id string, since int32) ([]Event, error) {
	var out EventList
	p, err := c.tenantPath("workflow-executions", id, "events")
	if err != nil {
		return nil, err
	}
	var q url.Values
	if since > 0 {
		q = url.Values{"sinceSequence": {strconv.Itoa(int(since))}}
	}
	_, err = c.do(ctx, http.MethodGet, p, q, nil, &out)
	return out.Events, err
}

// WorkflowTasks lists an execution's tasks with their attempts.
func (c *Client) WorkflowTasks(ctx context.Context, id string) ([]Task, error) {
	var out TaskList
	p, err := c.tenantPath("workflow-executions", id, "tasks")
	if err != nil {
		return nil, err
	}
	_, err = c.do(ctx, http.MethodGet, p, nil, nil, &out)
	return out.Tasks, err
}

// WorkflowChildren lists an execution's child executions.
func (c *Client) WorkflowChildren(ctx context.Context, id string) ([]Child, error) {
	var out ChildList
	p, err := c.tenantPath("workflow-executions", id, "children")
	if err != nil {
		return nil, err
	}
	_, err = c.do(ctx, http.MethodGet, p, nil, nil, &out)
	return out.Children, err
}

// CancelWorkflow cancels an execution, its tasks and its children.
func (c *Client) CancelWorkflow(ctx context.Context, id, reason string) (Cancellation, error) {
	var out Cancellation
	p, err := c.tenantPath("workflow-executions", id, "cancel")
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, struct {
		Reason string `json:"reason,omitempty"`
	}{reason}, &out)
	return out, err
}

// SignalWorkflow sends signal name with value (nil: null) to an execution.
// An execution that has ended is an *Error with Status 409.
func (c *Client) SignalWorkflow(ctx context.Context, id, name string, value json.RawMessage) (Signalled, error) {
	var out Signalled
	p, err := c.tenantPath("workflow-executions", id, "signal")
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, struct {
		SignalName  string          `json:"signalName"`
		SignalValue json.RawMessage `json:"signalValue,omitempty"`
	}{name, value}, &out)
	return out, err
}

// ---- promises ----

// ResolvePromise resolves a durable promise with value (nil: null). id is
// the promiseId of PROMISE_CREATED, or "<workflow execution id>:<promise name>".
func (c *Client) ResolvePromise(ctx context.Context, id string, value json.RawMessage) error {
	p, err := c.tenantPath("promises", id, "resolve")
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, struct {
		Value json.RawMessage `json:"value,omitempty"`
	}{value}, nil)
	return err
}

// RejectPromise rejects a durable promise with an error message.
func (c *Client) RejectPromise(ctx context.Context, id, message string) error {
	p, err := c.tenantPath("promises", id, "reject")
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, struct {
		Error string `json:"error,omitempty"`
	}{message}, nil)
	return err
}

// ---- workers ----

// ListWorkers lists the tenant's workers; status ONLINE or OFFLINE filters.
func (c *Client) ListWorkers(ctx context.Context, status string) ([]Worker, error) {
	var out WorkerList
	p, err := c.tenantPath("workers")
	if err != nil {
		return nil, err
	}
	var q url.Values
	if status != "" {
		q = url.Values{"status": {status}}
	}
	_, err = c.do(ctx, http.MethodGet, p, q, nil, &out)
	return out.Workers, err
}

// ---- waiting ----

// Events that may end an execution; the wait checks its status when one appears.
var endingEvents = map[string]bool{
	"WORKFLOW_COMPLETED":        true,
	"WORKFLOW_EXECUTION_FAILED": true,
	"CANCELLATION_REQUESTED":    true,
}

// FollowOptions tune Follow.
type FollowOptions struct {
	// Since is the last sequence number already seen (0: from the start).
	Since int32
	// Interval is the longest pause between two polls; it starts at 20 ms
	// and doubles up to Interval. Default 250 ms.
	Interval time.Duration
	// OnEvents is called with each batch of new events, in order.
	OnEvents func([]Event)
}

// Follow polls the history of execution id until the execution ends and
// returns it in its final state. It stops with ctx's error when ctx ends.
func (c *Client) Follow(ctx context.Context, id string, o FollowOptions) (Execution, error) {
	maxWait := o.Interval
	if maxWait <= 0 {
		maxWait = 250 * time.Millisecond
	}
	since := o.Since
	wait := 20 * time.Millisecond
	check := true // the status is checked first, then when an ending event appears, and every ~2 s
	lastCheck := time.Time{}
	for {
		events, err := c.WorkflowEvents(ctx, id, since)
		if err != nil {
			return Execution{}, err
		}
		if len(events) > 0 {
			since = events[len(events)-1].Sequence
			if o.OnEvents != nil {
				o.OnEvents(events)
			}
			for _, e := range events {
				check = check || endingEvents[e.EventType]
			}
			wait = 20 * time.Millisecond
		}
		if check || time.Since(lastCheck) > 2*time.Second {
			w, err := c.GetWorkflow(ctx, id)
			if err != nil {
				return w, err
			}
			lastCheck, check = time.Now(), false
			if Terminal(w.Status) {
				if w.CurrentSequence > since { // the last events, for OnEvents
					if rest, err := c.WorkflowEvents(ctx, id, since); err == nil && len(rest) > 0 && o.OnEvents != nil {
						o.OnEvents(rest)
					}
				}
				return w, nil
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Execution{}, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, maxWait)
	}
}
