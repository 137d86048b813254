package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flovyn/flovyn/server"
	"github.com/flovyn/flovyn/server/httpapi"
)

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	e := start(t)

	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string         `json:"operationId"`
			Responses   map[string]any `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	e.do("GET", "/api/docs/openapi.json", noAuth, nil).want(200, &doc)
	if doc.OpenAPI != "3.1.0" || doc.Components.SecuritySchemes["bearer"] == nil {
		t.Fatalf("openapi %q, security schemes %v", doc.OpenAPI, doc.Components.SecuritySchemes)
	}
	for _, suffix := range []string{
		"", "/{slug}", "/{slug}/worker-tokens", "/{slug}/worker-tokens/{id}", "/{slug}/worker-token/tokens",
		"/{slug}/api-keys", "/{slug}/api-keys/{id}", "/{slug}/workflow-executions", "/{slug}/workflow-executions/{id}",
		"/{slug}/workflow-executions/{id}/events", "/{slug}/workflow-executions/{id}/tasks",
		"/{slug}/workflow-executions/{id}/children", "/{slug}/workflow-executions/{id}/state",
		"/{slug}/workflow-executions/{id}/cancel", "/{slug}/workflow-executions/{id}/signal",
		"/{slug}/workflow-executions/signal-with-start", "/{slug}/promises/{id}/resolve",
		"/{slug}/promises/{id}/reject", "/{slug}/workers",
	} {
		for _, prefix := range []string{"/api/tenants", "/api/orgs"} {
			if _, ok := doc.Paths[prefix+suffix]; !ok {
				t.Errorf("no path %s%s", prefix, suffix)
			}
		}
	}
	if _, ok := doc.Paths["/api/promises/{id}/resolve"]; !ok {
		t.Error("no path /api/promises/{id}/resolve")
	}
	ids := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if prev, dup := ids[op.OperationID]; dup || op.OperationID == "" {
				t.Errorf("%s %s: operation id %q (also %s)", method, path, op.OperationID, prev)
			}
			ids[op.OperationID] = method + " " + path
			if _, ok := op.Responses["422"]; ok {
				t.Errorf("%s %s documents 422; invalid input is 400", method, path)
			}
			if path != "/api/tenants" && path != "/api/orgs" {
				if _, ok := op.Responses["401"]; !ok {
					t.Errorf("%s %s documents no 401", method, path)
				}
			}
		}
	}
	created := doc.Paths["/api/tenants/{slug}/workflow-executions"]["post"].Responses
	if created["201"] == nil || created["200"] == nil || created["400"] == nil {
		t.Errorf("start documents %v, want 200, 201 and 400", created)
	}

	var v30 struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	e.do("GET", "/api/docs/openapi-3.0.json", noAuth, nil).want(200, &v30)
	if !strings.HasPrefix(v30.OpenAPI, "3.0") || len(v30.Paths) != len(doc.Paths) {
		t.Fatalf("3.0 rendering: openapi %q, %d paths", v30.OpenAPI, len(v30.Paths))
	}
	page := e.do("GET", "/api/docs", noAuth, nil).want(200, nil)
	if !strings.Contains(page.header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), "openapi") {
		t.Fatalf("docs page: %s %.200s", page.header.Get("Content-Type"), page.body)
	}
	e.do("GET", "/_/health", noAuth, nil).want(200, nil)

	// The exported document is the one served.
	exported, err := json.Marshal(httpapi.OpenAPI())
	if err != nil || !strings.Contains(string(exported), `"/api/orgs/{slug}/workflow-executions/{id}/events"`) {
		t.Fatalf("exported document: %v", err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := start(t)
	const path = "/api/tenants/acme/workflow-executions"
	for _, tc := range []struct {
		name, header string
	}{
		{"no credential", ""},
		{"not bearer", "Basic " + ownerKey},
		{"unknown key", "Bearer flovyn_sk_test_unknown"},
		{"unknown worker token", "Bearer fwt_0123456789abcdefghijklmnopqrstuvwxyz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, base: e.base}
			r := e.doHeader("GET", path, tc.header)
			r.problem(401, "")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// Unknown routes need a credential too: nothing is revealed before it.
	e.do("GET", "/api/nothing-here", noAuth, nil).problem(401, "")
	e.do("GET", path, ownerKey, nil).want(200, nil)
	e.do("GET", path, workerKey, nil).want(200, nil)
}

func TestExcludePathsAreConfigurable(t *testing.T) {
	t.Parallel()
	e := start(t, func(o *server.Options) { o.HTTPExcludePaths = []string{"/_/health"} })
	e.do("GET", "/_/health", noAuth, nil).want(200, nil)
	e.do("GET", "/api/docs/openapi.json", noAuth, nil).problem(401, "")
	e.do("GET", "/api/docs/openapi.json", ownerKey, nil).want(200, nil)
}
