package tui

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flovyn/flovyn/client"
)

// openAgent opens agent execution id.
func (h *harness) openAgent(id string) {
	h.t.Helper()
	h.send(openAgentMsg{id: id})
	h.contains("Agents › " + shortID(id))
}

// manyAgents makes n agent executions one second apart, the newest first.
func manyAgents(n int) []client.AgentExecution {
	out := make([]client.AgentExecution, n)
	statuses := []string{client.StatusCompleted, client.StatusRunning, client.StatusFailed, client.StatusWaiting, client.StatusPending}
	for i := range out {
		out[i] = client.AgentExecution{
			ID: fmt.Sprintf("%08x-0000-4000-8000-%012d", 0xa0000000+i, i), Kind: []string{"researcher", "writer"}[i%2],
			Status: statuses[i%len(statuses)], Queue: "agents", CurrentCheckpointSeq: -1, CreatedAt: fixedNow.Add(-time.Duration(i) * time.Second),
		}
	}
	return out
}

func TestAgentList(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	if len(h.api.agentLists) != 0 {
		t.Fatal("the agents were read before the agent list was shown")
	}
	h.press("a")
	h.contains("› Agents", "ID", "KIND", "STATUS", "QUEUE", "6 loaded", "● live",
		"n start agent", "a/tab executions")
	want := []string{"9d8c7b6a", "5b6c7d8e", "1a2b3c4d", "2c3d4e5f", "e1f2a3b4", "b0c1d2e3"}
	if got := h.listedIDs(); !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for id, cells := range map[string][]string{
		idPlanner:   {"trip-planner", "○ PENDING", "nobody", "14:29:57", "3.0s"},
		idResearch:  {"researcher", "◐ WAITING", "agents", "14:28:30", "1m30s"},
		idWriter:    {"writer", "✓ COMPLETED", "2m00s"},
		idTranslate: {"translator", "✗ FAILED"},
		idDigest:    {"news-digest", "⊘ CANCELLED", "Mar 09 12:30"},
	} {
		row := h.row(id)
		for _, c := range cells {
			if !strings.Contains(row, c) {
				t.Errorf("row of %s lacks %q: %q", id, c, row)
			}
		}
	}
	if len(h.api.agentLists) != 1 || h.api.agentLists[0].Limit != headRows {
		t.Fatalf("agent list requests: %+v", h.api.agentLists)
	}

	// Filters are the server's; search and sort work on the loaded rows.
	h.press("f")
	h.contains("status active", "3 loaded")
	if last := h.api.agentLists[len(h.api.agentLists)-1]; !slices.Equal(last.Statuses, []string{"PENDING", "RUNNING", "WAITING"}) {
		t.Fatalf("status filter sent %v", last.Statuses)
	}
	h.press("esc", "K")
	h.typeText("wri")
	h.press("tab", "enter")
	h.contains("kind writer", "1 loaded")
	if last := h.api.agentLists[len(h.api.agentLists)-1]; last.Kind != "writer" {
		t.Fatalf("kind filter sent %q", last.Kind)
	}
	h.press("esc", "/")
	h.typeText("bot")
	h.press("enter")
	if got := h.listedIDs(); !slices.Equal(got, []string{"5b6c7d8e"}) {
		t.Fatalf("search bot shows %v", got)
	}
	h.press("esc", "s", "s")
	h.contains("sort status ↓")
	if got := h.listedIDs(); got[0] != "5b6c7d8e" || got[1] != "1a2b3c4d" {
		t.Fatalf("sorted by status: %v", got)
	}

	// Each list keeps its own place: a (or tab) switches back and forth.
	h.press("j")
	h.press("tab")
	h.contains("› Executions", "7 loaded", "sort newest ↓")
	h.press("j", "a")
	h.contains("› Agents", "sort status ↓")
	if !strings.Contains(h.selectedRow(), "1a2b3c4d") {
		t.Fatalf("the agent list lost its selection: %q", h.selectedRow())
	}

	// enter opens the agent; esc comes back to the agent list.
	h.press("enter")
	h.contains("Agents › 1a2b3c4d", "◐ WAITING  researcher  "+idResearch)
	h.press("esc")
	h.contains("› Agents", "6 loaded")

	// Live: a new agent appears at the top on the next tick.
	h.api.mu.Lock()
	h.api.agents = append(h.api.agents, client.AgentExecution{ID: "0f0f0f0f-0000-4000-8000-000000000000", Kind: "fresh-agent", Status: client.StatusPending, Queue: "default", CreatedAt: fixedNow})
	h.api.mu.Unlock()
	h.send(tickMsg(fixedNow))
	h.contains("fresh-agent", "7 loaded")
}

