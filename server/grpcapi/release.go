package grpcapi

import (
	"context"

	"google.golang.org/grpc"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// heldMethods are the unary calls that wait for work to appear rather than
// do work: a held poll answers "no work" when it is released.
var heldMethods = map[string]bool{
	flovynv1.WorkflowDispatch_PollWorkflow_FullMethodName: true,
	flovynv1.TaskExecution_PollTask_FullMethodName:        true,
}

// releaser ends the held calls when stopping ends (Options.Stopping): the
// held polls and the server streams, which would otherwise keep a graceful
// stop waiting for their hold to run out, or for ever. Calls doing work keep
// their own context and are drained.
type releaser struct{ stopping context.Context }

func (r releaser) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if r.stopping == nil || !heldMethods[info.FullMethod] {
		return handler(ctx, req)
	}
	ctx, cancel := r.until(ctx)
	defer cancel()
	return handler(ctx, req)
}

func (r releaser) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	// A client stream carries the caller's data: drained, not cut.
	if r.stopping == nil || !info.IsServerStream || info.IsClientStream {
		return handler(srv, ss)
	}
	ctx, cancel := r.until(ss.Context())
	defer cancel()
	return handler(srv, &releasedStream{ServerStream: ss, ctx: ctx})
}

// until is ctx, also ended when r.stopping ends.
func (r releaser) until(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(r.stopping, cancel)
	return ctx, func() { unhook(); cancel() }
}

type releasedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *releasedStream) Context() context.Context { return s.ctx }
