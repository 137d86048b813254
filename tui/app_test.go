package tui

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/flovyn/flovyn/client"
)

// screens visits every view and overlay, calling check on each.
func screens(h *harness, check func(name string)) {
	check("list")
	h.press("/")
	h.typeText("o")
	check("search prompt")
	h.press("esc", "K")
	check("kind prompt")
	h.press("esc", "?")
	check("list help")
	h.press("?", "n")
	check("start dialog")
	h.press("esc", "j", "j", "enter")
	for _, tab := range []string{"1", "2", "3", "4"} {
		h.press(tab)
		check("detail tab " + tab)
		h.press("G")
		check("detail tab " + tab + " bottom")
	}
	h.press("?")
	check("detail help")
	h.press("esc", "p")
	check("promise dialog")
	h.press("enter")
	check("confirm dialog")
	h.press("esc", "esc", "esc")
	check("back to the list")
	h.press("a")
	check("agent list")
	h.press("?")
	check("agent list help")
	h.press("?", "n")
	check("start agent dialog")
	h.press("esc", "j", "j", "enter")
	for _, tab := range []string{"1", "2", "3", "4", "5"} {
		h.press(tab)
		check("agent tab " + tab)
		h.press("G")
		check("agent tab " + tab + " bottom")
	}
	h.press("?")
	check("agent help")
	h.press("esc", "S")
	check("agent signal dialog")
	h.typeText("go")
	h.press("enter", "enter")
	check("agent signal confirmation")
	h.press("esc", "esc", "esc", "tab")
	check("back to the executions")
}

func TestResize(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 60}, {100, 30}, {40, 12}} {
		w, hgt := size[0], size[1]
		h := newHarness(t, sampleAPI(), w, hgt)
		screens(h, func(name string) {
			t.Helper()
			checkFrame(t, h.m.View(), w, hgt)
			if w >= 80 && !strings.Contains(h.view(), "flovyn") {
				t.Fatalf("%dx%d %s: no header", w, hgt, name)
			}
		})
	}

	// Resizing in the middle of things keeps the state and redraws at the
	// new size; tiny and zero sizes do not panic.
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("j", "j", "enter", "2")
	for _, size := range [][2]int{{80, 24}, {200, 60}, {1, 1}, {0, 0}, {19, 5}, {80, 24}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		_ = h.m.View()
	}
	checkFrame(t, h.m.View(), 80, 24)
	h.contains("[2 Events (16)]", "WORKFLOW_STARTED")
	h.send(tea.WindowSizeMsg{Width: 10, Height: 3})
	if v := h.view(); v != "flovyn tui: the terminal is too small" {
		t.Fatalf("tiny screen: %q", v)
	}
	// A list resized smaller keeps the selection on screen.
	h = newHarness(t, newFakeAPI(manyExecutions(100)...), 100, 60)
	h.press("G")
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	sel := h.selectedRow()
	if !strings.Contains(sel, shortID(manyExecutions(100)[99].ID)) {
		t.Fatalf("selection after a resize: %q", sel)
	}
}

func TestConnectionProblems(t *testing.T) {
	f := sampleAPI()
	f.err = errDown
	h := newHarness(t, f, 100, 30)
	h.contains("● offline", "Loading executions…",
		"✗ cannot reach the flovyn server at http://127.0.0.1:8000: dial tcp 127.0.0.1:8000: conn…", "conn… · retrying")
	// Each tick retries; once the server answers, the error goes.
	calls := len(f.lists)
	h.send(tickMsg(fixedNow))
	if len(f.lists) != calls+1 {
		t.Fatal("a tick did not retry")
	}
	f.err = nil
	h.send(tickMsg(fixedNow))
	h.contains("● live", "7 loaded", "updated 14:30:00")
	h.lacks("cannot reach")

	// The server going away later keeps what is on screen.
	f.err = &client.Error{Status: 500, Title: "Internal Server Error", Detail: "database is down"}
	h.send(tickMsg(fixedNow))
	h.contains("● offline", "✗ database is down (500 Internal Server Error)", "7 loaded", "order-fulfilment")
	h.press("j", "j", "enter")
	h.contains("Loading " + idOrder)
	h.send(tickMsg(fixedNow))
	h.contains("✗ database is down")
	f.err = nil
	h.send(tickMsg(fixedNow))
	h.contains("◐ WAITING  order-fulfilment", "● live")

	// A panic under a request (a decoder tripping on a payload) is an error
	// on the status line, not a crash.
	h = newHarness(t, sampleAPI(), 100, 30)
	h.m.c.api = panicky{h.api}
	h.send(tickMsg(fixedNow))
	h.contains("✗ internal error: boom")
}

