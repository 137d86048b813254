package flovynv1_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// The SDKs address RPCs by full name; these must never drift.
func TestServicesAndMethods(t *testing.T) {
	want := map[string][]string{
		"flovyn.v1.WorkflowDispatch": {
			"PollWorkflow", "SubscribeToNotifications", "StartWorkflow", "GetVisualWorkflowDefinitionById",
			"StartChildWorkflow", "ResolvePromise", "RejectPromise", "SignalWithStartWorkflow",
			"SignalWorkflow", "GetEvents", "SubmitWorkflowCommands", "ReportExecutionSpans",
		},
		"flovyn.v1.WorkflowQuery": {"QueryWorkflow"},
		"flovyn.v1.TaskExecution": {
			"SubmitTask", "PollTask", "CompleteTask", "FailTask", "ReportProgress", "Heartbeat",
			"CancelTask", "LogMessage", "GetState", "SetState", "ClearState", "ClearAllState",
			"GetStateKeys", "StreamTaskData",
		},
		"flovyn.v1.WorkerLifecycle": {"RegisterWorker", "SendHeartbeat"},
	}
	for svcName, methods := range want {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svcName))
		if err != nil {
			t.Fatalf("service %s not registered: %v", svcName, err)
		}
		svc, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			t.Fatalf("%s is not a service", svcName)
		}
		if got := svc.Methods().Len(); got != len(methods) {
			t.Errorf("%s: %d methods, want %d", svcName, got, len(methods))
		}
		for _, m := range methods {
			if svc.Methods().ByName(protoreflect.Name(m)) == nil {
				t.Errorf("%s: missing method %s", svcName, m)
			}
		}
	}

	sub := flovynv1.File_flovyn_v1_flovyn_proto.Services().ByName("WorkflowDispatch").Methods().ByName("SubscribeToNotifications")
	if !sub.IsStreamingServer() || sub.IsStreamingClient() {
		t.Errorf("SubscribeToNotifications must be server-streaming only")
	}
	submit := flovynv1.File_flovyn_v1_flovyn_proto.Services().ByName("WorkflowDispatch").Methods().ByName("SubmitWorkflowCommands")
	if submit.Output().FullName() != "google.protobuf.Empty" {
		t.Errorf("SubmitWorkflowCommands returns %s", submit.Output().FullName())
	}
	if flovynv1.WorkerLifecycle_RegisterWorker_FullMethodName != "/flovyn.v1.WorkerLifecycle/RegisterWorker" {
		t.Errorf("RegisterWorker full method = %s", flovynv1.WorkerLifecycle_RegisterWorker_FullMethodName)
	}
}

type fieldWant struct {
	name   string
	number protoreflect.FieldNumber
	kind   protoreflect.Kind
}

func checkFields(t *testing.T, m proto.Message, want []fieldWant) {
	t.Helper()
	md := m.ProtoReflect().Descriptor()
	for _, w := range want {
		f := md.Fields().ByName(protoreflect.Name(w.name))
		if f == nil {
			t.Errorf("%s: missing field %s", md.FullName(), w.name)
			continue
		}
		if f.Number() != w.number || f.Kind() != w.kind {
			t.Errorf("%s.%s = #%d %s, want #%d %s", md.FullName(), w.name, f.Number(), f.Kind(), w.number, w.kind)
		}
	}
}

func TestFieldNumbers(t *testing.T) {
	checkFields(t, &flovynv1.SubmitWorkflowCommandsRequest{}, []fieldWant{
		{"workflow_execution_id", 1, protoreflect.StringKind},
		{"commands", 2, protoreflect.MessageKind},
		{"status", 3, protoreflect.EnumKind},
	})
	checkFields(t, &flovynv1.WorkflowExecution{}, []fieldWant{
		{"id", 1, protoreflect.StringKind},
		{"input", 4, protoreflect.BytesKind},
		{"workflow_task_time_millis", 14, protoreflect.Int64Kind},
	})
	checkFields(t, &flovynv1.PollRequest{}, []fieldWant{
		{"worker_id", 1, protoreflect.StringKind},
		{"org_id", 2, protoreflect.StringKind},
		{"queue", 3, protoreflect.StringKind},
		{"timeout_seconds", 4, protoreflect.Int64Kind},
		{"worker_pool_id", 5, protoreflect.StringKind},
		{"workflow_capabilities", 6, protoreflect.StringKind},
	})
	checkFields(t, &flovynv1.WorkflowCommand{}, []fieldWant{
		{"command_type", 1, protoreflect.EnumKind},
		{"sequence_number", 2, protoreflect.Int32Kind},
		{"record_operation", 10, protoreflect.MessageKind},
		{"schedule_task", 13, protoreflect.MessageKind},
		{"request_cancel_child_workflow", 23, protoreflect.MessageKind},
	})
	checkFields(t, &flovynv1.WorkerRegistrationRequest{}, []fieldWant{
		{"workflows", 8, protoreflect.MessageKind},
		{"tasks", 9, protoreflect.MessageKind},
		{"metadata", 10, protoreflect.BytesKind},
		{"agents", 11, protoreflect.MessageKind},
	})

	pr := (&flovynv1.PollRequest{}).ProtoReflect().Descriptor()
	if !pr.Fields().ByName("worker_pool_id").HasOptionalKeyword() {
		t.Error("PollRequest.worker_pool_id must be proto3 optional")
	}
	if !pr.Fields().ByName("workflow_capabilities").IsList() {
		t.Error("PollRequest.workflow_capabilities must be repeated")
	}
	if (&flovynv1.PollTaskRequest{}).ProtoReflect().Descriptor().Fields().ByName("worker_labels").IsMap() == false {
		t.Error("PollTaskRequest.worker_labels must be a map")
	}
	if got := (&flovynv1.WorkerRegistrationRequest{}).ProtoReflect().Descriptor().Fields().ByNumber(11).Message().FullName(); got != "flovyn.v1.AgentCapability" {
		t.Errorf("WorkerRegistrationRequest.agents type = %s", got)
	}
}

// The SDKs send these enums as their numbers.
func TestEnumNumbers(t *testing.T) {
	status := map[flovynv1.WorkflowStatus]int32{
		flovynv1.WorkflowStatus_WORKFLOW_STATUS_UNSPECIFIED: 0,
		flovynv1.WorkflowStatus_RUNNING:                     1,
		flovynv1.WorkflowStatus_SUSPENDED:                   2,
		flovynv1.WorkflowStatus_COMPLETED:                   3,
		flovynv1.WorkflowStatus_CANCELLED:                   4,
		flovynv1.WorkflowStatus_FAILED:                      5,
	}
	for v, n := range status {
		if int32(v) != n {
			t.Errorf("WorkflowStatus %s = %d, want %d", v, int32(v), n)
		}
	}
	if flovynv1.CommandType_SCHEDULE_TASK != 4 || flovynv1.CommandType_START_TIMER != 12 ||
		flovynv1.CommandType_REQUEST_CANCEL_CHILD_WORKFLOW != 14 {
		t.Error("CommandType numbers drifted")
	}
	if flovynv1.StreamEventType_TOKEN != 1 || flovynv1.StreamEventType_ERROR != 4 {
		t.Error("StreamEventType numbers drifted")
	}
}
