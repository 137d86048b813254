package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flovyn/flovyn/client"
)

// API is what the TUI asks of the server: the part of *client.Client it
// uses. Model tests give the model a fake of it.
type API interface {
	ListWorkflows(ctx context.Context, o client.ListWorkflowsOptions) (client.ExecutionList, error)
	GetWorkflow(ctx context.Context, id string) (client.Execution, error)
	WorkflowEvents(ctx context.Context, id string, since int32) ([]client.Event, error)
	WorkflowTasks(ctx context.Context, id string) ([]client.Task, error)
	WorkflowChildren(ctx context.Context, id string) ([]client.Child, error)
	StartWorkflow(ctx context.Context, r client.StartWorkflowRequest) (client.StartedWorkflow, error)
	CancelWorkflow(ctx context.Context, id, reason string) (client.Cancellation, error)
	SignalWorkflow(ctx context.Context, id, name string, value json.RawMessage) (client.Signalled, error)
	ResolvePromise(ctx context.Context, id string, value json.RawMessage) error
	RejectPromise(ctx context.Context, id, message string) error

	ListAgents(ctx context.Context, o client.ListAgentsOptions) (client.AgentExecutionList, error)
	GetAgent(ctx context.Context, id string) (client.AgentExecution, error)
	AgentEntries(ctx context.Context, id string) ([]client.AgentEntry, error)
	AgentCheckpoints(ctx context.Context, id string) ([]client.AgentCheckpoint, error)
	AgentTasks(ctx context.Context, id string) ([]client.AgentTask, error)
	StartAgent(ctx context.Context, r client.StartAgentRequest) (client.AgentExecution, error)
	CancelAgent(ctx context.Context, id, reason string) (client.AgentCancellation, error)
	SignalAgent(ctx context.Context, id, name string, value json.RawMessage) (client.AgentSignalled, error)
}

var _ API = (*client.Client)(nil)

// requestTimeout bounds one round of requests, so a server that hangs
// frees the in-flight slot and the next tick retries.
const requestTimeout = 10 * time.Second

// call runs f with a bounded context and turns a panic (an odd payload
// tripping a decoder, say) into an error: the TUI reports it in the status
// line instead of dying.
func call(ctx context.Context, f func(ctx context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return f(ctx)
}
