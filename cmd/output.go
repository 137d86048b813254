package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/charmbracelet/x/term"
)

// printer renders what the admin commands print, in one of three modes:
// JSON (-o json: the API's own documents), tables drawn with lipgloss on a
// terminal, and plain tab-separated text when stdout is piped.
type printer struct {
	out    io.Writer
	errOut io.Writer
	format string
	tty    bool // stdout is a terminal
	width  int  // its width; 0 when unknown
	r      *lipgloss.Renderer
}

func newPrinter(out, errOut io.Writer, format string) *printer {
	p := &printer{out: out, errOut: errOut, format: format}
	if f, ok := out.(*os.File); ok && isTerminal(f) {
		p.tty = true
		if w, _, err := term.GetSize(f.Fd()); err == nil {
			p.width = w
		}
	}
	p.r = lipgloss.NewRenderer(out)
	return p
}

// isJSON reports whether -o json was asked for.
func (p *printer) isJSON() bool { return p.format == outputJSON }

// json prints v as indented JSON.
func (p *printer) json(v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.out, "%s\n", raw)
	return err
}

// line prints one line of text.
func (p *printer) line(format string, args ...any) {
	fmt.Fprintf(p.out, format+"\n", args...)
}

// note prints a hint for a person on stderr, only when stdout is a terminal
// (a script reading stdout or stderr never sees it).
func (p *printer) note(format string, args ...any) {
	if p.tty {
		fmt.Fprintf(p.errOut, format+"\n", args...)
	}
}

// table prints rows under headers: a bordered table on a terminal, one
// tab-separated line per row (headers first) otherwise.
func (p *printer) table(headers []string, rows [][]string) {
	if !p.tty {
		w := p.out
		fmt.Fprintln(w, strings.Join(headers, "\t"))
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = plainCell(c)
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
		return
	}
	header := p.r.NewStyle().Bold(true).Padding(0, 1)
	cell := p.r.NewStyle().Padding(0, 1)
	build := func() *table.Table {
		return table.New().
			Border(lipgloss.RoundedBorder()).
			BorderStyle(p.r.NewStyle().Foreground(lipgloss.Color("8"))).
			Headers(headers...).
			Rows(rows...).
			StyleFunc(func(row, col int) lipgloss.Style {
				if row == table.HeaderRow {
					return header
				}
				if col < len(headers) && headers[col] == "STATUS" && row >= 0 && row < len(rows) {
					return cell.Foreground(statusColor(rows[row][col]))
				}
				return cell
			})
	}
	t := build()
	out := t.String()
	if p.width > 0 && lipgloss.Width(out) > p.width {
		out = build().Width(p.width).Wrap(false).String()
	}
	fmt.Fprintln(p.out, out)
}

// plainCell keeps a value on one line of one column.
func plainCell(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// field is one line of a card.
type field struct{ key, value string }

// card prints key/value pairs aligned: labels bold on a terminal, plain
// "key<TAB>value"-aligned text otherwise. Empty values are skipped.
func (p *printer) card(fields []field) {
	label := p.r.NewStyle().Bold(true)
	w := tabwriter.NewWriter(p.out, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		k := f.key
		if p.tty {
			// Every label carries the same escape codes, so tabwriter
			// still aligns the values.
			k = label.Render(k)
		}
		fmt.Fprintf(w, "%s\t%s\n", k, plainCell(f.value))
	}
	w.Flush()
}

// heading prints a section title (inspect's "Input", "Tasks", …).
func (p *printer) heading(title string) {
	fmt.Fprintln(p.out)
	if p.tty {
		fmt.Fprintln(p.out, p.r.NewStyle().Bold(true).Underline(true).Render(title))
		return
	}
	fmt.Fprintln(p.out, title+":")
}

// block prints a multi-line value (pretty JSON) indented by two spaces.
func (p *printer) block(s string) {
	for l := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		fmt.Fprintln(p.out, "  "+l)
	}
}

// statusColor colours workflow and task statuses as the TUI does.
func statusColor(s string) lipgloss.TerminalColor {
	switch s {
	case "COMPLETED", "ONLINE", "active":
		return lipgloss.Color("2") // green
	case "FAILED", "OFFLINE", "revoked":
		return lipgloss.Color("1") // red
	case "RUNNING", "CANCELLING":
		return lipgloss.Color("3") // yellow
	case "WAITING":
		return lipgloss.Color("6") // cyan
	case "CANCELLED", "expired":
		return lipgloss.Color("8") // dim
	}
	return lipgloss.NoColor{}
}

// prettyJSON indents a JSON value; "" for none or null.
func prettyJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// compactJSON puts a JSON value on one line, cut to max runes (0: no cut).
func compactJSON(raw json.RawMessage, max int) string {
	var b bytes.Buffer
	if err := json.Compact(&b, bytes.TrimSpace(raw)); err != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if r := []rune(s); max > 0 && len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// when formats a time for a table: local and short on a terminal, RFC 3339
// (UTC) when piped.
func (p *printer) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if !p.tty {
		return t.UTC().Format(time.RFC3339)
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// whenPtr is when for an optional time ("" when nil).
func (p *printer) whenPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return p.when(*t)
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
