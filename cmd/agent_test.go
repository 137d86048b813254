package cmd_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
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

	// A malformed id is a usage error naming the argument; an unknown one exits 1.
	for _, args := range [][]string{
		{"inspect", "xyz"}, {"signal", "xyz", "go"}, {"cancel", "xyz"}, {"inspect", id[:8]},
	} {
		bad := args[1]
		s.fails(2, `agent id "`+bad+`": not a UUID`, append([]string{"agent"}, args...)...)
	}
	unknown := uuid.NewString()
	for _, args := range [][]string{{"inspect", unknown}, {"signal", unknown, "go"}, {"cancel", unknown}} {
		s.fails(1, unknown, append([]string{"agent"}, args...)...)
	}
	s.fails(2, "accepts 2 arg(s)", "agent", "signal", id)
}
