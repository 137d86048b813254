package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// TaskFunc is a task implementation. input is the task input as JSON. The
// returned value is encoded with encoding/json (json.RawMessage verbatim) and
// sent with CompleteTask; a returned error is sent with FailTask and counts as
// one failed attempt (the server decides about retries).
type TaskFunc func(ctx *TaskContext, input json.RawMessage) (any, error)

// Log levels accepted by TaskContext.Log.
const (
	LevelDebug = "DEBUG"
	LevelInfo  = "INFO"
	LevelWarn  = "WARN"
	LevelError = "ERROR"
)

// TaskContext is what a running task can use: its identity, attempt number,
// progress, logs, streaming and task-scoped state.
//
// Progress, logs and stream events are sent in call order, synchronously, and
// their errors are only logged (like the Rust SDK, they never fail the task).
type TaskContext struct {
	ctx   context.Context
	c     *Client
	log   *slog.Logger
	info  *flovynv1.TaskExecutionInfo
	input json.RawMessage
	mu    sync.Mutex // orders stream events and guards seq
	seq   int32
}

// Context is the task's context.Context. It is not cancelled by worker
// shutdown (the worker waits for running tasks).
func (t *TaskContext) Context() context.Context { return t.ctx }

// TaskExecutionID is the task execution id.
func (t *TaskContext) TaskExecutionID() string { return t.info.GetTaskExecutionId() }

// WorkflowExecutionID is the owning workflow execution ("" for a standalone task).
func (t *TaskContext) WorkflowExecutionID() string { return t.info.GetWorkflowExecutionId() }

// Kind is the task kind.
func (t *TaskContext) Kind() string { return t.info.GetKind() }

// Input is the task input as JSON (null when empty).
func (t *TaskContext) Input() json.RawMessage { return t.input }

// Attempt is the 1-based attempt number (execution_count from the server).
func (t *TaskContext) Attempt() int { return int(t.info.GetExecutionCount()) }

// ReportProgress reports progress in [0,1] (clamped) with optional details.
func (t *TaskContext) ReportProgress(p float64, details string) {
	_, err := t.c.task.ReportProgress(t.ctx, &flovynv1.ReportProgressRequest{
		TaskExecutionId: t.TaskExecutionID(), Progress: clamp01(p), Details: details,
	})
	if err != nil {
		t.log.Debug("report progress failed", "err", err)
	}
}

// Log sends a log line for the task; level is one of LevelDebug, LevelInfo,
// LevelWarn, LevelError.
func (t *TaskContext) Log(level, msg string) {
	_, err := t.c.task.LogMessage(t.ctx, &flovynv1.LogMessageRequest{
		TaskExecutionId: t.TaskExecutionID(), Level: level, Message: msg,
	})
	if err != nil {
		t.log.Debug("log message failed", "err", err)
	}
}

// StreamToken streams a text token (e.g. from an LLM).
func (t *TaskContext) StreamToken(text string) {
	t.stream(flovynv1.StreamEventType_TOKEN, map[string]any{"type": "token", "text": text})
}

// StreamProgress streams a progress event in [0,1] (clamped); details may be "".
func (t *TaskContext) StreamProgress(p float64, details string) {
	ev := map[string]any{"type": "progress", "progress": clamp01(p)}
	if details != "" {
		ev["details"] = details
	}
	t.stream(flovynv1.StreamEventType_PROGRESS, ev)
}

// StreamData streams an arbitrary JSON value.
func (t *TaskContext) StreamData(v any) {
	payload, err := encode(v)
	if err != nil {
		t.log.Debug("stream data not encodable", "err", err)
		return
	}
	t.stream(flovynv1.StreamEventType_DATA, map[string]any{"type": "data", "data": json.RawMessage(payload)})
}

// StreamError streams an error notification; code may be "".
func (t *TaskContext) StreamError(message, code string) {
	ev := map[string]any{"type": "error", "message": message}
	if code != "" {
		ev["code"] = code
	}
	t.stream(flovynv1.StreamEventType_ERROR, ev)
}