func TestAgentListPages(t *testing.T) {
	f := newFakeAPI()
	f.agents = manyAgents(1200)
	h := newHarness(t, f, 100, 30)
	h.press("a")
	h.contains("100 loaded, more below")
	// Scrolling down asks for a page more each time, up to the server's
	// limit; the list then says it shows the newest only.
	for range 10 {
		h.press("G")
	}
	h.contains("500 loaded, the newest only")
	var limits []int
	for _, o := range f.agentLists {
		limits = append(limits, o.Limit)
	}
	if !slices.Equal(limits, []int{100, 300, 500}) {
		t.Fatalf("limits asked for: %v", limits)
	}
	if !strings.Contains(h.selectedRow(), shortID(f.agents[499].ID)) {
		t.Fatalf("G did not select the 500th agent: %q", h.selectedRow())
	}
	// A refresh reads what is loaded again, in one request.
	f.agentLists = nil
	h.send(tickMsg(fixedNow))
	if len(f.agentLists) != 1 || f.agentLists[0].Limit != maxPage {
		t.Fatalf("refresh requests: %+v", f.agentLists)
	}
	// A short list is whole: no "more below".
	f.agents = manyAgents(7)
	h.press("f", "esc")
	h.contains("7 loaded")
	h.lacks("more below", "newest only")
	// One refresh in flight at a time.
	m := h.m.agents
	m, first := m.refresh()
	if _, second := m.refresh(); first == nil || second != nil {
		t.Fatal("a second refresh started while one was in flight")
	}
}

func TestAgentDetailTabs(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.openAgent(idResearch)
	h.contains(
		"◐ WAITING  researcher  "+idResearch,
		"queue agents · created 14:28:30 · started 14:28:30 · ended – · running 1m30s · checkpoint #2",
		"parent – · waiting for signal (waiting for followUp)",
		"[1 Overview]", "2 Conversation (5)", "3 Checkpoints (2)", "4 Tasks (3)", "5 Timeline",
		"Last entry assistant  Tides are the rise", "Tasks      1 running, 1 completed, 1 failed",
		"Input", `"topic": "tides",`, "Metadata", `"team": "oceans"`,
	)

	h.press("2")
	h.contains("[2 Conversation (5)]",
		"system · message · turn 1 · +200ms", researchPrompt,
		"user · message · turn 1 · +300ms", "Tell me about tides",
		"assistant · message · turn 1 · +2.1s", "Let me look that up.", "◆ checkpoint #1",
		"tool_result · message · turn 1 · +14s", `"source": "noaa.gov"`,
		"assistant · message · turn 1 · +20s", "Tides are the rise and fall of sea levels",
	)
	// A long message is wrapped, not cut; the last checkpoint is at the end.
	h.press("G")
	h.contains("moon, are the largest.", "◆ checkpoint #2")

	h.press("3")
	h.contains("[3 Checkpoints (2)]", "SEQ", "LEAF ENTRY",
		"1 +2.2s    14:28:32     c0000001 #3 assistant  Let me look that up.",
		"2 +20s     14:28:50     c0000002 #5 assistant  Tides are")

	h.press("4")
	h.contains("[4 Tasks (3)]", "ATTEMPTS", "QUEUE",
		"3e9f0a1b lookup", "✓ COMPLETED", "2/4",
		"8c7d6e5f fetch-page", "✗ FAILED", "4/4", "HTTP 503 from example.org",
		"d4c3b2a1 summarise", "▶ RUNNING", "1/4", "timeout 2m00s")

	h.press("5")
	h.contains("[5 Timeline]", "┊0", "┊1m",
		"agent researcher", "waiting (signal)", "conversation (5)", "checkpoints (2)",
		"task lookup", "task fetch-page", "task summarise", "• entry  ◆ checkpoint")

	// Tabs go round both ways; each keeps its scroll position.
	for _, c := range []struct{ key, tab string }{
		{"tab", "[1 Overview]"}, {"l", "[2 Conversation"}, {"right", "[3 Checkpoints"}, {"h", "[2 Conversation"},
		{"shift+tab", "[1 Overview]"}, {"left", "[5 Timeline]"}, {"4", "[4 Tasks"},
	} {
		h.press(c.key)
		h.contains(c.tab)
	}
	h.press("2", "G", "1", "2")
	h.contains("◆ checkpoint #2")

	// A completed agent shows its output, a failed one its error.
	h.press("esc")
	h.contains("› Agents")
	h.openAgent(idWriter)
	h.contains("✓ COMPLETED  writer", "took 2m00s", "checkpoint #1", "Output", `"words": 640`)
	h.press("2", "3", "4")
	h.contains("No tasks.")
	h.press("3")
	h.contains("No checkpoints yet.")
	h.press("2")
	h.contains("No entries yet.")
	h.openAgent(idTranslate)
	h.contains("✗ FAILED  translator", "checkpoint none", "Error", "TRANSIENT_ERROR: model quota exceeded")
}

