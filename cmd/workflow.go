package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/client"
)

func newWorkflowCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "workflow",
		Aliases: []string{"workflows", "wf"},
		GroupID: "admin",
		Short:   "Start, list, inspect, signal and cancel workflow executions",
		Long: `Work with workflow executions of a tenant.

  flovyn workflow start order-fulfilment --input '{"orderId": 42}' --wait
  flovyn workflow list --status RUNNING,WAITING
  flovyn workflow inspect <id> --follow`,
	}
	c.AddCommand(
		newWorkflowStartCommand(g),
		newWorkflowListCommand(g),
		newWorkflowInspectCommand(g),
		newWorkflowEventsCommand(g),
		newWorkflowTasksCommand(g),
		newWorkflowCancelCommand(g),
		newWorkflowSignalCommand(g),
	)
	return c
}

// jsonValue checks that s is one JSON value; a bad one is a usage error
// naming the flag.
func jsonValue(flag, s string) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, usageErrorf("%s: not valid JSON: %v", flag, err)
	}
	return json.RawMessage(strings.TrimSpace(s)), nil
}

// readJSONArg reads a JSON value given inline, from a file, or from stdin
// ("-" as the file or the inline value).
func readJSONArg(cmd *cobra.Command, flag, inline, file string) (json.RawMessage, error) {
	if inline == "-" {
		inline, file = "", "-"
	}
	if file == "" {
		if inline == "" {
			return nil, nil
		}
		return jsonValue("--"+flag, inline)
	}
	var (
		data []byte
		err  error
	)
	if file == "-" {
		data, err = io.ReadAll(cmd.InOrStdin())
		file = "stdin"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, usageErrorf("--%s-file: %v", flag, err)
	}
	return jsonValue(fmt.Sprintf("--%s-file %s", flag, file), string(data))
}

// parseLabels parses repeated key=value flags.
func parseLabels(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--%s %q: want key=value", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

// workflowIDHelp closes the help of every command that takes a workflow id.
const workflowIDHelp = `The id is a workflow execution id, or the start of one that no other
execution of the tenant shares (at least 4 hex digits; the TUI shows 8).`

var workflowStatuses = []string{
	client.StatusPending, client.StatusRunning, client.StatusWaiting,
	client.StatusCompleted, client.StatusFailed, client.StatusCancelled,
}

// ---- start ----

func newWorkflowStartCommand(g *globals) *cobra.Command {
	var (
		req                     client.StartWorkflowRequest
		input, inputFile        string
		metadata                []string
		idempotencyTTL, timeout time.Duration
		wait, quiet             bool
	)
	c := &cobra.Command{
		Use:   "start <kind> [-]",
		Short: "Start a workflow execution; --wait blocks for its result",
		Long: `Start an execution of a workflow kind. The input is a JSON value given with
--input, read from a file with --input-file, or read from stdin with "-".

Without --wait it prints the new execution (-q: only its id). With --wait it
waits until the execution ends and prints its output (pretty JSON; with -o json
the whole execution). A failed or cancelled execution exits 1 with its error
on stderr, and so does --timeout running out (the execution keeps running).

  flovyn workflow start greet --input '{"name": "Ada"}' --wait --timeout 30s
  echo '{"name": "Ada"}' | flovyn workflow start greet - --wait`,
		Args: startArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if req.Input, err = startInput(cmd, args, input, inputFile); err != nil {
				return err
			}
			if req.Metadata, err = parseLabels("metadata", metadata); err != nil {
				return err
			}
			if cmd.Flags().Changed("timeout") && !wait {
				return usageErrorf("--timeout applies to --wait")
			}
			if timeout < 0 || idempotencyTTL < 0 {
				return usageErrorf("durations must be positive")
			}
			req.IdempotencyKeyTTL = int64(idempotencyTTL / time.Second)
			req.Kind = args[0]
			return nil
		},
		RunE: g.action(true, func(s *session, _ []string) error {
			started, err := s.c.StartWorkflow(s.ctx, req)
			if err != nil {
				return err
			}
			id := started.WorkflowExecutionID
			if !wait {
				switch {
				case quiet:
					s.p.line("%s", id)
					return nil
				case s.p.isJSON():
					return s.p.json(started)
				}
				fields := executionFields(s.p, started.Execution)
				if started.IdempotencyKeyUsed && !started.IdempotencyKeyNew {
					fields = append(fields, field{"Note", "an existing execution, found by its idempotency key"})
				}
				s.p.card(fields)
				return nil
			}
			s.p.note("Started workflow %s (%s); waiting for it to end…", id, req.Kind)
			return waitAndPrint(s, id, timeout)
		}),
	}
	f := c.Flags()
	f.StringVar(&input, "input", "", `input as JSON ("-": read stdin)`)
	f.StringVar(&inputFile, "input-file", "", `file holding the input as JSON ("-": stdin)`)
	f.StringVar(&req.Queue, "queue", "", `queue to run on (default "default")`)
	f.StringVar(&req.IdempotencyKey, "idempotency-key", "", "start at most one execution for this key (while it lives)")
	f.DurationVar(&idempotencyTTL, "idempotency-ttl", 0, "how long the key lives (default 24h)")
	f.StringArrayVar(&metadata, "metadata", nil, "label key=value to filter by later (repeatable)")
	f.Int32Var(&req.PrioritySeconds, "priority", 0, "seconds to move ahead in the queue")
	f.StringVar(&req.Version, "version", "", "workflow version")
	f.BoolVar(&wait, "wait", false, "wait for the execution to end and print its output")
	f.DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long, e.g. 30s (default: wait forever)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the execution id")
	return c
}

