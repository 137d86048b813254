package cmd

import (
	"encoding/json"

	"github.com/spf13/cobra"
)

// PromiseOutcome is what `promise resolve|reject -o json` prints (the API
// answers 204 with no body).
type PromiseOutcome struct {
	PromiseID string `json:"promiseId"`
	Status    string `json:"status"` // RESOLVED or REJECTED
}

const promiseIDHelp = `The id is the promiseId recorded in the execution's PROMISE_CREATED event
(see "flovyn workflow events"), or <workflow execution id>:<promise name>,
where the workflow id may be the start of one that no other execution
shares (at least 4 hex digits; the TUI shows 8). A promise settles once:
settling it again is refused ("promise … is already resolved", exit 1).`

func newPromiseCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "promise",
		Aliases: []string{"promises"},
		GroupID: "admin",
		Short:   "Resolve or reject a durable promise from outside",
		Long: `Settle a durable promise a workflow is waiting on, which wakes the workflow.

` + promiseIDHelp + `

  flovyn promise resolve <workflow id>:approval --value '{"approved": true}'`,
	}
	c.AddCommand(newPromiseResolveCommand(g), newPromiseRejectCommand(g))
	return c
}

func newPromiseResolveCommand(g *globals) *cobra.Command {
	var (
		value, valueFile string
		raw              json.RawMessage
	)
	c := &cobra.Command{
		Use:   "resolve <id>",
		Short: "Resolve a promise with an optional JSON value",
		Long:  "Resolve a promise with an optional JSON value (default null).\n\n" + promiseIDHelp,
		Args:  promiseIDArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if value != "" && valueFile != "" {
				return usageErrorf("give the value once: --value or --value-file")
			}
			raw, err = readJSONArg(cmd, "value", value, valueFile)
			return err
		},
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.promiseID(args[0])
			if err != nil {
				return err
			}
			if err := s.c.ResolvePromise(s.ctx, id, raw); err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(PromiseOutcome{PromiseID: id, Status: "RESOLVED"})
			}
			s.p.line("Promise %s resolved.", id)
			return nil
		}),
	}
	c.Flags().StringVar(&value, "value", "", `value as JSON ("-": read stdin)`)
	c.Flags().StringVar(&valueFile, "value-file", "", `file holding the value as JSON ("-": stdin)`)
	return c
}

func newPromiseRejectCommand(g *globals) *cobra.Command {
	var message string
	c := &cobra.Command{
		Use:   "reject <id> --error TEXT",
		Short: "Reject a promise with an error message",
		Long:  "Reject a promise; the workflow waiting on it sees the error.\n\n" + promiseIDHelp,
		Args:  promiseIDArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if message == "" {
				return usageErrorf("--error is required: the message the workflow sees")
			}
			return nil
		},
		RunE: g.action(true, func(s *session, args []string) error {
			id, err := s.promiseID(args[0])
			if err != nil {
				return err
			}
			if err := s.c.RejectPromise(s.ctx, id, message); err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(PromiseOutcome{PromiseID: id, Status: "REJECTED"})
			}
			s.p.line("Promise %s rejected.", id)
			return nil
		}),
	}
	c.Flags().StringVar(&message, "error", "", "error message the workflow sees (required)")
	return c
}
