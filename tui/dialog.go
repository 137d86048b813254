package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/flovyn/flovyn/client"
)

// A dialog collects what an action needs (a form), then asks for a
// confirmation that says exactly what will happen, then runs it. Every
// action goes through one: cancel or signal an execution or an agent,
// resolve or reject a promise, and start a workflow or an agent.

type dialogKind int

const (
	dlgCancel dialogKind = iota
	dlgSignal
	dlgResolve
	dlgReject
	dlgStart
	dlgCancelAgent
	dlgSignalAgent
	dlgStartAgent
)

// dialogField is one input of a form.
type dialogField struct {
	label    string
	input    textinput.Model
	json     bool // must be empty or one JSON value
	required bool
}

type dialogStage int

const (
	stageEdit dialogStage = iota
	stageConfirm
	stageRunning
)

type dialogModel struct {
	c      *common
	kind   dialogKind
	title  string
	target subject
	width  int

	fields   []dialogField
	promises []promise // resolve/reject: the pending promises to choose from
	choice   int
	focus    int // a field, or -1 for the promise chooser

	stage  dialogStage
	err    string
	closed bool
}

// subject is what a dialog acts on: a workflow execution or an agent
// execution.
type subject struct {
	id, kind string
	agent    bool
}

func executionSubject(e client.Execution) subject { return subject{id: e.ID, kind: kindOf(e)} }

func agentSubject(a client.AgentExecution) subject {
	return subject{id: a.ID, kind: a.Kind, agent: true}
}

// String names the subject as the list shows it: "7c9e6679 (greet)".
func (s subject) String() string { return shortID(s.id) + " (" + clean(s.kind) + ")" }

func newField(label, placeholder string, isJSON, required bool) dialogField {
	return dialogField{label: label, input: newInput("› ", placeholder), json: isJSON, required: required}
}

func newCancelDialog(c *common, e subject, width int) dialogModel {
	d := dialogModel{c: c, kind: dlgCancel, title: "Cancel execution " + e.String(), target: e, width: width,
		fields: []dialogField{newField("Reason", "optional", false, false)}}
	if e.agent {
		d.kind, d.title = dlgCancelAgent, "Cancel agent "+e.String()
	}
	return d.focusOn(0)
}

func newSignalDialog(c *common, e subject, width int) dialogModel {
	d := dialogModel{c: c, kind: dlgSignal, title: "Signal execution " + e.String(), target: e, width: width,
		fields: []dialogField{
			newField("Name", "signal name", false, true),
			newField("Value", "JSON value; empty sends null", true, false),
		}}
	if e.agent {
		d.kind, d.title = dlgSignalAgent, "Signal agent "+e.String()
	}
	return d.focusOn(0)
}

func newPromiseDialog(c *common, e subject, pending []promise, reject bool, width int) dialogModel {
	d := dialogModel{c: c, kind: dlgResolve, title: "Resolve a promise of " + e.String(), target: e, width: width, promises: pending,
		fields: []dialogField{newField("Value", "JSON value; empty resolves with null", true, false)}}
	if reject {
		d.kind, d.title = dlgReject, "Reject a promise of "+e.String()
		d.fields = []dialogField{newField("Error", "the error the workflow sees", false, true)}
	}
	if len(pending) > 1 {
		return d.focusOn(-1)
	}
	return d.focusOn(0)
}

// newStartDialog starts a workflow, or with agent an agent execution.
func newStartDialog(c *common, agent bool, width int) dialogModel {
	d := dialogModel{c: c, kind: dlgStart, title: "Start a workflow", width: width,
		fields: []dialogField{
			newField("Kind", "workflow kind", false, true),
			newField("Queue", "default", false, false),
			newField("Input", "JSON value; empty for none", true, false),
		}}
	if agent {
		d.kind, d.title = dlgStartAgent, "Start an agent"
		d.fields[0] = newField("Kind", "agent kind", false, true)
	}
	return d.focusOn(0)
}

// setWidth fits the dialog to a screen width; long values scroll in their
// field.
func (d dialogModel) setWidth(w int) dialogModel {
	d.width = w
	for i := range d.fields {
		d.fields[i].input.Width = max(5, boxWidth(w)-8)
	}
	return d
}

// focusOn moves the focus to field i (-1: the promise chooser).
func (d dialogModel) focusOn(i int) dialogModel {
	lo := 0
	if len(d.promises) > 1 {
		lo = -1
	}
	d.focus = max(lo, min(i, len(d.fields)-1))
	for j := range d.fields {
		if j == d.focus {
			d.fields[j].input.Focus()
		} else {
			d.fields[j].input.Blur()
		}
	}
	return d
}

func (d dialogModel) value(i int) string { return strings.TrimSpace(d.fields[i].input.Value()) }

