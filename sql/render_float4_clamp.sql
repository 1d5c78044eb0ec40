-- render_float4_clamp: a real with ±Infinity as the largest finite float (what a float field
-- holds) and NaN as null. @v@: the value expression.
CASE WHEN @v@ = 'NaN'::real THEN NULL
     WHEN @v@ = 'Infinity'::real THEN 3.4028235e38::real
     WHEN @v@ = '-Infinity'::real THEN -3.4028235e38::real
     ELSE @v@ END
