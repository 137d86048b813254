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
}

// plainScreen drops the trailing spaces of each line.
func plainScreen(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}
