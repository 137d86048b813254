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

// bareError is a failure whose message is printed as it is, without the
// "flovyn: " prefix, because it already reads as a sentence about flovyn
// ("flovyn dev is already running on this data dir …").
type bareError struct{ msg string }

func (e bareError) Error() string { return e.msg }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "flovyn",
		Short:         "Durable workflow orchestration: the server and its admin client",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(buildVersion()),
	}
	root.SetVersionTemplate("{{.Version}}\n")
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
		newAgentCommand(g),
		newPromiseCommand(g),
		newTUICommand(g),
		newWhoamiCommand(g),
		newVersionCommand(g),
	)
	root.InitDefaultCompletionCmd() // now, so that requireSubcommands covers it too
	requireSubcommands(root)
	return root
}

// requireSubcommands makes every command that only groups others (the root
// and the nouns: workflow, token, …) print its help when called alone, and
// refuse an unknown subcommand as a usage error with a suggestion, as cobra
// does only for the root, and there over several lines.
func requireSubcommands(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs // checked below; nil would let cobra answer for the root
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		}
	}
	for _, sub := range c.Commands() {
		requireSubcommands(sub)
	}
}

// unknownCommand is the one-line usage error for an unknown subcommand:
// `unknown command "lst" for "flovyn workflow"; did you mean list?`.
func unknownCommand(cmd *cobra.Command, arg string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", arg, cmd.CommandPath())
	if s := cmd.SuggestionsFor(arg); len(s) > 0 {
		msg += "; did you mean " + orList(s) + "?"
	} else {
		msg += fmt.Sprintf(" (see %q)", cmd.CommandPath()+" --help")
	}
	return usageError{errors.New(msg)}
}

// orList joins words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Execute runs the command line and exits with its status.
func Execute() {
	root := newRootCommand()
	if err := root.Execute(); err != nil {
		var bare bareError
		if errors.As(err, &bare) {
			fmt.Fprintln(os.Stderr, err.Error())
		} else {
			fmt.Fprintln(os.Stderr, "flovyn: "+err.Error())
		}
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
