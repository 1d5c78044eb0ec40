-- Replica identity of table $1 ($1: regclass text) and the columns it carries:
-- 'd' the primary key, 'f' every column, 'i' the index named, 'n' nothing.
SELECT c.relreplident,
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum)
                   FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = c.oid
                    AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))),
                '{}')::text
  FROM pg_class c WHERE c.oid = $1::regclass
