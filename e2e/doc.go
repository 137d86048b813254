// Package e2e holds flovyn's end-to-end tests: the real server on a real
// PostgreSQL, real gRPC connections and real workers from sdk/.
package e2e
