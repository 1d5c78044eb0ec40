-- verify_pending: which of the keys $2 (a JSON array of text arrays) of table $1 have changes
-- still waiting in the change table (not drift: the workers have not got to them yet).
SELECT DISTINCT c.key
  FROM @schema@.changes c
 WHERE c.tbl = $1
   AND c.key IN (SELECT ARRAY(SELECT jsonb_array_elements_text(e))
                   FROM jsonb_array_elements($2::jsonb) AS e)
