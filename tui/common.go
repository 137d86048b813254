package tui

import (
	"context"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/flovyn/flovyn/client"
)

// common is what every view shares, handed to each constructor once.
type common struct {
	ctx    context.Context
	api    API
	keys   KeyMap
	styles Styles
	now    func() time.Time
}

// Messages: I/O happens in tea.Cmds, whose results come back as these.
type (
	// tickMsg drives the live refresh.
	tickMsg time.Time

	// listPageMsg carries the pages of one list fetch.
	listPageMsg struct {
		gen   int
		more  bool // a page after the prefix (scrolling), not a refresh
		reqs  []pageRequest
		pages []client.ExecutionList
		err   error
	}

	// detailMsg carries what changed in the open execution.
	detailMsg struct {
		id       string
		exec     client.Execution
		changed  bool // events, tasks and children were fetched too
		events   []client.Event
		tasks    []client.Task
		children []client.Child
		err      error
	}

	// agentPageMsg carries one fetch of the agent list: the newest limit
	// agents (the agent list route has no cursor).
	agentPageMsg struct {
		gen   int
		limit int
		list  client.AgentExecutionList
		err   error
	}

	// agentMsg carries what changed in the open agent execution.
	agentMsg struct {
		id          string
		agent       client.AgentExecution
		changed     bool // entries, checkpoints and tasks were fetched too
		entries     []client.AgentEntry
		checkpoints []client.AgentCheckpoint
		tasks       []client.AgentTask
		err         error
	}

	// openDetailMsg asks the app to show an execution.
	openDetailMsg struct{ id string }
	// openAgentMsg asks the app to show an agent execution.
	openAgentMsg struct{ id string }
	// switchListMsg asks the app to switch between the executions and the
	// agents lists.
	switchListMsg struct{}
	// backMsg asks the app to go back to the list.
	backMsg struct{}
	// openDialogMsg asks the app to show a dialog.
	openDialogMsg struct{ d dialogModel }
	// actionDoneMsg is the outcome of a confirmed action.
	actionDoneMsg struct {
		text string // what happened, for the status line
		err  error
	}
	// noticeMsg puts a line in the status bar.
	noticeMsg struct {
		text string
		err  bool
	}
)

func emit(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

// newInput makes a one-line text input that does not blink (a blinking
// cursor would redraw the screen twice a second for nothing).
func newInput(prompt, placeholder string) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.Placeholder = placeholder
	in.CharLimit = 64 << 10
	in.Cursor.SetMode(cursor.CursorStatic)
	return in
}
