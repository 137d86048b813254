package tui

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/screens from the current views")

// TestScreens keeps a text capture of each view at 100×30 (the README shows
// them): go test ./tui -run TestScreens -update rewrites them.
func TestScreens(t *testing.T) {
	h := newHarness(t, sampleAPI(), 100, 30)
	capture := func(name string) {
		t.Helper()
		got := plainScreen(h.view())
		path := filepath.Join("testdata", "screens", name+".txt")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("screen %s changed (run with -update if that is intended):\n%s", name, got)
		}
	}
	capture("list")
	h.press("j", "j", "enter")
	capture("detail-overview")
	h.press("2")
	capture("detail-events")
	h.press("3")
	capture("detail-tasks")
	h.press("4")
	capture("detail-timeline")
	h.press("?")
	capture("help")
	h.press("?", "p")
	h.typeText(`{"approved": true, "by": "grace"}`)
	capture("dialog-resolve")
	h.press("enter")
	capture("confirm-resolve")
	h.press("esc", "esc", "c")
	h.typeText("customer asked")
	h.press("enter")
	capture("confirm-cancel")
	h.press("esc", "esc", "esc", "a")
	capture("agents")
	h.press("j", "j", "enter")
	capture("agent-overview")
	h.press("2")
	capture("agent-conversation")
	h.press("3")
	capture("agent-checkpoints")
	h.press("4")
	capture("agent-tasks")
	h.press("5")
	capture("agent-timeline")
	h.press("?")
	capture("agent-help")
	h.press("?", "S")
	h.typeText("followUp")
	h.press("tab")
	h.typeText(`{"question": "and spring tides?"}`)
	h.press("enter")
	capture("confirm-agent-signal")
}

// TestReadmeShowsScreens keeps the README's captures in step with
// testdata/screens: each capture is in it, in a code block of its own, with
// runs of blank lines shortened to one.
func TestReadmeShowsScreens(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "screens", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if l == "" && len(lines) > 0 && lines[len(lines)-1] == "" {
				continue
			}
			lines = append(lines, l)
		}
		block := "```\n" + strings.Join(lines, "\n") + "\n```"
		if !strings.Contains(string(readme), block) {
			t.Errorf("README.md does not show %s as it is now; paste this block:\n%s", f, block)
		}
	}
}

// plainScreen drops the trailing spaces of each line.
func plainScreen(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}
