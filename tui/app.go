// Package tui is `flovyn tui`: a terminal UI to watch and steer a tenant's
// workflow executions and agent executions live.
//
// It is Elm-style (bubbletea): the root Model routes messages to one model
// per view (listModel for either list, detailModel, agentModel) and to the
// open dialog; requests to the server run in tea.Cmds through the API
// interface and come back as typed messages, which Update only assigns.
// Every key binding is in keymap.go and every style in styles.go.
package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Options configure the TUI.
type Options struct {
	// Server and Tenant are shown in the header.
	Server, Tenant string
	// Interval between two refreshes; default (and at most) 1 s. A negative
	// one turns the live refresh off (tests drive it with tickMsg).
	Interval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Input and Output default to the terminal.
	Input  io.Reader
	Output io.Writer
}

type page int

const (
	pageList page = iota
	pageDetail
	pageAgents // the agent list
	pageAgent  // an agent execution
)

// noticeFor is how long a notice stays in the status line.
const noticeFor = 8 * time.Second

// Model is the root model: the app's chrome (header, status line, key
// hints), the page on screen, and the overlays (help, dialog).
type Model struct {
	c        *common
	server   string
	tenant   string
	interval time.Duration

	width, height int
	first         tea.Cmd // the first fetch, started by Init
	page          page
	list          listModel // the executions
	detail        detailModel
	agents        listModel // the agent executions
	agent         agentModel
	dialog        *dialogModel
	showHelp      bool
	help          help.Model

	connErr  error     // the last refresh failed with this
	lastOK   time.Time // when the last refresh succeeded
	notice   string
	noticeAt time.Time
	noticeEr bool
}

// New builds the TUI's model on api.
func New(ctx context.Context, api API, o Options) Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Interval == 0 || o.Interval > time.Second:
		o.Interval = time.Second
	case o.Interval < 0:
		o.Interval = 0
	}
	c := &common{ctx: ctx, api: api, keys: DefaultKeyMap(), styles: DefaultStyles(), now: o.Now}
	h := help.New()
	h.ShortSeparator = "  "
	// Fixed colours: the defaults adapt to the terminal's background, which
	// costs a query to the terminal on the first frame.
	h.Styles = help.Styles{Ellipsis: c.styles.Dim, ShortKey: c.styles.Key, ShortDesc: c.styles.Dim, ShortSeparator: c.styles.Dim,
		FullKey: c.styles.Key, FullDesc: c.styles.Dim, FullSeparator: c.styles.Dim}
	m := Model{c: c, server: o.Server, tenant: o.Tenant, interval: o.Interval, list: newListModel(c), agents: newAgentListModel(c), help: h}
	m.width, m.height = 80, 24
	m = m.resize()
	// The first fetch is marked in flight here, as Init cannot change the model.
	m.list, m.first = m.list.refresh()
	return m
}

// Run shows the TUI on the terminal until the user quits or ctx ends.
func Run(ctx context.Context, api API, o Options) error {
	opts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}
	if o.Input != nil {
		opts = append(opts, tea.WithInput(o.Input))
	}
	if o.Output != nil {
		opts = append(opts, tea.WithOutput(o.Output))
	}
	_, err := tea.NewProgram(New(ctx, api, o), opts...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the context ended it: not a failure
	}
	return err
}

func (m Model) Init() tea.Cmd {
	return tea.Batch(m.first, m.tick())
}

