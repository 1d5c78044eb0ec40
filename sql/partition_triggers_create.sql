-- A partition's own statement triggers: PostgreSQL fires a statement's triggers only on the table
-- the statement names, and clones only row triggers onto partitions. They record under the
-- partitioned table's name (@tbl@), as the cloned capture trigger does.
DROP TRIGGER IF EXISTS @notify_name@ ON @table@;
DROP TRIGGER IF EXISTS @truncate_name@ ON @table@;
CREATE TRIGGER @notify_name@ AFTER INSERT OR UPDATE OR DELETE ON @table@
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.notify(@channel@, @tbl@);
CREATE TRIGGER @truncate_name@ AFTER TRUNCATE ON @table@
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.truncated(@channel@, @tbl@);
