package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/client"
	"github.com/flovyn/flovyn/embed"
	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/store"
)

// devTenantSlug is the tenant `flovyn dev` seeds and the CLI uses by default.
const devTenantSlug = "default"

type devOptions struct {
	dataDir          string
	ephemeral        bool
	httpPort         int
	grpcPort         int
	ip               string
	databaseURL      string
	postgresBinaries string
	logLevel         string
	logFormat        string
}

func newDevCommand() *cobra.Command {
	var o devOptions
	c := &cobra.Command{
		Use:     "dev",
		GroupID: "server",
		Short:   "Run a local development server: embedded PostgreSQL and NATS, a seeded tenant and credentials",
		Long: `Run everything a Flovyn SDK needs on this machine, in one process.

flovyn dev starts an embedded PostgreSQL (data kept in --data-dir, so workflows
survive a restart; --ephemeral for a throwaway one), an embedded NATS and the
server, seeds the tenant "default" with a worker token and an admin API key, and
prints them ready to paste. The credentials stay the same across restarts on
the same data. Not for production: use flovyn server.

One flovyn dev at a time uses a data dir: a second one on the same dir exits 1
and changes nothing. The CLI profile "dev" is pointed at this server (with
--ephemeral, the profile "dev-ephemeral" instead).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDev(ctx, o, cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	defaultDir, _ := embed.DefaultDataDir()
	f.StringVar(&o.dataDir, "data-dir", "", "where the database lives (default "+defaultDir+")")
	f.BoolVar(&o.ephemeral, "ephemeral", false, "keep nothing: use a temporary data dir removed at exit")
	f.IntVar(&o.httpPort, "http-port", 8000, "REST API port (0 picks a free port)")
	f.IntVar(&o.grpcPort, "grpc-port", 9090, "gRPC port for workers (0 picks a free port)")
	f.StringVar(&o.ip, "ip", "127.0.0.1", "address to listen on")
	f.StringVar(&o.databaseURL, "database-url", "", "use this PostgreSQL instead of the embedded one")
	f.StringVar(&o.postgresBinaries, "postgres-binaries", "", "directory with initdb and postgres (env FLOVYN_POSTGRES_BINARIES; default: a local install)")
	f.StringVar(&o.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	return c
}

func runDev(ctx context.Context, o devOptions, out io.Writer) error {
	started := time.Now()
	if err := checkLogFlags(o.logLevel, o.logFormat); err != nil {
		return err
	}
	log := newLogger(os.Stderr, o.logLevel, o.logFormat)
	if o.httpPort < 0 || o.httpPort > 65535 || o.grpcPort < 0 || o.grpcPort > 65535 {
		return usageErrorf("ports must be between 0 and 65535")
	}
	if net.ParseIP(o.ip) == nil && o.ip != "localhost" {
		return usageErrorf("--ip %q: not an IP address", o.ip)
	}

	dataDir := o.dataDir
	if dataDir == "" && !o.ephemeral {
		dir, err := embed.DefaultDataDir()
		if err != nil {
			return fmt.Errorf("data dir: %w (pass --data-dir)", err)
		}
		dataDir = dir
	}
	databaseURL := o.databaseURL
	var lock *devLock
	if databaseURL == "" {
		pgDir := "" // ephemeral: a temporary dir of its own, removed at stop
		if dataDir != "" {
			pgDir = filepath.Join(dataDir, "postgres")
			// Before anything touches PostgreSQL: the dir is ours alone.
			var err error
			if lock, err = lockDataDir(dataDir); err != nil {
				var running errDevRunning
				if errors.As(err, &running) {
					return bareError{running.Error()}
				}
				return err
			}
			defer lock.release() // deferred first, so it runs after PostgreSQL has stopped
			if err := lock.write(devLockInfo{PID: os.Getpid()}); err != nil {
				return fmt.Errorf("lock file: %w", err)
			}
		}
		pg, err := embed.StartPostgres(ctx, embed.PostgresOptions{
			DataDir:     pgDir,
			BinariesDir: o.postgresBinaries,
			Database:    "flovyn",
			Ephemeral:   o.ephemeral,
			Logger:      log,
		})
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		defer pg.Stop()
		databaseURL = pg.URL("flovyn")
		if dataDir == "" {
			dataDir = pg.DataDir()
		}
	}
	nats, err := embed.StartNATS(embed.NATSOptions{Logger: log})
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	defer nats.Stop()

	srv, err := server.New(server.Options{
		DatabaseURL:   databaseURL,
		HTTPAddr:      net.JoinHostPort(o.ip, strconv.Itoa(o.httpPort)),
		GRPCAddr:      net.JoinHostPort(o.ip, strconv.Itoa(o.grpcPort)),
		RunMigrations: true,
		Seed:          devSeed(),
		GRPCMethods:   auth.AllMethods,
		HTTPMethods:   auth.AllMethods,
		Metrics:       true,
		NATSURL:       nats.URL(),
		Logger:        log,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	if lock != nil {
		if err := lock.write(devLockInfo{PID: os.Getpid(), HTTPPort: addrPort(srv.HTTPAddr()), GRPCPort: addrPort(srv.GRPCAddr())}); err != nil {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), server.ShutdownGrace)
			defer cancel()
			return errors.Join(fmt.Errorf("lock file: %w", err), srv.Shutdown(shutdownCtx))
		}
	}
	seeded := srv.Seeded()
	creds := devCredentials{tenant: seeded.Tenant, workerToken: seeded.Secrets[devWorkerToken], adminKey: seeded.Secrets[devAdminKey]}
	profileNote := saveDevProfile("http://"+srv.HTTPAddr(), creds, o.ephemeral)
	printBanner(out, devBanner{
		httpAddr: srv.HTTPAddr(), grpcAddr: srv.GRPCAddr(), natsURL: nats.URL(),
		dataDir: dataDir, ephemeral: o.ephemeral, external: o.databaseURL != "",
		creds: creds, took: time.Since(started), profileNote: profileNote,
	})
	return serve(ctx, srv)
}

type devCredentials struct {
	tenant      store.Tenant
	workerToken string
	adminKey    string
}

// The names the dev credentials' secrets are derived from, with the
// instance's hashing key: the same on every start against the same database.
const (
	devWorkerToken = "dev-worker-token"
	devAdminKey    = "dev-admin-key"
)

// devSeed is the tenant "default" and its two credentials, created by the
// server at start when missing.
func devSeed() *server.Seed {
	return &server.Seed{
		Tenant: store.Tenant{Slug: devTenantSlug, Name: "Default", Tier: "FREE"},
		Credentials: []server.SeedCredential{
			{Name: devWorkerToken, Credential: auth.NewCredential{
				Kind: store.CredentialWorkerToken, DisplayName: "flovyn dev worker", PrincipalID: "worker:dev",
			}},
			{Name: devAdminKey, Credential: auth.NewCredential{
				Kind: store.CredentialAPIKey, DisplayName: "flovyn dev admin", PrincipalID: "user:dev-admin", Role: "OWNER",
				InstanceAdmin: true,
			}},
		},
	}
}

type devBanner struct {
	httpAddr, grpcAddr, natsURL, dataDir string
	ephemeral, external                  bool
	creds                                devCredentials
	took                                 time.Duration
	profileNote                          string
}

func printBanner(w io.Writer, b devBanner) {
	data := b.dataDir
	switch {
	case b.external:
		data = "external PostgreSQL (--database-url)"
	case b.ephemeral:
		data += " (ephemeral: removed at exit)"
	}
	httpURL := "http://" + b.httpAddr
	grpcURL := "http://" + b.grpcAddr
	stopNote := "Ctrl-C stops everything; the next start keeps your data and these credentials."
	if b.ephemeral && !b.external {
		stopNote = "Ctrl-C stops everything and deletes the data: nothing is kept (--ephemeral)."
	}
	fmt.Fprintf(w, `
flovyn dev is ready in %s — NOT FOR PRODUCTION (use flovyn server)

  REST API     %s   (health: %s/_/health)
  gRPC         %s   (point your SDK worker here)
  NATS         %s
  Data         %s

  Tenant       %s   (id %s)
  Worker token %s
  Admin key    %s

Paste into your shell:

  export FLOVYN_SERVER=%s
  export FLOVYN_GRPC=%s
  export FLOVYN_TENANT=%s
  export FLOVYN_ORG_ID=%s
  export FLOVYN_WORKER_TOKEN=%s
  export FLOVYN_API_KEY=%s

%s
%s
`, b.took.Round(time.Millisecond), httpURL, httpURL, grpcURL, b.natsURL, data,
		b.creds.tenant.Slug, b.creds.tenant.ID, b.creds.workerToken, b.creds.adminKey,
		httpURL, grpcURL, b.creds.tenant.Slug, b.creds.tenant.ID, b.creds.workerToken, b.creds.adminKey, b.profileNote, stopNote)
}

// The CLI profiles `flovyn dev` keeps pointing at itself: one for the
// persistent data dir, and one for --ephemeral, so a throwaway server never
// replaces the saved "dev" profile (whose server keeps its data).
const (
	devProfile          = "dev"
	devEphemeralProfile = "dev-ephemeral"
)

// saveDevProfile records this server in the CLI's "dev" profile (with
// --ephemeral: "dev-ephemeral"). It becomes the current profile when there
// is none, so the admin commands work with no flags next to `flovyn dev`; the
// persistent "dev" also takes over from "dev-ephemeral", whose server is gone
// once it stopped; any other choice of the user stays. It returns a line for
// the banner.
func saveDevProfile(server string, c devCredentials, ephemeral bool) string {
	name := devProfile
	if ephemeral {
		name = devEphemeralProfile
	}
	profiles, err := client.LoadProfiles()
	if err == nil {
		profiles.Profiles[name] = client.Profile{Server: server, Tenant: c.tenant.Slug, APIKey: c.adminKey}
		if _, ok := profiles.Profiles[profiles.Current]; !ok || (!ephemeral && profiles.Current == devEphemeralProfile) {
			profiles.Current = name
		}
		err = profiles.Save()
	}
	if err != nil {
		return "The CLI profile could not be saved (" + err.Error() + "); pass --server and --api-key.\n"
	}
	if profiles.Current != name {
		return fmt.Sprintf("Saved as CLI profile %q (use --profile %s; your current profile is %q).\n", name, name, profiles.Current)
	}
	return fmt.Sprintf("The flovyn CLI on this machine now uses this server (profile %q).\n", name)
}

// addrPort is the port of a host:port address, 0 when it has none.
func addrPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}
