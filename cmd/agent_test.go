package cmd_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/sdk"
)

type agentDoc struct {
	ID                   string `json:"id"`
	Kind                 string `json:"kind"`
	Status               string `json:"status"`
	Queue                string `json:"queue"`
	CurrentCheckpointSeq int    `json:"currentCheckpointSeq"`
}

func TestAgentCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	// start: -q prints only the id; -o json the API's document; stdin with "-".
	r := s.ok("agent", "start", "-q", "researcher", "--input", `{"topic": "tides"}`, "--queue", "nobody")
	id := strings.TrimSpace(r.stdout)
	if _, err := uuid.Parse(id); err != nil {
		t.Fatalf("agent start -q printed %q, not an id: %s", id, r)
	}
	var started struct {
		agentDoc
		Input map[string]string `json:"input"`
	}
	decode(t, s.runWith(runOpts{stdin: `{"topic": "waves"}`}, "agents", "start", "writer", "-", "-o", "json"), &started)
	if started.Kind != "writer" || started.Status != "PENDING" || started.Queue != "default" || started.Input["topic"] != "waves" {
		t.Fatalf("agent start - -o json: %+v", started)
	}
	r = s.ok("agent", "start", "writer")
	noBoxDrawing(t, r)
	if !strings.Contains(r.stdout, "PENDING") || !strings.Contains(r.stdout, "writer") {
		t.Fatalf("agent start: %s", r)
	}
	s.fails(2, "--input: not valid JSON", "agent", "start", "writer", "--input", `{"topic":`)
	s.fails(2, "give the input once", "agent", "start", "writer", "-", "--input", "{}")

	// list: TSV when piped, newest first; filters; -o json is {items}.
	r = s.ok("agent", "list")
	noBoxDrawing(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID\tKIND\tSTATUS\tQUEUE") || !strings.HasPrefix(lines[3], id+"\tresearcher\tPENDING\tnobody") {
		t.Fatalf("agent list: %s", r)
	}
	var list struct {
		Items []agentDoc `json:"items"`
	}
	decode(t, s.ok("agent", "list", "--kind", "researcher", "-o", "json"), &list)
	if len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("agent list --kind researcher: %+v", list)
	}
	decode(t, s.ok("agent", "list", "--status", "pending,running", "--limit", "2", "-o", "json"), &list)
	if len(list.Items) != 2 {
		t.Fatalf("agent list --limit 2: %+v", list)
	}
	decode(t, s.ok("agent", "list", "--status", "COMPLETED", "-o", "json"), &list)
	if len(list.Items) != 0 {
		t.Fatalf("agent list --status COMPLETED: %+v", list)
	}
	s.fails(2, `--status "DONE"`, "agent", "list", "--status", "done")
	s.fails(2, "--limit must be between 1 and 500", "agent", "list", "--limit", "0")

	// inspect: the card, the input, checkpoints and tasks; -o json {agent, checkpoints, tasks}.
	r = s.ok("agent", "inspect", id)
	noBoxDrawing(t, r)
	for _, want := range []string{id, "researcher", "PENDING", "nobody", "Input:", `"topic": "tides"`, "Checkpoints (0):", "Tasks (0):"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("agent inspect lacks %q: %s", want, r)
		}
	}
	var in struct {
		Agent struct {
			agentDoc
			Input map[string]string `json:"input"`
		} `json:"agent"`
		Checkpoints []any `json:"checkpoints"`
		Tasks       []any `json:"tasks"`
	}
	decode(t, s.ok("agent", "inspect", id, "-o", "json"), &in)
	if in.Agent.ID != id || in.Agent.Input["topic"] != "tides" || in.Agent.CurrentCheckpointSeq != -1 || in.Checkpoints == nil || in.Tasks == nil {
		t.Fatalf("agent inspect -o json: %+v", in)
	}

	// signal: kept until the agent consumes it; a PENDING agent does not resume.
	var sig struct {
		Signaled     bool   `json:"signaled"`
		AgentResumed bool   `json:"agentResumed"`
		SignalID     string `json:"signalId"`
	}
	decode(t, s.ok("agent", "signal", id, "go", "--value", `{"ok": true}`, "-o", "json"), &sig)
	if !sig.Signaled || sig.AgentResumed || sig.SignalID == "" {
		t.Fatalf("agent signal -o json: %+v", sig)
	}
	r = s.ok("agent", "signal", id, "again")
	if !strings.Contains(r.stdout, `Signal "again" delivered to agent `+id) {
		t.Fatalf("agent signal: %s", r)
	}
	s.fails(2, "--value: not valid JSON", "agent", "signal", id, "go", "--value", "{")

	// cancel: CANCELLED, then ALREADY_TERMINAL; a signal to it is refused.
	var cancel struct {
		AgentExecutionID string `json:"agentExecutionId"`
		Status           string `json:"status"`
		AgentStatus      string `json:"agentStatus"`
	}
	decode(t, s.ok("agent", "cancel", id, "--reason", "no longer needed", "-o", "json"), &cancel)
	if cancel.AgentExecutionID != id || cancel.Status != "CANCELLED" || cancel.AgentStatus != "CANCELLED" {
		t.Fatalf("agent cancel -o json: %+v", cancel)
	}
	r = s.ok("agent", "cancel", id)
	if !strings.Contains(r.stdout, "had already ended (CANCELLED)") {
		t.Fatalf("agent cancel again: %s", r)
	}
	decode(t, s.ok("agent", "inspect", id, "-o", "json"), &in)
	if in.Agent.Status != "CANCELLED" {
		t.Fatalf("after cancel: %+v", in.Agent)
	}
	s.fails(1, "has already ended", "agent", "signal", id, "go")

	// The short id the list and the TUI show works like the whole one.
	var short struct {
		Agent struct {
			ID string `json:"id"`
		} `json:"agent"`
	}
	decode(t, s.ok("agent", "inspect", strings.ToUpper(id[:8]), "-o", "json"), &short)
	if short.Agent.ID != id {
		t.Fatalf("inspect by the prefix %s: %+v", id[:8], short.Agent)
	}

	// A malformed id is a usage error naming the argument; an unknown one exits 1.
	for _, args := range [][]string{
		{"inspect", "xyz"}, {"signal", "xyz", "go"}, {"cancel", "xyz"}, {"inspect", id[:3]},
	} {
		bad := args[1]
		s.fails(2, `agent id "`+bad+`": not a UUID or an id prefix`, append([]string{"agent"}, args...)...)
	}
	unknown := uuid.NewString()
	for _, args := range [][]string{{"inspect", unknown}, {"signal", unknown, "go"}, {"cancel", unknown}} {
		s.fails(1, unknown, append([]string{"agent"}, args...)...)
	}
	s.fails(1, "no agent execution with id prefix 0000", "agent", "inspect", "0000")
	s.fails(2, "accepts 2 arg(s)", "agent", "signal", id)
}

