package notify

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// subjectPrefix starts every wake-up subject: flovyn.work.<tenant>.<kind>.q<queue>.
// The queue is hex-encoded, so any queue name is one valid token.
const subjectPrefix = "flovyn.work"

func subject(k Key) string {
	return fmt.Sprintf("%s.%s.%d.q%x", subjectPrefix, k.Tenant, k.Kind, k.Queue)
}

func parseSubject(s string) (Key, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 5 {
		return Key{}, false
	}
	tenant, err := uuid.Parse(parts[2])
	if err != nil {
		return Key{}, false
	}
	var kind WorkKind
	if _, err := fmt.Sscanf(parts[3], "%d", &kind); err != nil {
		return Key{}, false
	}
	hexQueue, ok := strings.CutPrefix(parts[4], "q")
	if !ok {
		return Key{}, false
	}
	queue, err := hex.DecodeString(hexQueue)
	if err != nil {
		return Key{}, false
	}
	return Key{Tenant: tenant, Queue: string(queue), Kind: kind}, true
}

// originHeader names the replica that published a wake-up, so it can skip
// its own messages (it has woken its waiters already).
const originHeader = "Flovyn-Origin"

// Bridge carries wake-ups between replicas over NATS. Without it every
// replica is still correct: held polls re-check the database periodically.
type Bridge struct {
	nc     *nats.Conn
	sub    *nats.Subscription
	origin string
}

// Connect joins the NATS server at url and links hub to the other replicas.
func Connect(url string, hub *Hub, log *slog.Logger) (*Bridge, error) {
	nc, err := nats.Connect(url,
		nats.Name("flovyn"),
		nats.MaxReconnects(-1),
		// NATS being down at start is no reason not to serve: keep trying.
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // Close at shutdown, not a lost server
			}
			log.Warn("NATS disconnected: wake-ups from other replicas now wait for the poll re-check", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrl()) }),
		// The first connection, at start or, after the warning below, late.
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("NATS connected", "url", nc.ConnectedUrl()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	if !nc.IsConnected() {
		log.Warn("NATS is not reachable yet; retrying in the background (wake-ups between replicas wait for the poll re-check meanwhile)", "url", url)
	}
	b := &Bridge{nc: nc, origin: uuid.NewString()}
	b.sub, err = nc.Subscribe(subjectPrefix+".>", func(m *nats.Msg) {
		if m.Header.Get(originHeader) == b.origin {
			return
		}
		if k, ok := parseSubject(m.Subject); ok {
			hub.wake(k)
		}
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	hub.mu.Lock()
	hub.forward = b.publish
	hub.mu.Unlock()
	return b, nil
}

func (b *Bridge) publish(k Key) {
	m := nats.NewMsg(subject(k))
	m.Header.Set(originHeader, b.origin)
	// A failed publish (NATS down) costs other replicas at most a re-check.
	_ = b.nc.PublishMsg(m)
}

// Close leaves NATS.
func (b *Bridge) Close() {
	_ = b.sub.Unsubscribe()
	b.nc.Close()
}
