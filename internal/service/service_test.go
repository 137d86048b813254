package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A started service runs at once, again when woken, reports every run on its
// test signals, and stops (twice, harmlessly) without running again.
func TestStartWakeStop(t *testing.T) {
	var runs atomic.Int32
	boom := errors.New("boom")
	s := New(Config{Name: "test", Interval: time.Hour}, quiet(), func(context.Context) (time.Duration, error) {
		if runs.Add(1) == 2 {
			return 0, boom
		}
		return 0, nil
	})
	ran := s.TestSignals()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("first run: %v", err)
	}
	s.Wake() // the interval is an hour: only the wake-up runs it again
	if err := <-ran; !errors.Is(err, boom) {
		t.Fatalf("second run: %v, want boom", err)
	}
	s.Stop()
	s.Stop()
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

// The work says when it is due next; WakeAt a later time changes nothing.
func TestWorkSetsTheNextRun(t *testing.T) {
	var runs atomic.Int32
	s := New(Config{Name: "test", Interval: time.Hour}, quiet(), func(context.Context) (time.Duration, error) {
		if runs.Add(1) == 1 {
			return time.Millisecond, nil
		}
		return 0, nil
	})
	ran := s.TestSignals()
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-ran
	<-ran // due again after a millisecond, not an hour
	s.WakeAt(time.Now().Add(time.Hour))
	cancel()
	s.Stop()
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

func TestStopBeforeStart(t *testing.T) {
	New(Config{Name: "never"}, quiet(), func(context.Context) (time.Duration, error) { return 0, nil }).Stop()
}
