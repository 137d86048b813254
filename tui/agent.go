package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/flovyn/flovyn/client"
)

// agentTab is a section of an agent execution's detail view.
type agentTab int

const (
	agentOverview agentTab = iota
	agentConversation
	agentCheckpoints
	agentTasks
	agentTimeline
	numAgentTabs
)

func (t agentTab) String() string {
	return [...]string{"Overview", "Conversation", "Checkpoints", "Tasks", "Timeline"}[t]
}

// agentModel is the detail view of one agent execution: a header and five
// tabs rendered into one viewport, which keeps a scroll position per tab.
type agentModel struct {
	c             *common
	width, height int

	id          string
	agent       client.AgentExecution
	loaded      bool
	entries     []client.AgentEntry
	checkpoints []client.AgentCheckpoint
	tasks       []client.AgentTask

	tab     agentTab
	vp      viewport.Model
	offsets [numAgentTabs]int

	inFlight bool
}

func newAgentModel(c *common, id string, w, h int) agentModel {
	m := agentModel{c: c, id: id, vp: viewport.New(w, max(1, h-detailHeaderRows))}
	return m.setSize(w, h)
}

func (m agentModel) setSize(w, h int) agentModel {
	m.width, m.height = w, h
	m.vp.Width, m.vp.Height = w, max(1, h-detailHeaderRows)
	return m.render()
}

// ---- fetching ----

// busy reports whether a task of the agent may still change.
func (m agentModel) busy() bool {
	for _, t := range m.tasks {
		if !client.Terminal(t.Status) {
			return true
		}
	}
	return false
}

// fetch reads the agent and, when it may have changed, its entries,
// checkpoints and tasks. A RUNNING agent appends entries without changing
// its row, so those are read on every tick while it runs; otherwise an idle
// tick costs one request.
func (m agentModel) fetch() (agentModel, tea.Cmd) {
	if m.inFlight {
		return m, nil
	}
	m.inFlight = true
	c, id := m.c, m.id
	known, prev, busy := m.loaded, m.agent, m.busy()
	return m, func() tea.Msg {
		msg := agentMsg{id: id}
		msg.err = call(c.ctx, func(ctx context.Context) error {
			a, err := c.api.GetAgent(ctx, id)
			if err != nil {
				return err
			}
			msg.agent = a
			if known && !busy && a.Status != client.StatusRunning && a.Status == prev.Status &&
				a.UpdatedAt.Equal(prev.UpdatedAt) && a.CurrentCheckpointSeq == prev.CurrentCheckpointSeq {
				return nil
			}
			msg.changed = true
			if msg.entries, err = c.api.AgentEntries(ctx, id); err != nil {
				return err
			}
			if msg.checkpoints, err = c.api.AgentCheckpoints(ctx, id); err != nil {
				return err
			}
			msg.tasks, err = c.api.AgentTasks(ctx, id)
			return err
		})
		return msg
	}
}

func (m agentModel) loadedMsg(msg agentMsg) agentModel {
	if msg.id != m.id {
		return m
	}
	m.inFlight = false
	if msg.err != nil {
		return m
	}
	m.agent, m.loaded = msg.agent, true
	if msg.changed {
		m.entries, m.checkpoints, m.tasks = msg.entries, msg.checkpoints, msg.tasks
	}
	return m.render()
}

// tick redraws the tabs that show how long things have been running.
func (m agentModel) tick() agentModel {
	if !m.loaded || m.tab == agentConversation || (client.Terminal(m.agent.Status) && !m.busy()) {
		return m
	}
	return m.render()
}

// ---- keys ----

func (m agentModel) update(msg tea.Msg) (agentModel, tea.Cmd) {
	switch msg := msg.(type) {
	case agentMsg:
		return m.loadedMsg(msg), nil
	case tea.KeyMsg:
		return m.handle(lookup(msg, m.c.keys.agentDetailBindings()))
	}
	return m, nil
}

func (m agentModel) handle(a action) (agentModel, tea.Cmd) {
	if scroll(&m.vp, a) {
		m.offsets[m.tab] = m.vp.YOffset
		return m, nil
	}
	switch a {
	case actPrevTab:
		return m.switchTab((m.tab + numAgentTabs - 1) % numAgentTabs), nil
	case actNextTab:
		return m.switchTab((m.tab + 1) % numAgentTabs), nil
	case actTab1, actTab2, actTab3, actTab4, actTab5:
		return m.switchTab(agentTab(a - actTab1)), nil
	case actBack:
		return m, emit(backMsg{})
	case actRefresh:
		m.inFlight = false
		return m.fetch()
	case actStart:
		return m, emit(openDialogMsg{newStartDialog(m.c, true, m.width)})
	case actCancel:
		if m.loaded {
			return m, emit(openDialogMsg{newCancelDialog(m.c, agentSubject(m.agent), m.width)})
		}
	case actSignal:
		if m.loaded {
			return m, emit(openDialogMsg{newSignalDialog(m.c, agentSubject(m.agent), m.width)})
		}
	case actQuit:
		return m, tea.Quit
	}
	return m, nil
}

