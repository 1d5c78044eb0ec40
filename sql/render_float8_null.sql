-- render_float8_null: a double precision with NaN, Infinity and -Infinity as null.
-- @v@: the value expression.
CASE WHEN @v@ IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) THEN NULL ELSE @v@ END
