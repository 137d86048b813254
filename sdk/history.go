package sdk

import (
	"bytes"
	"encoding/json"
	"sort"
)

// Event is one entry of a workflow's event history as returned by GetEvents.
// Data is the event_data JSON object; its keys are camelCase (for example
// TASK_COMPLETED carries {"taskExecutionId": …, "output": …}).
type Event struct {
	Sequence int
	Type     string
	Data     json.RawMessage
}

// Event type strings of the protocol.
const (
	EventWorkflowStarted         = "WORKFLOW_STARTED"
	EventWorkflowCompleted       = "WORKFLOW_COMPLETED"
	EventWorkflowExecutionFailed = "WORKFLOW_EXECUTION_FAILED"
	EventWorkflowSuspended       = "WORKFLOW_SUSPENDED"
	EventWorkflowCancelled       = "WORKFLOW_CANCELLED"
	EventCancellationRequested   = "CANCELLATION_REQUESTED"
	EventOperationCompleted      = "OPERATION_COMPLETED"
	EventStateSet                = "STATE_SET"
	EventStateCleared            = "STATE_CLEARED"
	EventTaskScheduled           = "TASK_SCHEDULED"
	EventTaskCompleted           = "TASK_COMPLETED"
	EventTaskFailed              = "TASK_FAILED"
	EventTaskCancelled           = "TASK_CANCELLED"
	EventPromiseCreated          = "PROMISE_CREATED"
	EventPromiseResolved         = "PROMISE_RESOLVED"
	EventPromiseRejected         = "PROMISE_REJECTED"
	EventPromiseTimeout          = "PROMISE_TIMEOUT"
	EventChildWorkflowInitiated  = "CHILD_WORKFLOW_INITIATED"
	EventChildWorkflowStarted    = "CHILD_WORKFLOW_STARTED"
	EventChildWorkflowCompleted  = "CHILD_WORKFLOW_COMPLETED"
	EventChildWorkflowFailed     = "CHILD_WORKFLOW_FAILED"
	EventChildWorkflowCancelled  = "CHILD_WORKFLOW_CANCELLED"
	EventTimerStarted            = "TIMER_STARTED"
	EventTimerFired              = "TIMER_FIRED"
	EventTimerCancelled          = "TIMER_CANCELLED"
	EventSignalReceived          = "SIGNAL_RECEIVED"
)

// Field returns the raw JSON value of one key of the event data, or nil.
func (e Event) Field(key string) json.RawMessage {
	return parseFields(e.Data)[key]
}

// hevent is an event with its data decoded into top-level fields.
type hevent struct {
	seq    int
	typ    string
	fields map[string]json.RawMessage
}

func parseFields(data []byte) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if len(data) == 0 || json.Unmarshal(data, &m) != nil {
		return nil // like the SDKs: undecodable data makes every lookup miss
	}
	return m
}

// str returns a string field ("" when missing or not a string).
func (e *hevent) str(key string) string {
	raw, ok := e.fields[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// value returns a payload field as JSON; a missing field is JSON null.
func (e *hevent) value(key string) json.RawMessage {
	raw, ok := e.fields[key]
	if !ok || len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// history is the replay view of an event history: per-kind lists in order,
// terminal-event maps and per-name signal queues (contract §3.4).
type history struct {
	n int // number of events

	tasks    []*hevent // TASK_SCHEDULED
	timers   []*hevent // TIMER_STARTED
	promises []*hevent // PROMISE_CREATED
	children []*hevent // CHILD_WORKFLOW_INITIATED
	ops      []*hevent // OPERATION_COMPLETED
	states   []*hevent // STATE_SET | STATE_CLEARED

	taskDone        map[string]*hevent // TASK_COMPLETED|TASK_FAILED by taskExecutionId
	timerDone       map[string]*hevent // TIMER_FIRED|TIMER_CANCELLED by timerId
	promiseDoneByID map[string]*hevent // PROMISE_RESOLVED|REJECTED|TIMEOUT by promiseId
	promiseDoneByNm map[string]*hevent // … by promiseName (fallback)
	childDone       map[string]*hevent // CHILD_WORKFLOW_COMPLETED|FAILED by childExecutionName

	signals map[string][]*hevent // SIGNAL_RECEIVED per signalName, FIFO
}

// defaultSignalName is where a SIGNAL_RECEIVED without signalName is queued.
const defaultSignalName = "__default__"

func newHistory(events []Event) *history {
	sorted := make([]Event, len(events))
	copy(sorted, events)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Sequence < sorted[j].Sequence })

	h := &history{
		n:               len(sorted),
		taskDone:        map[string]*hevent{},
		timerDone:       map[string]*hevent{},
		promiseDoneByID: map[string]*hevent{},
		promiseDoneByNm: map[string]*hevent{},
		childDone:       map[string]*hevent{},
		signals:         map[string][]*hevent{},
	}
	// Terminal maps keep the last matching event, i.e. the highest sequence,
	// which is what the Rust SDK's lookup returns.
	for _, ev := range sorted {
		e := &hevent{seq: ev.Sequence, typ: ev.Type, fields: parseFields(ev.Data)}
		switch e.typ {
		case EventTaskScheduled:
			h.tasks = append(h.tasks, e)
		case EventTimerStarted:
			h.timers = append(h.timers, e)
		case EventPromiseCreated:
			h.promises = append(h.promises, e)
		case EventChildWorkflowInitiated:
			h.children = append(h.children, e)
		case EventOperationCompleted:
			h.ops = append(h.ops, e)
		case EventStateSet, EventStateCleared:
			h.states = append(h.states, e)
		case EventTaskCompleted, EventTaskFailed:
			id := e.str("taskExecutionId")
			if id == "" {
				id = e.str("taskId")
			}
			h.taskDone[id] = e
		case EventTimerFired, EventTimerCancelled:
			h.timerDone[e.str("timerId")] = e
		case EventPromiseResolved, EventPromiseRejected, EventPromiseTimeout:
			if id := e.str("promiseId"); id != "" {
				h.promiseDoneByID[id] = e
			}
			if nm := e.str("promiseName"); nm != "" {
				h.promiseDoneByNm[nm] = e
			}
		case EventChildWorkflowCompleted, EventChildWorkflowFailed:
			h.childDone[e.str("childExecutionName")] = e
		case EventSignalReceived:
			name := e.str("signalName")
			if name == "" {
				name = defaultSignalName
			}
			h.signals[name] = append(h.signals[name], e)
		}
	}
	return h
}

func at(list []*hevent, i int) *hevent {
	if i < len(list) {
		return list[i]
	}
	return nil
}
