package tui

import (
	"github.com/charmbracelet/lipgloss"

	"github.com/flovyn/flovyn/client"
)

// Colours, by the 16-colour ANSI palette so the terminal's theme applies.
var (
	colorGreen   = lipgloss.Color("2")
	colorRed     = lipgloss.Color("1")
	colorYellow  = lipgloss.Color("3")
	colorBlue    = lipgloss.Color("4")
	colorMagenta = lipgloss.Color("5")
	colorCyan    = lipgloss.Color("6")
	colorDim     = lipgloss.Color("8")
)

// Styles is every style the TUI draws with; views take them from here.
type Styles struct {
	Title     lipgloss.Style // the app name in the header
	Header    lipgloss.Style // the rest of the header line
	Dim       lipgloss.Style
	Bold      lipgloss.Style
	Label     lipgloss.Style // field labels of a card
	Section   lipgloss.Style // section titles inside a pane
	ColHeader lipgloss.Style // table column headers
	Selected  lipgloss.Style // the selected row
	TabActive lipgloss.Style
	Tab       lipgloss.Style
	Error     lipgloss.Style
	OK        lipgloss.Style
	Live      lipgloss.Style
	Dialog    lipgloss.Style // the box of dialogs and the help overlay
	Input     lipgloss.Style
	Focused   lipgloss.Style // the focused field label of a dialog
	Key       lipgloss.Style // a key in a hint
}

// DefaultStyles are the TUI's styles.
func DefaultStyles() Styles {
	return Styles{
		Title:     lipgloss.NewStyle().Bold(true).Foreground(colorMagenta),
		Header:    lipgloss.NewStyle().Foreground(colorDim),
		Dim:       lipgloss.NewStyle().Foreground(colorDim),
		Bold:      lipgloss.NewStyle().Bold(true),
		Label:     lipgloss.NewStyle().Bold(true),
		Section:   lipgloss.NewStyle().Bold(true).Underline(true),
		ColHeader: lipgloss.NewStyle().Bold(true).Foreground(colorDim),
		Selected:  lipgloss.NewStyle().Reverse(true),
		TabActive: lipgloss.NewStyle().Bold(true).Reverse(true).Padding(0, 1),
		Tab:       lipgloss.NewStyle().Foreground(colorDim).Padding(0, 1),
		Error:     lipgloss.NewStyle().Foreground(colorRed),
		OK:        lipgloss.NewStyle().Foreground(colorGreen),
		Live:      lipgloss.NewStyle().Foreground(colorGreen),
		Dialog:    lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(colorBlue).Padding(0, 1),
		Input:     lipgloss.NewStyle().Foreground(colorCyan),
		Focused:   lipgloss.NewStyle().Bold(true).Foreground(colorBlue),
		Key:       lipgloss.NewStyle().Bold(true),
	}
}

// statusColor is the colour of a workflow or task status, as the CLI's
// tables use.
func statusColor(status string) lipgloss.TerminalColor {
	switch status {
	case client.StatusCompleted:
		return colorGreen
	case client.StatusFailed:
		return colorRed
	case client.StatusRunning:
		return colorYellow
	case client.StatusWaiting:
		return colorCyan
	case client.StatusCancelled, client.StatusPending:
		return colorDim
	}
	return lipgloss.NoColor{}
}

// statusGlyph marks a status at a glance.
func statusGlyph(status string) string {
	switch status {
	case client.StatusRunning:
		return "▶"
	case client.StatusCompleted:
		return "✓"
	case client.StatusFailed:
		return "✗"
	case client.StatusPending:
		return "○"
	case client.StatusWaiting:
		return "◐"
	case client.StatusCancelled:
		return "⊘"
	}
	return "?"
}

// status renders a status with its glyph and colour.
func (s Styles) status(status string) string {
	return lipgloss.NewStyle().Foreground(statusColor(status)).Render(statusGlyph(status) + " " + clean(status))
}

// eventColor groups event types by what they are about.
func eventColor(eventType string) lipgloss.TerminalColor {
	switch eventType {
	case "WORKFLOW_COMPLETED", "TASK_COMPLETED", "CHILD_WORKFLOW_COMPLETED", "PROMISE_RESOLVED", "TIMER_FIRED":
		return colorGreen
	case "WORKFLOW_EXECUTION_FAILED", "TASK_FAILED", "CHILD_WORKFLOW_FAILED", "PROMISE_REJECTED", "PROMISE_TIMEOUT":
		return colorRed
	case "CANCELLATION_REQUESTED", "TASK_CANCELLED", "TIMER_CANCELLED", "CHILD_WORKFLOW_CANCELLED":
		return colorDim
	case "WORKFLOW_SUSPENDED":
		return colorCyan
	case "SIGNAL_RECEIVED", "PROMISE_CREATED":
		return colorMagenta
	case "TASK_SCHEDULED", "TIMER_STARTED", "CHILD_WORKFLOW_INITIATED", "CHILD_WORKFLOW_STARTED", "WORKFLOW_STARTED":
		return colorBlue
	}
	return lipgloss.NoColor{}
}
