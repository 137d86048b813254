package grpcapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

// agentDispatch serves flovyn.v1.AgentDispatch (reference/agents.md).
type agentDispatch struct {
	flovynv1.UnimplementedAgentDispatchServer
	*api
}

func init() {
	// Every agent RPC is worker protocol: allowed to workers (and to users
	// whose role may run workers), like the task RPCs.
	for _, m := range []string{
		flovynv1.AgentDispatch_PollAgent_FullMethodName,
		flovynv1.AgentDispatch_GetEntries_FullMethodName,
		flovynv1.AgentDispatch_AppendEntry_FullMethodName,
		flovynv1.AgentDispatch_GetLatestCheckpoint_FullMethodName,
		flovynv1.AgentDispatch_SubmitCheckpoint_FullMethodName,
		flovynv1.AgentDispatch_ScheduleAgentTask_FullMethodName,
		flovynv1.AgentDispatch_CompleteAgent_FullMethodName,
		flovynv1.AgentDispatch_FailAgent_FullMethodName,
		flovynv1.AgentDispatch_SuspendAgent_FullMethodName,
		flovynv1.AgentDispatch_ResumeAgent_FullMethodName,
		flovynv1.AgentDispatch_SignalAgent_FullMethodName,
		flovynv1.AgentDispatch_ConsumeSignals_FullMethodName,
		flovynv1.AgentDispatch_HasSignal_FullMethodName,
		flovynv1.AgentDispatch_GetAgentTaskResult_FullMethodName,
		flovynv1.AgentDispatch_GetAgentTaskResults_FullMethodName,
		flovynv1.AgentDispatch_GetAgentTaskCount_FullMethodName,
		flovynv1.AgentDispatch_CancelAgentTask_FullMethodName,
		flovynv1.AgentDispatch_StreamAgentData_FullMethodName,
		flovynv1.AgentDispatch_SpawnChildAgent_FullMethodName,
		flovynv1.AgentDispatch_SendParentSignal_FullMethodName,
		flovynv1.AgentDispatch_SendChildSignal_FullMethodName,
		flovynv1.AgentDispatch_PollChildEvents_FullMethodName,
	} {
		methodActions[m] = auth.ActionWorkerExecute
	}
	// A held PollAgent answers "no work" when the server stops.
	heldMethods[flovynv1.AgentDispatch_PollAgent_FullMethodName] = true
}

// agentStatus is toStatus with the agent's words for an ended execution.
func (s *agentDispatch) agentStatus(method string, err error) error {
	if errors.Is(err, engine.ErrTerminal) {
		return status.Error(codes.FailedPrecondition, "agent execution has already ended")
	}
	return s.toStatus(method, err)
}

// scopedAgent resolves the tenant and the agent execution id a request
// names. Another tenant's execution is simply not found.
func (s *agentDispatch) scopedAgent(ctx context.Context, orgID, field, raw string) (uuid.UUID, uuid.UUID, error) {
	tenant, err := s.tenantScope(ctx, orgID)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	id, err := parseID(field, raw)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	tenant, err = s.resolveTenant(ctx, tenant, id, s.engine.AgentTenant)
	return tenant, id, err
}

