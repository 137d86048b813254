package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tmuxSession runs a command in a detached tmux session of a fixed size:
// a real pseudo-terminal whose screen the test reads with capture-pane.
type tmuxSession struct {
	t    *testing.T
	bin  string
	sock string
}

func newTmux(t *testing.T, env []string, width, height int, command string) *tmuxSession {
	t.Helper()
	bin, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed (.ci/run installs it)")
		}
		t.Skip("tmux is not installed")
	}
	// A short socket path: unix sockets are limited to ~100 bytes.
	dir, err := os.MkdirTemp("", "flovyn-tmux-")
	if err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, bin: bin, sock: filepath.Join(dir, "s")}
	t.Cleanup(func() {
		_ = exec.Command(bin, "-S", s.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	cmd := exec.Command(bin, "-S", s.sock, "-f", "/dev/null", "new-session", "-d", "-s", "tui", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), command)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.bin, append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", "tui") }

// keys sends keys by tmux name (Enter, Escape, Tab) or as single characters.
func (s *tmuxSession) keys(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", "tui"}, keys...)...)
}

// text types text literally.
func (s *tmuxSession) text(text string) { s.tmux("send-keys", "-t", "tui", "-l", text) }

// waitFor polls the screen until it shows every one of want.
func (s *tmuxSession) waitFor(want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		screen := s.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q:\n%s", missing, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTUIInTerminal runs `flovyn tui` in a 100×30 pseudo-terminal against a
// real server with running workflows and a waiting agent, reads the screen,
// signals the waiting workflow and the agent through the UI, and quits.
func TestTUIInTerminal(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	token := strings.TrimSpace(s.ok("token", "create", "-q").stdout)
	s.worker(token)
	done := s.startID("greet", "--input", `{"name": "ada"}`)
	waiting := s.startID("await-signal")
	pending := s.startID("nightly-report", "--queue", "nobody")
	s.waitForEvent(done, "WORKFLOW_COMPLETED")
	s.waitForEvent(waiting, "WORKFLOW_SUSPENDED")
	agent := s.researchAgent()

	dir := t.TempDir()
	exitFile := filepath.Join(dir, "exit")
	command := flovynBin + " tui --server " + s.url + " --api-key " + adminKey + " --tenant acme; echo $? > " + exitFile + "; sleep 60"
	env := cliEnv(s.home, map[string]string{"TERM": "xterm-256color"})
	term := newTmux(t, env, 100, 30, command)

	// The list: newest first, each with its kind, short id and status.
	screen := term.waitFor("● live", "3 loaded",
		"nightly-report", pending[:8], "○ PENDING",
		"await-signal", waiting[:8], "◐ WAITING",
		"greet", done[:8], "✓ COMPLETED")
	lines := strings.Split(screen, "\n")
	if !strings.HasPrefix(lines[3], "▸ "+pending[:8]) || !strings.Contains(lines[4], waiting[:8]) || !strings.Contains(lines[5], done[:8]) {
		t.Fatalf("rows are not newest first:\n%s", screen)
	}

	// Open the waiting execution and signal it; the worker completes it.
	term.keys("j", "Enter")
	term.waitFor("◐ WAITING  await-signal  "+waiting, "[1 Overview]")
	term.keys("2")
	term.waitFor("WORKFLOW_STARTED", "WORKFLOW_SUSPENDED")
	term.keys("S")
	term.waitFor("Signal execution " + waiting[:8] + " (await-signal)")
	term.text("go")
	term.keys("Tab")
	term.text(`{"ok": true}`)
	term.keys("Enter")
	term.waitFor(`Send signal "go" with value {"ok":true} to ` + waiting[:8])
	term.keys("y")
	term.waitFor(`✓ Signal "go" sent`)
	term.waitFor("✓ COMPLETED  await-signal", "SIGNAL_RECEIVED", "WORKFLOW_COMPLETED")

	// a switches to the agents; the researcher waits for a signal. Its
	// conversation is on the second tab; a signal through the UI wakes it.
	term.keys("Escape") // alone: ESC and a in one write read as alt+a
	term.waitFor("status all", "3 loaded")
	term.keys("a")
	term.waitFor("› Agents", "1 loaded", agent.agent[:8], "researcher", "◐ WAITING", "agents")
	term.keys("Enter")
	term.waitFor("◐ WAITING  researcher  "+agent.agent, "waiting for signal (waiting for followUp)", "2 Conversation (3)", "4 Tasks (2)")
	term.keys("2")
	term.waitFor("user · message · turn turn-1", "Tell me about tides", "◆ checkpoint #1", `"tool": "lookup"`)
	term.keys("4")
	term.waitFor("lookup", "✓ COMPLETED", "summarise", "○ PENDING")
	term.keys("S")
	term.waitFor("Signal agent " + agent.agent[:8] + " (researcher)")
	term.text("followUp")
	term.keys("Enter", "Enter")
	term.waitFor(`Send signal "followUp" with value null to agent ` + agent.agent[:8])
	term.keys("y")
	term.waitFor(`✓ Signal "followUp" sent to agent `+agent.agent[:8]+" (researcher); it resumed", "○ PENDING  researcher")

	// q leaves the alternate screen and exits 0.
	term.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(exitFile)
		if err == nil && strings.TrimSpace(string(b)) != "" {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Fatalf("flovyn tui exited %s:\n%s", code, term.screen())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flovyn tui did not exit on q:\n%s", term.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if alt := strings.TrimSpace(term.tmux("display-message", "-p", "-t", "tui", "#{alternate_on} #{cursor_flag}")); alt != "0 1" {
		t.Fatalf("the terminal was not restored (alternate screen, cursor shown: %s)", alt)
	}
	if screen := term.screen(); strings.Contains(screen, "● live") {
		t.Fatalf("the TUI is still on screen after quitting:\n%s", screen)
	}
}

// TestTUINeedsTerminal: piped, `flovyn tui` says so instead of drawing.
func TestTUINeedsTerminal(t *testing.T) {
	t.Parallel()
	s := &cliServer{t: t, home: t.TempDir()}
	r := s.fails(2, "flovyn tui needs a terminal", "tui", "--server", "127.0.0.1:1", "--api-key", "k", "--tenant", "acme")
	if r.stdout != "" {
		t.Fatalf("stdout: %s", r)
	}
	s.fails(2, "--refresh 5s: must be between 100ms and 1s", "tui", "--refresh", "5s")
}