func TestAgentTimeline(t *testing.T) {
	f := sampleAPI()
	a, _ := f.findAgent(idResearch)
	lanes := buildAgentTimeline(a, f.entries[idResearch], f.checkpoints[idResearch], f.agentTasks[idResearch])
	var labels []string
	for _, l := range lanes {
		labels = append(labels, l.label)
	}
	want := []string{"agent researcher", "waiting (signal)", "conversation (5)", "checkpoints (2)", "task lookup", "task fetch-page", "task summarise"}
	if !slices.Equal(labels, want) {
		t.Fatalf("lanes %v, want %v", labels, want)
	}
	r := a.CreatedAt
	if sp := lanes[0].spans[0]; !sp.start.Equal(r) || !sp.end.IsZero() || sp.state != spanOpen {
		t.Fatalf("the agent's lane: %+v", sp)
	}
	if sp := lanes[1].spans[0]; !sp.start.Equal(a.UpdatedAt) || !sp.end.IsZero() {
		t.Fatalf("the wait: %+v", sp)
	}
	if n := len(lanes[2].spans); n != 5 || !lanes[2].instants || !lanes[2].spans[4].start.Equal(r.Add(20*time.Second)) {
		t.Fatalf("the entries: %+v", lanes[2])
	}
	if sp := lanes[5].spans[0]; sp.state != spanFailed || !sp.end.Equal(r.Add(12*time.Second)) {
		t.Fatalf("the failed task: %+v", sp)
	}
	if sp := lanes[6].spans[0]; sp.state != spanOpen || !sp.end.IsZero() {
		t.Fatalf("the running task: %+v", sp)
	}

	// An ended agent's axis reaches the last task that ended after it;
	// moments at the very end of the axis are still drawn.
	a.Status, a.CompletedAt, a.WaitingFor = client.StatusCompleted, ptr(r.Add(30*time.Second)), nil
	tasks := []client.AgentTask{{Kind: "late", Status: client.StatusCompleted, CreatedAt: r.Add(20 * time.Second), CompletedAt: ptr(r.Add(60 * time.Second))}}
	entries := []client.AgentEntry{{ID: "x", CreatedAt: r.Add(60 * time.Second)}}
	lines := agentTimelineLines(DefaultStyles(), a, entries, nil, tasks, fixedNow, 100)
	text := strings.Join(lines, "\n")
	if !strings.Contains(lines[0], "┊1m") || strings.Contains(text, "waiting (") || !strings.Contains(text, "•") {
		t.Fatalf("ended agent's timeline:\n%s", text)
	}
}

func TestAgentDetailLive(t *testing.T) {
	f := sampleAPI()
	h := newHarness(t, f, 100, 30)

	// An ended agent with nothing running: a tick costs one request.
	h.openAgent(idWriter)
	gets, entries := len(f.agentGets), f.entriesN
	h.send(tickMsg(fixedNow))
	if len(f.agentGets) != gets+1 || f.entriesN != entries {
		t.Fatalf("an idle tick made %d gets and %d entries calls", len(f.agentGets)-gets, f.entriesN-entries)
	}

	// A running agent appends entries without changing its row: they are
	// read on every tick.
	h.openAgent(idSupport)
	h.press("2")
	h.contains("No entries yet.")
	f.mu.Lock()
	f.entries[idSupport] = append(f.entries[idSupport], client.AgentEntry{ID: "e1", EntryType: "message", Role: ptr("user"),
		Content: json.RawMessage(`"My order did not arrive"`), CreatedAt: at(-20 * time.Second)})
	f.mu.Unlock()
	h.send(tickMsg(fixedNow))
	h.contains("2 Conversation (1)", "user · message · +10s", "My order did not arrive")

	// A status change is seen on the next tick, and r reads at once even
	// with a request in flight.
	f.mu.Lock()
	for i := range f.agents {
		if f.agents[i].ID == idSupport {
			f.agents[i].Status, f.agents[i].UpdatedAt = client.StatusWaiting, fixedNow
			f.agents[i].WaitingFor = ptr("tasks_all")
		}
	}
	f.mu.Unlock()
	h.m.agent.inFlight = true
	h.press("r")
	h.contains("◐ WAITING  support-bot", "waiting for tasks_all")
}

