-- One random change of the nested race demonstration, in its own transaction: $1 the
-- operation (0-8), $2 an account id, $3 another account id, $4 a small random number.
-- Returns the rows it changed. Each operation touches a different level of the tree.
WITH
  txn_insert AS (
    INSERT INTO versync_demo.txn (account_id, merchant_id, amount)
    SELECT $2::integer, 1 + $4::integer % 16, $4::integer WHERE $1::integer = 0 RETURNING 1),
  txn_move AS (
    UPDATE versync_demo.txn SET account_id = $3::integer
     WHERE $1::integer = 1 AND id = (SELECT id FROM versync_demo.txn WHERE account_id = $2::integer LIMIT 1)
    RETURNING 1),
  txn_delete AS (
    DELETE FROM versync_demo.txn
     WHERE $1::integer = 2 AND id = (SELECT id FROM versync_demo.txn WHERE account_id = $2::integer LIMIT 1)
    RETURNING 1),
  branch_rename AS (
    UPDATE versync_demo.branch SET name = 'branch-' || id || '-' || $4::integer
     WHERE $1::integer = 3 AND id = 1 + $4::integer % 8 RETURNING 1),
  merchant_rename AS (
    UPDATE versync_demo.merchant SET name = 'merchant-' || id || '-' || $4::integer
     WHERE $1::integer = 4 AND id = 1 + $4::integer % 16 RETURNING 1),
  account_move AS (
    UPDATE versync_demo.accounts SET branch_id = 1 + $4::integer % 8
     WHERE $1::integer = 5 AND id = $2::integer RETURNING 1),
  tag_add AS (
    INSERT INTO versync_demo.account_tag SELECT $2::integer, 1 + $4::integer % 6 WHERE $1::integer = 6
    ON CONFLICT DO NOTHING RETURNING 1),
  tag_remove AS (
    DELETE FROM versync_demo.account_tag WHERE $1::integer = 7 AND account_id = $2::integer RETURNING 1),
  tag_rename AS (
    UPDATE versync_demo.tag SET label = 'tag-' || id || '-' || $4::integer
     WHERE $1::integer = 8 AND id = 1 + $4::integer % 6 RETURNING 1)
SELECT (SELECT count(*) FROM txn_insert) + (SELECT count(*) FROM txn_move) + (SELECT count(*) FROM txn_delete)
     + (SELECT count(*) FROM branch_rename) + (SELECT count(*) FROM merchant_rename)
     + (SELECT count(*) FROM account_move) + (SELECT count(*) FROM tag_add) + (SELECT count(*) FROM tag_remove)
     + (SELECT count(*) FROM tag_rename)
