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

// ---- agent execution types ----

// AgentExecution is one agent execution. The list route leaves Input,
// Output and Metadata out (nil).
type AgentExecution struct {
	ID                   string          `json:"id"`
	OrgID                string          `json:"orgId"`
	TenantID             string          `json:"tenantId"`
	Kind                 string          `json:"kind"`
	Status               string          `json:"status"`
	Queue                string          `json:"queue"`
	Error                *string         `json:"error"`
	FailureType          *string         `json:"failureType"`
	CurrentCheckpointSeq int32           `json:"currentCheckpointSeq"` // -1 when there is none
	ParentExecutionID    *string         `json:"parentExecutionId"`
	WaitingFor           *string         `json:"waitingFor"` // WAITING only: signal, tasks_all, tasks_any, children_any, children_all
	WaitReason           *string         `json:"waitReason"`
	CreatedAt            time.Time       `json:"createdAt"`
	StartedAt            *time.Time      `json:"startedAt"`
	UpdatedAt            time.Time       `json:"updatedAt"`
	CompletedAt          *time.Time      `json:"completedAt"`
	Input                json.RawMessage `json:"input,omitempty"`
	Output               json.RawMessage `json:"output,omitempty"`
	Metadata             json.RawMessage `json:"metadata,omitempty"`
}

