// Package faults holds fault-injection tests for a flovyn deployment of
// several replicas: real `flovyn server` processes (built once per test
// binary) sharing one embedded PostgreSQL, with an embedded NATS carrying
// wake-ups between them, and Go SDK workers spread across the replicas.
//
// Each test breaks one part while workflows run — a replica killed with
// SIGKILL, a worker dying mid-task, PostgreSQL restarted, NATS stopped —
// and then checks the final histories: every workflow completed exactly
// once, sequence numbers contiguous, no duplicate TASK_COMPLETED or
// TIMER_FIRED, and nothing left pending, running or waiting.
//
// Everything listens on 127.0.0.1. The engine runs with short timings
// (500 ms poll hold, 200 ms re-check, 5 s leases) so that reclaiming
// abandoned work takes seconds; waits are generous and no test asserts on
// speed.
package faults