type panicky struct{ *fakeAPI }

func (panicky) ListWorkflows(context.Context, client.ListWorkflowsOptions) (client.ExecutionList, error) {
	panic("boom")
}

func TestHelpAndQuit(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("?")
	h.contains("Keys: execution list", "Move", "View", "Act", "App",
		"j/↓", "down", "/", "search", "f", "status filter", "K", "kind filter", "s", "sort", "R", "reverse sort",
		"n", "start workflow", "c", "cancel", "S", "signal", "?", "help", "q", "quit", "ctrl+c")
	h.lacks("resolve promise")
	h.press("j") // keys other than ?, esc and q do nothing under the help
	h.contains("Keys: execution list")
	h.press("esc")
	h.lacks("Keys:")
	h.press("enter", "?")
	h.contains("Keys: execution detail", "h/←", "previous tab", "l/→/tab", "next tab", "1", "overview", "4", "timeline",
		"p", "resolve promise", "P", "reject promise", "esc", "back")
	h.press("?")
	h.lacks("Keys:")

	// q quits from a page and from the help; ctrl+c from anywhere, a dialog
	// or a prompt included.
	for _, keys := range [][]string{{"q"}, {"?", "q"}, {"enter", "q"}, {"ctrl+c"}, {"n", "ctrl+c"}, {"/", "ctrl+c"}} {
		h := newHarness(t, sampleAPI(), 80, 24)
		h.press(keys...)
		if !h.quit {
			t.Fatalf("%v did not quit", keys)
		}
	}
	// q in a dialog or the search prompt is text.
	for _, keys := range [][]string{{"n", "q"}, {"/", "q"}} {
		h := newHarness(t, sampleAPI(), 80, 24)
		h.press(keys...)
		if h.quit {
			t.Fatalf("%v quit", keys)
		}
	}
}

