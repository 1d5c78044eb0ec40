CREATE TRIGGER @capture_name@ AFTER INSERT OR UPDATE OR DELETE ON @table@
    FOR EACH ROW EXECUTE FUNCTION @schema@.capture(@args@);
CREATE TRIGGER @notify_name@ AFTER INSERT OR UPDATE OR DELETE ON @table@
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.notify(@channel@);
CREATE TRIGGER @truncate_name@ AFTER TRUNCATE ON @table@
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.truncated(@channel@);
