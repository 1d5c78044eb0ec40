-- where_outside: true when a row is outside its table's "where" filter (its document is deleted).
-- The filter is evaluated over the row alone (a sub-select of @row@.*), so it sees the table's own
-- columns and nothing the surrounding statement joins; it sits on lines of its own, so a trailing
-- "--" comment in it cannot swallow what follows. NULL counts as outside, as in a WHERE clause.
-- @where@: the expression as configured; @row@: the alias the row is read under.
(SELECT NOT COALESCE((
@where@
), false) FROM (SELECT @row@.*) AS vs_w)
