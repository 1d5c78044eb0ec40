-- init_changes_autovacuum: the change table is a queue. Every change row is inserted once and
-- deleted once, so the live rows stay few while dead ones pile up at the drain's rate, and a
-- claim's index scan walks every dead entry that vacuum has not yet removed. PostgreSQL's
-- default (vacuum once dead rows pass 20 % of the live ones, throttled by the cost delay) lets
-- hundreds of thousands accumulate during a fast drain. A fixed threshold and no throttling
-- keep each vacuum small; autovacuum_naptime (global, 60 s by default) still bounds how often
-- it comes. init sets this only on a change table that has no autovacuum setting of its own.
ALTER TABLE @schema@.changes SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_cost_delay = 0
);
