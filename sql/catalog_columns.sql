-- catalog_columns: the columns of one table ($1 schema, $2 table name, raw), in order, with
-- their type as format_type shows it, the type underneath any domain (for the version-type
-- check), and their position in the primary key. No row at all: no such relation. A relation
-- without columns gives one row with a NULL column name.
-- render: how the document shows the column's values (render_types.h), from the type under any
-- domain: "money", "bytea", "interval", "numeric", "float4", "float8", "timestamp",
-- "timestamptz", "date", "range:SUBTYPE" or "multirange:SUBTYPE" (the subtype's class), or
-- "plain" (jsonb's own form is right); "array:" in front for an array of such values.
-- pg_range is read through to_jsonb so the query parses on PostgreSQL 13 (no multiranges).
SELECT c.relkind::text                                   AS relkind,
       a.attname                                         AS name,
       format_type(a.atttypid, a.atttypmod)              AS type,
       CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END::regtype::text AS base_type,
       (SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, ord)
         WHERE k.att = a.attnum)                        AS pk_position,
       CASE WHEN t.oid IS NULL THEN NULL
            ELSE (SELECT CASE WHEN bt.typcategory = 'A' AND bt.typelem <> 0 THEN 'array:' ELSE '' END
                         || COALESCE((SELECT CASE
                                WHEN e.oid = 'money'::regtype THEN 'money'
                                WHEN e.oid = 'bytea'::regtype THEN 'bytea'
                                WHEN e.oid = 'interval'::regtype THEN 'interval'
                                WHEN e.oid = 'numeric'::regtype THEN 'numeric'
                                WHEN e.oid = 'real'::regtype THEN 'float4'
                                WHEN e.oid = 'double precision'::regtype THEN 'float8'
                                WHEN e.oid = 'timestamp'::regtype THEN 'timestamp'
                                WHEN e.oid = 'timestamptz'::regtype THEN 'timestamptz'
                                WHEN e.oid = 'date'::regtype THEN 'date'
                                WHEN e.typtype IN ('r', 'm') THEN
                                  (SELECT CASE e.typtype WHEN 'r' THEN 'range:' ELSE 'multirange:' END
                                          || CASE
                                               WHEN r.rngsubtype = 'numeric'::regtype THEN 'numeric'
                                               WHEN r.rngsubtype = 'real'::regtype THEN 'float4'
                                               WHEN r.rngsubtype = 'double precision'::regtype THEN 'float8'
                                               WHEN r.rngsubtype = 'timestamp'::regtype THEN 'timestamp'
                                               WHEN r.rngsubtype = 'timestamptz'::regtype THEN 'timestamptz'
                                               WHEN r.rngsubtype = 'date'::regtype THEN 'date'
                                               WHEN r.rngsubtype IN ('smallint'::regtype, 'integer'::regtype)
                                                 THEN 'integer'
                                               WHEN r.rngsubtype = 'bigint'::regtype THEN 'long'
                                               WHEN r.rngsubtype IN ('inet'::regtype, 'cidr'::regtype) THEN 'ip'
                                               ELSE 'plain' END
                                     FROM pg_catalog.pg_range r
                                    WHERE r.rngtypid = e.oid
                                       OR (to_jsonb(r) ->> 'rngmultitypid')::oid = e.oid)
                                ELSE 'plain' END
                           FROM pg_catalog.pg_type e
                          WHERE e.oid = (SELECT CASE WHEN el.typtype = 'd' THEN el.typbasetype ELSE el.oid END
                                           FROM pg_catalog.pg_type el
                                          WHERE el.oid = CASE WHEN bt.typcategory = 'A' AND bt.typelem <> 0
                                                              THEN bt.typelem ELSE bt.oid END)), 'plain')
                    FROM pg_catalog.pg_type bt
                   WHERE bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END)
       END                                               AS render
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
 WHERE n.nspname = $1 AND c.relname = $2
 ORDER BY a.attnum;
