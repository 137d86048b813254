package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

// ExecutionSummary is a workflow execution without its payloads, as lists
// show it: GET of the execution has its input and output.
type ExecutionSummary struct {
	ID           uuid.UUID `json:"id"`
	OrgID        uuid.UUID `json:"orgId" doc:"The tenant id (the worker protocol's org_id)."`
	TenantID     uuid.UUID `json:"tenantId" doc:"The same as orgId."`
	WorkflowKind string    `json:"workflowKind"`
	Kind         string    `json:"kind" doc:"The same as workflowKind."`
	Status       string    `json:"status" enum:"PENDING,RUNNING,WAITING,COMPLETED,FAILED,CANCELLED"`
	Queue        string    `json:"queue"`
	// PrioritySeconds moves the execution ahead in its queue.
	PrioritySeconds int32             `json:"prioritySeconds"`
	WorkflowVersion string            `json:"workflowVersion"`
	Error           *string           `json:"error"`
	Metadata        map[string]string `json:"metadata"`
	ParentID        *uuid.UUID        `json:"parentId" doc:"The parent execution of a child workflow."`
	// ChildExecutionName is the name the parent gave this child.
	ChildExecutionName *string    `json:"childExecutionName"`
	CurrentSequence    int32      `json:"currentSequence" doc:"The sequence number of the last event."`
	CancelRequested    bool       `json:"cancelRequested"`
	CreatedAt          time.Time  `json:"createdAt"`
	StartedAt          *time.Time `json:"startedAt"`
	UpdatedAt          time.Time  `json:"updatedAt"`
	CompletedAt        *time.Time `json:"completedAt"`
}

// Execution is one workflow execution with its input and output.
type Execution struct {
	ExecutionSummary
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output" doc:"null until the execution completes."`
}

func summaryOut(w engine.Workflow) ExecutionSummary {
	md := w.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return ExecutionSummary{
		ID: w.ID, OrgID: w.TenantID, TenantID: w.TenantID, WorkflowKind: w.Kind, Kind: w.Kind, Status: w.Status,
		Queue: w.Queue, PrioritySeconds: w.PrioritySeconds, WorkflowVersion: w.Version,
		Error: w.Error, Metadata: md, ParentID: w.ParentID, ChildExecutionName: w.ParentChildName,
		CurrentSequence: w.LastSequence, CancelRequested: w.CancelRequested, CreatedAt: w.CreatedAt.UTC(),
		StartedAt: utc(w.StartedAt), UpdatedAt: w.UpdatedAt.UTC(), CompletedAt: utc(w.CompletedAt),
	}
}

func executionOut(w engine.Workflow) Execution {
	return Execution{ExecutionSummary: summaryOut(w), Input: w.Input, Output: w.Output}
}

// StartWorkflowRequest starts a workflow execution.
type StartWorkflowRequest struct {
	Kind            string          `json:"kind" minLength:"1" maxLength:"255" doc:"The workflow kind."`
	Input           json.RawMessage `json:"input,omitempty" doc:"Any JSON value; default null."`
	Queue           string          `json:"queue,omitempty" maxLength:"255" doc:"Default \"default\"."`
	PrioritySeconds int32           `json:"prioritySeconds,omitempty" minimum:"-2147483648" maximum:"2147483647"`
	Version         string          `json:"version,omitempty" maxLength:"255"`
	IdempotencyKey  string          `json:"idempotencyKey,omitempty" maxLength:"512" doc:"A repeated key returns the execution it started (200) while the key lives."`
	// IdempotencyKeyTTL is in seconds.
	IdempotencyKeyTTL int64             `json:"idempotencyKeyTtl,omitempty" minimum:"0" maximum:"315360000" doc:"How long the key lives, in seconds; default 86400 (24 h); more than 30 days counts as 30 days."`
	Metadata          map[string]string `json:"metadata,omitempty" doc:"Labels to filter executions by: at most 64, keys of 1 to 128 bytes, values of at most 1024."`
}

// StartedWorkflow is the execution a start created or found.
type StartedWorkflow struct {
	WorkflowExecutionID uuid.UUID `json:"workflowExecutionId"`
	IdempotencyKeyUsed  bool      `json:"idempotencyKeyUsed" doc:"The request carried an idempotency key."`
	IdempotencyKeyNew   bool      `json:"idempotencyKeyNew" doc:"This call created the execution under its key; false when the key returned an existing execution, or without a key."`
	Execution
}

type startInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	Body StartWorkflowRequest
}

type startOutput struct {
	Status int
	Body   StartedWorkflow
}

// ExecutionList is one page of executions, newest first, without their
// payloads.
type ExecutionList struct {
	Items      []ExecutionSummary `json:"items" doc:"Summaries: no input or output; get an execution for those."`
	NextCursor *string            `json:"nextCursor" doc:"Pass as cursor to get the next page; null on the last page."`
}

type listInput struct {
	Slug          string `path:"slug" doc:"The tenant's slug."`
	Status        string `query:"status" doc:"Comma-separated statuses: PENDING, RUNNING, WAITING, COMPLETED, FAILED, CANCELLED."`
	Kind          string `query:"kind"`
	Queue         string `query:"queue"`
	IDPrefix      string `query:"idPrefix" doc:"Only executions whose id starts with this: 1 to 36 hex digits and dashes, any case."`
	CreatedAfter  string `query:"createdAfter" doc:"RFC 3339; inclusive."`
	CreatedBefore string `query:"createdBefore" doc:"RFC 3339; exclusive."`
	Cursor        string `query:"cursor" doc:"nextCursor of the previous page."`
	Limit         int    `query:"limit" default:"50" minimum:"1" maximum:"500"`
	// metadata holds the metadata.<key>=<value> parameters.
	metadata map[string]string
}

// Resolve collects metadata.<key>=<value> query parameters, which the
// OpenAPI document cannot declare one by one.
func (in *listInput) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	for k, v := range u.Query() {
		key, ok := strings.CutPrefix(k, "metadata.")
		if !ok {
			continue
		}
		if key == "" {
			return []error{errorField("query."+k, "names no metadata key", v)}
		}
		if in.metadata == nil {
			in.metadata = map[string]string{}
		}
		in.metadata[key] = v[len(v)-1]
	}
	return nil
}

type listOutput struct {
	Body ExecutionList
}

type executionIDInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The workflow execution id."`
}

type executionOutput struct {
	Body Execution
}

// Event is one entry of an execution's history.
type Event struct {
	Sequence       int32     `json:"sequence"`
	SequenceNumber int32     `json:"sequenceNumber" doc:"The same as sequence."`
	EventType      string    `json:"eventType" example:"WORKFLOW_COMPLETED"`
	Timestamp      time.Time `json:"timestamp"`
	CreatedAt      time.Time `json:"createdAt" doc:"The same as timestamp."`
	// Data is the event's JSON object, embedded.
	Data json.RawMessage `json:"data" doc:"The event's data: a JSON object with camelCase keys."`
}

// EventList is an execution's history in sequence order.
type EventList struct {
	Events []Event `json:"events"`
}

type eventsInput struct {
	Slug          string `path:"slug" doc:"The tenant's slug."`
	ID            string `path:"id" doc:"The workflow execution id."`
	SinceSequence int32  `query:"sinceSequence" minimum:"0" maximum:"2147483647" doc:"Only events after this sequence number."`
}

type eventsOutput struct {
	Body EventList
}

// TaskAttempt is one dispatch of a task to a worker.
type TaskAttempt struct {
	Attempt    int32      `json:"attempt"`
	WorkerID   string     `json:"workerId"`
	Status     string     `json:"status" enum:"RUNNING,COMPLETED,FAILED,CANCELLED,LOST"`
	Error      *string    `json:"error"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
}

// TaskSummary is a task execution with its attempts, without its payloads,
// as the tasks list shows it: GET of the task has its input and output.
type TaskSummary struct {
	ID                  uuid.UUID     `json:"id"`
	WorkflowExecutionID *uuid.UUID    `json:"workflowExecutionId"`
	Kind                string        `json:"kind"`
	Status              string        `json:"status" enum:"PENDING,RUNNING,COMPLETED,FAILED,CANCELLED"`
	Queue               string        `json:"queue"`
	Error               *string       `json:"error"`
	ExecutionCount      int32         `json:"executionCount" doc:"Attempts so far."`
	MaxRetries          int32         `json:"maxRetries"`
	TimeoutMs           *int64        `json:"timeoutMs"`
	Progress            *float64      `json:"progress"`
	ProgressDetails     *string       `json:"progressDetails"`
	WorkerID            *string       `json:"workerId" doc:"The worker running it now."`
	Attempts            []TaskAttempt `json:"attempts"`
	CreatedAt           time.Time     `json:"createdAt"`
	StartedAt           *time.Time    `json:"startedAt"`
	UpdatedAt           time.Time     `json:"updatedAt"`
	CompletedAt         *time.Time    `json:"completedAt"`
}

// Task is a task execution with its attempts, input and output.
type Task struct {
	TaskSummary
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output" doc:"null until the task completes."`
}

