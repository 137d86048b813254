// Package server assembles flovyn's server from its parts: the store, the
// authenticator, the gRPC and HTTP listeners and the background services.
//
// The lifecycle is nats-server's, in three boring steps. New checks the
// options and builds what needs nothing outside the process: it opens no
// connection, socket or goroutine. Start connects to the database, migrates,
// seeds, listens, starts the services and returns once the server answers.
// Shutdown stops accepting, releases the held polls, drains the calls in
// flight up to its context's deadline, stops the services, waits for every
// goroutine the server started and only then closes the database pool. It
// may be called any number of times, concurrently, and on a server that
// never started.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	"github.com/flovyn/flovyn/internal/service"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/grpcapi"
	"github.com/flovyn/flovyn/server/httpapi"
	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// Options is everything the server needs; New checks it.
type Options struct {
	DatabaseURL   string
	HTTPAddr      string // host:port; port 0 picks a free one
	GRPCAddr      string
	RunMigrations bool
	// Tenants are created or updated at start (the config file's [[orgs]]).
	Tenants []store.Tenant
	// Seed is a tenant and credentials created at start when missing and
	// left as they are when present (what `flovyn dev` needs).
	Seed         *Seed
	StaticKeys   []auth.StaticKey
	AuthDisabled bool
	GRPCMethods  auth.Methods
	HTTPMethods  auth.Methods
	// HTTPExcludePaths are the HTTP paths served without credentials; nil
	// means httpapi.DefaultExcludePaths.
	HTTPExcludePaths []string
	// Authorizer replaces the Cedar policies for the REST API (tests).
	Authorizer auth.Authorizer
	// JWT configures the jwt authenticator; nil refuses JWTs.
	JWT *auth.JWTConfig
	// PolicyFile replaces the embedded Cedar policies when set. A file that
	// cannot be read or parsed stops New with an error.
	PolicyFile string
	// CredentialSecret keys the hash of stored credentials. Empty: a random
	// key is generated once and kept in the database, shared by replicas.
	CredentialSecret string
	Engine           engine.Config
	Metrics          bool // serve /metrics
	// NATSURL, when set, links this replica's wake-ups to the others'.
	NATSURL string
	Logger  *slog.Logger
}

// ShutdownGrace is how long `flovyn server` and `flovyn dev` let the calls
// in flight finish when they are told to stop.
const ShutdownGrace = 10 * time.Second

// lastUsedFlushInterval is how often credential last-used times are written.
const lastUsedFlushInterval = 30 * time.Second

// finalFlushTimeout bounds the last write of last-used times at shutdown.
const finalFlushTimeout = 2 * time.Second

// ErrClosed is Start's answer on a server that was shut down or whose
// Start failed: a server starts once.
var ErrClosed = errors.New("server: closed (a server starts at most once)")

// errShutdown is the cause of stopping when Shutdown stopped the server
// rather than a listener failing.
var errShutdown = errors.New("server: shut down")

type state int

const (
	stateNew state = iota
	stateRunning
	stateClosed
)

// Server is a flovyn server.
type Server struct {
	opts  Options
	log   *slog.Logger
	authz auth.Authorizer
	jwt   *auth.JWTVerifier

	// mu orders Start and Shutdown: a Shutdown waits for a Start under way.
	mu    sync.Mutex
	state state

	// Built by Start.
	store  *store.Store
	auth   *auth.Authenticator
	engine *engine.Engine
	nats   *notify.Bridge
	grpc   *grpc.Server
	http   *http.Server
	grpcLn net.Listener
	httpLn net.Listener
	seeded Seeded

	// stopping ends when the server stops serving: Shutdown began (cause
	// errShutdown) or a listener failed (cause: its error). The held polls
	// and streams end with it.
	stopping    context.Context
	stopServing context.CancelCauseFunc
	stopLoops   context.CancelFunc
	flusher     *service.Service
	serving     sync.WaitGroup // the gRPC and HTTP Serve loops
	loops       sync.WaitGroup // the background services

	shutdownOnce sync.Once
	shutdownDone chan struct{} // closed when the first Shutdown returns
	shutdownErr  error
}

