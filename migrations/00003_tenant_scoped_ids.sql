-- +goose Up
-- Ids are scoped by tenant. Workers choose the ids of tasks and child
-- workflows (derived from the execution id), so a tenant that knows another
-- tenant's execution ids could otherwise take those ids first. Every table
-- keyed by a workflow or task id now carries its tenant, and every key and
-- reference includes it: the same id in two tenants names two rows.

ALTER TABLE workflow_events ADD COLUMN tenant_id uuid;
UPDATE workflow_events x SET tenant_id = w.tenant_id FROM workflow_executions w WHERE w.id = x.workflow_id;
ALTER TABLE workflow_state ADD COLUMN tenant_id uuid;
UPDATE workflow_state x SET tenant_id = w.tenant_id FROM workflow_executions w WHERE w.id = x.workflow_id;
ALTER TABLE timers ADD COLUMN tenant_id uuid;
UPDATE timers x SET tenant_id = w.tenant_id FROM workflow_executions w WHERE w.id = x.workflow_id;
ALTER TABLE promises ADD COLUMN tenant_id uuid;
UPDATE promises x SET tenant_id = w.tenant_id FROM workflow_executions w WHERE w.id = x.workflow_id;
ALTER TABLE task_attempts ADD COLUMN tenant_id uuid;
UPDATE task_attempts x SET tenant_id = t.tenant_id FROM tasks t WHERE t.id = x.task_id;
ALTER TABLE task_logs ADD COLUMN tenant_id uuid;
UPDATE task_logs x SET tenant_id = t.tenant_id FROM tasks t WHERE t.id = x.task_id;
ALTER TABLE task_state ADD COLUMN tenant_id uuid;
UPDATE task_state x SET tenant_id = t.tenant_id FROM tasks t WHERE t.id = x.task_id;

ALTER TABLE workflow_events ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE workflow_state ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE timers ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE promises ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE task_attempts ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE task_logs ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE task_state ALTER COLUMN tenant_id SET NOT NULL;

-- References by id alone go, then the keys themselves.
ALTER TABLE workflow_executions DROP CONSTRAINT workflow_executions_parent_id_fkey;
ALTER TABLE workflow_events DROP CONSTRAINT workflow_events_workflow_id_fkey;
ALTER TABLE workflow_state DROP CONSTRAINT workflow_state_workflow_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_workflow_id_fkey;
ALTER TABLE tasks DROP CONSTRAINT tasks_workflow_id_fkey;
ALTER TABLE timers DROP CONSTRAINT timers_workflow_id_fkey;
ALTER TABLE promises DROP CONSTRAINT promises_workflow_id_fkey;
ALTER TABLE task_attempts DROP CONSTRAINT task_attempts_task_id_fkey;
ALTER TABLE task_logs DROP CONSTRAINT task_logs_task_id_fkey;
ALTER TABLE task_state DROP CONSTRAINT task_state_task_id_fkey;

ALTER TABLE workflow_executions DROP CONSTRAINT workflow_executions_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE tasks DROP CONSTRAINT tasks_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE workflow_events DROP CONSTRAINT workflow_events_pkey, ADD PRIMARY KEY (tenant_id, workflow_id, sequence);
ALTER TABLE workflow_state DROP CONSTRAINT workflow_state_pkey, ADD PRIMARY KEY (tenant_id, workflow_id, key);
ALTER TABLE timers DROP CONSTRAINT timers_pkey, ADD PRIMARY KEY (tenant_id, workflow_id, timer_id);
ALTER TABLE promises DROP CONSTRAINT promises_workflow_id_name_key, ADD UNIQUE (tenant_id, workflow_id, name);
ALTER TABLE task_attempts DROP CONSTRAINT task_attempts_pkey, ADD PRIMARY KEY (tenant_id, task_id, attempt);
ALTER TABLE task_state DROP CONSTRAINT task_state_pkey, ADD PRIMARY KEY (tenant_id, task_id, key);

-- A parent may be deleted before its children (retention); parent_id then
-- names nothing, which the engine treats as no parent. So it has no
-- foreign key.
ALTER TABLE workflow_events ADD FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflow_executions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE workflow_state ADD FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflow_executions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE idempotency_keys ADD FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflow_executions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE tasks ADD FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflow_executions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE timers ADD FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflow_executions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE promises ADD FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflow_executions (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE task_attempts ADD FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE task_logs ADD FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE task_state ADD FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id) ON DELETE CASCADE;

DROP INDEX workflow_executions_parent_idx;
CREATE INDEX workflow_executions_parent_idx ON workflow_executions (tenant_id, parent_id) WHERE parent_id IS NOT NULL;
DROP INDEX tasks_workflow_idx;
CREATE INDEX tasks_workflow_idx ON tasks (tenant_id, workflow_id) WHERE workflow_id IS NOT NULL;
DROP INDEX task_logs_task_idx;
CREATE INDEX task_logs_task_idx ON task_logs (tenant_id, task_id, id);