func optionalID(field string, s *string) (*uuid.UUID, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	id, err := parseID(field, *s)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

func parseIDs(field string, raw []string) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, 0, len(raw))
	for i, r := range raw {
		id, err := parseID(fmt.Sprintf("%s[%d]", field, i), r)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func agentInfo(a *engine.Agent) *flovynv1.AgentExecutionInfo {
	info := &flovynv1.AgentExecutionInfo{
		Id: a.ID.String(), Kind: a.Kind, OrgId: a.TenantID.String(), Input: a.Input, Queue: a.Queue,
		CreatedAtMs: a.CreatedAt.UnixMilli(), CurrentCheckpointSeq: a.CurrentCheckpointSeq, PersistenceMode: "REMOTE",
	}
	if len(a.Metadata) > 0 && string(a.Metadata) != "null" {
		info.Metadata = a.Metadata
	}
	if a.ParentID != nil {
		p := a.ParentID.String()
		info.ParentExecutionId = &p
	}
	return info
}

func (s *agentDispatch) PollAgent(ctx context.Context, r *flovynv1.PollAgentRequest) (*flovynv1.PollAgentResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	s.seen(ctx, tenant, r.WorkerId)
	a, err := s.engine.PollAgent(ctx, tenant, r.Queue, r.WorkerId, r.AgentCapabilities)
	if err != nil || a == nil {
		return &flovynv1.PollAgentResponse{}, s.toStatus("PollAgent", err)
	}
	return &flovynv1.PollAgentResponse{AgentExecution: agentInfo(a)}, nil
}

func entryOut(e engine.AgentEntry) *flovynv1.AgentEntry {
	out := &flovynv1.AgentEntry{Id: e.ID.String(), EntryType: e.EntryType, Role: e.Role, Content: e.Content, TurnId: e.TurnID,
		CreatedAtMs: e.CreatedAt.UnixMilli()}
	if e.ParentID != nil {
		p := e.ParentID.String()
		out.ParentId = &p
	}
	if e.InputTokens != nil || e.OutputTokens != nil {
		out.TokenUsage = &flovynv1.TokenUsage{CacheReadTokens: e.CacheReadTokens, CacheWriteTokens: e.CacheWriteTokens}
		if e.InputTokens != nil {
			out.TokenUsage.InputTokens = *e.InputTokens
		}
		if e.OutputTokens != nil {
			out.TokenUsage.OutputTokens = *e.OutputTokens
		}
	}
	return out
}

func (s *agentDispatch) GetEntries(r *flovynv1.GetEntriesRequest, stream grpc.ServerStreamingServer[flovynv1.AgentEntryChunk]) error {
	ctx := stream.Context()
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return err
	}
	after, err := optionalID("after_entry_id", r.AfterEntryId)
	if err != nil {
		return err
	}
	for {
		entries, more, err := s.engine.AgentEntries(ctx, tenant, id, after, entriesPerRead)
		if err != nil {
			return s.agentStatus("GetEntries", err)
		}
		for _, e := range entries {
			if err := stream.Send(&flovynv1.AgentEntryChunk{Entry: entryOut(e)}); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		after = &entries[len(entries)-1].ID
	}
}

// entriesPerRead is how many entries GetEntries holds at once: a long
// conversation is streamed in reads of this many, never loaded whole.
const entriesPerRead = 16

func (s *agentDispatch) AppendEntry(ctx context.Context, r *flovynv1.AppendEntryRequest) (*flovynv1.AppendEntryResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	parent, err := optionalID("parent_id", r.ParentId)
	if err != nil {
		return nil, err
	}
	entry := engine.AgentEntry{ParentID: parent, EntryType: r.EntryType, Role: r.Role, Content: r.Content, TurnID: r.TurnId}
	if u := r.TokenUsage; u != nil {
		entry.InputTokens, entry.OutputTokens = &u.InputTokens, &u.OutputTokens
		entry.CacheReadTokens, entry.CacheWriteTokens = u.CacheReadTokens, u.CacheWriteTokens
	}
	entryID, existed, err := s.engine.AppendAgentEntry(ctx, tenant, id, entry, r.GetIdempotencyKey())
	if err != nil {
		return nil, s.agentStatus("AppendEntry", err)
	}
	return &flovynv1.AppendEntryResponse{EntryId: entryID.String(), AlreadyExisted: existed}, nil
}

func checkpointOut(c *engine.AgentCheckpoint) *flovynv1.AgentCheckpoint {
	out := &flovynv1.AgentCheckpoint{Id: c.ID.String(), Sequence: c.Sequence, State: c.State, CreatedAtMs: c.CreatedAt.UnixMilli()}
	if c.LeafEntryID != nil {
		l := c.LeafEntryID.String()
		out.LeafEntryId = &l
	}
	return out
}

func (s *agentDispatch) GetLatestCheckpoint(ctx context.Context, r *flovynv1.GetCheckpointRequest) (*flovynv1.GetCheckpointResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	c, err := s.engine.LatestAgentCheckpoint(ctx, tenant, id)
	if err != nil {
		return nil, s.agentStatus("GetLatestCheckpoint", err)
	}
	if c == nil {
		return &flovynv1.GetCheckpointResponse{}, nil
	}
	return &flovynv1.GetCheckpointResponse{Checkpoint: checkpointOut(c)}, nil
}

func (s *agentDispatch) SubmitCheckpoint(ctx context.Context, r *flovynv1.SubmitCheckpointRequest) (*flovynv1.SubmitCheckpointResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	leaf, err := optionalID("leaf_entry_id", r.LeafEntryId)
	if err != nil {
		return nil, err
	}
	c := engine.AgentCheckpoint{LeafEntryID: leaf, State: r.State}
	if u := r.CumulativeTokenUsage; u != nil {
		c.InputTokens, c.OutputTokens = &u.InputTokens, &u.OutputTokens
	}
	cpID, seq, err := s.engine.SubmitAgentCheckpoint(ctx, tenant, id, c)
	if err != nil {
		return nil, s.agentStatus("SubmitCheckpoint", err)
	}
	return &flovynv1.SubmitCheckpointResponse{CheckpointId: cpID.String(), Sequence: seq}, nil
}

// ScheduleAgentTask reads a header, then the task input in chunks; the
// input may not pass the payload limit.
func (s *agentDispatch) ScheduleAgentTask(stream grpc.ClientStreamingServer[flovynv1.ScheduleAgentTaskChunk, flovynv1.ScheduleAgentTaskResponse]) error {
	ctx := stream.Context()
	var header *flovynv1.ScheduleAgentTaskHeader
	var input []byte
	max := s.engine.MaxPayloadBytes()
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch c := chunk.Chunk.(type) {
		case *flovynv1.ScheduleAgentTaskChunk_Header:
			if header != nil {
				return invalidArg("header", "sent twice")
			}
			if c.Header == nil {
				return invalidArg("header", "required")
			}
			header = c.Header
		case *flovynv1.ScheduleAgentTaskChunk_InputChunk:
			if header == nil {
				return invalidArg("header", "must come before the input chunks")
			}
			if len(input)+len(c.InputChunk) > max {
				return s.toStatus("ScheduleAgentTask", limits.Payload("input", make([]byte, len(input)+len(c.InputChunk)), max))
			}
			input = append(input, c.InputChunk...)
		default:
			return invalidArg("chunk", "empty")
		}
	}
	if header == nil {
		return invalidArg("header", "required")
	}
	tenant, agent, err := s.scopedAgent(ctx, "", "header.agent_execution_id", header.AgentExecutionId)
	if err != nil {
		return err
	}
	if err := limits.Metadata("metadata", header.Metadata); err != nil {
		return s.toStatus("ScheduleAgentTask", err)
	}
	if _, err := limits.DurationSeconds("idempotency_key_ttl_seconds", header.GetIdempotencyKeyTtlSeconds()); err != nil {
		return s.toStatus("ScheduleAgentTask", err)
	}
	id, created, err := s.engine.ScheduleAgentTask(ctx, engine.ScheduleAgentTaskRequest{
		Tenant: tenant, Agent: agent, Kind: header.TaskKind, Queue: header.GetQueue(), MaxRetries: header.MaxRetries,
		TimeoutMs: header.TimeoutMs, IdempotencyKey: header.GetIdempotencyKey(), Input: input,
	})
	if err != nil {
		return s.agentStatus("ScheduleAgentTask", err)
	}
	keyed := header.GetIdempotencyKey() != ""
	return stream.SendAndClose(&flovynv1.ScheduleAgentTaskResponse{
		TaskExecutionId: id.String(), IdempotencyKeyUsed: keyed, IdempotencyKeyNew: keyed && created,
	})
}

