package engine

import (
	"sync"
	"time"
)

// background tracks the goroutines and timers the engine starts outside
// the services (a reclaim after a connection closed, the wake-up of a
// delayed retry), so that Close can stop and wait for every one.
type background struct {
	mu     sync.Mutex
	closed bool
	timers map[*time.Timer]struct{}
	wg     sync.WaitGroup
}

// Go runs f in a goroutine, unless the engine is closing.
func (e *Engine) Go(f func()) {
	b := &e.bg
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// after runs f once d has passed, unless the engine closes first.
func (e *Engine) after(d time.Duration, f func()) {
	b := &e.bg
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if b.timers == nil {
		b.timers = map[*time.Timer]struct{}{}
	}
	b.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer b.wg.Done()
		b.mu.Lock() // held by after until t is recorded
		delete(b.timers, t)
		b.mu.Unlock()
		f()
	})
	b.timers[t] = struct{}{}
}

// Close stops what the engine runs in the background and waits for it;
// what would start later does not. It may be called more than once.
func (e *Engine) Close() {
	b := &e.bg
	b.mu.Lock()
	b.closed = true
	for t := range b.timers {
		if t.Stop() {
			b.wg.Done()
		}
	}
	clear(b.timers)
	b.mu.Unlock()
	b.wg.Wait()
}
