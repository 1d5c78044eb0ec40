-- render_numeric_null: a numeric with NaN, Infinity and -Infinity as null ("special_values":
-- "null"): no JSON number stands for them. Compared as text so the file parses on
-- PostgreSQL 13, whose numeric has no infinities. @v@: the value expression.
CASE WHEN (@v@)::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE @v@ END
