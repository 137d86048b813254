package cmd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/flovyn/flovyn/internal/pgtest"
	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// SIGTERM stops `flovyn server` gracefully and it exits 0: its held calls (a
// notification stream, a poll held for a minute) end at once rather than
// being cut when the drain runs out.
func TestServerStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flovyn.toml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `[[orgs]]
id = %q
slug = "acme"

[engine]
poll_hold = "1m"
worker_timeout = "2m"

[auth.static_api_key]
keys = [{ key = %q, org_id = %q, principal_type = "Worker", principal_id = "worker:test" }]

[auth.endpoints.grpc]
authenticators = ["static_api_key"]
`, acme.ID, workerKey, acme.ID), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flovynBin, "server", "--config", cfg, "--database-url", pgtest.NewDatabase(t),
		"--ip", "127.0.0.1", "--http-port", "0", "--grpc-port", "0", "--log-level", "info", "--log-format", "json")
	cmd.Env = devEnv(dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Its log says where it listens, then everything up to its exit.
	lines := bufio.NewScanner(stderr)
	var grpcAddr string
	var log strings.Builder
	for grpcAddr == "" && lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		var rec struct{ Msg, GRPC string }
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "flovyn server listening" {
			grpcAddr = rec.GRPC
		}
	}
	if grpcAddr == "" {
		t.Fatalf("flovyn server did not say where it listens:\n%s", log.String())
	}
	// The rest of the log, read through the same scanner: it may hold
	// lines it read past the one above.
	logged := make(chan string, 1)
	go func() {
		for lines.Scan() {
			log.WriteString(lines.Text() + "\n")
		}
		logged <- log.String()
	}()

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+workerKey)
	dispatch := flovynv1.NewWorkflowDispatchClient(conn)
	stream, err := dispatch.SubscribeToNotifications(ctx, &flovynv1.SubscriptionRequest{Queue: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil { // subscribed
		t.Fatalf("SubscribeToNotifications: %v", err)
	}
	polled := make(chan error, 1)
	go func() {
		_, err := dispatch.PollWorkflow(ctx, &flovynv1.PollRequest{WorkerId: uuid.NewString(), Queue: "q"})
		polled <- err
	}()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("the notification stream at shutdown: %v, want its end", err)
	}
	<-polled // answered, or refused when it came too late: either way not held
	// The log ends when the process does. Wait comes after: it closes the
	// pipe, and lines not read by then would be lost.
	var out string
	select {
	case out = <-logged:
	case <-time.After(time.Minute):
		t.Fatal("flovyn server still running a minute after SIGTERM")
	}
	if exitErr := cmd.Wait(); exitErr != nil {
		t.Fatalf("flovyn server exited with %v after SIGTERM:\n%s", exitErr, out)
	}
	if strings.Contains(out, "were cut") || !strings.Contains(out, `"msg":"shut down"`) {
		t.Fatalf("flovyn server did not drain cleanly:\n%s", out)
	}
}
