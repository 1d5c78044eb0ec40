-- render_each: an array or multirange as a JSON array of its elements, each rendered by @el@
-- (an expression of @x@, the element); an array of several dimensions is flattened, as
-- Elasticsearch flattens arrays anyway; an empty one stays []. @v@: the value expression;
-- @x@ and @o@: column aliases unique to this nesting level.
CASE WHEN @v@ IS NULL THEN NULL
     ELSE COALESCE((SELECT jsonb_agg(@el@ ORDER BY @o@) FROM unnest(@v@) WITH ORDINALITY AS @x@_t(@x@, @o@)),
                   '[]'::jsonb)
END
