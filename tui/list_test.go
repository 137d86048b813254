package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flovyn/flovyn/client"
)

// row is the screen line of an execution in the list.
func (h *harness) row(id string) string {
	h.t.Helper()
	for _, l := range strings.Split(h.view(), "\n") {
		if strings.Contains(l, shortID(id)) {
			return l
		}
	}
	h.t.Fatalf("no row for %s:\n%s", id, h.view())
	return ""
}

// selectedRow is the line the cursor is on.
func (h *harness) selectedRow() string {
	h.t.Helper()
	for _, l := range strings.Split(h.view(), "\n") {
		if strings.HasPrefix(l, "▸ ") {
			return l
		}
	}
	h.t.Fatalf("no selected row:\n%s", h.view())
	return ""
}

// listedIDs are the short ids on screen, top to bottom.
func (h *harness) listedIDs() []string {
	var out []string
	for _, l := range strings.Split(h.view(), "\n")[3:] {
		if f := strings.Fields(strings.TrimPrefix(l, "▸")); len(f) > 3 && len(f[0]) == 8 {
			out = append(out, f[0])
		}
	}
	return out
}

func TestListShowsExecutionsNewestFirst(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.contains("ID", "KIND", "STATUS", "QUEUE", "STARTED", "DURATION", "7 loaded", "● live")
	want := []string{"0b5f4e2d", "c4a96e1d", "7c9e6679", "a1b2c3d4", "3f1c2b4a", "f00dbabe", "d3adb33f"}
	if got := h.listedIDs(); !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for id, want := range map[string][]string{
		idPending: {"send-newsletter", "○ PENDING", "batch", "14:29:58", "2.0s"},
		idGreet:   {"greet", "✓ COMPLETED", "default", "14:25:00", "180ms"},
		idFail:    {"import-csv", "✗ FAILED", "1m00s"},
		idApprove: {"◐ WAITING", "3m00s"},
		idCancel:  {"⊘ CANCELLED", "Mar 09 12:30"},
	} {
		row := h.row(id)
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("row of %s lacks %q: %q", id, w, row)
			}
		}
	}
	// One request, for the first page only.
	if len(h.api.lists) != 1 || h.api.lists[0].Limit > maxPage || h.api.lists[0].Cursor != "" {
		t.Fatalf("list requests: %+v", h.api.lists)
	}
}

func TestListNavigation(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	sel := func(id string) {
		t.Helper()
		if r := h.selectedRow(); !strings.Contains(r, shortID(id)) {
			t.Fatalf("selected %q, want %s", r, shortID(id))
		}
	}
	sel(idPending)
	h.press("j")
	sel(idCharge)
	h.press("down", "down")
	sel(idApprove)
	h.press("k")
	sel(idOrder)
	h.press("up")
	sel(idCharge)
	h.press("G")
	sel(idCancel)
	h.press("j") // stays on the last row
	sel(idCancel)
	h.press("g")
	sel(idPending)
	h.press("k") // stays on the first
	sel(idPending)
	h.press("end")
	sel(idCancel)
	h.press("home", "ctrl+d")
	sel(idCancel)
	h.press("ctrl+u")
	sel(idPending)

	// enter (or l, or →) opens the selected execution.
	h.press("j", "j", "enter")
	h.contains("Executions › 7c9e6679", "◐ WAITING  order-fulfilment  "+idOrder)
	h.press("esc")
	sel(idOrder)
	h.press("l")
	h.contains("Executions › 7c9e6679")
	h.press("esc", "j", "right")
	h.contains("Executions › a1b2c3d4")
}

