/* test_pack_bundle.c - reading packs: archives built here with libarchive's
 * writer (zip and tar.gz), every refusal, the manifest normalised and its
 * errors, folders on disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/buf.h"
#include "axon/pack_bundle.h"
#include "axon/timefmt.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building archives ---- */

enum { ZIP, TGZ };

struct ent {
    const char *path;
    const char *data;      /* NULL: `zeros` zero bytes */
    size_t zeros;
    int type;              /* 0 = regular file */
    const char *link;      /* symlink target or hardlink source */
};

static la_ssize_t to_buf(struct archive *a, void *b, const void *p, size_t n)
{
    (void)a;
    return buf_add(b, p, n) ? -1 : (la_ssize_t)n;
}

static void add_entry(struct archive *a, const struct ent *e)
{
    static const char zeros[65536];
    struct archive_entry *ae = archive_entry_new();
    size_t len = e->data ? strlen(e->data) : e->zeros;
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_filetype(ae, e->type ? (unsigned)e->type : AE_IFREG);
    if (e->type == AE_IFLNK)
        archive_entry_set_symlink(ae, e->link);
    else if (e->link)
        archive_entry_set_hardlink(ae, e->link);
    if (!e->type && !e->link)
        archive_entry_set_size(ae, (la_int64_t)len);
    assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);   /* WARN: name charset */
    if (e->data)
        assert_int_equal(archive_write_data(a, e->data, len), (la_ssize_t)len);
    for (size_t done = 0; !e->data && done < len;) {
        size_t n = len - done < sizeof zeros ? len - done : sizeof zeros;
        assert_int_equal(archive_write_data(a, zeros, n), (la_ssize_t)n);
        done += n;
    }
    archive_entry_free(ae);
}

static struct buf make(int format, const struct ent *e, int n)
{
    struct buf b;
    struct archive *a = archive_write_new();
    buf_init(&b, 64u << 20);
    if (format == ZIP) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    }
    assert_int_equal(archive_write_open(a, &b, NULL, to_buf, NULL), ARCHIVE_OK);
    for (int i = 0; i < n; i++)
        add_entry(a, &e[i]);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return b;
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char manifest_lua[] =
    "local on = 'tickets.created'\n"
    "return {\n"
    "  name = 'ticket-router', version = '1.2.0', description = 'Routes new tickets',\n"
    "  permissions = {'tickets:write', 'tickets:read'},\n"
    "  handlers = {\n"
    "    {event = on, fn = 'route.assign'},\n"
    "    {event = on, phase = 'before', fn = 'lib.util.check', order = 10},\n"
    "    {event = 'deals.stage_changed', fn = 'route.notify', order = 5},\n"
    "  },\n"
    "  schedules = {{every = '1h', fn = 'route.digest'}, {daily = '02:30', fn = 'route.digest'}},\n"
    "  settings = {\n"
    "    keywords = {type = 'list', default = {'urgent', 'down'}, description = 'Words'},\n"
    "    threshold = {type = 'number', required = true},\n"
    "  },\n"
    "  budget = {instructions = 500000},\n"
    "}\n";

static const char manifest_json[] =
    "{\"budget\":{\"instructions\":500000},\"description\":\"Routes new tickets\","
    "\"handlers\":["
    "{\"event\":\"deals.stage_changed\",\"fn\":\"route.notify\",\"order\":5,\"phase\":\"after\"},"
    "{\"event\":\"tickets.created\",\"fn\":\"route.assign\",\"order\":100,\"phase\":\"after\"},"
    "{\"event\":\"tickets.created\",\"fn\":\"lib.util.check\",\"order\":10,\"phase\":\"before\"}],"
    "\"name\":\"ticket-router\",\"permissions\":[\"tickets:read\",\"tickets:write\"],"
    "\"schedules\":[{\"every\":\"1h\",\"fn\":\"route.digest\",\"seconds\":3600},"
    "{\"daily\":\"02:30\",\"fn\":\"route.digest\"}],\"scope\":\"tenant\","
    "\"settings\":{\"keywords\":{\"default\":[\"urgent\",\"down\"],\"description\":\"Words\","
    "\"required\":false,\"type\":\"list\"},\"threshold\":{\"default\":null,\"description\":\"\","
    "\"required\":true,\"type\":\"number\"}},\"version\":\"1.2.0\"}";

