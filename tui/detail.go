package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/flovyn/flovyn/client"
)

// detailTab is a section of the detail view.
type detailTab int

const (
	tabOverview detailTab = iota
	tabEvents
	tabTasks
	tabTimeline
	numTabs
)

func (t detailTab) String() string {
	return [...]string{"Overview", "Events", "Tasks", "Timeline"}[t]
}

// detailHeaderRows is the height of the header above the tab's pane.
const detailHeaderRows = 4

// detailModel is the detail view of one execution. Each tab renders into
// the same viewport, which keeps one scroll position per tab.
type detailModel struct {
	c             *common
	width, height int

	id       string
	exec     client.Execution
	loaded   bool
	events   []client.Event
	tasks    []client.Task
	children []client.Child

	tab     detailTab
	vp      viewport.Model
	offsets [numTabs]int

	inFlight bool
}

func newDetailModel(c *common, id string, w, h int) detailModel {
	m := detailModel{c: c, id: id, vp: viewport.New(w, max(1, h-detailHeaderRows))}
	return m.setSize(w, h)
}

func (m detailModel) setSize(w, h int) detailModel {
	m.width, m.height = w, h
	m.vp.Width, m.vp.Height = w, max(1, h-detailHeaderRows)
	return m.render()
}

// ---- fetching ----

// lastSeq is the sequence number of the last event held.
func (m detailModel) lastSeq() int32 {
	if len(m.events) == 0 {
		return 0
	}
	return seqOf(m.events[len(m.events)-1])
}

func seqOf(e client.Event) int32 {
	if e.Sequence != 0 {
		return e.Sequence
	}
	return e.SequenceNumber
}

// busy reports whether something of the execution may change without a new
// event: a task's progress or attempts, a child's status.
func (m detailModel) busy() bool {
	for _, t := range m.tasks {
		if !client.Terminal(t.Status) {
			return true
		}
	}
	for _, c := range m.children {
		if !client.Terminal(c.Status) {
			return true
		}
	}
	return false
}

// fetch reads the execution and, when it changed (or may have), the new
// events, the tasks and the children: one request per tick while nothing
// happens.
func (m detailModel) fetch() (detailModel, tea.Cmd) {
	if m.inFlight {
		return m, nil
	}
	m.inFlight = true
	c, id, since := m.c, m.id, m.lastSeq()
	known, prev, busy := m.loaded, m.exec, m.busy()
	return m, func() tea.Msg {
		msg := detailMsg{id: id}
		msg.err = call(c.ctx, func(ctx context.Context) error {
			e, err := c.api.GetWorkflow(ctx, id)
			if err != nil {
				return err
			}
			msg.exec = e
			if known && !busy && e.CurrentSequence == prev.CurrentSequence && e.Status == prev.Status && e.CancelRequested == prev.CancelRequested {
				return nil
			}
			msg.changed = true
			if msg.events, err = c.api.WorkflowEvents(ctx, id, since); err != nil {
				return err
			}
			if msg.tasks, err = c.api.WorkflowTasks(ctx, id); err != nil {
				return err
			}
			msg.children, err = c.api.WorkflowChildren(ctx, id)
			return err
		})
		return msg
	}
}

func (m detailModel) loadedMsg(msg detailMsg) detailModel {
	if msg.id != m.id {
		return m
	}
	m.inFlight = false
	if msg.err != nil {
		return m
	}
	m.exec, m.loaded = msg.exec, true
	if msg.changed {
		last := m.lastSeq()
		for _, e := range msg.events {
			if s := seqOf(e); s > last {
				m.events = append(m.events, e)
				last = s
			}
		}
		m.tasks, m.children = msg.tasks, msg.children
	}
	return m.render()
}

// ---- keys ----

func (m detailModel) update(msg tea.Msg) (detailModel, tea.Cmd) {
	switch msg := msg.(type) {
	case detailMsg:
		return m.loadedMsg(msg), nil
	case tea.KeyMsg:
		return m.handle(lookup(msg, m.c.keys.detailBindings()))
	}
	return m, nil
}

