package sdk

import (
	"encoding/json"
	"fmt"
)

// Future is the result of an asynchronous workflow operation: a task, a
// timer, a promise, a child workflow or a signal. Its state is decided by the
// history the workflow is replayed against, so it never changes while the
// workflow function runs: a future that is not ready stays not ready until
// the next workflow task.
//
// Get on a future that is not ready suspends the workflow.
type Future struct {
	ctx    *WorkflowContext
	id     string // task / child execution id, timer id, promise or signal name
	done   bool
	seq    int // sequence of the event that settled it; 0 = settled without one
	value  json.RawMessage
	err    error
	reason string // suspension reason while pending
}

func readyFuture(ctx *WorkflowContext, id string, seq int, v json.RawMessage, err error) *Future {
	return &Future{ctx: ctx, id: id, done: true, seq: seq, value: v, err: err}
}

func pendingFuture(ctx *WorkflowContext, id, reason string) *Future {
	return &Future{ctx: ctx, id: id, reason: reason}
}

// ID is the task execution id (tasks), the child execution id (child
// workflows), the timer id (timers), or the name (promises, signals).
func (f *Future) ID() string { return f.id }

// IsReady reports whether the future is settled in the current history.
func (f *Future) IsReady() bool { return f.done }

// Raw waits for the future and returns its JSON result.
func (f *Future) Raw() (json.RawMessage, error) {
	if !f.done {
		if err := f.ctx.suspend(f.reason); err != nil {
			return nil, err
		}
	}
	return f.value, f.err
}

// Get waits for the future and decodes its JSON result into out (which may be
// nil to discard it). It returns the operation's error, if any.
func (f *Future) Get(out any) error {
	v, err := f.Raw()
	if err != nil {
		return err
	}
	return decodeInto(v, out)
}

// Await waits for f and decodes its result as a T.
func Await[T any](f *Future) (T, error) {
	var out T
	err := f.Get(&out)
	return out, err
}

// All waits until every future has succeeded. If one of them has failed, it
// returns the error of the one that failed first in history (so the choice is
// the same on every replay) without waiting for the others.
func All(fs ...*Future) error {
	var failed *Future
	for _, f := range fs {
		if f.done && f.err != nil && (failed == nil || f.seq < failed.seq) {
			failed = f
		}
	}
	if failed != nil {
		return failed.err
	}
	for _, f := range fs {
		if _, err := f.Raw(); err != nil {
			return err
		}
	}
	return nil
}

// Select waits until at least one future is settled and returns the index of
// the one settled first in history (ties go to the lowest index). This keeps
// the choice identical on every replay. It suspends when none is ready and
// returns -1 for an empty list. Use fs[i].Get to read the winner.
func Select(fs ...*Future) int {
	best := -1
	for i, f := range fs {
		if f.done && (best < 0 || f.seq < fs[best].seq) {
			best = i
		}
	}
	if best >= 0 || len(fs) == 0 {
		return best
	}
	_ = fs[0].ctx.suspend(fs[0].reason)
	return -1
}

func decodeInto(v json.RawMessage, out any) error {
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], v...)
		return nil
	}
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	if err := json.Unmarshal(v, out); err != nil {
		return fmt.Errorf("flovyn: decode result: %w", err)
	}
	return nil
}

// Decode decodes a JSON payload (workflow or task input, a signal value…) as a T.
// Empty input decodes as JSON null, giving the zero T.
func Decode[T any](raw json.RawMessage) (T, error) {
	var out T
	err := decodeInto(raw, &out)
	return out, err
}

// encode turns a Go value into JSON payload bytes: nil is null, a
// json.RawMessage is used verbatim (empty = null), anything else goes through
// encoding/json.
func encode(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return []byte("null"), nil
	case json.RawMessage:
		if len(x) == 0 {
			return []byte("null"), nil
		}
		if !json.Valid(x) {
			return nil, fmt.Errorf("flovyn: payload is not valid JSON")
		}
		return x, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("flovyn: encode payload: %w", err)
	}
	return b, nil
}
