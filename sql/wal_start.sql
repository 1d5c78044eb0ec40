-- Stream the slot (@slot@: a validated [a-z0-9_] name) from its confirmed position: pgoutput protocol 1,
-- the publication (@pubs@: a literal holding the quoted publication name), and logical messages
-- (once's stop marker).
START_REPLICATION SLOT @slot@ LOGICAL 0/0 (proto_version '1', publication_names @pubs@, messages 'true')
