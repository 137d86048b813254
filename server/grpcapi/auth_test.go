package grpcapi

import (
	"testing"

	"google.golang.org/grpc"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// Every RPC of the protocol is mapped to an action: an unmapped one would be
// refused to every caller.
func TestEveryMethodHasAnAction(t *testing.T) {
	n := 0
	for _, sd := range []grpc.ServiceDesc{
		flovynv1.WorkflowDispatch_ServiceDesc, flovynv1.WorkflowQuery_ServiceDesc,
		flovynv1.TaskExecution_ServiceDesc, flovynv1.WorkerLifecycle_ServiceDesc, flovynv1.AgentDispatch_ServiceDesc,
	} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, s := range sd.Streams {
			names = append(names, s.StreamName)
		}
		for _, name := range names {
			full := "/" + sd.ServiceName + "/" + name
			n++
			if _, ok := methodActions[full]; !ok {
				t.Errorf("%s has no action", full)
			}
		}
	}
	if n != len(methodActions) {
		t.Errorf("%d methods, %d mapped: the map names a method that does not exist", n, len(methodActions))
	}
}
