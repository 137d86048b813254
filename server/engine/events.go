package engine

import "encoding/json"

// Event types: exactly the strings the SDKs recognise (contract §3.3).
const (
	EventWorkflowStarted       = "WORKFLOW_STARTED"
	EventWorkflowCompleted     = "WORKFLOW_COMPLETED"
	EventWorkflowFailed        = "WORKFLOW_EXECUTION_FAILED"
	EventWorkflowSuspended     = "WORKFLOW_SUSPENDED"
	EventCancellationRequested = "CANCELLATION_REQUESTED"
	EventOperationCompleted    = "OPERATION_COMPLETED"
	EventStateSet              = "STATE_SET"
	EventStateCleared          = "STATE_CLEARED"
	EventTaskScheduled         = "TASK_SCHEDULED"
	EventTaskCompleted         = "TASK_COMPLETED"
	EventTaskFailed            = "TASK_FAILED"
	EventTaskCancelled         = "TASK_CANCELLED"
	EventTimerStarted          = "TIMER_STARTED"
	EventTimerFired            = "TIMER_FIRED"
	EventTimerCancelled        = "TIMER_CANCELLED"
	EventPromiseCreated        = "PROMISE_CREATED"
	EventPromiseResolved       = "PROMISE_RESOLVED"
	EventPromiseRejected       = "PROMISE_REJECTED"
	EventPromiseTimeout        = "PROMISE_TIMEOUT"
	EventChildInitiated        = "CHILD_WORKFLOW_INITIATED"
	EventChildStarted          = "CHILD_WORKFLOW_STARTED"
	EventChildCompleted        = "CHILD_WORKFLOW_COMPLETED"
	EventChildFailed           = "CHILD_WORKFLOW_FAILED"
	EventChildCancelled        = "CHILD_WORKFLOW_CANCELLED"
	EventSignalReceived        = "SIGNAL_RECEIVED"
)

// Event data, with the camelCase keys of contract Appendix A. Payloads are
// embedded JSON values.
type (
	workflowStartedData struct {
		Input        json.RawMessage `json:"input"`
		WorkflowKind string          `json:"workflowKind"`
		Queue        string          `json:"queue"`
	}
	outputData struct {
		Output json.RawMessage `json:"output"`
	}
	workflowFailedData struct {
		Error       string `json:"error"`
		FailureType string `json:"failureType"`
		StackTrace  string `json:"stackTrace"`
	}
	reasonData struct {
		Reason string `json:"reason"`
	}
	cancellationData struct {
		Reason      string `json:"reason"`
		RequestedBy string `json:"requestedBy"`
	}
	operationData struct {
		OperationName string          `json:"operationName"`
		Name          string          `json:"name"`
		Result        json.RawMessage `json:"result"`
	}
	stateSetData struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	stateClearedData struct {
		Key string `json:"key"`
	}
	taskScheduledData struct {
		TaskExecutionID string          `json:"taskExecutionId"`
		Kind            string          `json:"kind"`
		Input           json.RawMessage `json:"input"`
		Queue           string          `json:"queue"`
		MaxRetries      int32           `json:"maxRetries"`
	}
	taskCompletedData struct {
		TaskExecutionID string          `json:"taskExecutionId"`
		Output          json.RawMessage `json:"output"`
	}
	taskFailedData struct {
		TaskExecutionID string `json:"taskExecutionId"`
		Error           string `json:"error"`
		Retryable       bool   `json:"retryable"`
		Attempts        int32  `json:"attempts"`
	}
	taskCancelledData struct {
		TaskExecutionID string `json:"taskExecutionId"`
		Reason          string `json:"reason"`
	}
	timerStartedData struct {
		TimerID    string `json:"timerId"`
		DurationMs int64  `json:"durationMs"`
		FireAt     int64  `json:"fireAt"`
	}
	timerData struct {
		TimerID string `json:"timerId"`
	}
	promiseCreatedData struct {
		PromiseID   string `json:"promiseId"`
		PromiseName string `json:"promiseName"`
		TimeoutMs   *int64 `json:"timeoutMs,omitempty"`
	}
	promiseResolvedData struct {
		PromiseID   string          `json:"promiseId"`
		PromiseName string          `json:"promiseName"`
		Value       json.RawMessage `json:"value"`
	}
	promiseRejectedData struct {
		PromiseID   string `json:"promiseId"`
		PromiseName string `json:"promiseName"`
		Error       string `json:"error"`
	}
	promiseTimeoutData struct {
		PromiseID   string `json:"promiseId"`
		PromiseName string `json:"promiseName"`
	}
	childInitiatedData struct {
		ChildExecutionName string          `json:"childExecutionName"`
		ChildWorkflowKind  string          `json:"childWorkflowKind"`
		ChildExecutionID   string          `json:"childExecutionId"`
		Input              json.RawMessage `json:"input"`
	}
	childStartedData struct {
		ChildExecutionName string `json:"childExecutionName"`
		ChildExecutionID   string `json:"childExecutionId"`
	}
	childCompletedData struct {
		ChildExecutionName string          `json:"childExecutionName"`
		ChildExecutionID   string          `json:"childExecutionId"`
		Output             json.RawMessage `json:"output"`
	}
	childFailedData struct {
		ChildExecutionName string `json:"childExecutionName"`
		ChildExecutionID   string `json:"childExecutionId"`
		// The Rust SDK reads this exact spelling for its error text.
		ChildWorkflowExecutionID string `json:"childworkflowExecutionId"`
		Error                    string `json:"error"`
	}
	childCancelledData struct {
		ChildExecutionName string `json:"childExecutionName"`
		ChildExecutionID   string `json:"childExecutionId"`
		Reason             string `json:"reason"`
	}
	signalData struct {
		SignalName  string          `json:"signalName"`
		SignalValue json.RawMessage `json:"signalValue"`
	}
)
