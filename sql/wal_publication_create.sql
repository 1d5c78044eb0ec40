-- versync's publication of the "capture": "wal" tables (@pub@, @tables@: quoted identifiers).
CREATE PUBLICATION @pub@ FOR TABLE @tables@ WITH (publish = 'insert, update, delete, truncate')