// waitAndPrint follows execution id to its end and prints its output; an
// execution that did not complete is an error.
func waitAndPrint(s *session, id string, timeout time.Duration) error {
	ctx := s.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	w, err := s.c.Follow(ctx, id, client.FollowOptions{Interval: 200 * time.Millisecond})
	if errors.Is(err, context.DeadlineExceeded) && s.ctx.Err() == nil {
		status := "not finished"
		if cur, err := s.c.GetWorkflow(s.ctx, id); err == nil {
			status = cur.Status
		}
		return fmt.Errorf("timed out after %s waiting for workflow %s (still %s; it keeps running)", timeout, id, status)
	}
	if err != nil {
		return err
	}
	if s.p.isJSON() {
		if err := s.p.json(w); err != nil {
			return err
		}
	}
	switch w.Status {
	case client.StatusCompleted:
		if !s.p.isJSON() {
			out := prettyJSON(w.Output)
			if out == "" {
				out = "null"
			}
			s.p.line("%s", out)
		}
		return nil
	case client.StatusCancelled:
		return fmt.Errorf("workflow %s was cancelled: %s", id, deref(w.Error))
	default:
		return fmt.Errorf("workflow %s failed: %s", id, deref(w.Error))
	}
}

// executionFields are the lines of an execution's card.
func executionFields(p *printer, w client.Execution) []field {
	fields := []field{
		{"ID", w.ID}, {"Kind", w.Kind}, {"Status", w.Status}, {"Queue", w.Queue}, {"Version", w.WorkflowVersion},
		{"Parent", deref(w.ParentID)}, {"Child name", deref(w.ChildExecutionName)},
		{"Created", p.when(w.CreatedAt)}, {"Started", p.whenPtr(w.StartedAt)}, {"Completed", p.whenPtr(w.CompletedAt)},
	}
	if w.StartedAt != nil && w.CompletedAt != nil {
		fields = append(fields, field{"Duration", w.CompletedAt.Sub(*w.StartedAt).Round(time.Millisecond).String()})
	}
	if w.CancelRequested && !client.Terminal(w.Status) {
		fields = append(fields, field{"Cancel", "requested"})
	}
	if len(w.Metadata) > 0 {
		keys := make([]string, 0, len(w.Metadata))
		for k := range w.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+"="+w.Metadata[k])
		}
		fields = append(fields, field{"Metadata", strings.Join(parts, ", ")})
	}
	return append(fields, field{"Error", deref(w.Error)})
}

// ---- list ----

