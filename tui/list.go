package tui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/flovyn/flovyn/client"
)

// Page sizes: the list asks for headRows rows per refresh of the top and
// morePage rows per page while scrolling; the server allows up to maxPage.
const (
	headRows = 100
	morePage = 200
	maxPage  = 500
)

// statusFilters are what the status filter key cycles through.
var statusFilters = []struct {
	label    string
	statuses []string
}{
	{"all", nil},
	{"active", []string{client.StatusPending, client.StatusRunning, client.StatusWaiting}},
	{client.StatusPending, []string{client.StatusPending}},
	{client.StatusRunning, []string{client.StatusRunning}},
	{client.StatusWaiting, []string{client.StatusWaiting}},
	{client.StatusCompleted, []string{client.StatusCompleted}},
	{client.StatusFailed, []string{client.StatusFailed}},
	{client.StatusCancelled, []string{client.StatusCancelled}},
}

// sortColumn is what the loaded rows are ordered by. The server lists
// newest first; the other orders sort the rows loaded so far.
type sortColumn int

const (
	sortNewest sortColumn = iota
	sortKind
	sortStatus
	sortQueue
	sortDuration
	numSorts
)

func (s sortColumn) String() string {
	return [...]string{"newest", "kind", "status", "queue", "duration"}[s]
}

// statusRank orders statuses by how much they need a look.
var statusRank = map[string]int{
	client.StatusRunning: 0, client.StatusWaiting: 1, client.StatusPending: 2,
	client.StatusFailed: 3, client.StatusCompleted: 4, client.StatusCancelled: 5,
}

// promptMode is what the list's text prompt edits.
type promptMode int

const (
	promptNone promptMode = iota
	promptSearch
	promptKind
)

// listModel is a list view: the tenant's workflow executions, or its agent
// executions (agents set), live. Both show the same columns and share
// search, sort, filters and moving; they differ in how rows are fetched.
type listModel struct {
	c             *common
	width, height int
	agents        bool

	rows  rowStore  // executions
	agent agentRows // agents
	gen   int       // bumped when the server-side filters change; older answers are dropped
	stat  int       // index into statusFilters
	kind  string
	query string // search over the loaded rows' id and kind
	sort  sortColumn
	rev   bool

	prompt promptMode
	input  textinput.Model

	view     []int // indexes into rows.rows: search applied, sorted
	cursor   int   // index into view
	offset   int   // first view row on screen
	selected string

	refreshing, loadingMore bool
}

func newListModel(c *common) listModel {
	return listModel{c: c, rows: newRowStore()}
}

func newAgentListModel(c *common) listModel {
	return listModel{c: c, agents: true, rows: newRowStore()}
}

// agentRows are the loaded agents: the newest limit of them, read again
// whole on every refresh (the agent list route has no cursor, and at most
// maxPage rows).
type agentRows struct {
	rows   []client.AgentExecution
	limit  int // rows asked for by the next refresh
	asked  int // rows asked for by the last answer
	loaded bool
}

// summary is what a list row shows of an execution or an agent.
type summary struct {
	id, kind, status, queue string
	created                 time.Time
	ended                   *time.Time
}

func (m listModel) size() int {
	if m.agents {
		return len(m.agent.rows)
	}
	return len(m.rows.rows)
}

// at is loaded row i.
func (m listModel) at(i int) summary {
	if m.agents {
		a := &m.agent.rows[i]
		return summary{a.ID, a.Kind, a.Status, a.Queue, a.CreatedAt, a.CompletedAt}
	}
	e := &m.rows.rows[i]
	return summary{e.ID, kindOf(*e), e.Status, e.Queue, e.CreatedAt, e.CompletedAt}
}

// isLoaded reports whether a first answer arrived.
func (m listModel) isLoaded() bool {
	if m.agents {
		return m.agent.loaded
	}
	return m.rows.loaded
}

// complete reports whether the loaded rows are the whole list.
func (m listModel) complete() bool {
	if m.agents {
		return len(m.agent.rows) < m.agent.asked
	}
	return m.rows.done
}

// noun names what the list shows.
func (m listModel) noun() string {
	if m.agents {
		return "agents"
	}
	return "executions"
}

func (m listModel) bindings() []binding {
	if m.agents {
		return m.c.keys.agentListBindings()
	}
	return m.c.keys.listBindings()
}

// bodyRows is how many rows fit under the filter bar and the column header.
func (m listModel) bodyRows() int { return max(1, m.height-2) }

func (m listModel) setSize(w, h int) listModel {
	m.width, m.height = w, h
	m.input.Width = max(10, w-12)
	return m.clamp()
}

// capturing reports whether keys go to the text prompt.
func (m listModel) capturing() bool { return m.prompt != promptNone }

