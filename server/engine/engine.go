// Package engine holds flovyn's rules: starting workflows, applying the
// commands workers submit, dispatching work, waking workflows up, retrying
// tasks, firing timers and reclaiming abandoned work. Every change happens
// in one database transaction; notifications go out only after it commits.
// The engine knows nothing of gRPC or HTTP.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// Config holds the dispatch knobs.
type Config struct {
	// PollHold is how long an empty poll waits for work; 0 answers at once.
	PollHold time.Duration
	// WorkflowTaskLease is how long a worker may hold a workflow task.
	WorkflowTaskLease time.Duration
	// WorkerTimeout is how long a task stays with a worker that is no longer
	// connected before it is offered again.
	WorkerTimeout time.Duration
	// RecheckInterval bounds the cost of a lost wake-up.
	RecheckInterval time.Duration
}

// Engine applies the rules. It is safe for concurrent use.
type Engine struct {
	st  *store.Store
	hub *notify.Hub
	cfg Config
	log *slog.Logger

	// kick wakes the scheduler when a new timer or timeout is due at kickAt,
	// the earliest one announced since the scheduler last looked.
	kick   chan struct{}
	kickMu sync.Mutex
	kickAt time.Time

	kindsMu sync.Mutex
	kinds   map[kindsKey]kindsEntry

	presence *Presence
	// dropped are tasks whose worker let go of them without the result
	// being recorded; their leases are not renewed.
	dropped *droppedTasks
}

// New returns an Engine.
func New(st *store.Store, hub *notify.Hub, cfg Config, log *slog.Logger) *Engine {
	if cfg.RecheckInterval <= 0 {
		cfg.RecheckInterval = time.Second
	}
	if cfg.WorkflowTaskLease <= 0 {
		cfg.WorkflowTaskLease = 30 * time.Second
	}
	if cfg.WorkerTimeout <= 0 {
		cfg.WorkerTimeout = time.Minute
	}
	return &Engine{st: st, hub: hub, cfg: cfg, log: log, kick: make(chan struct{}, 1),
		kinds: map[kindsKey]kindsEntry{}, presence: newPresence(), dropped: &droppedTasks{at: map[uuid.UUID]time.Time{}}}
}

// Presence is the registry of connected workers the API layer feeds.
func (e *Engine) Presence() *Presence { return e.presence }

// Errors the API layers map onto their status codes.
var (
	ErrNotFound = errors.New("not found")
	// ErrTerminal means the workflow has ended and the request would change it.
	ErrTerminal = errors.New("workflow has already ended")
	// ErrNotHeld means a workflow task result arrived for a workflow no worker holds.
	ErrNotHeld = errors.New("workflow task is not held by a worker")
)

// InvalidError is bad input, naming the field at fault.
type InvalidError struct {
	Field string
	Msg   string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Msg }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Payload checks a JSON payload from a request: empty means null.
