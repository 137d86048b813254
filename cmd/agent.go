package cmd

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/client"
)

func newAgentCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "agent",
		Aliases: []string{"agents"},
		GroupID: "admin",
		Short:   "Start, list, inspect, signal and cancel agent executions, and read their conversations",
		Long: `Work with durable agent executions of a tenant.

  flovyn agent start researcher --input '{"topic": "tides"}'
  flovyn agent list --status WAITING
  flovyn agent inspect <id>
  flovyn agent entries <id>`,
	}
	c.AddCommand(
		newAgentStartCommand(g),
		newAgentListCommand(g),
		newAgentInspectCommand(g),
		newAgentEntriesCommand(g),
		newAgentCheckpointsCommand(g),
		newAgentTasksCommand(g),
		newAgentSignalCommand(g),
		newAgentCancelCommand(g),
	)
	return c
}

// agentIDHelp closes the help of every command that takes an agent id.
const agentIDHelp = `The id is an agent execution id, or its unique prefix (at least 4 hex digits, as the TUI shows).`

// agentIDArgs is idArgs for an agent execution id.
func agentIDArgs(n, index int) cobra.PositionalArgs { return idArgs("agent", n, index) }

// ---- start ----

func newAgentStartCommand(g *globals) *cobra.Command {
	var (
		req              client.StartAgentRequest
		input, inputFile string
		quiet            bool
	)
	c := &cobra.Command{
		Use:   "start <kind> [-]",
		Short: "Start an agent execution",
		Long: `Start an execution of an agent kind. The input is a JSON value given with
--input, read from a file with --input-file, or read from stdin with "-".
The execution is PENDING until an agent worker of its kind polls its queue.

It prints the new execution (-q: only its id; -o json: the API's document).

  flovyn agent start researcher --input '{"topic": "tides"}'
  echo '{"topic": "tides"}' | flovyn agent start researcher - -q`,
		Args: startArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if req.Input, err = startInput(cmd, args, input, inputFile); err != nil {
				return err
			}
			req.Kind = args[0]
			return nil
		},
		RunE: g.action(true, func(s *session, _ []string) error {
			a, err := s.c.StartAgent(s.ctx, req)
			if err != nil {
				return err
			}
			switch {
			case quiet:
				s.p.line("%s", a.ID)
				return nil
			case s.p.isJSON():
				return s.p.json(a)
			}
			s.p.card(agentFields(s.p, a))
			return nil
		}),
	}
	f := c.Flags()
	f.StringVar(&input, "input", "", `input as JSON ("-": read stdin)`)
	f.StringVar(&inputFile, "input-file", "", `file holding the input as JSON ("-": stdin)`)
	f.StringVar(&req.Queue, "queue", "", `queue to run on (default "default")`)
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the execution id")
	return c
}

// agentFields are the lines of an agent execution's card.
func agentFields(p *printer, a client.AgentExecution) []field {
	checkpoint := "none"
	if a.CurrentCheckpointSeq >= 0 {
		checkpoint = "#" + strconv.Itoa(int(a.CurrentCheckpointSeq))
	}
	fields := []field{
		{"ID", a.ID}, {"Kind", a.Kind}, {"Status", a.Status}, {"Queue", a.Queue},
		{"Parent", deref(a.ParentExecutionID)}, {"Checkpoint", checkpoint},
	}
	if a.WaitingFor != nil {
		wait := *a.WaitingFor
		if r := deref(a.WaitReason); r != "" {
			wait += " (" + r + ")"
		}
		fields = append(fields, field{"Waiting for", wait})
	}
	fields = append(fields,
		field{"Created", p.when(a.CreatedAt)}, field{"Started", p.whenPtr(a.StartedAt)}, field{"Completed", p.whenPtr(a.CompletedAt)},
	)
	if a.StartedAt != nil && a.CompletedAt != nil {
		fields = append(fields, field{"Duration", a.CompletedAt.Sub(*a.StartedAt).Round(time.Millisecond).String()})
	}
	errText := deref(a.Error)
	if ft := deref(a.FailureType); ft != "" && errText != "" {
		errText = ft + ": " + errText
	}
	return append(fields, field{"Error", errText})
}

// ---- list ----

