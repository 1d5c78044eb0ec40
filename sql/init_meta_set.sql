INSERT INTO @schema@.meta (key, value) VALUES (@key@, @value@)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
