package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Every tenant route, walked from the OpenAPI document, refuses a caller
// of another tenant: with that tenant's slug, and with this tenant's slug
// but the other tenant's ids. Nothing answers 2xx, and reads answer 404
// (not 403), so other tenants' existence is not revealed.
func TestEveryTenantRouteRefusesAnotherTenant(t *testing.T) {
	e := start(t)
	// Something of acme's to aim at: a workflow execution.
	exec := e.do(http.MethodPost, "/api/tenants/acme/workflow-executions", ownerKey,
		map[string]any{"kind": "k", "input": map[string]int{"n": 1}}).obj(http.StatusCreated)
	acmeWorkflow, _ := exec["id"].(string)
	if acmeWorkflow == "" {
		t.Fatalf("no id in %v", exec)
	}

	token := e.do(http.MethodPost, "/api/tenants/acme/worker-tokens", ownerKey,
		map[string]any{"displayName": "w"}).obj(http.StatusCreated)
	acmeToken, _ := token["id"].(string)
	key := e.do(http.MethodPost, "/api/tenants/acme/api-keys", ownerKey,
		map[string]any{"displayName": "k", "role": "VIEWER"}).obj(http.StatusCreated)
	acmeKey, _ := key["id"].(string)
	idFor := func(path string) string {
		switch {
		case strings.Contains(path, "worker-token"):
			return acmeToken
		case strings.Contains(path, "api-keys"):
			return acmeKey
		}
		return acmeWorkflow
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(e.do(http.MethodGet, "/api/docs/openapi.json", noAuth, nil).body, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, ops := range doc.Paths {
		if !strings.Contains(path, "{slug}") {
			continue
		}
		for method := range ops {
			method = strings.ToUpper(method)
			fill := func(slug, id string) string {
				p := strings.ReplaceAll(path, "{slug}", slug)
				p = strings.ReplaceAll(p, "{id}", id)
				return p
			}
			var body any
			if method == http.MethodPost {
				body = map[string]any{}
			}
			// other's owner aims at acme by slug and id.
			r := e.do(method, fill("acme", idFor(path)), otherKey, body)
			if r.status < 400 {
				t.Errorf("%s %s as another tenant: %d %s", method, path, r.status, r.body)
			}
			if method == http.MethodGet && r.status != http.StatusNotFound {
				t.Errorf("%s %s as another tenant: %d, want 404", method, path, r.status)
			}
			// other's owner, own slug, acme's ids: never found.
			if strings.Contains(path, "{id}") {
				r := e.do(method, fill("other", idFor(path)), otherKey, body)
				if r.status < 400 {
					t.Errorf("%s %s with another tenant's id: %d %s", method, path, r.status, r.body)
				}
				if method == http.MethodGet && r.status != http.StatusNotFound {
					t.Errorf("%s %s with another tenant's id: %d, want 404", method, path, r.status)
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d tenant operations found in the OpenAPI document", checked)
	}
	// acme's workflow is untouched by all of that.
	got := e.do(http.MethodGet, "/api/tenants/acme/workflow-executions/"+acmeWorkflow, ownerKey, nil).obj(http.StatusOK)
	if got["status"] != "PENDING" || got["cancelRequested"] == true {
		t.Fatalf("acme's workflow changed: %v", got)
	}
	// And acme's credentials still work.
	if r := e.do(http.MethodGet, "/api/tenants/acme/worker-tokens", ownerKey, nil); r.status != http.StatusOK || strings.Contains(string(r.body), `"revokedAt":"`) {
		t.Fatalf("acme's tokens after the walk: %d %s", r.status, r.body)
	}
}
