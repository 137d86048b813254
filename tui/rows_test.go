package tui

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flovyn/flovyn/client"
)

// manyExecutions makes n executions one second apart, the newest first.
func manyExecutions(n int) []client.Execution {
	out := make([]client.Execution, n)
	statuses := []string{client.StatusCompleted, client.StatusRunning, client.StatusFailed, client.StatusWaiting, client.StatusPending}
	kinds := []string{"greet", "order-fulfilment", "import-csv", "charge-card"}
	for i := range out {
		out[i] = client.Execution{
			ID:        fmt.Sprintf("%08x-0000-4000-8000-%012d", 0x10000000+i, i),
			Kind:      kinds[i%len(kinds)],
			Status:    statuses[i%len(statuses)],
			Queue:     "default",
			CreatedAt: fixedNow.Add(-time.Duration(i) * time.Second),
		}
	}
	return out
}

func ids(rows []client.Execution) []string {
	out := make([]string, len(rows))
	for i, e := range rows {
		out[i] = e.ID
	}
	return out
}

// fetchInto runs req against the fake and merges the page.
func fetchInto(t *testing.T, f *fakeAPI, s *rowStore, o client.ListWorkflowsOptions, req pageRequest) {
	t.Helper()
	o.Cursor, o.Limit = req.cursor, req.limit
	page, err := f.ListWorkflows(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	s.merge(req, page)
}

// serverOrder is the fake's list, filtered, in the server's order.
func serverOrder(t *testing.T, f *fakeAPI, o client.ListWorkflowsOptions) []string {
	t.Helper()
	var all []string
	for cursor := ""; ; {
		o.Cursor, o.Limit = cursor, 500
		page, err := f.ListWorkflows(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(page.Items)...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
}

func TestRowStorePaging(t *testing.T) {
	f := newFakeAPI(manyExecutions(450)...)
	want := serverOrder(t, f, client.ListWorkflowsOptions{})
	s := newRowStore()
	req, ok := s.moreRequest(200)
	if !ok || req.after != nil {
		t.Fatalf("first request %+v %v", req, ok)
	}
	fetchInto(t, f, &s, client.ListWorkflowsOptions{}, req)
	if !slices.Equal(ids(s.rows), want[:200]) || s.done || s.next == "" {
		t.Fatalf("first page: %d rows, done %v", len(s.rows), s.done)
	}
	for {
		req, ok := s.moreRequest(200)
		if !ok {
			break
		}
		fetchInto(t, f, &s, client.ListWorkflowsOptions{}, req)
	}
	if !slices.Equal(ids(s.rows), want) || !s.done {
		t.Fatalf("paged %d rows (done %v), want %d", len(s.rows), s.done, len(want))
	}
}

func TestRowStoreHeadRefresh(t *testing.T) {
	execs := manyExecutions(300)
	f := newFakeAPI(execs...)
	s := newRowStore()
	fetchInto(t, f, &s, client.ListWorkflowsOptions{}, pageRequest{limit: 200})

	// Two new executions: a head refresh of 100 joins the loaded rows.
	for i := range 2 {
		f.execs = append(f.execs, client.Execution{ID: fmt.Sprintf("new-%d", i), Kind: "greet", Status: client.StatusPending, CreatedAt: fixedNow.Add(time.Duration(i+1) * time.Second)})
	}
	fetchInto(t, f, &s, client.ListWorkflowsOptions{}, pageRequest{limit: 100})
	want := serverOrder(t, f, client.ListWorkflowsOptions{})
	if !slices.Equal(ids(s.rows), want[:202]) {
		t.Fatalf("after head refresh: %d rows, first %v", len(s.rows), ids(s.rows)[:3])
	}

	// More new executions than a page: the refresh cannot join the rows
	// below, which are dropped rather than shown with a hole above them.
	for i := range 150 {
		f.execs = append(f.execs, client.Execution{ID: fmt.Sprintf("burst-%03d", i), Kind: "greet", Status: client.StatusPending, CreatedAt: fixedNow.Add(time.Hour + time.Duration(i)*time.Second)})
	}
	fetchInto(t, f, &s, client.ListWorkflowsOptions{}, pageRequest{limit: 100})
	want = serverOrder(t, f, client.ListWorkflowsOptions{})
	if !slices.Equal(ids(s.rows), want[:100]) || s.done {
		t.Fatalf("after a burst: %d rows", len(s.rows))
	}
	req, _ := s.moreRequest(200)
	fetchInto(t, f, &s, client.ListWorkflowsOptions{}, req)
	if !slices.Equal(ids(s.rows), want[:300]) {
		t.Fatalf("scrolling after the burst: %d rows", len(s.rows))
	}
}

func TestRowStoreWindowRefresh(t *testing.T) {
	f := newFakeAPI(manyExecutions(1000)...)
	o := client.ListWorkflowsOptions{Statuses: []string{client.StatusRunning}}
	s := newRowStore()
	for {
		req, ok := s.moreRequest(50)
		if !ok {
			break
		}
		fetchInto(t, f, &s, o, req)
	}
	if len(s.rows) != 200 || !s.done {
		t.Fatalf("loaded %d RUNNING rows", len(s.rows))
	}
	// Row 120 finishes; refreshing rows 110..130 starts from the anchor at
	// row 99 (the end of the second page) and drops it, nothing else.
	gone := s.rows[120].ID
	for i := range f.execs {
		if f.execs[i].ID == gone {
			f.execs[i].Status = client.StatusCompleted
		}
	}
	req, ok := s.windowRequest(110, 130, maxPage)
	if !ok || req.after == nil || req.limit != 130-99 {
		t.Fatalf("window request %+v %v", req, ok)
	}
	fetchInto(t, f, &s, o, req)
	if len(s.rows) != 199 || s.index(gone) >= 0 {
		t.Fatalf("after the window refresh: %d rows, finished row at %d", len(s.rows), s.index(gone))
	}
	if !slices.Equal(ids(s.rows), serverOrder(t, f, o)) {
		t.Fatal("rows differ from the server's list")
	}
	// Near the top, the window is read from the top; far from any anchor, not at all.
	if req, ok := s.windowRequest(3, 20, maxPage); !ok || req.after != nil || req.limit != 21 {
		t.Fatalf("top window %+v %v", req, ok)
	}
	if _, ok := s.windowRequest(3, 20, 10); ok {
		t.Fatal("a window beyond maxLimit rows from its anchor was requested")
	}
}

// TestRowStoreRandom mixes new executions, status changes, head and window
// refreshes and scrolling, and checks that the rows always stay in the
// server's order without duplicates, and match the server once refreshed.
func TestRowStoreRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := newFakeAPI(manyExecutions(700)...)
	o := client.ListWorkflowsOptions{Statuses: []string{client.StatusRunning, client.StatusWaiting, client.StatusPending}}
	s := newRowStore()
	fetchInto(t, f, &s, o, pageRequest{limit: 100})
	for step := range 400 {
		switch rng.IntN(5) {
		case 0:
			n := 1 + rng.IntN(120)
			for i := range n {
				f.execs = append(f.execs, client.Execution{ID: fmt.Sprintf("s%03d-%03d", step, i), Status: client.StatusPending,
					CreatedAt: fixedNow.Add(time.Duration(step*1000+i) * time.Millisecond)})
			}
		case 1:
			for range 20 {
				e := &f.execs[rng.IntN(len(f.execs))]
				e.Status = []string{client.StatusRunning, client.StatusCompleted, client.StatusWaiting}[rng.IntN(3)]
			}
		case 2:
			fetchInto(t, f, &s, o, pageRequest{limit: 50 + rng.IntN(100)})
		case 3:
			if len(s.rows) > 0 {
				lo := rng.IntN(len(s.rows))
				hi := min(len(s.rows)-1, lo+rng.IntN(40))
				if req, ok := s.windowRequest(lo, hi, maxPage); ok {
					fetchInto(t, f, &s, o, req)
				}
			}
		case 4:
			if req, ok := s.moreRequest(100); ok {
				fetchInto(t, f, &s, o, req)
			}
		}
		for i := 1; i < len(s.rows); i++ {
			if keyOf(s.rows[i-1]).compare(keyOf(s.rows[i])) >= 0 {
				t.Fatalf("step %d: rows %d and %d out of order", step, i-1, i)
			}
		}
	}
	// Refreshing everything loaded gives exactly the server's prefix.
	n := len(s.rows)
	want := serverOrder(t, f, o)
	for i := 0; i < n; i += 400 {
		if req, ok := s.windowRequest(i, min(n-1, i+300), maxPage); ok {
			fetchInto(t, f, &s, o, req)
		}
	}
	if got := ids(s.rows); !slices.Equal(got, want[:min(len(got), len(want))]) {
		t.Fatalf("rows are not a prefix of the server's list")
	}
}
