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
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/internal/service"
	"github.com/flovyn/flovyn/internal/ttlcache"
	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// Config holds the dispatch knobs.
type Config struct {
	// PollHold is how long an empty poll waits for work; 0 answers at once.
	PollHold time.Duration
	// WorkflowTaskLease is how long a worker may hold a workflow task.
	WorkflowTaskLease time.Duration
	// WorkerTimeout is the lease of work held through this replica: the
	// replica renews it while the worker's connection lives, so work held
	// through a replica that died is offered again once it runs out. It is
	// also how long a task stays with a worker that is no longer
	// connected before it is offered again.
	WorkerTimeout time.Duration
	// RecheckInterval bounds the cost of a lost wake-up.
	RecheckInterval time.Duration
	// MaxPayloadBytes bounds each payload (limits.DefaultMaxPayloadBytes).
	MaxPayloadBytes int
	// MaxHistoryBytes bounds a workflow's history as GetEvents sends it
	// (limits.DefaultMaxHistoryBytes); HistoryWarnBytes logs a warning.
	MaxHistoryBytes  int
	HistoryWarnBytes int
}

// DefaultWorkerTimeout keeps a crashed replica's work from waiting long:
// with the reclaim's recheck it is offered again within about 11 s.
const DefaultWorkerTimeout = 10 * time.Second

// Engine applies the rules. It is safe for concurrent use.
type Engine struct {
	st  *store.Store
	hub *notify.Hub
	cfg Config
	log *slog.Logger

	// The background services (services.go).
	timers, taskDeadlines, reclaimer, leases *service.Service

	kinds       *ttlcache.Cache[kindsKey, []string]
	tenantsSeen *ttlcache.Cache[uuid.UUID, bool]

	bg       background
	presence *Presence
	// dropped are tasks whose worker let go of them without the result
	// being recorded; their leases are not renewed.
	dropped *droppedTasks
	offers  *offers
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
		cfg.WorkerTimeout = DefaultWorkerTimeout
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = limits.DefaultMaxPayloadBytes
	}
	if cfg.MaxHistoryBytes <= 0 {
		cfg.MaxHistoryBytes = limits.DefaultMaxHistoryBytes
	}
	if cfg.HistoryWarnBytes <= 0 {
		cfg.HistoryWarnBytes = min(limits.DefaultHistoryWarnBytes, cfg.MaxHistoryBytes)
	}
	e := &Engine{st: st, hub: hub, cfg: cfg, log: log,
		kinds: ttlcache.New[kindsKey, []string](kindsCacheTTL, kindsCacheSize), presence: newPresence(), tenantsSeen: newTenantsSeen(),
		dropped: &droppedTasks{at: map[store.TaskRef]time.Time{}}, offers: newOffers()}
	e.newServices()
	return e
}

// Presence is the registry of connected workers the API layer feeds.
func (e *Engine) Presence() *Presence { return e.presence }

// Errors the API layers map onto their status codes. ErrNotFound and
// ErrConflict are the store's own, so one errors.Is answers for both.
var (
	// ErrNotFound means no such row in the caller's tenant.
	ErrNotFound = store.ErrNotFound
	// ErrConflict means a unique value (a slug, a key) is already taken.
	ErrConflict = store.ErrConflict
	// ErrTerminal means the workflow has ended and the request would change it.
	ErrTerminal = errors.New("workflow has already ended")
	// ErrNotHeld means a workflow task result arrived for a workflow no worker holds.
	ErrNotHeld = errors.New("workflow task is not held by a worker")
)

// InvalidError is bad input, naming the field at fault: the edges' limits
// and the engine's rules report it alike.
type InvalidError = limits.Error

// TooLargeError is a payload or a history over its configured limit.
type TooLargeError = limits.TooLargeError

func invalid(field, format string, args ...any) error {
	return limits.Invalid(field, format, args...)
}

