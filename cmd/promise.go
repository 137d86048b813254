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
(see "flovyn workflow events"), or <workflow execution id>:<promise name>.
Settling a promise again changes nothing: the first outcome stands.`

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
		Args:  cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if value != "" && valueFile != "" {
				return usageErrorf("give the value once: --value or --value-file")
			}
			raw, err = readJSONArg(cmd, "value", value, valueFile)
			return err
		},
		RunE: g.action(true, func(s *session, args []string) error {
			if err := s.c.ResolvePromise(s.ctx, args[0], raw); err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(PromiseOutcome{PromiseID: args[0], Status: "RESOLVED"})
			}
			s.p.line("Promise %s resolved.", args[0])
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
		Args:  cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			if message == "" {
				return usageErrorf("--error is required: the message the workflow sees")
			}
			return nil
		},
		RunE: g.action(true, func(s *session, args []string) error {
			if err := s.c.RejectPromise(s.ctx, args[0], message); err != nil {
				return err
			}
			if s.p.isJSON() {
				return s.p.json(PromiseOutcome{PromiseID: args[0], Status: "REJECTED"})
			}
			s.p.line("Promise %s rejected.", args[0])
			return nil
		}),
	}
	c.Flags().StringVar(&message, "error", "", "error message the workflow sees (required)")
	return c
}
