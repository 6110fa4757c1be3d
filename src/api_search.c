/* api_search.c - GET /api/v1/search?q=…&types=…&limit=… */
#include "axon/api.h"

#include "axon/search.h"
#include "axon/text.h"

#include <string.h>

void api_search(struct req *r)
{
    const char *q = http_query(r, "q");
    long long limit;
    if (api_int_param(r, "limit", 20, 1, 50, &limit))
        return;
    if (!q || !*q) {
        http_reply_problem(r, AX_EBADREQ, "give the text to search for as ?q=");
        return;
    }
    if (strlen(q) > 1000 || !text_valid_utf8(q, strlen(q))) {
        http_reply_problem(r, AX_EBADREQ, "q must be valid UTF-8 of at most 1000 bytes");
        return;
    }
    struct ax_err e;
    ax_err_clear(&e);
    struct db *d = db_thread(&e);
    struct buf out;
    buf_init(&out, 0);
    if (!d || search_query(d, r->ctx.tenant, r->ctx.role, q, http_query(r, "types"), (int)limit,
                           &out, &e))
        http_reply_error(r, &e);
    else
        http_reply_buf(r, 200, &out);
    buf_free(&out);
}
