/* cfg — versync's config file: loading, validation and the table mappings. */
#ifndef VERSYNC_CFG_H
#define VERSYNC_CFG_H

#include <stdbool.h>
#include <stddef.h>

/* The most worker processes one `run`/`once` starts, from the config's "workers" or --workers alike. */
#define CFG_WORKERS_MAX 256

/* Where a mapped table's external version comes from (DESIGN.md, "Version sources"). */
typedef enum cfg_version_kind {
    CFG_VERSION_SEQ = 0,   /* no "version" key: the change row's sequence number */
    CFG_VERSION_COLUMN,    /* {"column": C[, "managed": B]}: an integer column */
    CFG_VERSION_TIMESTAMP, /* {"timestamp": C[, "managed": B]}: µs since the epoch */
} cfg_version_kind;

/* How changes of a mapped table are found ("capture"). */
typedef enum cfg_capture {
    CFG_CAPTURE_TRIGGER = 0, /* default: versync's triggers write change rows (DESIGN.md) */
    CFG_CAPTURE_CURSOR,      /* "cursor": no triggers; the table is polled in snapshot-bounded passes (cursor.h) */
    CFG_CAPTURE_WAL,         /* "wal": logical replication (pgoutput) through a slot; commit LSNs are the versions (wal.h) */
} cfg_capture;

/* What a document shows for the values JSON has no number or date for: numeric/real/double
 * NaN and ±Infinity, timestamp/timestamptz/date ±infinity ("special_values"). */
typedef enum cfg_special {
    CFG_SPECIAL_NULL = 0, /* default "null": the field is null, the row is indexed */
    CFG_SPECIAL_CLAMP,    /* "clamp": ±Infinity the largest finite double/float, ±infinity 9999-12-31/0001-01-02, NaN null */
    CFG_SPECIAL_STRING,   /* "string": PostgreSQL's text ("NaN", "Infinity", "infinity"): only for keyword fields */
} cfg_special;

typedef struct cfg_rename {
    char *from; /* column name */
    char *to;   /* document field name */
} cfg_rename;

/* One column of a mapped table as the live catalog has it; filled by
 * catalog_resolve (include/versync/catalog.h), in attnum order. */
typedef struct cfg_column {
    char *name;  /* raw column name */
    char *type;  /* format_type(atttypid, atttypmod), e.g. "bigint", "character varying(20)" */
    char *field; /* document field name (after "rename"); NULL when not mapped */
    bool mapped; /* part of the document ("columns", or all minus "exclude") */
    bool key;    /* one of cfg_table.key */
    char *base;   /* the type under any domain, format_type() form without typmod ("numeric", "integer[]") */
    char *render; /* how the document shows its values: catalog_columns.sql's "render" class ("money",
                     "range:date", "array:bytea", "plain", …), see render_types.h */
} cfg_column;

typedef struct cfg_table {
    char *schema;   /* "public" of "public.products" (raw identifier, unquoted) */
    char *name;     /* "products" */
    char *ident;    /* "public.products": how change rows name the table */
    char *index;    /* target index; default: name */
    char **key;     /* key columns in order; NULL/0 until given or resolved */
    size_t nkey;
    char **key_types; /* format_type() of each key column; filled by catalog_resolve */
    cfg_version_kind version_kind;
    char *version_column; /* NULL for CFG_VERSION_SEQ */
    bool managed;         /* versync's BEFORE trigger assigns the version */
    char **columns;       /* NULL: all columns */
    size_t ncolumns;
    char **exclude;
    size_t nexclude;
    cfg_rename *rename;
    size_t nrename;
    bool deletes_ignore;       /* "deletes": "ignore" */
    char *soft_delete_column;  /* NULL: none */
    char *where;               /* "where": SQL boolean expression over the row's columns; a row for which
                                * it is not true is deleted from the index (where.h). NULL: every row */
    char *index_settings_json; /* raw JSON text of "index_settings", or NULL */
    char *mappings_json;       /* raw JSON text of "mappings", or NULL */
    int json_index;            /* position in "tables", for error paths */
    cfg_capture capture;       /* "capture": "trigger" (default), "cursor" or "wal" */
    cfg_special special;       /* "special_values" of the table, else of the config; children inherit it */
    struct cfg_child *children; /* "children": nested documents (nested.h), NULL: none */
    size_t nchildren;
    /* Filled by catalog_resolve from the live catalog (NULL/0 before): */
    cfg_column *cols; /* every column of the table, in attnum order */
    size_t ncols;
    char *version_type;   /* format_type() of version_column, or NULL */
    bool version_has_tz;  /* CFG_VERSION_TIMESTAMP on a timestamptz column */
    bool partitioned;     /* a partitioned table: capture runs on its partitions (partition.h) */
    bool key_unenforced;  /* partitioned, and the key is unique only together with the partition key:
                           * PostgreSQL cannot enforce it across partitions (check warns) */
} cfg_table;