func newWorkflowListCommand(g *globals) *cobra.Command {
	var (
		opts     client.ListWorkflowsOptions
		status   string
		metadata []string
	)
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List workflow executions, newest first",
		Long: `List a tenant's executions, newest first, a page at a time (--limit, then
--cursor with the nextCursor of the previous page; -o json shows it).

  flovyn workflow list --status FAILED --kind checkout --metadata customer=42`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			for s := range strings.SplitSeq(status, ",") {
				s = strings.ToUpper(strings.TrimSpace(s))
				if s == "" {
					continue
				}
				if !slices.Contains(workflowStatuses, s) {
					return usageErrorf("--status %q: must be one or more of %s", s, strings.Join(workflowStatuses, ", "))
				}
				opts.Statuses = append(opts.Statuses, s)
			}
			if opts.Limit < 1 || opts.Limit > 500 {
				return usageErrorf("--limit must be between 1 and 500")
			}
			var err error
			opts.Metadata, err = parseLabels("metadata", metadata)
			return err
		},
		RunE: g.action(true, func(s *session, _ []string) error {
			page, err := s.c.ListWorkflows(s.ctx, opts)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(page)
			}
			rows := make([][]string, 0, len(page.Items))
			for _, w := range page.Items {
				rows = append(rows, []string{w.ID, w.Kind, w.Status, w.Queue, s.p.when(w.CreatedAt), s.p.whenPtr(w.CompletedAt)})
			}
			s.p.table([]string{"ID", "KIND", "STATUS", "QUEUE", "CREATED", "ENDED"}, rows)
			if page.NextCursor != nil {
				s.p.note("More executions: add --cursor %s", *page.NextCursor)
			}
			return nil
		}),
	}
	f := c.Flags()
	f.StringVar(&status, "status", "", "statuses, comma-separated: "+strings.Join(workflowStatuses, ", "))
	f.StringVar(&opts.Kind, "kind", "", "only this workflow kind")
	f.StringVar(&opts.Queue, "queue", "", "only this queue")
	f.StringArrayVar(&metadata, "metadata", nil, "only executions labelled key=value (repeatable)")
	f.IntVar(&opts.Limit, "limit", 50, "page size, 1 to 500")
	f.StringVar(&opts.Cursor, "cursor", "", "resume after the page that returned this nextCursor")
	return c
}

// ---- inspect ----

// Inspection is what `workflow inspect -o json` prints.
type Inspection struct {
	Workflow client.Execution `json:"workflow"`
	Tasks    []client.Task    `json:"tasks"`
	Events   []client.Event   `json:"events"`
}

