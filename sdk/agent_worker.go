package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// RegisterAgent registers an agent kind. It panics while Run is running.
// The kinds registered are sent with RegisterWorker and as PollAgent's
// agent_capabilities, so the server only dispatches those.
func (w *Worker) RegisterAgent(kind string, fn AgentFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		panic("flovyn: RegisterAgent after Run")
	}
	w.agents[kind] = fn
}

// AgentMetrics count the agent executions a worker ran since it was
// created.
type AgentMetrics struct {
	// Executed counts dispatches that ran to an end: completed, failed or
	// suspended (one agent execution suspending twice counts three times).
	Executed  int64
	Completed int64
	Failed    int64
	Suspended int64
}

type agentCounters struct {
	completed, failed, suspended atomic.Int64
}

// AgentMetrics returns the worker's agent counters.
func (w *Worker) AgentMetrics() AgentMetrics {
	m := AgentMetrics{
		Completed: w.agentStats.completed.Load(),
		Failed:    w.agentStats.failed.Load(),
		Suspended: w.agentStats.suspended.Load(),
	}
	m.Executed = m.Completed + m.Failed + m.Suspended
	return m
}

func (w *Worker) pollAgent(ctx context.Context) (func(context.Context), error) {
	resp, err := w.c.agent.PollAgent(ctx, &flovynv1.PollAgentRequest{
		WorkerId:          w.WorkerID(),
		OrgId:             w.c.opts.OrgID,
		Queue:             w.o.Queue,
		TimeoutSeconds:    w.pollTimeoutSeconds(),
		AgentCapabilities: sortedKeys(w.agents),
	})
	if err != nil {
		return nil, err
	}
	info := resp.GetAgentExecution()
	if info == nil {
		return nil, nil
	}
	return func(ctx context.Context) { w.runAgent(ctx, info) }, nil
}

// runAgent is one dispatch of an agent execution: load its checkpoint and
// entries, run the agent function from the top, then report CompleteAgent
// or FailAgent (a suspension was already reported by the call that
// suspended).
func (w *Worker) runAgent(ctx context.Context, info *flovynv1.AgentExecutionInfo) {
	log := w.log.With("agent_execution_id", info.GetId(), "kind", info.GetKind())
	fn := w.agents[info.GetKind()]
	if fn == nil {
		// The server filters by agent_capabilities, so this is unexpected.
		log.Error("agent kind not registered on this worker")
		w.failAgent(ctx, log, info.GetId(), fmt.Sprintf("Agent kind '%s' not registered on this worker", info.GetKind()), "AGENT_NOT_FOUND")
		return
	}
	ac, err := newAgentContext(ctx, w.c.agent, log, info)
	if err != nil {
		log.Error("agent context not created", "err", err)
		w.failAgent(ctx, log, info.GetId(), "Failed to create agent context: "+err.Error(), "CONTEXT_CREATION_FAILED")
		return
	}
	out := executeAgent(fn, ac)
	switch {
	case out.suspended:
		w.agentStats.suspended.Add(1)
		log.Debug("agent suspended")
	case out.failure != "":
		w.failAgent(ctx, log, info.GetId(), out.failure, "")
	default:
		// Entries and tasks buffered since the last commit point are sent
		// before completing (a failure here is only logged, as in the Rust
		// SDK).
		ac.mu.Lock()
		err := ac.commit(false)
		ac.mu.Unlock()
		if err != nil {
			log.Warn("flushing the agent's last entries failed", "err", err)
		}
		if _, err := w.c.agent.CompleteAgent(ctx, &flovynv1.CompleteAgentRequest{AgentExecutionId: info.GetId(), Output: out.output}); err != nil {
			logReport(log, "complete agent failed", err)
			return
		}
		w.agentStats.completed.Add(1)
		log.Debug("agent completed")
	}
}

func (w *Worker) failAgent(ctx context.Context, log *slog.Logger, id, msg, failureType string) {
	req := &flovynv1.FailAgentRequest{AgentExecutionId: id, Error: msg}
	if failureType != "" {
		req.FailureType = &failureType
	}
	if _, err := w.c.agent.FailAgent(ctx, req); err != nil {
		logReport(log, "fail agent failed", err)
		return
	}
	w.agentStats.failed.Add(1)
}

// logReport logs a failed CompleteAgent / FailAgent. An execution that
// ended meanwhile (cancelled from outside) is refused with
// FailedPrecondition: nothing is wrong with the worker then.
func logReport(log *slog.Logger, msg string, err error) {
	if status.Code(err) == codes.FailedPrecondition {
		log.Info(msg+": the agent execution has already ended", "err", err)
		return
	}
	log.Error(msg, "err", err)
}

type agentOutcome struct {
	suspended bool
	output    []byte // on success
	failure   string // non-empty: FailAgent with it
}

// executeAgent runs fn until it returns or suspends and says how it ended.
func executeAgent(fn AgentFunc, ac *AgentContext) agentOutcome {
	output, failure := runToEnd("agent", func() (any, error) { return fn(ac, ac.input) })
	ac.mu.Lock()
	suspended := ac.suspended
	ac.stopped = true
	ac.mu.Unlock()
	if suspended {
		// Whatever the function did after (for instance when a suspending
		// call was made on another goroutine) is ignored: the server
		// already has the agent WAITING.
		return agentOutcome{suspended: true}
	}
	return agentOutcome{output: output, failure: failure}
}
