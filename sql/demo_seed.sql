-- $1: number of rows. Runs after versync init, so every seed row is a captured
-- change the workers index like any other.
INSERT INTO versync_demo.accounts (id, owner, balance)
SELECT g, 'account-' || g, 1000
FROM generate_series(1, $1::integer) AS g
