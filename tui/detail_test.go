package tui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flovyn/flovyn/client"
)

// openDetail opens execution id from the list.
func (h *harness) openDetail(id string) {
	h.t.Helper()
	h.send(openDetailMsg{id: id})
	h.contains("Executions › " + shortID(id))
}

func TestDetailOverview(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.openDetail(idOrder)
	h.contains(
		"◐ WAITING  order-fulfilment  "+idOrder,
		"queue default · created 14:29:18 · started 14:29:18 · ended – · running 42s · 16 events",
		"parent – · children 1",
		"[1 Overview]", "2 Events (16)", "3 Tasks (3)", "4 Timeline",
		"Metadata   env=prod  region=eu",
		"Pending promises (1)", "manager-approval", promiseID,
		"Children (1)", "c4a96e1d charge", "charge-card", "✓ COMPLETED",
		"Input", `"orderId": 42,`, `"sku": "A-1",`,
	)
	// The input is pretty-printed and scrolls.
	h.lacks(`"email": "ada@example.com"`)
	h.press("G")
	h.contains(`"email": "ada@example.com"`, "100%")
	h.press("g")
	h.contains("Metadata")
	h.press("j", "j")
	h.lacks("Metadata")
	h.press("k", "k")
	h.contains("Metadata")

	// A child shows its parent.
	h.press("esc")
	h.openDetail(idCharge)
	h.contains("parent "+idOrder+" (as charge)", "Output", `"receipt": "r-7781"`)

	// A failed execution shows its error.
	h.press("esc")
	h.openDetail(idFail)
	h.contains("✗ FAILED", "Error", "task parse-rows failed after 3 attempts: line 17: unexpected EOF")
}

func TestDetailTabs(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.openDetail(idOrder)

	h.press("2")
	h.contains("[2 Events (16)]", "SEQ", "TYPE", "DETAILS",
		"1 +0ms     WORKFLOW_STARTED", "workflowKind=order-fulfilment",
		"TASK_FAILED", "error=warehouse tim",
		"CHILD_WORKFLOW_COMPLETED", "TIMER_FIRED", "timerId=cool-off",
		"PROMISE_CREATED", "promiseName=manager-approval")

	h.press("3")
	h.contains("[3 Tasks (3)]", "ATTEMPTS", "PROGRESS",
		"6f0c1a2b reserve-stock", "✗ FAILED", "1/1",
		"8d2e4f60 reserve-stock", "2/4", "██████████ 100%",
		"#1  ✗ FAILED", "deadlock detected", "#2  ✓ COMPLETED", "worker w-77b01e",
		"b7c8d9e0 pack-parcel", "▶ RUNNING", "████░░░░░░  40%", "progress: 4 of 10 items packed")

	h.press("4")
	h.contains("[4 Timeline]", "┊0", "┊10s", "┊20s",
		"workflow order-fulfilment", "waiting (suspended)", "task reserve-stock",
		"child charge (charge-card)", "timer cool-off", "promise manager-approval",
		"█ done  ▓ running")

	// tab/l/→ go right, shift+tab/h/← go left, around the ends.
	for _, c := range []struct{ key, tab string }{
		{"tab", "[1 Overview]"}, {"l", "[2 Events"}, {"right", "[3 Tasks"}, {"h", "[2 Events"},
		{"left", "[1 Overview]"}, {"shift+tab", "[4 Timeline]"}, {"1", "[1 Overview]"},
	} {
		h.press(c.key)
		h.contains(c.tab)
	}

	// Each tab keeps its scroll position.
	h.press("G")
	h.contains("100%")
	h.press("2", "1")
	h.contains("100%")

	// esc goes back to the list, which refreshes.
	calls := len(h.api.lists)
	h.press("esc")
	h.contains("status all", "7 loaded")
	if len(h.api.lists) == calls {
		t.Fatal("going back did not refresh the list")
	}
}

