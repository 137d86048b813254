package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/httpapi"
	"github.com/flovyn/flovyn/server/limits"
)

// serve runs h on a listener of its own with the server settings so, until
// the test ends, and returns its base URL.
func serve(t *testing.T, h http.Handler, so httpapi.ServerOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(h, so)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// handler is the REST API of e's server, with other options.
func (e *env) handler(o httpapi.Options) http.Handler {
	o.Engine, o.Auth, o.Authorizer, o.Methods = e.srv.Engine(), e.srv.Auth(), e.srv.Authorizer(), auth.AllMethods
	return httpapi.New(o)
}

// rawExchange writes a request (head, then body, in the background: the
// server may answer before it has read it) on a connection of its own and
// reads the answer.
func rawExchange(t *testing.T, base, head string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		if _, err := io.WriteString(conn, head); err == nil && body != nil {
			if _, err := io.Copy(conn, body); err != nil {
				_ = conn.(*net.TCPConn).CloseWrite() // the body ends short here
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// chunked encodes n bytes of a JSON start body as one chunk, then ends.
func chunkedStart(n int) io.Reader {
	body := `{"kind":"k","input":"` + strings.Repeat("x", n-len(`{"kind":"k","input":""}`)) + `"}`
	return strings.NewReader(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body))
}

// Request bodies are bounded: a payload at the limit is taken, one over it
// is 413 naming the field and the limit; a body over what any operation
// accepts is 413 before it is read; a chunked one is cut at the limit.
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := start(t)
	const path = "/api/tenants/acme/workflow-executions"
	max := limits.DefaultMaxPayloadBytes

	// At the limit: accepted, in full.
	atLimit := bigInput(max)
	var x execution
	e.do("POST", path, ownerKey, map[string]any{"kind": "k", "input": atLimit}).want(201, &x)
	var got execution
	e.do("GET", path+"/"+x.ID.String(), ownerKey, nil).want(200, &got)
	if len(got.Input) != max {
		t.Fatalf("input of %d bytes stored as %d", max, len(got.Input))
	}
	// One byte over: 413 naming the field and the limit.
	p := e.do("POST", path, ownerKey, map[string]any{"kind": "k", "input": bigInput(max + 1)}).problem(413, "body.input")
	if !strings.Contains(p.Detail, "max_payload_bytes") {
		t.Fatalf("413 detail %q names no limit", p.Detail)
	}
	e.do("POST", path+"/"+x.ID.String()+"/signal", ownerKey, map[string]any{"signalName": "s", "signalValue": bigInput(max + 1)}).
		problem(413, "body.signalValue")
	// Signal-with-start carries two payloads: its body may be larger.
	e.do("POST", path+"/signal-with-start", ownerKey, map[string]any{
		"workflowId": "two-payloads", "kind": "k", "signalName": "s", "input": atLimit, "signalValue": bigInput(max / 2),
	}).want(201, nil)
	// A history over its limit is 413 too, saying so.
	p = e.do("POST", path+"/signal-with-start", ownerKey, map[string]any{
		"workflowId": "too-much", "kind": "k", "signalName": "s", "input": atLimit, "signalValue": atLimit,
	}).problem(413, "body")
	if !strings.Contains(p.Detail, "max_history_bytes") {
		t.Fatalf("413 detail %q", p.Detail)
	}

	// A Content-Length over every operation's limit: 413 before the body is read.
	head := func(extra string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ownerKey +
			"\r\nContent-Type: application/json\r\n" + extra + "\r\n"
	}
	resp, body := rawExchange(t, e.base, head(fmt.Sprintf("Content-Length: %d\r\n", 15<<20)), nil)
	if resp.StatusCode != 413 || resp.Header.Get("Content-Type") != "application/problem+json" || !named(body, "body") {
		t.Fatalf("15 MB Content-Length: %d %s", resp.StatusCode, body)
	}
	// A chunked body over the start's limit: 413, not 500.
	resp, body = rawExchange(t, e.base, head("Transfer-Encoding: chunked\r\n"), chunkedStart(max+EnvelopeBytes+10))
	if resp.StatusCode != 413 || !named(body, "body") || !strings.Contains(string(body), "max_payload_bytes") {
		t.Fatalf("chunked body over the limit: %d %s", resp.StatusCode, body)
	}
	// A chunked body within it is fine.
	resp, body = rawExchange(t, e.base, head("Transfer-Encoding: chunked\r\n"), chunkedStart(4096))
	if resp.StatusCode != 201 {
		t.Fatalf("small chunked body: %d %s", resp.StatusCode, body)
	}
	// A body cut short is the client's fault.
	resp, body = rawExchange(t, e.base, head("Content-Length: 100\r\nConnection: close\r\n"), io.MultiReader(strings.NewReader(`{"kind":`), closer{}))
	if resp.StatusCode >= 500 {
		t.Fatalf("truncated body: %d %s", resp.StatusCode, body)
	}

	// MaxPayloadBytes sets the bodies' limits (the engine, configured alike,
	// checks each payload).
	base := serve(t, e.handler(httpapi.Options{MaxPayloadBytes: 1000}), httpapi.ServerOptions{})
	small := &env{t: t, srv: e.srv, base: base}
	small.do("POST", path, ownerKey, map[string]any{"kind": "k", "input": bigInput(EnvelopeBytes / 2)}).want(201, nil)
	p = small.do("POST", path, ownerKey, map[string]any{"kind": "k", "input": bigInput(EnvelopeBytes + 1000)}).problem(413, "body")
	if !strings.Contains(p.Errors[0].Message, "max_payload_bytes") {
		t.Fatalf("413 %+v", p)
	}
}

// EnvelopeBytes mirrors httpapi.EnvelopeBytes.
const EnvelopeBytes = httpapi.EnvelopeBytes

// closer is a reader that fails, so the connection's writer stops.
type closer struct{}

func (closer) Read([]byte) (int, error) { return 0, errors.New("stop") }

// At most MaxLargeBodies large bodies are read at once: the next one waits,
// and after LargeBodyWait is refused with 503; small requests pass; when a
// large one is done, the next takes its turn.
func TestLargeBodiesAreReadFewAtATime(t *testing.T) {
	t.Parallel()
	e := start(t)
	base := serve(t, e.handler(httpapi.Options{MaxLargeBodies: 2, LargeBodyWait: 300 * time.Millisecond}), httpapi.ServerOptions{})
	path := base + "/api/tenants/acme/workflow-executions"
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}}

	// held starts a chunked start whose body the test writes later. The
	// server asks for the body (100 Continue) only once it holds a slot.
	type held struct {
		body     *io.PipeWriter
		reading  chan struct{}
		response chan *http.Response
	}
	hold := func() held {
		pr, pw := io.Pipe()
		h := held{body: pw, reading: make(chan struct{}), response: make(chan *http.Response, 1)}
		req, _ := http.NewRequest("POST", path, pr)
		req.Header.Set("Authorization", "Bearer "+ownerKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		trace := &httptrace.ClientTrace{Got100Continue: func() { close(h.reading) }}
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				close(h.response)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			h.response <- resp
		}()
		return h
	}
	finish := func(h held) int {
		t.Helper()
		go func() {
			_, _ = io.WriteString(h.body, `{"kind":"large","input":"`+strings.Repeat("x", 3<<19)+`"}`)
			h.body.Close()
		}()
		resp := <-h.response
		if resp == nil {
			t.Fatal("no response")
		}
		return resp.StatusCode
	}
	waitReading := func(h held, what string) {
		t.Helper()
		select {
		case <-h.reading:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the server never read the body", what)
		}
	}

	a, b := hold(), hold()
	waitReading(a, "first")
	waitReading(b, "second")
	// Both slots are taken: a third large body waits, then is refused.
	c := hold()
	select {
	case resp := <-c.response:
		if resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("third large body: %+v", resp)
		}
	case <-c.reading:
		t.Fatal("a third large body was read while two were")
	case <-time.After(20 * time.Second):
		t.Fatal("the third large body was never answered")
	}
	// Small requests are not held up.
	small := &env{t: t, srv: e.srv, base: base}
	small.do("POST", "/api/tenants/acme/workflow-executions", ownerKey, map[string]any{"kind": "small"}).want(201, nil)
	small.do("GET", "/api/tenants/acme/workflow-executions", ownerKey, nil).want(200, nil)
	// The first ends; the next large body takes its slot.
	if s := finish(a); s != 201 {
		t.Fatalf("first large body: %d", s)
	}
	d := hold()
	waitReading(d, "fourth")
	if s := finish(d); s != 201 {
		t.Fatalf("fourth large body: %d", s)
	}
	if s := finish(b); s != 201 {
		t.Fatalf("second large body: %d", s)
	}
	var p struct {
		Items []json.RawMessage `json:"items"`
	}
	small.do("GET", "/api/tenants/acme/workflow-executions?kind=large", ownerKey, nil).want(200, &p)
	if len(p.Items) != 3 {
		t.Fatalf("%d large executions, want 3", len(p.Items))
	}
}