func (m agentModel) switchTab(t agentTab) agentModel {
	m.offsets[m.tab] = m.vp.YOffset
	m.tab = t
	m = m.render()
	m.vp.SetYOffset(m.offsets[t])
	return m
}

// ---- drawing ----

func (m agentModel) render() agentModel {
	if !m.loaded {
		m.vp.SetContent(m.c.styles.Dim.Render("Loading " + clean(m.id) + "…"))
		return m
	}
	var lines []string
	switch m.tab {
	case agentOverview:
		lines = m.overview()
	case agentConversation:
		lines = m.conversation()
	case agentCheckpoints:
		lines = m.checkpointLines()
	case agentTasks:
		lines = m.taskLines()
	case agentTimeline:
		lines = agentTimelineLines(m.c.styles, m.agent, m.entries, m.checkpoints, m.tasks, m.c.now(), m.width)
	}
	for i, l := range lines {
		lines[i] = cut(l, m.width)
	}
	m.vp.SetContent(strings.Join(lines, "\n"))
	return m
}

func (m agentModel) View() string {
	return m.header() + "\n" + m.vp.View()
}

// header shows status, kind, id, times, the latest checkpoint, the parent
// and what a waiting agent waits for, and the tabs.
func (m agentModel) header() string {
	s, now, a := m.c.styles, m.c.now(), m.agent
	if !m.loaded {
		return strings.Join([]string{s.Bold.Render(clean(m.id)), "", "", m.tabBar()}, "\n")
	}
	l1 := s.status(a.Status) + "  " + s.Bold.Render(clean(a.Kind)) + "  " + clean(a.ID)
	dot := s.Dim.Render(" · ")
	checkpoint := "none"
	if a.CurrentCheckpointSeq >= 0 {
		checkpoint = fmt.Sprintf("#%d", a.CurrentCheckpointSeq)
	}
	l2 := strings.Join([]string{
		s.Dim.Render("queue ") + clean(a.Queue),
		s.Dim.Render("created ") + fmtClock(a.CreatedAt, now),
		s.Dim.Render("started ") + fmtClockPtr(a.StartedAt, now),
		s.Dim.Render("ended ") + fmtClockPtr(a.CompletedAt, now),
		s.Dim.Render(took(a.Status)) + fmtDuration(elapsed(a.CreatedAt, a.CompletedAt, now)),
		s.Dim.Render("checkpoint ") + checkpoint,
	}, dot)
	parent := "–"
	if a.ParentExecutionID != nil {
		parent = clean(*a.ParentExecutionID)
	}
	l3 := s.Dim.Render("parent ") + parent
	if w := waitingFor(a); w != "" {
		l3 += dot + s.Dim.Render("waiting for ") + w
	}
	return strings.Join([]string{cut(l1, m.width), cut(l2, m.width), cut(l3, m.width), m.tabBar()}, "\n")
}

// waitingFor says what a WAITING agent waits for: "signal (waiting for
// followUp)"; "" when it does not wait.
func waitingFor(a client.AgentExecution) string {
	if a.WaitingFor == nil {
		return ""
	}
	w := clean(*a.WaitingFor)
	if a.WaitReason != nil && *a.WaitReason != "" {
		w += " (" + clean(*a.WaitReason) + ")"
	}
	return w
}

func (m agentModel) tabBar() string {
	labels := make([]string, numAgentTabs)
	for t := range numAgentTabs {
		labels[t] = t.String()
		switch t {
		case agentConversation:
			labels[t] += fmt.Sprintf(" (%d)", len(m.entries))
		case agentCheckpoints:
			labels[t] += fmt.Sprintf(" (%d)", len(m.checkpoints))
		case agentTasks:
			labels[t] += fmt.Sprintf(" (%d)", len(m.tasks))
		}
	}
	return tabBar(m.c.styles, labels, int(m.tab), m.loaded, m.vp, m.width)
}

