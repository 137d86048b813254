package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

const tagAgents = "Agent executions"

// AgentExecutionSummary is an agent execution without its payloads, as
// lists show it.
type AgentExecutionSummary struct {
	ID                   uuid.UUID  `json:"id"`
	OrgID                uuid.UUID  `json:"orgId" doc:"The tenant id (the worker protocol's org_id)."`
	TenantID             uuid.UUID  `json:"tenantId" doc:"The same as orgId."`
	Kind                 string     `json:"kind"`
	Status               string     `json:"status" enum:"PENDING,RUNNING,WAITING,COMPLETED,FAILED,CANCELLED"`
	Queue                string     `json:"queue"`
	Error                *string    `json:"error"`
	FailureType          *string    `json:"failureType"`
	CurrentCheckpointSeq int32      `json:"currentCheckpointSeq" doc:"The sequence of the latest checkpoint; -1 when there is none."`
	ParentExecutionID    *uuid.UUID `json:"parentExecutionId" doc:"The parent of a child agent."`
	WaitingFor           *string    `json:"waitingFor" doc:"What a WAITING execution waits for: signal, tasks_all, tasks_any, children_any or children_all."`
	WaitReason           *string    `json:"waitReason"`
	CreatedAt            time.Time  `json:"createdAt"`
	StartedAt            *time.Time `json:"startedAt"`
	UpdatedAt            time.Time  `json:"updatedAt"`
	CompletedAt          *time.Time `json:"completedAt"`
}

// AgentExecution is one agent execution with its input and output.
type AgentExecution struct {
	AgentExecutionSummary
	Input    json.RawMessage `json:"input"`
	Output   json.RawMessage `json:"output" doc:"null until the execution completes."`
	Metadata json.RawMessage `json:"metadata"`
}

func agentSummaryOut(a engine.Agent) AgentExecutionSummary {
	s := AgentExecutionSummary{
		ID: a.ID, OrgID: a.TenantID, TenantID: a.TenantID, Kind: a.Kind, Status: a.Status, Queue: a.Queue,
		Error: a.Error, FailureType: a.FailureType, CurrentCheckpointSeq: a.CurrentCheckpointSeq, ParentExecutionID: a.ParentID,
		CreatedAt: a.CreatedAt.UTC(), StartedAt: utc(a.StartedAt), UpdatedAt: a.UpdatedAt.UTC(), CompletedAt: utc(a.CompletedAt),
	}
	if a.Status == engine.StatusWaiting {
		s.WaitingFor, s.WaitReason = a.WaitKind, a.WaitReason
	}
	return s
}

func agentOut(a engine.Agent) AgentExecution {
	md := a.Metadata
	if len(md) == 0 {
		md = json.RawMessage("null")
	}
	return AgentExecution{AgentExecutionSummary: agentSummaryOut(a), Input: a.Input, Output: a.Output, Metadata: md}
}

// CreateAgentRequest starts an agent execution.
type CreateAgentRequest struct {
	Kind     string          `json:"kind" minLength:"1" maxLength:"255" doc:"The agent kind."`
	Input    json.RawMessage `json:"input,omitempty" doc:"Any JSON value; default null."`
	Queue    string          `json:"queue,omitempty" maxLength:"255" doc:"Default \"default\"."`
	Metadata json.RawMessage `json:"metadata,omitempty" doc:"Any JSON value, handed to the worker with the execution."`
}

type createAgentInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	Body CreateAgentRequest
}

type agentOutput struct {
	Body AgentExecution
}

type createAgentOutput struct {
	Status int
	Body   AgentExecution
}

// AgentExecutionList is a list of agent executions, newest first, without
// their payloads.
type AgentExecutionList struct {
	Items []AgentExecutionSummary `json:"items" doc:"Summaries: no input or output; get an execution for those."`
	// NextCursor continues the list; absent on the last page.
	NextCursor *string `json:"nextCursor,omitempty"`
}

type listAgentsInput struct {
	Slug   string `path:"slug" doc:"The tenant's slug."`
	Status string `query:"status" doc:"Comma-separated statuses: PENDING, RUNNING, WAITING, COMPLETED, FAILED, CANCELLED."`
	Kind   string `query:"kind"`
	Queue  string `query:"queue"`
	Parent string `query:"parentExecutionId" doc:"Only the children of this execution."`
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"500"`
	Cursor string `query:"cursor" doc:"nextCursor of the previous page."`
	// IDPrefix resolves the short ids the CLI and the TUI show.
	IDPrefix string `query:"idPrefix" doc:"Only executions whose id starts with this: 1 to 36 hex digits and dashes, any case."`
}

type listAgentsOutput struct {
	Body AgentExecutionList
}

type agentIDInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The agent execution id."`
}