// agentDriver plays an agent worker and a task worker of acme over raw
// gRPC calls, as the Rust SDK's agent worker makes them (see
// e2e/agents_test.go): it claims one agent execution, appends entries,
// checkpoints, schedules tasks and suspends, so the CLI and the TUI have a
// conversation to show.
type agentDriver struct {
	t     *testing.T
	ctx   context.Context // bounds every call
	ad    flovynv1.AgentDispatchClient
	tasks flovynv1.TaskExecutionClient
	id    string // the worker id RegisterWorker returned
	kinds []string
}

func (s *cliServer) agentDriver(kinds ...string) *agentDriver {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := sdk.Dial(ctx, sdk.ClientOptions{Address: s.grpc, Token: workerKey, OrgID: acme.ID.String()})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	reg := &flovynv1.WorkerRegistrationRequest{WorkerName: "cli-test-agents", OrgId: acme.ID.String()}
	for _, k := range kinds {
		reg.Agents = append(reg.Agents, &flovynv1.AgentCapability{Kind: k, Name: k})
	}
	res, err := flovynv1.NewWorkerLifecycleClient(c.Conn()).RegisterWorker(ctx, reg)
	if err != nil {
		s.t.Fatalf("RegisterWorker: %v", err)
	}
	callCtx, stop := context.WithTimeout(s.t.Context(), time.Minute)
	s.t.Cleanup(stop)
	return &agentDriver{t: s.t, ctx: callCtx, ad: flovynv1.NewAgentDispatchClient(c.Conn()), tasks: flovynv1.NewTaskExecutionClient(c.Conn()), id: res.WorkerId, kinds: kinds}
}

