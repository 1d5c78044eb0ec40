-- nested_capture: the trigger function that records, for every change of a table inside a
-- nested document's tree (child, link or grandchild table), the root documents it touches
-- (README, "Nested documents"). One generic function; each table's triggers pass the walk
-- from that table up to the root as a jsonb spec (built by bridge_nested_sql.c):
--
--   {"root": "public.book",            the root mapping: change rows name it
--    "watch": [...],                   columns whose update matters (absent: all)
--    "channel": "versync",             NOTIFY channel
--    "down": [{"lock": K, "mode": "x"|"s", "cols": [...]}],
--            edges where this table is the upper side: lock the join values rows take
--    "up":   [{"lock": K, "mode": "x"|"s", "from": [...], "table": "\"public\".\"book\"",
--              "to": [...], "take": [...]}]}
--            hops from this table to the root: rows of "table" whose "to" columns equal
--            the "from" columns of the current rows; "take" are the columns the next hop
--            needs (at the last hop, the root's key columns)
--
-- Statement-level with transition tables (vs_old, vs_new), so one statement touching many
-- rows writes one change row per root key it reaches, in one INSERT … SELECT.
--
-- Locks (why each walk sees every concurrent move, README "Nested documents"): for each edge
-- the side expected to hold a value once (the "one" child, the parent of a "many", the child
-- behind a link table) locks values exclusively, the other side shares; every locker first
-- shares the edge-wide key K, and a statement with more than 256 values on one edge takes K
-- exclusively instead of one lock per value (the lock table is small). Rows crossed on the
-- way up (not the root's) are locked FOR SHARE, so a concurrent move of one waits or is seen.

-- Distinct jsonb arrays of the values of `cols` in each row of `rows`, skipping rows where
-- one is NULL (a NULL joins nothing).
CREATE OR REPLACE FUNCTION @schema@.nested_vals(rows jsonb, cols jsonb) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT DISTINCT v FROM (
        SELECT (SELECT jsonb_agg(r -> c ORDER BY i) FROM jsonb_array_elements_text(cols) WITH ORDINALITY u(c, i)) AS v
          FROM jsonb_array_elements(COALESCE(rows, '[]'::jsonb)) r) s
     WHERE NOT v @> '[null]'::jsonb
$fn$;

-- Take the locks of one edge for the values `vals` (jsonb arrays) in `mode`.
CREATE OR REPLACE FUNCTION @schema@.nested_lock(lock text, mode text, vals jsonb[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    v jsonb;
BEGIN
    IF vals IS NULL OR cardinality(vals) = 0 THEN
        RETURN;
    END IF;
    IF cardinality(vals) > 256 THEN
        PERFORM pg_advisory_xact_lock(hashtextextended(lock || '*', 0));
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtextextended(lock || '*', 0));
    FOR v IN SELECT x FROM unnest(vals) x ORDER BY x::text LOOP
        IF mode = 'x' THEN
            PERFORM pg_advisory_xact_lock(hashtextextended(lock || v::text, 0));
        ELSE
            PERFORM pg_advisory_xact_lock_shared(hashtextextended(lock || v::text, 0));
        END IF;
    END LOOP;
END
$fn$;

-- jsonb objects {to[i]: vals[i]} for jsonb_populate_recordset of the target table.
CREATE OR REPLACE FUNCTION @schema@.nested_objs(vals jsonb[], cols jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT COALESCE(jsonb_agg((SELECT jsonb_object_agg(c, v -> (i::int - 1))
                                 FROM jsonb_array_elements_text(cols) WITH ORDINALITY u(c, i))), '[]'::jsonb)
      FROM unnest(vals) v
$fn$;

CREATE OR REPLACE FUNCTION @schema@.nested_capture() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    spec jsonb := TG_ARGV[0]::jsonb;
    nrows jsonb;
    orows jsonb;
    pn jsonb;
    po jsonb;
    cur jsonb;
    hop jsonb;
    d jsonb;
    vals jsonb[];
    keys jsonb;
    cond text;
    pick text;
    takes text;
    nhops int;
    h int := 0;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        SELECT jsonb_agg(to_jsonb(n)) INTO nrows FROM vs_new n;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT jsonb_agg(to_jsonb(o)) INTO orows FROM vs_old o;
    END IF;
    nhops := jsonb_array_length(COALESCE(spec -> 'up', '[]'));
    IF nhops = 0 THEN
        cur := '[]'; -- the root itself: its row trigger records its changes; only lock below
    ELSIF TG_OP = 'UPDATE' THEN
        -- Only rows that changed what matters ("watch": the columns the document shows, and
        -- those rows join and order by; absent: all), in both versions: the old one reaches
        -- the old parents.
        pn := nrows;
        po := orows;
        IF spec ? 'watch' THEN
            SELECT jsonb_agg((SELECT jsonb_object_agg(k, r -> k) FROM jsonb_array_elements_text(spec -> 'watch') k))
              INTO pn FROM jsonb_array_elements(nrows) r;
            SELECT jsonb_agg((SELECT jsonb_object_agg(k, r -> k) FROM jsonb_array_elements_text(spec -> 'watch') k))
              INTO po FROM jsonb_array_elements(orows) r;
        END IF;
        SELECT jsonb_agg(r) INTO cur FROM (
            (SELECT r FROM jsonb_array_elements(COALESCE(pn, '[]')) r
             EXCEPT SELECT r FROM jsonb_array_elements(COALESCE(po, '[]')) r)
            UNION
            (SELECT r FROM jsonb_array_elements(COALESCE(po, '[]')) r
             EXCEPT SELECT r FROM jsonb_array_elements(COALESCE(pn, '[]')) r)) s;
    ELSE
        cur := COALESCE(nrows, orows);
    END IF;
    IF nhops > 0 AND (cur IS NULL OR jsonb_array_length(cur) = 0) THEN
        RETURN NULL;
    END IF;

    -- Join values this statement gives rows of the upper side of an edge: a walk from the
    -- other side must wait for this transaction or see it.
    FOR d IN SELECT x FROM jsonb_array_elements(COALESCE(spec -> 'down', '[]')) x LOOP
        SELECT array_agg(v) INTO vals FROM (
            SELECT v FROM @schema@.nested_vals(nrows, d -> 'cols') v
            EXCEPT SELECT v FROM @schema@.nested_vals(orows, d -> 'cols') v) s;
        PERFORM @schema@.nested_lock(d ->> 'lock', d ->> 'mode', vals);
    END LOOP;

    IF nhops = 0 THEN
        RETURN NULL;
    END IF;
    FOR hop IN SELECT x FROM jsonb_array_elements(spec -> 'up') x LOOP
        h := h + 1;
        SELECT array_agg(v) INTO vals FROM @schema@.nested_vals(cur, hop -> 'from') v;
        IF vals IS NULL THEN
            RETURN NULL;
        END IF;
        PERFORM @schema@.nested_lock(hop ->> 'lock', hop ->> 'mode', vals);
        SELECT string_agg(format('u.%I = v.%I', c, c), ' AND '), string_agg(format('v.%I', c), ', ')
          INTO cond, pick FROM jsonb_array_elements_text(hop -> 'to') c;
        IF h = nhops THEN
            -- The root: its keys, each part the column's ::text form as the row trigger writes it.
            SELECT string_agg(format('u.%I::text', c), ', ') INTO takes FROM jsonb_array_elements_text(hop -> 'take') c;
            EXECUTE format('SELECT jsonb_agg(DISTINCT to_jsonb(ARRAY[%s])) FROM %s u JOIN (SELECT DISTINCT %s FROM '
                           'jsonb_populate_recordset(NULL::%s, $1) v) v ON %s',
                           takes, hop ->> 'table', pick, hop ->> 'table', cond)
              INTO keys USING @schema@.nested_objs(vals, hop -> 'to');
        ELSE
            SELECT string_agg(format('u.%I', c), ', ') INTO takes FROM jsonb_array_elements_text(hop -> 'take') c;
            EXECUTE format('SELECT jsonb_agg(to_jsonb(s)) FROM (SELECT %s FROM %s u JOIN (SELECT DISTINCT %s FROM '
                           'jsonb_populate_recordset(NULL::%s, $1) v) v ON %s FOR SHARE OF u) s',
                           takes, hop ->> 'table', pick, hop ->> 'table', cond)
              INTO cur USING @schema@.nested_objs(vals, hop -> 'to');
            IF cur IS NULL THEN
                RETURN NULL;
            END IF;
        END IF;
    END LOOP;
    IF keys IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO @schema@.changes (tbl, key, op, version)
    SELECT spec ->> 'root', ARRAY(SELECT jsonb_array_elements_text(k)), 'U', NULL
      FROM jsonb_array_elements(keys) k;
    PERFORM pg_notify(spec ->> 'channel', spec ->> 'root');
    RETURN NULL;
END
$fn$;

-- AFTER TRUNCATE of a table inside a tree: no row is left to walk from, so mark the root
-- mapping for a resync (versync backfill) as a truncate of the root itself does.
CREATE OR REPLACE FUNCTION @schema@.nested_truncated() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE @schema@.tables t
       SET needs_resync = true, resync_reason = 'truncated ' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
           truncated_at = now()
     WHERE t.tbl = TG_ARGV[0];
    PERFORM pg_notify(TG_ARGV[1], TG_ARGV[0]);
    RETURN NULL;
END
$fn$;