#define ROUTE "local M = {}\nfunction M.assign(e) end\nfunction M.notify(e) end\n" \
              "function M.digest() end\nreturn M\n"
#define UTIL "return {check = function(e) return e end} -- 检查\n"

static const struct ent good[] = {
    {"route.lua", ROUTE, 0, 0, NULL},
    {"pack.lua", manifest_lua, 0, 0, NULL},
    {"tests/route_test.lua", "return {}\n", 0, 0, NULL},
    {"lib/util.lua", UTIL, 0, 0, NULL},
    {"fixtures/tickets.json", "[{\"subject\":\"down\"}]", 0, 0, NULL},
    {"README.md", "# Ticket router\n", 0, 0, NULL},
};

static const char *const good_sorted[] = {"README.md", "fixtures/tickets.json", "lib/util.lua",
                                          "pack.lua", "route.lua", "tests/route_test.lua"};

static char *dump(json_t *v)
{
    return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
}

static void assert_good(const struct pack_bundle *b)
{
    assert_int_equal(b->nfiles, 6);
    size_t total = 0;
    for (int i = 0; i < 6; i++) {
        assert_string_equal(b->files[i].path, good_sorted[i]);
        assert_int_equal(strlen(b->files[i].data), b->files[i].len);
        total += b->files[i].len;
    }
    assert_int_equal(b->total, total);
    const struct pack_file *u = pack_bundle_file(b, "lib/util.lua");
    assert_non_null(u);
    assert_string_equal(u->data, UTIL);
    assert_null(pack_bundle_file(b, "lib/none.lua"));
    char *got = dump(b->manifest);
    assert_string_equal(got, manifest_json);
    free(got);
}

static void read_archive(int format, const struct ent *e, int n, struct pack_bundle *b,
                         struct ax_err *err, int expect_rc)
{
    struct buf a = make(format, e, n);
    ax_err_clear(err);
    int rc = pack_bundle_read_mem(a.data, a.len, b, err);
    if (rc != expect_rc)
        fail_msg("rc %d, expected %d: %s", rc, expect_rc, err->detail);
    buf_free(&a);
}

/* The bundle was refused with `code`, one field `pointer` and `needle` in its detail. */
static void assert_refused(const struct ax_err *err, enum ax_code code, const char *pointer,
                           const char *needle)
{
    assert_int_equal(err->code, code);
    if (code == AX_EINVALID)
        assert_string_equal(err->type, "invalid-pack");
    if (pointer) {
        assert_true(err->nfields >= 1);
        assert_string_equal(err->fields[0].pointer, pointer);
    } else {
        assert_int_equal(err->nfields, 0);
    }
    if (!strstr(err->detail, needle))
        fail_msg("expected '%s' in: %s", needle, err->detail);
}

static void refused(int format, const struct ent *extra, int nextra, enum ax_code code,
                    const char *pointer, const char *needle)
{
    struct ent all[16];
    struct pack_bundle b;
    struct ax_err err;
    memcpy(all, good, sizeof good);
    memcpy(all + N(good), extra, (size_t)nextra * sizeof *extra);
    read_archive(format, all, N(good) + nextra, &b, &err, -1);
    assert_refused(&err, code, pointer, needle);
    assert_null(b.files);
    assert_null(b.manifest);
}

/* ---- good packs ---- */

static void test_good_zip(void **state)
{
    (void)state;
    struct pack_bundle b;
    struct ax_err err;
    read_archive(ZIP, good, N(good), &b, &err, 0);
    assert_good(&b);
    assert_int_equal(strlen(b.sha256), 64);
    assert_int_equal(strspn(b.sha256, "0123456789abcdef"), 64);
    pack_bundle_free(&b);
    assert_null(b.files);
}