func TestAgentNotFound(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("a")
	h.openAgent("00000000-0000-4000-8000-00000000dead")
	h.contains("Loading 00000000-0000-4000-8000-00000000dead…", "✗ agent execution 00000000-0000-4000-8000-00000000dead not found (404 Not Found)")
	h.press("2", "c", "S")
	if h.m.dialog != nil {
		t.Fatal("a dialog opened on an agent that did not load")
	}
	h.press("esc")
	h.contains("› Agents", "6 loaded")
}

func TestAgentSignalDialog(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.openAgent(idResearch)
	h.press("S")
	h.contains("Signal agent 1a2b3c4d (researcher)", "Name", "Value")
	h.press("enter", "enter")
	h.contains("✗ Name is required")
	h.typeText("followUp")
	h.press("tab")
	h.typeText(`{"question": "and spring`)
	h.press("enter")
	h.contains("✗ Value is not valid JSON")
	h.typeText(` tides?"}`)
	h.press("enter")
	h.contains(`Send signal "followUp" with value {"question":"and spring tides?"} to`, "agent 1a2b3c4d (researcher)?",
		"It is kept until the agent consumes it; an agent waiting for it resumes.")
	h.press("n") // back to the form, nothing sent
	if len(h.api.agentSignals) != 0 {
		t.Fatal("n sent the signal")
	}
	h.press("enter", "y")
	if !slices.Equal(h.api.agentSignals, []string{idResearch + `|followUp|{"question": "and spring tides?"}`}) {
		t.Fatalf("signals: %v", h.api.agentSignals)
	}
	h.contains(`✓ Signal "followUp" sent to agent 1a2b3c4d (researcher); it resumed`)

	// From the agent list, with an empty value (null); a RUNNING agent keeps it.
	h.press("esc", "j", "S")
	h.typeText("nudge")
	h.press("enter", "enter")
	h.contains(`Send signal "nudge" with value null to agent 5b6c7d8e (support-bot)?`)
	h.press("y")
	if h.api.agentSignals[1] != idSupport+"|nudge|" {
		t.Fatalf("signals: %v", h.api.agentSignals)
	}
	h.contains(`✓ Signal "nudge" sent to agent 5b6c7d8e (support-bot); kept until the agent consumes it`)

	// An ended agent refuses it: the form stays, with the server's answer.
	h.openAgent(idWriter)
	h.press("S")
	h.typeText("late")
	h.press("enter", "enter", "y")
	if h.m.dialog == nil || h.m.dialog.stage != stageEdit {
		t.Fatal("the dialog closed on a refused signal")
	}
	h.contains("✗ agent execution " + idWriter + " has already ende")
	if !strings.Contains(h.m.dialog.err, "the signal was not delivered (409 Conflict)") {
		t.Fatalf("dialog error: %q", h.m.dialog.err)
	}
}

func TestAgentCancelDialog(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("a", "j", "j") // researcher
	h.press("c")
	h.contains("Cancel agent 1a2b3c4d (researcher)", "Reason")
	h.press("esc")
	if h.m.dialog != nil || len(h.api.agentCancels) != 0 {
		t.Fatal("esc did not just close the dialog")
	}
	h.press("c")
	h.typeText("not needed")
	h.press("enter")
	h.contains("Cancel agent 1a2b3c4d (researcher)? Its tasks that have not ended are", "cancelled too.", "Reason: not needed")
	h.press("y")
	if !slices.Equal(h.api.agentCancels, []string{idResearch + "|not needed"}) {
		t.Fatalf("cancels: %v", h.api.agentCancels)
	}
	h.contains("✓ Cancel of agent 1a2b3c4d (researcher): CANCELLED")
	if !strings.Contains(h.row(idResearch), "⊘ CANCELLED") {
		t.Fatalf("the list was not refreshed: %q", h.row(idResearch))
	}

	// From the detail view; an agent that had ended says so.
	h.openAgent(idWriter)
	h.press("c", "enter", "y")
	if len(h.api.agentCancels) != 2 || h.api.agentCancels[1] != idWriter+"|" {
		t.Fatalf("cancels: %v", h.api.agentCancels)
	}
	h.contains("✓ Agent 2c3d4e5f (writer) had already ended (COMPLETED)")
}

