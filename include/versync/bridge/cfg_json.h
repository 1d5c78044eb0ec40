/* cfg_json — the config parser's JSON getters, shared with the nested-document parser (bridge_nested_cfg.c). */
#ifndef VERSYNC_CFG_JSON_H
#define VERSYNC_CFG_JSON_H

#include "versync/bridge/cfg.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* The parser's context (file name and error buffer), private to bridge_cfg.c. */
struct ctx;

/* Write "FILE: PATH: message" into the context's error; always returns false. */
bool cfg_json_fail(struct ctx *x, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "a string", "an array", … for messages. Static text. */
const char *cfg_json_type_name(const cJSON *v);

/* path + "." + key into out (cut short when too long: it only labels messages). */
void cfg_json_path(char *out, size_t n, const char *path, const char *key);

/* The checks of bridge_cfg.c, as a mapping's keys use them: see there. */
bool cfg_json_object(struct ctx *x, const cJSON *v, const char *path);
bool cfg_json_keys(struct ctx *x, const cJSON *obj, const char *path, const char *const *allowed);
bool cfg_json_str(struct ctx *x, const cJSON *obj, const char *path, const char *key, char **out, bool nonempty);
bool cfg_json_strv(struct ctx *x, const cJSON *obj, const char *path, const char *key, bool nonempty_array,
                   char ***out, size_t *n);
bool cfg_json_table_name(struct ctx *x, const char *path, const char *text, char **schema, char **name);
bool cfg_json_rename(struct ctx *x, const cJSON *v, const char *path, cfg_table *t);

/* Free what a mapping's parse filled in (not `t` itself). */
void cfg_json_free_table(cfg_table *t);

#endif
