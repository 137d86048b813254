-- +goose Up

-- Instance-wide settings, e.g. the generated credential-hashing secret when none is configured.
CREATE TABLE instance_settings (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A tenant is what the proto calls an org; its id is the proto's org_id.
CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    name       text NOT NULL,
    tier       text NOT NULL DEFAULT 'FREE',
    region     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Worker tokens and API keys. Only a 16-character prefix (for lookup) and an
-- HMAC-SHA256 of the whole secret are kept; the secret itself is shown once.
CREATE TABLE credentials (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('worker_token', 'api_key')),
    display_name   text NOT NULL DEFAULT '',
    prefix         text NOT NULL UNIQUE,
    secret_hash    bytea NOT NULL,
    principal_type text NOT NULL CHECK (principal_type IN ('Worker', 'User')),
    principal_id   text NOT NULL,
    role           text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    expires_at     timestamptz,
    revoked_at     timestamptz
);
CREATE INDEX credentials_tenant_idx ON credentials (tenant_id, created_at);

-- Workflow executions. Payload columns are json (not jsonb) so the bytes a
-- worker sent come back exactly as sent.
CREATE TABLE workflow_executions (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind                   text NOT NULL,
    queue                  text NOT NULL DEFAULT 'default',
    status                 text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    priority_seconds       integer NOT NULL DEFAULT 0,
    -- claim order: created_at minus priority; higher priority runs earlier
    dispatch_order         timestamptz NOT NULL,
    input                  json,
    output                 json,
    error                  text,
    workflow_version       text NOT NULL DEFAULT '',
    metadata               jsonb NOT NULL DEFAULT '{}',
    parent_id              uuid REFERENCES workflow_executions(id) ON DELETE SET NULL,
    parent_child_name      text,
    -- the last sequence number appended to this workflow's history
    last_sequence          integer NOT NULL DEFAULT 0,
    -- a wake-up event arrived while a worker held the workflow task
    wake_pending           boolean NOT NULL DEFAULT false,
    cancel_requested       boolean NOT NULL DEFAULT false,
    worker_id              text,
    lease_expires_at       timestamptz,
    workflow_task_time_ms  bigint NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL DEFAULT now(),
    started_at             timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    completed_at           timestamptz
);
CREATE INDEX workflow_executions_claim_idx ON workflow_executions (tenant_id, queue, dispatch_order) WHERE status = 'PENDING';
CREATE INDEX workflow_executions_lease_idx ON workflow_executions (lease_expires_at) WHERE status = 'RUNNING';
CREATE INDEX workflow_executions_list_idx ON workflow_executions (tenant_id, created_at DESC, id);
CREATE INDEX workflow_executions_parent_idx ON workflow_executions (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX workflow_executions_metadata_idx ON workflow_executions USING gin (metadata jsonb_path_ops);

-- The append-only history. Sequence numbers are assigned by the server,
-- contiguous per workflow, under a lock on the workflow row.
CREATE TABLE workflow_events (
    workflow_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    sequence    integer NOT NULL,
    event_type  text NOT NULL,
    event_data  json NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, sequence)
);

-- The workflow's state snapshot (SET_STATE / CLEAR_STATE), for queries and the API.
CREATE TABLE workflow_state (
    workflow_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    key         text NOT NULL,
    value       json NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, key)
);

-- Idempotency keys of StartWorkflow and SignalWithStartWorkflow share one namespace per tenant.
CREATE TABLE idempotency_keys (
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key         text NOT NULL,
    workflow_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Tasks, scheduled by workflows (id chosen by the client) or standalone.
CREATE TABLE tasks (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    workflow_id      uuid REFERENCES workflow_executions(id) ON DELETE CASCADE,
    kind             text NOT NULL,
    queue            text NOT NULL DEFAULT 'default',
    status           text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    priority_seconds integer NOT NULL DEFAULT 0,
    dispatch_order   timestamptz NOT NULL,
    -- a retried task may not be claimed before this time (backoff)
    not_before       timestamptz,
    input            json,
    output           json,
    error            text,
    execution_count  integer NOT NULL DEFAULT 0,
    max_retries      integer NOT NULL DEFAULT 3,
    timeout_ms       bigint,
    progress         double precision,
    progress_details text,
    worker_id        text,
    lease_expires_at timestamptz,
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
CREATE INDEX tasks_claim_idx ON tasks (tenant_id, queue, dispatch_order) WHERE status = 'PENDING';
CREATE INDEX tasks_running_idx ON tasks (lease_expires_at) WHERE status = 'RUNNING';
CREATE INDEX tasks_workflow_idx ON tasks (workflow_id) WHERE workflow_id IS NOT NULL;

-- One row per dispatch of a task.
CREATE TABLE task_attempts (
    task_id     uuid NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker_id   text NOT NULL DEFAULT '',
    status      text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'LOST')),
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (task_id, attempt)
);

CREATE TABLE task_logs (
    id         bigserial PRIMARY KEY,
    task_id    uuid NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    level      text NOT NULL,
    message    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_logs_task_idx ON task_logs (task_id, id);

-- Task-scoped key/value state (TaskExecution.GetState and friends).
CREATE TABLE task_state (
    task_id    uuid NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    key        text NOT NULL,
    value      json NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, key)
);

-- Durable timers; timer ids are chosen by the client and unique per workflow.
CREATE TABLE timers (
    workflow_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    timer_id    text NOT NULL,
    fire_at     timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'FIRED', 'CANCELLED')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, timer_id)
);
CREATE INDEX timers_due_idx ON timers (fire_at) WHERE status = 'PENDING';

-- Durable promises: created by a workflow under a name, settled from outside by their server id.
CREATE TABLE promises (
    id              uuid PRIMARY KEY,
    workflow_id     uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    name            text NOT NULL,
    status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RESOLVED', 'REJECTED', 'TIMED_OUT', 'CANCELLED')),
    value           json,
    error           text,
    timeout_at      timestamptz,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    UNIQUE (workflow_id, name)
);
CREATE INDEX promises_timeout_idx ON promises (timeout_at) WHERE status = 'PENDING' AND timeout_at IS NOT NULL;

-- Registered workers and what they can run.
CREATE TABLE workers (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name          text NOT NULL,
    version       text NOT NULL DEFAULT '',
    worker_type   text NOT NULL DEFAULT 'UNIFIED',
    host_name     text NOT NULL DEFAULT '',
    process_id    text NOT NULL DEFAULT '',
    metadata      jsonb NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE worker_capabilities (
    worker_id       uuid NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
    capability_type text NOT NULL CHECK (capability_type IN ('workflow', 'task', 'agent')),
    kind            text NOT NULL,
    version         text NOT NULL DEFAULT '',
    content_hash    text NOT NULL DEFAULT '',
    PRIMARY KEY (worker_id, capability_type, kind)
);

-- +goose Down
DROP TABLE worker_capabilities, workers, promises, timers, task_state, task_logs, task_attempts, tasks,
    idempotency_keys, workflow_state, workflow_events, workflow_executions, credentials, tenants, instance_settings;
