package flovynv1_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// agent.proto must be wire-identical to the Rust SDK's proto/agent.proto
// (flovyn/sdk-rust 36b0d50). The facts below were derived from the SDK file's
// descriptor, not from ours: every method with its streaming shape, every
// message with all of its fields (label, type, name, number, oneof), and every
// enum value. The test fails on any difference, missing or extra element.
// Only comments, layout and file options (go_package instead of the SDK's
// java_* options) may differ from the SDK file.

var agentDispatchMethods = []string{
	"rpc PollAgent(flovyn.v1.PollAgentRequest) returns (flovyn.v1.PollAgentResponse)",
	"rpc GetEntries(flovyn.v1.GetEntriesRequest) returns (stream flovyn.v1.AgentEntryChunk)",
	"rpc AppendEntry(flovyn.v1.AppendEntryRequest) returns (flovyn.v1.AppendEntryResponse)",
	"rpc GetLatestCheckpoint(flovyn.v1.GetCheckpointRequest) returns (flovyn.v1.GetCheckpointResponse)",
	"rpc SubmitCheckpoint(flovyn.v1.SubmitCheckpointRequest) returns (flovyn.v1.SubmitCheckpointResponse)",
	"rpc ScheduleAgentTask(stream flovyn.v1.ScheduleAgentTaskChunk) returns (flovyn.v1.ScheduleAgentTaskResponse)",
	"rpc CompleteAgent(flovyn.v1.CompleteAgentRequest) returns (google.protobuf.Empty)",
	"rpc FailAgent(flovyn.v1.FailAgentRequest) returns (google.protobuf.Empty)",
	"rpc SuspendAgent(flovyn.v1.SuspendAgentRequest) returns (google.protobuf.Empty)",
	"rpc ResumeAgent(flovyn.v1.ResumeAgentRequest) returns (flovyn.v1.ResumeAgentResponse)",
	"rpc SignalAgent(flovyn.v1.SignalAgentRequest) returns (flovyn.v1.SignalAgentResponse)",
	"rpc ConsumeSignals(flovyn.v1.ConsumeSignalsRequest) returns (flovyn.v1.ConsumeSignalsResponse)",
	"rpc HasSignal(flovyn.v1.HasSignalRequest) returns (flovyn.v1.HasSignalResponse)",
	"rpc GetAgentTaskResult(flovyn.v1.GetAgentTaskResultRequest) returns (flovyn.v1.GetAgentTaskResultResponse)",
	"rpc GetAgentTaskResults(flovyn.v1.GetAgentTaskResultsRequest) returns (flovyn.v1.GetAgentTaskResultsResponse)",
	"rpc GetAgentTaskCount(flovyn.v1.GetAgentTaskCountRequest) returns (flovyn.v1.GetAgentTaskCountResponse)",
	"rpc CancelAgentTask(flovyn.v1.CancelAgentTaskRequest) returns (flovyn.v1.CancelAgentTaskResponse)",
	"rpc StreamAgentData(stream flovyn.v1.StreamAgentDataRequest) returns (flovyn.v1.StreamAgentDataResponse)",
	"rpc SpawnChildAgent(flovyn.v1.SpawnChildAgentRequest) returns (flovyn.v1.SpawnChildAgentResponse)",
	"rpc SendParentSignal(flovyn.v1.SendParentSignalRequest) returns (flovyn.v1.SendParentSignalResponse)",
	"rpc SendChildSignal(flovyn.v1.SendChildSignalRequest) returns (flovyn.v1.SendChildSignalResponse)",
	"rpc PollChildEvents(flovyn.v1.PollChildEventsRequest) returns (flovyn.v1.PollChildEventsResponse)",
}

