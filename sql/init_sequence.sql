-- The sequence behind a managed version column. It is kept when the table leaves the config,
-- so that versions never go back if it returns. It starts above every version the table
-- already holds, so that documents already in the store are never outranked by older ones.
CREATE SEQUENCE IF NOT EXISTS @seq@;
COMMENT ON SEQUENCE @seq@ IS @comment@;
SELECT setval(@seq_lit@::regclass, greatest(v, 1), v >= 1)
  FROM (SELECT greatest((SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM @seq@),
                        (SELECT max(@vcol@) FROM @table@)) AS v) AS s;