// TaskList lists an execution's tasks in the order they were scheduled,
// without their payloads.
type TaskList struct {
	Tasks []TaskSummary `json:"tasks" doc:"Summaries: no input or output; get a task for those."`
}

type tasksOutput struct {
	Body TaskList
}

type taskIDInput struct {
	Slug   string `path:"slug" doc:"The tenant's slug."`
	ID     string `path:"id" doc:"The workflow execution id."`
	TaskID string `path:"taskId" doc:"The task execution id."`
}

type taskOutput struct {
	Body Task
}

// Child is a child execution, without its payloads.
type Child struct {
	ChildWorkflowExecutionID uuid.UUID `json:"childWorkflowExecutionId"`
	ExecutionSummary
}

// ChildList lists an execution's children, oldest first, without their
// payloads.
type ChildList struct {
	Children []Child `json:"children" doc:"Summaries: no input or output; get an execution for those."`
}

type childrenOutput struct {
	Body ChildList
}

// State is an execution's state keys and values.
type State struct {
	State map[string]json.RawMessage `json:"state"`
}

type stateInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The workflow execution id."`
	Key  string `query:"key" maxLength:"255" doc:"Only this key."`
}

type stateOutput struct {
	Body State
}

// CancelRequest cancels an execution.
type CancelRequest struct {
	Reason string `json:"reason,omitempty" maxLength:"65536"`
}

// Cancellation says what a cancel did.
type Cancellation struct {
	WorkflowExecutionID uuid.UUID `json:"workflowExecutionId"`
	Status              string    `json:"status" enum:"CANCELLED,CANCELLING,ALREADY_TERMINAL" doc:"CANCELLING: a worker holds the execution; it ends CANCELLED when that worker reports."`
	WorkflowStatus      string    `json:"workflowStatus" doc:"The execution's status now."`
}

type cancelInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The workflow execution id."`
	Body *CancelRequest
}

type cancelOutput struct {
	Status int
	Body   Cancellation
}

// SignalRequest sends a signal.
type SignalRequest struct {
	SignalName  string          `json:"signalName" minLength:"1" maxLength:"255"`
	SignalValue json.RawMessage `json:"signalValue,omitempty" doc:"Any JSON value; default null. At most max_payload_bytes."`
}

// Signalled reports where the signal landed in the history.
type Signalled struct {
	SignalEventSequence int32 `json:"signalEventSequence"`
}

type signalInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The workflow execution id."`
	Body SignalRequest
}

type signalOutput struct {
	Body Signalled
}

// SignalWithStartRequest signals the live execution started under
// workflowId, or starts one with the signal already in its history.
type SignalWithStartRequest struct {
	WorkflowID        string            `json:"workflowId" minLength:"1" maxLength:"512" doc:"Identifies the execution across calls (its idempotency key)."`
	Kind              string            `json:"kind" minLength:"1" maxLength:"255"`
	Input             json.RawMessage   `json:"input,omitempty"`
	Queue             string            `json:"queue,omitempty" maxLength:"255"`
	PrioritySeconds   int32             `json:"prioritySeconds,omitempty" minimum:"-2147483648" maximum:"2147483647"`
	Version           string            `json:"version,omitempty" maxLength:"255"`
	IdempotencyKeyTTL int64             `json:"idempotencyKeyTtl,omitempty" minimum:"0" maximum:"315360000" doc:"How long workflowId is remembered, in seconds; default 24 h; more than 30 days counts as 30 days."`
	Metadata          map[string]string `json:"metadata,omitempty"`
	SignalName        string            `json:"signalName" minLength:"1" maxLength:"255"`
	SignalValue       json.RawMessage   `json:"signalValue,omitempty"`
}

