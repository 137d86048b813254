package grpcapi

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/engine"
)

// The RPCs no SDK calls today, served for completeness.

func (s *workflowDispatch) SubscribeToNotifications(r *flovynv1.SubscriptionRequest, stream grpc.ServerStreamingServer[flovynv1.WorkAvailableEvent]) error {
	ctx := stream.Context()
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return err
	}
	queue := r.Queue
	if queue == "" {
		queue = engine.DefaultQueue
	}
	sub := s.engine.Subscribe(tenant, queue)
	defer sub.Close()
	// The headers tell the subscriber it is subscribed: work that appears
	// from now on is announced.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C:
			ev := &flovynv1.WorkAvailableEvent{OrgId: tenant.String(), Queue: queue, TimestampMs: time.Now().UnixMilli()}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

func (s *workflowDispatch) StartChildWorkflow(ctx context.Context, r *flovynv1.StartChildWorkflowRequest) (*flovynv1.StartChildWorkflowResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	parent, err := parseID("parent_workflow_execution_id", r.ParentWorkflowExecutionId)
	if err != nil {
		return nil, err
	}
	if r.GetWorkflowKind() == "" {
		return nil, invalidArg("workflow_kind", "required (workflow definitions are not supported)")
	}
	input, err := engine.Payload("input", r.Input)
	if err != nil {
		return nil, s.toStatus("StartChildWorkflow", err)
	}
	id, err := s.engine.StartChild(ctx, tenant, parent, r.ChildExecutionName, engine.StartRequest{
		Tenant: tenant, Kind: r.GetWorkflowKind(), Input: input, Queue: r.Queue, PrioritySeconds: r.PrioritySeconds,
	})
	if err != nil {
		return nil, s.toStatus("StartChildWorkflow", err)
	}
	return &flovynv1.StartChildWorkflowResponse{ChildWorkflowExecutionId: id.String()}, nil
}

func (s *taskExecution) SubmitTask(ctx context.Context, r *flovynv1.SubmitTaskRequest) (*flovynv1.SubmitTaskResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	if r.WorkflowExecutionId != "" {
		return nil, invalidArg("workflow_execution_id", "must be empty: workflows schedule their tasks with SCHEDULE_TASK")
	}
	input, err := engine.Payload("input", r.Input)
	if err != nil {
		return nil, s.toStatus("SubmitTask", err)
	}
	id, created, err := s.engine.SubmitTask(ctx, engine.SubmitTaskRequest{
		Tenant: tenant, Kind: r.Kind, Input: input, Queue: r.Queue, MaxRetries: r.MaxRetries, TimeoutMs: r.TimeoutMs,
		IdempotencyKey: r.GetIdempotencyKey(),
	})
	if err != nil {
		return nil, s.toStatus("SubmitTask", err)
	}
	keyed := r.GetIdempotencyKey() != ""
	return &flovynv1.SubmitTaskResponse{TaskExecutionId: id.String(), IdempotencyKeyUsed: keyed && !created, IdempotencyKeyNew: keyed && created}, nil
}

func (s *taskExecution) Heartbeat(ctx context.Context, r *flovynv1.HeartbeatRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.toStatus("Heartbeat", s.engine.TaskHeartbeat(ctx, tenant, id))
}

func (s *taskExecution) CancelTask(ctx context.Context, r *flovynv1.CancelTaskRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.toStatus("CancelTask", s.engine.CancelTask(ctx, tenant, id))
}

func (s *taskExecution) GetState(ctx context.Context, r *flovynv1.GetStateRequest) (*flovynv1.GetStateResponse, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	v, found, err := s.engine.TaskState(ctx, tenant, id, r.Key)
	if err != nil {
		return nil, s.toStatus("GetState", err)
	}
	return &flovynv1.GetStateResponse{Value: v, Found: found}, nil
}

func (s *taskExecution) SetState(ctx context.Context, r *flovynv1.SetStateRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	value, err := engine.Payload("value", r.Value)
	if err == nil {
		err = s.engine.SetTaskState(ctx, tenant, id, r.Key, value)
	}
	return &emptypb.Empty{}, s.toStatus("SetState", err)
}

func (s *taskExecution) ClearState(ctx context.Context, r *flovynv1.ClearStateRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	if r.Key == "" {
		return nil, invalidArg("key", "required (ClearAllState clears every key)")
	}
	return &emptypb.Empty{}, s.toStatus("ClearState", s.engine.ClearTaskState(ctx, tenant, id, r.Key))
}

func (s *taskExecution) ClearAllState(ctx context.Context, r *flovynv1.ClearAllStateRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.toStatus("ClearAllState", s.engine.ClearTaskState(ctx, tenant, id, ""))
}

func (s *taskExecution) GetStateKeys(ctx context.Context, r *flovynv1.GetStateKeysRequest) (*flovynv1.GetStateKeysResponse, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	keys, err := s.engine.TaskStateKeys(ctx, tenant, id)
	if err != nil {
		return nil, s.toStatus("GetStateKeys", err)
	}
	return &flovynv1.GetStateKeysResponse{Keys: keys}, nil
}