func (s *agentDispatch) CompleteAgent(ctx context.Context, r *flovynv1.CompleteAgentRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.agentStatus("CompleteAgent", s.engine.CompleteAgent(ctx, tenant, id, r.Output))
}

func (s *agentDispatch) FailAgent(ctx context.Context, r *flovynv1.FailAgentRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	if err := limits.Message("stack_trace", r.GetStackTrace()); err != nil {
		return nil, s.toStatus("FailAgent", err)
	}
	return &emptypb.Empty{}, s.agentStatus("FailAgent", s.engine.FailAgent(ctx, tenant, id, r.Error, r.GetFailureType()))
}

func (s *agentDispatch) SuspendAgent(ctx context.Context, r *flovynv1.SuspendAgentRequest) (*emptypb.Empty, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	w := engine.AgentWait{Reason: r.Reason}
	switch c := r.WaitCondition.(type) {
	case *flovynv1.SuspendAgentRequest_WaitForSignal:
		w.Kind, w.Signal = engine.WaitSignal, c.WaitForSignal
	case *flovynv1.SuspendAgentRequest_WaitForTask:
		task, err := parseID("wait_for_task", c.WaitForTask)
		if err != nil {
			return nil, err
		}
		w.Kind, w.IDs = engine.WaitTasksAll, []uuid.UUID{task}
	case *flovynv1.SuspendAgentRequest_WaitForTasks:
		if c.WaitForTasks == nil {
			return nil, invalidArg("wait_for_tasks", "required")
		}
		if w.IDs, err = parseIDs("wait_for_tasks.task_ids", c.WaitForTasks.TaskIds); err != nil {
			return nil, err
		}
		switch c.WaitForTasks.Mode {
		case flovynv1.WaitMode_WAIT_MODE_ALL, flovynv1.WaitMode_WAIT_MODE_UNSPECIFIED:
			w.Kind = engine.WaitTasksAll
		case flovynv1.WaitMode_WAIT_MODE_ANY:
			w.Kind = engine.WaitTasksAny
		default:
			return nil, invalidArg("wait_for_tasks.mode", "must be WAIT_MODE_ALL or WAIT_MODE_ANY")
		}
	case *flovynv1.SuspendAgentRequest_WaitForChildEvent:
		w.Kind = engine.WaitChildrenAny
		if c.WaitForChildEvent != nil {
			if w.IDs, err = parseIDs("wait_for_child_event.child_execution_ids", c.WaitForChildEvent.ChildExecutionIds); err != nil {
				return nil, err
			}
		}
	case *flovynv1.SuspendAgentRequest_WaitForAllChildren:
		w.Kind = engine.WaitChildrenAll
		if c.WaitForAllChildren != nil {
			if w.IDs, err = parseIDs("wait_for_all_children.child_execution_ids", c.WaitForAllChildren.ChildExecutionIds); err != nil {
				return nil, err
			}
		}
	default:
		return nil, invalidArg("wait_condition", "required")
	}
	return &emptypb.Empty{}, s.agentStatus("SuspendAgent", s.engine.SuspendAgent(ctx, tenant, id, w))
}

