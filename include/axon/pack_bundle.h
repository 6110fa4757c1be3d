/*
 * pack_bundle.h - reading an uploaded workflow pack: the archive (.zip or
 * .tar.gz, read with libarchive, the format detected from the bytes, never
 * from the file name) and its manifest, pack.lua.
 *
 * Limits refuse hostile archives before anything is unpacked: total
 * uncompressed size, file count, size per file, path length and depth, no
 * absolute paths, no `..`, no links or devices, no duplicate paths, only
 * `.lua` files plus README/LICENCE/`*.md`/`*.json`/`*.csv` (fixtures,
 * dictionaries), and every Lua file valid UTF-8 text (never bytecode). A
 * single top-level folder that holds pack.lua (what `zip -r pack.zip
 * mypack/` makes) is stripped.
 *
 * The manifest is evaluated in the sandbox with an empty environment and a
 * small budget (lua_rt_eval); it must return a table, which is validated
 * and normalised into JSON:
 *
 *   {"name":"ticket-router","version":"1.2.0","description":"…",
 *    "scope":"tenant"|"unit",
 *    "permissions":["tickets:read","tickets:write"],
 *    "handlers":[{"event":"tickets.created","phase":"before"|"after",
 *                 "fn":"route.assign","order":100}],   (sorted by event, phase, order)
 *    "schedules":[{"every":"1h","seconds":3600,"fn":"digest.run"}
 *                |{"daily":"02:30","fn":"…"}],
 *    "settings":{"keywords":{"type":"string"|"number"|"boolean"|"list",
 *                "default":…,"description":"…","required":false}},
 *    "budget":{"instructions":…,"memory":…,"wall_ms":…,"host_calls":…,"rows":…}}
 *
 * Events are "<object>.created|updated|deleted" for customers, contacts,
 * products, deals, tickets and activities, plus "deals.stage_changed".
 * A handler's fn is "<module>.<function>" whose module is a file of the
 * bundle ("lib.util" is lib/util.lua); order defaults to 100.
 *
 * Ownership: a struct pack_bundle owns its files, their data and the
 * manifest; free with pack_bundle_free(). Errors are AX_EINVALID
 * ("invalid-pack") with a JSON pointer per problem ("/handlers/2/fn",
 * "/files/lib/../x.lua"), or AX_ETOOLARGE past a size limit.
 */
#ifndef AXON_PACK_BUNDLE_H
#define AXON_PACK_BUNDLE_H

#include <jansson.h>
#include <stddef.h>

#include "axon/error.h"

#define PACK_MAX_ARCHIVE (8u << 20)       /* bytes of the uploaded archive */
#define PACK_MAX_TOTAL (16u << 20)        /* bytes of all files, uncompressed */
#define PACK_MAX_FILE (1u << 20)          /* bytes of one file */
#define PACK_MAX_FILES 200
#define PACK_MAX_PATH 200                 /* bytes of a path */
#define PACK_MAX_DEPTH 8                  /* folders in a path */
#define PACK_MAX_HANDLERS 64
#define PACK_MAX_SCHEDULES 16

struct pack_file {
    char *path;             /* "route.lua", "lib/util.lua", "tests/route_test.lua" */
    char *data;             /* contents, NUL-terminated for convenience */
    size_t len;
};

struct pack_bundle {
    struct pack_file *files;    /* sorted by path */
    int nfiles;
    size_t total;               /* uncompressed bytes */
    json_t *manifest;           /* normalised (see above); NULL until parsed */
    char sha256[65];            /* hex digest of the archive as uploaded */
};

/* Read an archive from memory (pack_bundle_read_mem) or a file. On success
 * `out` holds every file, the manifest parsed and validated. */
int pack_bundle_read_mem(const void *data, size_t len, struct pack_bundle *out,
                         struct ax_err *err);
int pack_bundle_read_file(const char *path, struct pack_bundle *out, struct ax_err *err);

/* Build a bundle from files already in memory (a folder on disk, stored
 * versions): copies them, then parses the manifest. `sha256` may be NULL. */
int pack_bundle_from_files(const struct pack_file *files, int nfiles, const char *sha256,
                           struct pack_bundle *out, struct ax_err *err);

/* Read every file under a directory (the `axon pack` CLI, lua/packs/ tests)
 * with the same limits, then parse the manifest. */
int pack_bundle_read_dir(const char *dir, struct pack_bundle *out, struct ax_err *err);

void pack_bundle_free(struct pack_bundle *b);

/* A file of the bundle by path, or NULL. */
const struct pack_file *pack_bundle_file(const struct pack_bundle *b, const char *path);

/* Map a module name to its path ("lib.util" -> "lib/util.lua"); -1 when the
 * name is not a valid module name. */
int pack_module_path(const char *module, char *out, size_t outsz);

#endif
