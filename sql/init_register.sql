INSERT INTO @schema@.tables (tbl, index_name, spec, version_seq) VALUES (@tbl@, @index@, @spec@, @seq_lit@)
    ON CONFLICT (tbl) DO UPDATE
    SET index_name = EXCLUDED.index_name, spec = EXCLUDED.spec, version_seq = EXCLUDED.version_seq;
