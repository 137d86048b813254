package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestParsePromiseRef(t *testing.T) {
	wf, p := uuid.New(), uuid.New()
	for _, tc := range []struct {
		ref      string
		id, wf   uuid.UUID
		name     string
		badInput bool
	}{
		{ref: p.String(), id: p},
		{ref: wf.String() + ":approval", wf: wf, name: "approval"},
		{ref: wf.String() + "/needs:colon", wf: wf, name: "needs:colon"},
		{ref: "", badInput: true},
		{ref: "approval", badInput: true},
		{ref: "not-a-uuid-at-all-but-long-enough-xx:name", badInput: true},
	} {
		id, gotWF, name, err := parsePromiseRef(tc.ref)
		var inv *InvalidError
		if tc.badInput {
			if !errors.As(err, &inv) || inv.Field != "promise_id" {
				t.Errorf("%q: err %v, want an InvalidError on promise_id", tc.ref, err)
			}
			continue
		}
		if err != nil || id != tc.id || gotWF != tc.wf || name != tc.name {
			t.Errorf("%q = %v %v %q %v", tc.ref, id, gotWF, name, err)
		}
	}
}

func TestRetryBackoffGrowsAndIsCapped(t *testing.T) {
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	for i, w := range want {
		if got := retryBackoff(int32(i + 1)); got != w {
			t.Errorf("after %d failures: %v, want %v", i+1, got, w)
		}
	}
	if got := retryBackoff(30); got != 5*time.Second {
		t.Errorf("cap: %v, want 5s", got)
	}
}

func TestPayload(t *testing.T) {
	if p, err := Payload("input", nil); err != nil || string(p) != "null" {
		t.Errorf("empty payload = %s, %v; want null", p, err)
	}
	if p, err := Payload("input", []byte(`{"a":1}`)); err != nil || string(p) != `{"a":1}` {
		t.Errorf("JSON payload = %s, %v", p, err)
	}
	var inv *InvalidError
	if _, err := Payload("input", []byte("{nope")); !errors.As(err, &inv) || inv.Field != "input" {
		t.Errorf("malformed payload: %v, want an InvalidError naming input", err)
	}
}
