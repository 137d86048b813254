package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/danielgtaylor/huma/v2/validation"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/store"
)

// Paths of the API description and its docs page.
const (
	DocsPath    = "/api/docs"
	OpenAPIPath = "/api/docs/openapi" // + ".json", "-3.0.json", ".yaml", "-3.0.yaml"
)

// DefaultExcludePaths are the paths served without credentials when the
// options name none: health, the docs page, the API description, metrics.
var DefaultExcludePaths = []string{"/_/health", DocsPath, OpenAPIPath + ".json", "/metrics"}

// Options configures the HTTP surface.
type Options struct {
	Store  *store.Store
	Engine *engine.Engine
	Auth   *auth.Authenticator
	// Methods are the credential kinds the REST API accepts.
	Methods auth.Methods
	// Authorizer decides what each principal may do; nil uses TenantScope.
	Authorizer auth.Authorizer
	// ExcludePaths are exact paths served without credentials; nil means
	// DefaultExcludePaths. Excluding OpenAPIPath+".json" also excludes the
	// other renderings of the same document.
	ExcludePaths []string
	// Metrics serves Prometheus' /metrics.
	Metrics bool
	Logger  *slog.Logger
}

// api holds what the REST handlers share.
type api struct {
	store   *store.Store
	engine  *engine.Engine
	auth    *auth.Authenticator
	methods auth.Methods
	authz   auth.Authorizer
	exclude map[string]bool
	log     *slog.Logger
}

// New returns the HTTP handler: health, metrics, the REST admin API, its
// OpenAPI document and docs page. Every path but the excluded ones needs a
// bearer credential; without a valid one the answer is 401 problem+json.
func New(o Options) http.Handler {
	a := &api{
		store: o.Store, engine: o.Engine, auth: o.Auth, methods: o.Methods, authz: o.Authorizer,
		exclude: map[string]bool{}, log: o.Logger,
	}
	if a.authz == nil {
		a.authz = TenantScope{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	exclude := o.ExcludePaths
	if exclude == nil {
		exclude = DefaultExcludePaths
	}
	for _, p := range exclude {
		a.exclude[p] = true
		if p == OpenAPIPath+".json" {
			for _, alt := range []string{"-3.0.json", ".yaml", "-3.0.yaml"} {
				a.exclude[OpenAPIPath+alt] = true
			}
		}
	}

	mux := http.NewServeMux()
	mux.Handle("GET /_/health", Health(o.Store))
	if o.Metrics {
		mux.Handle("GET /metrics", promhttp.Handler())
	}
	h := humago.New(mux, humaConfig())
	a.routes(h)
	finishDocument(h.OpenAPI())
	return a.authenticate(mux)
}

// OpenAPI returns the API description, for tools that export it.
func OpenAPI() *huma.OpenAPI {
	h := humago.New(http.NewServeMux(), humaConfig())
	(&api{}).routes(h)
	finishDocument(h.OpenAPI())
	return h.OpenAPI()
}

func humaConfig() huma.Config {
	c := huma.DefaultConfig("flovyn", "1.0.0")
	c.Info.Description = "The flovyn admin API: tenants (also called orgs), credentials, workflow executions, " +
		"promises and workers. Every tenant route is served under both /api/tenants/{slug} and /api/orgs/{slug}. " +
		"Errors are RFC 9457 problem+json documents; invalid input is always 400."
	c.OpenAPIPath = OpenAPIPath
	c.DocsPath = DocsPath
	c.DocsRenderer = huma.DocsRendererSwaggerUI
	c.SchemasPath = ""
	c.CreateHooks = nil // no $schema links in responses
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer",
			Description: "A worker token (fwt_…), an API key (fak_…), a static key from the configuration or a JWT."},
	}
	c.Security = []map[string][]string{{"bearer": {}}}
	return c
}

func init() {
	// Invalid input is 400 everywhere: huma's schema validation says 422,
	// which this API does not use. A missing property is reported at its
	// own location (body.kind), not at the object that lacks it (body).
	newError := huma.NewError
	missingPrefix, missingSuffix, _ := strings.Cut(validation.MsgExpectedRequiredProperty, "%s")
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		for _, err := range errs {
			d, ok := err.(*huma.ErrorDetail)
			if !ok || d.Location == "" {
				continue
			}
			if name, ok := strings.CutPrefix(d.Message, missingPrefix); ok {
				if name, ok := strings.CutSuffix(name, missingSuffix); ok {
					d.Location += "." + name
				}
			}
		}
		return newError(status, msg, errs...)
	}
}