// SignalWithStartResult says which execution got the signal.
type SignalWithStartResult struct {
	WorkflowExecutionID uuid.UUID `json:"workflowExecutionId"`
	WorkflowCreated     bool      `json:"workflowCreated"`
	SignalEventSequence int32     `json:"signalEventSequence"`
	SignalDelivered     bool      `json:"signalDelivered"`
	IdempotencyKeyUsed  bool      `json:"idempotencyKeyUsed" doc:"Always true: workflowId is the idempotency key."`
	IdempotencyKeyNew   bool      `json:"idempotencyKeyNew" doc:"This call created the execution under workflowId (the same as workflowCreated)."`
}

type signalWithStartInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	Body SignalWithStartRequest
}

type signalWithStartOutput struct {
	Status int
	Body   SignalWithStartResult
}

// QueryRequest asks a workflow a query.
type QueryRequest struct {
	QueryName string `json:"queryName" minLength:"1" maxLength:"255" doc:"Answered from the state key of that name."`
}

// QueryResult is a query's answer.
type QueryResult struct {
	Result json.RawMessage `json:"result"`
}

type queryInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The workflow execution id."`
	Body QueryRequest
}

type queryOutput struct {
	Body QueryResult
}

func (a *api) workflowRoutes(h huma.API) {
	const base = "/{slug}/workflow-executions"
	register(h, a.withBody(huma.Operation{
		OperationID: "start-workflow-execution", Method: http.MethodPost, Path: base,
		Summary:       "Start a workflow execution",
		Description:   "201 for a new execution; 200 when idempotencyKey names a live key and the execution it started is returned.",
		Tags:          []string{tagWorkflows},
		DefaultStatus: http.StatusCreated,
		Responses:     alsoResponds[StartedWorkflow](h, "200", "An existing execution, found by its idempotency key"),
		Errors:        tenantErrors,
	}, 1), a.startWorkflow)
	register(h, huma.Operation{
		OperationID: "list-workflow-executions", Method: http.MethodGet, Path: base,
		Summary: "List workflow executions",
		Description: "Newest first, a page at a time, as summaries without input or output (get an execution for " +
			"those). Filters combine; `metadata.<key>=<value>` (repeatable) keeps executions whose metadata has " +
			"every such pair.",
		Tags:   []string{tagWorkflows},
		Errors: tenantErrors,
	}, a.listWorkflows)
	register(h, huma.Operation{
		OperationID: "get-workflow-execution", Method: http.MethodGet, Path: base + "/{id}",
		Summary: "Get a workflow execution",
		Tags:    []string{tagWorkflows},
		Errors:  tenantErrors,
	}, a.getWorkflow)
	register(h, huma.Operation{
		OperationID: "list-workflow-events", Method: http.MethodGet, Path: base + "/{id}/events",
		Summary: "Get an execution's event history",
		Tags:    []string{tagWorkflows},
		Errors:  tenantErrors,
	}, a.workflowEvents)
	register(h, huma.Operation{
		OperationID: "list-workflow-tasks", Method: http.MethodGet, Path: base + "/{id}/tasks",
		Summary:     "List an execution's tasks with their attempts",
		Description: "Summaries without input or output; get a task for those.",
		Tags:        []string{tagWorkflows},
		Errors:      tenantErrors,
	}, a.workflowTasks)
	register(h, huma.Operation{
		OperationID: "get-workflow-task", Method: http.MethodGet, Path: base + "/{id}/tasks/{taskId}",
		Summary: "Get a task of an execution, with its input and output",
		Tags:    []string{tagWorkflows},
		Errors:  tenantErrors,
	}, a.workflowTask)
	register(h, huma.Operation{
		OperationID: "list-workflow-children", Method: http.MethodGet, Path: base + "/{id}/children",
		Summary:     "List an execution's child executions",
		Description: "Summaries without input or output; get an execution for those.",
		Tags:        []string{tagWorkflows},
		Errors:      tenantErrors,
	}, a.workflowChildren)
	register(h, huma.Operation{
		OperationID: "get-workflow-state", Method: http.MethodGet, Path: base + "/{id}/state",
		Summary: "Get an execution's state",
		Tags:    []string{tagWorkflows},
		Errors:  tenantErrors,
	}, a.workflowState)
	register(h, a.withBody(huma.Operation{
		OperationID: "query-workflow-execution", Method: http.MethodPost, Path: base + "/{id}/query",
		Summary: "Query an execution",
		Tags:    []string{tagWorkflows},
		Errors:  tenantErrors,
	}, 0), a.queryWorkflow)
	register(h, a.withBody(huma.Operation{
		OperationID: "cancel-workflow-execution", Method: http.MethodPost, Path: base + "/{id}/cancel",
		Summary: "Cancel an execution",
		Description: "200 with CANCELLED when the execution ended at once, or ALREADY_TERMINAL; 202 with " +
			"CANCELLING while a worker holds it. Its tasks and children are cancelled too.",
		Tags:      []string{tagWorkflows},
		Responses: alsoResponds[Cancellation](h, "202", "Cancellation requested; the worker holding the execution ends it"),
		Errors:    tenantErrors,
	}, 0), a.cancelWorkflow)
	register(h, a.withBody(huma.Operation{
		OperationID: "signal-workflow-execution", Method: http.MethodPost, Path: base + "/{id}/signal",
		Summary:     "Signal an execution",
		Description: "Appends SIGNAL_RECEIVED and wakes the execution. An execution that has ended is 409.",
		Tags:        []string{tagWorkflows},
		Errors:      errorsPlus(http.StatusConflict),
	}, 1), a.signalWorkflow)
	register(h, a.withBody(huma.Operation{
		OperationID: "signal-with-start-workflow-execution", Method: http.MethodPost, Path: base + "/signal-with-start",
		Summary: "Signal an execution, starting it if needed",
		Description: "Signals the live execution started under workflowId (200), or starts one with the signal " +
			"already in its history (201).",
		Tags:          []string{tagWorkflows},
		DefaultStatus: http.StatusCreated,
		Responses:     alsoResponds[SignalWithStartResult](h, "200", "The live execution was signalled"),
		Errors:        tenantErrors,
	}, 2), a.signalWithStart)
}