// overview: the latest entry, the tasks at a glance, and input, output,
// error and metadata in full.
func (m agentModel) overview() []string {
	s, a := m.c.styles, m.agent
	var out []string
	field := func(k, v string) {
		out = append(out, s.Label.Render(fit(k, 10))+" "+v)
	}
	if n := len(m.entries); n > 0 {
		e := m.entries[n-1]
		field("Last entry", roleLabel(s, e)+"  "+entryPreview(e))
	}
	if len(m.tasks) > 0 {
		counts := map[string]int{}
		for _, t := range m.tasks {
			counts[t.Status]++
		}
		var parts []string
		for _, st := range []string{client.StatusRunning, client.StatusPending, client.StatusCompleted, client.StatusFailed, client.StatusCancelled} {
			if counts[st] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[st], strings.ToLower(st)))
			}
		}
		field("Tasks", strings.Join(parts, ", "))
	}
	section := func(title string) {
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, s.Section.Render(title))
	}
	payload := func(title string, lines []string) {
		section(title)
		if lines == nil {
			out = append(out, s.Dim.Render("  –"))
			return
		}
		for _, l := range lines {
			out = append(out, "  "+l)
		}
	}
	payload("Input", jsonLines(a.Input))
	if a.Status == client.StatusCompleted || len(a.Output) > 0 && string(a.Output) != "null" {
		payload("Output", jsonLines(a.Output))
	}
	if a.Error != nil {
		section("Error")
		text := *a.Error
		if a.FailureType != nil && *a.FailureType != "" {
			text = *a.FailureType + ": " + text
		}
		for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			out = append(out, "  "+s.Error.Render(clean(l)))
		}
	}
	if md := jsonLines(a.Metadata); md != nil {
		payload("Metadata", md)
	}
	return out
}

// roleColor tells the speakers of a conversation apart.
func roleColor(role string) lipgloss.TerminalColor {
	switch role {
	case "user":
		return colorBlue
	case "assistant":
		return colorGreen
	case "tool_result":
		return colorMagenta
	case "system":
		return colorDim
	}
	return lipgloss.NoColor{}
}

func roleLabel(s Styles, e client.AgentEntry) string {
	role := "–"
	if e.Role != nil && *e.Role != "" {
		role = *e.Role
	}
	return lipgloss.NewStyle().Bold(true).Foreground(roleColor(role)).Render(clean(role))
}

// entryPreview puts an entry's content on one line: its text, else
// compact JSON.
func entryPreview(e client.AgentEntry) string {
	if t, ok := e.Text(); ok {
		return clean(t)
	}
	return compact(e.Content)
}

// conversation shows the entries in order, each under a line with its
// role, type, turn and time, and marks where each checkpoint was taken.
func (m agentModel) conversation() []string {
	s := m.c.styles
	if len(m.entries) == 0 {
		return []string{s.Dim.Render("No entries yet.")}
	}
	at := map[string][]int32{} // leaf entry id → checkpoint sequences
	for _, c := range m.checkpoints {
		if c.LeafEntryID != nil {
			at[*c.LeafEntryID] = append(at[*c.LeafEntryID], c.Sequence)
		}
	}
	var out []string
	for i, e := range m.entries {
		if i > 0 {
			out = append(out, "")
		}
		meta := []string{clean(e.EntryType)}
		if e.TurnID != nil && *e.TurnID != "" {
			meta = append(meta, "turn "+clean(*e.TurnID))
		}
		meta = append(meta, m.offset(e.CreatedAt))
		out = append(out, roleLabel(s, e)+s.Dim.Render(" · "+strings.Join(meta, " · ")))
		if t, ok := e.Text(); ok {
			for _, para := range strings.Split(strings.TrimRight(t, "\n"), "\n") {
				for _, l := range wrapCells(clean(para), max(10, m.width-2)) {
					out = append(out, "  "+l)
				}
			}
		} else {
			for _, l := range jsonLines(e.Content) {
				out = append(out, "  "+l)
			}
		}
		for _, seq := range at[e.ID] {
			out = append(out, s.Dim.Render(fmt.Sprintf("  ◆ checkpoint #%d", seq)))
		}
	}
	return out
}

// offset is a time relative to the agent's creation: "+2.4s".
func (m agentModel) offset(t time.Time) string {
	if t.IsZero() || m.agent.CreatedAt.IsZero() {
		return "–"
	}
	return "+" + fmtDuration(t.Sub(m.agent.CreatedAt))
}

// checkpointLines lists the checkpoints with the entry each was taken at.
func (m agentModel) checkpointLines() []string {
	s, now := m.c.styles, m.c.now()
	if len(m.checkpoints) == 0 {
		return []string{s.Dim.Render("No checkpoints yet.")}
	}
	index := map[string]int{}
	for i, e := range m.entries {
		index[e.ID] = i
	}
	row := func(seq, at, created, id, leaf string) string {
		return fit(seq, 5) + " " + fit(at, 8) + " " + fit(created, 12) + " " + fit(id, 8) + " " + leaf
	}
	out := []string{s.ColHeader.Render(row("  SEQ", "AT", "CREATED", "ID", "LEAF ENTRY"))}
	for _, c := range m.checkpoints {
		leaf := "–"
		if c.LeafEntryID != nil {
			leaf = shortID(*c.LeafEntryID)
			if i, ok := index[*c.LeafEntryID]; ok {
				e := m.entries[i]
				leaf = fmt.Sprintf("#%d ", i+1) + roleLabel(s, e) + "  " + s.Dim.Render(entryPreview(e))
			}
		}
		seq := fmt.Sprintf("%5d", c.Sequence)
		if c.Sequence == m.agent.CurrentCheckpointSeq {
			leaf += s.Dim.Render("  ← latest")
		}
		out = append(out, row(seq, m.offset(c.CreatedAt), fmtClock(c.CreatedAt, now), shortID(c.ID), leaf))
	}
	return out
}

