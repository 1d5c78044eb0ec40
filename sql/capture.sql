-- capture: the trigger functions that record changes of mapped tables (schema version 1).
-- One generic set of functions serves every mapped table; each table's triggers pass its
-- mapping as arguments, so `versync init` installs no per-table code and a config change
-- only recreates triggers. Rows are read generically through to_jsonb(NEW/OLD).
--
-- Arguments of capture() and assign_version(), in order (TG_ARGV[0..8]):
--   0 version kind: 'seq' (none), 'column', 'timestamp' or 'timestamptz'
--   1 version column name ('' for 'seq')
--   2 managed: 'true' or 'false'
--   3 the managed version sequence as a qualified, quoted name ('' when none)
--   4 the key columns, a text[] literal, in key order
--   5 '' when every key column's jsonb text equals its ::text form (integers, text, uuid…);
--     otherwise a SELECT that EXECUTE runs with the row as $1 to get the ::text forms
--   6 which columns make an update worth recording: 'all', 'except' (all but those in 7)
--     or 'only' (those in 7)
--   7 the columns for 6, a text[] literal
--   8 deletes: 'delete' or 'ignore'
-- Only for a partitioned table (PostgreSQL clones its row triggers, arguments and all, onto
-- every partition, present and future, and fires them there with TG_TABLE_NAME the partition's):
--   9 the configured table's name as change rows name it ('public.events'), so every partition's
--     changes are recorded under the parent the config and the workers know
--  10 a SELECT that EXECUTE runs with the deleted row as $1: does a row with its key exist in the
--     parent now? An UPDATE that moves a row to another partition fires DELETE on the old one
--     and INSERT on the new one; when the key stays the same, that DELETE is no delete at all

-- Microseconds since the epoch, as the workers compute a timestamp version; NULL for ±infinity.
CREATE OR REPLACE FUNCTION @schema@.us(ts timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN isfinite(ts) THEN trunc(extract(epoch FROM ts) * 1000000)::bigint END
$fn$;

CREATE OR REPLACE FUNCTION @schema@.us(ts timestamp) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN isfinite(ts) THEN trunc(extract(epoch FROM ts) * 1000000)::bigint END
$fn$;

-- Did an update change anything the document (or its key, version or soft-delete flag) shows?
CREATE OR REPLACE FUNCTION @schema@.mapped_change(o jsonb, n jsonb, mode text, cols text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    k text;
BEGIN
    IF mode = 'all' THEN
        RETURN o IS DISTINCT FROM n;
    ELSIF mode = 'except' THEN
        RETURN (o - cols) IS DISTINCT FROM (n - cols);
    END IF;
    FOREACH k IN ARRAY cols LOOP
        -- A column the mapping names is gone (renamed or dropped): the mapping is out of date and
        -- this update may change what the fixed mapping will show, so record it rather than lose it.
        IF (o -> k) IS DISTINCT FROM (n -> k) OR NOT (n ? k) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$fn$;

-- The version of an inserted or updated row (NULL for 'seq': the workers use the change's seq).
CREATE OR REPLACE FUNCTION @schema@.row_version(kind text, vcol text, r jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE kind
        WHEN 'column' THEN (r ->> vcol)::bigint
        WHEN 'timestamp' THEN @schema@.us((r ->> vcol)::timestamp)
        WHEN 'timestamptz' THEN @schema@.us((r ->> vcol)::timestamptz)
    END
$fn$;

-- The version of a delete: greater than the deleted row's own (DESIGN.md, "Version sources").
CREATE OR REPLACE FUNCTION @schema@.delete_version(kind text, vcol text, managed boolean, seq text, o jsonb)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    v bigint;
BEGIN
    IF kind = 'column' THEN
        IF managed THEN
            RETURN nextval(seq::regclass);
        END IF;
        v := (o ->> vcol)::bigint;
        RETURN CASE WHEN v < 9223372036854775807 THEN v + 1 END;
    ELSIF kind = 'timestamp' OR kind = 'timestamptz' THEN
        v := CASE kind WHEN 'timestamp' THEN @schema@.us((o ->> vcol)::timestamp)
                       ELSE @schema@.us((o ->> vcol)::timestamptz) END;
        IF managed THEN
            -- Our own stamps come from the clock too, so the clock keeps deletes in step with them.
            RETURN greatest(CASE kind WHEN 'timestamp' THEN @schema@.us(clock_timestamp()::timestamp)
                                      ELSE @schema@.us(clock_timestamp()) END, v + 1);
        END IF;
        -- The application's stamps: one microsecond past the deleted row's, never the clock,
        -- which runs ahead of a re-insert's now() in the same (or a later, long-started)
        -- transaction and would make the tombstone win over the row that exists. A row without
        -- a stamp was never written with one (a dead letter): the clock is as good as any.
        IF v IS NULL THEN
            RETURN CASE kind WHEN 'timestamp' THEN @schema@.us(clock_timestamp()::timestamp)
                             ELSE @schema@.us(clock_timestamp()) END;
        END IF;
        RETURN CASE WHEN v < 9223372036854775807 THEN v + 1 END;
    END IF;
    RETURN NULL;
END
$fn$;

-- The key of a row as text[], each part the column's ::text form.
CREATE OR REPLACE FUNCTION @schema@.row_key(r jsonb, keys text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT ARRAY(SELECT r ->> k FROM unnest(keys) WITH ORDINALITY AS u(k, i) ORDER BY i)
$fn$;

-- AFTER INSERT/UPDATE/DELETE, FOR EACH ROW: record the change in the same transaction.
CREATE OR REPLACE FUNCTION @schema@.capture() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    ident text := CASE WHEN TG_NARGS > 9 THEN TG_ARGV[9] ELSE TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME END;
    moved boolean;
    n jsonb;
    o jsonb;
    nk text[];
    ok text[];
BEGIN
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD);
    END IF;
    IF TG_OP = 'UPDATE' AND NOT @schema@.mapped_change(o, n, TG_ARGV[6], TG_ARGV[7]::text[]) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' AND TG_ARGV[8] = 'ignore' THEN
        RETURN NULL;
    END IF;
    IF n IS NOT NULL THEN
        IF TG_ARGV[5] = '' THEN
            nk := @schema@.row_key(n, TG_ARGV[4]::text[]);
        ELSE
            EXECUTE TG_ARGV[5] INTO nk USING NEW;
        END IF;
    END IF;
    IF o IS NOT NULL THEN
        IF TG_ARGV[5] = '' THEN
            ok := @schema@.row_key(o, TG_ARGV[4]::text[]);
        ELSE
            EXECUTE TG_ARGV[5] INTO ok USING OLD;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' AND TG_NARGS > 10 THEN
        -- AFTER row triggers run at the end of the statement, so a row the same statement moved
        -- into another partition is visible here. Its INSERT records it with its new version; a
        -- delete recorded as well could carry a greater version (a managed version draws the
        -- delete's after the insert's) and remove the document of a row that exists.
        EXECUTE TG_ARGV[10] INTO moved USING OLD;
        IF moved THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO @schema@.changes (tbl, key, op, version)
        VALUES (ident, nk, 'I', @schema@.row_version(TG_ARGV[0], TG_ARGV[1], n));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO @schema@.changes (tbl, key, op, version)
        VALUES (ident, ok, 'D', @schema@.delete_version(TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]::boolean, TG_ARGV[3], o));
    ELSIF nk IS DISTINCT FROM ok THEN
        -- The key changed, so the document's id did: delete the old document, index the new one.
        IF TG_ARGV[8] <> 'ignore' THEN
            INSERT INTO @schema@.changes (tbl, key, op, version)
            VALUES (ident, ok, 'D', @schema@.delete_version(TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]::boolean, TG_ARGV[3], o));
        END IF;
        INSERT INTO @schema@.changes (tbl, key, op, version)
        VALUES (ident, nk, 'I', @schema@.row_version(TG_ARGV[0], TG_ARGV[1], n));
    ELSE
        INSERT INTO @schema@.changes (tbl, key, op, version)
        VALUES (ident, nk, 'U', @schema@.row_version(TG_ARGV[0], TG_ARGV[1], n));
    END IF;
    RETURN NULL;
END
$fn$;

-- BEFORE INSERT/UPDATE, FOR EACH ROW, for managed versions: assign the version. An update that
-- changes nothing mapped keeps the old version (and capture() records nothing for it). Its
-- trigger is named to fire after the application's own BEFORE triggers (they fire by name).
CREATE OR REPLACE FUNCTION @schema@.assign_version() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    vcol text := TG_ARGV[1];
    o jsonb;
    v jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        o := to_jsonb(OLD);
        IF NOT @schema@.mapped_change(o, to_jsonb(NEW), TG_ARGV[6], TG_ARGV[7]::text[]) THEN
            NEW := jsonb_populate_record(NEW, jsonb_build_object(vcol, o -> vcol));
            RETURN NEW;
        END IF;
    END IF;
    IF TG_ARGV[0] = 'column' THEN
        v := to_jsonb(nextval(TG_ARGV[3]::regclass));
    ELSIF TG_ARGV[0] = 'timestamptz' THEN
        v := to_jsonb(greatest(clock_timestamp(), (o ->> vcol)::timestamptz + interval '1 microsecond'));
    ELSE
        v := to_jsonb(greatest(clock_timestamp()::timestamp, (o ->> vcol)::timestamp + interval '1 microsecond'));
    END IF;
    NEW := jsonb_populate_record(NEW, jsonb_build_object(vcol, v));
    RETURN NEW;
END
$fn$;

-- AFTER INSERT/UPDATE/DELETE, FOR EACH STATEMENT: wake the workers (one NOTIFY per
-- transaction and table, since PostgreSQL folds identical notifications).
-- TG_ARGV[1], when given, is the partitioned table a partition's changes are recorded under.
CREATE OR REPLACE FUNCTION @schema@.notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], CASE WHEN TG_NARGS > 1 THEN TG_ARGV[1]
                                       ELSE TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME END);
    RETURN NULL;
END
$fn$;

-- AFTER TRUNCATE: no row triggers fire, so the index would silently keep every document.
-- Record the truncate and mark the table for a resync (versync backfill --prune). TG_ARGV[1], when
-- given, is the partitioned table a truncated partition belongs to: its truncate is one of the
-- parent's, and the worker then deletes the documents whose rows the parent no longer has.
CREATE OR REPLACE FUNCTION @schema@.truncated() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    ident text := CASE WHEN TG_NARGS > 1 THEN TG_ARGV[1] ELSE TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME END;
BEGIN
    INSERT INTO @schema@.changes (tbl, key, op, version) VALUES (ident, NULL, 'T', NULL);
    UPDATE @schema@.tables t
       SET needs_resync = true, resync_reason = 'truncated', truncated_at = now()
     WHERE t.tbl = ident;
    PERFORM pg_notify(TG_ARGV[0], ident);
    RETURN NULL;
END
$fn$;