// ttl converts an idempotency key lifetime in seconds, refusing one that
// overflows (more than limits.MaxDuration); the engine caps it at 30 days.
func ttl(seconds int64) (time.Duration, error) {
	d, err := limits.DurationSeconds("body.idempotencyKeyTtl", seconds)
	return d, refused(err)
}

func (a *api) startWorkflow(ctx context.Context, in *startInput) (*startOutput, error) {
	t, _, err := a.scope(ctx, in.Slug, auth.ActionWorkflowStart, "workflow", in.Body.Kind)
	if err != nil {
		return nil, err
	}
	b := in.Body
	keyTTL, err := ttl(b.IdempotencyKeyTTL)
	if err != nil {
		return nil, err
	}
	res, err := a.engine.StartWorkflow(ctx, engine.StartRequest{
		Tenant: t.ID, Kind: b.Kind, Input: b.Input, Queue: b.Queue, PrioritySeconds: b.PrioritySeconds,
		Version: b.Version, Metadata: b.Metadata, IdempotencyKey: b.IdempotencyKey, IdempotencyTTL: keyTTL,
	})
	if err != nil {
		return nil, a.fail("workflow execution", err)
	}
	w, err := a.engine.Workflow(ctx, t.ID, res.ID)
	if err != nil {
		return nil, a.fail("workflow execution", err)
	}
	out := &startOutput{Status: http.StatusOK, Body: StartedWorkflow{
		WorkflowExecutionID: res.ID, Execution: executionOut(w),
		IdempotencyKeyUsed: b.IdempotencyKey != "", IdempotencyKeyNew: b.IdempotencyKey != "" && res.Created,
	}}
	if res.Created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

// parseStatuses reads a comma-separated status filter.
func parseStatuses(raw string) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	var list []string
	for s := range strings.SplitSeq(raw, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if !slices.Contains(engine.Statuses, s) {
			return nil, badRequest("query.status", "must be one or more of "+strings.Join(engine.Statuses, ", "), raw)
		}
		list = append(list, s)
	}
	return list, nil
}

// encodeCursor makes the opaque cursor that resumes after the execution
// created at createdAt with id.
func encodeCursor(createdAt time.Time, id uuid.UUID) *string {
	c := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%s", createdAt.UnixMicro(), id))
	return &c
}