var agentMessages = map[string][]string{
	"PollAgentRequest": {
		"string worker_id = 1",
		"string org_id = 2",
		"string queue = 3",
		"int64 timeout_seconds = 4",
		"repeated string agent_capabilities = 5",
		"optional string worker_pool_id = 6",
	},
	"PollAgentResponse": {
		"flovyn.v1.AgentExecutionInfo agent_execution = 1",
		"string traceparent = 2",
	},
	"AgentExecutionInfo": {
		"string id = 1",
		"string kind = 2",
		"string org_id = 3",
		"bytes input = 4",
		"string queue = 5",
		"int64 created_at_ms = 6",
		"int32 current_checkpoint_seq = 7",
		"string persistence_mode = 8",
		"optional string agent_definition_id = 9",
		"optional string worker_pool_id = 10",
		"bytes metadata = 11",
		"optional string parent_execution_id = 12",
	},
	"GetEntriesRequest": {
		"string agent_execution_id = 1",
		"optional string after_entry_id = 2",
	},
	"AgentEntryChunk": {
		"flovyn.v1.AgentEntry entry = 1",
	},
	"AgentEntry": {
		"string id = 1",
		"optional string parent_id = 2",
		"string entry_type = 3",
		"optional string role = 4",
		"bytes content = 5",
		"optional string turn_id = 6",
		"optional flovyn.v1.TokenUsage token_usage = 7",
		"int64 created_at_ms = 8",
	},
	"TokenUsage": {
		"int64 input_tokens = 1",
		"int64 output_tokens = 2",
		"optional int64 cache_read_tokens = 3",
		"optional int64 cache_write_tokens = 4",
	},
	"AppendEntryRequest": {
		"string agent_execution_id = 1",
		"optional string parent_id = 2",
		"string entry_type = 3",
		"optional string role = 4",
		"bytes content = 5",
		"optional string turn_id = 6",
		"optional flovyn.v1.TokenUsage token_usage = 7",
		"optional string idempotency_key = 8",
	},
	"AppendEntryResponse": {
		"string entry_id = 1",
		"bool already_existed = 2",
	},
	"GetCheckpointRequest": {
		"string agent_execution_id = 1",
	},
	"GetCheckpointResponse": {
		"flovyn.v1.AgentCheckpoint checkpoint = 1",
	},
	"AgentCheckpoint": {
		"string id = 1",
		"int32 sequence = 2",
		"optional string leaf_entry_id = 3",
		"bytes state = 4",
		"int64 created_at_ms = 5",
	},
	"SubmitCheckpointRequest": {
		"string agent_execution_id = 1",
		"optional string leaf_entry_id = 2",
		"bytes state = 3",
		"optional flovyn.v1.TokenUsage cumulative_token_usage = 4",
	},
	"SubmitCheckpointResponse": {
		"string checkpoint_id = 1",
		"int32 sequence = 2",
	},
	"ScheduleAgentTaskHeader": {
		"string agent_execution_id = 1",
		"string task_kind = 2",
		"optional string queue = 3",
		"optional int32 max_retries = 4",
		"optional int64 timeout_ms = 5",
		"optional string idempotency_key = 6",
		"optional int64 idempotency_key_ttl_seconds = 7",
		"map<string, string> metadata = 8",
	},
	"ScheduleAgentTaskChunk": {
		"flovyn.v1.ScheduleAgentTaskHeader header = 1 [oneof chunk]",
		"bytes input_chunk = 2 [oneof chunk]",
	},
	"ScheduleAgentTaskResponse": {
		"string task_execution_id = 1",
		"bool idempotency_key_used = 2",
		"bool idempotency_key_new = 3",
	},
	"CompleteAgentRequest": {
		"string agent_execution_id = 1",
		"bytes output = 2",
	},
	"FailAgentRequest": {
		"string agent_execution_id = 1",
		"string error = 2",
		"optional string stack_trace = 3",
		"optional string failure_type = 4",
	},
	"SuspendAgentRequest": {
		"string agent_execution_id = 1",
		"string wait_for_signal = 2 [oneof wait_condition]",
		"optional string reason = 3",
		"string wait_for_task = 4 [oneof wait_condition]",
		"flovyn.v1.WaitForTasks wait_for_tasks = 5 [oneof wait_condition]",
		"flovyn.v1.WaitForChildEvent wait_for_child_event = 6 [oneof wait_condition]",
		"flovyn.v1.WaitForAllChildren wait_for_all_children = 7 [oneof wait_condition]",
	},
	"WaitForTasks": {
		"repeated string task_ids = 1",
		"flovyn.v1.WaitMode mode = 2",
	},
	"ResumeAgentRequest": {
		"string agent_execution_id = 1",
		"string worker_id = 2",
	},
	"ResumeAgentResponse": {
		"bool success = 1",
		"flovyn.v1.AgentExecutionInfo agent = 2",
		"string traceparent = 3",
	},
	"SignalAgentRequest": {
		"string agent_execution_id = 1",
		"string signal_name = 2",
		"bytes signal_value = 3",
	},
	"SignalAgentResponse": {
		"string signal_id = 1",
		"bool agent_resumed = 2",
	},
	"ConsumeSignalsRequest": {
		"string agent_execution_id = 1",
		"optional string signal_name = 2",
		"optional string signal_pattern = 3",
	},
	"ConsumeSignalsResponse": {
		"repeated flovyn.v1.AgentSignal signals = 1",
	},
	"AgentSignal": {
		"string id = 1",
		"string signal_name = 2",
		"bytes signal_value = 3",
		"int64 created_at_ms = 4",
	},
	"HasSignalRequest": {
		"string agent_execution_id = 1",
		"string signal_name = 2",
	},
	"HasSignalResponse": {
		"bool has_signal = 1",
	},
	"GetAgentTaskResultRequest": {
		"string agent_execution_id = 1",
		"string task_execution_id = 2",
	},
	"GetAgentTaskResultResponse": {
		"string status = 1",
		"optional bytes output = 2",
		"optional string error = 3",
	},
	"GetAgentTaskResultsRequest": {
		"string agent_execution_id = 1",
		"repeated string task_execution_ids = 2",
	},
	"GetAgentTaskResultsResponse": {
		"repeated flovyn.v1.TaskResultEntry results = 1",
	},
	"TaskResultEntry": {
		"string task_execution_id = 1",
		"string status = 2",
		"optional bytes output = 3",
		"optional string error = 4",
	},
	"GetAgentTaskCountRequest": {
		"string agent_execution_id = 1",
	},
	"GetAgentTaskCountResponse": {
		"int32 task_count = 1",
	},
	"CancelAgentTaskRequest": {
		"string agent_execution_id = 1",
		"string task_execution_id = 2",
		"optional string reason = 3",
	},
	"CancelAgentTaskResponse": {
		"bool cancelled = 1",
		"string status = 2",
	},
	"StreamAgentDataRequest": {
		"string agent_execution_id = 1",
		"int32 sequence = 2",
		"flovyn.v1.AgentStreamEventType event_type = 3",
		"string payload = 4",
		"int64 timestamp_ms = 5",
	},
	"StreamAgentDataResponse": {
		"bool acknowledged = 1",
	},
	"WaitForChildEvent": {
		"repeated string child_execution_ids = 1",
	},
	"WaitForAllChildren": {
		"repeated string child_execution_ids = 1",
	},
	"SpawnChildAgentRequest": {
		"string org_id = 1",
		"string parent_execution_id = 2",
		"string agent_kind = 3",
		"bytes input = 4",
		"optional string queue = 5",
		"optional string system_prompt = 6",
		"repeated string tools = 7",
		"optional string model = 8",
		"optional int64 max_budget_tokens = 9",
		"string mode = 10",
		"optional string template_slug = 11",
	},
	"SpawnChildAgentResponse": {
		"string child_execution_id = 1",
		"string status = 2",
	},
	"SendParentSignalRequest": {
		"string org_id = 1",
		"string child_execution_id = 2",
		"string signal_name = 3",
		"bytes payload = 4",
	},
	"SendParentSignalResponse": {
		"bool delivered = 1",
	},
	"SendChildSignalRequest": {
		"string org_id = 1",
		"string parent_execution_id = 2",
		"string child_execution_id = 3",
		"string signal_name = 4",
		"bytes payload = 5",
	},
	"SendChildSignalResponse": {
		"bool delivered = 1",
	},
	"PollChildEventsRequest": {
		"string org_id = 1",
		"string parent_execution_id = 2",
		"repeated string child_execution_ids = 3",
	},
	"PollChildEventsResponse": {
		"repeated flovyn.v1.ChildEventInfo events = 1",
	},
	"ChildEventInfo": {
		"string child_execution_id = 1",
		"string event_type = 2",
		"optional bytes output = 3",
		"optional string error = 4",
		"optional string signal_name = 5",
		"optional bytes signal_payload = 6",
	},
}

