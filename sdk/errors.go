package sdk

import (
	"errors"
	"fmt"
)

// TaskFailedError is returned by a task future whose task failed for good
// (the server appended TASK_FAILED after its retries ran out).
type TaskFailedError struct {
	TaskExecutionID string
	Message         string
}

func (e *TaskFailedError) Error() string { return "Task failed: " + e.Message }

// TimerCancelledError is returned by a timer future whose timer was cancelled.
type TimerCancelledError struct{ TimerID string }

func (e *TimerCancelledError) Error() string { return "Timer cancelled: " + e.TimerID }

// PromiseRejectedError is returned by a promise future that was rejected.
type PromiseRejectedError struct {
	Name    string
	Message string
}

func (e *PromiseRejectedError) Error() string {
	return fmt.Sprintf("Promise rejected: %s: %s", e.Name, e.Message)
}

// PromiseTimeoutError is returned by a promise future whose timeout elapsed.
type PromiseTimeoutError struct{ Name string }

func (e *PromiseTimeoutError) Error() string { return "Promise timeout: " + e.Name }

// ChildWorkflowFailedError is returned by a child workflow future whose child failed.
type ChildWorkflowFailedError struct {
	Name        string
	ExecutionID string
	Message     string
}

func (e *ChildWorkflowFailedError) Error() string {
	return fmt.Sprintf("Child workflow failed: %s (%s): %s", e.Name, e.ExecutionID, e.Message)
}

// DeterminismError describes a replay mismatch between the workflow code and
// its history. The SDK fails the workflow with it; user code never sees it.
type DeterminismError struct{ Detail string }

func (e *DeterminismError) Error() string { return "Determinism violation: " + e.Detail }

// WorkflowFailedError is returned by [Client.WaitForResult] when the workflow
// ended with WORKFLOW_EXECUTION_FAILED.
type WorkflowFailedError struct {
	ExecutionID string
	Message     string
}

func (e *WorkflowFailedError) Error() string {
	return fmt.Sprintf("workflow %s failed: %s", e.ExecutionID, e.Message)
}

// WorkflowCancelledError is returned by [Client.WaitForResult] when the
// workflow was cancelled.
type WorkflowCancelledError struct {
	ExecutionID string
	Reason      string
}

func (e *WorkflowCancelledError) Error() string {
	return fmt.Sprintf("workflow %s cancelled: %s", e.ExecutionID, e.Reason)
}

// ErrWorkflowStopped is returned by workflow context calls made after the
// workflow has already been stopped (suspended or failed) in this workflow
// task, typically from deferred functions.
var ErrWorkflowStopped = errors.New("flovyn: workflow execution already stopped")

// ErrAgentStopped is returned by agent context calls made after the agent
// function was stopped (suspended) in this dispatch, typically from
// deferred functions or other goroutines.
var ErrAgentStopped = errors.New("flovyn: agent execution already stopped")

// AgentTaskError is returned by JoinAll (and AgentTaskResult.Err) for an
// agent task that failed for good or was cancelled.
type AgentTaskError struct {
	TaskID string
	Kind   string
	// Status is TaskFailed or TaskCancelled.
	Status  string
	Message string
}

func (e *AgentTaskError) Error() string {
	if e.Status == TaskCancelled {
		return fmt.Sprintf("Task '%s' (id=%s) was cancelled", e.Kind, e.TaskID)
	}
	return fmt.Sprintf("Task '%s' (id=%s) failed: %s", e.Kind, e.TaskID, e.Message)
}

// AllTasksFailedError is returned by SelectOk when every task failed or was
// cancelled. Results lists them in argument order.
type AllTasksFailedError struct {
	Results []AgentTaskResult
}

func (e *AllTasksFailedError) Error() string {
	if len(e.Results) == 0 {
		return "All tasks failed"
	}
	r := e.Results[0]
	return fmt.Sprintf("All tasks failed: Task '%s' (id=%s): %s", r.Kind, r.TaskID, r.Error)
}
