-- Changes waiting to be claimed, for the worker's periodic summary.
SELECT count(*) FROM @schema@.changes
