/* init — `versync init`'s pure helpers, exported for unit tests (the command itself is cli_init). */
#ifndef VERSYNC_INIT_H
#define VERSYNC_INIT_H

/* An Elasticsearch time value ("60s", "1h", "500ms", "2d", "1.5m", "100micros"; scan_duration_ms)
 * in milliseconds, or -1 when it is not one. */
long long init_time_value_ms(const char *value);

/* The index.gc_deletes in force according to the body of
 * GET /{index}/_settings?include_defaults=true&flat_settings=true (the first
 * index in it), in milliseconds: the explicit setting, else the reported
 * default, else Elasticsearch's built-in 60 s. -1 when the body is not such an
 * answer or the value is not a time value. */
long long init_gc_deletes_ms(const char *settings_body);

/* The name of versync's trigger `base` for config schema `schema`: `base` itself
 * for the default schema "versync" (as every earlier release named it), else
 * base_SCHEMA, so that two configs with their own schemas can capture one
 * table side by side (one table feeding two stores). Within PostgreSQL's 63
 * bytes: a long schema is cut (at a UTF-8 boundary) and a hash of it added. */
void init_trigger_name(const char *schema, const char *base, char out[64]);

#endif
