// Package server assembles flovyn's server from its parts: the store, the
// authenticator, the gRPC and HTTP listeners and the background loops, and
// shuts them down in order.
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

	"google.golang.org/grpc"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/grpcapi"
	"github.com/flovyn/flovyn/server/httpapi"
	"github.com/flovyn/flovyn/server/limits"
	"github.com/flovyn/flovyn/server/notify"
	"github.com/flovyn/flovyn/server/store"
)

// Options is everything the server needs, already validated.
type Options struct {
	DatabaseURL   string
	HTTPAddr      string // host:port; port 0 picks a free one
	GRPCAddr      string
	RunMigrations bool
	// Tenants are created or updated at start (the config file's [[orgs]]).
	Tenants      []store.Tenant
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

// Server is a running flovyn server.
type Server struct {
	log    *slog.Logger
	store  *store.Store
	auth   *auth.Authenticator
	authz  auth.Authorizer
	engine *engine.Engine
	nats   *notify.Bridge
	grpc   *grpc.Server
	http   *http.Server
	grpcLn net.Listener
	httpLn net.Listener
}

// New connects to the database, applies migrations, seeds the configured
// tenants and opens both listeners. Call Serve to start answering.
func New(ctx context.Context, o Options) (*Server, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Policies first: a bad policy file stops the server before it touches
	// the database.
	authz, err := auth.NewCedarAuthorizer(o.PolicyFile, log)
	if err != nil {
		return nil, fmt.Errorf("authorization: %w", err)
	}
	st, err := store.Open(ctx, o.DatabaseURL)
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, store: st, authz: authz}
	if err := s.prepare(ctx, o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) prepare(ctx context.Context, o Options) error {
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
		var err error
		if secret, err = s.store.Setting(ctx, "credential_hash_key", randomHex); err != nil {
			return fmt.Errorf("load the credential hashing key: %w", err)
		}
	}
	if o.AuthDisabled {
		s.log.Warn("authentication is DISABLED: every caller may act on every tenant; never do this outside a sandbox")
	}
	var jwtVerifier *auth.JWTVerifier
	if o.JWT != nil {
		var err error
		if jwtVerifier, err = auth.NewJWTVerifier(*o.JWT, s.store, s.log); err != nil {
			return err
		}
	}
	s.auth = auth.New(auth.Options{Store: s.store, Hasher: auth.NewHasher([]byte(secret)), Static: o.StaticKeys, Disabled: o.AuthDisabled, JWT: jwtVerifier})

	var err error
	if s.grpcLn, err = net.Listen("tcp", o.GRPCAddr); err != nil {
		return fmt.Errorf("gRPC listener: %w", err)
	}
	if s.httpLn, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	hub := notify.NewHub()
	if o.NATSURL != "" {
		if s.nats, err = notify.Connect(o.NATSURL, hub, s.log); err != nil {
			return err
		}
	}
	s.engine = engine.New(s.store, hub, o.Engine, s.log)
	s.grpc = grpcapi.NewServer(grpcapi.Options{Auth: s.auth, Methods: o.GRPCMethods, Authorizer: s.authz, Engine: s.engine, Logger: s.log,
		MaxMessageBytes: limits.MessageBytes(o.Engine.MaxPayloadBytes, o.Engine.MaxHistoryBytes)})
	restAuthz := o.Authorizer
	if restAuthz == nil {
		restAuthz = s.authz
	}
	s.http = httpapi.NewServer(httpapi.New(httpapi.Options{
		Store: s.store, Engine: s.engine, Auth: s.auth, Methods: o.HTTPMethods, Authorizer: restAuthz,
		ExcludePaths: o.HTTPExcludePaths, Metrics: o.Metrics, Logger: s.log, MaxPayloadBytes: o.Engine.MaxPayloadBytes,
	}), httpapi.ServerOptions{}) // timeouts: httpapi.ReadHeaderTimeout, ReadTimeout, IdleTimeout; no WriteTimeout
	return nil
}

func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Store returns the server's store.
func (s *Server) Store() *store.Store { return s.store }

// Engine returns the server's engine.
func (s *Server) Engine() *engine.Engine { return s.engine }

// Auth returns the server's authenticator.
func (s *Server) Auth() *auth.Authenticator { return s.auth }

// Authorizer returns the server's authorizer: the Cedar policies, embedded
// or from the policy file. It allows everything to the principals of a
// server whose authentication is disabled.
func (s *Server) Authorizer() auth.Authorizer { return s.authz }

// HTTPAddr is the address the HTTP listener is bound to.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// GRPCAddr is the address the gRPC listener is bound to.
func (s *Server) GRPCAddr() string { return s.grpcLn.Addr().String() }

// Serve answers on both listeners until ctx ends, then shuts down
// gracefully: stop accepting, let in-flight calls finish (up to a grace
// period), stop the background loops and close the database pool.
func (s *Server) Serve(ctx context.Context) error {
	loopsCtx, stopLoops := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Go(func() { s.auth.RunLastUsedFlusher(loopsCtx, 30*time.Second, s.log) })
	loops.Go(func() { s.engine.Run(loopsCtx) })

	errc := make(chan error, 2)
	go func() { errc <- s.grpc.Serve(s.grpcLn) }()
	go func() {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	s.log.Info("flovyn server listening", "http", s.HTTPAddr(), "grpc", s.GRPCAddr())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.shutdown()
	stopLoops()
	loops.Wait()
	s.engine.Close() // the reclaims after closed connections, the delayed wake-ups
	s.closeNATS()
	s.store.Close()
	return serveErr
}

const shutdownGrace = 10 * time.Second

func (s *Server) shutdown() {
	s.log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.http.Shutdown(ctx) })
	wg.Go(func() {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
		}
	})
	wg.Wait()
}

// Close releases the listeners and the pool of a server that will not Serve.
func (s *Server) Close() {
	for _, ln := range []net.Listener{s.grpcLn, s.httpLn} {
		if ln != nil {
			ln.Close()
		}
	}
	s.closeNATS()
	s.store.Close()
}

func (s *Server) closeNATS() {
	if s.nats != nil {
		s.nats.Close()
	}
}
