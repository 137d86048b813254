package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// Limits on what a payload may cost the screen: a bigger value is shown
// cut, with a note saying how much was left out.
const (
	maxPrettyBytes = 64 << 10 // pretty-print values up to this size
	maxShownBytes  = 8 << 10  // show this much of a bigger one, compact
	maxJSONLines   = 2000
)

// shortID is the first 8 characters of an id, as the list shows it.
func shortID(id string) string {
	id = clean(id)
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// clean makes a server-supplied string safe for one terminal line: line
// breaks and tabs become spaces and other control characters (C0, DEL, C1,
// which could move the cursor or start an escape sequence) become '·'.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return '·'
		}
		return r
	}, s)
}

// fit cuts s (which may hold styles) to width w cells, ending in "…" when
// cut, and pads it with spaces to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	if pad := w - lipgloss.Width(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// cut cuts s to at most w cells, without padding.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// fmtDuration is a short human duration: 450ms, 12.3s, 3m04s, 2h05m, 3d04h.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// fmtClock shows a time in local time: the clock alone today, with the
// date otherwise.
func fmtClock(t, now time.Time) string {
	if t.IsZero() {
		return "–"
	}
	t, now = t.Local(), now.Local()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 02 15:04")
}

// fmtClockPtr is fmtClock for an optional time.
func fmtClockPtr(t *time.Time, now time.Time) string {
	if t == nil {
		return "–"
	}
	return fmtClock(*t, now)
}

// elapsed is how long an execution has run: to its end, or to now.
func elapsed(from time.Time, end *time.Time, now time.Time) time.Duration {
	if from.IsZero() {
		return 0
	}
	if end != nil {
		return end.Sub(from)
	}
	return now.Sub(from)
}

// jsonLines renders a JSON value for a scrollable pane: indented when it is
// valid and not too big, else compact and cut, with a note. Any JSON value is
// fine (object, array, string, number, …); what is not JSON is shown as text.
// nil when there is no value (absent or null).
func jsonLines(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var note string
	var text string
	switch {
	case !json.Valid(raw):
		text = string(raw)
		note = "(not valid JSON)"
		if len(text) > maxShownBytes {
			note = fmt.Sprintf("(not valid JSON; %d bytes, first %d shown)", len(raw), maxShownBytes)
			text = text[:maxShownBytes]
		}
	case len(raw) > maxPrettyBytes:
		var b bytes.Buffer
		_ = json.Compact(&b, raw)
		text = b.String()
		if len(text) > maxShownBytes {
			text = text[:maxShownBytes]
		}
		note = fmt.Sprintf("(%d bytes; the first %d shown)", len(raw), len(text))
		text = wrapText(text, 100)
	default:
		var b bytes.Buffer
		_ = json.Indent(&b, raw, "", "  ")
		text = b.String()
	}
	lines := strings.Split(strings.ToValidUTF8(text, "?"), "\n")
	if len(lines) > maxJSONLines {
		more := len(lines) - maxJSONLines
		lines = append(lines[:maxJSONLines], fmt.Sprintf("… %d more lines", more))
	}
	for i, l := range lines {
		lines[i] = clean(l)
	}
	if note != "" {
		lines = append(lines, note)
	}
	return lines
}

// wrapText breaks s into lines of at most w runes.
func wrapText(s string, w int) string {
	r := []rune(s)
	var b strings.Builder
	for len(r) > w {
		b.WriteString(string(r[:w]))
		b.WriteByte('\n')
		r = r[w:]
	}
	b.WriteString(string(r))
	return b.String()
}

// compact puts a JSON value on one line for a table cell.
func compact(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) > maxShownBytes {
		raw = raw[:maxShownBytes]
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return clean(strings.ToValidUTF8(string(raw), "?"))
	}
	return clean(b.String())
}

// object decodes a JSON object; nil for anything else (an array, a string,
// garbage), so a reader of event data never trips on an odd payload.
func object(raw json.RawMessage) map[string]any {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// str reads a string field of a decoded object ("" when absent or not a
// string).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// num reads a number field of a decoded object.
func num(m map[string]any, key string) (float64, bool) {
	f, ok := m[key].(float64)
	return f, ok
}
