-- $1: id. Its change row carries a fresh version, so the delete tombstone
-- outranks every earlier write of the row.
DELETE FROM versync_demo.accounts WHERE id = $1::integer