// scroll moves a pane for a moving action; false for any other action.
func scroll(vp *viewport.Model, a action) bool {
	switch a {
	case actUp:
		vp.ScrollUp(1)
	case actDown:
		vp.ScrollDown(1)
	case actPageUp:
		vp.PageUp()
	case actPageDown:
		vp.PageDown()
	case actTop:
		vp.GotoTop()
	case actBottom:
		vp.GotoBottom()
	default:
		return false
	}
	return true
}

func (m detailModel) handle(a action) (detailModel, tea.Cmd) {
	if scroll(&m.vp, a) {
		m.offsets[m.tab] = m.vp.YOffset
		return m, nil
	}
	switch a {
	case actPrevTab:
		return m.switchTab((m.tab + numTabs - 1) % numTabs), nil
	case actNextTab:
		return m.switchTab((m.tab + 1) % numTabs), nil
	case actTab1, actTab2, actTab3, actTab4:
		return m.switchTab(detailTab(a - actTab1)), nil
	case actBack:
		return m, emit(backMsg{})
	case actRefresh:
		m.inFlight = false
		return m.fetch()
	case actStart:
		return m, emit(openDialogMsg{newStartDialog(m.c, false, m.width)})
	case actCancel:
		if m.loaded {
			return m, emit(openDialogMsg{newCancelDialog(m.c, executionSubject(m.exec), m.width)})
		}
	case actSignal:
		if m.loaded {
			return m, emit(openDialogMsg{newSignalDialog(m.c, executionSubject(m.exec), m.width)})
		}
	case actResolve, actReject:
		if !m.loaded {
			return m, nil
		}
		pending := pendingPromises(m.exec.ID, m.events)
		if len(pending) == 0 {
			return m, emit(noticeMsg{text: "This execution waits on no promise.", err: true})
		}
		return m, emit(openDialogMsg{newPromiseDialog(m.c, executionSubject(m.exec), pending, a == actReject, m.width)})
	case actQuit:
		return m, tea.Quit
	}
	return m, nil
}

func (m detailModel) switchTab(t detailTab) detailModel {
	m.offsets[m.tab] = m.vp.YOffset
	m.tab = t
	m = m.render()
	m.vp.SetYOffset(m.offsets[t])
	return m
}

// ---- drawing ----

// render puts the current tab's content in the viewport.
func (m detailModel) render() detailModel {
	if !m.loaded {
		m.vp.SetContent(m.c.styles.Dim.Render("Loading " + clean(m.id) + "…"))
		return m
	}
	var lines []string
	switch m.tab {
	case tabOverview:
		lines = m.overview()
	case tabEvents:
		lines = m.eventLines()
	case tabTasks:
		lines = m.taskLines()
	case tabTimeline:
		lines = timelineLines(m.c.styles, m.exec, m.events, m.c.now(), m.width)
	}
	for i, l := range lines {
		lines[i] = cut(l, m.width)
	}
	m.vp.SetContent(strings.Join(lines, "\n"))
	return m
}

func (m detailModel) View() string {
	return m.header() + "\n" + m.vp.View()
}

// header shows status, kind, ids, times, parent and children, and the tabs.
func (m detailModel) header() string {
	s, now, e := m.c.styles, m.c.now(), m.exec
	if !m.loaded {
		return strings.Join([]string{s.Bold.Render(clean(m.id)), "", "", m.tabBar()}, "\n")
	}
	status := s.status(e.Status)
	if e.CancelRequested && !client.Terminal(e.Status) {
		status += s.Dim.Render(" (cancel requested)")
	}
	l1 := status + "  " + s.Bold.Render(clean(kindOf(e))) + "  " + clean(e.ID)
	dot := s.Dim.Render(" · ")
	l2 := strings.Join([]string{
		s.Dim.Render("queue ") + clean(e.Queue),
		s.Dim.Render("created ") + fmtClock(e.CreatedAt, now),
		s.Dim.Render("started ") + fmtClockPtr(e.StartedAt, now),
		s.Dim.Render("ended ") + fmtClockPtr(e.CompletedAt, now),
		s.Dim.Render(took(e.Status)) + fmtDuration(elapsed(e.CreatedAt, e.CompletedAt, now)),
		fmt.Sprintf("%d events", e.CurrentSequence),
	}, dot)
	parent := "–"
	if e.ParentID != nil {
		parent = clean(*e.ParentID)
		if e.ChildExecutionName != nil {
			parent += " (as " + clean(*e.ChildExecutionName) + ")"
		}
	}
	active := 0
	for _, c := range m.children {
		if !client.Terminal(c.Status) {
			active++
		}
	}
	children := fmt.Sprintf("%d", len(m.children))
	if active > 0 {
		children += fmt.Sprintf(" (%d active)", active)
	}
	l3 := s.Dim.Render("parent ") + parent + dot + s.Dim.Render("children ") + children
	return strings.Join([]string{cut(l1, m.width), cut(l2, m.width), cut(l3, m.width), m.tabBar()}, "\n")
}