func newAgentListCommand(g *globals) *cobra.Command {
	var (
		opts   client.ListAgentsOptions
		status string
	)
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List agent executions, newest first",
		Long: `List a tenant's agent executions, newest first, at most --limit of them.

  flovyn agent list --status RUNNING,WAITING --kind researcher`,
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
			return nil
		},
		RunE: g.action(true, func(s *session, _ []string) error {
			list, err := s.c.ListAgents(s.ctx, opts)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(list)
			}
			rows := make([][]string, 0, len(list.Items))
			for _, a := range list.Items {
				rows = append(rows, []string{a.ID, a.Kind, a.Status, a.Queue, s.p.when(a.CreatedAt), s.p.whenPtr(a.CompletedAt)})
			}
			s.p.table([]string{"ID", "KIND", "STATUS", "QUEUE", "CREATED", "ENDED"}, rows)
			return nil
		}),
	}
	f := c.Flags()
	f.StringVar(&status, "status", "", "statuses, comma-separated: "+strings.Join(workflowStatuses, ", "))
	f.StringVar(&opts.Kind, "kind", "", "only this agent kind")
	f.IntVar(&opts.Limit, "limit", 50, "how many, 1 to 500")
	return c
}

// ---- inspect ----

// AgentInspection is what `agent inspect -o json` prints.
type AgentInspection struct {
	Agent       client.AgentExecution    `json:"agent"`
	Checkpoints []client.AgentCheckpoint `json:"checkpoints"`
	Tasks       []client.AgentTask       `json:"tasks"`
}

func newAgentInspectCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "inspect <id>",
		Aliases: []string{"get", "describe", "show"},
		Short:   "Show an agent execution: details, input and output, checkpoints and tasks",
		Long: `Show an agent execution: its details, input, output and metadata (pretty
JSON), its checkpoints and the tasks it scheduled. With -o json it prints one
document {agent, checkpoints, tasks}.

` + agentIDHelp,
		Args: agentIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.agentID(args[0])
			if err != nil {
				return err
			}
			var in AgentInspection
			if in.Agent, err = s.c.GetAgent(s.ctx, id); err != nil {
				return err
			}
			if in.Checkpoints, err = s.c.AgentCheckpoints(s.ctx, id); err != nil {
				return err
			}
			if in.Tasks, err = s.c.AgentTasks(s.ctx, id); err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(in)
			}
			a := in.Agent
			s.p.card(agentFields(s.p, a))
			for _, b := range []struct {
				title string
				raw   json.RawMessage
			}{{"Input", a.Input}, {"Output", a.Output}, {"Metadata", a.Metadata}} {
				if v := prettyJSON(b.raw); v != "" {
					s.p.heading(b.title)
					s.p.block(v)
				}
			}
			s.p.heading(fmt.Sprintf("Checkpoints (%d)", len(in.Checkpoints)))
			if len(in.Checkpoints) > 0 {
				printAgentCheckpoints(s.p, in.Checkpoints)
			}
			s.p.heading(fmt.Sprintf("Tasks (%d)", len(in.Tasks)))
			if len(in.Tasks) > 0 {
				printAgentTasks(s.p, in.Tasks)
			}
			return nil
		}),
	}
}

func printAgentCheckpoints(p *printer, checkpoints []client.AgentCheckpoint) {
	rows := make([][]string, 0, len(checkpoints))
	for _, c := range checkpoints {
		rows = append(rows, []string{strconv.Itoa(int(c.Sequence)), c.ID, deref(c.LeafEntryID), p.when(c.CreatedAt)})
	}
	p.table([]string{"SEQ", "ID", "LEAF ENTRY", "CREATED"}, rows)
}

func printAgentTasks(p *printer, tasks []client.AgentTask) {
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

// ---- entries, checkpoints, tasks ----

func newAgentEntriesCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "entries <id>",
		Aliases: []string{"conversation"},
		Short:   "Print an agent execution's conversation",
		Long: `Print an agent execution's conversation: its entries in the order they were
appended, each with its role, type, turn and content. On a terminal a long
content is cut to one line; piped, each entry is one whole line; -o json
prints the API's document {entries} with every content in full.

` + agentIDHelp,
		Args: agentIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.agentID(args[0])
			if err != nil {
				return err
			}
			entries, err := s.c.AgentEntries(s.ctx, id)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(client.AgentEntryList{Entries: entries})
			}
			rows := make([][]string, 0, len(entries))
			for _, e := range entries {
				rows = append(rows, []string{e.ID, deref(e.Role), e.EntryType, deref(e.TurnID), s.p.when(e.CreatedAt), entryContent(s.p, e)})
			}
			s.p.table([]string{"ID", "ROLE", "TYPE", "TURN", "CREATED", "CONTENT"}, rows)
			return nil
		}),
	}
}

