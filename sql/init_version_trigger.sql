-- Named to sort after the application's own BEFORE triggers, which fire in name order, so it
-- sees the row as they left it.
CREATE TRIGGER @version_name@ BEFORE INSERT OR UPDATE ON @table@
    FOR EACH ROW EXECUTE FUNCTION @schema@.assign_version(@args@);