func decodeCursor(s string) (*engine.Cursor, error) {
	bad := badRequest("query.cursor", "not a cursor this API returned", s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	micros, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return nil, bad
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return nil, bad
	}
	parsed, err := uuid.Parse(id)
	if err != nil {
		return nil, bad
	}
	return &engine.Cursor{CreatedAt: time.UnixMicro(us), ID: parsed}, nil
}

func parseTime(location, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, badRequest(location, "not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", s)
	}
	return &t, nil
}

// parseIDPrefix reads an idPrefix filter: the start of an id, in any case.
func parseIDPrefix(raw string) (string, error) {
	if len(raw) > 36 || strings.Trim(raw, "0123456789abcdefABCDEF-") != "" {
		return "", badRequest("query.idPrefix", "must be 1 to 36 hex digits and dashes (the start of an id)", raw)
	}
	return strings.ToLower(raw), nil
}

func (a *api) listWorkflows(ctx context.Context, in *listInput) (*listOutput, error) {
	if err := errors.Join(
		limits.OptionalName("query.kind", in.Kind),
		limits.OptionalName("query.queue", in.Queue),
		limits.Metadata("query.metadata", in.metadata),
	); err != nil {
		return nil, refused(err)
	}
	f := engine.WorkflowFilter{Kind: in.Kind, Queue: in.Queue, Metadata: in.metadata, Limit: in.Limit}
	var err error
	if f.IDPrefix, err = parseIDPrefix(in.IDPrefix); err != nil {
		return nil, err
	}
	if f.Statuses, err = parseStatuses(in.Status); err != nil {
		return nil, err
	}
	if f.CreatedAfter, err = parseTime("query.createdAfter", in.CreatedAfter); err != nil {
		return nil, err
	}
	if f.CreatedBefore, err = parseTime("query.createdBefore", in.CreatedBefore); err != nil {
		return nil, err
	}
	if in.Cursor != "" {
		if f.After, err = decodeCursor(in.Cursor); err != nil {
			return nil, err
		}
	}
	t, _, err := a.scope(ctx, in.Slug, auth.ActionWorkflowRead, "workflow", "")
	if err != nil {
		return nil, err
	}
	f.Tenant = t.ID
	list, more, err := a.engine.ListWorkflows(ctx, f)
	if err != nil {
		return nil, a.fail("workflow executions", err)
	}
	out := &listOutput{Body: ExecutionList{Items: make([]ExecutionSummary, 0, len(list))}}
	for _, w := range list {
		out.Body.Items = append(out.Body.Items, summaryOut(w))
	}
	if more {
		last := list[len(list)-1]
		out.Body.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, nil
}

// executionID resolves the tenant and the id of the execution (workflow
// or agent) a route names and authorizes action on it.
func (a *api) executionID(ctx context.Context, slug, rawID, resType string, action auth.Action) (tenant, id uuid.UUID, err error) {
	t, p, err := a.tenantOf(ctx, slug)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	if id, err = parseUUID("path.id", rawID); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	return t.ID, id, a.authorize(ctx, p, action, auth.Resource{Type: resType, TenantID: t.ID, ID: id.String()})
}

// execution is the workflow execution a route names; another tenant's
// execution is 404.
func (a *api) execution(ctx context.Context, slug, rawID string, action auth.Action) (engine.Workflow, error) {
	tenant, id, err := a.executionID(ctx, slug, rawID, "workflow", action)
	if err != nil {
		return engine.Workflow{}, err
	}
	w, err := a.engine.Workflow(ctx, tenant, id)
	if err != nil {
		return w, a.fail(fmt.Sprintf("workflow execution %s", id), err)
	}
	return w, nil
}

func (a *api) getWorkflow(ctx context.Context, in *executionIDInput) (*executionOutput, error) {
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowRead)
	if err != nil {
		return nil, err
	}
	return &executionOutput{Body: executionOut(w)}, nil
}

func (a *api) workflowEvents(ctx context.Context, in *eventsInput) (*eventsOutput, error) {
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowRead)
	if err != nil {
		return nil, err
	}
	events, err := a.engine.Events(ctx, w.TenantID, w.ID)
	if err != nil {
		return nil, a.fail("events", err)
	}
	out := &eventsOutput{Body: EventList{Events: make([]Event, 0, len(events))}}
	for _, e := range events {
		if e.Sequence <= in.SinceSequence {
			continue
		}
		at := e.CreatedAt.UTC()
		out.Body.Events = append(out.Body.Events, Event{
			Sequence: e.Sequence, SequenceNumber: e.Sequence, EventType: e.Type, Timestamp: at, CreatedAt: at, Data: e.Data,
		})
	}
	return out, nil
}