// validate checks the form; the error names the field, which is returned.
func (d dialogModel) validate() (int, string) {
	for i, f := range d.fields {
		v := d.value(i)
		if f.required && v == "" {
			return i, f.label + " is required"
		}
		if f.json && v != "" && !json.Valid([]byte(v)) {
			return i, f.label + " is not valid JSON"
		}
	}
	if (d.kind == dlgResolve || d.kind == dlgReject) && len(d.promises) == 0 {
		return d.focus, "no pending promise"
	}
	return d.focus, ""
}

func (d dialogModel) update(msg tea.Msg) (dialogModel, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return d, nil
	}
	k := d.c.keys
	switch d.stage {
	case stageRunning:
		return d, nil
	case stageConfirm:
		switch {
		case key.Matches(km, k.Confirm):
			d.stage = stageRunning
			return d, d.run()
		case key.Matches(km, k.Deny):
			d.stage = stageEdit
		}
		return d, nil
	}
	switch {
	case key.Matches(km, k.Close):
		d.closed = true
		return d, nil
	case d.focus == -1 && key.Matches(km, k.Up):
		d.choice = max(0, d.choice-1)
		return d, nil
	case d.focus == -1 && key.Matches(km, k.Down):
		d.choice = min(len(d.promises)-1, d.choice+1)
		return d, nil
	case key.Matches(km, k.NextField):
		return d.focusOn(d.focus + 1), nil
	case key.Matches(km, k.PrevField):
		return d.focusOn(d.focus - 1), nil
	case key.Matches(km, k.Submit):
		if d.focus < len(d.fields)-1 {
			return d.focusOn(d.focus + 1), nil
		}
		var bad int
		if bad, d.err = d.validate(); d.err != "" {
			return d.focusOn(bad), nil
		}
		d.stage = stageConfirm
		return d, nil
	}
	if d.focus < 0 {
		return d, nil
	}
	var cmd tea.Cmd
	d.fields[d.focus].input, cmd = d.fields[d.focus].input.Update(km)
	return d, cmd
}

// failed takes the dialog back to its form with the server's answer.
func (d dialogModel) failed(err error) dialogModel {
	d.stage, d.err = stageEdit, err.Error()
	return d
}

// run performs the confirmed action.
func (d dialogModel) run() tea.Cmd {
	c, e := d.c, d.target
	var value json.RawMessage
	var p promise
	switch d.kind {
	case dlgSignal, dlgSignalAgent:
		if v := d.value(1); v != "" {
			value = json.RawMessage(v)
		}
	case dlgResolve:
		if v := d.value(0); v != "" {
			value = json.RawMessage(v)
		}
		p = d.promises[d.choice]
	case dlgReject:
		p = d.promises[d.choice]
	}
	vals := make([]string, len(d.fields))
	for i := range d.fields {
		vals[i] = d.value(i)
	}
	kind := d.kind
	return func() tea.Msg {
		var msg actionDoneMsg
		msg.err = call(c.ctx, func(ctx context.Context) error {
			switch kind {
			case dlgCancel:
				r, err := c.api.CancelWorkflow(ctx, e.id, vals[0])
				if err == nil {
					msg.text = fmt.Sprintf("Cancel of %s: %s", e, clean(r.Status))
				}
				return err
			case dlgSignal:
				r, err := c.api.SignalWorkflow(ctx, e.id, vals[0], value)
				if err == nil {
					msg.text = fmt.Sprintf("Signal %q sent to %s (event %d)", vals[0], e, r.SignalEventSequence)
				}
				return err
			case dlgCancelAgent:
				r, err := c.api.CancelAgent(ctx, e.id, vals[0])
				switch {
				case err != nil:
				case r.Status == "ALREADY_TERMINAL":
					msg.text = fmt.Sprintf("Agent %s had already ended (%s)", e, clean(r.AgentStatus))
				default:
					msg.text = fmt.Sprintf("Cancel of agent %s: %s", e, clean(r.Status))
				}
				return err
			case dlgSignalAgent:
				r, err := c.api.SignalAgent(ctx, e.id, vals[0], value)
				switch {
				case err != nil:
				case r.AgentResumed:
					msg.text = fmt.Sprintf("Signal %q sent to agent %s; it resumed", vals[0], e)
				default:
					msg.text = fmt.Sprintf("Signal %q sent to agent %s; kept until the agent consumes it", vals[0], e)
				}
				return err
			case dlgResolve:
				if err := c.api.ResolvePromise(ctx, p.id, value); err != nil {
					return err
				}
				msg.text = fmt.Sprintf("Promise %s of %s resolved", clean(p.name), e)
			case dlgReject:
				if err := c.api.RejectPromise(ctx, p.id, vals[0]); err != nil {
					return err
				}
				msg.text = fmt.Sprintf("Promise %s of %s rejected", clean(p.name), e)
			case dlgStart:
				var input json.RawMessage
				if vals[2] != "" {
					input = json.RawMessage(vals[2])
				}
				r, err := c.api.StartWorkflow(ctx, client.StartWorkflowRequest{Kind: vals[0], Queue: vals[1], Input: input})
				if err != nil {
					return err
				}
				msg.text = fmt.Sprintf("Started %s %s", clean(vals[0]), shortID(r.WorkflowExecutionID))
			case dlgStartAgent:
				var input json.RawMessage
				if vals[2] != "" {
					input = json.RawMessage(vals[2])
				}
				a, err := c.api.StartAgent(ctx, client.StartAgentRequest{Kind: vals[0], Queue: vals[1], Input: input})
				if err != nil {
					return err
				}
				msg.text = fmt.Sprintf("Started agent %s %s", clean(vals[0]), shortID(a.ID))
			}
			return nil
		})
		return msg
	}
}