func (s *agentDispatch) ResumeAgent(ctx context.Context, r *flovynv1.ResumeAgentRequest) (*flovynv1.ResumeAgentResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	s.seen(ctx, tenant, r.WorkerId)
	a, err := s.engine.ResumeAgent(ctx, tenant, id, r.WorkerId)
	if errors.Is(err, engine.ErrAgentNotRunnable) {
		return &flovynv1.ResumeAgentResponse{Success: false}, nil
	}
	if err != nil {
		return nil, s.agentStatus("ResumeAgent", err)
	}
	return &flovynv1.ResumeAgentResponse{Success: true, Agent: agentInfo(&a)}, nil
}

func (s *agentDispatch) SignalAgent(ctx context.Context, r *flovynv1.SignalAgentRequest) (*flovynv1.SignalAgentResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	sig, resumed, err := s.engine.SignalAgent(ctx, tenant, id, r.SignalName, r.SignalValue, nil)
	if err != nil {
		return nil, s.agentStatus("SignalAgent", err)
	}
	return &flovynv1.SignalAgentResponse{SignalId: sig.String(), AgentResumed: resumed}, nil
}

func (s *agentDispatch) ConsumeSignals(ctx context.Context, r *flovynv1.ConsumeSignalsRequest) (*flovynv1.ConsumeSignalsResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	sigs, err := s.engine.ConsumeAgentSignals(ctx, tenant, id, r.GetSignalName(), r.GetSignalPattern())
	if err != nil {
		return nil, s.agentStatus("ConsumeSignals", err)
	}
	out := &flovynv1.ConsumeSignalsResponse{Signals: make([]*flovynv1.AgentSignal, 0, len(sigs))}
	for _, sg := range sigs {
		out.Signals = append(out.Signals, &flovynv1.AgentSignal{Id: sg.ID.String(), SignalName: sg.Name,
			SignalValue: sg.Value, CreatedAtMs: sg.CreatedAt.UnixMilli()})
	}
	return out, nil
}

