package ttlcache

import (
	"testing"
	"time"
)

func TestExpiryAndBound(t *testing.T) {
	now := time.Unix(0, 0)
	c := New[int, string](time.Minute, 3)
	c.Now = func() time.Time { return now }
	c.Put(1, "a")
	if v, ok := c.Get(1); !ok || v != "a" {
		t.Fatalf("get 1: %q %v", v, ok)
	}
	now = now.Add(time.Minute)
	if _, ok := c.Get(1); ok {
		t.Fatal("an expired entry was returned")
	}
	c.Put(2, "b")
	c.Put(3, "c")
	c.Put(4, "d") // full: the expired 1 goes
	if c.Len() != 3 {
		t.Fatalf("len %d, want 3", c.Len())
	}
	for i := range 1000 {
		c.Put(10+i, "x")
	}
	if c.Len() > 3 {
		t.Fatalf("len %d after 1000 puts, want at most 3", c.Len())
	}
	if v, ok := c.Get(1009); !ok || v != "x" {
		t.Fatal("the newest entry is missing")
	}
	c.DeleteFunc(func(k int) bool { return k == 1009 })
	if _, ok := c.Get(1009); ok {
		t.Fatal("a deleted entry was returned")
	}
}
