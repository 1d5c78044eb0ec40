-- mapping_columns: what the generated index mapping needs to know about each column of one
-- table ($1 schema, $2 table name, raw) beyond catalog_columns.sql: the element type under any
-- domain and array (elem, as regtype text), its typtype (e enum, c composite, b base, …) and
-- typcategory (G geometric, …), and for numeric the declared precision and scale (NULL when
-- unconstrained; a domain's own typmod counts, as it is what the column's values obey).
SELECT a.attname                                              AS name,
       e.oid::regtype::text                                   AS elem,
       e.typtype::text                                        AS typtype,
       e.typcategory::text                                    AS typcategory,
       CASE WHEN e.oid = 'numeric'::regtype AND tm.v >= 4 THEN ((tm.v - 4) >> 16) & 65535 END AS num_precision,
       CASE WHEN e.oid = 'numeric'::regtype AND tm.v >= 4 THEN (tm.v - 4) & 65535 END         AS num_scale
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
  JOIN pg_catalog.pg_type e0 ON e0.oid = CASE WHEN b.typcategory = 'A' AND b.typelem <> 0 THEN b.typelem
                                              ELSE b.oid END
  JOIN pg_catalog.pg_type e ON e.oid = CASE WHEN e0.typtype = 'd' THEN e0.typbasetype ELSE e0.oid END
 CROSS JOIN LATERAL (SELECT CASE WHEN t.typtype = 'd' AND t.typtypmod >= 0 THEN t.typtypmod
                                 WHEN e0.typtype = 'd' AND e0.typtypmod >= 0 THEN e0.typtypmod
                                 ELSE a.atttypmod END AS v) tm
 WHERE n.nspname = $1 AND c.relname = $2
 ORDER BY a.attnum;