// taskLines lists the agent's tasks with their attempts.
func (m agentModel) taskLines() []string {
	s, now := m.c.styles, m.c.now()
	if len(m.tasks) == 0 {
		return []string{s.Dim.Render("No tasks.")}
	}
	kindW := max(10, min(30, m.width-8-12-9-12-9-9-6))
	row := func(id, kind, status, attempts, queue, created, dur string) string {
		return fit(id, 8) + " " + fit(kind, kindW) + " " + fit(status, 12) + " " + fit(attempts, 9) + " " +
			fit(queue, 12) + " " + fit(created, 9) + " " + dur
	}
	out := []string{s.ColHeader.Render(row("ID", "KIND", "STATUS", "ATTEMPTS", "QUEUE", "AT", "DURATION"))}
	for _, t := range m.tasks {
		attempts := fmt.Sprintf("%d/%d", t.ExecutionCount, t.MaxRetries+1)
		out = append(out, row(shortID(t.ID), clean(t.Kind), s.status(t.Status), attempts, clean(t.Queue),
			m.offset(t.CreatedAt), fmtDuration(elapsed(t.CreatedAt, t.CompletedAt, now))))
		if t.TimeoutMs != nil {
			out = append(out, "         "+s.Dim.Render("timeout "+fmtDuration(time.Duration(*t.TimeoutMs)*time.Millisecond)))
		}
		if t.Error != nil {
			out = append(out, "         "+s.Error.Render(clean(*t.Error)))
		}
	}
	return out
}

// buildAgentTimeline turns an agent execution into lanes: its own life,
// the wait it is in, the instants of its entries and checkpoints, and a
// lane per task from when it was scheduled to when it ended.
func buildAgentTimeline(a client.AgentExecution, entries []client.AgentEntry, checkpoints []client.AgentCheckpoint, tasks []client.AgentTask) []lane {
	own := lane{what: "agent", label: "agent " + clean(a.Kind), spans: []span{{start: a.CreatedAt, state: stateOfStatus(a.Status)}}}
	if a.CompletedAt != nil {
		own.spans[0].end = *a.CompletedAt
	}
	out := []lane{own}
	if a.Status == client.StatusWaiting && a.WaitingFor != nil {
		out = append(out, lane{what: "wait", label: "waiting (" + clean(*a.WaitingFor) + ")", spans: []span{{start: a.UpdatedAt}}})
	}
	if len(entries) > 0 {
		l := lane{what: "entry", label: fmt.Sprintf("conversation (%d)", len(entries)), instants: true}
		for _, e := range entries {
			l.spans = append(l.spans, span{start: e.CreatedAt, end: e.CreatedAt, state: spanDone})
		}
		out = append(out, l)
	}
	if len(checkpoints) > 0 {
		l := lane{what: "checkpoint", label: fmt.Sprintf("checkpoints (%d)", len(checkpoints)), instants: true}
		for _, c := range checkpoints {
			l.spans = append(l.spans, span{start: c.CreatedAt, end: c.CreatedAt, state: spanDone})
		}
		out = append(out, l)
	}
	for _, t := range tasks {
		sp := span{start: t.CreatedAt, state: stateOfStatus(t.Status)}
		if t.CompletedAt != nil {
			sp.end = *t.CompletedAt
		}
		out = append(out, lane{what: "task", label: "task " + clean(t.Kind), spans: []span{sp}})
	}
	return out
}

// agentTimelineLines draws an agent's lanes, scaled to its life (to now
// while it runs, and to the last task that ended after it).
func agentTimelineLines(s Styles, a client.AgentExecution, entries []client.AgentEntry, checkpoints []client.AgentCheckpoint, tasks []client.AgentTask, now time.Time, width int) []string {
	to := now
	if a.CompletedAt != nil {
		to = *a.CompletedAt
		for _, t := range tasks {
			if t.CompletedAt == nil {
				to = now
				break
			}
			if t.CompletedAt.After(to) {
				to = *t.CompletedAt
			}
		}
	}
	return drawTimeline(s, buildAgentTimeline(a, entries, checkpoints, tasks), to, now, width,
		s.Dim.Render("█ done  ▓ running  ")+s.Error.Render("█")+s.Dim.Render(" failed  ░ cancelled  ▒ waiting  • entry  ◆ checkpoint"))
}