func (m Model) tick() tea.Cmd {
	if m.interval <= 0 {
		return nil
	}
	return tea.Tick(m.interval, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// bodyHeight is what is left for the page under the header and above the
// status line and the key hints.
func (m Model) bodyHeight() int { return max(1, m.height-3) }

func (m Model) resize() Model {
	m.list = m.list.setSize(m.width, m.bodyHeight())
	m.agents = m.agents.setSize(m.width, m.bodyHeight())
	switch m.page {
	case pageDetail:
		m.detail = m.detail.setSize(m.width, m.bodyHeight())
	case pageAgent:
		m.agent = m.agent.setSize(m.width, m.bodyHeight())
	}
	if m.dialog != nil {
		d := m.dialog.setWidth(m.width)
		m.dialog = &d
	}
	m.help.Width = m.width
	return m
}

func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(1, msg.Width), max(1, msg.Height)
		return m.resize(), nil

	case tickMsg:
		switch m.page {
		case pageDetail:
			m.detail, cmd = m.detail.fetch()
			m.detail = m.detail.tick()
		case pageAgent:
			m.agent, cmd = m.agent.fetch()
			m.agent = m.agent.tick()
		case pageAgents:
			m.agents, cmd = m.agents.refresh()
		default:
			m.list, cmd = m.list.refresh()
		}
		return m, tea.Batch(m.tick(), cmd)

	case listPageMsg:
		if msg.gen == m.list.gen {
			m = m.noteFetch(msg.err)
		}
		m.list, cmd = m.list.update(msg)
		return m, cmd

	case agentPageMsg:
		if msg.gen == m.agents.gen {
			m = m.noteFetch(msg.err)
		}
		m.agents, cmd = m.agents.update(msg)
		return m, cmd

	case detailMsg:
		if msg.id == m.detail.id {
			m = m.noteFetch(msg.err)
		}
		m.detail, cmd = m.detail.update(msg)
		return m, cmd

	case agentMsg:
		if msg.id == m.agent.id {
			m = m.noteFetch(msg.err)
		}
		m.agent, cmd = m.agent.update(msg)
		return m, cmd

	case openDetailMsg:
		m.page = pageDetail
		m.detail = newDetailModel(m.c, msg.id, m.width, m.bodyHeight())
		m.detail, cmd = m.detail.fetch()
		return m, cmd

	case openAgentMsg:
		m.page = pageAgent
		m.agent = newAgentModel(m.c, msg.id, m.width, m.bodyHeight())
		m.agent, cmd = m.agent.fetch()
		return m, cmd

	case backMsg:
		if m.page == pageAgent {
			m.page = pageAgents
			m.agents, cmd = m.agents.refresh()
			return m, cmd
		}
		m.page = pageList
		m.list, cmd = m.list.refresh()
		return m, cmd

	case switchListMsg:
		if m.page == pageList {
			m.page = pageAgents
			m.agents, cmd = m.agents.refresh()
			return m, cmd
		}
		m.page = pageList
		m.list, cmd = m.list.refresh()
		return m, cmd

	case openDialogMsg:
		d := msg.d.setWidth(m.width)
		m.dialog = &d
		return m, nil

	case actionDoneMsg:
		if msg.err != nil {
			if m.dialog != nil {
				d := m.dialog.failed(msg.err)
				m.dialog = &d
			}
			return m.say(msg.err.Error(), true), nil
		}
		m.dialog = nil
		m = m.say(msg.text, false)
		return m, m.refreshNow()

	case noticeMsg:
		return m.say(msg.text, msg.err), nil

	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

// refreshNow re-reads what is on screen after an action.
func (m *Model) refreshNow() tea.Cmd {
	var cmd tea.Cmd
	switch m.page {
	case pageDetail:
		m.detail.inFlight = false
		m.detail, cmd = m.detail.fetch()
	case pageAgent:
		m.agent.inFlight = false
		m.agent, cmd = m.agent.fetch()
	case pageAgents:
		m.agents.refreshing = false
		m.agents, cmd = m.agents.refresh()
	default:
		m.list.refreshing = false
		m.list, cmd = m.list.refresh()
	}
	return cmd
}

// currentList is the list on screen, if one is.
func (m Model) currentList() (listModel, bool) {
	switch m.page {
	case pageList:
		return m.list, true
	case pageAgents:
		return m.agents, true
	}
	return listModel{}, false
}

// key routes a key press: Ctrl-C always quits; then the dialog, the help
// overlay and the page, in that order, get it.
func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.c.keys
	if key.Matches(msg, k.ForceQuit) {
		return m, tea.Quit
	}
	var cmd tea.Cmd
	if m.dialog != nil {
		d, cmd := m.dialog.update(msg)
		m.dialog = &d
		if d.closed {
			m.dialog = nil
		}
		return m, cmd
	}
	if m.showHelp {
		switch {
		case key.Matches(msg, k.Quit):
			return m, tea.Quit
		case key.Matches(msg, k.Help), key.Matches(msg, k.Close):
			m.showHelp = false
		}
		return m, nil
	}
	if !m.capturing() && key.Matches(msg, k.Help) {
		m.showHelp = true
		return m, nil
	}
	switch m.page {
	case pageDetail:
		m.detail, cmd = m.detail.update(msg)
	case pageAgent:
		m.agent, cmd = m.agent.update(msg)
	case pageAgents:
		m.agents, cmd = m.agents.update(msg)
	default:
		m.list, cmd = m.list.update(msg)
	}
	return m, cmd
}

// noteFetch records how a refresh went: a failure shows in the status line
// until a later refresh succeeds.
func (m Model) noteFetch(err error) Model {
	if err != nil {
		m.connErr = err
		return m
	}
	m.connErr, m.lastOK = nil, m.c.now()
	return m
}

func (m Model) say(text string, isErr bool) Model {
	m.notice, m.noticeAt, m.noticeEr = text, m.c.now(), isErr
	return m
}

// ---- drawing ----

// View draws the whole screen: exactly height lines of at most width cells.
func (m Model) View() string {
	if m.width < 20 || m.height < 6 {
		return "flovyn tui: the terminal is too small"
	}
	body := m.body()
	lines := strings.Split(body, "\n")
	bh := m.bodyHeight()
	if len(lines) > bh {
		lines = lines[:bh]
	}
	for len(lines) < bh {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = cut(l, m.width)
	}
	all := append([]string{m.headerLine()}, lines...)
	all = append(all, m.statusLine(), m.footer())
	return strings.Join(all, "\n")
}

func (m Model) body() string {
	switch {
	case m.dialog != nil:
		return m.centered(m.dialog.View())
	case m.showHelp:
		return m.centered(m.helpView())
	case m.page == pageDetail:
		return m.detail.View()
	case m.page == pageAgent:
		return m.agent.View()
	case m.page == pageAgents:
		return m.agents.View()
	}
	return m.list.View()
}

func (m Model) centered(box string) string {
	return lipgloss.Place(m.width, m.bodyHeight(), lipgloss.Center, lipgloss.Center, box)
}

func (m Model) headerLine() string {
	s := m.c.styles
	where := clean(m.tenant)
	if where == "" {
		where = "?"
	}
	left := s.Title.Render("flovyn") + s.Header.Render(" "+where+" @ "+clean(m.server)+" › ")
	switch m.page {
	case pageDetail:
		left += s.Bold.Render("Executions › " + shortID(m.detail.id))
	case pageAgents:
		left += s.Bold.Render("Agents")
	case pageAgent:
		left += s.Bold.Render("Agents › " + shortID(m.agent.id))
	default:
		left += s.Bold.Render("Executions")
	}
	var right string
	switch {
	case m.connErr != nil:
		right = s.Error.Render("● offline")
	case !m.lastOK.IsZero():
		right = s.Live.Render("● live")
	default:
		right = s.Dim.Render("○ connecting")
	}
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return cut(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}

// statusLine shows a connection problem (retried on every tick), else the
// latest notice, else when the data was last read.
func (m Model) statusLine() string {
	s := m.c.styles
	now := m.c.now()
	switch {
	case m.notice != "" && m.noticeEr && now.Sub(m.noticeAt) < noticeFor:
		return cut(s.Error.Render("✗ "+clean(m.notice)), m.width)
	case m.connErr != nil:
		retry := "retrying"
		if m.interval > 0 {
			retry += " every " + m.interval.String()
		}
		right := s.Dim.Render(" · " + retry)
		return cut(s.Error.Render(cut("✗ "+clean(m.connErr.Error()), m.width-lipgloss.Width(right))), m.width) + right
	case m.notice != "" && now.Sub(m.noticeAt) < noticeFor:
		return cut(s.OK.Render("✓ "+clean(m.notice)), m.width)
	case !m.lastOK.IsZero():
		return cut(s.Dim.Render("updated "+fmtClock(m.lastOK, now)), m.width)
	}
	return ""
}

// capturing reports whether the list on screen is editing its prompt.
func (m Model) capturing() bool {
	l, ok := m.currentList()
	return ok && l.capturing()
}

// footer shows the main keys of what has the focus.
func (m Model) footer() string {
	k := m.c.keys
	var b []key.Binding
	switch {
	case m.dialog != nil && m.dialog.stage != stageEdit:
		b = []key.Binding{k.Confirm, k.Deny}
	case m.dialog != nil:
		b = []key.Binding{k.Submit, k.NextField, k.Close}
	case m.showHelp:
		b = []key.Binding{withHelp(k.Help, "?/esc", "close help"), k.Quit}
	case m.capturing():
		l, _ := m.currentList()
		b = []key.Binding{withHelp(k.Submit, "enter", "apply"), withHelp(k.Close, "esc", "cancel")}
		if l.prompt == promptKind {
			b = append(b, key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "complete")))
		}
	case m.page == pageDetail:
		b = shortHelp(k.detailBindings(), actNextTab, actBack, actCancel, actSignal, actResolve, actHelp, actQuit)
	case m.page == pageAgent:
		b = shortHelp(k.agentDetailBindings(), actNextTab, actBack, actCancel, actSignal, actHelp, actQuit)
	case m.page == pageAgents:
		b = shortHelp(k.agentListBindings(), actOpen, actSearch, actStatusFilter, actSort, actStart, actSwitch, actHelp, actQuit)
	default:
		b = shortHelp(k.listBindings(), actOpen, actSearch, actStatusFilter, actSort, actStart, actSwitch, actHelp, actQuit)
	}
	return cut(m.help.ShortHelpView(b), m.width)
}

