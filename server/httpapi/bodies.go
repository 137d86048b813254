package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Request bodies.
const (
	// EnvelopeBytes is what a request body may hold besides its payloads
	// (names, keys, metadata, a reason): a body carrying n payloads may be
	// n×max_payload_bytes + EnvelopeBytes long; one carrying none, EnvelopeBytes
	// (huma's own default for an operation, made explicit).
	EnvelopeBytes = 1 << 20
	// maxPayloadsPerBody is the most payloads one body carries: signal-with-start's
	// input and signal value.
	maxPayloadsPerBody = 2
	// LargeBodyBytes: a body larger than this, or of unknown length
	// (chunked), is a large one; only a few are read at once.
	LargeBodyBytes = 1 << 20
	// DefaultMaxLargeBodies is how many large bodies are read at once when
	// Options.MaxLargeBodies is 0.
	DefaultMaxLargeBodies = 4
	// DefaultLargeBodyWait is how long a large body waits for its turn when
	// Options.LargeBodyWait is 0; then it is refused with 503.
	DefaultLargeBodyWait = 30 * time.Second
)

// bodyLimit is the body an operation carrying payloads payloads accepts.
func (a *api) bodyLimit(payloads int) int64 {
	return int64(payloads)*int64(a.maxPayload) + EnvelopeBytes
}

// maxBodyBytes is the largest body any operation accepts.
func (a *api) maxBodyBytes() int64 { return a.bodyLimit(maxPayloadsPerBody) }

// withBody sets the body limits of an operation with a request body: its
// size (payloads payloads plus the envelope) and the time to read it, the
// server's ReadTimeout (huma would allow 1 MiB and 5 s).
func (a *api) withBody(op huma.Operation, payloads int) huma.Operation {
	op.MaxBodyBytes = a.bodyLimit(payloads)
	op.BodyReadTimeout = ReadTimeout
	if payloads > 0 {
		op.Errors = append(append([]int{}, op.Errors...), http.StatusRequestEntityTooLarge)
	}
	return op
}

// bodyGate bounds the memory request bodies take: a body over max bytes is
// refused (413) before it is read, and at most cap(slots) large bodies are
// read, decoded and handled at once; the others wait their turn, at most
// wait. So 20 concurrent 15 MB starts are refused at once, and 20
// concurrent starts at the limit hold at most cap(slots) bodies in memory.
type bodyGate struct {
	max   int64
	slots chan struct{}
	wait  time.Duration
}

func newBodyGate(max int64, n int, wait time.Duration) *bodyGate {
	if n <= 0 {
		n = DefaultMaxLargeBodies
	}
	if wait <= 0 {
		wait = DefaultLargeBodyWait
	}
	return &bodyGate{max: max, slots: make(chan struct{}, n), wait: wait}
}

func (g *bodyGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > g.max {
			msg := fmt.Sprintf("the request body is %d bytes; no operation accepts more than %d (max_payload_bytes per payload, "+
				"plus %d bytes)", r.ContentLength, g.max, EnvelopeBytes)
			w.Header().Set("Connection", "close")
			writeProblem(w, http.StatusRequestEntityTooLarge, "request body too large",
				&huma.ErrorDetail{Location: "body", Message: msg})
			return
		}
		if r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > LargeBodyBytes || r.ContentLength < 0 {
			t := time.NewTimer(g.wait)
			select {
			case g.slots <- struct{}{}:
				t.Stop()
				defer func() { <-g.slots }()
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
				w.Header().Set("Retry-After", "1")
				writeProblem(w, http.StatusServiceUnavailable,
					fmt.Sprintf("%d large requests are being read already; retry shortly", cap(g.slots)))
				return
			}
		}
		// A chunked body is cut at the limit; huma answers 413.
		r.Body = http.MaxBytesReader(w, r.Body, g.max)
		next.ServeHTTP(w, r)
	})
}
