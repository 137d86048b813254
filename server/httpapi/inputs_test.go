package httpapi_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/limits"
)

// Every bad input is a 4xx problem naming the field at fault; none is a
// 500, and nothing is stored.
func TestRefusedInputs(t *testing.T) {
	t.Parallel()
	e := start(t)
	live := e.startWorkflow(map[string]any{"kind": "target", "queue": "q-refused"}).ID.String()
	const wf = "/api/tenants/acme/workflow-executions"
	one := wf + "/" + live
	promise := "/api/tenants/acme/promises/"
	long := func(n int) string { return strings.Repeat("a", n) }
	start := func(extra string) string { return `{"kind":"k",` + extra + `}` }
	type tc struct {
		method, path string
		body         any // nil, a raw string, or a value sent as JSON
		status       int
		location     string
	}
	cases := []tc{
		// Path parameters.
		{"GET", "/api/tenants/ac%00me/workflow-executions", nil, 400, "path.slug"},
		{"GET", "/api/tenants/%FF%FE/workflow-executions", nil, 400, "path.slug"},
		{"GET", "/api/tenants/" + long(300) + "/workflow-executions", nil, 400, "path.slug"},
		{"GET", "/api/orgs/ac%00me", nil, 400, "path.slug"},
		{"POST", "/api/tenants/%FF/worker-tokens", map[string]any{}, 400, "path.slug"},
		{"GET", wf + "/%00", nil, 400, "path.id"},
		{"GET", wf + "/" + live + "%FF/events", nil, 400, "path.id"},
		{"POST", promise + live + ":na%00me/resolve", map[string]any{"value": 1}, 400, "path.id"},
		{"POST", promise + live + ":%FF/reject", map[string]any{}, 400, "path.id"},
		{"POST", "/api/promises/" + live + ":" + long(300) + "/resolve", map[string]any{}, 400, "path.id"},
		{"DELETE", "/api/tenants/acme/api-keys/%00", nil, 400, "path.id"},
		// Query filters.
		{"GET", wf + "?kind=a%00b", nil, 400, "query.kind"},
		{"GET", wf + "?queue=%FF", nil, 400, "query.queue"},
		{"GET", wf + "?kind=" + long(256), nil, 400, "query.kind"},
		{"GET", wf + "?metadata.env=%00", nil, 400, "query.metadata.env"},
		{"GET", wf + "?metadata.%FF=x", nil, 400, "query.metadata"},
		{"GET", wf + "?metadata.k=" + long(limits.MaxMetadataValue+1), nil, 400, "query.metadata.k"},
		{"GET", wf + "?metadata.=x", nil, 400, "query.metadata."},
		{"GET", wf + "?limit=NaN", nil, 400, "query.limit"},
		{"GET", wf + "?limit=Inf", nil, 400, "query.limit"},
		{"GET", wf + "?limit=1e3", nil, 400, "query.limit"},
		{"GET", wf + "?limit=99999999999999999999", nil, 400, "query.limit"},
		{"GET", wf + "?limit=-1", nil, 400, "query.limit"},
		{"GET", wf + "?status=PENDING%00", nil, 400, "query.status"},
		{"GET", wf + "?cursor=%FF%00", nil, 400, "query.cursor"},
		{"GET", wf + "?createdAfter=2026-01-01T00:00:00Z%00", nil, 400, "query.createdAfter"},
		{"GET", wf + "?idPrefix=zz", nil, 400, "query.idPrefix"},
		{"GET", one + "/events?sinceSequence=4294967297", nil, 400, "query.sinceSequence"},
		{"GET", one + "/events?sinceSequence=NaN", nil, 400, "query.sinceSequence"},
		{"GET", one + "/state?key=a%00", nil, 400, "query.key"},
		{"GET", one + "/state?key=%FF", nil, 400, "query.key"},
		{"GET", "/api/tenants/acme/workers?status=ONLINE%00", nil, 400, "query.status"},
		{"DELETE", "/api/tenants/acme/api-keys/" + uuid.NewString() + "?force=maybe", nil, 400, "query.force"},
		// Start bodies.
		{"POST", wf, "{\"kind\":\"\xff\"}", 400, "body"},
		{"POST", wf, start("\"input\":{\"a\":\"\xc3\x28\"}"), 400, "body"},
		{"POST", wf, `{"kind":"a\u0000b"}`, 400, "body.kind"},
		{"POST", wf, map[string]any{"kind": long(256)}, 400, "body.kind"},
		{"POST", wf, start(`"queue":"q\u0000"`), 400, "body.queue"},
		{"POST", wf, start(`"version":"\u0000"`), 400, "body.version"},
		{"POST", wf, start(`"idempotencyKey":"k\u0000"`), 400, "body.idempotencyKey"},
		{"POST", wf, map[string]any{"kind": "k", "idempotencyKey": long(limits.MaxIdempotencyKey + 1)}, 400, "body.idempotencyKey"},
		{"POST", wf, start(`"prioritySeconds":3000000000`), 400, "body.prioritySeconds"},
		{"POST", wf, start(`"prioritySeconds":-3000000000`), 400, "body.prioritySeconds"},
		{"POST", wf, start(`"prioritySeconds":1.5`), 400, "body.prioritySeconds"},
		{"POST", wf, start(`"prioritySeconds":NaN`), 400, "body"},
		{"POST", wf, start(`"prioritySeconds":1e400`), 400, "body"},
		{"POST", wf, start(`"prioritySeconds":"Infinity"`), 400, "body.prioritySeconds"},
		{"POST", wf, start(`"idempotencyKey":"k","idempotencyKeyTtl":9223372036854775807`), 400, "body.idempotencyKeyTtl"},
		{"POST", wf, start(`"idempotencyKey":"k","idempotencyKeyTtl":1e19`), 400, "body.idempotencyKeyTtl"},
		{"POST", wf, start(`"idempotencyKeyTtl":-1`), 400, "body.idempotencyKeyTtl"},
		{"POST", wf, start(`"metadata":{"env":"a\u0000"}`), 400, "body.metadata.env"},
		{"POST", wf, map[string]any{"kind": "k", "metadata": map[string]string{"k": long(limits.MaxMetadataValue + 1)}}, 400, "body.metadata.k"},
		{"POST", wf, map[string]any{"kind": "k", "metadata": map[string]string{long(limits.MaxMetadataKey + 1): "v"}}, 400, "body.metadata"},
		{"POST", wf, start(`"input":{"a":1`), 400, "body"},
		// Signal, signal-with-start, cancel, query.
		{"POST", one + "/signal", `{"signalName":"a\u0000"}`, 400, "body.signalName"},
		{"POST", one + "/signal", "{\"signalName\":\"\xff\"}", 400, "body"},
		{"POST", one + "/signal", map[string]any{"signalName": long(256)}, 400, "body.signalName"},
		{"POST", wf + "/signal-with-start", `{"workflowId":"w\u0000","kind":"k","signalName":"s"}`, 400, "body.workflowId"},
		{"POST", wf + "/signal-with-start", `{"workflowId":"w","kind":"k","signalName":"s","idempotencyKeyTtl":1e12}`, 400, "body.idempotencyKeyTtl"},
		{"POST", wf + "/signal-with-start", `{"workflowId":"w","kind":"k","signalName":"s","prioritySeconds":2147483648}`, 400, "body.prioritySeconds"},
		{"POST", one + "/cancel", `{"reason":"r\u0000"}`, 400, "body.reason"},
		{"POST", one + "/query", `{"queryName":"q\u0000"}`, 400, "body.queryName"},
		{"POST", one + "/query", map[string]any{"queryName": long(256)}, 400, "body.queryName"},
		// Promises.
		{"POST", promise + live + ":p/reject", `{"error":"e\u0000"}`, 400, "body.error"},
		{"POST", promise + live + ":p/resolve", "{\"value\":\"\xff\"}", 400, "body"},
		{"POST", promise + live + ":p/resolve", map[string]any{"value": bigInput(limits.DefaultMaxPayloadBytes + 1)}, 413, "body.value"},
		{"POST", wf, map[string]any{"kind": "k", "input": bigInput(limits.DefaultMaxPayloadBytes + 1)}, 413, "body.input"},
		// Tenants and credentials (these never reach the engine).
		{"POST", "/api/tenants", `{"slug":"fresh","name":"n\u0000"}`, 400, "body.name"},
		{"POST", "/api/tenants", `{"slug":"fresh","region":"\u0000"}`, 400, "body.region"},
		{"POST", "/api/tenants", map[string]any{"slug": "fresh", "tier": long(256)}, 400, "body.tier"},
		{"POST", "/api/tenants", `{"slug":"fr\u0000esh"}`, 400, "body.slug"},
		{"POST", "/api/tenants/acme/worker-tokens", `{"displayName":"ci\u0000"}`, 400, "body.displayName"},
		{"POST", "/api/tenants/acme/worker-tokens", map[string]any{"expiresAt": "2001-01-01T00:00:00Z"}, 400, "body.expiresAt"},
		{"POST", "/api/tenants/acme/api-keys", map[string]any{"displayName": long(256)}, 400, "body.displayName"},
		{"POST", "/api/tenants/acme/api-keys", "{\"displayName\":\"\xff\"}", 400, "body"},
		{"POST", "/api/tenants/acme/api-keys", map[string]any{"expiresAt": "10000-01-01T00:00:00Z"}, 400, "body.expiresAt"},
	}
	count := func() (workflows, tenants, keys, tokens int) {
		var p page
		e.do("GET", wf+"?limit=500", ownerKey, nil).want(200, &p)
		var ts struct {
			Tenants []any `json:"tenants"`
		}
		e.do("GET", "/api/tenants", adminKey, nil).want(200, &ts)
		var ks, ws struct {
			Credentials []any `json:"credentials"`
		}
		e.do("GET", "/api/tenants/acme/api-keys", ownerKey, nil).want(200, &ks)
		e.do("GET", "/api/tenants/acme/worker-tokens", ownerKey, nil).want(200, &ws)
		return len(p.Items), len(ts.Tenants), len(ks.Credentials), len(ws.Credentials)
	}
	w0, t0, k0, tk0 := count()
	for _, c := range cases {
		token := ownerKey
		if strings.HasPrefix(c.path, "/api/tenants?") || c.path == "/api/tenants" {
			token = adminKey
		}
		r := e.do(c.method, c.path, token, c.body)
		if r.status != c.status {
			t.Errorf("%s %.120s %.80v = %d %.300s, want %d at %s", c.method, c.path, c.body, r.status, r.body, c.status, c.location)
			continue
		}
		if !named(r.body, c.location) {
			t.Errorf("%s %.120s %.80v: problem %.300s names no error at %s", c.method, c.path, c.body, r.body, c.location)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %.120s: content type %q", c.method, c.path, ct)
		}
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	if w, ts, k, tk := count(); w != w0 || ts != t0 || k != k0 || tk != tk0 {
		t.Fatalf("refused requests stored something: workflows %d→%d, tenants %d→%d, API keys %d→%d, worker tokens %d→%d",
			w0, w, t0, ts, k0, k, tk0, tk)
	}

	// A credential no store could hold is unknown (401), not an error.
	for _, header := range []string{"Bearer fak_\xff\xfe\xfd0123456789abcdefghij", "Bearer fwt_" + strings.Repeat("\xc3", 40), "Bearer " + long(20000)} {
		e.doHeader("GET", wf, header).problem(401, "")
	}
}

// named reports whether a problem document names an error at location.
func named(body []byte, location string) bool {
	var p problem
	if json.Unmarshal(body, &p) != nil {
		return false
	}
	for _, e := range p.Errors {
		if e.Location == location {
			return true
		}
	}
	return false
}

// startBodyValid is the oracle of FuzzStartBody: whether the server may
// accept body as a start request. It applies the documented limits to
// what encoding/json decodes, independently of the server's code.
func startBodyValid(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return false
	}
	str := func(k string, minLen, maxLen int) bool {
		raw, ok := m[k]
		if !ok {
			return minLen == 0
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return minLen == 0 // null is absent
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return false
		}
		return len(s) >= minLen && len(s) <= maxLen && !strings.ContainsRune(s, 0)
	}
	integer := func(k string, lo, hi float64) bool {
		raw, ok := m[k]
		if !ok {
			return true
		}
		var f float64
		if json.Unmarshal(raw, &f) != nil {
			return false
		}
		return f == math.Trunc(f) && f >= lo && f <= hi
	}
	for k := range m {
		switch k {
		case "kind", "input", "queue", "prioritySeconds", "version", "idempotencyKey", "idempotencyKeyTtl", "metadata":
		default:
			return false
		}
	}
	if !str("kind", 1, limits.MaxName) || !str("queue", 0, limits.MaxName) || !str("version", 0, limits.MaxName) ||
		!str("idempotencyKey", 0, limits.MaxIdempotencyKey) ||
		!integer("prioritySeconds", math.MinInt32, math.MaxInt32) || !integer("idempotencyKeyTtl", 0, 315360000) {
		return false
	}
	if raw, ok := m["input"]; ok && len(raw) > limits.DefaultMaxPayloadBytes {
		return false
	}
	if raw, ok := m["metadata"]; ok {
		var md map[string]string // null is absent
		if json.Unmarshal(raw, &md) != nil || len(md) > limits.MaxMetadataEntries {
			return false
		}
		for k, v := range md {
			if k == "" || len(k) > limits.MaxMetadataKey || len(v) > limits.MaxMetadataValue ||
				strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
				return false
			}
		}
	}
	return true
}

