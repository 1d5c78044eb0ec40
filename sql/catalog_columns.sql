-- catalog_columns: the columns of one table ($1 schema, $2 table name, raw), in order, with
-- their type as format_type shows it, the type underneath any domain (for the version-type
-- check), and their position in the primary key. No row at all: no such relation. A relation
-- without columns gives one row with a NULL column name.
SELECT c.relkind::text                                   AS relkind,
       a.attname                                         AS name,
       format_type(a.atttypid, a.atttypmod)              AS type,
       CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END::regtype::text AS base_type,
       (SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, ord)
         WHERE k.att = a.attnum)                        AS pk_position
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
 WHERE n.nspname = $1 AND c.relname = $2
 ORDER BY a.attnum;