func withHelp(b key.Binding, keys, desc string) key.Binding {
	b.SetHelp(keys, desc)
	return b
}

// helpView is the help overlay: every key of the page on screen, grouped.
func (m Model) helpView() string {
	s := m.c.styles
	table, title := m.c.keys.listBindings(), "Keys: execution list"
	switch m.page {
	case pageDetail:
		table, title = m.c.keys.detailBindings(), "Keys: execution detail"
	case pageAgents:
		table, title = m.c.keys.agentListBindings(), "Keys: agent list"
	case pageAgent:
		table, title = m.c.keys.agentDetailBindings(), "Keys: agent detail"
	}
	var blocks []string
	for _, g := range helpGroups(table) {
		if len(g.keys) == 0 {
			continue
		}
		if g.title == "App" {
			g.keys = append(g.keys, m.c.keys.ForceQuit)
		}
		w := 0
		for _, b := range g.keys {
			w = max(w, lipgloss.Width(b.Help().Key))
		}
		lines := []string{s.Section.Render(g.title)}
		for _, b := range g.keys {
			lines = append(lines, s.Key.Render(fit(b.Help().Key, w))+"  "+s.Dim.Render(b.Help().Desc))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	inner := boxWidth(m.width) - 4
	if m.width >= 100 {
		inner = min(m.width-8, 110)
	}
	// Lay the groups out in as many columns as fit.
	var rows []string
	for len(blocks) > 0 {
		n := len(blocks)
		for n > 1 && lipgloss.Width(lipgloss.JoinHorizontal(lipgloss.Top, spaced(blocks[:n])...)) > inner {
			n--
		}
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, spaced(blocks[:n])...))
		blocks = blocks[n:]
	}
	content := s.Bold.Render(title) + "\n\n" + strings.Join(rows, "\n\n")
	return s.Dialog.Render(content)
}

func spaced(blocks []string) []string {
	out := make([]string, len(blocks))
	for i, b := range blocks {
		if i < len(blocks)-1 {
			b = lipgloss.NewStyle().PaddingRight(3).Render(b)
		}
		out[i] = b
	}
	return out
}
