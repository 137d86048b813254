package client

import (
	"encoding/json"
	"time"
)

// The types below carry the API's JSON field names, so encoding one gives
// back the API's own document (what `-o json` prints).

// Tenant is an isolated space of workflows and credentials (an org).
type Tenant struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Tier      string    `json:"tier"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"createdAt"`
}

// CreateTenantRequest creates a tenant. Name defaults to the slug, Tier to FREE.
type CreateTenantRequest struct {
	Slug   string `json:"slug"`
	Name   string `json:"name,omitempty"`
	Tier   string `json:"tier,omitempty"`
	Region string `json:"region,omitempty"`
}

// TenantList is the answer of ListTenants.
type TenantList struct {
	Tenants []Tenant `json:"tenants"`
}

// Credential kinds.
const (
	KindWorkerToken = "worker_token"
	KindAPIKey      = "api_key"
)

// Credential describes a worker token or an API key, never its secret.
type Credential struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	DisplayName   string     `json:"displayName"`
	Prefix        string     `json:"prefix"`
	PrincipalType string     `json:"principalType"`
	PrincipalID   string     `json:"principalId"`
	Role          string     `json:"role"`
	CreatedAt     time.Time  `json:"createdAt"`
	LastUsedAt    *time.Time `json:"lastUsedAt"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	RevokedAt     *time.Time `json:"revokedAt"`
}

// IssuedCredential is a new credential with its secret, shown only once.
type IssuedCredential struct {
	Credential
	Token string `json:"token"`
}

// CredentialList is the answer of the list routes, newest first.
type CredentialList struct {
	Credentials []Credential `json:"credentials"`
}

// CreateCredentialRequest issues a worker token or (with Role) an API key.
type CreateCredentialRequest struct {
	DisplayName string     `json:"displayName,omitempty"`
	Role        string     `json:"role,omitempty"` // API keys only: OWNER, ADMIN, MEMBER (default), VIEWER
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
}

// Workflow statuses.
const (
	StatusPending   = "PENDING"
	StatusRunning   = "RUNNING"
	StatusWaiting   = "WAITING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
	StatusCancelled = "CANCELLED"
)

// Terminal reports whether a workflow status is final.
func Terminal(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// Execution is one workflow execution.
type Execution struct {
	ID                 string            `json:"id"`
	OrgID              string            `json:"orgId"`
	TenantID           string            `json:"tenantId"`
	WorkflowKind       string            `json:"workflowKind"`
	Kind               string            `json:"kind"`
	Status             string            `json:"status"`
	Queue              string            `json:"queue"`
	PrioritySeconds    int32             `json:"prioritySeconds"`
	WorkflowVersion    string            `json:"workflowVersion"`
	Input              json.RawMessage   `json:"input"`
	Output             json.RawMessage   `json:"output"`
	Error              *string           `json:"error"`
	Metadata           map[string]string `json:"metadata"`
	ParentID           *string           `json:"parentId"`
	ChildExecutionName *string           `json:"childExecutionName"`
	CurrentSequence    int32             `json:"currentSequence"`
	CancelRequested    bool              `json:"cancelRequested"`
	CreatedAt          time.Time         `json:"createdAt"`
	StartedAt          *time.Time        `json:"startedAt"`
	UpdatedAt          time.Time         `json:"updatedAt"`
	CompletedAt        *time.Time        `json:"completedAt"`
}

// StartWorkflowRequest starts a workflow execution.
type StartWorkflowRequest struct {
	Kind              string            `json:"kind"`
	Input             json.RawMessage   `json:"input,omitempty"`
	Queue             string            `json:"queue,omitempty"`
	PrioritySeconds   int32             `json:"prioritySeconds,omitempty"`
	Version           string            `json:"version,omitempty"`
	IdempotencyKey    string            `json:"idempotencyKey,omitempty"`
	IdempotencyKeyTTL int64             `json:"idempotencyKeyTtl,omitempty"` // seconds
	Metadata          map[string]string `json:"metadata,omitempty"`
}

// StartedWorkflow is the execution a start created, or found by its
// idempotency key (IdempotencyKeyNew false).
type StartedWorkflow struct {
	WorkflowExecutionID string `json:"workflowExecutionId"`
	IdempotencyKeyUsed  bool   `json:"idempotencyKeyUsed"`
	IdempotencyKeyNew   bool   `json:"idempotencyKeyNew"`
	Execution
}

// ListWorkflowsOptions filter ListWorkflows; zero values do not filter.
type ListWorkflowsOptions struct {
	Statuses      []string
	Kind          string
	Queue         string
	Metadata      map[string]string
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	// IDPrefix keeps the executions whose id starts with it: lower-case
	// hex digits with dashes where a UUID has them ("7c9e6679", "7c9e6679-74").
	IDPrefix string
	Cursor   string // NextCursor of the previous page
	Limit    int    // default 50 (server), at most 500
}

// ExecutionList is one page of executions, newest first.
type ExecutionList struct {
	Items      []Execution `json:"items"`
	NextCursor *string     `json:"nextCursor"`
}

// Event is one entry of an execution's history.
type Event struct {
	Sequence       int32           `json:"sequence"`
	SequenceNumber int32           `json:"sequenceNumber"`
	EventType      string          `json:"eventType"`
	Timestamp      time.Time       `json:"timestamp"`
	CreatedAt      time.Time       `json:"createdAt"`
	Data           json.RawMessage `json:"data"`
}

// EventList is an execution's history in sequence order.
type EventList struct {
	Events []Event `json:"events"`
}

// TaskAttempt is one dispatch of a task to a worker.
type TaskAttempt struct {
	Attempt    int32      `json:"attempt"`
	WorkerID   string     `json:"workerId"`
	Status     string     `json:"status"`
	Error      *string    `json:"error"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
}

