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
// # Workers
//
//	w := sdk.NewWorker(c, sdk.WorkerOptions{Queue: "default"})
//	w.RegisterWorkflow("hello", helloWorkflow)
//	w.RegisterTask("greet", greetTask)
//	err := w.Run(ctx) // until ctx is cancelled
package sdk
