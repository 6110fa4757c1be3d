/*
 * http.h - the HTTP front end on libmicrohttpd: one daemon with a thread
 * pool (one worker per core, epoll), a `struct req` per request, body
 * limits, authentication, rate limits, and the reply helpers handlers use.
 *
 * A `struct req` lives from the first callback of a request to MHD's
 * completion callback, which frees it and everything it owns (body,
 * response body, path parameters, upload file). Handlers never free it.
 *
 * A handler either replies at once (http_reply_*), or hands a write to the
 * writer thread with http_write(): the connection is suspended, the write
 * runs in the next group commit and fills the reply, and the connection is
 * resumed to send it. Replies are always queued on a later callback than
 * the first (libmicrohttpd 0.9.75 closes keep-alive connections otherwise).
 */
#ifndef AXON_HTTP_H
#define AXON_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/writer.h"

enum http_method { HM_GET, HM_HEAD, HM_POST, HM_PUT, HM_PATCH, HM_DELETE, HM_OPTIONS, HM_OTHER };

enum auth_kind { AUTH_NONE, AUTH_API_KEY, AUTH_SESSION };

#define REQ_MAX_PARAMS 4
#define REQ_MAX_HEADERS 14

struct route;

struct req {
    struct MHD_Connection *conn;
    enum http_method method;
    const char *url;                   /* decoded path, owned by MHD */
    const struct route *route;
    char *params[REQ_MAX_PARAMS];      /* path parameters (owned) */
    int nparams;

    /* request body: JSON in memory, uploads streamed to a file */
    struct buf body;
    bool too_large;
    char *upload_path;                 /* temp file of an upload (owned, unlinked at end) */
    char *upload_name;                 /* file name the client gave a multipart upload (owned) */
    const char *upload_problem;        /* why a multipart upload was refused (static text) */
    int upload_fd;
    size_t upload_size;
    json_t *form;                      /* text fields of a multipart upload */
    struct MHD_PostProcessor *pp;
    char *form_field;                  /* current non-file field name */
    struct buf form_value;

    /* who */
    enum auth_kind auth;
    struct ax_ctx ctx;
    char csrf[64];
    char request_id[72];
    char source[80];
    char client_ip[64];

    /* reply */
    int status;
    const char *content_type;
    char *resp;                        /* owned */
    size_t resp_len;
    int nheaders;
    char *hname[REQ_MAX_HEADERS], *hvalue[REQ_MAX_HEADERS];   /* owned */
    MHD_ContentReaderCallback reader;  /* streamed reply (exports) */
    void *reader_cls;
    MHD_ContentReaderFreeCallback reader_free;
    bool replied;

    /* state machine */
    int state;
    struct write_op op;
    write_fn write_run;                /* runs on the writer thread */
    void *write_arg;
    void (*write_arg_free)(void *);
    int write_nheaders;                /* headers set before the write */
    double started;
    size_t discarded;                  /* body bytes dropped after an early reply */
};

int http_start(struct ax_err *err);
int http_port(void);
void http_stop(void);      /* also drains and stops the writer */

/* ---- request helpers ---- */
const char *http_header(struct req *r, const char *name);
const char *http_query(struct req *r, const char *name);
/* Visit every query parameter; return non-zero from fn to stop. */
typedef int (*http_query_fn)(void *arg, const char *key, const char *value);
int http_each_query(struct req *r, http_query_fn fn, void *arg);

/* Parse the body as a JSON object with the limits of jx.h; NULL + reply
 * already sent (400/413/415) on failure. */
json_t *http_json_body(struct req *r);

/* ---- reply helpers (all copy what they are given) ---- */
void http_add_header(struct req *r, const char *name, const char *value);
void http_reply(struct req *r, int status, const char *type, const char *body, size_t len);
void http_reply_json(struct req *r, int status, const char *json);
void http_reply_buf(struct req *r, int status, struct buf *b);   /* takes b's memory */
void http_reply_error(struct req *r, const struct ax_err *err);
/* The common end of a handler: `out` with `status` when rc is 0, else the
 * error; frees `out` either way. */
void http_reply_result(struct req *r, int rc, struct buf *out, const struct ax_err *err,
                       int status);
void http_reply_problem(struct req *r, enum ax_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_stream(struct req *r, int status, const char *type,
                       MHD_ContentReaderCallback reader, void *cls,
                       MHD_ContentReaderFreeCallback free_cb);

/* Hand a write to the writer thread. `run` fills the reply (it runs inside
 * the group commit); if the commit fails the reply becomes a 503. `arg` is
 * freed with `arg_free` when the request ends. */
void http_write(struct req *r, write_fn run, void *arg, void (*arg_free)(void *));
/* The same for a `run` that only reads and writes the database and fills
 * the reply, so the writer may run it again after rolling its batch back
 * (the reply of a first attempt is dropped): lets batches of such writes
 * skip a savepoint per write. */
void http_write_rerunnable(struct req *r, write_fn run, void *arg, void (*arg_free)(void *));

/* The file name a client gave its upload (multipart, or ?filename=),
 * without folders, when it is plain printable text; else `fallback`. */
void http_upload_name(struct req *r, const char *fallback, char *out, size_t outsz);

/* Is the caller allowed (role bits)? Replies 403 and returns false if not. */
bool http_require_role(struct req *r, int roles);

#endif
