/*
 * search.h - full-text search over customers, contacts, tickets and
 * activities, in Chinese and English.
 *
 * One FTS5 table (`search_index`, schema/0001) with our own tokenizer
 * "axon": Latin-script words are NFKC-normalised and case-folded; runs of
 * CJK characters become overlapping bigrams plus the run's last character,
 * so a two-character word like 送餐 is one token and a one-character query
 * is a prefix query. FTS5's trigram tokenizer cannot match queries shorter
 * than three characters, which is why we do not use it.
 *
 * Rowids are `rid * 16 + kind`; the UNINDEXED `scope` column holds
 * "t<tenant rid>" and every query compares it. Results are
 * appended to caller buffers; nothing here allocates for the caller.
 */
#ifndef AXON_SEARCH_H
#define AXON_SEARCH_H

#include <sqlite3.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/db.h"
#include "axon/model.h"

#define SEARCH_KIND_MULT 16

/* Install the commit-time hooks that apply queued index writes (once, at
 * start). Inside a transaction search_put/search_remove only queue; the
 * queue is applied just before COMMIT (see search.c for why). */
void search_init(void);

/* Register the "axon" tokenizer on a connection (db_conn_hook). */
int search_register(sqlite3 *h);

/* Replace the index entry of one record (same transaction as the write). */
int search_put(struct db *d, int64_t tenant, const struct object_def *def, int64_t rid,
               const char *title, const char *body, struct ax_err *err);
int search_remove(struct db *d, const struct object_def *def, int64_t rid,
                  struct ax_err *err);

/* Search one tenant. `types` is a comma list of object names or NULL for
 * all searchable ones. Appends {"data":[hit…],"query":…} where a hit is
 * {"object","id","title","snippet":[{"text","hit"}…],"score","record"}. */
int search_query(struct db *d, int64_t tenant, int role, const char *q,
                 const char *types, int limit, struct buf *out, struct ax_err *err);

/* The FTS5 MATCH expression for a user query (malloc'd), or NULL when the
 * query has no searchable token. Exposed for unit tests. */
char *search_match_expr(const char *q);

#endif
