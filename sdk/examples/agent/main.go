// Command agent runs a worker with a durable "researcher" agent and a
// "search" task, starts one agent execution over REST, approves its plan
// with a signal and prints its result and conversation.
//
//	go run ./sdk/examples/agent -topic "durable execution"
//
// The flags default to the variables `flovyn dev` prints: FLOVYN_GRPC,
// FLOVYN_WORKER_TOKEN and FLOVYN_ORG_ID for the worker (gRPC), and
// FLOVYN_SERVER, FLOVYN_TENANT and FLOVYN_API_KEY for starting, signalling
// and reading the agent (REST; agents are created over REST).
//
// The agent runs from the top each time it is dispatched: first until it
// waits for its two search tasks, then until it waits for the "approve"
// signal, then to the end. Its state (checkpointed before every wait) tells
// it which steps are done.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/flovyn/flovyn/client"
	"github.com/flovyn/flovyn/sdk"
)

type researchInput struct {
	Topic string `json:"topic"`
}

// researchState is what the agent checkpoints between dispatches.
type researchState struct {
	Asked    bool              `json:"asked"`
	Searched bool              `json:"searched"`
	Findings []json.RawMessage `json:"findings"`
}

// researcher searches two angles of a topic in parallel, asks for approval
// and then answers.
func researcher(ctx *sdk.AgentContext, input json.RawMessage) (any, error) {
	in, err := sdk.Decode[researchInput](input)
	if err != nil {
		return nil, err
	}
	var st researchState
	if _, err := ctx.State(&st); err != nil {
		return nil, err
	}
	if !st.Asked {
		if _, err := ctx.AppendEntry(sdk.RoleUser, map[string]string{"text": "Research " + in.Topic}); err != nil {
			return nil, err
		}
		// Stored by the checkpoint before the next wait: the next dispatch
		// does not append the question again.
		st.Asked = true
		if err := ctx.SetState(st); err != nil {
			return nil, err
		}
	}
	if !st.Searched {
		// Both tasks are scheduled, then JoinAll suspends the agent until
		// both are done; on the next dispatch the same calls find them.
		basics := ctx.ScheduleTask("search", map[string]string{"q": in.Topic + " basics"}, sdk.AgentTaskOptions{})
		pitfalls := ctx.ScheduleTask("search", map[string]string{"q": in.Topic + " pitfalls"}, sdk.AgentTaskOptions{Timeout: 30 * time.Second})
		findings, err := ctx.JoinAll(basics, pitfalls)
		if err != nil {
			return nil, err
		}
		for _, f := range findings {
			if _, err := ctx.AppendToolResult("search", f); err != nil {
				return nil, err
			}
		}
		st.Searched, st.Findings = true, findings
		if err := ctx.Checkpoint(st); err != nil {
			return nil, err
		}
	}
	if err := ctx.StreamProgress(0.5, "waiting for approval"); err != nil {
		return nil, err
	}
	// Suspends (after a checkpoint) until an "approve" signal arrives.
	raw, err := ctx.WaitSignal("approve")
	if err != nil {
		return nil, err
	}
	approval, err := sdk.Decode[struct {
		OK   bool   `json:"ok"`
		Note string `json:"note"`
	}](raw)
	if err != nil {
		return nil, err
	}
	if !approval.OK {
		return nil, errors.New("plan rejected: " + approval.Note)
	}
	answer := fmt.Sprintf("%d findings about %s (approved: %s)", len(st.Findings), in.Topic, approval.Note)
	if _, err := ctx.AppendEntry(sdk.RoleAssistant, map[string]string{"text": answer}); err != nil {
		return nil, err
	}
	return map[string]any{"answer": answer, "findings": st.Findings}, nil
}

// search stands in for a real search tool.
func search(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
	in, err := sdk.Decode[struct {
		Q string `json:"q"`
	}](input)
	if err != nil {
		return nil, err
	}
	return map[string]string{"query": in.Q, "result": "notes on " + in.Q}, nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	grpcAddr := flag.String("server", env("FLOVYN_GRPC", "http://localhost:9090"), "gRPC address of the flovyn server")
	token := flag.String("token", env("FLOVYN_WORKER_TOKEN", ""), "worker token")
	org := flag.String("org", env("FLOVYN_ORG_ID", ""), "tenant (org) id; empty = the token's tenant")
	restAddr := flag.String("rest", env("FLOVYN_SERVER", "http://localhost:8000"), "REST address of the flovyn server")
	tenant := flag.String("tenant", env("FLOVYN_TENANT", "default"), "tenant slug")
	apiKey := flag.String("api-key", env("FLOVYN_API_KEY", ""), "REST credential (default: the worker token)")
	queue := flag.String("queue", "default", "queue")
	topic := flag.String("topic", "durable execution", "what to research")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for each step")
	flag.Parse()
	if *apiKey == "" {
		*apiKey = *token
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := sdk.Dial(dialCtx, sdk.ClientOptions{Address: *grpcAddr, Token: *token, OrgID: *org})
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	worker := sdk.NewWorker(c, sdk.WorkerOptions{Queue: *queue})
	worker.RegisterAgent("researcher", researcher)
	worker.RegisterTask("search", search)
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(workerCtx) }()

	err = run(ctx, client.New(client.Options{Server: *restAddr, APIKey: *apiKey, Tenant: *tenant}), *queue, *topic, *timeout)
	stopWorker()
	if werr := <-workerDone; werr != nil {
		log.Print("worker: ", werr)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, api *client.Client, queue, topic string, timeout time.Duration) error {
	input, _ := json.Marshal(researchInput{Topic: topic})
	a, err := api.StartAgent(ctx, client.StartAgentRequest{Kind: "researcher", Input: input, Queue: queue})
	if err != nil {
		return err
	}
	fmt.Println("started agent", a.ID)

	// First it waits for its tasks, then for the signal.
	waitsForSignal := func(a client.AgentExecution) bool {
		return a.Status == "WAITING" && a.WaitingFor != nil && *a.WaitingFor == "signal"
	}
	if _, err := waitFor(ctx, api, a.ID, timeout, waitsForSignal); err != nil {
		return err
	}
	fmt.Println("the agent waits for approval; approving")
	if _, err := api.SignalAgent(ctx, a.ID, "approve", json.RawMessage(`{"ok":true,"note":"go ahead"}`)); err != nil {
		return err
	}
	done, err := waitFor(ctx, api, a.ID, timeout, func(a client.AgentExecution) bool { return a.Status == "COMPLETED" })
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(done.Output, "", "  ")
	fmt.Println(string(out))

	entries, err := api.AgentEntries(ctx, a.ID)
	if err != nil {
		return err
	}
	fmt.Println("conversation:")
	for _, e := range entries {
		role := ""
		if e.Role != nil {
			role = *e.Role
		}
		fmt.Printf("  %-11s %s\n", role, e.Content)
	}
	return nil
}

// waitFor polls the agent until done says so; an agent that ended otherwise
// is an error.
func waitFor(ctx context.Context, api *client.Client, id string, timeout time.Duration,
	done func(client.AgentExecution) bool) (client.AgentExecution, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		a, err := api.GetAgent(ctx, id)
		if err != nil {
			return a, err
		}
		switch {
		case done(a):
			return a, nil
		case a.Status == "FAILED" || a.Status == "CANCELLED" || a.Status == "COMPLETED":
			msg := ""
			if a.Error != nil {
				msg = ": " + *a.Error
			}
			return a, fmt.Errorf("agent %s ended %s%s", id, a.Status, msg)
		}
		select {
		case <-ctx.Done():
			return a, fmt.Errorf("agent %s is still %s: %w", id, a.Status, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
