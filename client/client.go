package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the flovyn REST admin API. It is safe for concurrent use.
//
// Every request carries "Authorization: Bearer <APIKey>" (when set) and
// JSON bodies. Tenant-scoped methods use the /api/tenants/{Tenant}/… routes.
type Client struct {
	server string // base URL, no trailing slash
	apiKey string
	tenant string
	http   *http.Client
}

// Options configure a Client.
type Options struct {
	// Server is the REST base URL, e.g. "http://127.0.0.1:8000". A URL
	// without a scheme gets "http://".
	Server string
	// APIKey is the bearer credential: an API key, a static key or a JWT.
	APIKey string
	// Tenant is the slug the tenant-scoped methods act on.
	Tenant string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
}

// New returns a client for the server in o.
func New(o Options) *Client {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{server: NormalizeServer(o.Server), apiKey: o.APIKey, tenant: o.Tenant, http: hc}
}

// NormalizeServer adds "http://" to a URL without a scheme and drops
// trailing slashes.
func NormalizeServer(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return strings.TrimRight(s, "/")
}

// Server is the base URL this client talks to.
func (c *Client) Server() string { return c.server }

// Tenant is the slug the tenant-scoped methods act on.
func (c *Client) Tenant() string { return c.tenant }

// WithTenant returns a copy of the client acting on tenant slug.
func (c *Client) WithTenant(slug string) *Client {
	cp := *c
	cp.tenant = slug
	return &cp
}

// ErrNoTenant is returned by tenant-scoped methods of a client without a tenant.
var ErrNoTenant = errors.New("no tenant selected")

// Error is an error answer of the API: an RFC 9457 problem document.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Title is the status text ("Conflict").
	Title string `json:"title"`
	// Detail says what went wrong.
	Detail string `json:"detail"`
	// Errors locate invalid input ("body.slug").
	Errors []ErrorDetail `json:"errors,omitempty"`
	// Method and URL of the request.
	Method string `json:"-"`
	URL    string `json:"-"`
}

// ErrorDetail is one invalid value of a request.
type ErrorDetail struct {
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
	Value    any    `json:"value,omitempty"`
}

// Error is the detail, the locations it does not already name, and the
// status: `a tenant with slug "acme" already exists (409 Conflict)`.
func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	for _, d := range e.Errors {
		part := d.Message
		if d.Location != "" {
			part = d.Location + ": " + d.Message
		}
		if !strings.Contains(msg, part) {
			msg += "; " + part
		}
	}
	status := http.StatusText(e.Status)
	if e.Title != "" {
		status = e.Title
	}
	return fmt.Sprintf("%s (%d %s)", msg, e.Status, status)
}

// StatusCode reports the HTTP status of err when it is an *Error, else 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// ConnectError says the server could not be reached at all.
type ConnectError struct {
	Server string
	Err    error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot reach the flovyn server at %s: %v", e.Server, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// tenantPath is /api/tenants/{tenant} followed by the escaped parts.
func (c *Client) tenantPath(parts ...string) (string, error) {
	if c.tenant == "" {
		return "", ErrNoTenant
	}
	return joinPath(append([]string{"api", "tenants", c.tenant}, parts...)...), nil
}

// joinPath escapes each part and joins them into an absolute path.
func joinPath(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// do sends a request with in (nil: no body) as JSON and decodes a 2xx answer
// into out (nil: discard). It returns the status code.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	if c.server == "" {
		return 0, errors.New("no server URL")
	}
	u := c.server + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, &ConnectError{Server: c.server, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return resp.StatusCode, &ConnectError{Server: c.server, Err: err}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, problem(method, u, resp, raw)
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// problem turns an error answer into an *Error, whether or not the server
// (or a proxy in front of it) sent a problem document.
func problem(method, u string, resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, Method: method, URL: u}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if strings.HasSuffix(ct, "json") && json.Unmarshal(raw, e) == nil {
		e.Status = resp.StatusCode
		return e
	}
	e.Title = http.StatusText(resp.StatusCode)
	text := strings.Join(strings.Fields(string(raw)), " ")
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Detail = text
	return e
}
