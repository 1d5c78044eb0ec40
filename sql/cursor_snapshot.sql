-- cursor_snapshot: the start of a cursor pass. The xmin of a snapshot taken now (as bigint): every
-- transaction still running, or yet to start, has an xid (and its subtransactions larger ones)
-- at least this large. It becomes the base of the next pass once this one completes. Taken in its
-- own statement, so every page of the pass reads with a later snapshot.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
       to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
