-- render_float4_null: a real with NaN, Infinity and -Infinity as null. @v@: the value expression.
CASE WHEN @v@ IN ('NaN'::real, 'Infinity'::real, '-Infinity'::real) THEN NULL ELSE @v@ END
