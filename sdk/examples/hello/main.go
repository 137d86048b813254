// Command hello runs a worker with a "hello" workflow and a "greet" task,
// starts one workflow and prints its result.
//
//	go run ./sdk/examples/hello -server http://localhost:9090 -token fwt_… -name Ada
//
// The flags default to FLOVYN_GRPC, FLOVYN_WORKER_TOKEN and FLOVYN_ORG_ID
// from the environment (as printed by `flovyn dev`).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/flovyn/flovyn/sdk"
)

type helloInput struct {
	Name string `json:"name"`
}

type greeting struct {
	Message string `json:"message"`
}

// helloWorkflow calls the greet task, then sleeps durably for a moment.
func helloWorkflow(ctx *sdk.WorkflowContext, input json.RawMessage) (any, error) {
	in, err := sdk.Decode[helloInput](input)
	if err != nil {
		return nil, err
	}
	g, err := sdk.ExecuteTask[greeting](ctx, "greet", in, sdk.TaskOptions{})
	if err != nil {
		return nil, err
	}
	if err := ctx.Sleep(200 * time.Millisecond); err != nil {
		return nil, err
	}
	return map[string]any{"message": g.Message, "startedAt": ctx.Now().UTC().Format(time.RFC3339)}, nil
}

func greetTask(ctx *sdk.TaskContext, input json.RawMessage) (any, error) {
	in, err := sdk.Decode[helloInput](input)
	if err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = "world"
	}
	return greeting{Message: "Hello, " + in.Name + "!"}, nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	server := flag.String("server", env("FLOVYN_GRPC", "http://localhost:9090"), "gRPC address of the flovyn server")
	token := flag.String("token", env("FLOVYN_WORKER_TOKEN", ""), "worker token")
	org := flag.String("org", env("FLOVYN_ORG_ID", ""), "tenant (org) id; empty = the token's tenant")
	queue := flag.String("queue", "default", "queue")
	name := flag.String("name", "world", "who to greet")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for the result")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	client, err := sdk.Dial(dialCtx, sdk.ClientOptions{Address: *server, Token: *token, OrgID: *org})
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	worker := sdk.NewWorker(client, sdk.WorkerOptions{Queue: *queue})
	worker.RegisterWorkflow("hello", helloWorkflow)
	worker.RegisterTask("greet", greetTask)

	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(workerCtx) }()

	id, err := client.StartWorkflow(ctx, "hello", helloInput{Name: *name}, sdk.StartOptions{Queue: *queue})
	if err != nil {
		stopWorker()
		<-workerDone
		log.Fatal(err)
	}
	fmt.Println("started", id)

	waitCtx, cancelWait := context.WithTimeout(ctx, *timeout)
	var result map[string]any
	err = client.WaitForResult(waitCtx, id, &result)
	cancelWait()

	stopWorker()
	if werr := <-workerDone; werr != nil {
		log.Print("worker: ", werr)
	}
	if err != nil {
		log.Fatal(err)
	}
	out, _ := json.MarshalIndent(result, "", "  ")
	fmt.Println(string(out))
}
