-- +goose Up
-- An instance admin may create tenants and act in any tenant (flovyn dev's admin key).
ALTER TABLE credentials ADD COLUMN instance_admin boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE credentials DROP COLUMN instance_admin;
