// Package ttlcache is a small map whose entries expire, with a bound on
// its size: a cache keyed by what callers send (worker ids, org ids) must
// not grow with them.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps keys to values for ttl each, holding at most max entries. It
// is safe for concurrent use.
type Cache[K comparable, V any] struct {
	ttl time.Duration
	max int
	// Now is the clock; time.Now unless a test sets another.
	Now func() time.Time

	mu sync.Mutex
	m  map[K]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns an empty cache.
func New[K comparable, V any](ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, Now: time.Now, m: map[K]entry[V]{}}
}

// Get returns the value of k, unless it is missing or has expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.Now().Sub(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put sets k to v. A full cache first drops its expired entries and, if
// that is not enough, all of them: it is a cache, so that costs only
// lookups.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for key, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, key)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = entry[V]{v: v, at: now}
}

// DeleteFunc removes the entries whose key del reports.
func (c *Cache[K, V]) DeleteFunc(del func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if del(k) {
			delete(c.m, k)
		}
	}
}

// Len is the number of entries, expired or not.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
