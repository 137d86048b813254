package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/danielgtaylor/huma/v2/validation"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
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
	Engine *engine.Engine
	Auth   *auth.Authenticator
	// Methods are the credential kinds the REST API accepts.
	Methods auth.Methods
	// Authorizer decides what each principal may do (required; nil denies everything).
	Authorizer auth.Authorizer
	// ExcludePaths are exact paths served without credentials; nil means
	// DefaultExcludePaths. Excluding OpenAPIPath+".json" also excludes the
	// other renderings of the same document.
	ExcludePaths []string
	// Metrics serves Prometheus' /metrics.
	Metrics bool
	Logger  *slog.Logger
	// MaxPayloadBytes bounds each payload a request carries (workflow input,
	// signal value, promise value); 0 means limits.DefaultMaxPayloadBytes.
	// A request body may hold that much per payload plus EnvelopeBytes.
	MaxPayloadBytes int
	// MaxLargeBodies is how many requests with a body over LargeBodyBytes
	// (or of unknown length) are read at once; 0 means DefaultMaxLargeBodies.
	MaxLargeBodies int
	// LargeBodyWait bounds how long such a request waits for its turn before
	// it is refused with 503; 0 means DefaultLargeBodyWait.
	LargeBodyWait time.Duration
}

// api holds what the REST handlers share.
type api struct {
	engine     *engine.Engine
	auth       *auth.Authenticator
	methods    auth.Methods
	authz      auth.Authorizer
	exclude    map[string]bool
	log        *slog.Logger
	maxPayload int
}

func newAPI(o Options) *api {
	a := &api{
		engine: o.Engine, auth: o.Auth, methods: o.Methods, authz: o.Authorizer,
		exclude: map[string]bool{}, log: o.Logger, maxPayload: o.MaxPayloadBytes,
	}
	if a.maxPayload <= 0 {
		a.maxPayload = limits.DefaultMaxPayloadBytes
	}
	return a
}

