package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/flovyn/flovyn/client"
)

// The timeline draws what an execution did on one time axis, from its
// history alone: a task runs from TASK_SCHEDULED to TASK_COMPLETED, _FAILED
// or _CANCELLED (by taskExecutionId), a timer from TIMER_STARTED to
// TIMER_FIRED or _CANCELLED (by timerId), a child from
// CHILD_WORKFLOW_INITIATED to its end (by childExecutionName), a promise from
// PROMISE_CREATED to its settling (by promiseId, else promiseName), and the
// execution waits from each WORKFLOW_SUSPENDED to the next event.

// spanState is how a span ended, or that it has not.
type spanState int

const (
	spanOpen spanState = iota
	spanDone
	spanFailed
	spanCancelled
)

// span is one bar segment.
type span struct {
	start, end time.Time // end zero: open
	state      spanState
}

// lane is one row of the timeline.
type lane struct {
	what     string // workflow, agent, task, timer, child, promise, wait; entry and checkpoint lanes hold instants
	label    string
	spans    []span
	due      time.Time // an open timer's fire time
	instants bool      // the spans are moments (entries, checkpoints): no duration
}

// buildTimeline turns a history into lanes, in the order they started; the
// execution's own lane first and the waits second.
func buildTimeline(exec client.Execution, events []client.Event) []lane {
	wf := lane{what: "workflow", label: "workflow " + clean(kindOf(exec))}
	start := exec.CreatedAt
	if start.IsZero() && len(events) > 0 {
		start = eventTime(events[0])
	}
	wf.spans = []span{{start: start, state: stateOfStatus(exec.Status)}}
	if exec.CompletedAt != nil {
		wf.spans[0].end = *exec.CompletedAt
	}
	wait := lane{what: "wait", label: "waiting (suspended)"}
	var lanes []*lane
	open := map[string]*lane{} // "task:<id>", "timer:<id>", …
	begin := func(what, id, label string, at time.Time) *lane {
		l := &lane{what: what, label: label, spans: []span{{start: at}}}
		lanes = append(lanes, l)
		if id != "" {
			open[what+":"+id] = l
		}
		return l
	}
	end := func(what, id string, at time.Time, st spanState) {
		l, ok := open[what+":"+id]
		if !ok || id == "" {
			return
		}
		delete(open, what+":"+id)
		l.spans[0].end, l.spans[0].state = at, st
	}
	waiting := false
	for _, e := range events {
		at := eventTime(e)
		d := object(e.Data)
		if waiting && e.EventType != "WORKFLOW_SUSPENDED" {
			wait.spans[len(wait.spans)-1].end = at
			wait.spans[len(wait.spans)-1].state = spanDone
			waiting = false
		}
		switch e.EventType {
		case "WORKFLOW_SUSPENDED":
			if !waiting {
				wait.spans = append(wait.spans, span{start: at})
				waiting = true
			}
		case "TASK_SCHEDULED":
			begin("task", str(d, "taskExecutionId"), "task "+clean(str(d, "kind")), at)
		case "TASK_COMPLETED":
			end("task", str(d, "taskExecutionId"), at, spanDone)
		case "TASK_FAILED":
			end("task", str(d, "taskExecutionId"), at, spanFailed)
		case "TASK_CANCELLED":
			end("task", str(d, "taskExecutionId"), at, spanCancelled)
		case "TIMER_STARTED":
			id := str(d, "timerId")
			l := begin("timer", id, "timer "+clean(id), at)
			if ms, ok := num(d, "durationMs"); ok && ms >= 0 {
				l.due = at.Add(time.Duration(ms) * time.Millisecond)
			}
		case "TIMER_FIRED":
			end("timer", str(d, "timerId"), at, spanDone)
		case "TIMER_CANCELLED":
			end("timer", str(d, "timerId"), at, spanCancelled)
		case "CHILD_WORKFLOW_INITIATED":
			name := str(d, "childExecutionName")
			label := "child " + clean(name)
			if k := str(d, "childWorkflowKind"); k != "" {
				label += " (" + clean(k) + ")"
			}
			begin("child", name, label, at)
		case "CHILD_WORKFLOW_COMPLETED":
			end("child", str(d, "childExecutionName"), at, spanDone)
		case "CHILD_WORKFLOW_FAILED":
			end("child", str(d, "childExecutionName"), at, spanFailed)
		case "CHILD_WORKFLOW_CANCELLED":
			end("child", str(d, "childExecutionName"), at, spanCancelled)
		case "PROMISE_CREATED":
			name := str(d, "promiseName")
			l := begin("promise", promiseKey(d), "promise "+clean(name), at)
			if name == "" {
				l.label = "promise " + shortID(str(d, "promiseId"))
			}
		case "PROMISE_RESOLVED":
			end("promise", promiseKey(d), at, spanDone)
		case "PROMISE_REJECTED", "PROMISE_TIMEOUT":
			end("promise", promiseKey(d), at, spanFailed)
		}
	}
	// What is still open ends with the execution, if it ended.
	for _, l := range lanes {
		if exec.CompletedAt != nil && l.spans[0].end.IsZero() {
			l.spans[0].end, l.spans[0].state = *exec.CompletedAt, spanCancelled
		}
	}
	if waiting && exec.CompletedAt != nil {
		wait.spans[len(wait.spans)-1].end = *exec.CompletedAt
		wait.spans[len(wait.spans)-1].state = spanDone
	}
	slices.SortStableFunc(lanes, func(a, b *lane) int { return a.spans[0].start.Compare(b.spans[0].start) })
	out := []lane{wf}
	if len(wait.spans) > 0 {
		out = append(out, wait)
	}
	for _, l := range lanes {
		out = append(out, *l)
	}
	return out
}

