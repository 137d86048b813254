package sdk

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	flovynv1 "github.com/flovyn/flovyn/proto/flovyn/v1"
)

// ClientOptions configure a connection to a flovyn server.
type ClientOptions struct {
	// Address of the gRPC endpoint: "host:port", "http://host:port"
	// (cleartext HTTP/2) or "https://host:port" (TLS with the system roots).
	// Default "localhost:9090".
	Address string
	// Token is sent as "authorization: Bearer <token>" on every RPC
	// (worker token, API key or JWT). Empty sends no authorization header.
	Token string
	// OrgID is the tenant id put in the requests that carry org_id. Empty
	// lets the server use the tenant of the credential.
	OrgID string
	// ResultPollInterval is the longest pause between two GetEvents calls in
	// WaitForResult (it starts at 5 ms and doubles). Default 200 ms.
	ResultPollInterval time.Duration
}

// Client is a connection to a flovyn server. It is safe for concurrent use.
type Client struct {
	opts  ClientOptions
	conn  *grpc.ClientConn
	wf    flovynv1.WorkflowDispatchClient
	task  flovynv1.TaskExecutionClient
	life  flovynv1.WorkerLifecycleClient
	query flovynv1.WorkflowQueryClient
	agent flovynv1.AgentDispatchClient
}

// Dial connects to a server and waits until the connection is up (like the
// Rust SDK, an unreachable server is an error). ctx bounds the wait.
func Dial(ctx context.Context, o ClientOptions) (*Client, error) {
	target, tlsOn := parseAddress(o.Address)
	creds := insecure.NewCredentials()
	if tlsOn {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
	}
	if o.Token != "" {
		auth := "Bearer " + o.Token
		dialOpts = append(dialOpts,
			grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
				cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				return invoker(metadata.AppendToOutgoingContext(ctx, "authorization", auth), method, req, reply, cc, opts...)
			}),
			grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
				method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				return streamer(metadata.AppendToOutgoingContext(ctx, "authorization", auth), desc, cc, method, opts...)
			}),
		)
	}
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("flovyn: dial %s: %w", target, err)
	}
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			break
		}
		if s == connectivity.TransientFailure || s == connectivity.Shutdown {
			conn.Close()
			return nil, fmt.Errorf("flovyn: cannot connect to %s", target)
		}
		if !conn.WaitForStateChange(ctx, s) {
			conn.Close()
			return nil, fmt.Errorf("flovyn: connect to %s: %w", target, ctx.Err())
		}
	}
	return &Client{
		opts:  o,
		conn:  conn,
		wf:    flovynv1.NewWorkflowDispatchClient(conn),
		task:  flovynv1.NewTaskExecutionClient(conn),
		life:  flovynv1.NewWorkerLifecycleClient(conn),
		query: flovynv1.NewWorkflowQueryClient(conn),
		agent: flovynv1.NewAgentDispatchClient(conn),
	}, nil
}

