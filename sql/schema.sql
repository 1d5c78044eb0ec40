-- schema: versync's own tables (schema version 1). Every statement is idempotent, so
-- `versync init` can run it whenever one of these objects is missing. @schema@ is the
-- configured schema, already quoted.
CREATE SCHEMA IF NOT EXISTS @schema@;

-- One row per committed change of a mapped row, written by the capture trigger in the same
-- transaction as the change; workers claim rows in seq order and delete them once the store
-- has answered.
CREATE TABLE IF NOT EXISTS @schema@.changes (
    seq        bigserial PRIMARY KEY,
    tbl        text NOT NULL,
    key        text[],
    op         "char" NOT NULL,
    version    bigint,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Per-table claims and per-table status walk this index in seq order.
CREATE INDEX IF NOT EXISTS changes_tbl_seq ON @schema@.changes (tbl, seq);

CREATE TABLE IF NOT EXISTS @schema@.dead_letters (
    seq             bigint PRIMARY KEY,
    tbl             text NOT NULL,
    key             text[],
    op              "char" NOT NULL,
    version         bigint,
    changed_at      timestamptz NOT NULL,
    error           text NOT NULL,
    http_status     int,
    attempts        int NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dead_letters_tbl ON @schema@.dead_letters (tbl);

-- schema_version lets later releases migrate; functions_md5 tells init whether the trigger
-- functions it would install differ from the installed ones.
CREATE TABLE IF NOT EXISTS @schema@.meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO @schema@.meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING;

-- One row per mapped table: what init installed (spec = md5 of the trigger definitions, so
-- init can tell whether they need replacing) and whether the table needs a resync.
CREATE TABLE IF NOT EXISTS @schema@.tables (
    tbl           text PRIMARY KEY,
    index_name    text NOT NULL,
    needs_resync  boolean NOT NULL DEFAULT false,
    resync_reason text,
    truncated_at  timestamptz,
    spec          text,
    version_seq   text
);

-- One row per parked table: a worker could not re-read its rows (a renamed or dropped column,
-- a dropped table, a revoked grant), so its changes wait unclaimed while every other table
-- keeps flowing. The worker deletes the row when the table can be read again.
CREATE TABLE IF NOT EXISTS @schema@.parked (
    tbl        text PRIMARY KEY,
    error      text NOT NULL,
    sqlstate   text,
    worker     text,
    parked_at  timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS @schema@.worker_stats (
    worker       text PRIMARY KEY,
    tbl          text,
    started_at   timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    applied      bigint NOT NULL DEFAULT 0,
    stale        bigint NOT NULL DEFAULT 0,
    coalesced    bigint NOT NULL DEFAULT 0,
    dead_letters bigint NOT NULL DEFAULT 0,
    retries      bigint NOT NULL DEFAULT 0,
    lag_ms       bigint
);

-- One row per table captured without triggers ("capture": "cursor"): the checkpoint of its
-- snapshot-bounded passes (README, "Trigger-free capture (cursor mode)"). base_xmin: every row
-- committed by a transaction older than this xid8 (as bigint) has been sent; pass_*: the pass
-- under way, its own snapshot xmin and the last key the store acknowledged. Written only by the
-- poller, after the store answered. A replica keeps these in a state file instead (--state).
CREATE TABLE IF NOT EXISTS @schema@.cursors (
    tbl          text PRIMARY KEY,
    key_cols     text[] NOT NULL,
    base_xmin    bigint,
    base_at      timestamptz,
    pass_xmin    bigint,
    pass_at      timestamptz,
    pass_key     text[],
    passes       bigint NOT NULL DEFAULT 0,
    rows         bigint NOT NULL DEFAULT 0,
    applied      bigint NOT NULL DEFAULT 0,
    stale        bigint NOT NULL DEFAULT 0,
    dead_letters bigint NOT NULL DEFAULT 0,
    system_id    text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