func took(status string) string {
	if client.Terminal(status) {
		return "took "
	}
	return "running "
}

// tick redraws the tabs that show how long things have been running, while
// something still runs; the history does not change with the clock.
func (m detailModel) tick() detailModel {
	if !m.loaded || m.tab == tabEvents || (client.Terminal(m.exec.Status) && !m.busy()) {
		return m
	}
	return m.render()
}

func (m detailModel) tabBar() string {
	labels := make([]string, numTabs)
	for t := range numTabs {
		labels[t] = t.String()
		switch t {
		case tabEvents:
			labels[t] += fmt.Sprintf(" (%d)", len(m.events))
		case tabTasks:
			labels[t] += fmt.Sprintf(" (%d)", len(m.tasks))
		}
	}
	return tabBar(m.c.styles, labels, int(m.tab), m.loaded, m.vp, m.width)
}

// tabBar draws numbered tabs, the active one marked, and how far the pane
// is scrolled when it scrolls.
func tabBar(s Styles, labels []string, active int, loaded bool, vp viewport.Model, width int) string {
	var parts []string
	for i, l := range labels {
		label := fmt.Sprintf("%d %s", i+1, l)
		if i == active {
			parts = append(parts, s.TabActive.Render("["+label+"]"))
		} else {
			parts = append(parts, s.Tab.Render(" "+label+" "))
		}
	}
	bar := strings.Join(parts, "")
	if loaded && vp.TotalLineCount() > vp.Height {
		pos := s.Dim.Render(fmt.Sprintf("%d%%", int(vp.ScrollPercent()*100)))
		if gap := width - lipgloss.Width(bar) - lipgloss.Width(pos); gap > 0 {
			bar += strings.Repeat(" ", gap) + pos
		}
	}
	return cut(bar, width)
}

// overview: what the header leaves out, pending promises, children, and
// input, output and error in full.
func (m detailModel) overview() []string {
	s, e, now := m.c.styles, m.exec, m.c.now()
	var out []string
	field := func(k, v string) {
		if v != "" {
			out = append(out, s.Label.Render(fit(k, 10))+" "+v)
		}
	}
	field("Version", clean(e.WorkflowVersion))
	if e.PrioritySeconds != 0 {
		field("Priority", fmt.Sprintf("%ds", e.PrioritySeconds))
	}
	if len(e.Metadata) > 0 {
		keys := make([]string, 0, len(e.Metadata))
		for k := range e.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, clean(k)+"="+clean(e.Metadata[k]))
		}
		field("Metadata", strings.Join(kv, "  "))
	}
	section := func(title string) {
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, s.Section.Render(title))
	}
	if pending := pendingPromises(e.ID, m.events); len(pending) > 0 {
		section(fmt.Sprintf("Pending promises (%d) — p resolves, P rejects", len(pending)))
		for _, p := range pending {
			out = append(out, "  "+fit(clean(p.name), 24)+" "+s.Dim.Render("since "+fmtClock(p.created, now)+"  id "+clean(p.id)))
		}
	}
	if len(m.children) > 0 {
		section(fmt.Sprintf("Children (%d)", len(m.children)))
		for _, c := range m.children {
			id := c.ChildWorkflowExecutionID
			if id == "" {
				id = c.ID
			}
			name := ""
			if c.ChildExecutionName != nil {
				name = *c.ChildExecutionName
			}
			out = append(out, "  "+fit(shortID(id), 8)+" "+fit(clean(name), 18)+" "+fit(clean(kindOf(c.Execution)), 18)+" "+
				fit(s.status(c.Status), 12)+" "+fmtDuration(elapsed(c.CreatedAt, c.CompletedAt, now)))
		}
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
	payload("Input", jsonLines(e.Input))
	if e.Status == client.StatusCompleted || len(e.Output) > 0 && string(e.Output) != "null" {
		payload("Output", jsonLines(e.Output))
	}
	if e.Error != nil {
		section("Error")
		for _, l := range strings.Split(strings.TrimRight(*e.Error, "\n"), "\n") {
			out = append(out, "  "+s.Error.Render(clean(l)))
		}
	}
	return out
}

