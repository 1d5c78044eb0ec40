-- render_float8_clamp: a double precision with ±Infinity as the largest finite double and NaN
-- as null. @v@: the value expression.
CASE WHEN @v@ = 'NaN'::float8 THEN NULL
     WHEN @v@ = 'Infinity'::float8 THEN 1.7976931348623157e308::float8
     WHEN @v@ = '-Infinity'::float8 THEN -1.7976931348623157e308::float8
     ELSE @v@ END
