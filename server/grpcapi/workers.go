package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/engine"
)

type workerLifecycle struct {
	flovynv1.UnimplementedWorkerLifecycleServer
	*api
}

func (s *workerLifecycle) RegisterWorker(ctx context.Context, r *flovynv1.WorkerRegistrationRequest) (*flovynv1.WorkerRegistrationResponse, error) {
	tenant, err := s.concreteTenant(ctx, r.OrgId)
	if err != nil {
		return nil, err
	}
	w := engine.Worker{TenantID: tenant, Name: r.WorkerName, Version: r.WorkerVersion, Type: r.WorkerType,
		HostName: r.HostName, ProcessID: r.ProcessId}
	if w.Type == "" {
		w.Type = "UNIFIED"
	}
	for _, c := range r.Workflows {
		w.Capability = append(w.Capability, engine.Capability{Type: "workflow", Kind: c.Kind, Version: c.Version, ContentHash: c.ContentHash})
	}
	for _, c := range r.Tasks {
		w.Capability = append(w.Capability, engine.Capability{Type: "task", Kind: c.Kind})
	}
	for _, c := range r.Agents {
		w.Capability = append(w.Capability, engine.Capability{Type: "agent", Kind: c.Kind})
	}
	id, err := s.engine.RegisterWorker(ctx, w)
	if err != nil {
		return nil, s.toStatus("RegisterWorker", err)
	}
	return &flovynv1.WorkerRegistrationResponse{WorkerId: id.String(), Success: true}, nil
}

func (s *workerLifecycle) SendHeartbeat(ctx context.Context, r *flovynv1.WorkerHeartbeatRequest) (*emptypb.Empty, error) {
	tenant, err := s.tenantScope(ctx, "")
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, s.toStatus("SendHeartbeat", s.engine.Heartbeat(ctx, tenant, r.WorkerId))
}