// finishDocument makes the document say what the API does: 422 responses
// huma adds are 400 here.
func finishDocument(doc *huma.OpenAPI) {
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			if r, ok := op.Responses["422"]; ok {
				delete(op.Responses, "422")
				if _, ok := op.Responses["400"]; !ok {
					r.Description = http.StatusText(http.StatusBadRequest)
					op.Responses["400"] = r
				}
			}
		}
	}
}

// authenticate resolves the bearer credential of every request to a path
// that is not excluded, refusing it with 401 when missing or invalid.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.exclude[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.auth.Authenticate(r.Context(), r.Header.Get("Authorization"), a.methods)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="flovyn"`)
			writeProblem(w, http.StatusUnauthorized, err.Error())
			return
		case err != nil && r.Context().Err() != nil:
			return
		case err != nil:
			a.log.Error("http authentication failed", "path", r.URL.Path, "err", err)
			writeProblem(w, http.StatusInternalServerError, "could not check the credential; try again")
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// writeProblem writes an RFC 9457 problem document outside huma.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail})
}

// routePrefixes are the two spellings of the tenant routes.
var routePrefixes = []struct{ path, idPrefix string }{
	{"/api/tenants", ""},
	{"/api/orgs", "orgs-"},
}

// register adds op under /api/tenants and again under /api/orgs; op.Path is
// the rest of the path (e.g. "/{slug}/workers").
func register[I, O any](h huma.API, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	for _, p := range routePrefixes {
		o := op
		o.Path = p.path + op.Path
		o.OperationID = p.idPrefix + op.OperationID
		o.Responses = cloneResponses(op.Responses)
		huma.Register(h, o, handler)
	}
}

func cloneResponses(r map[string]*huma.Response) map[string]*huma.Response {
	if r == nil {
		return nil
	}
	out := make(map[string]*huma.Response, len(r))
	for k, v := range r {
		c := *v
		out[k] = &c
	}
	return out
}

// alsoResponds documents another success status answered with body type T.
func alsoResponds[T any](h huma.API, status, description string) map[string]*huma.Response {
	schema := h.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[T](), true, reflect.TypeFor[T]().Name())
	return map[string]*huma.Response{status: {
		Description: description,
		Content:     map[string]*huma.MediaType{"application/json": {Schema: schema}},
	}}
}

// errors documented on every tenant route, besides 400 and 500.
var tenantErrors = []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}

func errorsPlus(extra ...int) []int {
	return append(append([]int{}, tenantErrors...), extra...)
}

func (a *api) routes(h huma.API) {
	a.tenantRoutes(h)
	a.credentialRoutes(h)
	a.workflowRoutes(h)
	a.promiseRoutes(h)
	a.workerRoutes(h)
}

// Tags group the operations in the docs.
const (
	tagTenants     = "Tenants"
	tagCredentials = "Credentials"
	tagWorkflows   = "Workflow executions"
	tagPromises    = "Promises"
	tagWorkers     = "Workers"
)

// errorField is the location huma reports a bad value at, e.g. "body.slug".
func errorField(location, msg string, value any) error {
	return &huma.ErrorDetail{Location: location, Message: msg, Value: value}
}

func badRequest(location, msg string, value any) error {
	return huma.Error400BadRequest(location+": "+msg, errorField(location, msg, value))
}

// restField maps an engine field name (the proto's) onto this API's.
func restField(field string) string {
	switch field {
	case "workflow_kind":
		return "body.kind"
	case "idempotency_key_ttl_seconds":
		return "body.idempotencyKeyTtl"
	case "promise_id":
		return "path.id"
	}
	parts := strings.Split(field, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return "body." + strings.Join(parts, "")
}

// fail turns an error from the engine or the store into a problem.
func (a *api) fail(what string, err error) error {
	var inv *engine.InvalidError
	var se huma.StatusError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &inv):
		return badRequest(restField(inv.Field), inv.Msg, nil)
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(what + " not found")
	case errors.Is(err, engine.ErrTerminal):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict(what + " already exists")
	case errors.Is(err, auth.ErrForbidden):
		return huma.Error403Forbidden(err.Error())
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "request cancelled")
	}
	a.log.Error("request failed", "what", what, "err", err)
	return huma.Error500InternalServerError("internal error; see the server log")
}