// agentPageInput names an agent execution and a page of one of its lists.
type agentPageInput struct {
	Slug   string `path:"slug" doc:"The tenant's slug."`
	ID     string `path:"id" doc:"The agent execution id."`
	Limit  int    `query:"limit" default:"100" minimum:"1" maximum:"500"`
	Cursor string `query:"cursor" doc:"nextCursor of the previous page."`
}

// AgentSignalRequest sends a signal to an agent execution.
type AgentSignalRequest struct {
	SignalName  string          `json:"signalName" minLength:"1" maxLength:"255"`
	SignalValue json.RawMessage `json:"signalValue,omitempty" doc:"Any JSON value; default null. At most max_payload_bytes."`
}

// AgentSignalled says what a signal did.
type AgentSignalled struct {
	Signaled     bool      `json:"signaled" doc:"Always true: the signal is kept until the agent consumes it."`
	AgentResumed bool      `json:"agentResumed" doc:"The execution waited for this signal and is PENDING again."`
	SignalID     uuid.UUID `json:"signalId"`
}

type agentSignalInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The agent execution id."`
	Body AgentSignalRequest
}

type agentSignalOutput struct {
	Body AgentSignalled
}

// AgentCheckpointOut is one checkpoint of an agent execution, without its
// state (the worker reads that with GetLatestCheckpoint).
type AgentCheckpointOut struct {
	ID               uuid.UUID  `json:"id"`
	AgentExecutionID uuid.UUID  `json:"agentExecutionId"`
	Sequence         int32      `json:"sequence"`
	LeafEntryID      *uuid.UUID `json:"leafEntryId"`
	CreatedAt        time.Time  `json:"createdAt"`
}

// AgentCheckpointList lists an execution's checkpoints in sequence order.
type AgentCheckpointList struct {
	Checkpoints []AgentCheckpointOut `json:"checkpoints"`
	// NextCursor continues the list; absent on the last page.
	NextCursor *string `json:"nextCursor,omitempty"`
}

type agentCheckpointsOutput struct {
	Body AgentCheckpointList
}

// AgentTaskOut is a task an agent scheduled, without its payloads.
type AgentTaskOut struct {
	ID               uuid.UUID  `json:"id"`
	OrgID            uuid.UUID  `json:"orgId"`
	AgentExecutionID uuid.UUID  `json:"agentExecutionId"`
	Kind             string     `json:"kind"`
	Status           string     `json:"status" enum:"PENDING,RUNNING,COMPLETED,FAILED,CANCELLED"`
	Queue            string     `json:"queue"`
	Error            *string    `json:"error"`
	ExecutionCount   int32      `json:"executionCount" doc:"Attempts so far."`
	MaxRetries       int32      `json:"maxRetries"`
	TimeoutMs        *int64     `json:"timeoutMs"`
	CreatedAt        time.Time  `json:"createdAt"`
	CompletedAt      *time.Time `json:"completedAt"`
}

// AgentTaskList lists an agent's tasks in the order they were scheduled.
type AgentTaskList struct {
	Tasks []AgentTaskOut `json:"tasks"`
	// NextCursor continues the list; absent on the last page.
	NextCursor *string `json:"nextCursor,omitempty"`
}

type agentTasksOutput struct {
	Body AgentTaskList
}

// AgentEntryOut is one entry of an agent's conversation.
type AgentEntryOut struct {
	ID        uuid.UUID       `json:"id"`
	ParentID  *uuid.UUID      `json:"parentId"`
	EntryType string          `json:"entryType"`
	Role      *string         `json:"role"`
	Content   json.RawMessage `json:"content"`
	TurnID    *string         `json:"turnId"`
	CreatedAt time.Time       `json:"createdAt"`
}

// AgentEntryList is an agent's conversation in the order it was appended.
type AgentEntryList struct {
	Entries []AgentEntryOut `json:"entries"`
	// NextCursor continues the list; absent on the last page.
	NextCursor *string `json:"nextCursor,omitempty"`
}

type agentEntriesOutput struct {
	Body AgentEntryList
}

// AgentCancelRequest cancels an agent execution.
type AgentCancelRequest struct {
	Reason string `json:"reason,omitempty" maxLength:"65536"`
}