func promiseKey(d map[string]any) string {
	if id := str(d, "promiseId"); id != "" {
		return id
	}
	return str(d, "promiseName")
}

func stateOfStatus(status string) spanState {
	switch status {
	case client.StatusCompleted:
		return spanDone
	case client.StatusFailed:
		return spanFailed
	case client.StatusCancelled:
		return spanCancelled
	}
	return spanOpen
}

// tickSteps are the spacings the axis may label.
var tickSteps = []time.Duration{
	10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// timelineLines draws an execution's lanes, scaled to its life (to now
// while it runs).
func timelineLines(s Styles, exec client.Execution, events []client.Event, now time.Time, width int) []string {
	to := now
	if exec.CompletedAt != nil {
		to = *exec.CompletedAt
	}
	return drawTimeline(s, buildTimeline(exec, events), to, now, width,
		s.Dim.Render("█ done  ▓ running  ")+s.Error.Render("█")+s.Dim.Render(" failed  ░ cancelled  ▒ suspended  · timer due"))
}

// drawTimeline draws lanes: a label column, bars on one axis from the first
// lane's start to to, each lane's duration (or note), and the legend.
func drawTimeline(s Styles, lanes []lane, to, now time.Time, width int, legend string) []string {
	from := lanes[0].spans[0].start
	for _, l := range lanes { // an open timer due later stretches the axis
		if !l.due.IsZero() && l.spans[0].end.IsZero() && l.due.After(to) {
			to = l.due
		}
	}
	if !to.After(from) {
		to = from.Add(time.Second)
	}
	labelW := max(12, min(32, width/3))
	durW := 8
	barW := max(10, width-labelW-durW-2)
	total := to.Sub(from)
	col := func(t time.Time) int {
		if t.Before(from) {
			return 0
		}
		c := int(float64(t.Sub(from)) / float64(total) * float64(barW))
		return min(c, barW)
	}

	// The axis: tick labels at a spacing that leaves room for them.
	step := tickSteps[len(tickSteps)-1]
	for _, st := range tickSteps {
		if float64(st)/float64(total)*float64(barW) >= 9 {
			step = st
			break
		}
	}
	axis := []rune(strings.Repeat(" ", barW+8))
	for t := time.Duration(0); t <= total; t += step {
		c := col(from.Add(t))
		label := []rune("┊" + fmtTick(t))
		if c+len(label) > len(axis) {
			break
		}
		copy(axis[c:], label)
	}
	out := []string{
		s.Dim.Render(strings.Repeat(" ", labelW+1) + strings.TrimRight(string(axis), " ")),
	}
	for _, l := range lanes {
		bar := make([]string, barW)
		for i := range bar {
			bar[i] = " "
		}
		var dur time.Duration
		for _, sp := range l.spans {
			end := sp.end
			if end.IsZero() {
				end = now
			}
			dur += end.Sub(sp.start)
			a, b := min(col(sp.start), barW-1), col(end)
			if b <= a {
				b = a + 1
			}
			glyph, color := spanGlyph(l.what, sp.state)
			cell := lipgloss.NewStyle().Foreground(color).Render(glyph)
			for i := a; i < min(b, barW); i++ {
				bar[i] = cell
			}
			if l.what == "timer" && sp.end.IsZero() && !l.due.IsZero() { // the rest of an open timer's wait
				for i := max(b, a+1); i < min(col(l.due), barW); i++ {
					bar[i] = s.Dim.Render("·")
				}
			}
		}
		line := fit(l.label, labelW) + " " + strings.Join(bar, "")
		if !l.instants {
			line += " " + s.Dim.Render(fmtDuration(dur))
		}
		out = append(out, line)
	}
	return append(out, "", legend)
}

func spanGlyph(what string, st spanState) (string, lipgloss.TerminalColor) {
	switch what {
	case "wait":
		return "▒", colorCyan
	case "entry":
		return "•", colorBlue
	case "checkpoint":
		return "◆", colorMagenta
	}
	switch st {
	case spanDone:
		return "█", colorGreen
	case spanFailed:
		return "█", colorRed
	case spanCancelled:
		return "░", colorDim
	}
	return "▓", colorYellow
}

// fmtTick labels an axis tick: 0, 500ms, 5s, 1m30s, 2h.
func fmtTick(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%gs", d.Seconds())
	case d < time.Hour:
		if d%time.Minute == 0 {
			return fmt.Sprintf("%dm", int(d.Minutes()))
		}
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
}