func TestTimeline(t *testing.T) {
	f := sampleAPI()
	exec, _ := f.find(idOrder)
	lanes := buildTimeline(exec, f.events[idOrder])
	got := map[string]lane{}
	var order []string
	for _, l := range lanes {
		order = append(order, l.label)
		if _, dup := got[l.label]; !dup {
			got[l.label] = l
		}
	}
	want := []string{"workflow order-fulfilment", "waiting (suspended)", "task reserve-stock", "task reserve-stock", "child charge (charge-card)", "timer cool-off", "promise manager-approval"}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Fatalf("lanes %v, want %v", order, want)
	}
	o := exec.CreatedAt
	checkSpan := func(l lane, i int, from, to time.Duration, st spanState) {
		t.Helper()
		sp := l.spans[i]
		if !sp.start.Equal(o.Add(from)) || sp.state != st || (to < 0) != sp.end.IsZero() || (to >= 0 && !sp.end.Equal(o.Add(to))) {
			t.Fatalf("%s span %d: %+v, want %s..%s state %d", l.label, i, sp, from, to, st)
		}
	}
	checkSpan(lanes[0], 0, 0, -1, spanOpen)
	checkSpan(lanes[2], 0, 30*time.Millisecond, 2400*time.Millisecond, spanFailed)
	checkSpan(lanes[3], 0, 2500*time.Millisecond, 6*time.Second, spanDone)
	checkSpan(got["child charge (charge-card)"], 0, 6100*time.Millisecond, 15*time.Second, spanDone)
	checkSpan(got["timer cool-off"], 0, 15100*time.Millisecond, 20100*time.Millisecond, spanDone)
	checkSpan(got["promise manager-approval"], 0, 20200*time.Millisecond, -1, spanOpen)
	wait := got["waiting (suspended)"]
	if len(wait.spans) != 5 {
		t.Fatalf("%d waits, want 5: %+v", len(wait.spans), wait.spans)
	}
	checkSpan(wait, 0, 40*time.Millisecond, 2400*time.Millisecond, spanDone)
	checkSpan(wait, 4, 20210*time.Millisecond, -1, spanOpen) // still waiting on the promise

	// When the execution ends, what was open ends with it.
	exec.Status, exec.CompletedAt = client.StatusCancelled, ptr(o.Add(30*time.Second))
	for _, l := range buildTimeline(exec, f.events[idOrder]) {
		for _, sp := range l.spans {
			if sp.end.IsZero() {
				t.Fatalf("%s still open after the execution ended", l.label)
			}
		}
	}

	// Promises settle by id, rejections and timeouts fail; an open timer
	// shows when it is due.
	events := []client.Event{
		event(1, o, "WORKFLOW_STARTED", `{}`),
		event(2, o.Add(time.Second), "PROMISE_CREATED", `{"promiseId":"p1","promiseName":"a"}`),
		event(3, o.Add(time.Second), "PROMISE_CREATED", `{"promiseId":"p2","promiseName":"b"}`),
		event(4, o.Add(2*time.Second), "PROMISE_TIMEOUT", `{"promiseId":"p2","promiseName":"b"}`),
		event(5, o.Add(3*time.Second), "PROMISE_REJECTED", `{"promiseId":"p1"}`),
		event(6, o.Add(3*time.Second), "TIMER_STARTED", `{"timerId":"t","durationMs":60000}`),
	}
	lanes = buildTimeline(client.Execution{CreatedAt: o, Status: client.StatusWaiting}, events)
	if lanes[1].spans[0].state != spanFailed || lanes[2].spans[0].state != spanFailed {
		t.Fatalf("settled promises: %+v", lanes[1:3])
	}
	if lanes[3].due != o.Add(63*time.Second) {
		t.Fatalf("timer due %s", lanes[3].due)
	}
	lines := timelineLines(DefaultStyles(), client.Execution{CreatedAt: o, Status: client.StatusWaiting}, events, o.Add(10*time.Second), 100)
	if !strings.Contains(lines[0], "┊1m") || !strings.Contains(strings.Join(lines, "\n"), "·") {
		t.Fatalf("the open timer does not stretch the axis:\n%s", strings.Join(lines, "\n"))
	}
}

func TestDetailLiveUpdates(t *testing.T) {
	f := sampleAPI()
	h := newHarness(t, f, 100, 30)
	h.openDetail(idGreet)
	h.contains("✓ COMPLETED  greet")
	// Nothing changes: a tick costs one request.
	gets, events := len(f.gets), f.eventsN
	h.send(tickMsg(fixedNow))
	if len(f.gets) != gets+1 || f.eventsN != events {
		t.Fatalf("an idle tick made %d gets and %d events calls", len(f.gets)-gets, f.eventsN-events)
	}

	// New events are fetched from the last one on and appended.
	h.openDetail(idApprove)
	h.press("2")
	h.contains("2 Events (3)")
	f.mu.Lock()
	f.events[idApprove] = append(f.events[idApprove], event(4, fixedNow, "SIGNAL_RECEIVED", `{"signalName":"nudge","signalValue":{"n":1}}`))
	for i := range f.execs {
		if f.execs[i].ID == idApprove {
			f.execs[i].CurrentSequence = 4
		}
	}
	f.mu.Unlock()
	h.send(tickMsg(fixedNow))
	h.contains("2 Events (4)", "SIGNAL_RECEIVED", `signalName=nudge  signalValue={"n":1}`)
	if n := strings.Count(h.view(), "PROMISE_CREATED"); n != 2 {
		t.Fatalf("events were duplicated: %d PROMISE_CREATED", n)
	}
	// r refreshes at once, even with a request in flight.
	h.m.detail.inFlight = true
	gets = len(f.gets)
	h.press("r")
	if len(f.gets) != gets+1 {
		t.Fatal("r did not refresh")
	}
}

