CREATE TRIGGER versync_capture AFTER INSERT OR UPDATE OR DELETE ON @table@
    FOR EACH ROW EXECUTE FUNCTION @schema@.capture(@args@);
CREATE TRIGGER versync_notify AFTER INSERT OR UPDATE OR DELETE ON @table@
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.notify(@channel@);
CREATE TRIGGER versync_truncate AFTER TRUNCATE ON @table@
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.truncated(@channel@);
