-- cursor_system: this cluster's system identifier (a physical replica shares its primary's).
-- Transaction ids in a checkpoint are meaningful only in the cluster that handed them out: a
-- checkpoint restored into another cluster (pg_dump of versync's schema, a state file copied to
-- another server) must not be trusted, or its base could hide every row.
SELECT system_identifier::text FROM pg_control_system()