// current is the selected row.
func (m listModel) current() (summary, bool) {
	if m.cursor < 0 || m.cursor >= len(m.view) {
		return summary{}, false
	}
	return m.at(m.view[m.cursor]), true
}

// ---- fetching ----

// options are the server-side filters.
func (m listModel) options() client.ListWorkflowsOptions {
	return client.ListWorkflowsOptions{Statuses: statusFilters[m.stat].statuses, Kind: m.kind}
}

func (m listModel) fetch(more bool, reqs ...pageRequest) tea.Cmd {
	c, gen, base := m.c, m.gen, m.options()
	return func() tea.Msg {
		msg := listPageMsg{gen: gen, more: more, reqs: reqs}
		msg.err = call(c.ctx, func(ctx context.Context) error {
			for _, r := range reqs {
				o := base
				o.Cursor, o.Limit = r.cursor, r.limit
				page, err := c.api.ListWorkflows(ctx, o)
				if err != nil {
					return err
				}
				msg.pages = append(msg.pages, page)
			}
			return nil
		})
		return msg
	}
}

// fetchAgents reads the newest limit agents under the filters.
func (m listModel) fetchAgents(limit int) tea.Cmd {
	c, gen := m.c, m.gen
	o := client.ListAgentsOptions{Statuses: statusFilters[m.stat].statuses, Kind: m.kind, Limit: limit}
	return func() tea.Msg {
		msg := agentPageMsg{gen: gen, limit: limit}
		msg.err = call(c.ctx, func(ctx context.Context) (err error) {
			msg.list, err = c.api.ListAgents(ctx, o)
			return err
		})
		return msg
	}
}

// refresh re-reads the top of the list and the rows on screen, unless a
// refresh is already on its way. The agent list reads its newest rows
// again, as many as were loaded (one request, at most maxPage rows).
func (m listModel) refresh() (listModel, tea.Cmd) {
	if m.refreshing {
		return m, nil
	}
	if m.agents {
		m.agent.limit = min(maxPage, max(m.agent.limit, headRows, m.bodyRows()))
		m.refreshing = true
		m.loadingMore = m.agent.limit > m.agent.asked && m.agent.loaded
		return m, m.fetchAgents(m.agent.limit)
	}
	lo, hi := -1, -1
	for v := m.offset; v < min(len(m.view), m.offset+m.bodyRows()); v++ {
		i := m.view[v]
		if lo < 0 || i < lo {
			lo = i
		}
		hi = max(hi, i)
	}
	head := pageRequest{limit: max(headRows, m.bodyRows())}
	reqs := []pageRequest{head}
	if hi >= 0 && hi < maxPage {
		reqs[0].limit = max(head.limit, hi+1)
	} else if w, ok := m.rows.windowRequest(lo, hi, maxPage); hi >= 0 && ok {
		reqs = append(reqs, w)
	}
	m.refreshing = true
	return m, m.fetch(false, reqs...)
}

// loadMore fetches the page after the loaded rows when the cursor is within
// a screen of their end.
func (m listModel) loadMore() (listModel, tea.Cmd) {
	if m.loadingMore || m.cursor < len(m.view)-m.bodyRows()-1 {
		return m, nil
	}
	if m.agents {
		// The next read asks for a page more; one request is in flight at a
		// time, so answers arrive with growing limits.
		if !m.agent.loaded || m.complete() || m.agent.limit >= maxPage {
			return m, nil
		}
		m.agent.limit = min(maxPage, len(m.agent.rows)+morePage)
		return m.refresh()
	}
	req, ok := m.rows.moreRequest(morePage)
	if !ok || req.after == nil {
		return m, nil
	}
	m.loadingMore = true
	return m, m.fetch(true, req)
}

// restart drops the rows and loads them again under new server-side filters.
func (m listModel) restart() (listModel, tea.Cmd) {
	m.gen++
	m.rows, m.agent = newRowStore(), agentRows{}
	m.view, m.cursor, m.offset, m.selected = nil, 0, 0, ""
	m.refreshing, m.loadingMore = false, false
	return m.refresh()
}

func (m listModel) loadedAgents(msg agentPageMsg) listModel {
	if msg.gen != m.gen || !m.agents {
		return m
	}
	m.refreshing, m.loadingMore = false, false
	if msg.err != nil {
		return m
	}
	m.agent.rows, m.agent.asked, m.agent.loaded = msg.list.Items, msg.limit, true
	return m.rebuild()
}

func (m listModel) loaded(msg listPageMsg) listModel {
	if msg.gen != m.gen {
		return m
	}
	if msg.more {
		m.loadingMore = false
	} else {
		m.refreshing = false
	}
	if msg.err != nil {
		return m
	}
	for i, p := range msg.pages {
		m.rows.merge(msg.reqs[i], p)
	}
	return m.rebuild()
}

