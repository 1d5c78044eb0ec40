-- cursor_page: one page of a cursor pass (trigger-free capture, README "Trigger-free capture
-- (cursor mode)") over one mapped table: the next $2 rows in key order after the last key the
-- store acknowledged whose xmin is not older than the base $1 (an xid8 as bigint; NULL on the
-- first pass, which reads every row). Filled in by bridge_cursor.c: @select@ is
-- render_select_list's list under the alias vs_c, @table@ the quoted table, @after@ "true" or
-- "(key columns) > ($3, …)" with the key parts as text parameters, @order@ the key columns.
-- A row's 32-bit xmin is widened to 64 bits against this statement's own snapshot xmax (every
-- visible, unfrozen row was written less than 2^31 transactions before it); xmin 1 and 2
-- (bootstrap, frozen) are older than any base. A frozen row whose raw xmin aliases a recent
-- one is merely sent again: a harmless, versioned duplicate.
SELECT @select@
  FROM @table@ AS vs_c
 CROSS JOIN (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS nx) AS vs_s
 WHERE @after@
   AND ($1::bigint IS NULL
        OR (vs_c.xmin::text::bigint >= 3
            AND vs_s.nx - ((vs_s.nx - vs_c.xmin::text::bigint) % 4294967296 + 4294967296) % 4294967296
                >= $1::bigint))
 ORDER BY @order@
 LIMIT $2::int
