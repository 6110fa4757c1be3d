/*
 * pack_bundle.h - reading an uploaded workflow pack: the archive (.zip or
 * .tar.gz, read with libarchive, the format detected from the bytes, never
 * from the file name) and its manifest, pack.lua.
 *
 * Limits refuse hostile archives while they are read, at the first entry
 * over a limit, and nothing is ever written to disk: total uncompressed
 * size, file count, size per file (bytes are counted as they are inflated;
 * declared sizes are never trusted, so a zip bomb stops at the cap), path
 * length and depth, no absolute paths, no `..` or `.` segments, no
 * backslashes (libarchive already turns a zip's DOS-style ones into '/'),
 * no control characters or invalid UTF-8 in names, no links, devices or
 * FIFOs (only regular files and folders), no duplicate paths, only `.lua`
 * files plus README/LICENCE/LICENSE/`*.md`/`*.json`/`*.csv` (fixtures,
 * dictionaries), and every Lua file valid UTF-8 text (never bytecode).
 * A leading "./" is dropped. A single top-level folder that holds pack.lua
 * with nothing outside it (what `zip -r pack.zip mypack/` makes) is
 * stripped; the depth limit applies after that. A folder read from disk
 * meets the same rules and follows no symlink; so do files passed in.
 *
 * The manifest is evaluated in the sandbox with no host API and a small
 * budget (pack_manifest.h); it must return a table, which is validated
 * and normalised into JSON, every key present:
 *
 *   {"name":"ticket-router","version":"1.2.0","description":"…" ("" when absent),
 *    "scope":"tenant"|"unit" (default "tenant"),
 *    "permissions":["tickets:read","tickets:write"],      (sorted, no duplicates)
 *    "handlers":[{"event":"tickets.created","phase":"before"|"after",
 *                 "fn":"route.assign","order":100}],
 *    "schedules":[{"every":"1h","seconds":3600,"fn":"digest.run"}
 *                |{"daily":"02:30","fn":"…"}],           (declared order)
 *    "settings":{"keywords":{"type":"string"|"number"|"boolean"|"list",
 *                "default":…,"description":"…","required":false}},
 *    "budget":{"instructions":…,"memory":…,"wall_ms":…,"host_calls":…,"rows":…}}
 *
 * name: ^[a-z][a-z0-9_-]{1,63}$. version: semver MAJOR.MINOR.PATCH with an
 * optional -prerelease, at most 32 characters. description: at most 1000
 * characters. permissions: pack_perm_valid() strings.
 * Handlers (at most PACK_MAX_HANDLERS) are sorted by event, phase, order,
 * fn (byte order, so "after" sorts before "before"); phase defaults to
 * "after", order (0..10000) to 100; one fn twice for the same event and
 * phase is an error. Events are "<object>.created|updated|deleted" for
 * customers, contacts, products, deals, tickets and activities, plus
 * "deals.stage_changed". A handler's or schedule's fn is
 * "<module>.<function>" whose module is a file of the bundle ("lib.util"
 * is lib/util.lua), never pack or a tests.* module.
 * Schedules (at most PACK_MAX_SCHEDULES): every "<n>s|m|h|d" from 60 s to
 * 31 days, or daily "HH:MM" in UTC. Settings: at most 64, named like Lua
 * identifiers; a default must match the type ("list" is a list of
 * strings) and is null when absent. Budget members are positive integers:
 * they can only lower Axon's limits. Unknown keys are errors (with a
 * "did you mean" for near misses). Lua's `{}` counts as an empty list.
 *
 * Ownership: a struct pack_bundle owns its files, their data and the
 * manifest; free with pack_bundle_free(). On failure `out` is left empty
 * (nothing to free). Errors are AX_EINVALID ("invalid-pack") with a JSON
 * pointer per problem ("/handlers/2/fn", "/settings/limit/default";
 * several manifest problems are reported at once; a file's pointer is
 * "/files/" + its path as is, "/files/lib/../x.lua", cut to fit), or
 * AX_ETOOLARGE past a size or count limit. Fields are appended to `err`:
 * pass a cleared one.
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
    char sha256[65];            /* hex digest of the archive as uploaded;
                                   "" for a folder, as given to from_files */
};

/* Read an archive from memory (pack_bundle_read_mem) or a file. On success
 * `out` holds every file, the manifest parsed and validated. */
int pack_bundle_read_mem(const void *data, size_t len, struct pack_bundle *out,
                         struct ax_err *err);
int pack_bundle_read_file(const char *path, struct pack_bundle *out, struct ax_err *err);

/* Build a bundle from files already in memory (stored versions): copies
 * them under the same rules and limits, then parses the manifest.
 * `sha256` may be NULL. */
int pack_bundle_from_files(const struct pack_file *files, int nfiles, const char *sha256,
                           struct pack_bundle *out, struct ax_err *err);

/* Read every file under a directory (the `axon pack` CLI, lua/packs/ tests)
 * with the same limits, then parse the manifest. */
int pack_bundle_read_dir(const char *dir, struct pack_bundle *out, struct ax_err *err);

void pack_bundle_free(struct pack_bundle *b);

/* A file of the bundle by path, or NULL. */
const struct pack_file *pack_bundle_file(const struct pack_bundle *b, const char *path);

/* Map a module name (dot-separated [A-Za-z_][A-Za-z0-9_]* segments) to its
 * path ("lib.util" -> "lib/util.lua"); -1 when the name is not valid or
 * the path does not fit in `outsz`. */
int pack_module_path(const char *module, char *out, size_t outsz);

#endif