var agentEnums = map[string][]string{
	"WaitMode": {
		"WAIT_MODE_UNSPECIFIED = 0",
		"WAIT_MODE_ALL = 1",
		"WAIT_MODE_ANY = 2",
	},
	"AgentStreamEventType": {
		"AGENT_STREAM_EVENT_TYPE_UNSPECIFIED = 0",
		"AGENT_TOKEN = 1",
		"AGENT_PROGRESS = 2",
		"AGENT_DATA = 3",
		"AGENT_ERROR = 4",
		"AGENT_TOOL_START = 5",
		"AGENT_TOOL_END = 6",
	},
}

func TestAgentProtoFile(t *testing.T) {
	fd := flovynv1.File_flovyn_v1_agent_proto
	if fd.Package() != "flovyn.v1" || fd.Syntax() != protoreflect.Proto3 {
		t.Errorf("agent.proto: package %s, syntax %s; want flovyn.v1, proto3", fd.Package(), fd.Syntax())
	}
	var imports []string
	for i := 0; i < fd.Imports().Len(); i++ {
		imports = append(imports, fd.Imports().Get(i).Path())
	}
	if !slices.Equal(imports, []string{"google/protobuf/empty.proto"}) {
		t.Errorf("agent.proto imports %v", imports)
	}
	if fd.Services().Len() != 1 || fd.Services().Get(0).FullName() != "flovyn.v1.AgentDispatch" {
		t.Errorf("agent.proto must declare exactly the service flovyn.v1.AgentDispatch")
	}
	if fd.Extensions().Len() != 0 {
		t.Errorf("agent.proto declares %d extensions", fd.Extensions().Len())
	}
}

