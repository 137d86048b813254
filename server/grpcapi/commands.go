package grpcapi

import (
	"fmt"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/engine"
)

// toCommand translates one submitted command. COMMAND_TYPE_UNSPECIFIED (which
// the SDKs send for commands they have no wire form for) becomes nil and is
// skipped.
func toCommand(i int, c *flovynv1.WorkflowCommand) (engine.Command, error) {
	field := func(name string) string { return fmt.Sprintf("commands[%d].%s", i, name) }
	bad := func(name, msg string) error { return &engine.InvalidError{Field: field(name), Msg: msg} }
	payload := func(name string, b []byte) ([]byte, error) { return engine.Payload(field(name), b) }

	switch c.CommandType {
	case flovynv1.CommandType_COMMAND_TYPE_UNSPECIFIED:
		return nil, nil
	case flovynv1.CommandType_RECORD_OPERATION:
		d := c.GetRecordOperation()
		if d == nil {
			return nil, bad("record_operation", "missing")
		}
		result, err := payload("record_operation.result", d.Result)
		return engine.RecordOperation{Name: d.OperationName, Result: result}, err
	case flovynv1.CommandType_SET_STATE:
		d := c.GetSetState()
		if d == nil {
			return nil, bad("set_state", "missing")
		}
		value, err := payload("set_state.value", d.Value)
		return engine.SetState{Key: d.Key, Value: value}, err
	case flovynv1.CommandType_CLEAR_STATE:
		d := c.GetClearState()
		if d == nil {
			return nil, bad("clear_state", "missing")
		}
		return engine.ClearState{Key: d.Key}, nil
	case flovynv1.CommandType_SCHEDULE_TASK:
		d := c.GetScheduleTask()
		if d == nil {
			return nil, bad("schedule_task", "missing")
		}
		id, err := uuid.Parse(d.TaskExecutionId)
		if err != nil {
			return nil, bad("schedule_task.task_execution_id", "not a UUID")
		}
		input, err := payload("schedule_task.input", d.Input)
		return engine.ScheduleTask{ID: id, Kind: d.Kind, Input: input, Queue: d.GetQueue(), MaxRetries: d.MaxRetries,
			TimeoutMs: d.TimeoutMs, PrioritySeconds: d.GetPrioritySeconds()}, err
	case flovynv1.CommandType_COMPLETE_WORKFLOW:
		d := c.GetCompleteWorkflow()
		if d == nil {
			return nil, bad("complete_workflow", "missing")
		}
		output, err := payload("complete_workflow.output", d.Output)
		return engine.CompleteWorkflow{Output: output}, err
	case flovynv1.CommandType_FAIL_WORKFLOW:
		d := c.GetFailWorkflow()
		if d == nil {
			return nil, bad("fail_workflow", "missing")
		}
		return engine.FailWorkflow{Error: d.Error, StackTrace: d.StackTrace, FailureType: d.FailureType}, nil
	case flovynv1.CommandType_SUSPEND_WORKFLOW:
		return engine.SuspendWorkflow{Reason: c.GetSuspendWorkflow().GetReason()}, nil
	case flovynv1.CommandType_CANCEL_WORKFLOW:
		return engine.CancelWorkflow{Reason: c.GetCancelWorkflow().GetReason()}, nil
	case flovynv1.CommandType_CREATE_PROMISE:
		d := c.GetCreatePromise()
		if d == nil {
			return nil, bad("create_promise", "missing")
		}
		return engine.CreatePromise{Name: d.PromiseId, TimeoutMs: d.TimeoutMs, IdempotencyKey: d.IdempotencyKey}, nil
	case flovynv1.CommandType_RESOLVE_PROMISE:
		d := c.GetResolvePromise()
		if d == nil {
			return nil, bad("resolve_promise", "missing")
		}
		value, err := payload("resolve_promise.value", d.Value)
		return engine.ResolvePromiseCommand{Promise: d.PromiseId, Value: value}, err
	case flovynv1.CommandType_SCHEDULE_CHILD_WORKFLOW:
		d := c.GetScheduleChildWorkflow()
		if d == nil {
			return nil, bad("schedule_child_workflow", "missing")
		}
		id, err := uuid.Parse(d.ChildWorkflowExecutionId)
		if err != nil {
			return nil, bad("schedule_child_workflow.child_workflow_execution_id", "not a UUID")
		}
		input, err := payload("schedule_child_workflow.input", d.Input)
		return engine.ScheduleChildWorkflow{Name: d.ChildExecutionName, Kind: d.GetWorkflowKind(), ID: id, Input: input,
			Queue: d.Queue, PrioritySeconds: d.PrioritySeconds}, err
	case flovynv1.CommandType_START_TIMER:
		d := c.GetStartTimer()
		if d == nil {
			return nil, bad("start_timer", "missing")
		}
		return engine.StartTimer{ID: d.TimerId, DurationMs: d.DurationMs}, nil
	case flovynv1.CommandType_CANCEL_TIMER:
		d := c.GetCancelTimer()
		if d == nil {
			return nil, bad("cancel_timer", "missing")
		}
		return engine.CancelTimer{ID: d.TimerId}, nil
	case flovynv1.CommandType_REQUEST_CANCEL_CHILD_WORKFLOW:
		d := c.GetRequestCancelChildWorkflow()
		if d == nil {
			return nil, bad("request_cancel_child_workflow", "missing")
		}
		id, err := uuid.Parse(d.ChildWorkflowExecutionId)
		if err != nil {
			return nil, bad("request_cancel_child_workflow.child_workflow_execution_id", "not a UUID")
		}
		return engine.RequestCancelChild{ID: id, Reason: d.Reason}, nil
	}
	return nil, bad("command_type", fmt.Sprintf("unknown command type %d", c.CommandType))
}
