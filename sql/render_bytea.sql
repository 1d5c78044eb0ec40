-- render_bytea: a bytea value as base64 without line breaks, as Elasticsearch's binary type
-- wants (encode() breaks its output every 76 characters). @v@: the value expression.
translate(encode(@v@, 'base64'), E'\n', '')
