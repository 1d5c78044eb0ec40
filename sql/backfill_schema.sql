-- backfill_schema: where `versync backfill` keeps its resume point, one row per (table, index).
-- Idempotent, run by every backfill before it starts (versync init may adopt it later).
CREATE TABLE IF NOT EXISTS @schema@.backfill_progress (
    tbl         text NOT NULL,
    index_name  text NOT NULL,
    last_key    text[],                 -- key of the last row whose batch the store answered; NULL: none yet
    rows_done   bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,            -- set when the whole table was copied
    PRIMARY KEY (tbl, index_name)
);
