-- init_meta_get: one value of versync's meta table ($1 the key).
SELECT value FROM @schema@.meta WHERE key = $1;
