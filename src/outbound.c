/* outbound.c - the queue of HTTP calls and e-mails workflows asked for. */
#include "axon/outbound.h"

#include "axon/ids.h"
#include "axon/jx.h"
#include "axon/timefmt.h"

#include <stdlib.h>
#include <string.h>

int outbound_enqueue(struct db *d, const struct ax_ctx *c, const char *kind,
                     const char *method, const char *target, json_t *request,
                     const char *event_id, char id_out[ID_MAX], struct ax_err *err)
{
    char *text = jx_dumps(request, 0);
    if (!text)
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    if (strlen(text) > OUTBOUND_MAX_REQUEST) {
        free(text);
        return ax_fail_type(err, AX_ETOOLARGE, "outbound-too-large",
                            "an outbound call may carry at most %d bytes", OUTBOUND_MAX_REQUEST);
    }
    char now[TIME_TEXT_MAX];
    int64_t ms = time_now_ms();
    time_format_ms(ms, now);
    id_new("out", id_out);
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO outbound(tenant_id, id, kind, method, target, request, next_at, created_by, "
        "event_id, created_at) VALUES(?,?,?,?,?,?,?,?,?,?)", err);
    if (!st) {
        free(text);
        return -1;
    }
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, id_out, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, ms);
    sqlite3_bind_text(st, 8, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, event_id && *event_id ? event_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    free(text);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "queue outbound call");
}

int outbound_list(struct db *d, int64_t tenant, const char *status, int limit,
                  const char *after, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT rid, id, kind, method, target, request, status, attempts, created_by, event_id, "
        "created_at FROM outbound WHERE tenant_id=?1 AND (?2 IS NULL OR status=?2) "
        "AND (?3 IS NULL OR rid < (SELECT rid FROM outbound WHERE tenant_id=?1 AND id=?3)) "
        "ORDER BY rid DESC LIMIT ?4", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, limit + 1);
    json_t *data = json_array();
    const char *last = NULL;
    char last_id[ID_MAX] = "";
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(data) == limit) {
            more = true;
            break;
        }
        const char *req = (const char *)sqlite3_column_text(st, 5);
        json_t *request = req ? json_loads(req, 0, NULL) : NULL;
        json_t *row = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:o,s:s,s:i,s:s?,s:s?,s:s}",
            "object", "outbound", "id", sqlite3_column_text(st, 1), "kind",
            sqlite3_column_text(st, 2), "method", sqlite3_column_text(st, 3), "target",
            sqlite3_column_text(st, 4), "request", request ? request : json_null(), "status",
            sqlite3_column_text(st, 6), "attempts", sqlite3_column_int(st, 7), "created_by",
            sqlite3_column_text(st, 8), "event_id", sqlite3_column_text(st, 9), "created_at",
            sqlite3_column_text(st, 10));
        snprintf(last_id, sizeof last_id, "%s", sqlite3_column_text(st, 1));
        last = last_id;
        json_array_append_new(data, row);
    }
    db_reset(st);
    json_t *doc = json_pack("{s:o,s:o}", "data", data, "next",
                            more && last ? json_string(last) : json_null());
    int rc = jx_dump(out, doc, 0) ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
    json_decref(doc);
    return rc;
}
