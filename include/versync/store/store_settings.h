/* store_settings — read what an index's stored settings and mappings JSON say about it (replicas, _source), in any of the spellings Elasticsearch accepts. */
#ifndef VERSYNC_STORE_SETTINGS_H
#define VERSYNC_STORE_SETTINGS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* The value of setting `name` (without the "index." prefix, e.g.
 * "number_of_replicas") in `settings`, looked up as "index.<name>",
 * {"index":{"<name>":…}} and "<name>"; NULL when absent. Borrowed from
 * `settings`. Dotted names are only looked up in their flat spellings. */
const cJSON *store_settings_find(const cJSON *settings, const char *name);

/* The number of replica copies the index's settings ask for on verstore's one
 * node, as Elasticsearch counts them in `_shards.total`: index.number_of_replicas
 * (default 1), or the lower bound of index.auto_expand_replicas ("0-1",
 * "0-all") when set, since a one-node cluster expands to nothing more.
 * `json` is the stored settings text (`len` bytes, may be 0). A value that
 * cannot be read counts as the default: the text was validated on the way in. */
int store_settings_replicas(const char *json, size_t len);

/* Whether a stored mapping (`len` bytes of JSON, may be 0) disables _source
 * (`"_source": {"enabled": false}`). */
bool store_settings_source_disabled(const char *mappings, size_t len);

#endif
