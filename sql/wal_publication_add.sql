-- Add mapped "wal" tables to versync's own publication.
ALTER PUBLICATION @pub@ ADD TABLE @tables@