// confirmation says what the action will do.
func (d dialogModel) confirmation() string {
	switch d.kind {
	case dlgCancel, dlgCancelAgent:
		s := "Cancel " + d.target.String() + "? Its running tasks and its children are cancelled too."
		if d.kind == dlgCancelAgent {
			s = "Cancel agent " + d.target.String() + "? Its tasks that have not ended are cancelled too."
		}
		if r := d.value(0); r != "" {
			s += "\nReason: " + clean(r)
		}
		return s
	case dlgSignal, dlgSignalAgent:
		v := d.value(1)
		if v == "" {
			v = "null"
		}
		if d.kind == dlgSignalAgent {
			return fmt.Sprintf("Send signal %q with value %s to agent %s?\nIt is kept until the agent consumes it; an agent waiting for it resumes.",
				d.value(0), compact(json.RawMessage(v)), d.target)
		}
		return fmt.Sprintf("Send signal %q with value %s to %s?", d.value(0), compact(json.RawMessage(v)), d.target)
	case dlgResolve:
		v := d.value(0)
		if v == "" {
			v = "null"
		}
		return fmt.Sprintf("Resolve promise %s with %s?\nThe workflow wakes up with this value.", clean(d.promises[d.choice].name), compact(json.RawMessage(v)))
	case dlgReject:
		return fmt.Sprintf("Reject promise %s with error %q?\nThe workflow wakes up with this error.", clean(d.promises[d.choice].name), d.value(0))
	case dlgStart, dlgStartAgent:
		q := d.value(1)
		if q == "" {
			q = "default"
		}
		in := d.value(2)
		if in == "" {
			in = "no input"
		} else {
			in = "input " + compact(json.RawMessage(in))
		}
		what := "workflow"
		if d.kind == dlgStartAgent {
			what = "agent"
		}
		return fmt.Sprintf("Start a %s %s on queue %s with %s?", clean(d.value(0)), what, clean(q), in)
	}
	return ""
}

// boxWidth is the dialog's outer width on a screen of width w.
func boxWidth(w int) int { return max(20, min(76, w-4)) }

func (d dialogModel) View() string {
	s := d.c.styles
	inner := boxWidth(d.width) - 4 // border and padding
	var lines []string
	lines = append(lines, s.Bold.Render(cut(d.title, inner)), "")
	switch d.stage {
	case stageConfirm, stageRunning:
		for _, l := range strings.Split(d.confirmation(), "\n") {
			lines = append(lines, wrapCells(l, inner)...)
		}
		lines = append(lines, "")
		if d.stage == stageRunning {
			lines = append(lines, s.Dim.Render("Working…"))
		} else {
			lines = append(lines, s.Key.Render("y")+" confirm   "+s.Key.Render("n/esc")+" go back")
		}
	default:
		if len(d.promises) > 0 {
			label := s.Label
			if d.focus == -1 {
				label = s.Focused
			}
			lines = append(lines, label.Render("Promise"))
			for i, p := range d.promises {
				mark := "  "
				if i == d.choice {
					mark = "▸ "
				}
				lines = append(lines, cut(mark+clean(p.name)+s.Dim.Render("  id "+clean(p.id)), inner))
			}
		}
		for i, f := range d.fields {
			label := s.Label
			if i == d.focus {
				label = s.Focused
			}
			lines = append(lines, label.Render(f.label), cut(f.input.View(), inner))
		}
		if d.err != "" {
			lines = append(lines, "")
			lines = append(lines, s.Error.Render(cut("✗ "+clean(d.err), inner)))
		}
		lines = append(lines, "", s.Dim.Render(cut("enter next/submit · tab move · esc close", inner)))
	}
	return s.Dialog.Width(inner + 2).Render(strings.Join(lines, "\n"))
}

// wrapCells breaks a line of plain text into lines of at most w cells, at
// spaces where it can.
func wrapCells(s string, w int) []string {
	var out []string
	for lipgloss.Width(s) > w {
		cutAt := w
		r := []rune(s)
		if cutAt > len(r) {
			break
		}
		if i := strings.LastIndex(string(r[:cutAt]), " "); i > 0 {
			out = append(out, string(r[:cutAt])[:i])
			s = strings.TrimLeft(string(r[:cutAt])[i:]+string(r[cutAt:]), " ")
			continue
		}
		out = append(out, string(r[:cutAt]))
		s = string(r[cutAt:])
	}
	return append(out, s)
}