func (s *agentDispatch) HasSignal(ctx context.Context, r *flovynv1.HasSignalRequest) (*flovynv1.HasSignalResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	has, err := s.engine.HasAgentSignal(ctx, tenant, id, r.SignalName)
	if err != nil {
		return nil, s.agentStatus("HasSignal", err)
	}
	return &flovynv1.HasSignalResponse{HasSignal: has}, nil
}

// taskResult is what the agent reads of its task: the output once
// COMPLETED, the error once FAILED or CANCELLED.
func taskResult(t engine.AgentTask) (output []byte, errMsg *string) {
	switch t.Status {
	case engine.StatusCompleted:
		output = t.Output
		if output == nil {
			output = []byte("null")
		}
	case engine.StatusFailed, engine.StatusCancelled:
		errMsg = t.Error
		if errMsg == nil {
			m := t.Status
			errMsg = &m
		}
	}
	return output, errMsg
}

func (s *agentDispatch) GetAgentTaskResult(ctx context.Context, r *flovynv1.GetAgentTaskResultRequest) (*flovynv1.GetAgentTaskResultResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	task, err := parseID("task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	res, err := s.engine.AgentTaskResults(ctx, tenant, id, []uuid.UUID{task})
	if err != nil {
		return nil, s.agentStatus("GetAgentTaskResult", err)
	}
	out, msg := taskResult(res[0])
	return &flovynv1.GetAgentTaskResultResponse{Status: res[0].Status, Output: out, Error: msg}, nil
}

func (s *agentDispatch) GetAgentTaskResults(ctx context.Context, r *flovynv1.GetAgentTaskResultsRequest) (*flovynv1.GetAgentTaskResultsResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	if len(r.TaskExecutionIds) > 10_000 {
		return nil, invalidArg("task_execution_ids", "more than 10000 ids")
	}
	ids, err := parseIDs("task_execution_ids", r.TaskExecutionIds)
	if err != nil {
		return nil, err
	}
	res, err := s.engine.AgentTaskResults(ctx, tenant, id, ids)
	if err != nil {
		return nil, s.agentStatus("GetAgentTaskResults", err)
	}
	out := &flovynv1.GetAgentTaskResultsResponse{Results: make([]*flovynv1.TaskResultEntry, 0, len(res))}
	for _, t := range res {
		o, msg := taskResult(t)
		out.Results = append(out.Results, &flovynv1.TaskResultEntry{TaskExecutionId: t.ID.String(), Status: t.Status, Output: o, Error: msg})
	}
	return out, nil
}

func (s *agentDispatch) GetAgentTaskCount(ctx context.Context, r *flovynv1.GetAgentTaskCountRequest) (*flovynv1.GetAgentTaskCountResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	n, err := s.engine.AgentTaskCount(ctx, tenant, id)
	if err != nil {
		return nil, s.agentStatus("GetAgentTaskCount", err)
	}
	return &flovynv1.GetAgentTaskCountResponse{TaskCount: n}, nil
}

func (s *agentDispatch) CancelAgentTask(ctx context.Context, r *flovynv1.CancelAgentTaskRequest) (*flovynv1.CancelAgentTaskResponse, error) {
	tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
	if err != nil {
		return nil, err
	}
	task, err := parseID("task_execution_id", r.TaskExecutionId)
	if err != nil {
		return nil, err
	}
	cancelled, st, err := s.engine.CancelAgentTask(ctx, tenant, id, task, r.GetReason())
	if err != nil {
		return nil, s.agentStatus("CancelAgentTask", err)
	}
	return &flovynv1.CancelAgentTaskResponse{Cancelled: cancelled, Status: st}, nil
}

// StreamAgentData acknowledges an agent's live events. Nobody subscribes
// to them yet, so they are counted and not kept; the execution must be
// one of the caller's tenant.
func (s *agentDispatch) StreamAgentData(stream grpc.ClientStreamingServer[flovynv1.StreamAgentDataRequest, flovynv1.StreamAgentDataResponse]) error {
	ctx := stream.Context()
	checked := map[string]bool{}
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&flovynv1.StreamAgentDataResponse{Acknowledged: true})
		}
		if err != nil {
			return err
		}
		if err := limits.Text("payload", r.Payload, s.engine.MaxPayloadBytes()); err != nil {
			return s.toStatus("StreamAgentData", err)
		}
		if !checked[r.AgentExecutionId] {
			tenant, id, err := s.scopedAgent(ctx, "", "agent_execution_id", r.AgentExecutionId)
			if err != nil {
				return err
			}
			if _, err := s.engine.Agent(ctx, tenant, id); err != nil {
				return s.agentStatus("StreamAgentData", err)
			}
			if len(checked) < 16 {
				checked[r.AgentExecutionId] = true
			}
		}
		s.streamed.Add(1)
	}
}