// claim polls queue until agent id is dispatched to this worker (RUNNING).
// An empty poll is held by the server, so this loop does not spin.
func (w *agentDriver) claim(queue, id string) {
	w.t.Helper()
	for range 100 {
		res, err := w.ad.PollAgent(w.ctx, &flovynv1.PollAgentRequest{WorkerId: w.id, OrgId: acme.ID.String(), Queue: queue, TimeoutSeconds: 60, AgentCapabilities: w.kinds})
		if err != nil {
			w.t.Fatalf("PollAgent: %v", err)
		}
		if a := res.AgentExecution; a != nil {
			if a.Id != id {
				w.t.Fatalf("dispatched %s, want %s", a.Id, id)
			}
			return
		}
	}
	w.t.Fatalf("agent %s was never dispatched", id)
}

// entry appends a message of role with content (JSON) in turn and returns
// its id, which is the idempotency key (a UUID), as in the SDK.
func (w *agentDriver) entry(agent, role, turn, content string) string {
	w.t.Helper()
	key := uuid.NewString()
	res, err := w.ad.AppendEntry(w.ctx, &flovynv1.AppendEntryRequest{
		AgentExecutionId: agent, EntryType: "MESSAGE", Role: &role, Content: []byte(content), TurnId: &turn, IdempotencyKey: &key,
	})
	if err != nil {
		w.t.Fatalf("AppendEntry: %v", err)
	}
	return res.EntryId
}

func (w *agentDriver) checkpoint(agent, leaf, state string) int32 {
	w.t.Helper()
	res, err := w.ad.SubmitCheckpoint(w.ctx, &flovynv1.SubmitCheckpointRequest{AgentExecutionId: agent, LeafEntryId: &leaf, State: []byte(state)})
	if err != nil {
		w.t.Fatalf("SubmitCheckpoint: %v", err)
	}
	return res.Sequence
}

// schedule schedules a task of kind on queue with input (JSON) and returns
// its id.
func (w *agentDriver) schedule(agent, kind, queue, input string) string {
	w.t.Helper()
	key := "task:" + kind + ":" + input
	stream, err := w.ad.ScheduleAgentTask(w.ctx)
	if err != nil {
		w.t.Fatalf("ScheduleAgentTask: %v", err)
	}
	h := &flovynv1.ScheduleAgentTaskHeader{AgentExecutionId: agent, TaskKind: kind, Queue: &queue, IdempotencyKey: &key}
	for _, c := range []*flovynv1.ScheduleAgentTaskChunk{
		{Chunk: &flovynv1.ScheduleAgentTaskChunk_Header{Header: h}},
		{Chunk: &flovynv1.ScheduleAgentTaskChunk_InputChunk{InputChunk: []byte(input)}},
	} {
		if err := stream.Send(c); err != nil {
			w.t.Fatalf("ScheduleAgentTask: %v", err)
		}
	}
	res, err := stream.CloseAndRecv()
	if err != nil {
		w.t.Fatalf("ScheduleAgentTask: %v", err)
	}
	return res.TaskExecutionId
}

// runTask polls queue for one task, expects it to be id, and completes it
// with output.
func (w *agentDriver) runTask(queue, id, output string) {
	w.t.Helper()
	for range 100 {
		res, err := w.tasks.PollTask(w.ctx, &flovynv1.PollTaskRequest{WorkerId: w.id, OrgId: acme.ID.String(), Queue: queue})
		if err != nil {
			w.t.Fatalf("PollTask: %v", err)
		}
		if res.Task == nil {
			continue
		}
		if res.Task.TaskExecutionId != id {
			w.t.Fatalf("task %s dispatched, want %s", res.Task.TaskExecutionId, id)
		}
		if _, err := w.tasks.CompleteTask(w.ctx, &flovynv1.CompleteTaskRequest{TaskExecutionId: id, Output: []byte(output)}); err != nil {
			w.t.Fatalf("CompleteTask: %v", err)
		}
		return
	}
	w.t.Fatalf("task %s was never dispatched", id)
}

// suspend makes the agent WAITING for a signal of name.
func (w *agentDriver) suspend(agent, signal string) {
	w.t.Helper()
	reason := "waiting for " + signal
	if _, err := w.ad.SuspendAgent(w.ctx, &flovynv1.SuspendAgentRequest{
		AgentExecutionId: agent, WaitCondition: &flovynv1.SuspendAgentRequest_WaitForSignal{WaitForSignal: signal}, Reason: &reason,
	}); err != nil {
		w.t.Fatalf("SuspendAgent: %v", err)
	}
}