// New checks o and builds a server that Start will run. It has no side
// effects: nothing is connected, bound or started, so a server that is never
// started needs no Shutdown (which is harmless all the same).
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	// Policies first: a bad policy file stops the server before it touches
	// the database.
	authz, err := auth.NewCedarAuthorizer(o.PolicyFile, o.Logger)
	if err != nil {
		return nil, fmt.Errorf("authorization: %w", err)
	}
	s := &Server{opts: o, log: o.Logger, authz: authz, shutdownDone: make(chan struct{})}
	s.stopping, s.stopServing = context.WithCancelCause(context.Background())
	if o.JWT != nil {
		if s.jwt, err = auth.NewJWTVerifier(*o.JWT, storeTenants{s}, s.log); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (o *Options) validate() error {
	if o.DatabaseURL == "" {
		return errors.New("database URL: required")
	}
	if _, err := pgxpool.ParseConfig(o.DatabaseURL); err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	for _, a := range []struct{ name, addr string }{{"HTTP address", o.HTTPAddr}, {"gRPC address", o.GRPCAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%s %q: %w", a.name, a.addr, err)
		}
	}
	if o.Seed != nil {
		return o.Seed.validate()
	}
	return nil
}

// storeTenants looks tenants up for the JWT verifier New builds, in the
// store Start opens (no token is verified before then).
type storeTenants struct{ s *Server }

func (t storeTenants) TenantByID(ctx context.Context, id uuid.UUID) (store.Tenant, error) {
	return t.s.store.TenantByID(ctx, id)
}

func (t storeTenants) TenantBySlug(ctx context.Context, slug string) (store.Tenant, error) {
	return t.s.store.TenantBySlug(ctx, slug)
}

// Start connects to the database, applies the migrations, seeds the
// configured tenants and credentials, binds both listeners and starts the
// services; it returns once the server answers. ctx bounds the start only.
// When Start fails it leaves nothing behind, and the server cannot be
// started again.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return errors.New("server: already started")
	case stateClosed:
		return ErrClosed
	}
	s.state = stateClosed // unless it starts
	if err := s.start(ctx); err != nil {
		s.release()
		return err
	}
	s.state = stateRunning
	s.log.Info("flovyn server listening", "http", s.HTTPAddr(), "grpc", s.GRPCAddr())
	return nil
}

func (s *Server) start(ctx context.Context) error {
	o := s.opts
	var err error
	if s.store, err = store.Open(ctx, o.DatabaseURL); err != nil {
		return err
	}
	if o.RunMigrations {
		if err := s.store.Migrate(ctx, nil); err != nil {
			return err
		}
	}
	for _, t := range o.Tenants {
		if err := s.store.EnsureTenant(ctx, t); err != nil {
			return fmt.Errorf("seed tenant %q: %w", t.Slug, err)
		}
	}
	secret := o.CredentialSecret
	if secret == "" {
		if secret, err = s.store.Setting(ctx, "credential_hash_key", randomHex); err != nil {
			return fmt.Errorf("load the credential hashing key: %w", err)
		}
	}
	if o.AuthDisabled {
		s.log.Warn("authentication is DISABLED: every caller may act on every tenant; never do this outside a sandbox")
	}
	s.auth = auth.New(auth.Options{Store: s.store, Hasher: auth.NewHasher([]byte(secret)), Static: o.StaticKeys, Disabled: o.AuthDisabled, JWT: s.jwt})
	if o.Seed != nil {
		if s.seeded, err = s.seed(ctx, *o.Seed); err != nil {
			return err
		}
	}
	hub := notify.NewHub()
	if o.NATSURL != "" {
		if s.nats, err = notify.Connect(o.NATSURL, hub, s.log); err != nil {
			return err
		}
	}
	if s.grpcLn, err = net.Listen("tcp", o.GRPCAddr); err != nil {
		return fmt.Errorf("gRPC listener: %w", err)
	}
	if s.httpLn, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}

	// Nothing fails from here on.
	s.engine = engine.New(s.store, hub, o.Engine, s.log)
	s.grpc = grpcapi.NewServer(grpcapi.Options{Auth: s.auth, Methods: o.GRPCMethods, Authorizer: s.authz, Engine: s.engine, Logger: s.log,
		MaxMessageBytes: limits.MessageBytes(o.Engine.MaxPayloadBytes, o.Engine.MaxHistoryBytes), Stopping: s.stopping})
	restAuthz := o.Authorizer
	if restAuthz == nil {
		restAuthz = s.authz
	}
	s.http = httpapi.NewServer(httpapi.New(httpapi.Options{
		Engine: s.engine, Auth: s.auth, Methods: o.HTTPMethods, Authorizer: restAuthz,
		ExcludePaths: o.HTTPExcludePaths, Metrics: o.Metrics, Logger: s.log, MaxPayloadBytes: o.Engine.MaxPayloadBytes,
	}), httpapi.ServerOptions{}) // timeouts: httpapi.ReadHeaderTimeout, ReadTimeout, IdleTimeout; no WriteTimeout

	loopsCtx, stopLoops := context.WithCancel(context.Background())
	s.stopLoops = stopLoops
	s.flusher = s.auth.LastUsedFlusher(lastUsedFlushInterval, s.log)
	if err := s.flusher.Start(loopsCtx); err != nil {
		return err
	}
	s.loops.Go(func() { s.engine.Run(loopsCtx) })
	s.serving.Go(func() {
		if err := s.grpc.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.stopServing(fmt.Errorf("gRPC listener: %w", err))
		}
	})
	s.serving.Go(func() {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			s.stopServing(fmt.Errorf("HTTP listener: %w", err))
		}
	})
	return nil
}

