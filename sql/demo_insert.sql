-- $1: id, $2: balance. Re-inserts a deleted row; another writer may have done
-- so first, which is not an error (0 rows).
INSERT INTO versync_demo.accounts (id, owner, balance)
VALUES ($1::integer, 'account-' || $1::integer, $2::bigint)
ON CONFLICT (id) DO NOTHING