func parseAddress(addr string) (target string, useTLS bool) {
	switch {
	case addr == "":
		return "localhost:9090", false
	case strings.HasPrefix(addr, "http://"):
		addr = strings.TrimPrefix(addr, "http://")
	case strings.HasPrefix(addr, "https://"):
		addr, useTLS = strings.TrimPrefix(addr, "https://"), true
	}
	return strings.TrimSuffix(addr, "/"), useTLS
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying connection; stubs built on it (for example
// flovynv1.NewWorkflowDispatchClient(c.Conn())) carry the credentials.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// OrgID is the tenant id this client sends ("" = the credential's tenant).
func (c *Client) OrgID() string { return c.opts.OrgID }

// StartOptions are the optional settings of StartWorkflow and SignalWithStart.
type StartOptions struct {
	// Queue the workflow runs on; default "default".
	Queue string
	// IdempotencyKey makes StartWorkflow return the existing execution for a
	// repeated key (ignored by SignalWithStart, which is keyed by workflowID).
	IdempotencyKey string
	// IdempotencyKeyTTL is how long the key (or the SignalWithStart workflow id)
	// is remembered; 0 = the server default.
	IdempotencyKeyTTL time.Duration
	PrioritySeconds   int
	Metadata          map[string]string
	// Version is sent as workflow_version when set.
	Version string
}

func (o StartOptions) queue() string {
	if o.Queue == "" {
		return "default"
	}
	return o.Queue
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTTL(d time.Duration) *int64 {
	if d <= 0 {
		return nil
	}
	s := int64(d / time.Second)
	if s == 0 {
		s = 1
	}
	return &s
}

// StartWorkflow starts a workflow of the given kind and returns its execution id.
func (c *Client) StartWorkflow(ctx context.Context, kind string, input any, opts StartOptions) (string, error) {
	payload, err := encode(input)
	if err != nil {
		return "", err
	}
	resp, err := c.wf.StartWorkflow(ctx, &flovynv1.StartWorkflowRequest{
		OrgId:                    c.opts.OrgID,
		WorkflowKind:             kind,
		Input:                    payload,
		Metadata:                 opts.Metadata,
		Queue:                    opts.queue(),
		PrioritySeconds:          int32(opts.PrioritySeconds),
		WorkflowVersion:          optString(opts.Version),
		IdempotencyKey:           optString(opts.IdempotencyKey),
		IdempotencyKeyTtlSeconds: optTTL(opts.IdempotencyKeyTTL),
	})
	if err != nil {
		return "", fmt.Errorf("flovyn: start workflow %q: %w", kind, err)
	}
	return resp.GetWorkflowExecutionId(), nil
}

// SignalWorkflow sends a signal to an execution and returns the sequence
// number of the SIGNAL_RECEIVED event.
func (c *Client) SignalWorkflow(ctx context.Context, executionID, name string, value any) (int64, error) {
	payload, err := encode(value)
	if err != nil {
		return 0, err
	}
	resp, err := c.wf.SignalWorkflow(ctx, &flovynv1.SignalWorkflowRequest{
		OrgId: c.opts.OrgID, WorkflowExecutionId: executionID, SignalName: name, SignalValue: payload,
	})
	if err != nil {
		return 0, fmt.Errorf("flovyn: signal %s: %w", executionID, err)
	}
	return resp.GetSignalEventSequence(), nil
}

// SignalWithStart signals the workflow identified by the caller-chosen
// workflowID, creating it first when it does not exist. It returns the
// execution id and whether it was created by this call.
func (c *Client) SignalWithStart(ctx context.Context, workflowID, kind string, input any,
	signalName string, signalValue any, opts StartOptions) (string, bool, error) {
	in, err := encode(input)
	if err != nil {
		return "", false, err
	}
	sv, err := encode(signalValue)
	if err != nil {
		return "", false, err
	}
	resp, err := c.wf.SignalWithStartWorkflow(ctx, &flovynv1.SignalWithStartWorkflowRequest{
		OrgId:                    c.opts.OrgID,
		WorkflowId:               workflowID,
		WorkflowKind:             kind,
		WorkflowInput:            in,
		Queue:                    opts.queue(),
		PrioritySeconds:          int32(opts.PrioritySeconds),
		WorkflowVersion:          optString(opts.Version),
		Metadata:                 opts.Metadata,
		SignalName:               signalName,
		SignalValue:              sv,
		IdempotencyKeyTtlSeconds: optTTL(opts.IdempotencyKeyTTL),
	})
	if err != nil {
		return "", false, fmt.Errorf("flovyn: signal-with-start %q: %w", workflowID, err)
	}
	return resp.GetWorkflowExecutionId(), resp.GetWorkflowCreated(), nil
}

// ResolvePromise resolves a durable promise. promiseID is the promiseId from
// the PROMISE_CREATED event (see PromiseID).
func (c *Client) ResolvePromise(ctx context.Context, promiseID string, value any) error {
	payload, err := encode(value)
	if err != nil {
		return err
	}
	if _, err := c.wf.ResolvePromise(ctx, &flovynv1.ResolvePromiseRequest{PromiseId: promiseID, Value: payload}); err != nil {
		return fmt.Errorf("flovyn: resolve promise %s: %w", promiseID, err)
	}
	return nil
}

// RejectPromise rejects a durable promise with an error message.
func (c *Client) RejectPromise(ctx context.Context, promiseID string, errMsg string) error {
	if _, err := c.wf.RejectPromise(ctx, &flovynv1.RejectPromiseRequest{PromiseId: promiseID, Error: errMsg}); err != nil {
		return fmt.Errorf("flovyn: reject promise %s: %w", promiseID, err)
	}
	return nil
}

// Events returns the full event history of an execution, in sequence order.
func (c *Client) Events(ctx context.Context, executionID string) ([]Event, error) {
	resp, err := c.wf.GetEvents(ctx, &flovynv1.GetEventsRequest{WorkflowExecutionId: executionID})
	if err != nil {
		return nil, fmt.Errorf("flovyn: get events of %s: %w", executionID, err)
	}
	out := make([]Event, 0, len(resp.GetEvents()))
	for _, e := range resp.GetEvents() {
		out = append(out, Event{Sequence: int(e.GetSequenceNumber()), Type: e.GetEventType(), Data: e.GetEventData()})
	}
	return out, nil
}

// PromiseID finds the server-assigned promiseId of the promise named name in
// an execution's history ("" and no error if it is not created yet).
func (c *Client) PromiseID(ctx context.Context, executionID, name string) (string, error) {
	events, err := c.Events(ctx, executionID)
	if err != nil {
		return "", err
	}
	for _, e := range events {
		if e.Type != EventPromiseCreated {
			continue
		}
		f := &hevent{fields: parseFields(e.Data)}
		if f.str("promiseName") == name {
			return f.str("promiseId"), nil
		}
	}
	return "", nil
}

// WaitForResult polls the history until the execution ends. On
// WORKFLOW_COMPLETED it decodes the output into out (which may be nil); on
// WORKFLOW_EXECUTION_FAILED it returns a *WorkflowFailedError; on
// WORKFLOW_CANCELLED a *WorkflowCancelledError. ctx bounds the wait.
func (c *Client) WaitForResult(ctx context.Context, executionID string, out any) error {
	maxWait := c.opts.ResultPollInterval
	if maxWait <= 0 {
		maxWait = 200 * time.Millisecond
	}
	wait := 5 * time.Millisecond
	for {
		events, err := c.Events(ctx, executionID)
		if err != nil {
			return err
		}
		for i := len(events) - 1; i >= 0; i-- {
			e := events[i]
			f := &hevent{fields: parseFields(e.Data)}
			switch e.Type {
			case EventWorkflowCompleted:
				return decodeInto(f.value("output"), out)
			case EventWorkflowExecutionFailed, "WORKFLOW_FAILED":
				return &WorkflowFailedError{ExecutionID: executionID, Message: f.str("error")}
			case EventWorkflowCancelled:
				return &WorkflowCancelledError{ExecutionID: executionID, Reason: f.str("reason")}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("flovyn: wait for %s: %w", executionID, ctx.Err())
		case <-t.C:
		}
		if wait *= 2; wait > maxWait {
			wait = maxWait
		}
	}
}

// Query asks the server to answer a named query about an execution and
// decodes the JSON result into out (which may be nil).
func (c *Client) Query(ctx context.Context, executionID, name string, out any) error {
	resp, err := c.query.QueryWorkflow(ctx, &flovynv1.QueryWorkflowRequest{
		WorkflowExecutionId: executionID, QueryName: name, Params: []byte("null"),
	})
	if err != nil {
		return fmt.Errorf("flovyn: query %q on %s: %w", name, executionID, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("flovyn: query %q on %s: %s", name, executionID, resp.GetError())
	}
	return decodeInto(json.RawMessage(resp.GetResult()), out)
}
