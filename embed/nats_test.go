package embed

import (
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSRoundTrip(t *testing.T) {
	n, err := StartNATS(NATSOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	u, err := url.Parse(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	if host, port, _ := net.SplitHostPort(u.Host); host != "127.0.0.1" || port == "4222" || port == "0" {
		t.Fatalf("URL %s", n.URL())
	}

	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("wake.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("wake.default.q", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "wake.default.q" || string(msg.Data) != "hi" {
		t.Fatalf("got %s %q", msg.Subject, msg.Data)
	}
}

func TestNATSJetStream(t *testing.T) {
	n, err := StartNATS(NATSOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "s.x", []byte("1")); err != nil {
		t.Fatal(err)
	}
}
