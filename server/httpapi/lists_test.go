package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// noPayloads checks that no entry of the list under key (or of "items")
// carries an input or an output.
func noPayloads(t *testing.T, body []byte, key string) {
	t.Helper()
	var doc map[string]json.RawMessage
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("list %.200s: %v", body, err)
	}
	if err := json.Unmarshal(doc[key], &entries); err != nil {
		t.Fatalf("list %.200s: %s: %v", body, key, err)
	}
	for i, entry := range entries {
		for _, k := range []string{"input", "output"} {
			if v, ok := entry[k]; ok && string(v) != "null" {
				t.Fatalf("%s[%d] carries %s: %.100s", key, i, k, v)
			}
		}
	}
}

// bigInput is a JSON object of about n bytes.
func bigInput(n int) json.RawMessage {
	return json.RawMessage(`{"blob":"` + strings.Repeat("x", n-11) + `"}`)
}

// Lists never carry payloads: an execution with a 1 MiB input is listed in
// a few hundred bytes; GET of the execution has its input.
func TestListsCarryNoPayloads(t *testing.T) {
	t.Parallel()
	e := start(t)
	const path = "/api/tenants/acme/workflow-executions"
	input := bigInput(1 << 20)
	var ids []string
	for range 3 {
		var x execution
		e.do("POST", path, ownerKey, map[string]any{"kind": "big", "queue": "q-big", "input": input}).want(201, &x)
		ids = append(ids, x.ID.String())
	}
	r := e.do("GET", path+"?kind=big", ownerKey, nil)
	var p page
	r.want(200, &p)
	if len(p.Items) != 3 {
		t.Fatalf("listed %d executions", len(p.Items))
	}
	noPayloads(t, r.body, "items")
	if len(r.body) > 8<<10 {
		t.Fatalf("a list of 3 executions is %d bytes", len(r.body))
	}
	var got execution
	e.do("GET", path+"/"+ids[0], ownerKey, nil).want(200, &got)
	if !jsonEq(got.Input, input) {
		t.Fatalf("GET of the execution: input of %d bytes, want %d", len(got.Input), len(input))
	}

	// The document describes the summaries.
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.do("GET", "/api/docs/openapi.json", noAuth, nil).want(200, &doc)
	for _, name := range []string{"ExecutionSummary", "TaskSummary"} {
		s, ok := doc.Components.Schemas[name]
		if !ok || s.Properties["id"] == nil || s.Properties["input"] != nil || s.Properties["output"] != nil {
			t.Errorf("schema %s: %v", name, s.Properties)
		}
	}
	for _, name := range []string{"Execution", "Task"} {
		if s := doc.Components.Schemas[name]; s.Properties["input"] == nil || s.Properties["output"] == nil {
			t.Errorf("schema %s has no input and output: %v", name, s.Properties)
		}
	}
}

func TestListByIDPrefix(t *testing.T) {
	t.Parallel()
	e := start(t)
	const path = "/api/tenants/acme/workflow-executions"
	var ids []uuid.UUID
	for range 5 {
		ids = append(ids, e.startWorkflow(map[string]any{"kind": "p"}).ID)
	}
	e.do("POST", "/api/tenants/other/workflow-executions", otherKey, map[string]any{"kind": "p"}).want(201, nil)
	for _, id := range ids {
		for _, prefix := range []string{id.String()[:8], strings.ToUpper(id.String()[:13]), id.String()} {
			var p page
			e.do("GET", path+"?idPrefix="+prefix, ownerKey, nil).want(200, &p)
			found := false
			for _, x := range p.Items {
				if !strings.HasPrefix(x.ID.String(), strings.ToLower(prefix)) {
					t.Fatalf("idPrefix=%s listed %s", prefix, x.ID)
				}
				found = found || x.ID == id
			}
			if !found {
				t.Fatalf("idPrefix=%s did not list %s", prefix, id)
			}
		}
	}
	var p page
	e.do("GET", path+"?idPrefix="+ids[0].String()+"&kind=other-kind", ownerKey, nil).want(200, &p)
	if len(p.Items) != 0 {
		t.Fatalf("idPrefix with another kind: %+v", p.Items)
	}
	for _, bad := range []string{"xyz", "0123%00", strings.Repeat("a", 37), "12_4", "%FF", "12%2534"} {
		e.do("GET", path+"?idPrefix="+bad, ownerKey, nil).problem(400, "query.idPrefix")
	}
}

// TestMeasureListMemory measures the server's peak memory and the response
// of a list of 200 executions with a 1 MiB input each. It runs only with
// FLOVYN_MEASURE=1 (it writes 400 MiB to the database).
func TestMeasureListMemory(t *testing.T) {
	if os.Getenv("FLOVYN_MEASURE") == "" {
		t.Skip("set FLOVYN_MEASURE=1 to measure")
	}
	e := start(t)
	const path = "/api/tenants/acme/workflow-executions"
	input := bigInput(1 << 20)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for range 200 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(`{"kind":"big","input":`+string(input)+`}`))
			req.Header.Set("Authorization", "Bearer "+ownerKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Errorf("start: %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	before := rss(t)
	start := time.Now()
	req, _ := http.NewRequest("GET", e.base+path+"?limit=200", nil)
	req.Header.Set("Authorization", "Bearer "+ownerKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	after := rss(t)
	t.Logf("list of 200 executions with a 1 MiB input: %d, %d bytes in %v; peak RSS (VmHWM) %d MiB before, %d MiB after",
		resp.StatusCode, n, took, before>>20, after>>20)
}

// rss is this process's peak resident set (VmHWM), in bytes.
func rss(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal(fmt.Errorf("no VmHWM"))
	return 0
}

// TestMeasureLargeStarts measures the server's peak memory under 20
// concurrent starts of 15 MB bodies (chunked, so their length is unknown),
// then 20 of 2 MiB inputs. It runs only with FLOVYN_MEASURE=1.
func TestMeasureLargeStarts(t *testing.T) {
	if os.Getenv("FLOVYN_MEASURE") == "" {
		t.Skip("set FLOVYN_MEASURE=1 to measure")
	}
	e := start(t)
	for _, size := range []int{15_000_000, 2<<20 - 64} {
		body := `{"kind":"big","input":"` + strings.Repeat("x", size) + `"}`
		before := rss(t)
		statuses := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		began := time.Now()
		for range 20 {
			wg.Go(func() {
				// No Content-Length: the body is sent chunked.
				req, _ := http.NewRequest("POST", e.base+"/api/tenants/acme/workflow-executions", io.MultiReader(strings.NewReader(body)))
				req.Header.Set("Authorization", "Bearer "+ownerKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				status := -1
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		t.Logf("20 concurrent chunked starts of %d bytes: statuses %v in %v; peak RSS (VmHWM) %d MiB before, %d MiB after",
			len(body), statuses, time.Since(began).Round(time.Millisecond), before>>20, rss(t)>>20)
	}
}