// FuzzStartBody sends arbitrary bodies to the REST start: the answer is
// never a 5xx, and a 2xx only for a body startBodyValid accepts. The seeds
// run with go test; go test -fuzz FuzzStartBody ./server/httpapi explores.
func FuzzStartBody(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"k"}`,
		`{"kind":"k","input":{"a":[1,2,{"b":null}]},"queue":"q","prioritySeconds":-5,"version":"1",` +
			`"idempotencyKey":"key","idempotencyKeyTtl":60,"metadata":{"env":"prod"}}`,
		`{"kind":"k","input":"\u0000"}`,
		`{"kind":"\u0000"}`,
		`{"kind":"k","queue":null}`,
		`{"kind":"k","metadata":{"":"v"}}`,
		`{"kind":"k","metadata":null}`,
		`{"kind":"k","prioritySeconds":2147483648}`,
		`{"kind":"k","idempotencyKeyTtl":1e300}`,
		`{"kind":"k","idempotencyKeyTtl":315360001}`,
		`{"kind":"\ud800"}`,
		"{\"kind\":\"\xed\xa0\x80\"}",
		`{"kind":"k","input":}`,
		`{"kind":"k","input":"\ud800"}`,
		`{"kind":"k","input":1e999}`,
		`{"kind":"k"} trailing`,
		`[]`,
		`null`,
		``,
		`{"kind":"k","kind":"\u0000"}`,
		`{"kind":"k","Kind":"x"}`,
		`{"kind":"` + strings.Repeat("é", 128) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	e := start(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		e := &env{t: t, srv: e.srv, base: e.base}
		r := e.do("POST", "/api/tenants/acme/workflow-executions", ownerKey, string(body))
		checkFuzzAnswer(t, r, body, startBodyValid(body))
	})
}