func TestKeyActions(t *testing.T) {
	k := DefaultKeyMap()
	list, detail := k.listBindings(), k.detailBindings()
	for _, c := range []struct {
		key        string
		list, deta action
	}{
		{"j", actDown, actDown}, {"down", actDown, actDown}, {"k", actUp, actUp}, {"up", actUp, actUp},
		{"g", actTop, actTop}, {"home", actTop, actTop}, {"G", actBottom, actBottom}, {"end", actBottom, actBottom},
		{"ctrl+d", actPageDown, actPageDown}, {"pgdown", actPageDown, actPageDown}, {"space", actPageDown, actPageDown},
		{"ctrl+u", actPageUp, actPageUp}, {"pgup", actPageUp, actPageUp},
		{"enter", actOpen, actNone}, {"l", actOpen, actNextTab}, {"right", actOpen, actNextTab},
		{"h", actNone, actPrevTab}, {"left", actNone, actPrevTab}, {"tab", actSwitch, actNextTab}, {"shift+tab", actNone, actPrevTab},
		{"a", actSwitch, actNone},
		{"1", actNone, actTab1}, {"2", actNone, actTab2}, {"3", actNone, actTab3}, {"4", actNone, actTab4},
		{"esc", actBack, actBack}, {"backspace", actBack, actBack},
		{"/", actSearch, actNone}, {"f", actStatusFilter, actNone}, {"K", actKindFilter, actNone},
		{"s", actSort, actNone}, {"R", actReverse, actNone}, {"r", actRefresh, actRefresh},
		{"n", actStart, actStart}, {"c", actCancel, actCancel}, {"S", actSignal, actSignal},
		{"p", actNone, actResolve}, {"P", actNone, actReject},
		{"?", actHelp, actHelp}, {"q", actQuit, actQuit}, {"x", actNone, actNone},
	} {
		if got := lookup(keyMsg(c.key), list); got != c.list {
			t.Errorf("list %q: action %d, want %d", c.key, got, c.list)
		}
		if got := lookup(keyMsg(c.key), detail); got != c.deta {
			t.Errorf("detail %q: action %d, want %d", c.key, got, c.deta)
		}
	}
	// The agent views: the same keys, with 5 tabs and no promises.
	agents, agent := k.agentListBindings(), k.agentDetailBindings()
	for _, c := range []struct {
		key         string
		list, agent action
	}{
		{"a", actSwitch, actNone}, {"tab", actSwitch, actNextTab}, {"enter", actOpen, actNone}, {"5", actNone, actTab5},
		{"n", actStart, actStart}, {"c", actCancel, actCancel}, {"S", actSignal, actSignal}, {"p", actNone, actNone},
		{"f", actStatusFilter, actNone}, {"esc", actBack, actBack}, {"j", actDown, actDown},
	} {
		if got := lookup(keyMsg(c.key), agents); got != c.list {
			t.Errorf("agent list %q: action %d, want %d", c.key, got, c.list)
		}
		if got := lookup(keyMsg(c.key), agent); got != c.agent {
			t.Errorf("agent detail %q: action %d, want %d", c.key, got, c.agent)
		}
	}
	// Relabelling the agent list's keys leaves the execution list's alone.
	for _, b := range shortHelp(k.listBindings(), actSwitch, actStart) {
		if d := b.Help().Desc; d != "agents" && d != "start workflow" {
			t.Errorf("the execution list's key %s says %q", b.Help().Key, d)
		}
	}
	// Every binding has help text, so the help overlay lists it.
	for _, b := range slices.Concat(list, detail, agents, agent) {
		if b.key.Help().Key == "" || b.key.Help().Desc == "" {
			t.Errorf("binding %v has no help", b.key.Keys())
		}
	}
}

func TestNewOptions(t *testing.T) {
	m := New(context.Background(), newFakeAPI(), Options{})
	if m.interval != 1e9 || m.c.now == nil {
		t.Fatalf("defaults: interval %s", m.interval)
	}
	if m := New(context.Background(), newFakeAPI(), Options{Interval: 5e9}); m.interval != 1e9 {
		t.Fatalf("an interval above 1s was kept: %s", m.interval)
	}
	if m.Init() == nil || !m.list.refreshing {
		t.Fatal("the first fetch is not started, or not marked in flight")
	}
}

// TestRandomKeys presses random keys at random sizes, with the server
// sometimes failing, and checks every frame.
func TestRandomKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	keys := []string{"j", "k", "g", "G", "h", "l", "enter", "esc", "tab", "shift+tab", "1", "2", "3", "4", "5", "a",
		"/", "f", "K", "s", "R", "r", "n", "c", "S", "p", "P", "?", "y", "N", "x", "{", "backspace",
		"up", "down", "left", "right", "ctrl+d", "ctrl+u", "space", "home", "end"}
	f := sampleAPI()
	f.execs = append(f.execs, manyExecutions(300)...)
	f.agents = append(f.agents, manyAgents(300)...)
	h := newHarness(t, f, 100, 30)
	w, hgt := 100, 30
	for i := range 5000 {
		switch r := rng.IntN(100); {
		case r < 3:
			w, hgt = 20+rng.IntN(200), 6+rng.IntN(60)
			h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
		case r < 6:
			if f.err == nil {
				f.err = errDown
			} else {
				f.err = nil
			}
		case r < 12:
			h.send(tickMsg(fixedNow))
		default:
			k := keys[rng.IntN(len(keys))]
			if k == "q" || k == "ctrl+c" {
				continue
			}
			h.press(k)
		}
		if i%10 == 0 {
			checkFrame(t, h.m.View(), w, hgt)
		}
	}
}