// entryContent is an entry's content for a table: its text (see
// client.AgentEntry.Text), else compact JSON; whole when piped, cut on a
// terminal.
func entryContent(p *printer, e client.AgentEntry) string {
	text, ok := e.Text()
	if !ok {
		text = compactJSON(e.Content, 0)
	}
	text = plainCell(text)
	if r := []rune(text); p.tty && len(r) > 80 {
		text = string(r[:79]) + "…"
	}
	return text
}

func newAgentCheckpointsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoints <id>",
		Short: "List an agent execution's checkpoints",
		Long: `List an agent execution's checkpoints in sequence order, each with the
conversation entry it was taken at (its leaf entry). The state itself is the
worker's and is not shown. -o json prints the API's document {checkpoints}.

` + agentIDHelp,
		Args: agentIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.agentID(args[0])
			if err != nil {
				return err
			}
			checkpoints, err := s.c.AgentCheckpoints(s.ctx, id)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(client.AgentCheckpointList{Checkpoints: checkpoints})
			}
			printAgentCheckpoints(s.p, checkpoints)
			return nil
		}),
	}
}

func newAgentTasksCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tasks <id>",
		Short: "List the tasks an agent execution scheduled",
		Long: `List the tasks an agent execution scheduled, in order, with their status and
attempts. -o json prints the API's document {tasks}.

` + agentIDHelp,
		Args: agentIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.agentID(args[0])
			if err != nil {
				return err
			}
			tasks, err := s.c.AgentTasks(s.ctx, id)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(client.AgentTaskList{Tasks: tasks})
			}
			printAgentTasks(s.p, tasks)
			return nil
		}),
	}
}

// ---- signal, cancel ----

func newAgentSignalCommand(g *globals) *cobra.Command {
	var (
		value, valueFile string
		raw              json.RawMessage
	)
	c := &cobra.Command{
		Use:   "signal <id> <name>",
		Short: "Send a signal to an agent execution",
		Long: `Send a named signal, with an optional JSON value, to an agent execution. The
signal is kept until the agent consumes it; an execution that waited for a
signal of that name is PENDING again ("resumed"). One that has ended exits 1.

  flovyn agent signal <id> approve --value '{"by": "ada"}'

` + agentIDHelp,
		Args: agentIDArgs(2, 0),
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if value != "" && valueFile != "" {
				return usageErrorf("give the value once: --value or --value-file")
			}
			raw, err = readJSONArg(cmd, "value", value, valueFile)
			return err
		},
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.agentID(args[0])
			if err != nil {
				return err
			}
			res, err := s.c.SignalAgent(s.ctx, id, args[1], raw)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(res)
			}
			if res.AgentResumed {
				s.p.line("Signal %q delivered to agent %s; it resumed (PENDING).", args[1], id)
			} else {
				s.p.line("Signal %q delivered to agent %s; it is kept until the agent consumes it.", args[1], id)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&value, "value", "", `signal value as JSON ("-": read stdin)`)
	c.Flags().StringVar(&valueFile, "value-file", "", `file holding the value as JSON ("-": stdin)`)
	return c
}

func newAgentCancelCommand(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "cancel <id>",
		Short: "Cancel an agent execution and its tasks",
		Long: `Cancel an agent execution: it ends CANCELLED at once, and so do its tasks that
have not ended. Cancelling one that has already ended changes nothing and is
not an error.

` + agentIDHelp,
		Args: agentIDArgs(1, 0),
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.agentID(args[0])
			if err != nil {
				return err
			}
			res, err := s.c.CancelAgent(s.ctx, id, reason)
			if err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(res)
			}
			if res.Status == "ALREADY_TERMINAL" {
				s.p.line("Agent %s had already ended (%s).", res.AgentExecutionID, res.AgentStatus)
			} else {
				s.p.line("Agent %s: %s.", res.AgentExecutionID, res.Status)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&reason, "reason", "", "why (default \"cancelled through the API\")")
	return c
}
