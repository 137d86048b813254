package tui

import (
	"slices"
	"strings"
	"testing"

	"github.com/flovyn/flovyn/client"
)

func TestCancelDialog(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("j", "j") // order-fulfilment
	h.press("c")
	h.contains("Cancel execution 7c9e6679 (order-fulfilment)", "Reason", "optional")

	// esc closes the form without a request.
	h.press("esc")
	if h.m.dialog != nil || len(h.api.cancels) != 0 {
		t.Fatal("esc did not just close the dialog")
	}

	h.press("c")
	h.typeText("customer asked")
	h.press("enter")
	h.contains("Cancel 7c9e6679 (order-fulfilment)? Its running tasks and its children", "are cancelled too.", "Reason: customer asked", "y confirm", "n/esc go back")
	// n goes back to the form, keeping what was typed; nothing is sent.
	h.press("n")
	h.contains("› customer asked")
	if len(h.api.cancels) != 0 {
		t.Fatal("n sent the cancel")
	}
	h.press("enter", "y")
	if !slices.Equal(h.api.cancels, []string{idOrder + "|customer asked"}) {
		t.Fatalf("cancels: %v", h.api.cancels)
	}
	if h.m.dialog != nil {
		t.Fatal("the dialog stayed open")
	}
	h.contains("✓ Cancel of 7c9e6679 (order-fulfilment): CANCELLED")

	// From the detail view too.
	h.openDetail(idApprove)
	h.press("c", "enter", "y")
	if len(h.api.cancels) != 2 || h.api.cancels[1] != idApprove+"|" {
		t.Fatalf("cancels: %v", h.api.cancels)
	}
}

func TestSignalDialog(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.openDetail(idApprove)
	h.press("S")
	h.contains("Signal execution a1b2c3d4 (expense-approval)", "Name", "Value", "JSON value; empty sends null")

	// The name is required, the value must be JSON.
	h.press("enter", "enter")
	h.contains("✗ Name is required")
	h.typeText("go")
	h.press("tab")
	h.typeText(`{"ok": tru`)
	h.press("enter")
	h.contains("✗ Value is not valid JSON")
	h.typeText("e}")
	h.press("enter")
	h.contains(`Send signal "go" with value {"ok":true} to a1b2c3d4 (expense-approval)?`)
	h.press("esc") // back to the form
	h.press("enter", "y")
	if !slices.Equal(h.api.signals, []string{idApprove + `|go|{"ok": true}`}) {
		t.Fatalf("signals: %v", h.api.signals)
	}
	h.contains(`✓ Signal "go" sent to a1b2c3d4 (expense-approval) (event 9)`)

	// An empty value sends null (no value); from the list as well.
	h.press("esc", "j", "j", "S")
	h.typeText("ping")
	h.press("enter", "enter")
	h.contains(`Send signal "ping" with value null`)
	h.press("y")
	if h.api.signals[1] != idOrder+"|ping|" {
		t.Fatalf("signals: %v", h.api.signals)
	}
}

