package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRequestsAndProblems(t *testing.T) {
	var gotAuth, gotPath, gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath, gotQuery = r.Header.Get("Authorization"), r.URL.EscapedPath(), r.URL.RawQuery
		switch {
		case r.URL.Path == "/api/tenants" && r.Method == http.MethodPost:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"title":"Bad Request","status":400,"detail":"validation failed",` +
				`"errors":[{"message":"expected required property kind to be present","location":"body.kind"}]}`))
		case strings.HasSuffix(r.URL.Path, "/workflow-executions"):
			w.Write([]byte(`{"items":[{"id":"w1","status":"RUNNING"}],"nextCursor":"c2"}`))
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>\n  bad   gateway\n</html>"))
		}
	}))
	defer srv.Close()
	c := New(Options{Server: strings.TrimPrefix(srv.URL, "http://") + "/", APIKey: "k1", Tenant: "a b"})
	ctx := context.Background()

	_, err := c.CreateTenant(ctx, CreateTenantRequest{Slug: "x"})
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || StatusCode(err) != 400 ||
		err.Error() != "validation failed; body.kind: expected required property kind to be present (400 Bad Request)" {
		t.Fatalf("problem: %v", err)
	}
	if gotAuth != "Bearer k1" {
		t.Fatalf("Authorization %q", gotAuth)
	}

	page, err := c.ListWorkflows(ctx, ListWorkflowsOptions{Statuses: []string{"RUNNING", "WAITING"}, Metadata: map[string]string{"team": "blue"}, Limit: 5})
	if err != nil || len(page.Items) != 1 || page.NextCursor == nil || *page.NextCursor != "c2" {
		t.Fatalf("list: %+v %v", page, err)
	}
	if gotPath != "/api/tenants/a%20b/workflow-executions" || gotQuery != "limit=5&metadata.team=blue&status=RUNNING%2CWAITING" {
		t.Fatalf("list request: %s ? %s", gotPath, gotQuery)
	}

	_, err = c.GetTenant(ctx, "x")
	if StatusCode(err) != 502 || err.Error() != "<html> bad gateway </html> (502 Bad Gateway)" {
		t.Fatalf("non-problem error: %v", err)
	}

	if _, err := New(Options{Server: srv.URL}).ListAPIKeys(ctx); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("no tenant: %v", err)
	}
}

func TestConnectError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := New(Options{Server: url}).ListTenants(context.Background())
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "cannot reach the flovyn server at "+url+": ") {
		t.Fatalf("connect error: %v", err)
	}
}

func TestFollow(t *testing.T) {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := polls.Load()
		switch {
		case strings.HasSuffix(r.URL.Path, "/events"):
			n = polls.Add(1)
			var evs []Event
			since := r.URL.Query().Get("sinceSequence")
			if n == 3 && since == "1" {
				evs = append(evs, Event{Sequence: 2, EventType: "WORKFLOW_COMPLETED"})
			} else if since == "" {
				evs = append(evs, Event{Sequence: 1, EventType: "WORKFLOW_STARTED"})
			}
			json.NewEncoder(w).Encode(EventList{Events: evs})
		default:
			status := StatusRunning
			if n >= 3 {
				status = StatusCompleted
			}
			json.NewEncoder(w).Encode(Execution{ID: "w1", Status: status, CurrentSequence: 2})
		}
	}))
	defer srv.Close()
	c := New(Options{Server: srv.URL, Tenant: "t"})
	var seen []string
	w, err := c.Follow(context.Background(), "w1", FollowOptions{Interval: 10 * time.Millisecond, OnEvents: func(evs []Event) {
		for _, e := range evs {
			seen = append(seen, e.EventType)
		}
	}})
	if err != nil || w.Status != StatusCompleted || strings.Join(seen, ",") != "WORKFLOW_STARTED,WORKFLOW_COMPLETED" {
		t.Fatalf("follow: %+v %v %v", w, err, seen)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	polls.Store(-100) // never completes
	if _, err := c.Follow(ctx, "w1", FollowOptions{Since: 5}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("follow past the deadline: %v", err)
	}
}

func TestIDPrefixAndForce(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		switch r.Method {
		case http.MethodDelete:
			w.Write([]byte(`{"id":"c1","kind":"api_key"}`))
		default:
			w.Write([]byte(`{"items":[],"nextCursor":null}`))
		}
	}))
	defer srv.Close()
	c := New(Options{Server: srv.URL, Tenant: "acme"})
	ctx := context.Background()
	if _, err := c.ListWorkflows(ctx, ListWorkflowsOptions{IDPrefix: "7c9e6679", Limit: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeCredential(ctx, KindAPIKey, "c1", RevokeOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeWorkerToken(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /api/tenants/acme/workflow-executions?idPrefix=7c9e6679&limit=2",
		"DELETE /api/tenants/acme/api-keys/c1?force=true",
		"DELETE /api/tenants/acme/worker-tokens/c2?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAgentEntryText(t *testing.T) {
	for _, c := range []struct {
		content string
		text    string
		ok      bool
	}{
		{`"hello"`, "hello", true},
		{`{"text": "hi there"}`, "hi there", true},
		{`{"text": "hi", "tool": "lookup"}`, "", false}, // more than a text: shown as JSON
		{`{"text": 5}`, "", false},
		{`{"content": "hi"}`, "", false},
		{`[1, 2]`, "", false},
		{`null`, "", false},
		{`{"text": null}`, "", false},
		{``, "", false},
	} {
		text, ok := AgentEntry{Content: json.RawMessage(c.content)}.Text()
		if text != c.text || ok != c.ok {
			t.Errorf("Text of %s: %q, %v; want %q, %v", c.content, text, ok, c.text, c.ok)
		}
	}
}

// An agent's lists are read to their end, page by page.
func TestAgentListsFollowCursors(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		switch r.URL.Query().Get("cursor") {
		case "":
			w.Write([]byte(`{"entries":[{"id":"e1"},{"id":"e2"}],"nextCursor":"e2"}`))
		case "e2":
			w.Write([]byte(`{"entries":[{"id":"e3"}]}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	c := New(Options{Server: srv.URL, APIKey: "k", Tenant: "t"})
	entries, err := c.AgentEntries(context.Background(), "a1")
	if err != nil || len(entries) != 3 || entries[2].ID != "e3" {
		t.Fatalf("entries %+v, %v", entries, err)
	}
	if strings.Join(queries, " ") != "limit=500 cursor=e2&limit=500" {
		t.Fatalf("queries %v", queries)
	}
}