// TestDetailOddPayloads: whatever the server sends, the TUI shows what it
// can and never breaks the screen.
func TestDetailOddPayloads(t *testing.T) {
	big := `{"blob":"` + strings.Repeat("x", 300<<10) + `"}`
	odd := client.Execution{
		ID: "0dd0dd00-0000-4000-8000-000000000000", Kind: "odd\x1b[31m-kind\nnext", Status: "MYSTERY", Queue: "q\tq",
		CreatedAt: at(-time.Minute), Input: json.RawMessage(`[1,2,3]`), Output: json.RawMessage(`"just a string"`),
		Error: ptr("line one\nline \x1b]0;pwned\x07two"), Metadata: map[string]string{"k\x1b": "v\r"},
	}
	huge := client.Execution{ID: "b16b16b1-0000-4000-8000-000000000000", Kind: "huge", Status: client.StatusCompleted, CreatedAt: at(-time.Minute),
		CompletedAt: ptr(at(-time.Second)), Input: json.RawMessage(big), Output: json.RawMessage(`{not json`)}
	f := newFakeAPI(odd, huge)
	f.events[odd.ID] = []client.Event{
		event(1, at(-time.Minute), "WORKFLOW_STARTED", `42`),
		event(2, at(-50*time.Second), "SOMETHING_NEW", `{"weird":[1,{"a":null}],"text":"\u001b[2J"}`),
		event(3, at(-40*time.Second), "TASK_SCHEDULED", `null`),
		event(4, at(-30*time.Second), "TASK_COMPLETED", `{"taskExecutionId":7}`),
		event(5, at(-20*time.Second), "PROMISE_CREATED", `"not an object"`),
		event(6, at(-10*time.Second), "TIMER_STARTED", `{"timerId":"t","durationMs":-5}`),
		event(7, time.Time{}, "CHILD_WORKFLOW_FAILED", `{"childExecutionName":"never-started"}`),
		{Sequence: 8, EventType: "", Data: nil},
	}
	f.tasks[odd.ID] = []client.Task{{ID: "t", Kind: "k\x1b", Status: "WEIRD", Progress: ptr(7.5), Error: ptr("bad\x1bthing")}}
	for _, size := range [][2]int{{100, 30}, {80, 24}, {200, 60}, {30, 8}} {
		h := newHarness(t, f, size[0], size[1])
		for _, id := range []string{odd.ID, huge.ID} {
			h.send(openDetailMsg{id: id})
			for _, tab := range []string{"1", "2", "3", "4"} {
				h.press(tab, "G", "g")
				raw := h.m.View()
				checkFrame(t, raw, size[0], size[1])
				for _, bad := range []string{"\x1b[31m-kind", "\x1b]0;", "\x1b[2J", "\x07", "\r", "\t"} {
					if strings.Contains(raw, bad) {
						t.Fatalf("%dx%d tab %s: the screen carries %q from a payload", size[0], size[1], tab, bad)
					}
				}
			}
			h.press("esc")
		}
	}
	h := newHarness(t, f, 120, 40)
	h.openDetail(odd.ID)
	h.contains("? MYSTERY", "odd·[31m-kind next", "[", "1,", `"just a string"`, "line one", "·]0;pwned·two")
	h.press("2")
	h.contains("SOMETHING_NEW", `weird=[1,{"a":null}]`, "42", "TASK_SCHEDULED")
	h.press("3")
	h.contains("WEIRD", "██████████ 100%")
	h.openDetail(huge.ID)
	h.contains(`{"blob":"xxxx`)
	h.press("G")
	h.contains("(307211 bytes; the first 8192 shown)", "(not valid JSON)", "{not json")
}

func TestDetailNotFound(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.openDetail("00000000-0000-4000-8000-00000000dead")
	h.contains("Loading 00000000-0000-4000-8000-00000000dead…", "✗ workflow execution 00000000-0000-4000-8000-00000000dead not found (404 Not Found)")
	h.press("2", "c", "p") // nothing to act on; nothing breaks
	if h.m.dialog != nil {
		t.Fatal("a dialog opened on an execution that did not load")
	}
	h.press("esc")
	h.contains("7 loaded")
}