func TestAgentDispatchMethods(t *testing.T) {
	svc := flovynv1.File_flovyn_v1_agent_proto.Services().ByName("AgentDispatch")
	if svc == nil {
		t.Fatal("AgentDispatch not declared")
	}
	var got []string
	for i := 0; i < svc.Methods().Len(); i++ {
		got = append(got, methodLine(svc.Methods().Get(i)))
	}
	diffSets(t, "AgentDispatch methods", got, agentDispatchMethods)

	// The generated gRPC glue carries the same facts to the wire.
	sd := flovynv1.AgentDispatch_ServiceDesc
	if sd.ServiceName != "flovyn.v1.AgentDispatch" {
		t.Errorf("ServiceDesc.ServiceName = %s", sd.ServiceName)
	}
	streams := map[string]grpc.StreamDesc{}
	for _, s := range sd.Streams {
		streams[s.StreamName] = s
	}
	for i := 0; i < svc.Methods().Len(); i++ {
		m := svc.Methods().Get(i)
		s, isStream := streams[string(m.Name())]
		if isStream != (m.IsStreamingClient() || m.IsStreamingServer()) ||
			s.ClientStreams != m.IsStreamingClient() || s.ServerStreams != m.IsStreamingServer() {
			t.Errorf("ServiceDesc streaming shape of %s differs from the descriptor", m.Name())
		}
	}
	if len(sd.Methods)+len(sd.Streams) != len(agentDispatchMethods) {
		t.Errorf("ServiceDesc has %d unary + %d streaming methods", len(sd.Methods), len(sd.Streams))
	}
	if flovynv1.AgentDispatch_PollAgent_FullMethodName != "/flovyn.v1.AgentDispatch/PollAgent" {
		t.Errorf("PollAgent full method = %s", flovynv1.AgentDispatch_PollAgent_FullMethodName)
	}
}

func TestAgentMessages(t *testing.T) {
	fd := flovynv1.File_flovyn_v1_agent_proto
	var names []string
	for i := 0; i < fd.Messages().Len(); i++ {
		md := fd.Messages().Get(i)
		names = append(names, string(md.Name()))
		want, ok := agentMessages[string(md.Name())]
		if !ok {
			continue // reported by diffSets below
		}
		if got := messageLines(md); !slices.Equal(got, want) {
			t.Errorf("message %s:\n got  %q\n want %q", md.Name(), got, want)
		}
	}
	var want []string
	for n := range agentMessages {
		want = append(want, n)
	}
	diffSets(t, "agent.proto messages", names, want)
}

