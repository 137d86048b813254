package engine

import (
	"context"
	"time"

	"github.com/flovyn/flovyn/internal/service"
)

// The engine's background services. Every replica runs them all; SKIP
// LOCKED makes each timer, timeout and deadline fire once. Their intervals
// come from the engine's Config: a lost wake-up costs at most
// RecheckInterval, and leases are renewed three times per WorkerTimeout.
func (e *Engine) newServices() {
	every := func(name string, interval time.Duration, work func(context.Context) error) *service.Service {
		return service.New(service.Config{Name: name, Interval: interval}, e.log,
			func(ctx context.Context) (time.Duration, error) { return 0, work(ctx) })
	}
	e.timers = service.New(service.Config{Name: "timers", Interval: e.cfg.RecheckInterval}, e.log, e.fireTimers)
	e.taskDeadlines = service.New(service.Config{Name: "task-deadlines", Interval: e.cfg.RecheckInterval}, e.log, e.endOverdueTasks)
	e.reclaimer = every("reclaim", e.cfg.RecheckInterval, e.reclaim)
	e.leases = every("lease-renewal", e.cfg.WorkerTimeout/3, e.extendLeases)
}

func (e *Engine) services() []*service.Service {
	return []*service.Service{e.timers, e.taskDeadlines, e.reclaimer, e.leases}
}

// Start starts the background services; they run until ctx ends or Stop.
func (e *Engine) Start(ctx context.Context) error {
	for _, s := range e.services() {
		if err := s.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops the background services and waits for their runs in progress.
func (e *Engine) Stop() {
	for _, s := range e.services() {
		s.Stop()
	}
}

// Run runs the background services until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	if err := e.Start(ctx); err != nil {
		e.log.Error("engine services did not start", "err", err)
		return
	}
	<-ctx.Done()
	e.Stop()
}

// fireTimers fires every due timer and promise timeout, and says when the
// next one is due by the database's clock.
func (e *Engine) fireTimers(ctx context.Context) (time.Duration, error) {
	if err := e.fireDue(ctx); err != nil {
		return 0, err
	}
	in, err := e.st.NextTimerIn(ctx)
	if err != nil {
		return 0, nil // none pending (or the database will say so next time)
	}
	return dueIn(in), nil
}

// dueIn is the wait before the next run for something due in in: at once
// when it is due later, shortly when it is overdue (another transaction
// holds it: another replica firing it, or a worker's result).
func dueIn(in time.Duration) time.Duration {
	if in <= 0 {
		return overdueRecheck
	}
	return in
}

// endOverdueTasks ends every task past its deadline, and says when the next
// deadline falls.
func (e *Engine) endOverdueTasks(ctx context.Context) (time.Duration, error) {
	if err := e.failOverdueTasks(ctx); err != nil {
		return 0, err
	}
	in, err := e.st.NextTaskDeadline(ctx)
	if err != nil {
		return 0, nil
	}
	return dueIn(in), nil
}