// conversation is what researchAgent leaves behind.
type conversation struct {
	agent                 string
	user, assistant, tool string // entry ids
	done, pending         string // task ids: COMPLETED and PENDING
	longAnswer            string
}

// researchAgent starts a researcher agent on queue "agents" and drives it
// to WAITING for signal "followUp", with three entries in two turns, two
// checkpoints and two tasks (one completed, one that nobody runs).
func (s *cliServer) researchAgent() conversation {
	s.t.Helper()
	var c conversation
	c.agent = strings.TrimSpace(s.ok("agent", "start", "-q", "researcher", "--queue", "agents", "--input", `{"topic": "tides"}`).stdout)
	w := s.agentDriver("researcher")
	w.claim("agents", c.agent)
	c.user = w.entry(c.agent, "user", "turn-1", `{"text": "Tell me about tides"}`)
	c.longAnswer = "Tides are the rise and fall of sea levels caused by the gravity of the Moon and the Sun " +
		"and by the rotation of the Earth; most coasts see two high tides and two low tides a day."
	c.assistant = w.entry(c.agent, "assistant", "turn-1", `{"text": "`+c.longAnswer+`"}`)
	w.checkpoint(c.agent, c.assistant, `{"step": 1}`)
	c.done = w.schedule(c.agent, "lookup", "agent-tasks", `{"q": "spring tides"}`)
	w.runTask("agent-tasks", c.done, `{"hits": 3}`)
	c.tool = w.entry(c.agent, "tool_result", "turn-2", `{"tool": "lookup", "hits": 3}`)
	c.pending = w.schedule(c.agent, "summarise", "nobody", `{"hits": 3}`)
	w.checkpoint(c.agent, c.tool, `{"step": 2}`)
	w.suspend(c.agent, "followUp")
	return c
}

