-- The race demonstration's own table, recreated from scratch on every run so a
-- second run starts from fresh state. versync's bookkeeping for the demo lives
-- in @schema@ (its own schema, never the user's), dropped here too so that the
-- change table, triggers and worker counters start empty.
DROP SCHEMA IF EXISTS versync_demo CASCADE;
DROP SCHEMA IF EXISTS @schema@ CASCADE;
CREATE SCHEMA versync_demo;
-- version has no default: versync's BEFORE trigger (managed version column)
-- must assign it, and an insert fails loudly if it does not.
CREATE TABLE versync_demo.accounts (
    id         integer PRIMARY KEY,
    owner      text NOT NULL,
    balance    bigint NOT NULL,
    version    bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