static void test_good_targz_top_folder_stripped(void **state)
{
    (void)state;
    struct ent e[N(good) + 3] = {{"ticket-router/", NULL, 0, AE_IFDIR, NULL},
                                 {"ticket-router/lib/", NULL, 0, AE_IFDIR, NULL},
                                 {"./ticket-router/tests", NULL, 0, AE_IFDIR, NULL}};
    char paths[N(good)][64];
    for (int i = 0; i < N(good); i++) {
        snprintf(paths[i], sizeof paths[i], "%sticket-router/%s", i % 2 ? "./" : "", good[i].path);
        e[3 + i] = good[i];
        e[3 + i].path = paths[i];
    }
    struct pack_bundle b;
    struct ax_err err;
    read_archive(TGZ, e, N(e), &b, &err, 0);
    assert_good(&b);
    pack_bundle_free(&b);
    read_archive(ZIP, e, N(e), &b, &err, 0);
    assert_good(&b);
    pack_bundle_free(&b);
}

static void test_top_folder_kept_when_files_outside(void **state)
{
    (void)state;
    struct ent e[] = {{"mypack/pack.lua", manifest_lua, 0, 0, NULL},
                      {"mypack/route.lua", ROUTE, 0, 0, NULL},
                      {"README.md", "hi", 0, 0, NULL}};
    struct pack_bundle b;
    struct ax_err err;
    read_archive(ZIP, e, N(e), &b, &err, -1);
    assert_refused(&err, AX_EINVALID, "/files/mypack/pack.lua", "must be at the top");
}

/* ---- refusals ---- */

