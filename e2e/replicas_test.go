package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flovyn/flovyn/embed"
	"github.com/flovyn/flovyn/sdk"
	"github.com/flovyn/flovyn/server/engine"
)

// Several servers on one PostgreSQL, workers spread across them: every
// workflow completes exactly once, every timer fires once, no task runs
// twice, histories stay contiguous. With NATS the replicas wake each
// other; without it the poll re-check keeps them correct.
func TestReplicasShareOneDatabase(t *testing.T) {
	for _, withNATS := range []bool{true, false} {
		t.Run(fmt.Sprintf("nats=%v", withNATS), func(t *testing.T) {
			natsURL := ""
			if withNATS {
				n, err := embed.StartNATS(embed.NATSOptions{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(n.Stop)
				natsURL = n.URL()
			}
			cfg := func(o *options) {
				o.natsURL = natsURL
				o.engine = engine.Config{PollHold: 500 * time.Millisecond, RecheckInterval: 200 * time.Millisecond}
			}
			first := start(t, cfg)
			replicas := []*env{first}
			for range 2 {
				replicas = append(replicas, start(t, cfg, func(o *options) { o.replicaOf = first }))
			}

			q := queue(t)
			var mu sync.Mutex
			taskRuns := map[string]int{}
			for i, r := range replicas {
				r.worker(q, func(w *sdk.Worker) {
					w.RegisterTask("count", func(ctx *sdk.TaskContext, in json.RawMessage) (any, error) {
						mu.Lock()
						taskRuns[ctx.TaskExecutionID()]++
						mu.Unlock()
						return in, nil
					})
					w.RegisterWorkflow("replicated", func(ctx *sdk.WorkflowContext, in json.RawMessage) (any, error) {
						out, err := ctx.ExecuteTask("count", in, sdk.TaskOptions{})
						if err != nil {
							return nil, err
						}
						if err := ctx.Sleep(50 * time.Millisecond); err != nil {
							return nil, err
						}
						return out, nil
					})
				}, func(o *sdk.WorkerOptions) { o.Name = fmt.Sprintf("replica-worker-%d", i) })
			}

			const n = 60
			ids := make([]string, n)
			clients := make([]*sdk.Client, len(replicas))
			for i, r := range replicas {
				clients[i] = r.client()
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := range n {
				id, err := clients[i%len(clients)].StartWorkflow(ctx, "replicated", map[string]int{"i": i}, sdk.StartOptions{Queue: q})
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = id
			}
			for i, id := range ids {
				var out map[string]int
				c := clients[(i+1)%len(clients)] // read through another replica
				if err := c.WaitForResult(ctx, id, &out); err != nil || out["i"] != i {
					t.Fatalf("workflow %d: %v %v", i, out, err)
				}
				evs := first.events(c, id)
				for typ, want := range map[string]int{"WORKFLOW_COMPLETED": 1, "TASK_COMPLETED": 1, "TIMER_FIRED": 1, "TASK_SCHEDULED": 1} {
					if got := count(evs, typ); got != want {
						t.Fatalf("workflow %d: %d %s, want %d: %v", i, got, typ, want, types(evs))
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(taskRuns) != n {
				t.Fatalf("%d tasks ran, want %d", len(taskRuns), n)
			}
			for id, runs := range taskRuns {
				if runs != 1 {
					t.Fatalf("task %s ran %d times", id, runs)
				}
			}
		})
	}
}