// AgentCancellation says what a cancel did.
type AgentCancellation struct {
	AgentExecutionID uuid.UUID `json:"agentExecutionId"`
	Status           string    `json:"status" enum:"CANCELLED,ALREADY_TERMINAL"`
	AgentStatus      string    `json:"agentStatus" doc:"The execution's status now."`
}

type agentCancelInput struct {
	Slug string `path:"slug" doc:"The tenant's slug."`
	ID   string `path:"id" doc:"The agent execution id."`
	Body *AgentCancelRequest
}

type agentCancelOutput struct {
	Body AgentCancellation
}

func (a *api) agentRoutes(h huma.API) {
	const base = "/{slug}/agent-executions"
	register(h, a.withBody(huma.Operation{
		OperationID: "create-agent-execution", Method: http.MethodPost, Path: base,
		Summary:       "Start an agent execution",
		Description:   "The execution is PENDING until an agent worker of its kind polls its queue.",
		Tags:          []string{tagAgents},
		DefaultStatus: http.StatusCreated,
		Errors:        tenantErrors,
	}, 2), a.createAgent)
	register(h, huma.Operation{
		OperationID: "list-agent-executions", Method: http.MethodGet, Path: base,
		Summary: "List agent executions", Description: "Newest first, as summaries without input or output.",
		Tags: []string{tagAgents}, Errors: tenantErrors,
	}, a.listAgents)
	register(h, huma.Operation{
		OperationID: "get-agent-execution", Method: http.MethodGet, Path: base + "/{id}",
		Summary: "Get an agent execution", Tags: []string{tagAgents}, Errors: tenantErrors,
	}, a.getAgent)
	register(h, a.withBody(huma.Operation{
		OperationID: "signal-agent-execution", Method: http.MethodPost, Path: base + "/{id}/signal",
		Summary: "Signal an agent execution",
		Description: "The signal is kept until the agent consumes it; an execution waiting for a signal of that " +
			"name is PENDING again (agentResumed). An execution that has ended is 409.",
		Tags: []string{tagAgents}, Errors: errorsPlus(http.StatusConflict),
	}, 1), a.signalAgent)
	register(h, a.withBody(huma.Operation{
		OperationID: "cancel-agent-execution", Method: http.MethodPost, Path: base + "/{id}/cancel",
		Summary:     "Cancel an agent execution",
		Description: "It ends CANCELLED at once, and so do its tasks that have not ended; ALREADY_TERMINAL when it had ended.",
		Tags:        []string{tagAgents}, Errors: tenantErrors,
	}, 0), a.cancelAgent)
	register(h, huma.Operation{
		OperationID: "list-agent-checkpoints", Method: http.MethodGet, Path: base + "/{id}/checkpoints",
		Summary: "List an agent execution's checkpoints", Tags: []string{tagAgents}, Errors: tenantErrors,
	}, a.agentCheckpoints)
	register(h, huma.Operation{
		OperationID: "list-agent-tasks", Method: http.MethodGet, Path: base + "/{id}/tasks",
		Summary: "List the tasks an agent execution scheduled", Description: "In the order they were scheduled, without their input.",
		Tags: []string{tagAgents}, Errors: tenantErrors,
	}, a.agentTasks)
	register(h, huma.Operation{
		OperationID: "list-agent-entries", Method: http.MethodGet, Path: base + "/{id}/entries",
		Summary: "Get an agent execution's conversation", Tags: []string{tagAgents}, Errors: tenantErrors,
	}, a.agentEntries)
}

func (a *api) createAgent(ctx context.Context, in *createAgentInput) (*createAgentOutput, error) {
	t, _, err := a.scope(ctx, in.Slug, auth.ActionAgentStart, "agent", in.Body.Kind)
	if err != nil {
		return nil, err
	}
	b := in.Body
	if len(b.Metadata) > 0 {
		if err := limits.Payload("body.metadata", b.Metadata, limits.MaxMessage); err != nil {
			return nil, tooLarge("body.metadata", err.(*limits.TooLargeError))
		}
	}
	ag, err := a.engine.CreateAgent(ctx, engine.CreateAgentRequest{Tenant: t.ID, Kind: b.Kind, Input: b.Input, Queue: b.Queue, Metadata: b.Metadata})
	if err != nil {
		return nil, a.fail("agent execution", err)
	}
	return &createAgentOutput{Status: http.StatusCreated, Body: agentOut(ag)}, nil
}