static void test_paths_refused(void **state)
{
    (void)state;
    static const struct {
        const char *path, *pointer, *needle;
    } cases[] = {
        {"../x.lua", "/files/../x.lua", "'..' is not allowed"},
        {"lib/../../x.lua", "/files/lib/../../x.lua", "'..' is not allowed"},
        {"/abs.lua", "/files//abs.lua", "absolute paths"},
        {"a\x01.lua", "/files/a?.lua", "control character"},
        {"a\xff.lua", "/files/a?.lua", "not valid UTF-8"},
        {"lib//x.lua", "/files/lib//x.lua", "empty folder names"},
        {"lib/./x.lua", "/files/lib/./x.lua", "'.' is not allowed"},
        {"run.sh", "/files/run.sh", "only .lua files"},
        {"lib/.lua", "/files/lib/.lua", "only .lua files"},
        {"a/b/c/d/e/f/g/h/i/j/x.lua", "/files/a/b/c/d/e/f/g/h/i/j/x.lua", "folders deep"},
        {"a/b/c/d/e/f/g/h/i/x.lua", "/files/a/b/c/d/e/f/g/h/i/x.lua", "folders deep"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ent e = {cases[i].path, "return 1", 0, 0, NULL};
        refused(TGZ, &e, 1, AX_EINVALID, cases[i].pointer, cases[i].needle);
        refused(ZIP, &e, 1, AX_EINVALID, cases[i].pointer, cases[i].needle);
    }
    /* tar keeps backslashes (refused); libarchive turns a zip's into '/'
     * (DOS-style names), so they meet the same checks there. */
    struct ent back = {"lib\\x.lua", "return 1", 0, 0, NULL};
    refused(TGZ, &back, 1, AX_EINVALID, "/files/lib\\x.lua", "backslashes");
    struct ent dotdot = {"..\\x.lua", "return 1", 0, 0, NULL};
    refused(ZIP, &dotdot, 1, AX_EINVALID, "/files/../x.lua", "'..' is not allowed");
    char longname[PACK_MAX_PATH + 2];
    memset(longname, 'a', sizeof longname - 5);
    strcpy(longname + sizeof longname - 5, ".lua");
    struct ent e = {longname, "return 1", 0, 0, NULL};
    char pointer[96] = "/files/";
    memset(pointer + 7, 'a', 76);
    strcpy(pointer + 83, "\xe2\x80\xa6");      /* long names are cut for messages */
    refused(ZIP, &e, 1, AX_EINVALID, pointer, "longer than 200 bytes");
}

static void test_links_refused(void **state)
{
    (void)state;
    struct ent sym = {"evil.lua", NULL, 0, AE_IFLNK, "/etc/passwd"};
    refused(ZIP, &sym, 1, AX_EINVALID, "/files/evil.lua", "this is a symbolic link");
    refused(TGZ, &sym, 1, AX_EINVALID, "/files/evil.lua", "this is a symbolic link");
    struct ent hard = {"again.lua", NULL, 0, 0, "route.lua"};
    refused(TGZ, &hard, 1, AX_EINVALID, "/files/again.lua", "this is a hard link");
    struct ent fifo = {"pipe.lua", NULL, 0, AE_IFIFO, NULL};
    refused(TGZ, &fifo, 1, AX_EINVALID, "/files/pipe.lua", "this is a FIFO");
}

static void test_contents_refused(void **state)
{
    (void)state;
    struct ent dup = {"route.lua", "return {}", 0, 0, NULL};
    refused(ZIP, &dup, 1, AX_EINVALID, "/files/route.lua", "appears twice");
    struct ent dup2 = {"./route.lua", "return {}", 0, 0, NULL};
    refused(TGZ, &dup2, 1, AX_EINVALID, "/files/route.lua", "appears twice");
    struct ent bytecode = {"fast.lua", "\x1bLuaT\x00\x19\x93\r\n", 0, 0, NULL};
    refused(ZIP, &bytecode, 1, AX_EINVALID, "/files/fast.lua", "bytecode");
    struct ent latin1 = {"lib/caf.lua", "-- caf\xe9\nreturn {}", 0, 0, NULL};
    refused(TGZ, &latin1, 1, AX_EINVALID, "/files/lib/caf.lua", "valid UTF-8");
    /* Fixtures are data: any bytes are fine there. */
    struct ent fixture = {"fixtures/latin1.csv", "caf\xe9\n", 0, 0, NULL};
    struct ent all[N(good) + 1];
    memcpy(all, good, sizeof good);
    all[N(good)] = fixture;
    struct pack_bundle b;
    struct ax_err err;
    read_archive(ZIP, all, N(all), &b, &err, 0);
    assert_int_equal(b.nfiles, 7);
    pack_bundle_free(&b);
}

static void test_too_many_files(void **state)
{
    (void)state;
    static struct ent e[PACK_MAX_FILES + 1];
    static char names[PACK_MAX_FILES + 1][32];
    e[0] = (struct ent){"pack.lua", "return {name = 'many', version = '1.0.0'}", 0, 0, NULL};
    for (int i = 1; i <= PACK_MAX_FILES; i++) {
        snprintf(names[i], sizeof names[i], "data/%03d.json", i);
        e[i] = (struct ent){names[i], "{}", 0, 0, NULL};
    }
    struct pack_bundle b;
    struct ax_err err;
    read_archive(ZIP, e, PACK_MAX_FILES, &b, &err, 0);     /* exactly 200: fine */
    assert_int_equal(b.nfiles, PACK_MAX_FILES);
    pack_bundle_free(&b);
    read_archive(TGZ, e, PACK_MAX_FILES + 1, &b, &err, -1);
    assert_refused(&err, AX_ETOOLARGE, NULL, "more than 200 files");
}

static void test_file_over_limit(void **state)
{
    (void)state;
    struct ent big = {"big.json", NULL, PACK_MAX_FILE + 1, 0, NULL};
    refused(ZIP, &big, 1, AX_ETOOLARGE, "/files/big.json", "larger than 1024 KiB");
    refused(TGZ, &big, 1, AX_ETOOLARGE, "/files/big.json", "larger than 1024 KiB");
    struct ent fits = {"fits.json", NULL, PACK_MAX_FILE, 0, NULL}, all[N(good) + 1];
    memcpy(all, good, sizeof good);
    all[N(good)] = fits;
    struct pack_bundle b;
    struct ax_err err;
    read_archive(TGZ, all, N(all), &b, &err, 0);
    assert_int_equal(pack_bundle_file(&b, "fits.json")->len, PACK_MAX_FILE);
    pack_bundle_free(&b);
}

/* Make a zip declare `from` uncompressed bytes as 100 wherever it states
 * them (local header, data descriptor, central directory): the reader
 * must count what it inflates. */
static void lie_about_size(struct buf *z, uint32_t from)
{
    unsigned char *p = (unsigned char *)z->data;
    int patched = 0;
    for (size_t i = 0; i + 46 < z->len; i++) {
        size_t at = !memcmp(p + i, "PK\3\4", 4) ? 22 : !memcmp(p + i, "PK\7\10", 4) ? 12
                  : !memcmp(p + i, "PK\1\2", 4) ? 24 : 0;
        uint32_t v;
        memcpy(&v, p + i + at, 4);
        if (at && v == from) {
            memcpy(p + i + at, "\x64\0\0\0", 4);
            patched++;
        }
    }
    assert_true(patched >= 2);
}

static void test_zip_bomb_stopped_at_the_cap(void **state)
{
    (void)state;
    struct ent e[] = {{"pack.lua", manifest_lua, 0, 0, NULL},
                      {"bomb.json", NULL, 20u << 20, 0, NULL}};
    struct buf z = make(ZIP, e, N(e));
    assert_true(z.len < 64 * 1024);                 /* 20 MiB of zeros, deflated */
    lie_about_size(&z, 20u << 20);
    struct pack_bundle b;
    struct ax_err err;
    ax_err_clear(&err);
    double t0 = time_mono();
    assert_int_equal(pack_bundle_read_mem(z.data, z.len, &b, &err), -1);
    double ms = (time_mono() - t0) * 1000;
    print_message("%s (%.1f ms)\n", err.detail, ms);
    assert_refused(&err, AX_ETOOLARGE, "/files/bomb.json", "larger than 1024 KiB");
    assert_true(ms < 500);
    buf_free(&z);
}

static void test_total_over_limit(void **state)
{
    (void)state;
    /* 17 files of 1 MiB each: every one fits, together they do not. */
    struct ent e[18] = {{"pack.lua", manifest_lua, 0, 0, NULL}};
    char names[17][16];
    for (int i = 0; i < 17; i++) {
        snprintf(names[i], sizeof names[i], "z%02d.csv", i);
        e[i + 1] = (struct ent){names[i], NULL, PACK_MAX_FILE, 0, NULL};
    }
    struct pack_bundle b;
    struct ax_err err;
    read_archive(TGZ, e, N(e), &b, &err, -1);
    assert_refused(&err, AX_ETOOLARGE, "/files/z15.csv", "add up to more than 16 MiB");
}

/* A zip entry named "lib/" is a folder to libarchive, yet may carry data,
 * which libarchive would skip (inflate, for a deflated one) uncounted. */
static void test_folder_with_data_refused(void **state)
{
    (void)state;
    struct ent dir = {"lib/", "not a folder's business", 0, 0, NULL};
    refused(ZIP, &dir, 1, AX_EINVALID, "/files/lib", "a folder entry that carries data");
}

static void test_not_archives(void **state)
{
    (void)state;
    struct pack_bundle b;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(pack_bundle_read_mem("", 0, &b, &err), -1);
    assert_refused(&err, AX_EINVALID, NULL, "the archive is empty");
    ax_err_clear(&err);
    const char junk[] = "this is not an archive, just some text that goes on for a while";
    assert_int_equal(pack_bundle_read_mem(junk, sizeof junk, &b, &err), -1);
    assert_refused(&err, AX_EINVALID, NULL, "not a .zip or .tar.gz archive");
    char *huge = calloc(1, PACK_MAX_ARCHIVE + 1);
    ax_err_clear(&err);
    assert_int_equal(pack_bundle_read_mem(huge, PACK_MAX_ARCHIVE + 1, &b, &err), -1);
    assert_refused(&err, AX_ETOOLARGE, NULL, "larger than 8 MiB");
    free(huge);
    struct ent dir = {"empty/", NULL, 0, AE_IFDIR, NULL};
    read_archive(ZIP, &dir, 1, &b, &err, -1);
    assert_refused(&err, AX_EINVALID, NULL, "the pack is empty");
    read_archive(TGZ, &good[0], 1, &b, &err, -1);
    assert_refused(&err, AX_EINVALID, "/files/pack.lua", "missing");
}

/* ---- the manifest ---- */

static int from_manifest(const char *lua, struct pack_bundle *b, struct ax_err *err)
{
    struct pack_file f[] = {{"pack.lua", (char *)lua, strlen(lua)},
                            {"route.lua", ROUTE, strlen(ROUTE)},
                            {"tests/route_test.lua", "return {}", 9}};
    ax_err_clear(err);
    return pack_bundle_from_files(f, 3, NULL, b, err);
}

static void bad_manifest(const char *lua, const char *pointer, const char *needle)
{
    struct pack_bundle b;
    struct ax_err err;
    if (from_manifest(lua, &b, &err) == 0)
        fail_msg("accepted: %s", lua);
    assert_int_equal(err.code, AX_EINVALID);
    assert_string_equal(err.type, "invalid-pack");
    for (int i = 0; i < err.nfields; i++)
        if (strcmp(err.fields[i].pointer, pointer) == 0 && strstr(err.fields[i].detail, needle))
            return;
    fail_msg("no field %s with '%s'; detail: %s (first field %s: %s)", pointer, needle,
             err.detail, err.nfields ? err.fields[0].pointer : "-",
             err.nfields ? err.fields[0].detail : "-");
}

#define HEAD "return {name = 'p1', version = '1.0.0', "

static void test_manifest_minimal_and_from_files(void **state)
{
    (void)state;
    struct pack_bundle b;
    struct ax_err err;
    assert_int_equal(from_manifest("return {name = 'p1', version = '2.0.0-beta.1', scope = 'unit', "
                                   "permissions = {}, handlers = {}, settings = {}}", &b, &err), 0);
    char *got = dump(b.manifest);
    assert_string_equal(got, "{\"budget\":{},\"description\":\"\",\"handlers\":[],\"name\":\"p1\","
                             "\"permissions\":[],\"schedules\":[],\"scope\":\"unit\",\"settings\":{},"
                             "\"version\":\"2.0.0-beta.1\"}");
    free(got);
    assert_int_equal(b.nfiles, 3);
    pack_bundle_free(&b);

    /* Stored versions pass the same rules, and keep the digest given. */
    struct pack_file f[] = {{"pack.lua", HEAD "}", strlen(HEAD "}")},
                            {"lib/../x.lua", "return 1", 8}};
    const char *digest = "ab12";
    assert_int_equal(pack_bundle_from_files(f, 1, digest, &b, &err), 0);
    assert_string_equal(b.sha256, digest);
    pack_bundle_free(&b);
    assert_int_equal(pack_bundle_from_files(f, 2, digest, &b, &err), -1);
    assert_refused(&err, AX_EINVALID, "/files/lib/../x.lua", "'..'");
}

static void test_manifest_errors(void **state)
{
    (void)state;
    bad_manifest("return {version = '1.0.0'}", "/name", "is required");
    bad_manifest("return {name = 'Ticket Router', version = '1.0.0'}", "/name", "lowercase");
    bad_manifest("return {name = 'x', version = '1.0.0'}", "/name", "2 to 64");
    bad_manifest("return {name = 'p1', version = '1.2'}", "/version", "like \"1.2.0\"");
    bad_manifest("return {name = 'p1', version = '01.2.3'}", "/version", "like \"1.2.0\"");
    bad_manifest("return {name = 'p1', version = 1.2}", "/version", "must be a string");
    bad_manifest(HEAD "scope = 'global'}", "/scope", "\"tenant\" or \"unit\"");
    bad_manifest(HEAD "handlers = {{event = 'tickets.opened', fn = 'route.assign'}}}",
                 "/handlers/0/event", "unknown event 'tickets.opened'");
    bad_manifest(HEAD "handlers = {{event = 'tickets.created', fn = 'router.assign'}}}",
                 "/handlers/0/fn", "module 'router' has no file router.lua in the pack");
    bad_manifest(HEAD "handlers = {{event = 'tickets.created', fn = 'assign'}}}",
                 "/handlers/0/fn", "\"module.function\"");
    bad_manifest(HEAD "handlers = {{event = 'tickets.created', fn = 'tests.route_test.x'}}}",
                 "/handlers/0/fn", "tests");
    bad_manifest(HEAD "handlers = {{event = 'tickets.created', fn = 'route.assign', "
                 "phase = 'during'}}}", "/handlers/0/phase", "\"before\" or \"after\"");
    bad_manifest(HEAD "handlers = {{event = 'tickets.created', fn = 'route.assign', order = 1.5}}}",
                 "/handlers/0/order", "integer");
    bad_manifest(HEAD "handlers = {{event = 'tickets.created', fn = 'route.assign'}, "
                 "{event = 'tickets.created', fn = 'route.assign', order = 5}}}",
                 "/handlers/0", "declared twice");
    bad_manifest(HEAD "handlers = {{event = 'tickets.created', fn = 'route.assign', evnt = 1}}}",
                 "/handlers/0/evnt", "did you mean 'event'?");
    bad_manifest(HEAD "schedules = {{every = '30s', fn = 'route.digest'}}}", "/schedules/0/every",
                 "at least 60 seconds");
    bad_manifest(HEAD "schedules = {{every = '32d', fn = 'route.digest'}}}", "/schedules/0/every",
                 "at most 31 days");
    bad_manifest(HEAD "schedules = {{every = 'hourly', fn = 'route.digest'}}}",
                 "/schedules/0/every", "unit s, m, h or d");
    bad_manifest(HEAD "schedules = {{daily = '24:00', fn = 'route.digest'}}}",
                 "/schedules/0/daily", "\"HH:MM\"");
    bad_manifest(HEAD "schedules = {{daily = '02:30', every = '1h', fn = 'route.digest'}}}",
                 "/schedules/0", "exactly one");
    bad_manifest(HEAD "schedules = {{every = '1h'}}}", "/schedules/0/fn", "is required");
    bad_manifest(HEAD "permissions = {'tickets:fly'}}", "/permissions/0", "");
    bad_manifest(HEAD "permissions = {'tickets:read', 'tickets:read'}}", "/permissions/1",
                 "listed twice");
    bad_manifest(HEAD "permissions = 'tickets:read'}", "/permissions", "must be a list");
    bad_manifest(HEAD "settings = {limit = {type = 'number', default = 'ten'}}}",
                 "/settings/limit/default", "must be a number");
    bad_manifest(HEAD "settings = {words = {type = 'list', default = {1, 2}}}}",
                 "/settings/words/default", "a list of strings");
    bad_manifest(HEAD "settings = {words = {type = 'text'}}}", "/settings/words/type",
                 "\"string\", \"number\"");
    bad_manifest(HEAD "settings = {['a/b'] = {type = 'string'}}}", "/settings/a~1b",
                 "Lua identifier");
    bad_manifest(HEAD "budget = {memory = -1}}", "/budget/memory", "can only lower");
    bad_manifest(HEAD "budget = {instructions = 0}}", "/budget/instructions", "positive");
    bad_manifest(HEAD "budget = {memory = 1e300}}", "/budget/memory", "positive integer");
    bad_manifest(HEAD "budget = {cpu = 5}}", "/budget/cpu", "unknown key 'cpu'");
    bad_manifest(HEAD "handler = {}}", "/handler", "did you mean 'handlers'?");
    bad_manifest(HEAD "description = string.rep('x', 1001)}", "/description", "1000 characters");
}

static void test_manifest_collects_problems(void **state)
{
    (void)state;
    struct pack_bundle b;
    struct ax_err err;
    assert_int_equal(from_manifest("return {name = 'X', version = 'one', scope = 'all'}", &b,
                                   &err), -1);
    assert_int_equal(err.nfields, 3);
    assert_string_equal(err.fields[0].pointer, "/name");
    assert_string_equal(err.fields[1].pointer, "/version");
    assert_string_equal(err.fields[2].pointer, "/scope");
    assert_string_equal(err.detail, "pack.lua: /name: must be 2 to 64 characters: lowercase "
                                    "letters, digits, '-' or '_', starting with a letter "
                                    "(and 2 more problems)");
}

static void test_manifest_must_be_a_table(void **state)
{
    (void)state;
    bad_manifest("return 'ticket-router'", "/files/pack.lua", "must return a table");
    bad_manifest("return {'a', 'b'}", "/files/pack.lua", "not a list");
    bad_manifest("local x = 1", "/files/pack.lua", "not nil");
    bad_manifest("return {name = 'p1', version = '1.0.0', f = function() end}", "/files/pack.lua",
                 "function");
    bad_manifest("error('no manifest today')", "/files/pack.lua", "no manifest today");
    bad_manifest("error('caf\\233 au lait')", "/files/pack.lua", "caf? au lait");
    bad_manifest("return {name = io.open('/etc/passwd')}", "/files/pack.lua", "io");
    bad_manifest("return {", "/files/pack.lua", "expected");
}

static void test_manifest_loop_stopped(void **state)
{
    (void)state;
    struct pack_bundle b;
    struct ax_err err;
    double t0 = time_mono();
    assert_int_equal(from_manifest("while true do end", &b, &err), -1);
    assert_true((time_mono() - t0) * 1000 < 1000);
    assert_string_equal(err.detail,
                        "the manifest failed: stopped: the instruction budget of this run is used up");
    assert_string_equal(err.fields[0].pointer, "/files/pack.lua");
    assert_int_equal(from_manifest("local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end",
                                   &b, &err), -1);
    if (!strstr(err.detail, "budget"))
        fail_msg("%s", err.detail);
}

static void test_module_path(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(pack_module_path("lib.util", out, sizeof out), 0);
    assert_string_equal(out, "lib/util.lua");
    assert_int_equal(pack_module_path("_x9", out, sizeof out), 0);
    assert_string_equal(out, "_x9.lua");
    const char *bad[] = {"", ".", "lib.", ".lib", "lib..util", "9lib", "my-lib", "lib/util", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(pack_module_path(bad[i], out, sizeof out), -1);
    assert_int_equal(pack_module_path("abcdefgh", out, 12), -1);   /* no room for ".lua" */
    assert_int_equal(pack_module_path("abcdefg", out, 12), 0);
}

/* ---- folders and files on disk ---- */

static void put(const char *dir, const char *path, const char *data)
{
    char full[512];
    snprintf(full, sizeof full, "%s/%s", dir, path);
    for (char *s = full + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(full, 0755);
        *s = '/';
    }
    FILE *f = fopen(full, "wb");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void test_read_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/axon-pack-XXXXXX", cmd[64];
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < N(good); i++)
        put(dir, good[i].path, good[i].data);
    struct pack_bundle b;
    struct ax_err err;
    ax_err_clear(&err);
    if (pack_bundle_read_dir(dir, &b, &err))
        fail_msg("%s", err.detail);
    assert_good(&b);
    assert_string_equal(b.sha256, "");
    pack_bundle_free(&b);

    char link[512];
    snprintf(link, sizeof link, "%s/lib/passwd.lua", dir);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    assert_int_equal(pack_bundle_read_dir(dir, &b, &err), -1);
    assert_refused(&err, AX_EINVALID, "/files/lib/passwd.lua", "symbolic link");
    unlink(link);
    put(dir, "notes.txt", "x");
    ax_err_clear(&err);
    assert_int_equal(pack_bundle_read_dir(dir, &b, &err), -1);
    assert_refused(&err, AX_EINVALID, "/files/notes.txt", "only .lua files");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    ax_err_clear(&err);
    assert_int_equal(pack_bundle_read_dir(dir, &b, &err), -1);
    assert_int_equal(err.code, AX_ENOTFOUND);
}

static void test_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/axon-pack-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    struct buf z = make(ZIP, good, N(good));
    assert_int_equal(write(fd, z.data, z.len), (ssize_t)z.len);
    close(fd);
    struct pack_bundle b, m;
    struct ax_err err;
    ax_err_clear(&err);
    assert_int_equal(pack_bundle_read_file(path, &b, &err), 0);
    assert_good(&b);
    assert_int_equal(pack_bundle_read_mem(z.data, z.len, &m, &err), 0);
    assert_string_equal(b.sha256, m.sha256);
    pack_bundle_free(&b);
    pack_bundle_free(&m);
    buf_free(&z);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_zip),
        cmocka_unit_test(test_good_targz_top_folder_stripped),
        cmocka_unit_test(test_top_folder_kept_when_files_outside),
        cmocka_unit_test(test_paths_refused),
        cmocka_unit_test(test_links_refused),
        cmocka_unit_test(test_contents_refused),
        cmocka_unit_test(test_too_many_files),
        cmocka_unit_test(test_file_over_limit),
        cmocka_unit_test(test_zip_bomb_stopped_at_the_cap),
        cmocka_unit_test(test_total_over_limit),
        cmocka_unit_test(test_folder_with_data_refused),
        cmocka_unit_test(test_not_archives),
        cmocka_unit_test(test_manifest_minimal_and_from_files),
        cmocka_unit_test(test_manifest_errors),
        cmocka_unit_test(test_manifest_collects_problems),
        cmocka_unit_test(test_manifest_must_be_a_table),
        cmocka_unit_test(test_manifest_loop_stopped),
        cmocka_unit_test(test_module_path),
        cmocka_unit_test(test_read_dir),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