// StartAgentRequest starts an agent execution.
type StartAgentRequest struct {
	Kind     string          `json:"kind"`
	Input    json.RawMessage `json:"input,omitempty"`
	Queue    string          `json:"queue,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// ListAgentsOptions filter ListAgents; zero values do not filter.
type ListAgentsOptions struct {
	Statuses          []string
	Kind              string
	Queue             string
	ParentExecutionID string
	IDPrefix          string // the start of an id (lower-case hex digits and dashes)
	Limit             int    // default 50 (server), at most 500
	Cursor            string // NextCursor of the previous page
}

// AgentExecutionList is a list of agent executions, newest first, without
// their payloads.
type AgentExecutionList struct {
	Items      []AgentExecution `json:"items"`
	NextCursor *string          `json:"nextCursor,omitempty"`
}

// AgentSignalled says what a signal did: AgentResumed when the execution
// waited for a signal of that name and is PENDING again.
type AgentSignalled struct {
	Signaled     bool   `json:"signaled"`
	AgentResumed bool   `json:"agentResumed"`
	SignalID     string `json:"signalId"`
}

// AgentCancellation says what a cancel did: Status CANCELLED or
// ALREADY_TERMINAL.
type AgentCancellation struct {
	AgentExecutionID string `json:"agentExecutionId"`
	Status           string `json:"status"`
	AgentStatus      string `json:"agentStatus"`
}

// AgentCheckpoint is one checkpoint of an agent execution, without its state.
type AgentCheckpoint struct {
	ID               string    `json:"id"`
	AgentExecutionID string    `json:"agentExecutionId"`
	Sequence         int32     `json:"sequence"`
	LeafEntryID      *string   `json:"leafEntryId"`
	CreatedAt        time.Time `json:"createdAt"`
}

// AgentCheckpointList lists an execution's checkpoints in sequence order.
type AgentCheckpointList struct {
	Checkpoints []AgentCheckpoint `json:"checkpoints"`
	NextCursor  *string           `json:"nextCursor,omitempty"`
}

// AgentTask is a task an agent scheduled, without its payloads.
type AgentTask struct {
	ID               string     `json:"id"`
	OrgID            string     `json:"orgId"`
	AgentExecutionID string     `json:"agentExecutionId"`
	Kind             string     `json:"kind"`
	Status           string     `json:"status"`
	Queue            string     `json:"queue"`
	Error            *string    `json:"error"`
	ExecutionCount   int32      `json:"executionCount"`
	MaxRetries       int32      `json:"maxRetries"`
	TimeoutMs        *int64     `json:"timeoutMs"`
	CreatedAt        time.Time  `json:"createdAt"`
	CompletedAt      *time.Time `json:"completedAt"`
}

// AgentTaskList lists an agent's tasks in the order they were scheduled.
type AgentTaskList struct {
	Tasks      []AgentTask `json:"tasks"`
	NextCursor *string     `json:"nextCursor,omitempty"`
}

// AgentEntry is one entry of an agent's conversation.
type AgentEntry struct {
	ID        string          `json:"id"`
	ParentID  *string         `json:"parentId"`
	EntryType string          `json:"entryType"`
	Role      *string         `json:"role"`
	Content   json.RawMessage `json:"content"`
	TurnID    *string         `json:"turnId"`
	CreatedAt time.Time       `json:"createdAt"`
}

// Text is the text of the entry's content when the content is a text: a
// JSON string, or an object whose only field is a string "text" (the SDK's
// messages). ok is false for any other content.
func (e AgentEntry) Text() (text string, ok bool) {
	str := func(raw json.RawMessage) (string, bool) {
		var s *string // nil for null
		if json.Unmarshal(raw, &s) != nil || s == nil {
			return "", false
		}
		return *s, true
	}
	if text, ok := str(e.Content); ok {
		return text, true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(e.Content, &obj) == nil && len(obj) == 1 {
		return str(obj["text"])
	}
	return "", false
}

// AgentEntryList is an agent's conversation in the order it was appended.
type AgentEntryList struct {
	Entries    []AgentEntry `json:"entries"`
	NextCursor *string      `json:"nextCursor,omitempty"`
}

// ---- agent executions ----

// StartAgent starts an agent execution; it is PENDING until an agent worker
// of its kind polls its queue.
func (c *Client) StartAgent(ctx context.Context, r StartAgentRequest) (AgentExecution, error) {
	var out AgentExecution
	p, err := c.tenantPath("agent-executions")
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, r, &out)
	return out, err
}

// ListAgents lists agent executions, newest first, without their payloads.
func (c *Client) ListAgents(ctx context.Context, o ListAgentsOptions) (AgentExecutionList, error) {
	var out AgentExecutionList
	p, err := c.tenantPath("agent-executions")
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
	if o.ParentExecutionID != "" {
		q.Set("parentExecutionId", o.ParentExecutionID)
	}
	if o.IDPrefix != "" {
		q.Set("idPrefix", o.IDPrefix)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	_, err = c.do(ctx, http.MethodGet, p, q, nil, &out)
	return out, err
}

// GetAgent gets an agent execution with its input and output.
func (c *Client) GetAgent(ctx context.Context, id string) (AgentExecution, error) {
	var out AgentExecution
	p, err := c.tenantPath("agent-executions", id)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodGet, p, nil, nil, &out)
	return out, err
}

// SignalAgent sends signal name with value (nil: null) to an agent
// execution. One that has ended is an *Error with Status 409.
func (c *Client) SignalAgent(ctx context.Context, id, name string, value json.RawMessage) (AgentSignalled, error) {
	var out AgentSignalled
	p, err := c.tenantPath("agent-executions", id, "signal")
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, struct {
		SignalName  string          `json:"signalName"`
		SignalValue json.RawMessage `json:"signalValue,omitempty"`
	}{name, value}, &out)
	return out, err
}

// CancelAgent cancels an agent execution and its tasks that have not ended.
func (c *Client) CancelAgent(ctx context.Context, id, reason string) (AgentCancellation, error) {
	var out AgentCancellation
	p, err := c.tenantPath("agent-executions", id, "cancel")
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, http.MethodPost, p, nil, struct {
		Reason string `json:"reason,omitempty"`
	}{reason}, &out)
	return out, err
}

// AgentCheckpoints lists an agent execution's checkpoints in order.
func (c *Client) AgentCheckpoints(ctx context.Context, id string) ([]AgentCheckpoint, error) {
	return allPages(ctx, c, id, "checkpoints", func(l AgentCheckpointList) ([]AgentCheckpoint, *string) { return l.Checkpoints, l.NextCursor })
}

// AgentTasks lists the tasks an agent execution scheduled, in order.
func (c *Client) AgentTasks(ctx context.Context, id string) ([]AgentTask, error) {
	return allPages(ctx, c, id, "tasks", func(l AgentTaskList) ([]AgentTask, *string) { return l.Tasks, l.NextCursor })
}

// AgentEntries returns an agent execution's conversation in order.
func (c *Client) AgentEntries(ctx context.Context, id string) ([]AgentEntry, error) {
	return allPages(ctx, c, id, "entries", func(l AgentEntryList) ([]AgentEntry, *string) { return l.Entries, l.NextCursor })
}

// allPages reads every page of one of an agent execution's lists,
// following nextCursor.
func allPages[L, T any](ctx context.Context, c *Client, id, list string, items func(L) ([]T, *string)) ([]T, error) {
	p, err := c.tenantPath("agent-executions", id, list)
	if err != nil {
		return nil, err
	}
	all := []T{}
	q := url.Values{"limit": {"500"}}
	for {
		var page L
		if _, err := c.do(ctx, http.MethodGet, p, q, nil, &page); err != nil {
			return nil, err
		}
		got, next := items(page)
		all = append(all, got...)
		if next == nil || len(got) == 0 {
			return all, nil
		}
		q.Set("cursor", *next)
	}
}
