package grpcapi

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
	"github.com/flovyn/flovyn/server/engine"
)

// FuzzToCommand feeds arbitrary wire bytes through the translation of a
// submitted command: it never panics, and what it refuses is an
// InvalidError naming a field of that command.
func FuzzToCommand(f *testing.F) {
	timeout := int64(5)
	kind := "child"
	for _, c := range []*flovynv1.WorkflowCommand{
		{CommandType: flovynv1.CommandType_SCHEDULE_TASK, CommandData: &flovynv1.WorkflowCommand_ScheduleTask{ScheduleTask: &flovynv1.ScheduleTaskCommand{
			TaskExecutionId: "6a3c1c3e-5b8e-4c55-9d7e-0f3a3f2c1b10", Kind: "t", Input: []byte(`{"a":1}`), TimeoutMs: &timeout}}},
		{CommandType: flovynv1.CommandType_SCHEDULE_CHILD_WORKFLOW, CommandData: &flovynv1.WorkflowCommand_ScheduleChildWorkflow{ScheduleChildWorkflow: &flovynv1.ScheduleChildWorkflowCommand{
			ChildExecutionName: "c", WorkflowKind: &kind, ChildWorkflowExecutionId: "not-a-uuid"}}},
		{CommandType: flovynv1.CommandType_START_TIMER, CommandData: &flovynv1.WorkflowCommand_StartTimer{StartTimer: &flovynv1.StartTimerCommand{TimerId: "t", DurationMs: -1}}},
		{CommandType: flovynv1.CommandType_SET_STATE, CommandData: &flovynv1.WorkflowCommand_SetState{SetState: &flovynv1.SetStateCommand{Key: "k", Value: []byte("{")}}},
		{CommandType: flovynv1.CommandType_COMPLETE_WORKFLOW},
		{CommandType: 999},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c flovynv1.WorkflowCommand
		if proto.Unmarshal(b, &c) != nil {
			return // grpc-go refuses such a message before any handler runs
		}
		_, err := toCommand(3, &c)
		var inv *engine.InvalidError
		if err != nil && (!errors.As(err, &inv) || inv.Field == "") {
			t.Fatalf("toCommand refused %v with %T %v, want an InvalidError naming a field", &c, err, err)
		}
	})
}