func (a *api) workflowTasks(ctx context.Context, in *executionIDInput) (*tasksOutput, error) {
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowRead)
	if err != nil {
		return nil, err
	}
	tasks, err := a.engine.TasksOfWorkflow(ctx, w.TenantID, w.ID)
	if err != nil {
		return nil, a.fail("tasks", err)
	}
	out := &tasksOutput{Body: TaskList{Tasks: make([]TaskSummary, 0, len(tasks))}}
	for _, t := range tasks {
		out.Body.Tasks = append(out.Body.Tasks, taskSummaryOut(t))
	}
	return out, nil
}

func taskSummaryOut(t engine.TaskDetail) TaskSummary {
	task := TaskSummary{
		ID: t.ID, WorkflowExecutionID: t.WorkflowID, Kind: t.Kind, Status: t.Status, Queue: t.Queue,
		Error: t.Error, ExecutionCount: t.ExecutionCount, MaxRetries: t.MaxRetries,
		TimeoutMs: t.TimeoutMs, Progress: t.Progress, ProgressDetails: t.ProgressDetails, WorkerID: t.WorkerID,
		Attempts: make([]TaskAttempt, 0, len(t.Attempts)), CreatedAt: t.CreatedAt.UTC(), StartedAt: utc(t.StartedAt),
		UpdatedAt: t.UpdatedAt.UTC(), CompletedAt: utc(t.CompletedAt),
	}
	for _, at := range t.Attempts {
		task.Attempts = append(task.Attempts, TaskAttempt{
			Attempt: at.Attempt, WorkerID: at.WorkerID, Status: at.Status, Error: at.Error,
			StartedAt: at.StartedAt.UTC(), FinishedAt: utc(at.FinishedAt),
		})
	}
	return task
}

func (a *api) workflowTask(ctx context.Context, in *taskIDInput) (*taskOutput, error) {
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowRead)
	if err != nil {
		return nil, err
	}
	taskID, err := parseUUID("path.taskId", in.TaskID)
	if err != nil {
		return nil, err
	}
	t, err := a.engine.TaskOfWorkflow(ctx, w.TenantID, w.ID, taskID)
	if err != nil {
		return nil, a.fail(fmt.Sprintf("task %s of workflow execution %s", taskID, w.ID), err)
	}
	return &taskOutput{Body: Task{TaskSummary: taskSummaryOut(t), Input: t.Input, Output: t.Output}}, nil
}

func (a *api) workflowChildren(ctx context.Context, in *executionIDInput) (*childrenOutput, error) {
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowRead)
	if err != nil {
		return nil, err
	}
	children, err := a.engine.Children(ctx, w.TenantID, w.ID)
	if err != nil {
		return nil, a.fail("children", err)
	}
	out := &childrenOutput{Body: ChildList{Children: make([]Child, 0, len(children))}}
	for _, c := range children {
		out.Body.Children = append(out.Body.Children, Child{ChildWorkflowExecutionID: c.ID, ExecutionSummary: summaryOut(c)})
	}
	return out, nil
}

func (a *api) workflowState(ctx context.Context, in *stateInput) (*stateOutput, error) {
	if err := limits.OptionalName("query.key", in.Key); err != nil {
		return nil, refused(err)
	}
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowRead)
	if err != nil {
		return nil, err
	}
	state, err := a.engine.WorkflowState(ctx, w.TenantID, w.ID)
	if err != nil {
		return nil, a.fail("state", err)
	}
	if in.Key != "" {
		only := map[string]json.RawMessage{}
		if v, ok := state[in.Key]; ok {
			only[in.Key] = v
		}
		state = only
	}
	return &stateOutput{Body: State{State: state}}, nil
}

func (a *api) queryWorkflow(ctx context.Context, in *queryInput) (*queryOutput, error) {
	if err := limits.Name("body.queryName", in.Body.QueryName); err != nil {
		return nil, refused(err)
	}
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowRead)
	if err != nil {
		return nil, err
	}
	v, err := a.engine.Query(ctx, w.TenantID, w.ID, in.Body.QueryName)
	if err != nil {
		return nil, a.fail("workflow execution", err)
	}
	return &queryOutput{Body: QueryResult{Result: v}}, nil
}