// Task is a task execution with its attempts.
type Task struct {
	ID                  string          `json:"id"`
	WorkflowExecutionID *string         `json:"workflowExecutionId"`
	Kind                string          `json:"kind"`
	Status              string          `json:"status"`
	Queue               string          `json:"queue"`
	Input               json.RawMessage `json:"input"`
	Output              json.RawMessage `json:"output"`
	Error               *string         `json:"error"`
	ExecutionCount      int32           `json:"executionCount"`
	MaxRetries          int32           `json:"maxRetries"`
	TimeoutMs           *int64          `json:"timeoutMs"`
	Progress            *float64        `json:"progress"`
	ProgressDetails     *string         `json:"progressDetails"`
	WorkerID            *string         `json:"workerId"`
	Attempts            []TaskAttempt   `json:"attempts"`
	CreatedAt           time.Time       `json:"createdAt"`
	StartedAt           *time.Time      `json:"startedAt"`
	UpdatedAt           time.Time       `json:"updatedAt"`
	CompletedAt         *time.Time      `json:"completedAt"`
}

// TaskList lists an execution's tasks in the order they were scheduled.
type TaskList struct {
	Tasks []Task `json:"tasks"`
}

// Child is a child execution.
type Child struct {
	ChildWorkflowExecutionID string `json:"childWorkflowExecutionId"`
	Execution
}

// ChildList lists an execution's children, oldest first.
type ChildList struct {
	Children []Child `json:"children"`
}

// Cancellation says what a cancel did: Status CANCELLED, CANCELLING (a
// worker holds the execution) or ALREADY_TERMINAL.
type Cancellation struct {
	WorkflowExecutionID string `json:"workflowExecutionId"`
	Status              string `json:"status"`
	WorkflowStatus      string `json:"workflowStatus"`
}

// Signalled reports where a signal landed in the history.
type Signalled struct {
	SignalEventSequence int32 `json:"signalEventSequence"`
}

// Capability is a kind a worker can run.
type Capability struct {
	Type        string `json:"type"`
	Kind        string `json:"kind"`
	Version     string `json:"version"`
	ContentHash string `json:"contentHash"`
}

// Worker is a registered worker process.
type Worker struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Type            string            `json:"type"`
	HostName        string            `json:"hostName"`
	ProcessID       string            `json:"processId"`
	Metadata        map[string]string `json:"metadata"`
	Status          string            `json:"status"`
	Connected       bool              `json:"connected"`
	RegisteredAt    time.Time         `json:"registeredAt"`
	LastHeartbeatAt time.Time         `json:"lastHeartbeatAt"`
	Capabilities    []Capability      `json:"capabilities"`
}

// WorkerList lists a tenant's workers, most recently seen first.
type WorkerList struct {
	Workers []Worker `json:"workers"`
}