// eventLines is the history as a table.
func (m detailModel) eventLines() []string {
	s := m.c.styles
	if len(m.events) == 0 {
		return []string{s.Dim.Render("No events yet.")}
	}
	typeW := 26
	if m.width < 90 {
		typeW = 22
	}
	out := []string{s.ColHeader.Render(fit("SEQ", 5) + " " + fit("AT", 8) + " " + fit("TYPE", typeW) + " DETAILS")}
	start := m.exec.CreatedAt
	for _, e := range m.events {
		at := eventTime(e)
		offset := "+" + fmtDuration(at.Sub(start))
		if start.IsZero() || at.IsZero() {
			offset = "–"
		}
		typ := lipgloss.NewStyle().Foreground(eventColor(e.EventType)).Render(clean(e.EventType))
		line := fmt.Sprintf("%5d", seqOf(e)) + " " + fit(offset, 8) + " " + fit(typ, typeW) + " " + eventSummary(e.Data)
		out = append(out, line)
	}
	return out
}

// taskLines lists tasks with attempts and progress.
func (m detailModel) taskLines() []string {
	s, now := m.c.styles, m.c.now()
	if len(m.tasks) == 0 {
		return []string{s.Dim.Render("No tasks.")}
	}
	kindW := max(10, min(30, m.width-8-12-9-16-9-5))
	row := func(id, kind, status, attempts, progress, dur string) string {
		return fit(id, 8) + " " + fit(kind, kindW) + " " + fit(status, 12) + " " + fit(attempts, 9) + " " + fit(progress, 16) + " " + dur
	}
	out := []string{s.ColHeader.Render(row("ID", "KIND", "STATUS", "ATTEMPTS", "PROGRESS", "DURATION"))}
	for _, t := range m.tasks {
		from := t.CreatedAt
		if t.StartedAt != nil {
			from = *t.StartedAt
		}
		attempts := fmt.Sprintf("%d/%d", t.ExecutionCount, t.MaxRetries+1)
		out = append(out, row(shortID(t.ID), clean(t.Kind), s.status(t.Status), attempts, progressBar(t.Progress), fmtDuration(elapsed(from, t.CompletedAt, now))))
		if t.ProgressDetails != nil && *t.ProgressDetails != "" {
			out = append(out, "         "+s.Dim.Render("progress: ")+clean(*t.ProgressDetails))
		}
		for _, a := range t.Attempts {
			line := fmt.Sprintf("         #%d  %s  %s  %s", a.Attempt, fit(s.status(a.Status), 12), fmtClock(a.StartedAt, now), fmtDuration(elapsed(a.StartedAt, a.FinishedAt, now)))
			if a.WorkerID != "" {
				line += s.Dim.Render("  worker " + shortID(a.WorkerID))
			}
			if a.Error != nil {
				line += "  " + s.Error.Render(clean(*a.Error))
			}
			out = append(out, line)
		}
		if t.Error != nil && len(t.Attempts) == 0 {
			out = append(out, "         "+s.Error.Render(clean(*t.Error)))
		}
	}
	return out
}

// progressBar draws a task's progress (0..1) in 10 cells.
func progressBar(p *float64) string {
	if p == nil {
		return "–"
	}
	v := max(0, min(1, *p))
	n := int(v*10 + 0.5)
	return strings.Repeat("█", n) + strings.Repeat("░", 10-n) + fmt.Sprintf(" %3d%%", int(v*100+0.5))
}