typedef struct cfg_store {
    char *url;      /* default http://127.0.0.1:9200, no trailing slash */
    char *username; /* NULL: none */
    char *password; /* secret: never log it */
    char *api_key;  /* secret: never log it */
    char *ca_file;
    bool insecure;
    long timeout_ms; /* default 10000 */
    long max_bulk_bytes; /* one _bulk body at most this big (a batch is split); default 10 MiB */
    int max_item_retries; /* an item the store answers 5xx for this many times more is given up
                           * (a dead letter) while the rest of its batch goes on; 0: never; default 10 */
} cfg_store;

typedef struct cfg {
    char *path;     /* the file it was loaded from */
    char *postgres; /* conninfo or URI; "" = libpq environment defaults. Secret-bearing */
    cfg_store store;
    char *schema;  /* default "versync" */
    char *channel; /* default "versync" */
    int workers;          /* default 2; 1 … CFG_WORKERS_MAX, as --workers */
    int batch_size;       /* default 500 */
    int poll_interval_ms; /* default 1000 */
    bool listen;          /* default true */
    long worker_stats_expire_s; /* worker_stats rows not updated for this long are a process gone:
                                 * pruned and not counted by status; default 3600 */
    long lag_window_s;    /* status reports lag from workers that reported within this; default 300 */
    cfg_table *tables;
    size_t ntables;
    /* "wal": the logical replication of the "capture": "wal" tables (wal.h); filled by wal_cfg_parse. */
    char *wal_slot;               /* "wal.slot"; default: the schema name */
    char *wal_publication;        /* "wal.publication"; default: the schema name */
    bool wal_publication_given;   /* named in the file: init only checks it, never creates or alters it */
    long long wal_lag_warn_bytes; /* "wal.lag_warn_bytes": check warns past this much retained WAL; default 1 GiB */
    double wal_lag_warn_seconds;  /* "wal.lag_warn_seconds": check and status warn when the consumer is this far
                                   * behind in time; default 300; 0: never */
    int wal_inflight;             /* "wal.inflight": _bulk requests of the stream in flight at once; default 4;
                                   * 1: one at a time */
    /* JSON path ("store.password", "postgres", …) of the first secret written
     * into the file itself rather than through ${NAME}, or NULL. Static text. */
    const char *literal_secret;
} cfg;

/* Which file to load: `flag` (from -c) if given, else $VERSYNC_CONFIG, else
 * "./versync.json". Returns a pointer to one of those (not allocated). */
const char *cfg_default_path(const char *flag);

/* Parse and validate the file at `path` into `out` (zeroed first). Accepts
 * JSON with // and block comments; replaces ${NAME} with the environment
 * variable NAME (unset is an error); rejects unknown keys. On failure returns
 * false and writes one message naming the file, the JSON path and the problem
 * into err, e.g. "versync.json: tables[1].version.column: must be a string".
 * A file readable by group or others that holds a literal secret (see
 * cfg.literal_secret) is refused, naming the field. Logs nothing. On success the caller owns `out` and frees it with cfg_free. */
bool cfg_load(const char *path, cfg *out, char *err, size_t errsz);

/* Parse from memory; `name` stands in for the file name in messages. */
bool cfg_parse(const char *name, const char *text, cfg *out, char *err, size_t errsz);

/* Free everything cfg_load allocated; cfg_free(NULL) is a no-op. */
void cfg_free(cfg *c);

/* True when `field` is one of Elasticsearch's metadata field names (_id,
 * _index, _source, _version, _seq_no, _primary_term, _routing, …, and any
 * other name starting with an underscore that Elasticsearch reserves): a
 * document carrying one is refused by the store, so no column may become one. */
bool cfg_field_reserved(const char *field);

/* The mapping whose ident is `ident` ("schema.table"), or NULL. */
cfg_table *cfg_find_table(const cfg *c, const char *ident);

/* The mappings named on a command line (TABLE… of backfill and verify), in
 * order; a name without a schema means "public.NAME". No names selects every
 * mapping. On success *out is a heap array of *nout pointers into `c` that the
 * caller frees (the mappings stay owned by `c`). On an unknown name returns
 * false with "table X is not in FILE" in err. */
bool cfg_select_tables(const cfg *c, const char *const *names, size_t nnames, cfg_table ***out, size_t *nout, char *err,
                       size_t errsz);

#endif
