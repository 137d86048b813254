package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/migrations"
	"github.com/flovyn/flovyn/server/store"
)

func newMigrateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "migrate",
		GroupID: "server",
		Short:   "Apply or show database migrations (the server also applies them at start)",
	}
	c.PersistentFlags().String("config", "", "TOML configuration file (env CONFIG_FILE)")
	c.PersistentFlags().String("database-url", "", "PostgreSQL URL (env DATABASE_URL)")

	open := func(cmd *cobra.Command) (*store.Store, error) {
		cfg, err := loadConfig(cmd)
		if err != nil {
			return nil, err
		}
		if err := cfg.Ready(); err != nil {
			return nil, usageError{err}
		}
		return store.Open(cmd.Context(), cfg.DatabaseURL)
	}
	c.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(cmd.Context(), cmd.OutOrStdout()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "database is up to date")
			return nil
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			db := st.SQLDB()
			defer db.Close()
			p, err := migrations.Provider(db)
			if err != nil {
				return err
			}
			statuses, err := p.Status(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VERSION\tNAME\tSTATE\tAPPLIED AT")
			for _, s := range statuses {
				applied := ""
				if !s.AppliedAt.IsZero() {
					applied = s.AppliedAt.Local().Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.Source.Version, s.Source.Path, s.State, applied)
			}
			return w.Flush()
		},
	})
	return c
}
