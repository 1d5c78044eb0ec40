-- catalog_key_unique: is the configured key ($3, column names) of table $1.$2 (raw names) backed
-- by the primary key or a valid unique index whose key columns are all among $3? Only then does
-- one key name one row, so one document id one document. Partial and expression indexes do not
-- count: they leave rows the index does not constrain.
SELECT EXISTS (
    SELECT 1
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2
       AND (i.indisprimary OR i.indisunique) AND i.indisvalid
       AND i.indpred IS NULL AND i.indexprs IS NULL
       AND NOT EXISTS (
           SELECT 1
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, ord)
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att
            WHERE k.ord <= i.indnkeyatts AND (a.attname IS NULL OR a.attname <> ALL ($3::text[]))))