// spawnMetadata keeps what a SpawnChildAgent request says of the child
// beyond its kind, input and queue, as the child's metadata.
type spawnMetadata struct {
	SystemPrompt    *string  `json:"systemPrompt,omitempty"`
	Tools           []string `json:"tools,omitempty"`
	Model           *string  `json:"model,omitempty"`
	MaxBudgetTokens *int64   `json:"maxBudgetTokens,omitempty"`
	Mode            string   `json:"mode,omitempty"`
	TemplateSlug    *string  `json:"templateSlug,omitempty"`
}

func (s *agentDispatch) SpawnChildAgent(ctx context.Context, r *flovynv1.SpawnChildAgentRequest) (*flovynv1.SpawnChildAgentResponse, error) {
	tenant, parentID, err := s.scopedAgent(ctx, r.OrgId, "parent_execution_id", r.ParentExecutionId)
	if err != nil {
		return nil, err
	}
	if err := firstErr(limits.Message("system_prompt", r.GetSystemPrompt()), limits.OptionalName("model", r.GetModel()),
		limits.OptionalName("mode", r.Mode), limits.OptionalName("template_slug", r.GetTemplateSlug())); err != nil {
		return nil, s.toStatus("SpawnChildAgent", err)
	}
	if len(r.Tools) > limits.MaxMetadataEntries {
		return nil, invalidArg("tools", fmt.Sprintf("more than %d tools", limits.MaxMetadataEntries))
	}
	for i, t := range r.Tools {
		if err := limits.Name(fmt.Sprintf("tools[%d]", i), t); err != nil {
			return nil, s.toStatus("SpawnChildAgent", err)
		}
	}
	parent, err := s.engine.Agent(ctx, tenant, parentID)
	if err != nil {
		return nil, s.agentStatus("SpawnChildAgent", err)
	}
	input, err := engine.Payload("input", r.Input)
	if err != nil {
		return nil, s.toStatus("SpawnChildAgent", err)
	}
	md, _ := json.Marshal(spawnMetadata{SystemPrompt: r.SystemPrompt, Tools: r.Tools, Model: r.Model,
		MaxBudgetTokens: r.MaxBudgetTokens, Mode: r.Mode, TemplateSlug: r.TemplateSlug})
	queue := r.GetQueue()
	if queue == "" {
		queue = parent.Queue
	}
	child, err := s.engine.CreateAgent(ctx, engine.CreateAgentRequest{
		Tenant: tenant, Kind: r.AgentKind, Input: input, Queue: queue, Metadata: md, Parent: &parentID,
	})
	if err != nil {
		return nil, s.agentStatus("SpawnChildAgent", err)
	}
	return &flovynv1.SpawnChildAgentResponse{ChildExecutionId: child.ID.String(), Status: child.Status}, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *agentDispatch) SendParentSignal(ctx context.Context, r *flovynv1.SendParentSignalRequest) (*flovynv1.SendParentSignalResponse, error) {
	tenant, child, err := s.scopedAgent(ctx, r.OrgId, "child_execution_id", r.ChildExecutionId)
	if err != nil {
		return nil, err
	}
	delivered, err := s.engine.SendParentSignal(ctx, tenant, child, r.SignalName, r.Payload)
	if err != nil {
		return nil, s.agentStatus("SendParentSignal", err)
	}
	return &flovynv1.SendParentSignalResponse{Delivered: delivered}, nil
}

