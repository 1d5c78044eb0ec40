-- worker_park: record that table $1 is parked (its rows cannot be re-read): the error, its
-- SQLSTATE and the worker that saw it. `status` and the README's "Parked tables" read it.
INSERT INTO @schema@.parked (tbl, error, sqlstate, worker) VALUES ($1, $2, $3, $4)
    ON CONFLICT (tbl) DO UPDATE
    SET error = EXCLUDED.error, sqlstate = EXCLUDED.sqlstate, worker = EXCLUDED.worker, updated_at = now()
