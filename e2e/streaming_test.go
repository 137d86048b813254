package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

func TestStreamingTaskCompletes(t *testing.T) {
	e := start(t)
	q := queue(t)
	c := e.client()
	_, taskRPC, _, _ := raw(c)
	type acks struct {
		Stream   bool   `json:"stream"`
		Progress string `json:"progress"`
		Log      string `json:"log"`
	}
	e.worker(q, func(w *sdk.Worker) {
		w.RegisterTask("streaming", func(ctx *sdk.TaskContext, _ json.RawMessage) (any, error) {
			tokens := []string{"Hello", ", ", "streaming", " ", "world", "!"}
			for _, tok := range tokens {
				ctx.StreamToken(tok)
			}
			for i := range 5 {
				ctx.StreamProgress(float64(i+1)/5, fmt.Sprintf("step %d", i+1))
				ctx.StreamData(map[string]int{"record": i})
			}
			ctx.StreamError("recoverable hiccup", "E42")
			ctx.ReportProgress(0.5, "halfway")
			ctx.Log(sdk.LevelInfo, "streaming task says hi")
			// The SDK only logs stream/progress/log errors: ask the server
			// directly what it answers.
			var a acks
			resp, err := taskRPC.StreamTaskData(ctx.Context(), &flovynv1.StreamTaskDataRequest{
				TaskExecutionId: ctx.TaskExecutionID(), WorkflowExecutionId: ctx.WorkflowExecutionID(),
				Type: flovynv1.StreamEventType_TOKEN, Payload: `{"type":"token","text":"direct"}`,
				TimestampMs: time.Now().UnixMilli(),
			})
			a.Stream = err == nil && resp.GetAcknowledged()
			if _, err := taskRPC.ReportProgress(ctx.Context(), &flovynv1.ReportProgressRequest{
				TaskExecutionId: ctx.TaskExecutionID(), Progress: 0.75, Details: "three quarters",
			}); err != nil {
				a.Progress = err.Error()
			}
			if _, err := taskRPC.LogMessage(ctx.Context(), &flovynv1.LogMessageRequest{
				TaskExecutionId: ctx.TaskExecutionID(), Level: "WARN", Message: "direct log",
			}); err != nil {
				a.Log = err.Error()
			}
			return map[string]any{"tokenCount": len(tokens), "fullText": strings.Join(tokens, ""), "acks": a}, nil
		})
		w.RegisterWorkflow("streaming-wf", func(ctx *sdk.WorkflowContext, _ json.RawMessage) (any, error) {
			return ctx.ExecuteTask("streaming", nil, sdk.TaskOptions{})
		})
	})
	var out struct {
		TokenCount int    `json:"tokenCount"`
		FullText   string `json:"fullText"`
		Acks       acks   `json:"acks"`
	}
	id, err := e.run(c, "streaming-wf", nil, q, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.TokenCount != 6 || out.FullText != "Hello, streaming world!" {
		t.Fatalf("output %+v", out)
	}
	if !out.Acks.Stream || out.Acks.Progress != "" || out.Acks.Log != "" {
		t.Fatalf("server answers: %+v", out.Acks)
	}
	evs := e.events(c, id)
	want := []string{"WORKFLOW_STARTED", "TASK_SCHEDULED", "WORKFLOW_SUSPENDED", "TASK_COMPLETED", "WORKFLOW_COMPLETED"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v (streaming must not add events)", got, want)
	}
	// Progress and logs are kept with the task.
	taskID := str(t, evs[1], "taskExecutionId")
	var progress float64
	var details string
	if err := e.srv.Store().Pool().QueryRow(ctxT(t), `SELECT progress, progress_details FROM tasks WHERE id = $1`, taskID).
		Scan(&progress, &details); err != nil {
		t.Fatal(err)
	}
	if progress != 0.75 || details != "three quarters" {
		t.Fatalf("task progress %v %q, want the last report", progress, details)
	}
	rows, err := e.srv.Store().Pool().Query(ctxT(t), `SELECT level || ' ' || message FROM task_logs WHERE task_id = $1 ORDER BY id`, taskID)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	if rows.Err() != nil || !slices.Equal(logs, []string{"INFO streaming task says hi", "WARN direct log"}) {
		t.Fatalf("task logs %q (%v)", logs, rows.Err())
	}
}
