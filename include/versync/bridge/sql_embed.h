/* sql_embed — the SQL files of sql/, embedded into the binary at build time. */
#ifndef VERSYNC_SQL_EMBED_H
#define VERSYNC_SQL_EMBED_H

typedef struct sql_file {
    const char *name; /* file name without folder and ".sql" */
    const char *text; /* whole file, NUL-terminated */
} sql_file;

/* The text of sql/NAME.sql, or NULL when there is no such file.
 * Static storage: never free it. */
const char *sql_text(const char *name);

/* Every embedded file, terminated by an entry whose name is NULL. */
const sql_file *sql_all(void);

/* The text of sql/NAME.sql with every "@schema@" replaced by `schema_ident`,
 * which must already be a quoted identifier (PQescapeIdentifier's output), so
 * the SQL files name versync's own tables without pasting raw config values.
 * Returns a heap string the caller frees, or NULL if there is no such file or
 * memory ran out. */
char *sql_render(const char *name, const char *schema_ident);

/* The text of sql/NAME.sql with each @var@ of `vars` ({"name", value, …, NULL})
 * replaced by its value, which the caller has already quoted as an identifier
 * or a literal. Tokens that name no var are copied unchanged, and so are
 * comments (`--` and block comments): a value filled into a comment could end
 * it early (a quoted identifier may hold a newline). Returns a heap
 * string the caller frees, or NULL if the file is missing or memory ran out. */
char *sql_render_vars(const char *name, const char *const *vars);

/* Like sql_render_vars for a file that holds one SQL expression: its
 * leading "--" comment lines and trailing blank space are left out, so the
 * result can sit inside a larger statement (and a var's value never lands in
 * a comment). Returns a heap string the caller frees, or NULL if the file is
 * missing or memory ran out. */
char *sql_render_expr(const char *name, const char *const *vars);

#endif