func (a *api) cancelWorkflow(ctx context.Context, in *cancelInput) (*cancelOutput, error) {
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowCancel)
	if err != nil {
		return nil, err
	}
	reason := "cancelled through the API"
	if in.Body != nil && in.Body.Reason != "" {
		reason = in.Body.Reason
	}
	p, _ := auth.PrincipalFrom(ctx)
	out := &cancelOutput{Status: http.StatusOK, Body: Cancellation{WorkflowExecutionID: w.ID}}
	err = a.engine.CancelWorkflow(ctx, w.TenantID, w.ID, reason, string(p.Type)+":"+p.ID)
	switch {
	case err == nil:
	case isTerminal(err):
		out.Body.Status, out.Body.WorkflowStatus = "ALREADY_TERMINAL", w.Status
		return out, nil
	default:
		return nil, a.fail(fmt.Sprintf("workflow execution %s", w.ID), err)
	}
	if w, err = a.engine.Workflow(ctx, w.TenantID, w.ID); err != nil {
		return nil, a.fail(fmt.Sprintf("workflow execution %s", w.ID), err)
	}
	out.Body.WorkflowStatus = w.Status
	out.Body.Status = "CANCELLED"
	if w.Status != engine.StatusCancelled {
		out.Status, out.Body.Status = http.StatusAccepted, "CANCELLING"
	}
	return out, nil
}

func (a *api) signalWorkflow(ctx context.Context, in *signalInput) (*signalOutput, error) {
	w, err := a.execution(ctx, in.Slug, in.ID, auth.ActionWorkflowSignal)
	if err != nil {
		return nil, err
	}
	value, err := engine.Payload("signal_value", in.Body.SignalValue)
	if err != nil {
		return nil, a.fail("signal", err)
	}
	seq, err := a.engine.Signal(ctx, w.TenantID, w.ID, in.Body.SignalName, value)
	if err != nil {
		return nil, a.fail(fmt.Sprintf("workflow execution %s", w.ID), err)
	}
	if seq == 0 {
		return nil, huma.Error409Conflict(fmt.Sprintf("workflow execution %s has already ended; the signal was not delivered", w.ID))
	}
	return &signalOutput{Body: Signalled{SignalEventSequence: seq}}, nil
}

func (a *api) signalWithStart(ctx context.Context, in *signalWithStartInput) (*signalWithStartOutput, error) {
	b := in.Body
	t, _, err := a.scope(ctx, in.Slug, auth.ActionWorkflowSignal, "workflow", b.WorkflowID)
	if err != nil {
		return nil, err
	}
	// Signal-with-start may start a workflow: it needs both permissions.
	p, _ := auth.PrincipalFrom(ctx)
	if err := a.authorize(ctx, p, auth.ActionWorkflowStart, auth.Resource{Type: "workflow", TenantID: t.ID, ID: b.Kind}); err != nil {
		return nil, err
	}
	value, err := engine.Payload("signal_value", b.SignalValue)
	if err != nil {
		return nil, a.fail("signal", err)
	}
	keyTTL, err := ttl(b.IdempotencyKeyTTL)
	if err != nil {
		return nil, err
	}
	res, err := a.engine.SignalWithStart(ctx, engine.StartRequest{
		Tenant: t.ID, Kind: b.Kind, Input: b.Input, Queue: b.Queue, PrioritySeconds: b.PrioritySeconds,
		Version: b.Version, Metadata: b.Metadata, IdempotencyTTL: keyTTL,
	}, b.WorkflowID, b.SignalName, value)
	if err != nil {
		return nil, a.fail("workflow execution", err)
	}
	out := &signalWithStartOutput{Status: http.StatusOK, Body: SignalWithStartResult{
		WorkflowExecutionID: res.ID, WorkflowCreated: res.Created, SignalEventSequence: res.SignalSequence, SignalDelivered: true,
		IdempotencyKeyUsed: true, IdempotencyKeyNew: res.Created,
	}}
	if res.Created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

func isTerminal(err error) bool { return errors.Is(err, engine.ErrTerminal) }