// The server closes a keep-alive connection left idle for IdleTimeout.
func TestIdleConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	e := start(t)
	const idle = 300 * time.Millisecond
	base := serve(t, e.handler(httpapi.Options{}), httpapi.ServerOptions{IdleTimeout: idle})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// Two requests on the connection: it is kept alive.
	for range 2 {
		if _, err := io.WriteString(conn, "GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("health: %d, close %v", resp.StatusCode, resp.Close)
		}
	}
	// Then idle: the server closes it (EOF), not before the idle timeout.
	idleSince := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := br.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d bytes, %v; want EOF", n, err)
	}
	if waited := time.Since(idleSince); waited < idle/2 {
		t.Fatalf("closed after %v, before the idle timeout %v", waited, idle)
	}

	// The defaults.
	s := httpapi.NewServer(http.NotFoundHandler(), httpapi.ServerOptions{})
	if s.ReadHeaderTimeout != httpapi.ReadHeaderTimeout || s.ReadTimeout != httpapi.ReadTimeout || s.IdleTimeout != httpapi.IdleTimeout ||
		s.MaxHeaderBytes != httpapi.MaxHeaderBytes || s.WriteTimeout != 0 || s.IdleTimeout <= 0 || s.ReadHeaderTimeout <= 0 {
		t.Fatalf("defaults: %+v", s)
	}
}
