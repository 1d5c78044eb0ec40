/* store_cat — the one table renderer of the _cat APIs, as Elasticsearch's RestTable: h, s, help, v, bytes, format. */
#ifndef VERSYNC_STORE_CAT_H
#define VERSYNC_STORE_CAT_H

#include "versync/store/store_api.h"
#include "versync/store/store_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A column as Elasticsearch's getTableWithHeader declares it with addCell. */
typedef struct store_cat_col {
    const char *name;
    const char *aliases; /* "alias:" attribute, a comma list; NULL for none */
    const char *desc;    /* NULL: help says "not available" */
    bool hidden;         /* default:false, shown only when `h` names it */
    bool right;          /* text-align:right */
    bool sibling_pri;    /* sibling:pri: ?pri adds "pri.<name>" after it when `h` names it */
} store_cat_col;

typedef enum store_cat_kind {
    STORE_CAT_NULL,  /* a value verstore cannot give truthfully: empty in text, null in JSON */
    STORE_CAT_STR,   /* compared as text */
    STORE_CAT_LONG,  /* compared as a number */
    STORE_CAT_BYTES, /* a byte size: compared as a number, rendered by ?bytes */
} store_cat_kind;

typedef struct store_cat_cell {
    store_cat_kind kind;
    int64_t n;
    char *s; /* STORE_CAT_STR: owned by the table */
} store_cat_cell;

typedef struct store_cat_table {
    const store_cat_col *cols; /* borrowed, static */
    size_t ncols;
    store_cat_cell *cells; /* nrows × ncols, row after row */
    size_t nrows, cap;     /* cap in cells */
} store_cat_table;

/* An empty table of `cols` (borrowed for the table's life). */
void store_cat_init(store_cat_table *t, const store_cat_col *cols, size_t ncols);

/* Append a row of null cells and return it (t->ncols cells, valid until the
 * next store_cat_row); NULL when out of memory. */
store_cat_cell *store_cat_row(store_cat_table *t);

/* Set a cell; store_cat_str copies `s` and is false when out of memory. */
bool store_cat_str(store_cat_cell *c, const char *s);
void store_cat_long(store_cat_cell *c, int64_t n);
void store_cat_bytes(store_cat_cell *c, int64_t n);

/* Parse the cat parameters every endpoint shares before any work is done:
 * v, help, ts, format. False with `err` set (400) when one is malformed. */
bool store_cat_check(const store_req *req, store_error *err);

/* Did the request ask for ?help? (Answered from the columns alone.) */
bool store_cat_help_wanted(const store_req *req);

/* Answer `t` into `r` as RestTable does: ?help lists the columns; ?h picks
 * columns by name, alias or wildcard (names it does not know are skipped);
 * ?s sorts by columns (":desc", ":asc"), numbers and sizes numerically; ?v
 * adds the header row; ?bytes renders sizes as whole units; ?format=json or
 * text. An unknown ?s column is Elasticsearch's 500
 * unsupported_operation_exception. */
bool store_cat_render(const store_cat_table *t, const store_req *req, store_resp *r, store_error *err);

/* Release the cells; the table is empty afterwards. */
void store_cat_free(store_cat_table *t);

/* A byte size as ByteSizeValue.toString writes it: "0b", "5.5kb", "1gb"
 * (one decimal, truncated, dropped when it is 0). */
void store_cat_human_bytes(int64_t bytes, char *out, size_t n);

#endif
