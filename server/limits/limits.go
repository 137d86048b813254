// Package limits is the one set of input limits flovyn applies on every
// edge (gRPC and REST alike): what a text field may hold, how long names
// and keys may be, how big a payload may get, and the ranges of numbers and
// durations. A value outside them is refused with an error naming the
// field, before anything is stored.
package limits

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Field lengths, in bytes of UTF-8.
const (
	// MaxName bounds kinds, queues, timer ids, promise names, signal names,
	// state keys, operation names, worker names and versions, slugs.
	MaxName = 255
	// MaxIdempotencyKey bounds idempotency keys and signal-with-start ids.
	MaxIdempotencyKey = 512
	// MaxMetadataEntries, MaxMetadataKey and MaxMetadataValue bound metadata maps.
	MaxMetadataEntries = 64
	MaxMetadataKey     = 128
	MaxMetadataValue   = 1024
	// MaxMessage bounds free text: error messages, stack traces, reasons, log lines.
	MaxMessage = 64 << 10
)

// Payload and history sizes (configurable; these are the defaults). A
// history is measured as GetEvents sends it, and its default limit leaves
// room under the 4 MiB that a gRPC client accepts unless told otherwise
// (the default of tonic, which the Rust core and so every Flovyn SDK
// uses, and of grpc-go): every history can always be sent to a worker.
const (
	DefaultMaxPayloadBytes  = 2 << 20
	DefaultMaxHistoryBytes  = 4<<20 - 64<<10
	DefaultHistoryWarnBytes = 3 << 20
)

// MessageBytes bounds one gRPC message: the largest history a response
// may carry or payload a request may, plus room for the rest of it.
func MessageBytes(maxPayload, maxHistory int) int {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayloadBytes
	}
	if maxHistory <= 0 {
		maxHistory = DefaultMaxHistoryBytes
	}
	return max(maxPayload, maxHistory) + 1<<20
}

// MaxDuration is the longest timer, timeout or TTL accepted: ten years,
// well inside what a time.Duration and PostgreSQL's timestamps hold.
const MaxDuration = 10 * 365 * 24 * time.Hour

// Error is an input refused at the edge, naming the field at fault.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

// Invalid returns an *Error for field.
func Invalid(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Text checks a text field: valid UTF-8, no NUL character, at most max bytes.
func Text(field, s string, max int) error {
	if len(s) > max {
		return Invalid(field, "longer than %d bytes", max)
	}
	return Chars(field, s)
}

// Chars checks only what PostgreSQL text cannot hold: invalid UTF-8 and NUL.
func Chars(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return Invalid(field, "contains a NUL character")
	}
	return nil
}

// Name checks a required name (kind, queue, timer id, …).
func Name(field, s string) error {
	if s == "" {
		return Invalid(field, "required")
	}
	return Text(field, s, MaxName)
}

// OptionalName checks a name that may be empty.
func OptionalName(field, s string) error { return Text(field, s, MaxName) }

// Message checks free text.
func Message(field, s string) error { return Text(field, s, MaxMessage) }

// Metadata checks a metadata map: its size, and each key and value.
func Metadata(field string, m map[string]string) error {
	if len(m) > MaxMetadataEntries {
		return Invalid(field, "more than %d entries", MaxMetadataEntries)
	}
	for k, v := range m {
		if k == "" {
			return Invalid(field, "empty key")
		}
		// The field's name is built only for an error: this runs on every start.
		if err := Text(field, k, MaxMetadataKey); err != nil {
			return Invalid(field, "key %q: %s", truncate(k), err.(*Error).Msg)
		}
		if err := Text(field, v, MaxMetadataValue); err != nil {
			return Invalid(field+"."+k, "%s", err.(*Error).Msg)
		}
	}
	return nil
}

// Fraction checks a number that must lie in [0, 1] (task progress).
func Fraction(field string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return Invalid(field, "must be a number from 0 to 1")
	}
	return nil
}

// DurationMs converts a non-negative millisecond count, refusing one above
// MaxDuration.
func DurationMs(field string, ms int64) (time.Duration, error) {
	if ms < 0 {
		return 0, Invalid(field, "must not be negative")
	}
	if ms > MaxDuration.Milliseconds() {
		return 0, Invalid(field, "at most %d ms (ten years)", MaxDuration.Milliseconds())
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// DurationSeconds is DurationMs for a count of seconds.
func DurationSeconds(field string, s int64) (time.Duration, error) {
	if s < 0 {
		return 0, Invalid(field, "must not be negative")
	}
	if s > int64(MaxDuration/time.Second) {
		return 0, Invalid(field, "at most %d seconds (ten years)", int64(MaxDuration/time.Second))
	}
	return time.Duration(s) * time.Second, nil
}

// TooLargeError is a payload or history over its limit.
type TooLargeError struct {
	Field string
	Limit string // which limit, e.g. "max_payload_bytes"
	Size  int
	Max   int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: %d bytes exceeds the %s limit of %d bytes", e.Field, e.Size, e.Limit, e.Max)
}

// Payload checks a payload's size against max bytes.
func Payload(field string, b []byte, max int) error {
	if max > 0 && len(b) > max {
		return &TooLargeError{Field: field, Limit: "max_payload_bytes", Size: len(b), Max: max}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
