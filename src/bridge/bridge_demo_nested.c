/* bridge_demo_nested — `versync demo race --nested`: the demo's accounts as nested documents, and the writers' changes below them. */
#include "versync/bridge/demo.h"

#include "versync/common/log.h"
#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The children of the demo's accounts (see sql/demo_nested_setup.sql). Arrays are ordered
 * by explicit keys: the demo compares without reading the catalogue. */
static const char children_json[] =
    "[{\"name\": \"branch\", \"table\": \"versync_demo.branch\", \"relationship\": \"one\","
    "  \"join\": {\"branch_id\": \"id\"}, \"key\": [\"id\"], \"columns\": [\"name\"]},"
    " {\"name\": \"transactions\", \"table\": \"versync_demo.txn\", \"relationship\": \"many\","
    "  \"join\": {\"id\": \"account_id\"}, \"key\": [\"id\"], \"columns\": [\"id\", \"amount\"],"
    "  \"children\": [{\"name\": \"merchant\", \"table\": \"versync_demo.merchant\", \"relationship\": \"one\","
    "                 \"join\": {\"merchant_id\": \"id\"}, \"key\": [\"id\"], \"columns\": [\"name\"]}]},"
    " {\"name\": \"tags\", \"table\": \"versync_demo.tag\", \"relationship\": \"many\","
    "  \"through\": {\"table\": \"versync_demo.account_tag\", \"join\": {\"id\": \"account_id\"},"
    "               \"to\": {\"tag_id\": \"id\"}}, \"key\": [\"id\"], \"columns\": [\"label\"]}]";

cJSON *demo_nested_children(void) { return cJSON_Parse(children_json); }

int demo_nested_step(PGconn *c, unsigned long long r1, unsigned long long r2, int rows, demo_err *e)
{
    char op[8], a[16], b[16], n[16];
    snprintf(op, sizeof op, "%d", (int)(r1 % 9));
    snprintf(a, sizeof a, "%d", 1 + (int)((r1 / 9) % (unsigned long long)rows));
    snprintf(b, sizeof b, "%d", 1 + (int)(r2 % (unsigned long long)rows));
    snprintf(n, sizeof n, "%d", (int)((r2 / 7) % 100000));
    const char *p[] = {op, a, b, n};
    PGresult *r = PQexecParams(c, sql_text("demo_nested_step"), 4, NULL, p, NULL, NULL, 0);
    int out = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        out = atoi(PQgetvalue(r, 0, 0));
    } else {
        /* Writers that meet in opposite orders may deadlock (README "Nested documents"):
         * PostgreSQL aborts one, which changed nothing; the next step goes on. */
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0))
            out = 0;
        else
            demo_fail(e, "sql/demo_nested_step.sql failed: %s", PQresultErrorMessage(r));
    }
    PQclear(r);
    return out;
}
