-- One progress sample: the change backlog and the workers' counters, summed
-- over every worker process (the schema is the demo's own, fresh per run).
SELECT (SELECT count(*) FROM @schema@.changes) AS backlog,
       coalesce(sum(s.applied), 0) AS applied,
       coalesce(sum(s.stale), 0) AS stale,
       coalesce(sum(s.coalesced), 0) AS coalesced,
       (SELECT count(*) FROM @schema@.dead_letters) AS dead_letters,
       coalesce(sum(s.retries), 0) AS retries
FROM @schema@.worker_stats AS s
