-- render_time_null: a timestamp, timestamptz or date with infinity and -infinity as null.
-- @v@: the value expression.
CASE WHEN isfinite(@v@) THEN @v@ END