func (a *api) listAgents(ctx context.Context, in *listAgentsInput) (*listAgentsOutput, error) {
	if err := errors.Join(limits.OptionalName("query.kind", in.Kind), limits.OptionalName("query.queue", in.Queue)); err != nil {
		return nil, refused(err)
	}
	f := engine.AgentFilter{Kind: in.Kind, Queue: in.Queue, Limit: in.Limit}
	var err error
	if f.Statuses, err = parseStatuses(in.Status); err != nil {
		return nil, err
	}
	if f.IDPrefix, err = parseIDPrefix(in.IDPrefix); err != nil {
		return nil, err
	}
	if in.Parent != "" {
		id, err := parseUUID("query.parentExecutionId", in.Parent)
		if err != nil {
			return nil, err
		}
		f.Parent = &id
	}
	if in.Cursor != "" {
		if f.After, err = decodeCursor(in.Cursor); err != nil {
			return nil, err
		}
	}
	t, _, err := a.scope(ctx, in.Slug, auth.ActionAgentRead, "agent", "")
	if err != nil {
		return nil, err
	}
	f.Tenant = t.ID
	list, more, err := a.engine.ListAgents(ctx, f)
	if err != nil {
		return nil, a.fail("agent executions", err)
	}
	out := &listAgentsOutput{Body: AgentExecutionList{Items: make([]AgentExecutionSummary, 0, len(list))}}
	for _, ag := range list {
		out.Body.Items = append(out.Body.Items, agentSummaryOut(ag))
	}
	if more {
		last := list[len(list)-1]
		out.Body.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, nil
}

// agentExecution is the agent execution a route names; another tenant's
// execution is 404.
func (a *api) agentExecution(ctx context.Context, slug, rawID string, action auth.Action) (engine.Agent, error) {
	tenant, id, err := a.executionID(ctx, slug, rawID, "agent", action)
	if err != nil {
		return engine.Agent{}, err
	}
	ag, err := a.engine.Agent(ctx, tenant, id)
	if err != nil {
		return ag, a.fail(fmt.Sprintf("agent execution %s", id), err)
	}
	return ag, nil
}

func (a *api) getAgent(ctx context.Context, in *agentIDInput) (*agentOutput, error) {
	ag, err := a.agentExecution(ctx, in.Slug, in.ID, auth.ActionAgentRead)
	if err != nil {
		return nil, err
	}
	return &agentOutput{Body: agentOut(ag)}, nil
}

func (a *api) signalAgent(ctx context.Context, in *agentSignalInput) (*agentSignalOutput, error) {
	ag, err := a.agentExecution(ctx, in.Slug, in.ID, auth.ActionAgentSignal)
	if err != nil {
		return nil, err
	}
	id, resumed, err := a.engine.SignalAgent(ctx, ag.TenantID, ag.ID, in.Body.SignalName, in.Body.SignalValue, nil)
	if err != nil {
		if isTerminal(err) {
			return nil, huma.Error409Conflict(fmt.Sprintf("agent execution %s has already ended; the signal was not delivered", ag.ID))
		}
		return nil, a.fail(fmt.Sprintf("agent execution %s", ag.ID), err)
	}
	return &agentSignalOutput{Body: AgentSignalled{Signaled: true, AgentResumed: resumed, SignalID: id}}, nil
}

func (a *api) cancelAgent(ctx context.Context, in *agentCancelInput) (*agentCancelOutput, error) {
	ag, err := a.agentExecution(ctx, in.Slug, in.ID, auth.ActionAgentCancel)
	if err != nil {
		return nil, err
	}
	reason := "cancelled through the API"
	if in.Body != nil && in.Body.Reason != "" {
		reason = in.Body.Reason
	}
	ended, err := a.engine.CancelAgent(ctx, ag.TenantID, ag.ID, reason)
	if err != nil {
		return nil, a.fail(fmt.Sprintf("agent execution %s", ag.ID), err)
	}
	out := &agentCancelOutput{Body: AgentCancellation{AgentExecutionID: ag.ID, Status: "CANCELLED", AgentStatus: engine.StatusCancelled}}
	if !ended {
		now, err := a.engine.Agent(ctx, ag.TenantID, ag.ID)
		if err != nil {
			return nil, a.fail(fmt.Sprintf("agent execution %s", ag.ID), err)
		}
		out.Body.Status, out.Body.AgentStatus = "ALREADY_TERMINAL", now.Status
	}
	return out, nil
}

func (a *api) agentCheckpoints(ctx context.Context, in *agentPageInput) (*agentCheckpointsOutput, error) {
	after := int64(-1)
	if in.Cursor != "" {
		var err error
		if after, err = strconv.ParseInt(in.Cursor, 10, 32); err != nil || after < 0 {
			return nil, badRequest("query.cursor", "not a cursor this API returned", in.Cursor)
		}
	}
	tenant, id, err := a.executionID(ctx, in.Slug, in.ID, "agent", auth.ActionAgentRead)
	if err != nil {
		return nil, err
	}
	list, more, err := a.engine.AgentCheckpoints(ctx, tenant, id, int32(after), in.Limit)
	if err != nil {
		return nil, a.fail(fmt.Sprintf("agent execution %s", id), err)
	}
	out := &agentCheckpointsOutput{Body: AgentCheckpointList{Checkpoints: make([]AgentCheckpointOut, 0, len(list))}}
	for _, c := range list {
		out.Body.Checkpoints = append(out.Body.Checkpoints, AgentCheckpointOut{
			ID: c.ID, AgentExecutionID: c.AgentID, Sequence: c.Sequence, LeafEntryID: c.LeafEntryID, CreatedAt: c.CreatedAt.UTC(),
		})
	}
	if more {
		next := strconv.Itoa(int(list[len(list)-1].Sequence))
		out.Body.NextCursor = &next
	}
	return out, nil
}

func (a *api) agentTasks(ctx context.Context, in *agentPageInput) (*agentTasksOutput, error) {
	var after *engine.Cursor
	if in.Cursor != "" {
		var err error
		if after, err = decodeCursor(in.Cursor); err != nil {
			return nil, err
		}
	}
	tenant, agent, err := a.executionID(ctx, in.Slug, in.ID, "agent", auth.ActionAgentRead)
	if err != nil {
		return nil, err
	}
	tasks, more, err := a.engine.AgentTasks(ctx, tenant, agent, after, in.Limit)
	if err != nil {
		return nil, a.fail(fmt.Sprintf("agent execution %s", agent), err)
	}
	out := &agentTasksOutput{Body: AgentTaskList{Tasks: make([]AgentTaskOut, 0, len(tasks))}}
	for _, t := range tasks {
		out.Body.Tasks = append(out.Body.Tasks, AgentTaskOut{
			ID: t.ID, OrgID: t.TenantID, AgentExecutionID: agent, Kind: t.Kind, Status: t.Status, Queue: t.Queue,
			Error: t.Error, ExecutionCount: t.ExecutionCount, MaxRetries: t.MaxRetries, TimeoutMs: t.TimeoutMs,
			CreatedAt: t.CreatedAt.UTC(), CompletedAt: utc(t.CompletedAt),
		})
	}
	if more {
		last := tasks[len(tasks)-1]
		out.Body.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, nil
}

func (a *api) agentEntries(ctx context.Context, in *agentPageInput) (*agentEntriesOutput, error) {
	var after *uuid.UUID
	if in.Cursor != "" {
		id, err := uuid.Parse(in.Cursor)
		if err != nil {
			return nil, badRequest("query.cursor", "not a cursor this API returned", in.Cursor)
		}
		after = &id
	}
	tenant, id, err := a.executionID(ctx, in.Slug, in.ID, "agent", auth.ActionAgentRead)
	if err != nil {
		return nil, err
	}
	entries, more, err := a.engine.AgentEntries(ctx, tenant, id, after, in.Limit)
	var inv *engine.InvalidError
	if errors.As(err, &inv) && inv.Field == "after_entry_id" {
		return nil, badRequest("query.cursor", "not a cursor this API returned", in.Cursor)
	}
	if err != nil {
		return nil, a.fail(fmt.Sprintf("agent execution %s", id), err)
	}
	out := &agentEntriesOutput{Body: AgentEntryList{Entries: make([]AgentEntryOut, 0, len(entries))}}
	for _, e := range entries {
		out.Body.Entries = append(out.Body.Entries, AgentEntryOut{
			ID: e.ID, ParentID: e.ParentID, EntryType: e.EntryType, Role: e.Role, Content: e.Content, TurnID: e.TurnID,
			CreatedAt: e.CreatedAt.UTC(),
		})
	}
	if more {
		next := entries[len(entries)-1].ID.String()
		out.Body.NextCursor = &next
	}
	return out, nil
}