func (s *agentDispatch) SendChildSignal(ctx context.Context, r *flovynv1.SendChildSignalRequest) (*flovynv1.SendChildSignalResponse, error) {
	tenant, parent, err := s.scopedAgent(ctx, r.OrgId, "parent_execution_id", r.ParentExecutionId)
	if err != nil {
		return nil, err
	}
	child, err := parseID("child_execution_id", r.ChildExecutionId)
	if err != nil {
		return nil, err
	}
	delivered, err := s.engine.SendChildSignal(ctx, tenant, parent, child, r.SignalName, r.Payload)
	if err != nil {
		return nil, s.agentStatus("SendChildSignal", err)
	}
	return &flovynv1.SendChildSignalResponse{Delivered: delivered}, nil
}

func (s *agentDispatch) PollChildEvents(ctx context.Context, r *flovynv1.PollChildEventsRequest) (*flovynv1.PollChildEventsResponse, error) {
	tenant, parent, err := s.scopedAgent(ctx, r.OrgId, "parent_execution_id", r.ParentExecutionId)
	if err != nil {
		return nil, err
	}
	ids, err := parseIDs("child_execution_ids", r.ChildExecutionIds)
	if err != nil {
		return nil, err
	}
	events, err := s.engine.PollChildEvents(ctx, tenant, parent, ids)
	if err != nil {
		return nil, s.agentStatus("PollChildEvents", err)
	}
	out := &flovynv1.PollChildEventsResponse{Events: make([]*flovynv1.ChildEventInfo, 0, len(events))}
	for _, ev := range events {
		info := &flovynv1.ChildEventInfo{ChildExecutionId: ev.ChildID.String(), EventType: ev.Type}
		switch ev.Type {
		case "completed":
			info.Output = ev.Output
			if info.Output == nil {
				info.Output = []byte("null")
			}
		case "failed":
			info.Error = &ev.Error
		case "signal":
			info.SignalName = &ev.SignalName
			info.SignalPayload = ev.Payload
		}
		out.Events = append(out.Events, info)
	}
	return out, nil
}
