// Package cmd holds flovyn's command line: one file per noun.
package cmd

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes: 1 for a failure, 2 for a usage or configuration error.
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error as the caller's mistake (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "flovyn",
		Short:         "Durable workflow orchestration: the server and its admin client",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	g := &globals{}
	g.register(root.PersistentFlags())
	root.AddGroup(
		&cobra.Group{ID: "server", Title: "Run flovyn:"},
		&cobra.Group{ID: "admin", Title: "Admin:"},
	)
	root.AddCommand(
		newServerCommand(),
		newDevCommand(),
		newMigrateCommand(),
		newTenantCommand(g),
		newTokenCommand(g),
		newWorkflowCommand(g),
		newPromiseCommand(g),
		newTUICommand(g),
		newVersionCommand(),
	)
	return root
}

// Execute runs the command line and exits with its status.
func Execute() {
	root := newRootCommand()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "flovyn: "+err.Error())
		var ue usageError
		if errors.As(err, &ue) || isCobraUsageError(err) {
			os.Exit(exitUsage)
		}
		os.Exit(exitFailure)
	}
}

// isCobraUsageError recognises the argument errors cobra returns itself.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument", "required flag", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