func TestListStatusFilter(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	wantFilter := []struct {
		label    string
		statuses []string
		ids      []string
	}{
		{"active", []string{"PENDING", "RUNNING", "WAITING"}, []string{"0b5f4e2d", "7c9e6679", "a1b2c3d4"}},
		{"PENDING", []string{"PENDING"}, []string{"0b5f4e2d"}},
		{"RUNNING", []string{"RUNNING"}, nil},
		{"WAITING", []string{"WAITING"}, []string{"7c9e6679", "a1b2c3d4"}},
		{"COMPLETED", []string{"COMPLETED"}, []string{"c4a96e1d", "3f1c2b4a"}},
		{"FAILED", []string{"FAILED"}, []string{"f00dbabe"}},
		{"CANCELLED", []string{"CANCELLED"}, []string{"d3adb33f"}},
		{"all", nil, []string{"0b5f4e2d", "c4a96e1d", "7c9e6679", "a1b2c3d4", "3f1c2b4a", "f00dbabe", "d3adb33f"}},
	}
	for _, w := range wantFilter {
		h.press("f")
		h.contains("status " + w.label)
		last := h.api.lists[len(h.api.lists)-1]
		if !slices.Equal(last.Statuses, w.statuses) {
			t.Fatalf("filter %s asked the server for %v", w.label, last.Statuses)
		}
		if got := h.listedIDs(); !slices.Equal(got, w.ids) {
			t.Fatalf("filter %s shows %v, want %v", w.label, got, w.ids)
		}
	}
	h.press("f", "f", "f") // RUNNING: nothing matches
	h.contains("No executions match. Esc clears the search and filters.")
	h.press("esc")
	h.contains("status all", "7 loaded")
}

func TestListKindFilter(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("K")
	h.contains("kind: ")
	h.typeText("gr")
	h.press("tab") // completes from the kinds on screen
	h.press("enter")
	if last := h.api.lists[len(h.api.lists)-1]; last.Kind != "greet" {
		t.Fatalf("kind filter sent %q", last.Kind)
	}
	h.contains("kind greet", "1 loaded")
	if got := h.listedIDs(); !slices.Equal(got, []string{"3f1c2b4a"}) {
		t.Fatalf("kind filter shows %v", got)
	}
	// esc in the prompt keeps the filter; empty clears it.
	h.press("K", "esc")
	h.contains("kind greet")
	h.press("K")
	for range len("greet") {
		h.press("backspace")
	}
	h.press("enter")
	h.contains("kind any", "7 loaded")
	// q typed into the prompt is text, not quit.
	h.press("K")
	h.typeText("q")
	if h.quit {
		t.Fatal("q in the kind prompt quit")
	}
	h.press("esc")
}

func TestListSearch(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	calls := len(h.api.lists)
	h.press("/")
	h.typeText("ORDER")
	h.contains("/ ORDER")
	if got := h.listedIDs(); !slices.Equal(got, []string{"7c9e6679"}) {
		t.Fatalf("search ORDER shows %v", got)
	}
	h.press("enter")
	h.contains("search ORDER", "1 of 7 loaded")
	// Search is over the loaded rows: no request.
	if len(h.api.lists) != calls {
		t.Fatal("search asked the server")
	}
	// By id prefix.
	h.press("/")
	for range 5 {
		h.press("backspace")
	}
	h.typeText("f00d")
	h.press("enter")
	if got := h.listedIDs(); !slices.Equal(got, []string{"f00dbabe"}) {
		t.Fatalf("search by id shows %v", got)
	}
	// esc clears it.
	h.press("esc")
	h.lacks("search f00d")
	h.contains("7 loaded")
	h.press("/")
	h.typeText("nothing-like-this")
	h.contains("No executions match")
	h.press("esc")
	h.contains("7 loaded")
}

