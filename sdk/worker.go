package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	// Queue to poll; default "default".
	Queue string
	// Name registered with the server (worker_name); default "go-worker-<uuid>".
	Name string
	// Version registered for the worker and its kinds; default "1.0.0".
	Version string
	// MaxConcurrentWorkflows / MaxConcurrentTasks bound the workflow tasks and
	// tasks executed at once; default 10 each.
	MaxConcurrentWorkflows int
	MaxConcurrentTasks     int
	// MaxConcurrentAgents bounds the agent executions run at once; default 5.
	MaxConcurrentAgents int
	// NoWorkBackoff is the pause after an empty poll; default 100 ms.
	NoWorkBackoff time.Duration
	// PollTimeout is sent as timeout_seconds in polls; default 60 s (the
	// server may answer sooner).
	PollTimeout time.Duration
	// HeartbeatInterval between SendHeartbeat calls; default 30 s, negative
	// disables heartbeats.
	HeartbeatInterval time.Duration
	// Logger for worker diagnostics; default slog.Default().
	Logger *slog.Logger
}

// Worker polls one queue for workflow tasks, tasks and agent executions of
// the kinds registered on it and executes them.
type Worker struct {
	c   *Client
	o   WorkerOptions
	log *slog.Logger

	mu        sync.Mutex
	workflows map[string]WorkflowFunc
	tasks     map[string]TaskFunc
	agents    map[string]AgentFunc
	running   bool
	workerID  string

	agentStats agentCounters
}

// NewWorker creates a worker on c. Register kinds, then call Run.
func NewWorker(c *Client, o WorkerOptions) *Worker {
	if o.Queue == "" {
		o.Queue = "default"
	}
	if o.Name == "" {
		o.Name = "go-worker-" + uuid.NewString()
	}
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	if o.MaxConcurrentWorkflows <= 0 {
		o.MaxConcurrentWorkflows = 10
	}
	if o.MaxConcurrentTasks <= 0 {
		o.MaxConcurrentTasks = 10
	}
	if o.MaxConcurrentAgents <= 0 {
		o.MaxConcurrentAgents = 5
	}
	if o.NoWorkBackoff <= 0 {
		o.NoWorkBackoff = 100 * time.Millisecond
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = 60 * time.Second
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 30 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Worker{
		c: c, o: o,
		log:       log.With("worker", o.Name, "queue", o.Queue),
		workflows: map[string]WorkflowFunc{},
		tasks:     map[string]TaskFunc{},
		agents:    map[string]AgentFunc{},
	}
}

// RegisterWorkflow registers a workflow kind. It panics while Run is running.
func (w *Worker) RegisterWorkflow(kind string, fn WorkflowFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		panic("flovyn: RegisterWorkflow after Run")
	}
	w.workflows[kind] = fn
}

// RegisterTask registers a task kind. It panics while Run is running.
func (w *Worker) RegisterTask(kind string, fn TaskFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		panic("flovyn: RegisterTask after Run")
	}
	w.tasks[kind] = fn
}

// WorkerID is the id the server assigned at registration ("" before Run
// registered the worker).
func (w *Worker) WorkerID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.workerID
}

// Run registers the worker (a failed registration is returned as an error),
// then polls for workflow tasks, tasks and agent executions until ctx is
// cancelled. On
// cancellation it stops polling, waits for the work in flight to finish and
// report its result, and returns nil. Run must not be called concurrently;
// after it returns it may be called again (it registers again).
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errors.New("flovyn: worker already running")
	}
	if len(w.workflows) == 0 && len(w.tasks) == 0 && len(w.agents) == 0 {
		w.mu.Unlock()
		return errors.New("flovyn: no workflow, task or agent registered")
	}
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}()

	id, err := w.register(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.workerID = id
	w.mu.Unlock()
	w.log.Info("worker registered", "worker_id", id,
		"workflows", len(w.workflows), "tasks", len(w.tasks), "agents", len(w.agents))

	var wg sync.WaitGroup
	if w.o.HeartbeatInterval > 0 {
		wg.Go(func() { w.heartbeatLoop(ctx, id) })
	}
	if len(w.workflows) > 0 {
		wg.Go(func() { w.pollLoop(ctx, w.o.MaxConcurrentWorkflows, w.pollWorkflow) })
	}
	if len(w.tasks) > 0 {
		wg.Go(func() { w.pollLoop(ctx, w.o.MaxConcurrentTasks, w.pollTask) })
	}
	if len(w.agents) > 0 {
		wg.Go(func() { w.pollLoop(ctx, w.o.MaxConcurrentAgents, w.pollAgent) })
	}
	wg.Wait()
	w.log.Info("worker stopped")
	return nil
}

func contentHash(kind, version string) string {
	sum := sha256.Sum256([]byte(kind + ":" + version))
	return hex.EncodeToString(sum[:])
}

