// Package sdk is a Go worker and client SDK for flovyn, a durable workflow
// engine. It speaks the same gRPC protocol (package flovyn.v1) as the native
// Rust Flovyn SDK, so workers written with it run against any server that the
// Flovyn SDKs run against, and vice versa.
//
// # Connecting
//
//	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: "http://localhost:9090", Token: token})
//
// Every RPC carries "authorization: Bearer <token>".
//
// # Workflows
//
// A workflow is a deterministic function. Each time the server hands the
// workflow to a worker, the SDK fetches the full event history and runs the
// function again from the start. Calls on the [WorkflowContext] (tasks,
// timers, promises, child workflows, Run, state, signals) are matched against
// that history: work already recorded returns its recorded result, new work
// becomes a command sent back to the server. When the function waits for
// something the history does not contain yet, the SDK stops it (the workflow
// goroutine exits through [runtime.Goexit], running its deferred calls) and
// reports the workflow as suspended; the server dispatches it again when the
// awaited result arrives.
//
// Rules for workflow code:
//   - call WorkflowContext methods and Future.Get only from the workflow's own
//     goroutine;
//   - do not read the clock, random numbers, the network or files directly;
//     use ctx.Now, ctx.RandomUUID, tasks and ctx.Run;
//   - do not recover() the SDK's suspension (it uses runtime.Goexit, which
//     recover cannot catch, so ordinary code is safe).
//
// Replay matching follows the Rust SDK: the i-th ScheduleTask / Timer /
// Promise / child / Run / SetState|ClearState call matches the i-th event of
// that kind in history, and terminal results are found by id or name.
// A mismatch (for example a different task kind at the same position) is a
// determinism violation and fails the workflow with "Determinism violation: …".
//
// Decisions where this SDK goes beyond (or differs from) the Rust SDK:
//   - Select and All decide by history order (the future settled by the
//     earliest event wins), never by argument order, so a choice made in one
//     workflow task is the same on every later replay.
//   - Workflow state is rebuilt while replaying the workflow's own SetState /
//     ClearState calls (GetState sees the state as of that point of the code),
//     not preloaded from the whole history.
//   - WaitSignal returns the signal value itself (as the FFI SDKs do), not a
//     {signalName, signalValue} wrapper.
//   - A determinism violation fails the workflow even if user code ignores the
//     error; a panic in workflow code fails the workflow with "workflow
//     panicked: …" (the Rust SDK submits nothing and leaves it to reclaim).
//   - A workflow kind not registered on the worker is abandoned without a
//     submit, like the Rust SDK; an unknown task kind is failed with
//     "Task kind not found: <kind>".
//
// # Tasks
//
// Tasks are ordinary (non-deterministic) functions executed by a task worker.
// Retries of failed tasks are decided by the server; a task function simply
// returns an error to fail the current attempt.
//
// # Agents
//
// An agent is a long-running execution (typically an LLM conversation)
// that recovers from checkpoints instead of replaying a history. Register it
// with Worker.RegisterAgent; agents are created from outside (REST: POST
// /api/orgs/{slug}/agent-executions, or `flovyn agent start`).
//
//	w.RegisterAgent("researcher", func(ctx *sdk.AgentContext, input json.RawMessage) (any, error) {
//		ctx.AppendEntry(sdk.RoleUser, input)
//		a := ctx.ScheduleTask("search", map[string]string{"q": "go"}, sdk.AgentTaskOptions{})
//		b := ctx.ScheduleTask("search", map[string]string{"q": "rust"}, sdk.AgentTaskOptions{})
//		results, err := ctx.JoinAll(a, b) // suspends until both are done
//		if err != nil {
//			return nil, err
//		}
//		return map[string]any{"results": results}, nil
//	})
//
// The agent protocol is the Rust SDK's (AgentDispatch), call for call, so a
// Go agent and a Rust agent behave the same against the server. On every
// dispatch the SDK reads the latest checkpoint (when there is one) and the
// conversation entries, then runs the agent function from the top with
// [AgentContext.State] holding the checkpointed state. Entries and task
// schedules are buffered and sent at commit points (Checkpoint, Flush, the
// combinators, the waits, the end of the function). A task's id is computed
// by the SDK from the agent id, the task kind and the canonical JSON of the
// input ([AgentTaskKey], [AgentTaskID]); the server makes scheduling
// idempotent on it, so a resumed agent that schedules the same tasks again
// finds the ones it scheduled before.
//
// When an agent must wait (JoinAll, JoinAllSettled or SelectOk with tasks
// still running, WaitSignal without a signal, JoinChildren, SelectChild),
// the SDK checkpoints the current state, calls SuspendAgent with the wait
// condition and stops the agent function as it stops a suspended workflow:
// the goroutine exits through [runtime.Goexit], running its deferred calls,
// and the call never returns. Later context calls (from deferred functions,
// say) return [ErrAgentStopped]. The server dispatches the agent again when
// the condition holds, and the function runs from the top. Unlike an error
// value, a suspension cannot be swallowed by user code by mistake. So:
//   - call the AgentContext methods that may wait only from the agent
//     function's own goroutine;
//   - code before the last wait runs again on every dispatch: make it
//     idempotent (tasks are, by their ids) or skip it by looking at State;
//     entries appended again are new entries.
//
// A returned error fails the agent (FailAgent with err.Error()), a panic
// fails it with "agent panicked: …", a returned value completes it.
//
// Decisions where this SDK differs from the Rust SDK (none changes what a
// Rust agent would send in the Rust fixtures' flows):
//   - CancelTask of a task still buffered sends it first (the Rust SDK would
//     ask the server to cancel a task it does not know yet);
//   - WaitSignal keeps the extra signals one ConsumeSignals returned for the
//     next WaitSignal or DrainSignals of the same dispatch (the Rust SDK
//     drops them);
//   - JoinChildren waits until every listed child has ended (the Rust SDK
//     counts signal events as well);
//   - SetState changes the state without a checkpoint; it is stored by the
//     next one, including the one before a suspension.
//
// # Workers
//
//	w := sdk.NewWorker(c, sdk.WorkerOptions{Queue: "default"})
//	w.RegisterWorkflow("hello", helloWorkflow)
//	w.RegisterTask("greet", greetTask)
//	w.RegisterAgent("researcher", researcher)
//	err := w.Run(ctx) // until ctx is cancelled
//
// One worker polls its queue for workflow tasks, tasks and agents (up to
// MaxConcurrentAgents at once, default 5), under the worker id the server
// gave it at registration. Tasks scheduled by agents are ordinary tasks:
// the task side of any worker on their queue runs them.
package sdk
