package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/emptypb"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

type workflowDispatch struct {
	flovynv1.UnimplementedWorkflowDispatchServer
	*api
}

func (s *workflowDispatch) StartWorkflow(ctx context.Context, r *flovynv1.StartWorkflowRequest) (*flovynv1.StartWorkflowResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	input, err := engine.Payload("input", r.Input)
	if err != nil {
		return nil, s.toStatus("StartWorkflow", err)
	}
	ttl, err := limits.DurationSeconds("idempotency_key_ttl_seconds", r.GetIdempotencyKeyTtlSeconds())
	if err != nil {
		return nil, s.toStatus("StartWorkflow", err)
	}
	res, err := s.engine.StartWorkflow(ctx, engine.StartRequest{
		Tenant: tenant, Kind: r.WorkflowKind, Input: input, Queue: r.Queue, PrioritySeconds: r.PrioritySeconds,
		Version: r.GetWorkflowVersion(), Metadata: r.Metadata, IdempotencyKey: r.GetIdempotencyKey(), IdempotencyTTL: ttl,
	})
	if err != nil {
		return nil, s.toStatus("StartWorkflow", err)
	}
	keyed := r.GetIdempotencyKey() != ""
	return &flovynv1.StartWorkflowResponse{
		WorkflowExecutionId: res.ID.String(),
		IdempotencyKeyUsed:  keyed,
		IdempotencyKeyNew:   keyed && res.Created,
	}, nil
}

func (s *workflowDispatch) PollWorkflow(ctx context.Context, r *flovynv1.PollRequest) (*flovynv1.PollResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	s.seen(ctx, tenant, r.WorkerId)
	wf, err := s.engine.PollWorkflow(ctx, tenant, r.Queue, r.WorkerId)
	if err != nil || wf == nil {
		return &flovynv1.PollResponse{}, s.toStatus("PollWorkflow", err)
	}
	exec := &flovynv1.WorkflowExecution{
		Id: wf.ID.String(), Kind: wf.Kind, OrgId: wf.TenantID.String(), Input: wf.Input, Queue: wf.Queue,
		PriorityMs: int64(wf.PrioritySeconds) * 1000, CreatedAtMs: wf.CreatedAt.UnixMilli(),
		CurrentSequence: wf.LastSequence, WorkflowTaskTimeMillis: wf.TaskTimeMs,
	}
	if wf.Version != "" {
		exec.WorkflowVersion = &wf.Version
	}
	return &flovynv1.PollResponse{WorkflowExecution: exec}, nil
}

func (s *workflowDispatch) GetEvents(ctx context.Context, r *flovynv1.GetEventsRequest) (*flovynv1.GetEventsResponse, error) {
	tenant, id, err := s.scopedID(ctx, "workflow_execution_id", r.WorkflowExecutionId)
	if err != nil {
		return nil, err
	}
	events, err := s.engine.Events(ctx, tenant, id)
	if err != nil {
		return nil, s.toStatus("GetEvents", err)
	}
	out := make([]*flovynv1.WorkflowEvent, len(events))
	for i, e := range events {
		out[i] = &flovynv1.WorkflowEvent{SequenceNumber: e.Sequence, EventType: e.Type, EventData: e.Data}
	}
	return &flovynv1.GetEventsResponse{Events: out}, nil
}

// scopedID parses an execution or task id (as field says) from a request
// that carries no org_id: the credential's tenant scopes it.
func (a *api) scopedID(ctx context.Context, field, s string) (uuid.UUID, uuid.UUID, error) {
	tenant, err := a.tenantScope(ctx, "")
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	id, err := parseID(field, s)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	find := a.engine.WorkflowTenant
	if field == "task_execution_id" {
		find = a.engine.TaskTenant
	}
	tenant, err = a.resolveTenant(ctx, tenant, id, find)
	return tenant, id, err
}

// resolveTenant finds the tenant of id when authentication is disabled
// (tenant uuid.Nil): the rest of the server always works in one tenant.
func (a *api) resolveTenant(ctx context.Context, tenant, id uuid.UUID, find func(context.Context, uuid.UUID) (uuid.UUID, error)) (uuid.UUID, error) {
	if tenant != uuid.Nil {
		return tenant, nil
	}
	tenant, err := find(ctx, id)
	return tenant, a.toStatus("tenant", err)
}

func (s *workflowDispatch) SubmitWorkflowCommands(ctx context.Context, r *flovynv1.SubmitWorkflowCommandsRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedID(ctx, "workflow_execution_id", r.WorkflowExecutionId)
	if err != nil {
		return nil, err
	}
	cmds := make([]engine.Command, 0, len(r.Commands))
	for i, c := range r.Commands {
		cmd, err := toCommand(i, c)
		if err != nil {
			return nil, s.toStatus("SubmitWorkflowCommands", err)
		}
		cmds = append(cmds, cmd)
	}
	st, err := submitStatus(r.Status)
	if err != nil {
		return nil, err
	}
	err = s.engine.SubmitCommands(ctx, tenant, id, st, cmds)
	return &emptypb.Empty{}, s.toStatus("SubmitWorkflowCommands", err)
}