// ---- the view's rows ----

// rebuild applies search and sort to the loaded rows and keeps the
// selection on the same execution.
func (m listModel) rebuild() listModel {
	q := strings.ToLower(m.query)
	view := m.view[:0:0]
	for i := range m.size() {
		if r := m.at(i); q == "" || strings.Contains(strings.ToLower(r.id), q) || strings.Contains(strings.ToLower(r.kind), q) {
			view = append(view, i)
		}
	}
	if m.sort != sortNewest || m.rev {
		now := m.c.now()
		order := func(a, b int) int {
			x, y := m.at(a), m.at(b)
			var c int
			switch m.sort {
			case sortKind:
				c = strings.Compare(x.kind, y.kind)
			case sortStatus:
				c = statusRank[x.status] - statusRank[y.status]
			case sortQueue:
				c = strings.Compare(x.queue, y.queue)
			case sortDuration: // longest first
				c = -cmp.Compare(elapsed(x.created, x.ended, now), elapsed(y.created, y.ended, now))
			}
			if c == 0 {
				c = a - b
			}
			if m.rev {
				c = -c
			}
			return c
		}
		slices.SortFunc(view, order)
	}
	m.view = view
	if m.selected != "" {
		for v, i := range view {
			if m.at(i).id == m.selected {
				m.cursor = v
				break
			}
		}
	}
	return m.clamp()
}

// clamp keeps the cursor on a row and on screen, and remembers which one
// it is on.
func (m listModel) clamp() listModel {
	n, h := len(m.view), m.bodyRows()
	m.cursor = max(0, min(m.cursor, n-1))
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+h {
		m.offset = m.cursor - h + 1
	}
	m.offset = max(0, min(m.offset, n-h))
	if r, ok := m.current(); ok {
		m.selected = r.id
	}
	return m
}

func kindOf(e client.Execution) string {
	if e.Kind != "" {
		return e.Kind
	}
	return e.WorkflowKind
}

// ---- keys ----

func (m listModel) update(msg tea.Msg) (listModel, tea.Cmd) {
	switch msg := msg.(type) {
	case listPageMsg:
		return m.loaded(msg), nil
	case agentPageMsg:
		return m.loadedAgents(msg), nil
	case tea.KeyMsg:
		if m.prompt != promptNone {
			return m.updatePrompt(msg)
		}
		return m.handle(lookup(msg, m.bindings()))
	}
	return m, nil
}

// handle acts on one key action of the list.
func (m listModel) handle(a action) (listModel, tea.Cmd) {
	h := m.bodyRows()
	switch a {
	case actUp:
		m.cursor--
	case actDown:
		m.cursor++
	case actPageUp:
		m.cursor -= h
	case actPageDown:
		m.cursor += h
	case actTop:
		m.cursor = 0
	case actBottom:
		m.cursor = len(m.view) - 1
	case actOpen:
		r, ok := m.current()
		switch {
		case !ok:
			return m, nil
		case m.agents:
			return m, emit(openAgentMsg{id: r.id})
		}
		return m, emit(openDetailMsg{id: r.id})
	case actSwitch:
		return m, emit(switchListMsg{})
	case actSearch:
		m.prompt = promptSearch
		m.input = newInput("/ ", "id or kind")
		m.input.Width = max(10, m.width-12)
		m.input.SetValue(m.query)
		m.input.CursorEnd()
		return m, m.input.Focus()
	case actKindFilter:
		m.prompt = promptKind
		m.input = newInput("kind: ", "exact kind, empty for any (tab completes)")
		m.input.Width = max(10, m.width-12)
		m.input.ShowSuggestions = true
		m.input.SetSuggestions(m.kinds())
		m.input.SetValue(m.kind)
		m.input.CursorEnd()
		return m, m.input.Focus()
	case actStatusFilter:
		m.stat = (m.stat + 1) % len(statusFilters)
		return m.restart()
	case actSort:
		m.sort = (m.sort + 1) % numSorts
		return m.rebuild(), nil
	case actReverse:
		m.rev = !m.rev
		return m.rebuild(), nil
	case actBack:
		if m.query == "" && m.kind == "" && m.stat == 0 {
			return m, nil
		}
		m.query = ""
		if m.kind == "" && m.stat == 0 {
			return m.rebuild(), nil
		}
		m.kind, m.stat = "", 0
		return m.restart()
	case actRefresh:
		m.refreshing = false // a stuck refresh must not block a manual one
		return m.refresh()
	case actStart:
		return m, emit(openDialogMsg{newStartDialog(m.c, m.agents, m.width)})
	case actCancel, actSignal:
		r, ok := m.current()
		if !ok {
			return m, nil
		}
		target := subject{id: r.id, kind: r.kind, agent: m.agents}
		if a == actCancel {
			return m, emit(openDialogMsg{newCancelDialog(m.c, target, m.width)})
		}
		return m, emit(openDialogMsg{newSignalDialog(m.c, target, m.width)})
	case actQuit:
		return m, tea.Quit
	default:
		return m, nil
	}
	m = m.clamp()
	return m.loadMore()
}

