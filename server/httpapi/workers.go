package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/flovyn/flovyn/server/auth"
)

// onlineWindow is how recently a worker must have been seen (registered or
// sent a heartbeat) to count as ONLINE when it is not connected to this server.
const onlineWindow = 60 * time.Second

// Capability is a kind a worker can run.
type Capability struct {
	Type        string `json:"type" enum:"workflow,task,agent"`
	Kind        string `json:"kind"`
	Version     string `json:"version"`
	ContentHash string `json:"contentHash"`
}

// Worker is a registered worker process.
type Worker struct {
	ID        uuid.UUID         `json:"id"`
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Type      string            `json:"type" doc:"WORKFLOW, TASK or UNIFIED."`
	HostName  string            `json:"hostName"`
	ProcessID string            `json:"processId"`
	Metadata  map[string]string `json:"metadata"`
	Status    string            `json:"status" enum:"ONLINE,OFFLINE" doc:"ONLINE while connected to this server or seen in the last 60 s."`
	// Connected says the worker polls over a live connection to this server.
	Connected       bool         `json:"connected"`
	RegisteredAt    time.Time    `json:"registeredAt"`
	LastHeartbeatAt time.Time    `json:"lastHeartbeatAt"`
	Capabilities    []Capability `json:"capabilities"`
}

// WorkerList lists a tenant's workers, most recently seen first.
type WorkerList struct {
	Workers []Worker `json:"workers"`
}

type workersInput struct {
	Slug   string `path:"slug" doc:"The tenant's slug."`
	Status string `query:"status" enum:"ONLINE,OFFLINE"`
}

type workersOutput struct {
	Body WorkerList
}

func (a *api) workerRoutes(h huma.API) {
	register(h, huma.Operation{
		OperationID: "list-workers", Method: http.MethodGet, Path: "/{slug}/workers",
		Summary: "List workers",
		Tags:    []string{tagWorkers},
		Errors:  tenantErrors,
	}, a.listWorkers)
}

func (a *api) listWorkers(ctx context.Context, in *workersInput) (*workersOutput, error) {
	t, _, err := a.scope(ctx, in.Slug, auth.ActionWorkerList, "worker", "")
	if err != nil {
		return nil, err
	}
	list, err := a.engine.Workers(ctx, t.ID)
	if err != nil {
		return nil, a.fail("workers", err)
	}
	// Polls name a worker by its registered id or by its name.
	connected := map[string]bool{}
	for _, w := range a.engine.Presence().Workers() {
		if w.Tenant == t.ID {
			connected[w.ID] = true
		}
	}
	out := &workersOutput{Body: WorkerList{Workers: make([]Worker, 0, len(list))}}
	for _, w := range list {
		md := w.Metadata
		if md == nil {
			md = map[string]string{}
		}
		wk := Worker{
			ID: w.ID, Name: w.Name, Version: w.Version, Type: w.Type, HostName: w.HostName, ProcessID: w.ProcessID,
			Metadata: md, Connected: connected[w.ID.String()] || connected[w.Name],
			RegisteredAt: w.RegisteredAt.UTC(), LastHeartbeatAt: w.LastSeenAt.UTC(),
			Capabilities: make([]Capability, 0, len(w.Capability)),
		}
		wk.Status = "OFFLINE"
		if wk.Connected || time.Since(w.LastSeenAt) < onlineWindow {
			wk.Status = "ONLINE"
		}
		if in.Status != "" && in.Status != wk.Status {
			continue
		}
		for _, c := range w.Capability {
			wk.Capabilities = append(wk.Capabilities, Capability{Type: c.Type, Kind: c.Kind, Version: c.Version, ContentHash: c.ContentHash})
		}
		out.Body.Workers = append(out.Body.Workers, wk)
	}
	return out, nil
}
