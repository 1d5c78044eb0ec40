-- nested_version: the version of this batch's nested documents, drawn from the change
-- sequence AFTER the claim saw the committed change rows and BEFORE the re-read takes its
-- snapshot (its own statement under READ COMMITTED); README "Nested documents: versions".
-- $1: versync's changes table as a quoted qualified name.
SELECT nextval(pg_get_serial_sequence($1, 'seq'));