func newWorkflowInspectCommand(g *globals) *cobra.Command {
	var follow bool
	c := &cobra.Command{
		Use:     "inspect <id>",
		Aliases: []string{"get", "describe", "show"},
		Short:   "Show an execution: details, input and output, tasks and event history",
		Long: `Show an execution: its details, input and output (pretty JSON), its tasks and
its event history. --follow then prints new events as they happen, until the
execution ends. With -o json (and --follow) it prints one document
{workflow, tasks, events} (once the execution has ended).

` + workflowIDHelp,
		Args: workflowIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.workflowID(args[0])
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				if follow {
					if _, err := s.c.Follow(s.ctx, id, client.FollowOptions{}); err != nil {
						return err
					}
				}
				in, err := inspect(s, id)
				if err != nil {
					return err
				}
				return s.p.json(in)
			}
			in, err := inspect(s, id)
			if err != nil {
				return err
			}
			w := in.Workflow
			s.p.card(executionFields(s.p, w))
			if v := prettyJSON(w.Input); v != "" {
				s.p.heading("Input")
				s.p.block(v)
			}
			if v := prettyJSON(w.Output); v != "" {
				s.p.heading("Output")
				s.p.block(v)
			}
			if len(in.Tasks) > 0 {
				s.p.heading(fmt.Sprintf("Tasks (%d)", len(in.Tasks)))
				printTasks(s.p, in.Tasks)
			}
			s.p.heading(fmt.Sprintf("Events (%d)", len(in.Events)))
			if !follow || client.Terminal(w.Status) {
				printEvents(s.p, in.Events)
				return nil
			}
			// Followed events are printed as lines, so the history is too.
			stream := newEventStream(s.p)
			stream.print(in.Events)
			var since int32
			if n := len(in.Events); n > 0 {
				since = in.Events[n-1].Sequence
			}
			end, err := s.c.Follow(s.ctx, id, client.FollowOptions{Since: since, OnEvents: stream.print})
			if err != nil {
				return err
			}
			s.p.heading("Ended " + end.Status)
			if v := prettyJSON(end.Output); v != "" {
				s.p.block(v)
			}
			if end.Error != nil {
				s.p.block(*end.Error)
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until the execution ends")
	return c
}

func inspect(s *session, id string) (Inspection, error) {
	var in Inspection
	var err error
	if in.Workflow, err = s.c.GetWorkflow(s.ctx, id); err != nil {
		return in, err
	}
	if in.Tasks, err = s.c.WorkflowTasks(s.ctx, id); err != nil {
		return in, err
	}
	in.Events, err = s.c.WorkflowEvents(s.ctx, id, 0)
	return in, err
}

func printTasks(p *printer, tasks []client.Task) {
	rows := make([][]string, 0, len(tasks))
	for _, t := range tasks {
		attempts := strconv.Itoa(int(t.ExecutionCount))
		if t.MaxRetries > 0 {
			attempts += "/" + strconv.Itoa(int(t.MaxRetries)+1)
		}
		rows = append(rows, []string{t.ID, t.Kind, t.Status, attempts, t.Queue, p.whenPtr(t.CompletedAt), deref(t.Error)})
	}
	p.table([]string{"ID", "KIND", "STATUS", "ATTEMPTS", "QUEUE", "ENDED", "ERROR"}, rows)
}

// eventData is an event's data for a table: whole when piped, cut on a terminal.
func eventData(p *printer, e client.Event) string {
	if p.tty {
		return compactJSON(e.Data, 80)
	}
	return compactJSON(e.Data, 0)
}

var eventHeaders = []string{"SEQ", "TYPE", "TIME", "DATA"}

func printEvents(p *printer, events []client.Event) {
	rows := make([][]string, 0, len(events))
	for _, e := range events {
		rows = append(rows, []string{strconv.Itoa(int(e.Sequence)), e.EventType, eventTime(p, e.Timestamp), eventData(p, e)})
	}
	p.table(eventHeaders, rows)
}

func eventTime(p *printer, t time.Time) string {
	if p.tty {
		return t.Local().Format("15:04:05.000")
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// eventStream prints events one line each as they arrive: aligned columns
// on a terminal, tab-separated (after a header line) when piped, or one JSON
// object per line with -o json.
type eventStream struct {
	p      *printer
	header bool
}

func newEventStream(p *printer) *eventStream { return &eventStream{p: p} }

func (s *eventStream) print(events []client.Event) {
	p := s.p
	for _, e := range events {
		switch {
		case p.isJSON():
			raw, _ := json.Marshal(e)
			p.line("%s", raw)
		case p.tty:
			p.line("%5d  %-26s  %s  %s", e.Sequence, e.EventType, eventTime(p, e.Timestamp), eventData(p, e))
		default:
			if !s.header {
				p.line("%s", strings.Join(eventHeaders, "\t"))
				s.header = true
			}
			p.line("%d\t%s\t%s\t%s", e.Sequence, e.EventType, eventTime(p, e.Timestamp), eventData(p, e))
		}
	}
}

// ---- events, tasks ----

func newWorkflowEventsCommand(g *globals) *cobra.Command {
	var (
		since  int32
		follow bool
	)
	c := &cobra.Command{
		Use:     "events <id>",
		Aliases: []string{"history"},
		Short:   "Print an execution's event history",
		Long: `Print an execution's event history in sequence order. --follow keeps printing
new events until the execution ends (with -o json: one event per line).

` + workflowIDHelp,
		Args: workflowIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.workflowID(args[0])
			if err != nil {
				return err
			}
			events, err := s.c.WorkflowEvents(s.ctx, id, since)
			if err != nil {
				return err
			}
			if !follow {
				if s.p.isJSON() {
					return s.p.json(client.EventList{Events: events})
				}
				printEvents(s.p, events)
				return nil
			}
			stream := newEventStream(s.p)
			stream.print(events)
			if n := len(events); n > 0 {
				since = events[n-1].Sequence
			}
			_, err = s.c.Follow(s.ctx, id, client.FollowOptions{Since: since, OnEvents: stream.print})
			return err
		}),
	}
	c.Flags().Int32Var(&since, "since", 0, "only events after this sequence number")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until the execution ends")
	return c
}

func newWorkflowTasksCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tasks <id>",
		Short: "List an execution's tasks with their attempts",
		Long:  "List an execution's tasks with their attempts.\n\n" + workflowIDHelp,
		Args:  workflowIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.workflowID(args[0])
			if err != nil {
				return err
			}
			tasks, err := s.c.WorkflowTasks(s.ctx, id)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(client.TaskList{Tasks: tasks})
			}
			printTasks(s.p, tasks)
			return nil
		}),
	}
}

