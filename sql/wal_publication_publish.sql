-- versync's own publication must publish every kind of change.
ALTER PUBLICATION @pub@ SET (publish = 'insert, update, delete, truncate')