func TestAgentEnums(t *testing.T) {
	fd := flovynv1.File_flovyn_v1_agent_proto
	var names []string
	for i := 0; i < fd.Enums().Len(); i++ {
		ed := fd.Enums().Get(i)
		names = append(names, string(ed.Name()))
		if want, ok := agentEnums[string(ed.Name())]; ok {
			if got := enumLines(ed); !slices.Equal(got, want) {
				t.Errorf("enum %s:\n got  %q\n want %q", ed.Name(), got, want)
			}
		}
	}
	var want []string
	for n := range agentEnums {
		want = append(want, n)
	}
	diffSets(t, "agent.proto enums", names, want)

	// The SDK sends these as numbers.
	if flovynv1.WaitMode_WAIT_MODE_ANY != 2 || flovynv1.AgentStreamEventType_AGENT_PROGRESS != 2 {
		t.Error("agent enum numbers drifted")
	}
}

// diffSets reports elements missing from or extra in got, ignoring order.
func diffSets(t *testing.T, what string, got, want []string) {
	t.Helper()
	in := func(s []string, x string) bool { return slices.Contains(s, x) }
	for _, w := range want {
		if !in(got, w) {
			t.Errorf("%s: missing %s", what, w)
		}
	}
	for _, g := range got {
		if !in(want, g) {
			t.Errorf("%s: unexpected %s", what, g)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d, want %d", what, len(got), len(want))
	}
}

// fieldLine renders a field as a proto-like line carrying its wire facts:
// label (repeated, proto3 optional, map), type (full name for messages and
// enums), name, number, the real oneof it belongs to, and packing.
func fieldLine(f protoreflect.FieldDescriptor) string {
	typ := func(f protoreflect.FieldDescriptor) string {
		switch f.Kind() {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			return string(f.Message().FullName())
		case protoreflect.EnumKind:
			return string(f.Enum().FullName())
		}
		return f.Kind().String()
	}
	var b strings.Builder
	switch {
	case f.IsMap():
		fmt.Fprintf(&b, "map<%s, %s>", typ(f.MapKey()), typ(f.MapValue()))
	case f.IsList():
		b.WriteString("repeated " + typ(f))
	case f.HasOptionalKeyword():
		b.WriteString("optional " + typ(f))
	default:
		b.WriteString(typ(f))
	}
	fmt.Fprintf(&b, " %s = %d", f.Name(), f.Number())
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		fmt.Fprintf(&b, " [oneof %s]", o.Name())
	}
	if f.IsPacked() {
		b.WriteString(" [packed]")
	}
	return b.String()
}

// messageLines renders a message's fields ordered by number, followed by any
// nested declaration other than map entries (the SDK has none).
func messageLines(md protoreflect.MessageDescriptor) []string {
	fields := make([]protoreflect.FieldDescriptor, md.Fields().Len())
	for i := range fields {
		fields[i] = md.Fields().Get(i)
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Number() < fields[j].Number() })
	var out []string
	for _, f := range fields {
		out = append(out, fieldLine(f))
	}
	for i := 0; i < md.Messages().Len(); i++ {
		if n := md.Messages().Get(i); !n.IsMapEntry() {
			out = append(out, "nested message "+string(n.Name()))
		}
	}
	for i := 0; i < md.Enums().Len(); i++ {
		out = append(out, "nested enum "+string(md.Enums().Get(i).Name()))
	}
	return out
}

func methodLine(m protoreflect.MethodDescriptor) string {
	in, out := string(m.Input().FullName()), string(m.Output().FullName())
	if m.IsStreamingClient() {
		in = "stream " + in
	}
	if m.IsStreamingServer() {
		out = "stream " + out
	}
	return fmt.Sprintf("rpc %s(%s) returns (%s)", m.Name(), in, out)
}

func enumLines(ed protoreflect.EnumDescriptor) []string {
	var out []string
	for i := 0; i < ed.Values().Len(); i++ {
		v := ed.Values().Get(i)
		out = append(out, fmt.Sprintf("%s = %d", v.Name(), v.Number()))
	}
	return out
}