// ---- cancel, signal ----

func newWorkflowCancelCommand(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "cancel <id>",
		Short: "Cancel an execution, its tasks and its child executions",
		Long: `Cancel an execution. One that no worker holds ends CANCELLED at once; one a
worker is running ends when that worker reports (CANCELLING). Cancelling an
execution that has already ended changes nothing and is not an error.

` + workflowIDHelp,
		Args: workflowIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.workflowID(args[0])
			if err != nil {
				return err
			}
			res, err := s.c.CancelWorkflow(s.ctx, id, reason)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(res)
			}
			switch res.Status {
			case "CANCELLING":
				s.p.line("Workflow %s: CANCELLING (it ends when the worker running it reports).", res.WorkflowExecutionID)
			case "ALREADY_TERMINAL":
				s.p.line("Workflow %s had already ended (%s).", res.WorkflowExecutionID, res.WorkflowStatus)
			default:
				s.p.line("Workflow %s: %s.", res.WorkflowExecutionID, res.Status)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&reason, "reason", "", "why, recorded in the history")
	return c
}

func newWorkflowSignalCommand(g *globals) *cobra.Command {
	var (
		value, valueFile string
		raw              json.RawMessage
	)
	c := &cobra.Command{
		Use:   "signal <id> <name>",
		Short: "Send a signal to an execution",
		Long: `Send a named signal, with an optional JSON value, to a running execution.

  flovyn workflow signal <id> approve --value '{"by": "ada"}'

` + workflowIDHelp,
		Args: workflowIDArgs(2, 0),
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if value != "" && valueFile != "" {
				return usageErrorf("give the value once: --value or --value-file")
			}
			raw, err = readJSONArg(cmd, "value", value, valueFile)
			return err
		},
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.workflowID(args[0])
			if err != nil {
				return err
			}
			res, err := s.c.SignalWorkflow(s.ctx, id, args[1], raw)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(res)
			}
			s.p.line("Signal %q delivered to workflow %s (event #%d).", args[1], id, res.SignalEventSequence)
			return nil
		}),
	}
	c.Flags().StringVar(&value, "value", "", `signal value as JSON ("-": read stdin)`)
	c.Flags().StringVar(&valueFile, "value-file", "", `file holding the value as JSON ("-": stdin)`)
	return c
}

// startArgs accepts the kind and, optionally, "-" for the input on stdin.
func startArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.RangeArgs(1, 2)(cmd, args); err != nil {
		return err
	}
	if len(args) == 2 && args[1] != "-" {
		return usageErrorf("unexpected argument %q: the input goes in --input, --input-file or \"-\" (stdin)", args[1])
	}
	return nil
}

// startInput reads a start's input from --input, --input-file or "-",
// given once at most.
func startInput(cmd *cobra.Command, args []string, input, inputFile string) (json.RawMessage, error) {
	if len(args) == 2 {
		if inputFile != "" || input != "" {
			return nil, usageErrorf("give the input once: --input, --input-file or \"-\"")
		}
		inputFile = "-"
	}
	if input != "" && inputFile != "" {
		return nil, usageErrorf("give the input once: --input, --input-file or \"-\"")
	}
	return readJSONArg(cmd, "input", input, inputFile)
}
