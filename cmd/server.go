package cmd

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/config"
)

func newServerCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "server",
		GroupID: "server",
		Short:   "Run the flovyn server: REST API and gRPC worker protocol on PostgreSQL",
		Long: `Run the flovyn server for production.

Configuration is layered: defaults, then the TOML file (--config or CONFIG_FILE),
then environment variables (DATABASE_URL, SERVER_PORT, GRPC_SERVER_PORT, ...),
then flags. See the README for every key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if err := cfg.Ready(); err != nil {
				return usageError{err}
			}
			log := newLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
			for _, key := range cfg.Ignored {
				log.Warn("configuration key is not used by flovyn", "key", key)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts, err := server.OptionsFromConfig(cfg, log)
			if err != nil {
				return usageError{err}
			}
			srv, err := server.New(opts)
			if err != nil {
				return err
			}
			if err := srv.Start(ctx); err != nil {
				return err
			}
			return serve(ctx, srv)
		},
	}
	config.RegisterFlags(c.Flags())
	return c
}

// serve answers until ctx ends (SIGINT, SIGTERM) or the server fails, then
// shuts it down, giving the calls in flight server.ShutdownGrace to finish.
// A stop asked for exits 0 even when calls had to be cut at the deadline (the
// server logs it); a failed listener is an error.
func serve(ctx context.Context, srv *server.Server) error {
	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	asked := ctx.Err() != nil
	shutdownCtx, cancel := context.WithTimeout(context.Background(), server.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if asked && errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// loadConfig loads and validates the configuration; its errors are usage errors.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	cfg, err := config.Load("", os.LookupEnv, cmd.Flags())
	var ce *config.Error
	if errors.As(err, &ce) {
		// A bad log level or format given as a flag is named by the flag.
		if flag := map[string]string{"log.level": "log-level", "log.format": "log-format"}[ce.Key]; flag != "" && cmd.Flags().Changed(flag) {
			if ferr := checkLogFlags(cmd.Flag("log-level").Value.String(), cmd.Flag("log-format").Value.String()); ferr != nil {
				return nil, ferr
			}
		}
		return nil, usageError{err}
	}
	return cfg, err
}
