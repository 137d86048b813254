// Package notify wakes pollers when work appears: an in-process registry that
// wakes one waiter per notification, keyed by tenant, queue and work kind.
package notify

import (
	"sync"

	"github.com/google/uuid"
)

// Key names a place work is waited for.
type Key struct {
	Tenant uuid.UUID
	Queue  string
	Kind   WorkKind
}

// WorkKind tells workflow tasks from tasks.
type WorkKind uint8

const (
	Workflows WorkKind = iota + 1
	Tasks
	Agents
)

// Hub is the registry. The zero value is not usable; call NewHub.
type Hub struct {
	mu          sync.Mutex
	waiters     map[Key][]*Waiter
	subscribers map[QueueKey]map[*Subscription]struct{}
	// forward, when set, carries each local notification to other replicas.
	forward func(Key)
}

// QueueKey names a queue of a tenant, whatever the kind of work.
type QueueKey struct {
	Tenant uuid.UUID
	Queue  string
}

// NewHub returns an empty registry.
func NewHub() *Hub {
	return &Hub{waiters: map[Key][]*Waiter{}, subscribers: map[QueueKey]map[*Subscription]struct{}{}}
}

// Subscription receives a value on C whenever work appears on its queue;
// unlike a Waiter, every subscription hears every notification (a slow
// reader misses values, not the fact that there is work).
type Subscription struct {
	C   chan struct{}
	key QueueKey
	hub *Hub
}

// Subscribe starts a subscription to key.
func (h *Hub) Subscribe(key QueueKey) *Subscription {
	s := &Subscription{C: make(chan struct{}, 1), key: key, hub: h}
	h.mu.Lock()
	if h.subscribers[key] == nil {
		h.subscribers[key] = map[*Subscription]struct{}{}
	}
	h.subscribers[key][s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Close ends the subscription.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	delete(h.subscribers[s.key], s)
	if len(h.subscribers[s.key]) == 0 {
		delete(h.subscribers, s.key)
	}
	h.mu.Unlock()
}

// Waiter is one poller's subscription. C receives at most one pending wake-up.
type Waiter struct {
	C   chan struct{}
	key Key
	hub *Hub
}

// Wait registers a waiter for key. Register before looking for work, so a
// notification that arrives between the look and the wait is not lost.
func (h *Hub) Wait(key Key) *Waiter {
	w := &Waiter{C: make(chan struct{}, 1), key: key, hub: h}
	h.mu.Lock()
	h.waiters[key] = append(h.waiters[key], w)
	h.mu.Unlock()
	return w
}

// Done unregisters w. A wake-up w received but did not use is passed on to
// another waiter, so it is not swallowed by a poller that found work itself.
func (w *Waiter) Done() {
	h := w.hub
	h.mu.Lock()
	list := h.waiters[w.key]
	for i, x := range list {
		if x == w {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(h.waiters, w.key)
	} else {
		h.waiters[w.key] = list
	}
	h.mu.Unlock()
	select {
	case <-w.C:
		h.Notify(w.key)
	default:
	}
}

// Notify wakes one waiter of key, the one waiting longest that has no
// wake-up pending yet, and tells the other replicas when a bridge is set.
// With nobody waiting it does nothing: the next poll looks at the database
// first.
func (h *Hub) Notify(key Key) {
	h.wake(key)
	h.mu.Lock()
	forward := h.forward
	h.mu.Unlock()
	if forward != nil {
		forward(key)
	}
}

// wake is Notify for this replica only.
func (h *Hub) wake(key Key) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subscribers[QueueKey{Tenant: key.Tenant, Queue: key.Queue}] {
		select {
		case s.C <- struct{}{}:
		default:
		}
	}
	for _, w := range h.waiters[key] {
		select {
		case w.C <- struct{}{}:
			return
		default:
		}
	}
}
