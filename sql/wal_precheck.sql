-- WAL capture needs wal_level = logical and a role that may replicate.
SELECT current_setting('wal_level'),
       (SELECT r.rolreplication OR r.rolsuper FROM pg_roles r WHERE r.rolname = current_user)