func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Done is closed when the server stops serving: Shutdown began, or a
// listener failed, which the next Shutdown reports. A process serves until
// its signal or Done, then calls Shutdown.
func (s *Server) Done() <-chan struct{} { return s.stopping.Done() }

// Shutdown stops the server and waits until it has stopped: it stops
// accepting, releases the held polls and streams, lets the calls in flight
// finish until ctx ends (then cuts them), stops the background services (the
// last-used times of credentials are flushed once more), waits for every
// goroutine the server started (the reclaim after a closed connection and
// the delayed wake-ups included) and closes the NATS link and the database
// pool.
//
// It returns the error of a listener that failed, and an error wrapping
// ctx's when calls had to be cut. Every call after the first waits for the
// first to finish (or for its own ctx) and returns the same.
func (s *Server) Shutdown(ctx context.Context) error {
	first := false
	s.shutdownOnce.Do(func() { first = true })
	if !first {
		select {
		case <-s.shutdownDone:
			return s.shutdownErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(s.shutdownDone)
	s.mu.Lock()
	defer s.mu.Unlock()
	running := s.state == stateRunning
	s.state = stateClosed
	s.stopServing(errShutdown)
	if running {
		s.shutdownErr = s.shutdown(ctx)
	}
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	began := time.Now()
	s.log.Info("shutting down: refusing new calls, draining those in flight")
	cut := s.drain(ctx)
	s.serving.Wait()
	s.stopLoops()
	s.loops.Wait()
	s.flusher.Stop()
	flushCtx, cancel := context.WithTimeout(context.Background(), finalFlushTimeout)
	if err := s.auth.FlushLastUsed(flushCtx); err != nil {
		s.log.Warn("could not record credential last-used times", "err", err)
	}
	cancel()
	s.engine.Close() // the reclaims after closed connections, the delayed wake-ups
	s.release()
	s.log.Info("shut down", "took", time.Since(began).Round(time.Millisecond))
	failed := context.Cause(s.stopping)
	if errors.Is(failed, errShutdown) {
		failed = nil
	}
	return errors.Join(failed, cut)
}

// drain stops both listeners and waits for the calls in flight; those still
// running when ctx ends are cut, and the error says so.
func (s *Server) drain(ctx context.Context) error {
	var httpCut, grpcCut bool
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.http.Shutdown(ctx); err != nil {
			httpCut = true
			s.http.Close()
		}
	})
	wg.Go(func() {
		stopped := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			grpcCut = true
			s.grpc.Stop()
			<-stopped
		}
	})
	wg.Wait()
	if !httpCut && !grpcCut {
		return nil
	}
	s.log.Warn("calls still running at the shutdown deadline were cut", "http", httpCut, "grpc", grpcCut)
	return fmt.Errorf("shutdown: calls still in flight were cut: %w", context.Cause(ctx))
}

// release closes what start opened, in reverse: the listeners (when they
// are not served), the NATS link and the pool.
func (s *Server) release() {
	for _, ln := range []net.Listener{s.httpLn, s.grpcLn} {
		if ln != nil {
			ln.Close() // already closed when served
		}
	}
	if s.nats != nil {
		s.nats.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

// Store returns the server's store; nil before Start.
func (s *Server) Store() *store.Store { return s.store }

// Engine returns the server's engine; nil before Start.
func (s *Server) Engine() *engine.Engine { return s.engine }

// Auth returns the server's authenticator; nil before Start.
func (s *Server) Auth() *auth.Authenticator { return s.auth }

// Authorizer returns the server's authorizer: the Cedar policies, embedded
// or from the policy file. It allows everything to the principals of a
// server whose authentication is disabled.
func (s *Server) Authorizer() auth.Authorizer { return s.authz }

// HTTPAddr is the address the HTTP listener is bound to; "" before Start.
func (s *Server) HTTPAddr() string { return addr(s.httpLn) }

// GRPCAddr is the address the gRPC listener is bound to; "" before Start.
func (s *Server) GRPCAddr() string { return addr(s.grpcLn) }

func addr(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}
