package tui

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/flovyn/flovyn/client"
)

// eventTime is when an event was recorded.
func eventTime(e client.Event) time.Time {
	if !e.Timestamp.IsZero() {
		return e.Timestamp
	}
	return e.CreatedAt
}

// keyOrder puts the fields that say what an event is about first.
var keyOrder = map[string]int{
	"kind": 0, "workflowKind": 0, "childWorkflowKind": 0, "signalName": 0, "promiseName": 0, "timerId": 0, "key": 0, "operationName": 0,
	"childExecutionName": 1, "taskExecutionId": 1, "promiseId": 2, "childExecutionId": 2,
	"error": 3, "reason": 3, "durationMs": 3, "attempts": 3, "queue": 4,
}

// eventSummary puts an event's data on one line: key=value pairs, the
// telling keys first, strings unquoted. Data that is not an object is shown
// as compact JSON.
func eventSummary(data json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return compact(data)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ra, oka := keyOrder[a]
		rb, okb := keyOrder[b]
		if !oka {
			ra = 10
		}
		if !okb {
			rb = 10
		}
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := m[k]
		var s string
		if string(v) == "null" {
			s = "null"
		} else if json.Unmarshal(v, &s) == nil {
			if strings.HasSuffix(k, "Id") || k == "childworkflowExecutionId" {
				s = shortID(s)
			}
		} else {
			s = compact(v)
		}
		if len(s) > 200 {
			s = s[:200]
		}
		parts = append(parts, clean(k)+"="+clean(s))
	}
	return strings.Join(parts, "  ")
}

// promise is a promise an execution waits on.
type promise struct {
	id      string // what resolve and reject take
	name    string
	created time.Time
}

// pendingPromises are the promises created in the history and not yet
// resolved, rejected or timed out, oldest first. A promise is named by its
// promiseId, else by "<execution id>:<name>", which the server also accepts.
func pendingPromises(execID string, events []client.Event) []promise {
	var open []promise
	settled := map[string]bool{}
	for _, e := range events {
		d := object(e.Data)
		if d == nil {
			continue
		}
		id, name := str(d, "promiseId"), str(d, "promiseName")
		switch e.EventType {
		case "PROMISE_CREATED":
			if id == "" && name == "" {
				continue
			}
			if id == "" {
				id = execID + ":" + name
			}
			if name == "" {
				name = shortID(id)
			}
			open = append(open, promise{id: id, name: name, created: eventTime(e)})
		case "PROMISE_RESOLVED", "PROMISE_REJECTED", "PROMISE_TIMEOUT":
			switch {
			case id != "":
				settled[id] = true
			case name != "": // an event naming the promise only by its name
				settled["name:"+name] = true
			}
		}
	}
	var out []promise
	for _, p := range open {
		if !settled[p.id] && !settled["name:"+p.name] {
			out = append(out, p)
		}
	}
	return out
}
