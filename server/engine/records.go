package engine

import "github.com/flovyn/flovyn/server/store"

// The records the engine takes and returns. They are the store's rows by
// type identity: plain values with no handle on the database, so the
// transports name them through the engine and never import the store, and
// no field-by-field copy stands between the two.
type (
	Tenant          = store.Tenant
	Workflow        = store.Workflow
	WorkflowFilter  = store.WorkflowFilter
	Cursor          = store.Cursor
	Event           = store.Event
	Task            = store.Task
	TaskDetail      = store.TaskDetail
	Worker          = store.Worker
	WorkerInfo      = store.WorkerInfo
	Capability      = store.Capability
	Agent           = store.Agent
	AgentFilter     = store.AgentFilter
	AgentEntry      = store.AgentEntry
	AgentCheckpoint = store.AgentCheckpoint
	AgentTask       = store.AgentTask
	AgentSignal     = store.AgentSignal
	AgentWait       = store.AgentWait
)

// Statuses of workflows, tasks and agents.
const (
	StatusPending   = store.StatusPending
	StatusRunning   = store.StatusRunning
	StatusWaiting   = store.StatusWaiting
	StatusCompleted = store.StatusCompleted
	StatusFailed    = store.StatusFailed
	StatusCancelled = store.StatusCancelled
)

// Statuses lists every status, in lifecycle order.
var Statuses = []string{StatusPending, StatusRunning, StatusWaiting, StatusCompleted, StatusFailed, StatusCancelled}

// Terminal reports whether status is final.
func Terminal(status string) bool { return store.Terminal(status) }

// What a suspended agent waits for (AgentWait.Kind).
const (
	WaitSignal      = store.WaitSignal
	WaitTasksAll    = store.WaitTasksAll
	WaitTasksAny    = store.WaitTasksAny
	WaitChildrenAny = store.WaitChildrenAny
	WaitChildrenAll = store.WaitChildrenAll
)