func (w *Worker) register(ctx context.Context) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	req := &flovynv1.WorkerRegistrationRequest{
		WorkerName:    w.o.Name,
		WorkerVersion: w.o.Version,
		WorkerType:    "UNIFIED",
		OrgId:         w.c.opts.OrgID,
		HostName:      host,
		ProcessId:     strconv.Itoa(os.Getpid()),
	}
	for _, k := range sortedKeys(w.workflows) {
		req.Workflows = append(req.Workflows, &flovynv1.WorkflowCapability{
			Kind: k, Name: k, Cancellable: true, Version: w.o.Version, ContentHash: contentHash(k, w.o.Version),
		})
	}
	for _, k := range sortedKeys(w.tasks) {
		req.Tasks = append(req.Tasks, &flovynv1.TaskCapability{Kind: k, Name: k, Cancellable: true})
	}
	for _, k := range sortedKeys(w.agents) {
		req.Agents = append(req.Agents, &flovynv1.AgentCapability{Kind: k, Name: k})
	}
	resp, err := w.c.life.RegisterWorker(ctx, req)
	if err != nil {
		return "", fmt.Errorf("flovyn: register worker: %w", err)
	}
	if !resp.GetSuccess() {
		return "", fmt.Errorf("flovyn: register worker refused: %s", resp.GetError())
	}
	if resp.GetWorkerId() == "" {
		return "", errors.New("flovyn: register worker: server returned no worker id")
	}
	return resp.GetWorkerId(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (w *Worker) heartbeatLoop(ctx context.Context, id string) {
	t := time.NewTicker(w.o.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := w.c.life.SendHeartbeat(ctx, &flovynv1.WorkerHeartbeatRequest{WorkerId: id}); err != nil && ctx.Err() == nil {
				w.log.Warn("heartbeat failed", "err", err)
			}
		}
	}
}

// pollFunc polls once. It returns a function executing the work received
// (nil when there was none).
type pollFunc func(ctx context.Context) (func(context.Context), error)

// pollLoop runs poll with at most limit executions in flight. Executions get a
// context that is not cancelled with ctx, so they finish and report on
// shutdown; the loop returns once they all have.
func (w *Worker) pollLoop(ctx context.Context, limit int, poll pollFunc) {
	sem := make(chan struct{}, limit)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	execCtx := context.WithoutCancel(ctx)
	errDelay := time.Duration(0)
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		run, err := poll(ctx)
		if err != nil {
			<-sem
			if ctx.Err() != nil {
				return
			}
			errDelay = nextErrorDelay(errDelay, err)
			w.log.Warn("poll failed", "err", err, "retry_in", errDelay)
			if !sleepCtx(ctx, errDelay) {
				return
			}
			continue
		}
		errDelay = 0
		if run == nil {
			<-sem
			if !sleepCtx(ctx, w.o.NoWorkBackoff) {
				return
			}
			continue
		}
		inflight.Go(func() {
			defer func() { <-sem }()
			run(execCtx)
		})
	}
}

// nextErrorDelay: an unavailable server is retried with exponential backoff
// (100 ms doubling up to 5 s); other errors after 1 s.
func nextErrorDelay(prev time.Duration, err error) time.Duration {
	if status.Code(err) != codes.Unavailable {
		return time.Second
	}
	if prev < 100*time.Millisecond {
		return 100 * time.Millisecond
	}
	if prev*2 > 5*time.Second {
		return 5 * time.Second
	}
	return prev * 2
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (w *Worker) pollTimeoutSeconds() int64 {
	s := int64(w.o.PollTimeout / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

func (w *Worker) pollWorkflow(ctx context.Context) (func(context.Context), error) {
	resp, err := w.c.wf.PollWorkflow(ctx, &flovynv1.PollRequest{
		WorkerId:       w.WorkerID(),
		OrgId:          w.c.opts.OrgID,
		Queue:          w.o.Queue,
		TimeoutSeconds: w.pollTimeoutSeconds(),
	})
	if err != nil {
		return nil, err
	}
	info := resp.GetWorkflowExecution()
	if info == nil {
		return nil, nil
	}
	return func(ctx context.Context) { w.runWorkflowTask(ctx, info) }, nil
}

// runWorkflowTask is one workflow task: GetEvents, replay, SubmitWorkflowCommands.
func (w *Worker) runWorkflowTask(ctx context.Context, info *flovynv1.WorkflowExecution) {
	log := w.log.With("execution_id", info.GetId(), "kind", info.GetKind())
	fn := w.workflows[info.GetKind()]
	if fn == nil {
		// Like the Rust SDK: submit nothing; the server re-dispatches it
		// (ideally to a worker that has the kind) once its lease expires.
		log.Error("workflow kind not registered on this worker")
		return
	}
	events, err := w.c.Events(ctx, info.GetId())
	if err != nil {
		log.Error("get events failed; workflow task abandoned", "err", err)
		return
	}
	res := executeWorkflowTask(ctx, fn, WorkflowTask{
		ExecutionID:    info.GetId(),
		Kind:           info.GetKind(),
		OrgID:          info.GetOrgId(),
		Input:          info.GetInput(),
		TaskTimeMillis: info.GetWorkflowTaskTimeMillis(),
		History:        events,
	})
	_, err = w.c.wf.SubmitWorkflowCommands(ctx, &flovynv1.SubmitWorkflowCommandsRequest{
		WorkflowExecutionId: info.GetId(),
		Commands:            res.Commands,
		Status:              res.Status,
	})
	if err != nil {
		log.Error("submit workflow commands failed", "err", err, "status", res.Status.String())
		return
	}
	log.Debug("workflow task done", "status", res.Status.String(), "commands", len(res.Commands))
}

func (w *Worker) pollTask(ctx context.Context) (func(context.Context), error) {
	resp, err := w.c.task.PollTask(ctx, &flovynv1.PollTaskRequest{
		WorkerId:       w.WorkerID(),
		OrgId:          w.c.opts.OrgID,
		Queue:          w.o.Queue,
		TimeoutSeconds: w.pollTimeoutSeconds(),
	})
	if err != nil {
		return nil, err
	}
	info := resp.GetTask()
	if info == nil {
		return nil, nil
	}
	return func(ctx context.Context) { w.runTask(ctx, info) }, nil
}
