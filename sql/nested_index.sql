-- nested_index: whether table $1.$2 (raw names) has a valid index whose leading columns are
-- exactly the columns $3 (text[], any order): what a join on those columns needs not to scan.
SELECT EXISTS (
    SELECT 1
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND i.indisvalid AND i.indnkeyatts >= cardinality($3::text[])
       AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
              FROM unnest((i.indkey::int2[])[0:cardinality($3::text[]) - 1]) AS k(att)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att)
           = (SELECT array_agg(x ORDER BY x) FROM unnest($3::text[]) AS x));
