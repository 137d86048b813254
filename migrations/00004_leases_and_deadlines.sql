-- +goose Up
-- A workflow task's lease is renewed while its worker stays connected, up
-- to workflow_task_lease after it was claimed.
ALTER TABLE workflow_executions ADD COLUMN claimed_at timestamptz;
UPDATE workflow_executions SET claimed_at = updated_at WHERE status = 'RUNNING';

-- A task with a timeout must end by its deadline (counted from when it was
-- scheduled, across retries), or it fails as timed out.
ALTER TABLE tasks ADD COLUMN deadline_at timestamptz;
UPDATE tasks SET deadline_at = created_at + timeout_ms * interval '1 millisecond'
WHERE timeout_ms IS NOT NULL AND timeout_ms > 0 AND status IN ('PENDING', 'RUNNING');
CREATE INDEX tasks_deadline_idx ON tasks (deadline_at) WHERE status IN ('PENDING', 'RUNNING') AND deadline_at IS NOT NULL;

-- +goose Down
DROP INDEX tasks_deadline_idx;
ALTER TABLE tasks DROP COLUMN deadline_at;
ALTER TABLE workflow_executions DROP COLUMN claimed_at;
