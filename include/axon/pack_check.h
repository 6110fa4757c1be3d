/*
 * pack_check.h - what a pack version must pass before it may be published:
 * the compliance scan (pack_scan.h) over its Lua files, with the server's
 * protected fields, and its own tests (pack_sim.h). Both the API's upload
 * and `axon pack test|upload` run it. The checks own their JSON; release
 * them with pack_checks_release().
 */
#ifndef AXON_PACK_CHECK_H
#define AXON_PACK_CHECK_H

#include <jansson.h>

#include "axon/error.h"
#include "axon/pack_bundle.h"

struct pack_checks {
    json_t *findings;             /* scan findings (array) */
    int blocking;                 /* error findings */
    json_t *tests;                /* {"passed","failed","results":[…]} */
    int tests_failed;
};

int pack_check(const struct pack_bundle *b, struct pack_checks *out, struct ax_err *err);
void pack_checks_release(struct pack_checks *k);

#endif
