package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/engine"
)

type taskExecution struct {
	flovynv1.UnimplementedTaskExecutionServer
	*api
}

func (s *taskExecution) PollTask(ctx context.Context, r *flovynv1.PollTaskRequest) (*flovynv1.PollTaskResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	s.seen(ctx, tenant, r.WorkerId)
	t, err := s.engine.PollTask(ctx, tenant, r.Queue, r.WorkerId)
	if err != nil || t == nil {
		return &flovynv1.PollTaskResponse{}, s.toStatus("PollTask", err)
	}
	info := &flovynv1.TaskExecutionInfo{
		TaskExecutionId: t.ID.String(), Kind: t.Kind, Input: t.Input, ExecutionCount: t.ExecutionCount, Queue: t.Queue,
	}
	if t.WorkflowID != nil {
		info.WorkflowExecutionId = t.WorkflowID.String()
	}
	return &flovynv1.PollTaskResponse{Task: info}, nil
}

func (s *taskExecution) CompleteTask(ctx context.Context, r *flovynv1.CompleteTaskRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	output, err := engine.Payload("output", r.Output)
	if err == nil {
		err = s.engine.CompleteTask(ctx, tenant, id, output)
	}
	return &emptypb.Empty{}, s.toStatus("CompleteTask", err)
}

func (s *taskExecution) FailTask(ctx context.Context, r *flovynv1.FailTaskRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.toStatus("FailTask", s.engine.FailTask(ctx, tenant, id, r.Error))
}

func (s *taskExecution) ReportProgress(ctx context.Context, r *flovynv1.ReportProgressRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.toStatus("ReportProgress", s.engine.ReportProgress(ctx, tenant, id, r.Progress, r.Details))
}

func (s *taskExecution) LogMessage(ctx context.Context, r *flovynv1.LogMessageRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.toStatus("LogMessage", s.engine.LogMessage(ctx, tenant, id, r.Level, r.Message))
}

// StreamTaskData acknowledges streamed task output. Nobody subscribes to it
// yet, so it is counted and not kept.
func (s *taskExecution) StreamTaskData(ctx context.Context, r *flovynv1.StreamTaskDataRequest) (*flovynv1.StreamTaskDataResponse, error) {
	if _, _, err := s.scopedID(ctx, "task_execution_id", r.TaskExecutionId); err != nil {
		return nil, err
	}
	s.streamed.Add(1)
	return &flovynv1.StreamTaskDataResponse{Acknowledged: true}, nil
}
