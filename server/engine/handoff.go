package engine

import (
	"slices"
	"sync"

	"github.com/flovyn/flovyn/server/notify"
)

// Eager dispatch. A poller that found no work waits with an offer open
// here. A change on this replica that makes matching work runnable takes
// the offer, claims the work for the poller's worker in its own
// transaction, and hands the claimed row over once it has committed: the
// poller answers at once, without a claim transaction of its own, and the
// work never waits in the queue. A poller only waits when it found
// nothing, so what it is handed is what its next claim would have picked.
//
// The poller may leave (its hold ran out, its caller went away, it claimed
// something itself) while a change holds its offer: it then waits for that
// change's outcome, and puts back what it cannot use (see pollFor). A
// change that does not commit gives the offer back empty, and the poller
// waits on with a new one.

// offer is one waiting poller's readiness to be handed work.
type offer struct {
	key    notify.Key
	worker string
	kinds  []string // nil: any kind
	// result receives, once, the row claimed for the poller (a Workflow, a
	// Task or an Agent), or nil when the change that took the offer did
	// not commit.
	result chan any
}

func (o *offer) accepts(kind string) bool { return o.kinds == nil || slices.Contains(o.kinds, kind) }

// offers are the open offers of this replica, longest waiting first.
type offers struct {
	mu   sync.Mutex
	open map[notify.Key][]*offer
	// opened, when a test sets it, hears of every offer opened.
	opened chan *offer
}

func newOffers() *offers { return &offers{open: map[notify.Key][]*offer{}} }

// make opens an offer for key.
func (r *offers) make(key notify.Key, worker string, kinds []string) *offer {
	o := &offer{key: key, worker: worker, kinds: kinds, result: make(chan any, 1)}
	r.mu.Lock()
	r.open[key] = append(r.open[key], o)
	opened := r.opened
	r.mu.Unlock()
	if opened != nil {
		opened <- o
	}
	return o
}

// take takes the longest-waiting open offer for key that accepts kind, or
// returns nil.
func (r *offers) take(key notify.Key, kind string) *offer {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.open[key]
	for i, o := range list {
		if o.accepts(kind) {
			r.drop(key, i)
			return o
		}
	}
	return nil
}

// withdraw closes o; true when a change has taken it, and its outcome is
// then (or will be) on o.result.
func (r *offers) withdraw(o *offer) (taken bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.Index(r.open[o.key], o)
	if i < 0 {
		return true
	}
	r.drop(o.key, i)
	return false
}

func (r *offers) drop(key notify.Key, i int) {
	list := slices.Delete(r.open[key], i, i+1)
	if len(list) == 0 {
		delete(r.open, key)
	} else {
		r.open[key] = list
	}
}

// handoff is an offer a change took and the row it claimed for it.
type handoff struct {
	o   *offer
	row any
}