func Payload(field string, b []byte) (json.RawMessage, error) {
	if len(b) == 0 {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(b) {
		return nil, invalid(field, "not valid JSON")
	}
	return json.RawMessage(b), nil
}

// effects are what a committed change must announce.
type effects struct {
	notify []notify.Key
	timer  time.Time // earliest new timer or promise timeout
	retry  []delayed // tasks that become claimable later
	// after runs once the change committed: work that takes other locks.
	after []func()
}

type delayed struct {
	key notify.Key
	at  time.Time
}

func (fx *effects) workflowRunnable(w *store.Workflow) {
	fx.notify = append(fx.notify, notify.Key{Tenant: w.TenantID, Queue: w.Queue, Kind: notify.Workflows})
}

func (fx *effects) taskRunnable(tenant uuid.UUID, queue string) {
	fx.notify = append(fx.notify, notify.Key{Tenant: tenant, Queue: queue, Kind: notify.Tasks})
}

func (fx *effects) timerAt(at time.Time) {
	if fx.timer.IsZero() || at.Before(fx.timer) {
		fx.timer = at
	}
}

// change runs fn in a transaction and publishes its effects after commit.
// A transaction PostgreSQL aborted to break a deadlock is run again.
func (e *Engine) change(ctx context.Context, fn func(tx *store.Tx, fx *effects) error) error {
	var fx effects
	run := func() error {
		return e.st.InTx(ctx, func(tx *store.Tx) error {
			fx = effects{}
			return fn(tx, &fx)
		})
	}
	err := run()
	for attempt := 1; attempt < 3 && store.IsRetryable(err); attempt++ {
		err = run()
	}
	if err != nil {
		return mapStoreErr(err)
	}
	for _, k := range fx.notify {
		e.hub.Notify(k)
	}
	if !fx.timer.IsZero() {
		e.announceTimer(fx.timer)
	}
	for _, d := range fx.retry {
		time.AfterFunc(time.Until(d.at), func() { e.hub.Notify(d.key) })
	}
	for _, f := range fx.after {
		f()
	}
	return nil
}

func mapStoreErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// history collects the events one change appends to a workflow, numbering
// them after the workflow's last sequence, in the order they are added.
type history struct {
	wf     *store.Workflow
	events []store.Event
}

func (h *history) add(eventType string, data any) int32 {
	b, err := json.Marshal(data)
	if err != nil {
		panic("engine: event data does not marshal: " + err.Error())
	}
	h.wf.LastSequence++
	h.events = append(h.events, store.Event{Sequence: h.wf.LastSequence, Type: eventType, Data: b})
	return h.wf.LastSequence
}

// save appends h's events and writes the workflow row back.
func (e *Engine) save(ctx context.Context, tx *store.Tx, h *history, releaseWorker bool) error {
	w := h.wf
	return tx.SaveWorkflow(ctx, w.ID, h.events, store.WorkflowUpdate{
		Status: w.Status, LastSequence: w.LastSequence, WakePending: w.WakePending, CancelRequested: w.CancelRequested,
		Output: w.Output, Error: w.Error, TaskTimeMs: w.TaskTimeMs, ReleaseWorker: releaseWorker,
	})
}

// makeRunnable is the one place a workflow becomes runnable after a wake-up
// event: a waiting workflow goes back to PENDING with a new task time; one
// a worker holds is marked so its SUSPENDED submit re-queues it at once.
func makeRunnable(w *store.Workflow, fx *effects) {
	switch w.Status {
	case store.StatusWaiting:
		w.Status = store.StatusPending
		w.TaskTimeMs = time.Now().UnixMilli()
		fx.workflowRunnable(w)
	case store.StatusRunning:
		w.WakePending = true
	}
}

// wake appends a wake-up event to workflow id and makes it runnable. A
// workflow that has ended is left as it is (nothing is appended).
func (e *Engine) wake(ctx context.Context, tx *store.Tx, fx *effects, tenant, id uuid.UUID, eventType string, data any) (int32, error) {
	wf, err := tx.LockWorkflow(ctx, tenant, id)
	if err != nil {
		return 0, err
	}
	if wf.Terminal() {
		return 0, nil
	}
	h := &history{wf: &wf}
	seq := h.add(eventType, data)
	makeRunnable(&wf, fx)
	return seq, e.save(ctx, tx, h, false)
}

// announceTimer tells the scheduler a timer is due at at.
func (e *Engine) announceTimer(at time.Time) {
	e.kickMu.Lock()
	if e.kickAt.IsZero() || at.Before(e.kickAt) {
		e.kickAt = at
	}
	e.kickMu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// takeAnnounced returns and forgets the earliest announced timer.
func (e *Engine) takeAnnounced() time.Time {
	e.kickMu.Lock()
	defer e.kickMu.Unlock()
	at := e.kickAt
	e.kickAt = time.Time{}
	return at
}
