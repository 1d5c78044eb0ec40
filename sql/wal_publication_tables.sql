-- The tables publication $1 publishes.
SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1