func TestPromiseDialogs(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.openDetail(idApprove)
	h.contains("Pending promises (2)", "finance", "legal")

	// Resolve: choose among the pending promises, then give a value.
	h.press("p")
	h.contains("Resolve a promise of a1b2c3d4 (expense-approval)", "▸ finance", "legal", "Value")
	h.press("j")
	h.contains("▸ legal")
	h.press("tab")
	h.typeText(`{"approved": true}`)
	h.press("enter")
	h.contains(`Resolve promise legal with {"approved":true}?`, "The workflow wakes up with this value.")
	h.press("y")
	if !slices.Equal(h.api.resolves, []string{`p-2|{"approved": true}`}) {
		t.Fatalf("resolves: %v", h.api.resolves)
	}
	h.contains("✓ Promise legal of a1b2c3d4 (expense-approval) resolved")

	// Reject: the error text is required.
	h.press("P")
	h.contains("Reject a promise of a1b2c3d4", "Error")
	h.press("enter") // from the chooser to the field
	h.press("enter")
	h.contains("✗ Error is required")
	h.typeText("over budget")
	h.press("enter")
	h.contains(`Reject promise finance with error "over budget"?`)
	h.press("n", "esc") // back, then close: nothing sent
	if len(h.api.rejects) != 0 {
		t.Fatal("a closed dialog rejected the promise")
	}
	h.press("P", "enter")
	h.typeText("over budget")
	h.press("enter", "y")
	if !slices.Equal(h.api.rejects, []string{"p-1|over budget"}) {
		t.Fatalf("rejects: %v", h.api.rejects)
	}

	// Only pending promises are offered; a settled one is not.
	events := h.api.events[idOrder]
	pending := pendingPromises(idOrder, append(slices.Clone(events), event(17, fixedNow, "PROMISE_RESOLVED", `{"promiseId":"`+promiseID+`","promiseName":"manager-approval","value":1}`)))
	if len(pending) != 0 {
		t.Fatalf("a resolved promise is pending: %+v", pending)
	}
	if p := pendingPromises(idOrder, events); len(p) != 1 || p[0].id != promiseID || p[0].name != "manager-approval" {
		t.Fatalf("pending: %+v", p)
	}
	// A promise without an id is named <execution>:<name>.
	if p := pendingPromises("wf", []client.Event{event(1, fixedNow, "PROMISE_CREATED", `{"promiseName":"x"}`)}); len(p) != 1 || p[0].id != "wf:x" {
		t.Fatalf("pending: %+v", p)
	}

	// With one pending promise the chooser is skipped; with none there is no dialog.
	h.press("esc")
	h.openDetail(idOrder)
	h.press("p")
	h.contains("▸ manager-approval")
	h.press("enter", "y")
	if h.api.resolves[1] != promiseID+"|" {
		t.Fatalf("resolves: %v", h.api.resolves)
	}
	h.press("esc")
	h.openDetail(idGreet)
	h.press("p")
	if h.m.dialog != nil {
		t.Fatal("a promise dialog opened with no pending promise")
	}
	h.contains("✗ This execution waits on no promise.")
}

func TestStartDialog(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("n")
	h.contains("Start a workflow", "Kind", "Queue", "Input")
	h.press("enter", "enter", "enter")
	h.contains("✗ Kind is required")
	h.press("shift+tab", "shift+tab")
	h.typeText("greet")
	h.press("tab")
	h.typeText("fast")
	h.press("tab")
	h.typeText(`{"name": "x"}`)
	h.press("enter")
	h.contains(`Start a greet workflow on queue fast with input {"name":"x"}?`)
	h.press("y")
	if len(h.api.starts) != 1 || h.api.starts[0].Kind != "greet" || h.api.starts[0].Queue != "fast" || string(h.api.starts[0].Input) != `{"name": "x"}` {
		t.Fatalf("starts: %+v", h.api.starts)
	}
	h.contains("✓ Started greet 5a7e0000", "8 loaded")

	// With defaults, from the detail view.
	h.openDetail(idGreet)
	h.press("n")
	h.typeText("report")
	h.press("enter", "enter", "enter")
	h.contains("Start a report workflow on queue default with no input?")
	h.press("y")
	if s := h.api.starts[1]; s.Kind != "report" || s.Queue != "" || s.Input != nil {
		t.Fatalf("start: %+v", s)
	}
}

func TestDialogServerError(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("c", "enter")
	h.api.err = &client.Error{Status: 409, Title: "Conflict", Detail: "workflow execution 0b5f4e2d has ended"}
	h.press("y")
	// The dialog stays, back at its form, with the server's answer.
	if h.m.dialog == nil || h.m.dialog.stage != stageEdit {
		t.Fatal("the dialog closed on an error")
	}
	h.contains("✗ workflow execution 0b5f4e2d has ended (409 Conflict)")
	h.api.err = nil
	h.press("enter", "y")
	if h.m.dialog != nil || len(h.api.cancels) != 2 {
		t.Fatalf("the retry did not go through: %v", h.api.cancels)
	}
	// Keys typed while the request runs are ignored.
	d := newCancelDialog(h.m.c, subject{id: "x"}, 100)
	d.stage = stageRunning
	d2, cmd := d.update(keyMsg("esc"))
	if cmd != nil || d2.closed || !strings.Contains(d2.View(), "Working…") {
		t.Fatal("a running dialog took a key")
	}
}
