package httpapi

import (
	"net/http"
	"time"
)

// Timeouts and sizes of the HTTP server.
const (
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included; every
	// operation with a body allows the same time to read it. It does not
	// bound a handler: once the body is read, a long response (a stream) runs on.
	ReadTimeout = 60 * time.Second
	// IdleTimeout closes a keep-alive connection idle that long.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds the request line and headers: room for a JWT and
	// for a list's metadata filters at their limits.
	MaxHeaderBytes = 256 << 10
)

// ServerOptions adjust NewServer's http.Server; zero values are the
// constants above.
type ServerOptions struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// NewServer returns the http.Server serving h. It has no WriteTimeout: a
// response may stream for as long as the client listens.
func NewServer(h http.Handler, o ServerOptions) *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = MaxHeaderBytes
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: or(o.ReadHeaderTimeout, ReadHeaderTimeout),
		ReadTimeout:       or(o.ReadTimeout, ReadTimeout),
		IdleTimeout:       or(o.IdleTimeout, IdleTimeout),
		MaxHeaderBytes:    o.MaxHeaderBytes,
	}
}
