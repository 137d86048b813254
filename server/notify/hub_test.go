package notify

import (
	"testing"

	"github.com/google/uuid"
)

func woken(w *Waiter) bool {
	select {
	case <-w.C:
		return true
	default:
		return false
	}
}

func TestNotifyWakesOneWaiterInOrder(t *testing.T) {
	h := NewHub()
	key := Key{Tenant: uuid.New(), Queue: "q", Kind: Tasks}
	a, b := h.Wait(key), h.Wait(key)
	h.Notify(key)
	if !woken(a) || woken(b) {
		t.Fatal("one notification must wake exactly the first waiter")
	}
	h.Notify(key)
	h.Notify(key) // a has nothing pending now, so it takes this one
	if !woken(b) || !woken(a) {
		t.Fatal("two more notifications must wake both waiters")
	}
	other := h.Wait(Key{Tenant: key.Tenant, Queue: "other", Kind: Tasks})
	h.Notify(key)
	if woken(other) {
		t.Fatal("a notification crossed queues")
	}
}

func TestDoneHandsAnUnusedWakeOn(t *testing.T) {
	h := NewHub()
	key := Key{Tenant: uuid.New(), Queue: "q", Kind: Workflows}
	a, b := h.Wait(key), h.Wait(key)
	h.Notify(key) // goes to a
	a.Done()      // a found work by itself: b must get the wake-up
	if !woken(b) {
		t.Fatal("the unused wake-up was lost")
	}
	b.Done()
	if len(h.waiters) != 0 {
		t.Fatalf("waiters left: %v", h.waiters)
	}
}

func TestEverySubscriptionHearsEveryNotification(t *testing.T) {
	h := NewHub()
	tenant := uuid.New()
	a, b := h.Subscribe(QueueKey{tenant, "q"}), h.Subscribe(QueueKey{tenant, "q"})
	waiter := h.Wait(Key{Tenant: tenant, Queue: "q", Kind: Tasks})
	h.Notify(Key{Tenant: tenant, Queue: "q", Kind: Tasks})
	for _, s := range []*Subscription{a, b} {
		select {
		case <-s.C:
		default:
			t.Fatal("a subscription missed the notification")
		}
	}
	if !woken(waiter) {
		t.Fatal("subscriptions must not take the waiter's wake-up")
	}
	a.Close()
	b.Close()
	if len(h.subscribers) != 0 {
		t.Fatal("closed subscriptions left behind")
	}
}
