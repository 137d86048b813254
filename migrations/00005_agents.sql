-- +goose Up
-- Durable agents (the SDK's AgentDispatch). An agent execution is its own
-- row and status machine; it keeps a conversation (entries), numbered
-- checkpoints of its state, signals, and tasks (ordinary task rows linked
-- to it). Like every other table, each is keyed by tenant: ids are scoped
-- by tenant (see 00003).

CREATE TABLE agent_executions (
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id                     uuid NOT NULL,
    kind                   text NOT NULL,
    queue                  text NOT NULL DEFAULT 'default',
    status                 text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    dispatch_order         timestamptz NOT NULL DEFAULT now(),
    input                  json,
    output                 json,
    error                  text,
    failure_type           text,
    metadata               json,
    -- A parent may be deleted before its children: no foreign key, as for
    -- workflows.
    parent_id              uuid,
    -- The sequence of the latest checkpoint; -1 when there is none.
    current_checkpoint_seq integer NOT NULL DEFAULT -1,
    -- What a WAITING execution waits for: 'signal' (wait_signal),
    -- 'tasks_all' / 'tasks_any' (wait_ids are task ids), 'children_any' /
    -- 'children_all' (wait_ids are child execution ids). wait_since is when
    -- it suspended: for the ANY modes only what settles after it counts.
    wait_kind              text,
    wait_signal            text,
    wait_ids               uuid[],
    wait_since             timestamptz,
    wait_reason            text,
    worker_id              text,
    lease_expires_at       timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    started_at             timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    completed_at           timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX agent_executions_claim_idx ON agent_executions (tenant_id, queue, dispatch_order) WHERE status = 'PENDING';
CREATE INDEX agent_executions_lease_idx ON agent_executions (lease_expires_at) WHERE status = 'RUNNING';
CREATE INDEX agent_executions_waiting_idx ON agent_executions (tenant_id, id) WHERE status = 'WAITING';
CREATE INDEX agent_executions_list_idx ON agent_executions (tenant_id, created_at DESC, id);
CREATE INDEX agent_executions_parent_idx ON agent_executions (tenant_id, parent_id) WHERE parent_id IS NOT NULL;

-- The conversation: a tree of entries, in the order they were appended.
-- An entry's id is the idempotency key it was appended with.
CREATE TABLE agent_entries (
    tenant_id          uuid NOT NULL,
    agent_id           uuid NOT NULL,
    id                 uuid NOT NULL,
    position           bigint GENERATED ALWAYS AS IDENTITY,
    parent_id          uuid,
    entry_type         text NOT NULL,
    role               text,
    content            json NOT NULL,
    turn_id            text,
    input_tokens       bigint,
    output_tokens      bigint,
    cache_read_tokens  bigint,
    cache_write_tokens bigint,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id, id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agent_executions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_entries_order_idx ON agent_entries (tenant_id, agent_id, position);

-- Checkpoints, numbered 1, 2, 3, ... per execution.
CREATE TABLE agent_checkpoints (
    tenant_id     uuid NOT NULL,
    agent_id      uuid NOT NULL,
    sequence      integer NOT NULL,
    id            uuid NOT NULL,
    leaf_entry_id uuid,
    state         json NOT NULL,
    input_tokens  bigint,
    output_tokens bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id, sequence),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agent_executions (tenant_id, id) ON DELETE CASCADE
);

-- Signals, kept until consumed. from_child is set for a signal a child
-- agent sent its parent (SendParentSignal).
CREATE TABLE agent_signals (
    tenant_id   uuid NOT NULL,
    agent_id    uuid NOT NULL,
    id          uuid NOT NULL,
    position    bigint GENERATED ALWAYS AS IDENTITY,
    name        text NOT NULL,
    value       json NOT NULL,
    from_child  uuid,
    consumed_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agent_executions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_signals_unconsumed_idx ON agent_signals (tenant_id, agent_id, position) WHERE consumed_at IS NULL;

-- Agent tasks are ordinary tasks that belong to an agent execution.
ALTER TABLE tasks ADD COLUMN agent_execution_id uuid;
ALTER TABLE tasks ADD FOREIGN KEY (tenant_id, agent_execution_id) REFERENCES agent_executions (tenant_id, id) ON DELETE CASCADE;
CREATE INDEX tasks_agent_idx ON tasks (tenant_id, agent_execution_id, created_at) WHERE agent_execution_id IS NOT NULL;

-- +goose Down
DROP INDEX tasks_agent_idx;
ALTER TABLE tasks DROP COLUMN agent_execution_id;
DROP TABLE agent_signals, agent_checkpoints, agent_entries, agent_executions;