-- Progress is a number in [0, 1]; a NaN stored before that was checked
-- made the task unreadable.
UPDATE tasks SET progress = NULL WHERE progress = 'NaN' OR progress < 0 OR progress > 1;

-- The size of each workflow's history, checked against the history limits.
ALTER TABLE workflow_executions ADD COLUMN history_bytes bigint NOT NULL DEFAULT 0;
UPDATE workflow_executions w SET history_bytes = coalesce(
    (SELECT sum(octet_length(e.event_data::text) + octet_length(e.event_type) + 24) FROM workflow_events e WHERE e.tenant_id = w.tenant_id AND e.workflow_id = w.id), 0);

-- +goose Down
ALTER TABLE workflow_executions DROP COLUMN history_bytes;
ALTER TABLE workflow_events DROP CONSTRAINT workflow_events_tenant_id_workflow_id_fkey;
ALTER TABLE workflow_state DROP CONSTRAINT workflow_state_tenant_id_workflow_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_tenant_id_workflow_id_fkey;
ALTER TABLE tasks DROP CONSTRAINT tasks_tenant_id_workflow_id_fkey;
ALTER TABLE timers DROP CONSTRAINT timers_tenant_id_workflow_id_fkey;
ALTER TABLE promises DROP CONSTRAINT promises_tenant_id_workflow_id_fkey;
ALTER TABLE task_attempts DROP CONSTRAINT task_attempts_tenant_id_task_id_fkey;
ALTER TABLE task_logs DROP CONSTRAINT task_logs_tenant_id_task_id_fkey;
ALTER TABLE task_state DROP CONSTRAINT task_state_tenant_id_task_id_fkey;
ALTER TABLE workflow_executions DROP CONSTRAINT workflow_executions_pkey, ADD PRIMARY KEY (id);
ALTER TABLE tasks DROP CONSTRAINT tasks_pkey, ADD PRIMARY KEY (id);
ALTER TABLE workflow_events DROP CONSTRAINT workflow_events_pkey, ADD PRIMARY KEY (workflow_id, sequence);
ALTER TABLE workflow_state DROP CONSTRAINT workflow_state_pkey, ADD PRIMARY KEY (workflow_id, key);
ALTER TABLE timers DROP CONSTRAINT timers_pkey, ADD PRIMARY KEY (workflow_id, timer_id);
ALTER TABLE promises DROP CONSTRAINT promises_tenant_id_workflow_id_name_key, ADD UNIQUE (workflow_id, name);
ALTER TABLE task_attempts DROP CONSTRAINT task_attempts_pkey, ADD PRIMARY KEY (task_id, attempt);
ALTER TABLE task_state DROP CONSTRAINT task_state_pkey, ADD PRIMARY KEY (task_id, key);
ALTER TABLE workflow_executions ADD FOREIGN KEY (parent_id) REFERENCES workflow_executions (id) ON DELETE SET NULL;
ALTER TABLE workflow_events ADD FOREIGN KEY (workflow_id) REFERENCES workflow_executions (id) ON DELETE CASCADE;
ALTER TABLE workflow_state ADD FOREIGN KEY (workflow_id) REFERENCES workflow_executions (id) ON DELETE CASCADE;
ALTER TABLE idempotency_keys ADD FOREIGN KEY (workflow_id) REFERENCES workflow_executions (id) ON DELETE CASCADE;
ALTER TABLE tasks ADD FOREIGN KEY (workflow_id) REFERENCES workflow_executions (id) ON DELETE CASCADE;
ALTER TABLE timers ADD FOREIGN KEY (workflow_id) REFERENCES workflow_executions (id) ON DELETE CASCADE;
ALTER TABLE promises ADD FOREIGN KEY (workflow_id) REFERENCES workflow_executions (id) ON DELETE CASCADE;
ALTER TABLE task_attempts ADD FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE;
ALTER TABLE task_logs ADD FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE;
ALTER TABLE task_state ADD FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE;
DROP INDEX workflow_executions_parent_idx;
CREATE INDEX workflow_executions_parent_idx ON workflow_executions (parent_id) WHERE parent_id IS NOT NULL;
DROP INDEX tasks_workflow_idx;
CREATE INDEX tasks_workflow_idx ON tasks (workflow_id) WHERE workflow_id IS NOT NULL;
DROP INDEX task_logs_task_idx;
CREATE INDEX task_logs_task_idx ON task_logs (task_id, id);
ALTER TABLE workflow_events DROP COLUMN tenant_id;
ALTER TABLE workflow_state DROP COLUMN tenant_id;
ALTER TABLE timers DROP COLUMN tenant_id;
ALTER TABLE promises DROP COLUMN tenant_id;
ALTER TABLE task_attempts DROP COLUMN tenant_id;
ALTER TABLE task_logs DROP COLUMN tenant_id;
ALTER TABLE task_state DROP COLUMN tenant_id;
