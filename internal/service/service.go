// Package service is the one shape of flovyn's background work (model:
// river's maintenance services): a loop that runs a unit of work, then
// waits until the work says it is due again, at most its interval, or until
// it is woken early for something due sooner. Every service has a config
// whose defaults have names, Start and an idempotent Stop, a RunOnce that
// tests call directly, and signals a test can wait on instead of sleeping.
package service

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Work is one run of a service. It returns how long until it is due again
// (0 or less than nothing: the service's interval).
type Work func(ctx context.Context) (next time.Duration, err error)

// Config names a service and bounds its waits.
type Config struct {
	Name string
	// Interval is the longest wait between two runs: what a lost wake-up
	// costs at most.
	Interval time.Duration
}

// Service runs one Work in the background.
type Service struct {
	cfg  Config
	work Work
	log  *slog.Logger

	alarm chan struct{}
	mu    sync.Mutex
	at    time.Time // the earliest WakeAt since the loop last looked

	stop    context.CancelFunc
	stopped chan struct{}

	// Ran receives after every run, once a test has called TestSignals.
	ran chan error
}

// New returns a service that is not running yet.
func New(cfg Config, log *slog.Logger, work Work) *Service {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	return &Service{cfg: cfg, work: work, log: log, alarm: make(chan struct{}, 1)}
}

// ErrStarted is the answer to starting a service twice.
var ErrStarted = errors.New("service: already started")

// Start runs the service until ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return ErrStarted
	}
	ctx, s.stop = context.WithCancel(ctx)
	s.stopped = make(chan struct{})
	go s.loop(ctx, s.stopped)
	return nil
}

// Stop ends the service and waits for its run in progress. It may be
// called more than once, and on a service never started.
func (s *Service) Stop() {
	s.mu.Lock()
	stop, stopped := s.stop, s.stopped
	s.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-stopped
}

// RunOnce runs the work once, now, in the caller's goroutine.
func (s *Service) RunOnce(ctx context.Context) (time.Duration, error) {
	next, err := s.work(ctx)
	s.mu.Lock()
	ran := s.ran
	s.mu.Unlock()
	if ran != nil {
		select {
		case ran <- err:
		default: // a test that stopped listening does not block the service
		}
	}
	return next, err
}

// WakeAt asks for a run at at, if that is sooner than the service would
// run anyway. It never blocks.
func (s *Service) WakeAt(at time.Time) {
	s.mu.Lock()
	if s.at.IsZero() || at.Before(s.at) {
		s.at = at
	}
	s.mu.Unlock()
	select {
	case s.alarm <- struct{}{}:
	default:
	}
}

// Wake asks for a run now.
func (s *Service) Wake() { s.WakeAt(time.Now()) }

// TestSignals returns a channel that receives the outcome of every run
// from now on (buffered; runs that find it full are not reported).
func (s *Service) TestSignals() <-chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ran == nil {
		s.ran = make(chan error, 64)
	}
	return s.ran
}

func (s *Service) takeWake() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.at
	s.at = time.Time{}
	return at
}

func (s *Service) loop(ctx context.Context, stopped chan struct{}) {
	defer close(stopped)
	for {
		wait, err := s.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Warn("background work failed; retrying", "service", s.cfg.Name, "err", err)
		}
		if wait <= 0 || wait > s.cfg.Interval {
			wait = s.cfg.Interval
		}
		next := time.Now().Add(wait)
		t := time.NewTimer(wait)
	sleep:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-s.alarm:
				if at := s.takeWake(); !at.IsZero() && at.Before(next) {
					next = at
					t.Reset(max(time.Until(at), 0))
				}
			case <-t.C:
				break sleep
			}
		}
	}
}
