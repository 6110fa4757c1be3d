/*
 * pack_perm.h - what a workflow pack may do: the grammar of the permission
 * strings a manifest declares, and which permission each host-API function
 * (axon.*) needs. The compliance scan (pack_scan.h) reads these tables to
 * flag overreach before publishing; the host API (lua_host.h) checks the
 * same tables on every call at run time, so the two never disagree.
 * Static tables; nothing to free.
 *
 * Permissions:
 *   <object>:read      axon.<object>.get / find / count
 *   <object>:write     axon.<object>.create / update
 *   <object>:delete    axon.<object>.delete
 *   http:<url prefix>  axon.http.get / post / put to URLs under the prefix
 *                      (an absolute http:// or https:// URL ending in '/')
 *   email:send         axon.email.send
 * <object> is one of pack_perm_objects. Notes and tasks are activities
 * (axon.notes.add, axon.tasks.add need activities:write); axon.suggest
 * needs suggestions:write and axon.approvals.request approvals:write.
 * axon.intents.profile needs customers:read; axon.tags.get needs
 * activities:read or tickets:read, whichever the id's record is (written
 * "activities:read|tickets:read": pack_perm_has accepts either).
 * axon.log, axon.now, axon.json.*, axon.text.*, axon.null, axon.reject,
 * axon.intents.match, axon.sentiment, axon.event and axon.settings need
 * nothing. URL prefixes compare exactly
 * and must end in '/', so a prefix never admits a look-alike host.
 */
#ifndef AXON_PACK_PERM_H
#define AXON_PACK_PERM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Objects a pack can reach, NULL-terminated. `writable` says whether
 * write/delete permissions exist for it (users, units, pipelines and
 * products are read-only to packs). */
struct pack_perm_object {
    const char *name;
    bool writable;
};
extern const struct pack_perm_object pack_perm_objects[];

/* Is `perm` a well-formed permission? On false, `why` says what is wrong. */
bool pack_perm_valid(const char *perm, char *why, size_t whysz);

/* The permission the host-API function `func` ("deals.update",
 * "notes.add", "http.post", "log") needs. Returns 1 and writes it to `out`
 * ("deals:write"; for http.* functions the literal "http", whose URL the
 * caller checks with pack_perm_url_allowed), 0 when the function needs no
 * permission, -1 when there is no such host function. */
int pack_perm_for(const char *func, char *out, size_t outsz);

/* Does the declared permission list (JSON array of strings) hold `perm`
 * (or, for "a|b", one of the two)? */
bool pack_perm_has(json_t *declared, const char *perm);

/* Is `url` under one of the declared http:<prefix> permissions? */
bool pack_perm_url_allowed(json_t *declared, const char *url);

#endif
