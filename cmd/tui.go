package cmd

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/tui"
)

func newTUICommand(g *globals) *cobra.Command {
	var interval time.Duration
	c := &cobra.Command{
		Use:     "tui",
		Aliases: []string{"ui"},
		GroupID: "admin",
		Short:   "Watch and steer workflow and agent executions live in the terminal",
		Long: `Open a terminal UI on the tenant's workflow executions: a live list (newest
first; filter, search, sort), and for each execution its input and output,
event history, tasks and a timeline. From there you can start, cancel and
signal executions and resolve or reject their promises, each after a
confirmation. "a" switches to the agent executions: a live list, and for each
agent its conversation, checkpoints, tasks and a timeline; start, cancel and
signal agents the same way. Press ? for the keys, q to quit.

It connects like every admin command (--server, --api-key, --tenant, or
FLOVYN_* variables, or the current profile), so next to "flovyn dev" it
needs no flags:

  flovyn tui`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if interval < 100*time.Millisecond || interval > time.Second {
				return usageErrorf("--refresh %s: must be between 100ms and 1s", interval)
			}
			if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
				return usageErrorf("flovyn tui needs a terminal; for scripts use \"flovyn workflow list\"")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, st, err := g.connect(cmd, true)
			if err != nil {
				return err
			}
			return tui.Run(cmd.Context(), c, tui.Options{Server: st.server, Tenant: st.tenant, Interval: interval})
		},
	}
	c.Flags().DurationVar(&interval, "refresh", time.Second, "how often the screen is refreshed from the server (100ms–1s)")
	return c
}
