-- A worker's session settings, run once per connection (versync worker).
-- Plan every prepared statement for the parameters it runs with. After five
-- executions PostgreSQL may switch a prepared statement to a generic plan,
-- and keeps it until the table's statistics change. The claim's generic plan
-- knows neither `LIMIT $1` nor the length of the seq array: chosen while the
-- change table was small, it deletes through a sequential scan of the whole
-- table with the claimed seqs as a filter, so every batch reads every change
-- row, and a backlog that grows meanwhile slows every batch further
-- (test_worker_claim_plan.sh). The same holds for the re-reads' key arrays.
SET plan_cache_mode = force_custom_plan
