// Package httpapi serves flovyn's HTTP surface: health, the REST admin API
// and its OpenAPI document.
package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Pinger is what the health check asks: does the database answer?
type Pinger interface {
	Ping(ctx context.Context) error
}

// Health answers GET /_/health: 200 {"status":"UP"} while the database answers
// within a second, 503 {"status":"DOWN","reason":…} otherwise.
func Health(db Pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := db.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "DOWN", "reason": "database: " + err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "UP"})
	})
}