// New returns the HTTP handler: health, metrics, the REST admin API, its
// OpenAPI document and docs page. Every path but the excluded ones needs a
// bearer credential; without a valid one the answer is 401 problem+json.
func New(o Options) http.Handler {
	a := newAPI(o)
	if a.authz == nil {
		a.authz = auth.DenyAll{} // fail closed: the server always configures its policies
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
	mux.Handle("GET /_/health", Health(o.Engine))
	if o.Metrics {
		mux.Handle("GET /metrics", promhttp.Handler())
	}
	h := humago.New(mux, humaConfig())
	a.routes(h)
	finishDocument(h.OpenAPI())
	gate := newBodyGate(a.maxBodyBytes(), o.MaxLargeBodies, o.LargeBodyWait)
	return a.authenticate(gate.wrap(mux))
}

// OpenAPI returns the API description, for tools that export it.
func OpenAPI() *huma.OpenAPI {
	h := humago.New(http.NewServeMux(), humaConfig())
	newAPI(Options{}).routes(h)
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
	c.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	return c
}

// jsonFormat is huma's JSON format refusing a body that is not UTF-8
// (RFC 8259 requires it): encoding/json would silently turn each invalid
// byte of a string into U+FFFD, and keep them as they are in a payload.
var jsonFormat = huma.Format{
	Marshal: huma.DefaultJSONFormat.Marshal,
	Unmarshal: func(data []byte, v any) error {
		if !utf8.Valid(data) {
			return fmt.Errorf("not valid UTF-8 (at byte %d): a JSON body must be UTF-8", invalidUTF8At(data))
		}
		return json.Unmarshal(data, v)
	},
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// maxEchoedValue bounds the value a problem echoes back: a refused body is
// not sent back whole.
const maxEchoedValue = 256

func init() {
	// Property names are exact: encoding/json would take "Kind" for "kind"
	// (and the last of the two when both are sent).
	huma.ValidateStrictCasing = true
	// Invalid input is 400 everywhere: huma's schema validation says 422,
	// which this API does not use. A missing property is reported at its
	// own location (body.kind), not at the object that lacks it (body).
	newError := huma.NewError
	missingPrefix, missingSuffix, _ := strings.Cut(validation.MsgExpectedRequiredProperty, "%s")
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		status, msg, errs = bodyReadError(status, msg, errs)
		for _, err := range errs {
			d, ok := err.(*huma.ErrorDetail)
			if !ok {
				continue
			}
			if v, ok := d.Value.(string); ok && len(v) > maxEchoedValue {
				d.Value = strings.ToValidUTF8(v[:maxEchoedValue], "") + "…"
			}
			if d.Location == "" {
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

// bodyReadError rewords huma's errors about reading a request body: a body
// over the operation's limit names the limit (413), and one that could not
// be read is the client's fault (400, or 413 when http.MaxBytesReader
// stopped it), never a 500.
func bodyReadError(status int, msg string, errs []error) (int, string, []error) {
	var limit int64
	switch {
	case status == http.StatusRequestEntityTooLarge && strings.HasPrefix(msg, "request body is too large"):
		_, _ = fmt.Sscanf(msg, "request body is too large limit=%d bytes", &limit)
	case status == http.StatusInternalServerError && msg == "cannot read request body":
		var mbe *http.MaxBytesError
		for _, err := range errs {
			if errors.As(err, &mbe) {
				limit = mbe.Limit
			}
		}
		if limit == 0 {
			return http.StatusBadRequest, "could not read the request body",
				[]error{&huma.ErrorDetail{Location: "body", Message: "the request body could not be read"}}
		}
	default:
		return status, msg, errs
	}
	m := fmt.Sprintf("the request body is %d bytes or more: this operation accepts less (each payload is limited by "+
		"max_payload_bytes, the rest of the body by %d bytes)", limit, EnvelopeBytes)
	return http.StatusRequestEntityTooLarge, "request body too large",
		[]error{&huma.ErrorDetail{Location: "body", Message: m}}
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

// maxAuthorization bounds the Authorization header: JWTs of identity
// providers can be a few kilobytes, never more.
const maxAuthorization = 16 << 10

// authenticate resolves the bearer credential of every request to a path
// that is not excluded, refusing it with 401 when missing or invalid.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.exclude[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		header := r.Header.Get("Authorization")
		var p auth.Principal
		var err error
		if limits.Text("Authorization", header, maxAuthorization) != nil {
			// No credential holds such bytes; the store is not asked.
			err = fmt.Errorf("%w: unknown credential", auth.ErrUnauthenticated)
		} else {
			p, err = a.auth.Authenticate(r.Context(), header, a.methods)
		}
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
func writeProblem(w http.ResponseWriter, status int, detail string, errs ...*huma.ErrorDetail) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs})
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
	a.agentRoutes(h)
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

// restField maps an engine field name (the proto's, e.g. "workflow_kind"
// or "metadata.<key>") onto this API's location ("body.kind",
// "body.metadata.<key>"). Only the first segment is renamed: a metadata key
// is the caller's own spelling.
func restField(field string) string {
	head, rest, dotted := strings.Cut(field, ".")
	switch head {
	case "workflow_kind":
		head = "kind"
	case "workflow_input":
		head = "input"
	case "workflow_version":
		head = "version"
	case "idempotency_key_ttl_seconds":
		head = "idempotencyKeyTtl"
	case "promise_id":
		return "path.id"
	case "request", "":
		return "body"
	}
	if strings.Trim(head, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return "body" // not a field, e.g. "history of <id>"
	}
	parts := strings.Split(head, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	head = strings.Join(parts, "")
	if dotted {
		return "body." + head + "." + rest
	}
	return "body." + head
}

// refused turns a *limits.Error raised at this edge, whose Field already is
// a location of this API ("query.kind"), into a 400 problem.
func refused(err error) error {
	var le *limits.Error
	if errors.As(err, &le) {
		return badRequest(le.Field, le.Msg, nil)
	}
	return err
}

// tooLarge is the 413 problem of a payload (or a history) over its limit.
func tooLarge(location string, e *limits.TooLargeError) error {
	msg := fmt.Sprintf("%d bytes exceeds the %s limit of %d bytes", e.Size, e.Limit, e.Max)
	if location == "body" {
		msg = e.Error() // what grew too large, in the engine's words
	}
	return huma.NewError(http.StatusRequestEntityTooLarge, location+": "+msg, errorField(location, msg, nil))
}

// fail turns an error from the engine or the authenticator into a problem.
func (a *api) fail(what string, err error) error {
	var inv *engine.InvalidError
	var big *limits.TooLargeError
	var settled *engine.SettledError
	var se huma.StatusError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &inv):
		return badRequest(restField(inv.Field), inv.Msg, nil)
	case errors.As(err, &big):
		return tooLarge(restField(big.Field), big)
	case errors.As(err, &settled):
		return huma.Error409Conflict(settled.Error())
	case errors.Is(err, engine.ErrNotFound):
		return huma.Error404NotFound(what + " not found")
	case errors.Is(err, engine.ErrTerminal):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, engine.ErrConflict):
		return huma.Error409Conflict(what + " already exists")
	case errors.Is(err, auth.ErrForbidden):
		return huma.Error403Forbidden(err.Error())
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "request cancelled")
	}
	a.log.Error("request failed", "what", what, "err", err)
	return huma.Error500InternalServerError("internal error; see the server log")
}