func TestListSort(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("j", "j") // on order-fulfilment
	for _, c := range []struct {
		label string
		first []string
	}{
		{"kind ↓", []string{"c4a96e1d", "a1b2c3d4", "3f1c2b4a", "f00dbabe", "d3adb33f", "7c9e6679", "0b5f4e2d"}},
		{"status ↓", []string{"7c9e6679", "a1b2c3d4", "0b5f4e2d", "f00dbabe", "c4a96e1d", "3f1c2b4a", "d3adb33f"}},
		{"queue ↓", []string{"0b5f4e2d", "f00dbabe", "c4a96e1d", "7c9e6679", "a1b2c3d4", "3f1c2b4a", "d3adb33f"}},
		{"duration ↓", []string{"a1b2c3d4", "d3adb33f", "f00dbabe", "7c9e6679", "c4a96e1d", "0b5f4e2d", "3f1c2b4a"}},
		{"newest ↓", []string{"0b5f4e2d", "c4a96e1d", "7c9e6679", "a1b2c3d4", "3f1c2b4a", "f00dbabe", "d3adb33f"}},
	} {
		h.press("s")
		h.contains("sort " + c.label)
		if got := h.listedIDs(); !slices.Equal(got, c.first) {
			t.Fatalf("sort %s: %v, want %v", c.label, got, c.first)
		}
		// The selection stays on the same execution.
		if !strings.Contains(h.selectedRow(), "7c9e6679") {
			t.Fatalf("sort %s moved the selection: %q", c.label, h.selectedRow())
		}
	}
	h.press("R")
	h.contains("sort newest ↑")
	if got := h.listedIDs(); got[0] != "d3adb33f" || got[6] != "0b5f4e2d" {
		t.Fatalf("reversed: %v", got)
	}
}

func TestListLiveRefresh(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("j", "j") // on order-fulfilment
	h.api.mu.Lock()
	h.api.execs = append(h.api.execs, client.Execution{ID: "11112222-3333-4444-8555-666677778888", Kind: "fresh-one", Status: client.StatusRunning, Queue: "default", CreatedAt: fixedNow})
	h.api.execs[1].Status = client.StatusRunning // order-fulfilment woke up
	h.api.mu.Unlock()
	h.send(tickMsg(fixedNow))
	h.contains("fresh-one", "8 loaded")
	if got := h.listedIDs(); got[0] != "11112222" {
		t.Fatalf("the new execution is not on top: %v", got)
	}
	if r := h.selectedRow(); !strings.Contains(r, "7c9e6679") || !strings.Contains(r, "▶ RUNNING") {
		t.Fatalf("selection moved or is stale: %q", r)
	}
	// One refresh in flight at a time.
	m := h.m.list
	m, first := m.refresh()
	if _, second := m.refresh(); first == nil || second != nil {
		t.Fatal("a second refresh started while one was in flight")
	}
}

func TestListTenThousand(t *testing.T) {
	f := newFakeAPI(manyExecutions(10000)...)
	h := newHarness(t, f, 100, 30)
	h.contains("100 loaded, more below")
	// Scrolling to the end loads one page at a time, never everything.
	for i := 0; i < 200 && !h.m.list.rows.done; i++ {
		h.press("G")
	}
	if n := len(h.m.list.rows.rows); n != 10000 {
		t.Fatalf("loaded %d rows after scrolling to the end", n)
	}
	for _, o := range f.lists {
		if o.Limit > maxPage {
			t.Fatalf("a request asked for %d rows", o.Limit)
		}
	}
	h.press("G")
	h.contains("10000 loaded")
	if !strings.Contains(h.selectedRow(), shortID(manyExecutions(10000)[9999].ID)) {
		t.Fatalf("G did not select the last execution: %q", h.selectedRow())
	}

	// A refresh deep in the list reads the first page and the rows on
	// screen: two requests, neither of them everything.
	f.lists = nil
	h.press("ctrl+u", "ctrl+u", "ctrl+u")
	h.send(tickMsg(fixedNow))
	if len(f.lists) != 2 || f.lists[0].Cursor != "" || f.lists[1].Cursor == "" || f.lists[1].Limit > maxPage {
		t.Fatalf("refresh requests: %+v", f.lists)
	}

	// Moving and drawing stay cheap with 10,000 rows.
	start := time.Now()
	for range 200 {
		h.press("k")
		checkFrame(t, h.m.View(), 100, 30)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("200 moves and redraws took %s", d)
	}
	h.press("s") // sorting all of them
	h.press("/")
	h.typeText("order")
	h.press("enter")
	h.contains("2500 of 10000 loaded")
}
