-- render_numeric_clamp: a numeric with ±Infinity as the largest finite double (what a double
-- field holds) and NaN as null ("special_values": "clamp"). @v@: the value expression.
CASE (@v@)::text WHEN 'NaN' THEN NULL
                 WHEN 'Infinity' THEN 1.7976931348623157e308
                 WHEN '-Infinity' THEN -1.7976931348623157e308
                 ELSE @v@ END
