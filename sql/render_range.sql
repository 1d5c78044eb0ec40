-- render_range: a range as the object Elasticsearch's range field types take:
-- {"gte"|"gt": lower, "lte"|"lt": upper}, an unbounded side left out, an empty range null.
-- @v@: the range expression; @lo@/@hi@: its bounds (lower(@v@)/upper(@v@)) already rendered.
CASE WHEN @v@ IS NULL OR isempty(@v@) THEN NULL
     ELSE jsonb_strip_nulls(jsonb_build_object(CASE WHEN lower_inc(@v@) THEN 'gte' ELSE 'gt' END, @lo@,
                                               CASE WHEN upper_inc(@v@) THEN 'lte' ELSE 'lt' END, @hi@))
END
