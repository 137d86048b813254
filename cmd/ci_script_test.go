package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ciScript is what a user would put in CI: set up a tenant and a worker
// token idempotently, start their worker with the token, run a workflow and
// use its result. $FLOVYN is the flovyn binary; $WORKER starts the user's
// worker (here: this test binary in worker mode).
const ciScript = `set -euo pipefail

flovyn() { "$FLOVYN" "$@"; }

flovyn tenant create ci-project --name "CI project" --if-not-exists >/dev/null
flovyn tenant create ci-project --name "CI project" --if-not-exists >/dev/null  # a re-run is fine
export FLOVYN_TENANT=ci-project

FLOVYN_WORKER_TOKEN=$(flovyn token create --name "ci-$RUN_ID" -q)
export FLOVYN_WORKER_TOKEN
"$WORKER" &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true; wait $WORKER_PID 2>/dev/null || true' EXIT

RESULT=$(flovyn workflow start greet --input '{"name": "pipeline"}' --wait --timeout 60s)
echo "result: $RESULT"

ID=$(flovyn workflow list --kind greet --status COMPLETED -o json | grep -o '"id": "[^"]*"' | head -1 | cut -d'"' -f4)
echo "status: $(flovyn workflow inspect "$ID" | grep '^Status' | tr -s ' ' | cut -d' ' -f2)"

if flovyn workflow start fail --input '{"reason": "tests failed"}' --wait 2>err.txt; then
  echo "a failing workflow exited 0"; exit 1
fi
echo "failure: $(cat err.txt)"
`

func TestCIScript(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	script := filepath.Join(work, "ci.sh")
	if err := os.WriteFile(script, []byte(ciScript), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Dir = work
	cmd.Env = cliEnv(s.home, map[string]string{
		"FLOVYN":         flovynBin,
		"WORKER":         self,
		workerModeEnv:    "1",
		"FLOVYN_GRPC":    "http://" + s.grpc,
		"FLOVYN_SERVER":  s.url,
		"FLOVYN_API_KEY": adminKey,
		"RUN_ID":         "42",
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("CI script: %v\n%s", err, out)
	}
	for _, want := range []string{
		"result: {\n  \"greeting\": \"Hello, PIPELINE\"\n}",
		"status: COMPLETED",
		"failure: flovyn: workflow ",
		"failed: boom: tests failed",
	} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("CI script output lacks %q:\n%s", want, out)
		}
	}
}
