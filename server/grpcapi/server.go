// Package grpcapi serves the flovyn.v1 worker protocol: it authenticates
// each call and translates between protobuf messages and the engine.
package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/auth"
	"github.com/flovyn/flovyn/server/engine"
	"github.com/flovyn/flovyn/server/limits"
)

// Options configures the gRPC server.
type Options struct {
	Auth    *auth.Authenticator
	Methods auth.Methods
	// Authorizer decides every call (see methodActions); nil denies every
	// call of an authenticated principal.
	Authorizer auth.Authorizer
	Engine     *engine.Engine
	Logger     *slog.Logger
	// MaxMessageBytes bounds one request or response; larger ones get
	// RESOURCE_EXHAUSTED before they are read whole (see limits.MessageBytes).
	MaxMessageBytes int
	// Stopping, when set, ends as the server begins to shut down: held
	// polls then answer at once with no work and server streams end, so a
	// graceful stop waits only for the calls doing work.
	Stopping context.Context
}

// api is what every service shares.
type api struct {
	engine *engine.Engine
	log    *slog.Logger
	// Telemetry the SDKs send that nothing reads yet, counted.
	spans, streamed atomic.Int64
}

// NewServer returns a gRPC server with every flovyn.v1 service registered.
func NewServer(o Options) *grpc.Server {
	a := authInterceptor{auth: o.Auth, methods: o.Methods, authz: o.Authorizer, log: o.Logger}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = limits.MessageBytes(0, 0)
	}
	codec := newRequestCodec()
	release := releaser{stopping: o.Stopping}
	shared := &api{engine: o.Engine, log: o.Logger}
	s := grpc.NewServer(
		// The Rust SDK pings every 30 s even when idle; grpc-go's default
		// policy would answer that with GOAWAY too_many_pings.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// Reused handler goroutines keep their grown stacks; a fresh
		// goroutine per call spends measurable time growing its stack.
		grpc.NumStreamWorkers(uint32(8*runtime.NumCPU())),
		grpc.MaxRecvMsgSize(o.MaxMessageBytes),
		grpc.MaxSendMsgSize(o.MaxMessageBytes),
		grpc.ForceServerCodecV2(codec),
		grpc.ChainUnaryInterceptor(codec.take, a.unary, codec.refuse, release.unary),
		grpc.ChainStreamInterceptor(a.stream, codec.stream, release.stream),
		grpc.StatsHandler(&connTracker{engine: o.Engine}),
	)
	flovynv1.RegisterWorkflowDispatchServer(s, &workflowDispatch{api: shared})
	flovynv1.RegisterWorkflowQueryServer(s, &workflowQuery{api: shared})
	flovynv1.RegisterTaskExecutionServer(s, &taskExecution{api: shared})
	flovynv1.RegisterWorkerLifecycleServer(s, &workerLifecycle{api: shared})
	flovynv1.RegisterAgentDispatchServer(s, &agentDispatch{api: shared})
	return s
}

// connTracker numbers connections, so the engine knows which workers are
// connected and reclaims a worker's work as soon as its connection drops.
type connTracker struct {
	engine *engine.Engine
	next   atomic.Uint64
}

type connKey struct{}

func (c *connTracker) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connKey{}, c.next.Add(1))
}

func (c *connTracker) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); ok {
		if id, ok := ctx.Value(connKey{}).(uint64); ok {
			c.engine.Go(func() { c.engine.ConnectionClosed(context.Background(), id) })
		}
	}
}

