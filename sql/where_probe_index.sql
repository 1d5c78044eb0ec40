-- where_probe_index: PostgreSQL's own rule for a partial index predicate (no subquery, aggregate
-- or set-returning function; only IMMUTABLE functions and operators) is exactly what makes a filter
-- a function of the row alone, which the convergence argument needs. Run on the empty copy from
-- where_probe_table.sql, then rolled back. @where@: the expression.
CREATE INDEX ON pg_temp.vs_where_probe ((1)) WHERE (
@where@
)
