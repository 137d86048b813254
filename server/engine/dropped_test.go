package engine

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/store"
)

// A result that could not be recorded drops the task from the lease
// renewals, for a while; a task that is simply not found does not count.
func TestReportedDropsTasksWhoseResultWasNotRecorded(t *testing.T) {
	e := &Engine{dropped: &droppedTasks{at: map[store.TaskRef]time.Time{}}}
	tenant := uuid.New()
	lost, gone, fine := uuid.New(), uuid.New(), uuid.New()
	_ = e.reported(tenant, lost, errors.New("connection refused"))
	_ = e.reported(tenant, gone, ErrNotFound)
	_ = e.reported(tenant, fine, nil)
	if got := e.dropped.list(time.Minute); !slices.Equal(got, []store.TaskRef{{Tenant: tenant, ID: lost}}) {
		t.Fatalf("dropped %v, want only %v", got, lost)
	}
	e.dropped.at[store.TaskRef{Tenant: tenant, ID: lost}] = time.Now().Add(-2 * time.Minute)
	if got := e.dropped.list(time.Minute); len(got) != 0 {
		t.Fatalf("dropped %v after it expired", got)
	}
	if len(e.dropped.at) != 0 {
		t.Fatal("an expired entry was kept")
	}
}
