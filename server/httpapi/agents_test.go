package httpapi_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestListAgents(t *testing.T) {
	t.Parallel()
	e := start(t)
	const path = "/api/tenants/acme/agent-executions"
	var started []uuid.UUID
	for i := range 5 {
		kind, queue := "chat", "q-a"
		if i == 4 {
			kind, queue = "research", "q-b"
		}
		var x execution
		e.do("POST", path, ownerKey, map[string]any{"kind": kind, "queue": queue, "input": map[string]int{"n": i}}).want(201, &x)
		started = append(started, x.ID)
	}
	e.do("POST", "/api/tenants/other/agent-executions", otherKey, map[string]any{"kind": "chat", "queue": "q-a"}).want(201, nil)
	slices.Reverse(started) // newest first

	list := func(query string) page {
		t.Helper()
		var p page
		r := e.do("GET", path+"?"+query, ownerKey, nil)
		r.want(200, &p)
		noPayloads(t, r.body, "items")
		return p
	}
	ids := page.ids

	// Pages of 2 over 5: 2, 2, 1, following nextCursor.
	all, sizes := pageAll(list, 2)
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Fatalf("pages of %v items", sizes)
	}
	if !slices.Equal(all, started) {
		t.Fatalf("paged through %v, want %v", all, started)
	}

	if got := ids(list("queue=q-b")); !slices.Equal(got, started[:1]) {
		t.Fatalf("queue=q-b: %v", got)
	}
	if got := ids(list("kind=chat&queue=q-a&status=pending")); !slices.Equal(got, started[1:]) {
		t.Fatalf("kind=chat&queue=q-a&status=pending: %v", got)
	}
	if got := list("status=COMPLETED"); len(got.Items) != 0 {
		t.Fatalf("status=COMPLETED: %v", ids(got))
	}
	p := list("kind=chat&limit=3")
	if p.NextCursor == nil {
		t.Fatal("kind=chat&limit=3: no cursor")
	}
	if got := ids(list("kind=chat&limit=3&cursor=" + url.QueryEscape(*p.NextCursor))); !slices.Equal(got, started[4:]) {
		t.Fatalf("filtered second page: %v", got)
	}

	// Id prefixes, in any case, as for workflows.
	for _, id := range started {
		for _, prefix := range []string{id.String()[:8], strings.ToUpper(id.String()[:13])} {
			if got := ids(list("idPrefix=" + prefix)); !slices.Equal(got, []uuid.UUID{id}) {
				t.Fatalf("idPrefix=%s: %v, want %s", prefix, got, id)
			}
		}
	}
	e.do("GET", path+"?idPrefix=xyz", ownerKey, nil).problem(400, "query.idPrefix")

	e.do("GET", path+"?status=BOGUS", ownerKey, nil).problem(400, "query.status")
	e.do("GET", path+"?cursor=!!!", ownerKey, nil).problem(400, "query.cursor")
	e.do("GET", path+"?limit=0", ownerKey, nil).problem(400, "query.limit")
	e.do("GET", path+"?queue="+url.QueryEscape("a\x00b"), ownerKey, nil).problem(400, "query.queue")
}