func (t *TaskContext) stream(typ flovynv1.StreamEventType, ev map[string]any) {
	payload, err := json.Marshal(ev)
	if err != nil {
		t.log.Debug("stream event not encodable", "err", err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	seq := t.seq
	t.seq++
	_, err = t.c.task.StreamTaskData(t.ctx, &flovynv1.StreamTaskDataRequest{
		TaskExecutionId:     t.TaskExecutionID(),
		WorkflowExecutionId: t.WorkflowExecutionID(),
		Sequence:            seq,
		Type:                typ,
		Payload:             string(payload),
		TimestampMs:         time.Now().UnixMilli(),
	})
	if err != nil {
		t.log.Debug("stream task data failed", "err", err)
	}
}

func clamp01(p float64) float64 {
	switch {
	case p < 0 || math.IsNaN(p):
		return 0
	case p > 1:
		return 1
	}
	return p
}

// GetState reads a task-scoped state key into out and reports whether it exists.
func (t *TaskContext) GetState(key string, out any) (bool, error) {
	resp, err := t.c.task.GetState(t.ctx, &flovynv1.GetStateRequest{TaskExecutionId: t.TaskExecutionID(), Key: key})
	if err != nil {
		return false, fmt.Errorf("flovyn: get task state %q: %w", key, err)
	}
	if !resp.GetFound() {
		return false, nil
	}
	return true, decodeInto(resp.GetValue(), out)
}

// SetState writes a task-scoped state key.
func (t *TaskContext) SetState(key string, v any) error {
	payload, err := encode(v)
	if err != nil {
		return err
	}
	_, err = t.c.task.SetState(t.ctx, &flovynv1.SetStateRequest{TaskExecutionId: t.TaskExecutionID(), Key: key, Value: payload})
	if err != nil {
		return fmt.Errorf("flovyn: set task state %q: %w", key, err)
	}
	return nil
}

// ClearState removes a task-scoped state key.
func (t *TaskContext) ClearState(key string) error {
	if _, err := t.c.task.ClearState(t.ctx, &flovynv1.ClearStateRequest{TaskExecutionId: t.TaskExecutionID(), Key: key}); err != nil {
		return fmt.Errorf("flovyn: clear task state %q: %w", key, err)
	}
	return nil
}

// StateKeys lists the task-scoped state keys.
func (t *TaskContext) StateKeys() ([]string, error) {
	resp, err := t.c.task.GetStateKeys(t.ctx, &flovynv1.GetStateKeysRequest{TaskExecutionId: t.TaskExecutionID()})
	if err != nil {
		return nil, fmt.Errorf("flovyn: task state keys: %w", err)
	}
	return resp.GetKeys(), nil
}

// runTask executes one polled task and reports CompleteTask or FailTask.
func (w *Worker) runTask(ctx context.Context, info *flovynv1.TaskExecutionInfo) {
	log := w.log.With("task_execution_id", info.GetTaskExecutionId(), "kind", info.GetKind())
	id := info.GetTaskExecutionId()
	fn := w.tasks[info.GetKind()]
	if fn == nil {
		w.failTask(ctx, log, id, "Task kind not found: "+info.GetKind())
		return
	}
	input := json.RawMessage(info.GetInput())
	if len(input) == 0 || !json.Valid(input) {
		input = json.RawMessage("null")
	}
	tc := &TaskContext{ctx: ctx, c: w.c, log: log, info: info, input: input}
	out, err := callTask(fn, tc, input)
	if err != nil {
		w.failTask(ctx, log, id, err.Error())
		return
	}
	payload, err := encode(out)
	if err != nil {
		w.failTask(ctx, log, id, err.Error())
		return
	}
	if _, err := w.c.task.CompleteTask(ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: payload}); err != nil {
		log.Error("complete task failed", "err", err)
	}
}

func callTask(fn TaskFunc, tc *TaskContext, input json.RawMessage) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("task panicked: %v", r)
		}
	}()
	return fn(tc, input)
}

func (w *Worker) failTask(ctx context.Context, log *slog.Logger, id, msg string) {
	if _, err := w.c.task.FailTask(ctx, &flovynv1.FailTaskRequest{TaskExecutionId: id, Error: msg}); err != nil {
		log.Error("fail task failed", "err", err)
	}
}
