package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// firers is how many timers fire at once: each firing is its own
// transaction, and running a few side by side keeps a burst from queueing.
const firers = 4

// fireDue fires every due timer and promise timeout, one transaction each.
func (e *Engine) fireDue(ctx context.Context) error {
	fire := func(fn func(tx *store.Tx, fx *effects) error) error {
		// Look once; only a due item is worth starting the firers for.
		if err := e.changeOrFail(ctx, fn); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		errs := make([]error, firers)
		var wg sync.WaitGroup
		for i := range firers {
			wg.Go(func() {
				for {
					err := e.changeOrFail(ctx, fn)
					if err != nil {
						if !errors.Is(err, ErrNotFound) {
							errs[i] = err
						}
						return
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	err := fire(func(tx *store.Tx, fx *effects) error {
		tenant, wf, timerID, err := tx.DueTimer(ctx)
		if err != nil {
			return err
		}
		_, err = e.wake(ctx, tx, fx, tenant, wf, EventTimerFired, timerData{TimerID: timerID})
		return err
	})
	if err != nil {
		return err
	}
	return fire(func(tx *store.Tx, fx *effects) error {
		p, err := tx.DuePromiseTimeout(ctx)
		if err != nil {
			return err
		}
		_, err = e.wake(ctx, tx, fx, p.TenantID, p.WorkflowID, EventPromiseTimeout, promiseTimeoutData{PromiseID: p.ID.String(), PromiseName: p.Name})
		return err
	})
}

// reclaim offers again the work whose lease ran out.
func (e *Engine) reclaim(ctx context.Context) error {
	wfs, err := e.st.ReclaimWorkflows(ctx)
	if err != nil {
		return err
	}
	for _, w := range wfs {
		e.log.Info("reclaimed workflow task", "workflow", w.ID, "kind", w.Kind)
		e.hub.Notify(notify.Key{Tenant: w.TenantID, Queue: w.Queue, Kind: notify.Workflows})
	}
	tasks, err := e.st.ReclaimTasks(ctx)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		e.log.Info("reclaimed task", "task", t.ID, "kind", t.Kind, "attempt", t.ExecutionCount)
		e.hub.Notify(notify.Key{Tenant: t.TenantID, Queue: t.Queue, Kind: notify.Tasks})
	}
	_, err = e.ReclaimAgents(ctx)
	return err
}

func (e *Engine) extendLeases(ctx context.Context) error {
	// A dropped task's last renewal ends at most a worker timeout after the
	// drop (plus a renewal in flight then); half a timeout more is margin.
	keep := e.cfg.WorkerTimeout + e.cfg.WorkerTimeout/2
	return e.st.ExtendLeases(ctx, e.presence.Workers(), e.dropped.list(keep), e.cfg.WorkerTimeout, e.cfg.WorkflowTaskLease)
}

// droppedTasks are tasks whose connected worker is no longer running them
// (see Engine.reported). An entry is kept long enough for the task's last
// renewed lease to run out; from then on the lease is past and
// ExtendTaskLeases leaves it alone anyway. (Should the task be reclaimed and
// claimed again within that time, the new attempt's lease is not renewed
// either until the entry goes: an attempt running longer than the worker
// timeout then may be offered once more — at least once, never stuck.)
type droppedTasks struct {
	mu sync.Mutex
	at map[store.TaskRef]time.Time
}

func (d *droppedTasks) add(id store.TaskRef) {
	d.mu.Lock()
	d.at[id] = time.Now()
	d.mu.Unlock()
}

// list returns the tasks dropped within keep, forgetting older ones.
func (d *droppedTasks) list(keep time.Duration) []store.TaskRef {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]store.TaskRef, 0, len(d.at))
	for id, at := range d.at {
		if time.Since(at) > keep {
			delete(d.at, id)
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// ConnectionClosed is told when a worker connection ends: work held by
// workers with no other connection is reclaimed at once.
func (e *Engine) ConnectionClosed(ctx context.Context, conn uint64) {
	gone := e.presence.Closed(conn)
	if len(gone) == 0 {
		return
	}
	if err := e.st.ExpireLeases(ctx, gone); err != nil {
		e.log.Warn("could not release the work of disconnected workers", "workers", gone, "err", err)
		return
	}
	if err := e.reclaim(ctx); err != nil {
		e.log.Warn("reclaim after disconnect failed", "err", err)
	}
}
