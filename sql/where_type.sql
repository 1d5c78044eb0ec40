-- where_type: prepared (never run) to prove a table's "where" is one expression over its columns;
-- the caller then checks that its one column is boolean. @where@: the expression; @table@: the table.
SELECT (
@where@
) AS vs_where FROM @table@ LIMIT 0
