package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOptions configures StartNATS.
type NATSOptions struct {
	Port     int          // at 127.0.0.1; 0 picks a free one (never 4222)
	StoreDir string       // enables JetStream, stored there; "" = core NATS only
	Logger   *slog.Logger // nil disables the server's logging
}

// NATS is an in-process NATS server.
type NATS struct {
	srv *server.Server
}

// StartNATS starts a NATS server in this process and waits until it accepts
// connections. It installs no signal handlers.
func StartNATS(o NATSOptions) (*NATS, error) {
	for {
		n, err := startNATS(o)
		if err != nil || o.Port != 0 || n.srv.Addr().(*net.TCPAddr).Port != 4222 {
			return n, err
		}
		n.Stop() // the OS happened to pick the system NATS port
	}
}

func startNATS(o NATSOptions) (*NATS, error) {
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      o.Port,
		NoSigs:    true,
		NoLog:     o.Logger == nil,
		JetStream: o.StoreDir != "",
		StoreDir:  o.StoreDir,
	}
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	if o.Logger != nil {
		srv.SetLogger(natsLogger{o.Logger}, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats: server did not become ready")
	}
	return &NATS{srv: srv}, nil
}

// URL is the client URL, nats://127.0.0.1:port.
func (n *NATS) URL() string { return n.srv.ClientURL() }

// Stop shuts the server down and waits for it.
func (n *NATS) Stop() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

type natsLogger struct{ l *slog.Logger }

func (n natsLogger) logf(level slog.Level, format string, v []any) {
	n.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats")
}

// Notices are start-up chatter, hence debug.
func (n natsLogger) Noticef(f string, v ...any) { n.logf(slog.LevelDebug, f, v) }
func (n natsLogger) Warnf(f string, v ...any)   { n.logf(slog.LevelWarn, f, v) }
func (n natsLogger) Fatalf(f string, v ...any)  { n.logf(slog.LevelError, f, v) }
func (n natsLogger) Errorf(f string, v ...any)  { n.logf(slog.LevelError, f, v) }
func (n natsLogger) Debugf(f string, v ...any)  { n.logf(slog.LevelDebug, f, v) }
func (n natsLogger) Tracef(f string, v ...any)  { n.logf(slog.LevelDebug, f, v) }