// updatePrompt edits the search or kind prompt.
func (m listModel) updatePrompt(msg tea.KeyMsg) (listModel, tea.Cmd) {
	k := m.c.keys
	switch {
	case key.Matches(msg, k.Submit):
		mode := m.prompt
		m.prompt = promptNone
		m.input.Blur()
		if mode == promptKind {
			kind := strings.TrimSpace(m.input.Value())
			if kind == m.kind {
				return m, nil
			}
			m.kind = kind
			return m.restart()
		}
		return m, nil
	case key.Matches(msg, k.Close):
		if m.prompt == promptSearch {
			m.query = ""
			m = m.rebuild()
		}
		m.prompt = promptNone
		m.input.Blur()
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.prompt == promptSearch && m.input.Value() != m.query {
		m.query = m.input.Value()
		m.cursor, m.offset = 0, 0
		m.selected = ""
		m = m.rebuild()
	}
	return m, cmd
}

// kinds are the distinct kinds among the loaded rows, for completion.
func (m listModel) kinds() []string {
	seen := map[string]bool{}
	var out []string
	for i := range m.size() {
		if k := m.at(i).kind; k != "" && !seen[k] && len(out) < 500 {
			seen[k] = true
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ---- drawing ----

// columns are the widths of the list's columns at a screen width.
type columns struct{ id, kind, status, queue, started, duration int }

func listColumns(width int) columns {
	c := columns{id: 8, status: 11, started: 12, duration: 8}
	c.queue = max(7, min(20, width/8))
	c.kind = max(8, width-2-c.id-c.status-c.queue-c.started-c.duration-5)
	return c
}

func (m listModel) View() string {
	s := m.c.styles
	var b strings.Builder
	b.WriteString(m.filterBar())
	b.WriteByte('\n')
	col := listColumns(m.width)
	row := func(id, kind, status, queue, started, dur string) string {
		return "  " + fit(id, col.id) + " " + fit(kind, col.kind) + " " + fit(status, col.status) + " " +
			fit(queue, col.queue) + " " + fit(started, col.started) + " " + fit(dur, col.duration)
	}
	b.WriteString(s.ColHeader.Render(cut(row("ID", "KIND", "STATUS", "QUEUE", "STARTED", "DURATION"), m.width)))
	h := m.bodyRows()
	switch {
	case !m.isLoaded():
		b.WriteString("\n" + s.Dim.Render("Loading "+m.noun()+"…"))
	case len(m.view) == 0 && (m.query != "" || m.kind != "" || m.stat != 0):
		b.WriteString("\n" + s.Dim.Render("No "+m.noun()+" match. Esc clears the search and filters."))
	case len(m.view) == 0:
		b.WriteString("\n" + s.Dim.Render("No "+m.noun()+" yet. Press n to start one."))
	}
	now := m.c.now()
	for v := m.offset; v < min(len(m.view), m.offset+h); v++ {
		e := m.at(m.view[v])
		line := row(shortID(e.id), clean(e.kind), s.status(e.status), clean(e.queue),
			fmtClock(e.created, now), fmtDuration(elapsed(e.created, e.ended, now)))
		line = cut(line, m.width)
		if v == m.cursor {
			line = s.Selected.Render(fit("▸ "+ansi.Strip(line)[2:], m.width))
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}

// filterBar shows the filters, or the prompt being edited.
func (m listModel) filterBar() string {
	s := m.c.styles
	if m.prompt != promptNone {
		return cut(m.input.View(), m.width)
	}
	kind := m.kind
	if kind == "" {
		kind = "any"
	}
	order := m.sort.String()
	if m.rev {
		order += " ↑"
	} else {
		order += " ↓"
	}
	parts := []string{
		s.Label.Render("status ") + statusFilters[m.stat].label,
		s.Label.Render("kind ") + clean(kind),
		s.Label.Render("sort ") + order,
	}
	if m.query != "" {
		parts = append(parts, s.Label.Render("search ")+clean(m.query))
	}
	left := strings.Join(parts, "  ")
	count := fmt.Sprintf("%d loaded", m.size())
	if len(m.view) != m.size() {
		count = fmt.Sprintf("%d of %d loaded", len(m.view), m.size())
	}
	switch {
	case !m.isLoaded() || m.complete():
	case m.agents && m.agent.asked >= maxPage:
		count += ", the newest only"
	default:
		count += ", more below"
	}
	if m.loadingMore {
		count += " …"
	}
	right := s.Dim.Render(count)
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return cut(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}