func (c *connTracker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (c *connTracker) HandleRPC(context.Context, stats.RPCStats)                       {}

// seen records that a tenant's worker polls over the caller's connection.
func (a *api) seen(ctx context.Context, tenant uuid.UUID, worker string) {
	if id, ok := ctx.Value(connKey{}).(uint64); ok {
		a.engine.Presence().Seen(id, tenant, worker)
	}
}

type authInterceptor struct {
	auth    *auth.Authenticator
	methods auth.Methods
	authz   auth.Authorizer
	log     *slog.Logger
}

// methodActions is the action each RPC performs. A method missing here is
// refused (fail closed). Ids named in requests are confined to the caller's
// tenant by the handlers; the authorizer decides on the tenant as a whole.
var methodActions = map[string]auth.Action{
	// Workflow worker side.
	flovynv1.WorkflowDispatch_PollWorkflow_FullMethodName:             auth.ActionWorkerExecute,
	flovynv1.WorkflowDispatch_SubscribeToNotifications_FullMethodName: auth.ActionWorkerExecute,
	flovynv1.WorkflowDispatch_GetEvents_FullMethodName:                auth.ActionWorkerExecute,
	flovynv1.WorkflowDispatch_SubmitWorkflowCommands_FullMethodName:   auth.ActionWorkerExecute,
	flovynv1.WorkflowDispatch_ReportExecutionSpans_FullMethodName:     auth.ActionWorkerExecute,
	// Client side.
	flovynv1.WorkflowDispatch_StartWorkflow_FullMethodName:                   auth.ActionWorkflowStart,
	flovynv1.WorkflowDispatch_StartChildWorkflow_FullMethodName:              auth.ActionWorkflowStart,
	flovynv1.WorkflowDispatch_SignalWorkflow_FullMethodName:                  auth.ActionWorkflowSignal,
	flovynv1.WorkflowDispatch_SignalWithStartWorkflow_FullMethodName:         auth.ActionWorkflowSignal,
	flovynv1.WorkflowDispatch_ResolvePromise_FullMethodName:                  auth.ActionPromiseSettle,
	flovynv1.WorkflowDispatch_RejectPromise_FullMethodName:                   auth.ActionPromiseSettle,
	flovynv1.WorkflowDispatch_GetVisualWorkflowDefinitionById_FullMethodName: auth.ActionWorkflowRead,
	flovynv1.WorkflowQuery_QueryWorkflow_FullMethodName:                      auth.ActionWorkflowRead,
	flovynv1.TaskExecution_SubmitTask_FullMethodName:                         auth.ActionWorkflowStart,
	// Task worker side, task state and cancellation.
	flovynv1.TaskExecution_PollTask_FullMethodName:       auth.ActionWorkerExecute,
	flovynv1.TaskExecution_CompleteTask_FullMethodName:   auth.ActionWorkerExecute,
	flovynv1.TaskExecution_FailTask_FullMethodName:       auth.ActionWorkerExecute,
	flovynv1.TaskExecution_ReportProgress_FullMethodName: auth.ActionWorkerExecute,
	flovynv1.TaskExecution_Heartbeat_FullMethodName:      auth.ActionWorkerExecute,
	flovynv1.TaskExecution_CancelTask_FullMethodName:     auth.ActionWorkerExecute,
	flovynv1.TaskExecution_LogMessage_FullMethodName:     auth.ActionWorkerExecute,
	flovynv1.TaskExecution_GetState_FullMethodName:       auth.ActionWorkerExecute,
	flovynv1.TaskExecution_SetState_FullMethodName:       auth.ActionWorkerExecute,
	flovynv1.TaskExecution_ClearState_FullMethodName:     auth.ActionWorkerExecute,
	flovynv1.TaskExecution_ClearAllState_FullMethodName:  auth.ActionWorkerExecute,
	flovynv1.TaskExecution_GetStateKeys_FullMethodName:   auth.ActionWorkerExecute,
	flovynv1.TaskExecution_StreamTaskData_FullMethodName: auth.ActionWorkerExecute,
	// Worker lifecycle.
	flovynv1.WorkerLifecycle_RegisterWorker_FullMethodName: auth.ActionWorkerExecute,
	flovynv1.WorkerLifecycle_SendHeartbeat_FullMethodName:  auth.ActionWorkerExecute,
}

// authorize lets the call through when the authorizer allows the method's
// action on the caller's tenant.
func (a authInterceptor) authorize(ctx context.Context, p auth.Principal, method string) error {
	if p.AnyTenant { // authentication is disabled
		return nil
	}
	action, ok := methodActions[method]
	if !ok {
		a.log.Warn("grpc call denied: method has no action", "method", method, "principal_type", string(p.Type), "principal_id", p.ID)
		return status.Errorf(codes.PermissionDenied, "permission denied: %s is not open to any caller", method)
	}
	if a.authz == nil {
		a.log.Error("grpc call denied: no authorizer configured", "method", method)
		return status.Errorf(codes.PermissionDenied, "permission denied: %s (no authorizer configured)", action)
	}
	err := a.authz.Authorize(ctx, p, action, auth.Resource{Type: "tenant", TenantID: p.TenantID, ID: p.TenantID.String()})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrForbidden):
		return status.Error(codes.PermissionDenied, err.Error())
	default:
		a.log.Error("grpc authorization failed", "method", method, "action", string(action), "err", err)
		return status.Errorf(codes.PermissionDenied, "permission denied: %s could not be authorized", action)
	}
}

func (a authInterceptor) authenticate(ctx context.Context, method string) (context.Context, error) {
	var header string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			header = v[0]
		}
	}
	p, err := a.auth.Authenticate(ctx, header, a.methods)
	if errors.Is(err, auth.ErrUnauthenticated) {
		a.log.Debug("grpc call refused", "method", method, "reason", err)
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if err != nil && ctx.Err() != nil {
		return nil, status.Error(codes.Canceled, "request cancelled")
	}
	if err != nil {
		a.log.Error("grpc authentication failed", "method", method, "err", err)
		return nil, status.Error(codes.Internal, "could not check the credential; try again")
	}
	if err := a.authorize(ctx, p, method); err != nil {
		return nil, err
	}
	return auth.WithPrincipal(ctx, p), nil
}

func (a authInterceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a authInterceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &authedStream{ServerStream: ss, ctx: ctx})
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authedStream) Context() context.Context { return s.ctx }