// payload checks the size of a payload against the configured limit.
func (e *Engine) payload(field string, b json.RawMessage) error {
	return limits.Payload(field, b, e.cfg.MaxPayloadBytes)
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

	offers *offers
	// runnable are the workflows the change makes PENDING: each is handed
	// to a waiting poller as it is saved, or announced after commit.
	runnable []runnableWorkflow
	// handoffs are the offers the change took, with what it claimed for
	// them (delivered after commit; given back empty if it does not commit).
	handoffs []handoff
}

type runnableWorkflow struct {
	w      *Workflow
	key    notify.Key
	handed bool
}

type delayed struct {
	key notify.Key
	at  time.Time
}

func (fx *effects) workflowRunnable(w *Workflow) {
	fx.runnable = append(fx.runnable, runnableWorkflow{w: w, key: notify.Key{Tenant: w.TenantID, Queue: w.Queue, Kind: notify.Workflows}})
}

// take takes a waiting poller's offer for work of kind under key.
func (fx *effects) take(key notify.Key, kind string) *offer {
	o := fx.offers.take(key, kind)
	if o != nil {
		fx.handoffs = append(fx.handoffs, handoff{o: o})
	}
	return o
}

// handOver records what the change claimed for the offer it took.
func (fx *effects) handOver(o *offer, row any) {
	for i := range fx.handoffs {
		if fx.handoffs[i].o == o {
			fx.handoffs[i].row = row
		}
	}
}

// giveBack returns the offers a change took that did not commit.
func (fx *effects) giveBack() {
	for _, h := range fx.handoffs {
		h.o.result <- nil
	}
	fx.handoffs = nil
}

// insertTask creates a task, PENDING, or RUNNING for a poller waiting for
// its kind on this replica, to which it is handed; false when its id
// exists already.
func (e *Engine) insertTask(ctx context.Context, tx *store.Tx, fx *effects, t Task, prioritySeconds int32) (bool, error) {
	key := notify.Key{Tenant: t.TenantID, Queue: t.Queue, Kind: notify.Tasks}
	if o := fx.take(key, t.Kind); o != nil {
		claimed, created, err := tx.InsertClaimedTask(ctx, t, prioritySeconds, o.worker, e.cfg.WorkerTimeout)
		if created {
			fx.handOver(o, claimed)
		}
		return created, err // not created: the offer goes back empty
	}
	created, err := tx.InsertTask(ctx, t, prioritySeconds)
	if created {
		fx.notify = append(fx.notify, key)
	}
	return created, err
}

// taskRunnable makes a task the transaction created claimable: handed to
// a poller waiting for its kind on this replica, or announced.
func (e *Engine) taskRunnable(ctx context.Context, tx *store.Tx, fx *effects, t Task) error {
	return runnable(fx, notify.Key{Tenant: t.TenantID, Queue: t.Queue, Kind: notify.Tasks}, t.Kind, func(worker string) (Task, error) {
		return tx.ClaimTaskByID(ctx, t.TenantID, t.ID, worker, e.cfg.WorkerTimeout)
	})
}