// TestAgentConversation: entries, checkpoints and tasks of an agent a raw
// gRPC worker drove, as tables and as JSON.
func TestAgentConversation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.researchAgent()
	id := c.agent

	// entries: piped, one whole line per entry; the SDK's {"text": …} is
	// shown as its text, other content as compact JSON.
	r := s.ok("agent", "entries", id)
	noBoxDrawing(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || lines[0] != "ID\tROLE\tTYPE\tTURN\tCREATED\tCONTENT" {
		t.Fatalf("agent entries: %s", r)
	}
	for i, want := range [][]string{
		{c.user, "user", "message", "turn-1", "Tell me about tides"},
		{c.assistant, "assistant", "message", "turn-1", c.longAnswer},
		{c.tool, "tool_result", "message", "turn-2", `{"tool":"lookup","hits":3}`},
	} {
		cells := strings.Split(lines[i+1], "\t")
		if len(cells) != 6 || !slices.Equal(cells[:4], want[:4]) || cells[5] != want[4] {
			t.Fatalf("entry %d: %q, want %q", i, cells, want)
		}
		if _, err := time.Parse(time.RFC3339, cells[4]); err != nil {
			t.Fatalf("entry %d: created %q is not RFC 3339", i, cells[4])
		}
	}
	var entries struct {
		Entries []struct {
			ID        string          `json:"id"`
			EntryType string          `json:"entryType"`
			Role      string          `json:"role"`
			TurnID    string          `json:"turnId"`
			Content   json.RawMessage `json:"content"`
		} `json:"entries"`
	}
	decode(t, s.ok("agent", "conversation", id, "-o", "json"), &entries)
	if len(entries.Entries) != 3 || entries.Entries[1].ID != c.assistant || entries.Entries[1].Role != "assistant" ||
		!jsonEqual(t, string(entries.Entries[1].Content), `{"text": "`+c.longAnswer+`"}`) ||
		!jsonEqual(t, string(entries.Entries[2].Content), `{"tool": "lookup", "hits": 3}`) {
		t.Fatalf("agent entries -o json: %+v", entries)
	}

	// checkpoints: in sequence order, with their leaf entries.
	r = s.ok("agent", "checkpoints", id)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || lines[0] != "SEQ\tID\tLEAF ENTRY\tCREATED" ||
		!strings.HasPrefix(lines[1], "1\t") || !strings.Contains(lines[1], "\t"+c.assistant+"\t") ||
		!strings.HasPrefix(lines[2], "2\t") || !strings.Contains(lines[2], "\t"+c.tool+"\t") {
		t.Fatalf("agent checkpoints: %s", r)
	}
	var checkpoints struct {
		Checkpoints []struct {
			ID          string `json:"id"`
			Sequence    int    `json:"sequence"`
			LeafEntryID string `json:"leafEntryId"`
		} `json:"checkpoints"`
	}
	decode(t, s.ok("agent", "checkpoints", id, "-o", "json"), &checkpoints)
	if len(checkpoints.Checkpoints) != 2 || checkpoints.Checkpoints[1].Sequence != 2 || checkpoints.Checkpoints[1].LeafEntryID != c.tool {
		t.Fatalf("agent checkpoints -o json: %+v", checkpoints)
	}

	// tasks: in the order they were scheduled.
	r = s.ok("agent", "tasks", id)
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 || lines[0] != "ID\tKIND\tSTATUS\tATTEMPTS\tQUEUE\tENDED\tERROR" ||
		!strings.HasPrefix(lines[1], c.done+"\tlookup\tCOMPLETED\t1/4\tagent-tasks\t") ||
		!strings.HasPrefix(lines[2], c.pending+"\tsummarise\tPENDING\t0/4\tnobody\t") {
		t.Fatalf("agent tasks: %s", r)
	}
	type taskDoc struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Status string `json:"status"`
	}
	var tasks struct {
		Tasks []taskDoc `json:"tasks"`
	}
	decode(t, s.ok("agent", "tasks", id, "-o", "json"), &tasks)
	if !slices.Equal(tasks.Tasks, []taskDoc{{c.done, "lookup", "COMPLETED"}, {c.pending, "summarise", "PENDING"}}) {
		t.Fatalf("agent tasks -o json: %+v", tasks)
	}

	// inspect says what it waits for and shares the tables.
	r = s.ok("agent", "inspect", id)
	for _, want := range []string{"WAITING", "Waiting for", "signal (waiting for followUp)", "Checkpoint", "#2", "Checkpoints (2):", "Tasks (2):", c.pending + "\tsummarise\tPENDING"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("agent inspect lacks %q: %s", want, r)
		}
	}

	// A cancel cancels the task nobody ran; the lists still answer.
	s.ok("agent", "cancel", id)
	decode(t, s.ok("agent", "tasks", id, "-o", "json"), &tasks)
	if tasks.Tasks[1].Status != "CANCELLED" || tasks.Tasks[0].Status != "COMPLETED" {
		t.Fatalf("tasks after cancel: %+v", tasks)
	}
	decode(t, s.ok("agent", "entries", id, "-o", "json"), &entries)
	if len(entries.Entries) != 3 {
		t.Fatalf("entries after cancel: %+v", entries)
	}

	// An agent with nothing yet: empty lists, not errors.
	fresh := strings.TrimSpace(s.ok("agent", "start", "-q", "writer", "--queue", "nobody").stdout)
	for _, sub := range []string{"entries", "checkpoints", "tasks"} {
		r := s.ok("agent", sub, fresh)
		if strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
			t.Fatalf("agent %s of a fresh agent: %s", sub, r)
		}
		var doc map[string][]any
		decode(t, s.ok("agent", sub, fresh, "-o", "json"), &doc)
		if list, ok := doc[sub]; !ok || len(list) != 0 {
			t.Fatalf("agent %s -o json of a fresh agent: %v", sub, doc)
		}
	}

	// Usage errors exit 2 before any request; an unknown agent exits 1.
	unknown := uuid.NewString()
	for _, sub := range []string{"entries", "checkpoints", "tasks"} {
		s.fails(2, `agent id "xyz": not a UUID or an id prefix`, "agent", sub, "xyz")
		s.fails(2, "accepts 1 arg(s), received 0", "agent", sub)
		s.fails(2, "accepts 1 arg(s), received 2", "agent", sub, id, id)
		s.fails(1, unknown, "agent", sub, unknown)
	}
	s.fails(2, `unknown command "entrys" for "flovyn agent"; did you mean entries?`, "agent", "entrys")
}
