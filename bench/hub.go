package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// The hub: completions and task deliveries the workers report, and the
// slog handler through which they arrive.

type completion struct {
	at     time.Time
	failed bool
}

type hub struct {
	mu        sync.Mutex
	waiters   map[string]chan completion // by execution id
	delivered map[string]time.Time       // task execution id → task function called
	resumed   map[string]time.Time       // agent execution id → its function last called
	problems  int
	samples   []string
}

func newHub() *hub {
	return &hub{waiters: map[string]chan completion{}, delivered: map[string]time.Time{}, resumed: map[string]time.Time{}}
}

// ch returns the channel of an execution; a completion may arrive before its
// starter got the StartWorkflow response, so either side may create it.
func (h *hub) ch(id string) chan completion {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.waiters[id]
	if !ok {
		c = make(chan completion, 1)
		h.waiters[id] = c
	}
	return c
}

func (h *hub) complete(id string, c completion) {
	select {
	case h.ch(id) <- c:
	default:
	}
}

func (h *hub) wait(ctx context.Context, id string) (completion, bool) {
	c := h.ch(id)
	t := time.NewTimer(waitTimeout)
	defer t.Stop()
	select {
	case r := <-c:
		h.mu.Lock()
		delete(h.waiters, id)
		h.mu.Unlock()
		return r, true
	case <-t.C:
	case <-ctx.Done():
	}
	return completion{}, false
}

func (h *hub) deliver(taskID string, at time.Time) { h.record(&h.delivered, taskID, at) }

// takeDeliveries returns and forgets when each task function was called.
func (h *hub) takeDeliveries() map[string]time.Time { return h.take(&h.delivered) }

// dispatched records that agent id's function was called now.
func (h *hub) dispatched(id string, at time.Time) { h.record(&h.resumed, id, at) }

// takeDispatches returns and forgets the last dispatch of every agent.
func (h *hub) takeDispatches() map[string]time.Time { return h.take(&h.resumed) }

func (h *hub) record(m *map[string]time.Time, id string, at time.Time) {
	h.mu.Lock()
	(*m)[id] = at
	h.mu.Unlock()
}

func (h *hub) take(m *map[string]time.Time) map[string]time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := *m
	*m = map[string]time.Time{}
	return d
}

func (h *hub) problem(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems++
	if len(h.samples) < 10 {
		h.samples = append(h.samples, s)
	}
}

func (h *hub) problemReport() (int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.problems, slices.Clone(h.samples)
}

// hookHandler is the workers' slog handler: it turns the SDK's "workflow task
// done" records into completions and keeps warnings and errors.
type hookHandler struct {
	h     *hub
	attrs []slog.Attr
}

func (x hookHandler) Enabled(context.Context, slog.Level) bool { return true }
func (x hookHandler) WithGroup(string) slog.Handler            { return x }
func (x hookHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return hookHandler{x.h, append(slices.Clip(x.attrs), as...)}
}

func (x hookHandler) Handle(_ context.Context, r slog.Record) error {
	attr := func(key string) string {
		for _, a := range x.attrs {
			if a.Key == key {
				return a.Value.String()
			}
		}
		var v string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value.String()
				return false
			}
			return true
		})
		return v
	}
	if r.Message == "agent completed" { // logged right after CompleteAgent returned
		x.h.complete(attr("agent_execution_id"), completion{at: r.Time})
		return nil
	}
	if r.Message == "workflow task done" {
		// r.Time was taken right after SubmitWorkflowCommands returned.
		switch attr("status") {
		case "COMPLETED":
			x.h.complete(attr("execution_id"), completion{at: r.Time})
		case "FAILED":
			x.h.complete(attr("execution_id"), completion{at: r.Time, failed: true})
		}
		return nil
	}
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
		for _, a := range x.attrs {
			fmt.Fprintf(&b, " %s", a)
		}
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s", a); return true })
		x.h.problem(b.String())
	}
	return nil
}