// runnable hands work of kind the transaction made claimable under key to
// a poller waiting for it, claimed for its worker by claim (ErrNotFound:
// not claimable after all); otherwise it announces the work.
func runnable[T any](fx *effects, key notify.Key, kind string, claim func(worker string) (T, error)) error {
	if o := fx.take(key, kind); o != nil {
		claimed, err := claim(o.worker)
		if err == nil {
			fx.handOver(o, claimed)
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	fx.notify = append(fx.notify, key)
	return nil
}

// timerIn announces a timer or timeout due in d. The database decides when
// it is due (its own clock); this only tells the scheduler when to look.
func (fx *effects) timerIn(d time.Duration) { fx.timerAt(time.Now().Add(d)) }

func (fx *effects) timerAt(at time.Time) {
	if fx.timer.IsZero() || at.Before(fx.timer) {
		fx.timer = at
	}
}

// changeOrFail is change for what workers and the server's own loops
// report (task results, timers, children, submissions). When fn would grow
// a workflow's history past the limit, that workflow fails instead — its
// history must always fit in what a worker can receive — and fn runs once
// more, against the failed workflow.
func (e *Engine) changeOrFail(ctx context.Context, fn func(tx *store.Tx, fx *effects) error) error {
	err := e.change(ctx, fn)
	var full *historyFullError
	if !errors.As(err, &full) {
		return err
	}
	if err := e.failOversized(ctx, full); err != nil {
		return err
	}
	return e.change(ctx, fn)
}

// failOversized fails a workflow whose history reached its limit.
func (e *Engine) failOversized(ctx context.Context, full *historyFullError) error {
	e.log.Warn("workflow failed: its history reached the limit", "workflow", full.workflow, "err", full.tooLarge)
	return e.change(ctx, func(tx *store.Tx, fx *effects) error {
		wf, err := tx.LockWorkflow(ctx, full.tenant, full.workflow)
		if err != nil || wf.Terminal() {
			return err
		}
		h := &history{wf: &wf, mustLand: true}
		msg := fmt.Sprintf("history size limit exceeded: the change would make it %d bytes, over max_history_bytes (%d)",
			full.tooLarge.Size, full.tooLarge.Max)
		c := &submission{e: e, tx: tx, fx: fx, h: h}
		if err := (FailWorkflow{Error: msg, FailureType: "HISTORY_SIZE_LIMIT_EXCEEDED"}).apply(ctx, c); err != nil {
			return err
		}
		if err := e.stopWork(ctx, tx, fx, &wf, "workflow failed: "+msg); err != nil {
			return err
		}
		return e.save(ctx, tx, fx, h, true)
	})
}

// change runs fn in a transaction and publishes its effects after commit.
// A transaction PostgreSQL aborted to break a deadlock is run again.
func (e *Engine) change(ctx context.Context, fn func(tx *store.Tx, fx *effects) error) error {
	var fx effects
	run := func() error {
		err := e.st.InTx(ctx, func(tx *store.Tx) error {
			fx = effects{offers: e.offers}
			return fn(tx, &fx)
		})
		if err != nil {
			fx.giveBack()
		}
		return err
	}
	err := run()
	for attempt := 1; attempt < 3 && store.IsRetryable(err); attempt++ {
		err = run()
	}
	if err != nil {
		return store.Refused(err)
	}
	for _, h := range fx.handoffs {
		h.o.result <- h.row
	}
	for _, k := range fx.notify {
		e.hub.Notify(k)
	}
	for _, r := range fx.runnable {
		if !r.handed {
			e.hub.Notify(r.key)
		}
	}
	if !fx.timer.IsZero() {
		e.announceTimer(fx.timer)
	}
	for _, d := range fx.retry {
		e.after(time.Until(d.at), func() { e.hub.Notify(d.key) })
	}
	for _, f := range fx.after {
		f()
	}
	return nil
}

// history collects the events one change appends to a workflow, numbering
// them after the workflow's last sequence, in the order they are added.
type history struct {
	wf     *Workflow
	events []Event
	added  int // bytes, as store.EventSize counts them
	// mustLand exempts the change from the history limit: a cancellation
	// or the failure that reports the limit itself.
	mustLand bool
}

func (h *history) add(eventType string, data any) int32 {
	b, err := json.Marshal(data)
	if err != nil {
		panic("engine: event data does not marshal: " + err.Error())
	}
	h.wf.LastSequence++
	ev := Event{Sequence: h.wf.LastSequence, Type: eventType, Data: b}
	h.events = append(h.events, ev)
	h.added += store.EventSize(ev)
	return h.wf.LastSequence
}

// historyFullError is a change that would grow a workflow's history past
// the limit. Nothing of it is stored.
type historyFullError struct {
	tenant, workflow uuid.UUID
	tooLarge         *TooLargeError
}

func (e *historyFullError) Error() string { return e.tooLarge.Error() }
func (e *historyFullError) Unwrap() error { return e.tooLarge }

// save appends h's events and writes the workflow row back. A history
// that would pass the limit is refused, unless the change ends the
// workflow (no worker replays an ended workflow) or must land anyway.
func (e *Engine) save(ctx context.Context, tx *store.Tx, fx *effects, h *history, releaseWorker bool) error {
	return e.write(fx, h, releaseWorker, func(u store.WorkflowUpdate) (*Workflow, error) {
		return tx.SaveWorkflow(ctx, h.wf.TenantID, h.wf.ID, h.events, u)
	})
}

// write checks a change to h's workflow against the history limit, hands
// the workflow to a waiting poller when the change makes it runnable, and
// writes it with put (SaveWorkflow, or CreateWorkflow for a new one).
func (e *Engine) write(fx *effects, h *history, releaseWorker bool, put func(store.WorkflowUpdate) (*Workflow, error)) error {
	w := h.wf
	if size := w.HistoryBytes + int64(h.added); h.added > 0 && !w.Terminal() && !h.mustLand {
		if size > int64(e.cfg.MaxHistoryBytes) {
			return &historyFullError{tenant: w.TenantID, workflow: w.ID, tooLarge: &TooLargeError{
				Field: "history of " + w.ID.String(), Limit: "max_history_bytes", Size: int(size), Max: e.cfg.MaxHistoryBytes}}
		}
		if warn := int64(e.cfg.HistoryWarnBytes); w.HistoryBytes <= warn && size > warn {
			e.log.Warn("workflow history is growing near its limit", "workflow", w.ID, "bytes", size,
				"max_history_bytes", e.cfg.MaxHistoryBytes)
		}
	}
	u := store.WorkflowUpdate{
		Status: w.Status, LastSequence: w.LastSequence, WakePending: w.WakePending, CancelRequested: w.CancelRequested,
		Output: w.Output, Error: w.Error, TaskTimeMs: w.TaskTimeMs, ReleaseWorker: releaseWorker,
	}
	o := e.handToPoller(fx, w)
	if o != nil {
		u.Status, u.ClaimFor, u.Lease = StatusRunning, o.worker, e.workflowTaskLease()
	}
	claimed, err := put(u)
	if err != nil || o == nil {
		return err
	}
	*w = *claimed
	fx.handOver(o, *claimed)
	return nil
}

// handToPoller takes, for a workflow the change made runnable and saves
// PENDING, the offer of a poller waiting for its kind on this replica.
func (e *Engine) handToPoller(fx *effects, w *Workflow) *offer {
	if w.Status != StatusPending {
		return nil
	}
	for i := range fx.runnable {
		if r := &fx.runnable[i]; r.w == w && !r.handed {
			o := fx.take(r.key, w.Kind)
			r.handed = o != nil
			return o
		}
	}
	return nil
}

// workflowTaskLease is the lease of a claimed workflow task: renewed while
// its worker stays connected, never past workflow_task_lease.
func (e *Engine) workflowTaskLease() time.Duration {
	return min(e.cfg.WorkflowTaskLease, e.cfg.WorkerTimeout)
}

// makeRunnable is the one place a workflow becomes runnable after a wake-up
// event: a waiting workflow goes back to PENDING with a new task time; one
// a worker holds is marked so its SUSPENDED submit re-queues it at once.
func makeRunnable(w *Workflow, fx *effects) {
	switch w.Status {
	case StatusWaiting:
		w.Status = StatusPending
		w.TaskTimeMs = store.TaskTimeNow
		fx.workflowRunnable(w)
	case StatusRunning:
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
	return seq, e.save(ctx, tx, fx, h, false)
}

// announceTimer tells the timer service a timer is due at at.
func (e *Engine) announceTimer(at time.Time) { e.timers.WakeAt(at) }