// signalBodyValid is the oracle of FuzzSignalBody.
func signalBodyValid(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return false
	}
	for k := range m {
		if k != "signalName" && k != "signalValue" {
			return false
		}
	}
	var name string
	if json.Unmarshal(m["signalName"], &name) != nil || name == "" || len(name) > limits.MaxName || strings.ContainsRune(name, 0) {
		return false
	}
	return len(m["signalValue"]) <= limits.DefaultMaxPayloadBytes
}

// FuzzSignalBody sends arbitrary bodies to the REST signal of a live
// execution: never a 5xx, a 2xx only for a valid body.
func FuzzSignalBody(f *testing.F) {
	for _, seed := range []string{
		`{"signalName":"go"}`,
		`{"signalName":"go","signalValue":{"n":[1,"two",null]}}`,
		`{"signalName":"go","signalValue":"\u0000"}`,
		`{"signalName":"g\u0000"}`,
		`{"signalName":""}`,
		`{"signalName":null}`,
		`{"signalName":"go","signalValue":}`,
		`{"signalName":"go","extra":1}`,
		"{\"signalName\":\"\xff\"}",
		`{"signalName":"` + strings.Repeat("s", 256) + `"}`,
		`{"signalName":"\udfff"}`,
		`{}`,
		`"go"`,
	} {
		f.Add([]byte(seed))
	}
	e := start(f)
	var x execution
	e.do("POST", "/api/tenants/acme/workflow-executions", ownerKey, map[string]any{"kind": "listener", "queue": "q-fuzz"}).want(201, &x)
	path := "/api/tenants/acme/workflow-executions/" + x.ID.String() + "/signal"
	f.Fuzz(func(t *testing.T, body []byte) {
		e := &env{t: t, srv: e.srv, base: e.base}
		r := e.do("POST", path, ownerKey, string(body))
		checkFuzzAnswer(t, r, body, signalBodyValid(body))
	})
}

func checkFuzzAnswer(t *testing.T, r *response, body []byte, valid bool) {
	t.Helper()
	switch {
	case r.status >= 500:
		t.Fatalf("body %q: %d %s", body, r.status, r.body)
	case r.status < 300 && !valid:
		t.Fatalf("body %q is not valid, yet answered %d %.300s", body, r.status, r.body)
	case r.status >= 300 && r.header.Get("Content-Type") != "application/problem+json":
		t.Fatalf("body %q: %d with content type %q", body, r.status, r.header.Get("Content-Type"))
	}
}
