/* store_mapping_rules — Elasticsearch's mapping rules that sit outside the field mappers: no type wrapper in PUT _mapping, dotted property names as objects, `_source` merged parameter by parameter. */
#ifndef VERSYNC_STORE_MAPPING_RULES_H
#define VERSYNC_STORE_MAPPING_RULES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Normalise a mapping body in place before it is parsed or merged, as
 * Elasticsearch's REST layer and ObjectMapper parser do: `put` true (PUT
 * _mapping) refuses a `{"_doc": {…}}` wrapper ("Types cannot be provided in
 * put mapping requests"); at index creation (`put` false) that wrapper is
 * allowed and looked through. Every dotted property name ("a.b": def) becomes
 * objects ("a": {"properties": {"b": def}}), merged with a sibling "a"; an
 * empty name or name part is refused ("field name cannot be an empty string").
 * On refusal returns false with Elasticsearch's error type (static string) in
 * *type and its reason in `err`; `body` may then be partly expanded. */
bool store_mapping_rules_normalise(cJSON *body, bool put, const char **type, char *err, size_t errsz);

/* Merge the `_source` object `add` (of a PUT _mapping) into the mapping root
 * `root` (which owns any current "_source") parameter by parameter, as
 * SourceFieldMapper merges: a parameter not given keeps its value; `enabled`
 * may go from true to false but never back; `includes`/`excludes` never
 * change; `mode` may not change back to "stored". On a conflict returns false
 * with Elasticsearch's reason ("Mapper for [_source] conflicts with existing
 * mapper:\n\tCannot update parameter [enabled] from [false] to [true]") in
 * `err`, `root` unchanged. */
bool store_mapping_rules_merge_source(cJSON *root, const cJSON *add, char *err, size_t errsz);

/* Elasticsearch's exception type for a mapping refusal whose reason (as
 * store_mapping_parse/merge write them) is `reason`: "mapper_parsing_exception"
 * for what its mapping parser throws as MapperParsingException (unknown
 * type or parameter, a root parameter it does not know, a non-object
 * definition), "illegal_argument_exception" otherwise (limits, conflicts,
 * unknown analyzers, empty names). Static string. */
const char *store_mapping_rules_error_type(const char *reason);

/* Whether a PUT _mapping refusal's reason comes from merging with the
 * current mapping (a changed type or parameter, a limit): Elasticsearch
 * throws those as they are, and wraps what its parser refuses in
 * mapper_parsing_exception "Failed to parse mapping: …" (MapperService). */
bool store_mapping_rules_is_merge_error(const char *reason);

#endif