func submitStatus(st flovynv1.WorkflowStatus) (engine.SubmitStatus, error) {
	switch st {
	case flovynv1.WorkflowStatus_SUSPENDED:
		return engine.SubmitSuspended, nil
	case flovynv1.WorkflowStatus_COMPLETED:
		return engine.SubmitCompleted, nil
	case flovynv1.WorkflowStatus_FAILED:
		return engine.SubmitFailed, nil
	case flovynv1.WorkflowStatus_CANCELLED:
		return engine.SubmitCancelled, nil
	case flovynv1.WorkflowStatus_RUNNING, flovynv1.WorkflowStatus_WORKFLOW_STATUS_UNSPECIFIED:
		return engine.SubmitRunning, nil
	}
	return 0, invalidArg("status", fmt.Sprintf("unknown workflow status %d", st))
}

func (s *workflowDispatch) SignalWorkflow(ctx context.Context, r *flovynv1.SignalWorkflowRequest) (*flovynv1.SignalWorkflowResponse, error) {
	tenant, err := s.tenantScope(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	id, err := parseID("workflow_execution_id", r.WorkflowExecutionId)
	if err != nil {
		return nil, err
	}
	if tenant, err = s.resolveTenant(ctx, tenant, id, s.engine.WorkflowTenant); err != nil {
		return nil, err
	}
	value, err := engine.Payload("signal_value", r.SignalValue)
	if err != nil {
		return nil, s.toStatus("SignalWorkflow", err)
	}
	seq, err := s.engine.Signal(ctx, tenant, id, r.SignalName, value)
	if err != nil {
		return nil, s.toStatus("SignalWorkflow", err)
	}
	return &flovynv1.SignalWorkflowResponse{SignalEventSequence: int64(seq)}, nil
}

func (s *workflowDispatch) SignalWithStartWorkflow(ctx context.Context, r *flovynv1.SignalWithStartWorkflowRequest) (*flovynv1.SignalWithStartWorkflowResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	input, err := engine.Payload("workflow_input", r.WorkflowInput)
	if err != nil {
		return nil, s.toStatus("SignalWithStartWorkflow", err)
	}
	value, err := engine.Payload("signal_value", r.SignalValue)
	if err != nil {
		return nil, s.toStatus("SignalWithStartWorkflow", err)
	}
	ttl, err := limits.DurationSeconds("idempotency_key_ttl_seconds", r.GetIdempotencyKeyTtlSeconds())
	if err != nil {
		return nil, s.toStatus("SignalWithStartWorkflow", err)
	}
	res, err := s.engine.SignalWithStart(ctx, engine.StartRequest{
		Tenant: tenant, Kind: r.WorkflowKind, Input: input, Queue: r.Queue, PrioritySeconds: r.PrioritySeconds,
		Version: r.GetWorkflowVersion(), Metadata: r.Metadata, IdempotencyTTL: ttl,
	}, r.WorkflowId, r.SignalName, value)
	if err != nil {
		return nil, s.toStatus("SignalWithStartWorkflow", err)
	}
	return &flovynv1.SignalWithStartWorkflowResponse{
		WorkflowExecutionId: res.ID.String(), WorkflowCreated: res.Created, SignalEventSequence: int64(res.SignalSequence),
	}, nil
}

func (s *workflowDispatch) ResolvePromise(ctx context.Context, r *flovynv1.ResolvePromiseRequest) (*emptypb.Empty, error) {
	tenant, err := s.tenantScope(ctx, "")
	if err != nil {
		return nil, err
	}
	value, err := engine.Payload("value", r.Value)
	if err == nil {
		err = s.engine.ResolvePromise(ctx, tenant, r.PromiseId, value)
	}
	return &emptypb.Empty{}, s.toStatus("ResolvePromise", ignoreSettled(err))
}

func (s *workflowDispatch) RejectPromise(ctx context.Context, r *flovynv1.RejectPromiseRequest) (*emptypb.Empty, error) {
	tenant, err := s.tenantScope(ctx, "")
	if err != nil {
		return nil, err
	}
	err = s.engine.RejectPromise(ctx, tenant, r.PromiseId, r.Error)
	return &emptypb.Empty{}, s.toStatus("RejectPromise", ignoreSettled(err))
}

// ignoreSettled makes settling a settled promise an idempotent success, as
// the SDKs expect (contract §7.3): the first outcome stands.
func ignoreSettled(err error) error {
	var settled *engine.SettledError
	if errors.As(err, &settled) {
		return nil
	}
	return err
}

func (s *workflowDispatch) ReportExecutionSpans(_ context.Context, r *flovynv1.ReportExecutionSpansRequest) (*flovynv1.ReportExecutionSpansResponse, error) {
	s.spans.Add(int64(len(r.Spans)))
	return &flovynv1.ReportExecutionSpansResponse{AcceptedCount: int32(len(r.Spans))}, nil
}

type workflowQuery struct {
	flovynv1.UnimplementedWorkflowQueryServer
	*api
}

func (s *workflowQuery) QueryWorkflow(ctx context.Context, r *flovynv1.QueryWorkflowRequest) (*flovynv1.QueryWorkflowResponse, error) {
	tenant, id, err := s.scopedID(ctx, "workflow_execution_id", r.WorkflowExecutionId)
	if err != nil {
		return nil, err
	}
	if r.QueryName == "" {
		return nil, invalidArg("query_name", "required")
	}
	v, err := s.engine.Query(ctx, tenant, id, r.QueryName)
	if err != nil {
		return nil, s.toStatus("QueryWorkflow", err)
	}
	return &flovynv1.QueryWorkflowResponse{Result: v}, nil
}