func TestAgentStartDialog(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("a", "n")
	h.contains("Start an agent", "Kind", "agent kind", "Queue", "Input")
	h.typeText("researcher")
	h.press("tab")
	h.typeText("agents")
	h.press("tab")
	h.typeText(`{"topic": "waves"}`)
	h.press("enter")
	h.contains(`Start a researcher agent on queue agents with input {"topic":"waves"}?`)
	h.press("y")
	if len(h.api.agentStarts) != 1 || h.api.agentStarts[0].Kind != "researcher" || h.api.agentStarts[0].Queue != "agents" ||
		string(h.api.agentStarts[0].Input) != `{"topic": "waves"}` || len(h.api.starts) != 0 {
		t.Fatalf("starts: %+v (workflows %+v)", h.api.agentStarts, h.api.starts)
	}
	h.contains("✓ Started agent researcher a9e70000", "7 loaded")
}

func TestAgentHelp(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	h.press("?")
	h.contains("Keys: execution list", "a/tab", "agents")
	h.press("?", "a", "?")
	h.contains("Keys: agent list", "a/tab", "executions", "n", "start agent", "f", "status filter", "c", "cancel", "S", "signal")
	h.lacks("start workflow", "resolve promise")
	h.press("esc", "enter", "?")
	h.contains("Keys: agent detail", "1", "overview", "2", "conversation", "3", "checkpoints", "4", "tasks", "5", "timeline",
		"c", "cancel", "S", "signal", "esc", "back")
	h.lacks("resolve promise", "events")
}

// TestAgentOddPayloads: whatever an agent stores, the screen stays whole
// and carries no escape sequences.
func TestAgentOddPayloads(t *testing.T) {
	odd := client.AgentExecution{ID: "0dd0dd00-0000-4000-8000-00000000a9e7", Kind: "odd\x1b[31m-kind\nnext", Status: "MYSTERY", Queue: "q\tq",
		CreatedAt: at(-time.Minute), UpdatedAt: at(-time.Minute), WaitingFor: ptr("signal\x1b]0;x\x07"), Input: json.RawMessage(`[1,2,3]`),
		Output: json.RawMessage(`"just a string"`), Error: ptr("line one\nline \x1b]0;pwned\x07two"), Metadata: json.RawMessage(`{not json`)}
	f := newFakeAPI()
	f.agents = []client.AgentExecution{odd}
	f.entries[odd.ID] = []client.AgentEntry{
		{ID: "1", EntryType: "message\x1b[2J", Role: ptr("user\x1b"), Content: json.RawMessage(`"hello\u001b[2J\nworld"`), CreatedAt: at(-50 * time.Second)},
		{ID: "2", EntryType: "llm_call", Content: json.RawMessage(`{"text":"` + strings.Repeat("word ", 5000) + `"}`)},
		{ID: "3", EntryType: "", Content: json.RawMessage(`{"blob":"` + strings.Repeat("x", 300<<10) + `"}`)},
		{ID: "4", EntryType: "message", Content: nil},
	}
	f.checkpoints[odd.ID] = []client.AgentCheckpoint{{ID: "c", Sequence: 1, LeafEntryID: ptr("missing")}, {ID: "d", Sequence: 2}}
	f.agentTasks[odd.ID] = []client.AgentTask{{ID: "t", Kind: "k\x1b", Status: "WEIRD", Error: ptr("bad\x1bthing"), TimeoutMs: ptr(int64(-5))}}
	for _, size := range [][2]int{{100, 30}, {80, 24}, {200, 60}, {30, 8}} {
		h := newHarness(t, f, size[0], size[1])
		h.press("a")
		h.send(openAgentMsg{id: odd.ID})
		for _, tab := range []string{"1", "2", "3", "4", "5"} {
			h.press(tab, "G", "g")
			raw := h.m.View()
			checkFrame(t, raw, size[0], size[1])
			for _, bad := range []string{"\x1b[31m-kind", "\x1b]0;", "\x1b[2J", "\x07", "\r", "\t"} {
				if strings.Contains(raw, bad) {
					t.Fatalf("%dx%d tab %s: the screen carries %q from a payload", size[0], size[1], tab, bad)
				}
			}
		}
	}
	h := newHarness(t, f, 120, 40)
	h.openAgent(odd.ID)
	h.contains("? MYSTERY", "odd·[31m-kind next", "·]0;pwned·two", "{not json")
	h.press("2")
	h.contains("user·", "hello·[2J", "world", "llm_call", "word word")
	h.press("3")
	h.contains("missing", "–")
}
