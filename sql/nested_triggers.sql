-- nested_triggers: the capture of one table at one place of a nested document's tree
-- (sql/nested_capture.sql). Transition tables need one trigger per event. @spec@ is the walk
-- (a quoted jsonb literal), @root@ the root mapping's name as a literal.
CREATE TRIGGER @name@_i AFTER INSERT ON @table@ REFERENCING NEW TABLE AS vs_new
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.nested_capture(@spec@);
CREATE TRIGGER @name@_u AFTER UPDATE ON @table@ REFERENCING OLD TABLE AS vs_old NEW TABLE AS vs_new
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.nested_capture(@spec@);
CREATE TRIGGER @name@_d AFTER DELETE ON @table@ REFERENCING OLD TABLE AS vs_old
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.nested_capture(@spec@);
CREATE TRIGGER @name@_t AFTER TRUNCATE ON @table@
    FOR EACH STATEMENT EXECUTE FUNCTION @schema@.nested_truncated(@root@, @channel@);
