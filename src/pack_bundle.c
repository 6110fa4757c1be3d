/* pack_bundle.c - reading workflow packs: archives, folders and stored
 * files under the limits; the manifest is pack_manifest.c's. */
#include "axon/pack_bundle.h"

#include "axon/buf.h"
#include "axon/pack_manifest.h"
#include "axon/text.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES (2 * PACK_MAX_FILES)   /* files plus folders */
#define CHUNK 16384
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- text for messages ---- */

/* Copy untrusted text for a message: control characters and invalid UTF-8
 * become '?', and a cut never splits a character. */
static const char *shown(const char *s, char *out, size_t outsz)
{
    size_t used = 0, n = strlen(s);
    while (*s) {
        int cp = 0, k = text_decode(s, n, &cp);
        if (k <= 0 || cp < 0x20 || cp == 0x7f)
            k = -1;
        size_t need = k > 0 ? (size_t)k : 1;
        if (used + need + 4 > outsz) {       /* room for "…" and NUL */
            memcpy(out + used, "\xe2\x80\xa6", 3);
            used += 3;
            break;
        }
        if (k > 0)
            memcpy(out + used, s, need);
        else
            out[used] = '?';
        used += need;
        s += need;
        n -= need;
    }
    out[used] = '\0';
    return out;
}

/* ---- errors ---- */

static int vrefuse(struct ax_err *err, enum ax_code code, const char *path, const char *fmt,
                   va_list ap)
{
    char msg[256], name[80], ptr[96];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const char *type = code == AX_EINVALID ? "invalid-pack" : "";
    if (!path)
        return ax_fail_type(err, code, type, "%s", msg);
    shown(path, name, sizeof name);
    ax_fail_type(err, code, type, "%s: %s", name, msg);
    snprintf(ptr, sizeof ptr, "/files/%s", name);
    ax_field(err, ptr, "%s", msg);
    return -1;
}

__attribute__((format(printf, 3, 4)))
static int refuse(struct ax_err *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrefuse(err, AX_EINVALID, path, fmt, ap);
    va_end(ap);
    return -1;
}

__attribute__((format(printf, 3, 4)))
static int too_large(struct ax_err *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrefuse(err, AX_ETOOLARGE, path, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- names ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_alpha(char c) { return is_lower(c) || (c >= 'A' && c <= 'Z') || c == '_'; }

static bool is_identifier(const char *s, size_t n)
{
    if (n == 0 || !is_alpha(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Normalise an entry name in place (a leading "./" and a folder's trailing
 * '/' go) and check it. 0 = fine, 1 = nothing left (the "./" folder),
 * -1 = refused with *why. */
static int check_path(char *p, bool dir, const char **why)
{
    while (p[0] == '.' && p[1] == '/')
        memmove(p, p + 2, strlen(p + 2) + 1);
    size_t n = strlen(p);
    while (dir && n > 0 && p[n - 1] == '/')
        p[--n] = '\0';
    *why = NULL;
    if (n == 0 && dir)
        return 1;
    if (n == 0)
        *why = "the entry has no name";
    else if (!text_valid_utf8(p, n))
        *why = "the name is not valid UTF-8";
    else if (strchr(p, '\\'))
        *why = "backslashes are not allowed in names (folders are separated by '/')";
    else if (p[0] == '/')
        *why = "absolute paths are not allowed";
    else if (n > PACK_MAX_PATH)
        *why = "the path is longer than " STR(PACK_MAX_PATH) " bytes";
    if (*why)
        return -1;
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *why = "the name holds a control character";
    int segments = 0;
    for (const char *seg = p; seg && !*why; segments++) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0)
            *why = "empty folder names ('//') are not allowed";
        else if (len == 2 && seg[0] == '.' && seg[1] == '.')
            *why = "'..' is not allowed in paths";
        else if (len == 1 && seg[0] == '.')
            *why = "'.' is not allowed inside paths";
        seg = end ? end + 1 : NULL;
    }
    /* One more level than the limit: a top folder may still be stripped. */
    if (!*why && segments - !dir > PACK_MAX_DEPTH + 1)
        *why = "the path is more than " STR(PACK_MAX_DEPTH) " folders deep";
    return *why ? -1 : 0;
}

static int folders_in(const char *path)
{
    int n = 0;
    for (; *path; path++)
        n += *path == '/';
    return n;
}

/* Lua sources, docs and data; nothing that could be run or linked. */
static bool allowed_name(const char *path)
{
    static const char *const plain[] = {"README", "LICENCE", "LICENSE", NULL};
    static const char *const exts[] = {".lua", ".md", ".json", ".csv", NULL};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int i = 0; plain[i]; i++)
        if (strcmp(base, plain[i]) == 0)
            return true;
    for (int i = 0; exts[i]; i++)
        if (strlen(base) > strlen(exts[i]) && ends_with(base, exts[i]))
            return true;
    return false;
}

static const char *bad_content(const char *path, const char *data, size_t len)
{
    if (!ends_with(path, ".lua"))
        return NULL;
    if (len >= 4 && memcmp(data, "\x1bLua", 4) == 0)
        return "precompiled Lua bytecode is not allowed: upload the source";
    if (!text_valid_utf8(data, len))
        return "a Lua file must be valid UTF-8 text (with no NUL bytes)";
    return NULL;
}

int pack_module_path(const char *module, char *out, size_t outsz)
{
    size_t n = strlen(module);
    if (n == 0 || n + 5 > outsz)
        return -1;
    for (size_t i = 0, seg = 0; i <= n; i++) {
        if (module[i] != '.' && module[i] != '\0')
            continue;
        if (!is_identifier(module + seg, i - seg))
            return -1;
        seg = i + 1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = module[i] == '.' ? '/' : module[i];
    memcpy(out + n, ".lua", 5);
    return 0;
}

/* ---- collecting files under the limits ---- */

enum kind { K_FILE, K_DIR, K_OTHER };

struct collect {
    struct pack_bundle *b;
    int cap, entries;
    struct ax_err *err;
};

/* Reads up to n bytes; 0 at the end, -1 with *why on failure. */
typedef long (*read_fn)(void *src, void *to, size_t n, const char **why);

/* Admit an entry by name and kind before any of its data is read: 1 when
 * it is a file to read, 0 to skip it (a folder), -1 when refused. `path`
 * is normalised in place. */
static int admit(struct collect *c, char *path, enum kind kind, const char *what)
{
    const char *why;
    if (++c->entries > MAX_ENTRIES)
        return too_large(c->err, NULL, "the pack has more than %d entries", MAX_ENTRIES);
    int rc = check_path(path, kind == K_DIR, &why);
    if (rc < 0)
        return refuse(c->err, path, "%s", why);
    if (kind == K_DIR)
        return 0;
    if (kind == K_OTHER)
        return refuse(c->err, path, "only regular files and folders are allowed; this is %s",
                      what);
    if (!allowed_name(path))
        return refuse(c->err, path, "only .lua files, README, LICENCE and .md, .json or .csv "
                                    "files may be in a pack");
    if (c->b->nfiles >= PACK_MAX_FILES)
        return too_large(c->err, NULL, "the pack has more than %d files", PACK_MAX_FILES);
    return 1;
}

static int add_file(struct collect *c, const char *path, struct buf *data)
{
    struct pack_bundle *b = c->b;
    if (b->nfiles == c->cap) {
        int ncap = c->cap ? c->cap * 2 : 16;
        struct pack_file *f = realloc(b->files, (size_t)ncap * sizeof *f);
        if (!f)
            return ax_fail(c->err, AX_EINTERNAL, "out of memory");
        b->files = f;
        c->cap = ncap;
    }
    char *p = strdup(path);
    if (!p)
        return ax_fail(c->err, AX_EINTERNAL, "out of memory");
    size_t len = data->len;
    b->files[b->nfiles++] = (struct pack_file){p, buf_detach(data), len};
    b->total += len;
    return 0;
}

/* Read one file's data, counting bytes as they come: declared sizes are
 * never trusted, so a bomb stops at the cap, not at its end. */
static int take(struct collect *c, const char *path, read_fn rd, void *src)
{
    struct buf data;
    char chunk[CHUNK];
    const char *why = NULL;
    int rc = 0;
    buf_init(&data, PACK_MAX_FILE);
    for (;;) {
        long n = rd(src, chunk, sizeof chunk, &why);
        if (n == 0)
            break;
        if (n < 0) {
            rc = refuse(c->err, path, "cannot read it: %s", why ? why : "read error");
            break;
        }
        if (data.len + (size_t)n > PACK_MAX_FILE) {
            rc = too_large(c->err, path, "the file is larger than %u KiB", PACK_MAX_FILE >> 10);
            break;
        }
        if (c->b->total + data.len + (size_t)n > PACK_MAX_TOTAL) {
            rc = too_large(c->err, path, "the files add up to more than %u MiB uncompressed",
                           PACK_MAX_TOTAL >> 20);
            break;
        }
        if (buf_add(&data, chunk, (size_t)n)) {
            rc = ax_fail(c->err, AX_EINTERNAL, "out of memory");
            break;
        }
    }
    if (!rc && (why = bad_content(path, data.data ? data.data : "", data.len)))
        rc = refuse(c->err, path, "%s", why);
    if (!rc)
        rc = add_file(c, path, &data);
    buf_free(&data);
    return rc;
}

/* ---- archives ---- */

static long archive_chunk(void *src, void *to, size_t n, const char **why)
{
    la_ssize_t r = archive_read_data(src, to, n);
    if (r < 0)
        *why = archive_error_string(src);
    return r < 0 ? -1 : (long)r;
}

static enum kind archive_kind(struct archive_entry *e, const char **what)
{
    *what = NULL;
    if (archive_entry_hardlink(e))
        *what = "a hard link";
    else if (archive_entry_filetype(e) == AE_IFREG)
        return K_FILE;
    else if (archive_entry_filetype(e) == AE_IFDIR)
        return K_DIR;
    else if (archive_entry_filetype(e) == AE_IFLNK)
        *what = "a symbolic link";
    else if (archive_entry_filetype(e) == AE_IFIFO)
        *what = "a FIFO";
    else
        *what = "a device or another special file";
    return K_OTHER;
}

static int read_entries(struct collect *c, const void *data, size_t len);

/* libarchive converts names marked UTF-8 (zips from Python, macOS,
 * Windows) to the locale's charset; under the "C" locale that fails for
 * any non-ASCII name. So the reading thread uses a UTF-8 locale while it
 * reads, without touching the process's locale. */
static int read_archive(struct collect *c, const void *data, size_t len)
{
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t was = utf8 ? uselocale(utf8) : (locale_t)0;
    int rc = read_entries(c, data, len);
    if (utf8) {
        uselocale(was);
        freelocale(utf8);
    }
    return rc;
}

static int read_entries(struct collect *c, const void *data, size_t len)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int rc = 0;
    if (!a)
        return ax_fail(c->err, AX_EINTERNAL, "out of memory");
    archive_read_support_filter_gzip(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        rc = refuse(c->err, NULL, "not a .zip or .tar.gz archive (%s)", archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = refuse(c->err, NULL, "the archive is damaged: %s", archive_error_string(a));
            break;
        }
        const char *name = archive_entry_pathname_utf8(e), *what;
        char path[PACK_MAX_PATH + 8];
        if (!name)
            name = archive_entry_pathname(e);
        if (snprintf(path, sizeof path, "%s", name ? name : "") >= (int)sizeof path) {
            rc = refuse(c->err, path, "the path is longer than %d bytes", PACK_MAX_PATH);
            break;
        }
        enum kind kind = archive_kind(e, &what);
        int want = admit(c, path, kind, what);
        /* Never let libarchive skip data for us (skipping may inflate it,
         * uncounted): files are read below, and folders hold none, though
         * a zip entry named "x/" can claim to. */
        if (want == 0 && archive_entry_size(e) > 0)
            want = refuse(c->err, path, "a folder entry that carries data");
        if (want == 1 && archive_entry_is_encrypted(e))
            want = refuse(c->err, path, "encrypted entries are not supported");
        if (want == 1 && archive_entry_size_is_set(e) && archive_entry_size(e) > PACK_MAX_FILE)
            want = too_large(c->err, path, "the file is larger than %u KiB", PACK_MAX_FILE >> 10);
        if (want == 1)
            want = take(c, path, archive_chunk, a);
        if (want < 0) {
            rc = -1;
            break;
        }
    }
    archive_read_free(a);
    return rc;
}

/* ---- folders ---- */

static long fd_chunk(void *src, void *to, size_t n, const char **why)
{
    ssize_t r;
    do
        r = read(*(int *)src, to, n);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        *why = strerror(errno);
    return (long)r;
}

static enum kind mode_kind(mode_t mode, const char **what)
{
    *what = NULL;
    if (S_ISREG(mode))
        return K_FILE;
    if (S_ISDIR(mode))
        return K_DIR;
    *what = S_ISLNK(mode) ? "a symbolic link" : S_ISFIFO(mode) ? "a FIFO"
                                                               : "a device or another special file";
    return K_OTHER;
}

static int io_fail(struct ax_err *err, const char *what, const char *path)
{
    return ax_fail(err, errno == ENOENT ? AX_ENOTFOUND : AX_EINTERNAL, "%s %s: %s", what, path,
                   strerror(errno));
}

/* Read the folder open at `fd` (taken over), whose entries are named
 * `prefix`<name>. Nothing is followed: links are refused like in archives. */
static int walk(struct collect *c, int fd, const char *prefix)
{
    DIR *d = fdopendir(fd);
    struct dirent *de;
    int rc = 0;
    if (!d) {
        close(fd);
        return io_fail(c->err, "cannot list", prefix);
    }
    while (!rc && (errno = 0, de = readdir(d))) {
        char path[PACK_MAX_PATH + 8];
        struct stat st;
        const char *what;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s%s", prefix, de->d_name) >= (int)sizeof path) {
            rc = refuse(c->err, path, "the path is longer than %d bytes", PACK_MAX_PATH);
            break;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
            rc = io_fail(c->err, "cannot read", path);
            break;
        }
        enum kind kind = mode_kind(st.st_mode, &what);
        int want = admit(c, path, kind, what);
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (kind == K_DIR ? O_DIRECTORY : O_NONBLOCK);
        int sub = want < 0 ? -1 : openat(dirfd(d), de->d_name, flags);
        if (want < 0) {
            rc = -1;
        } else if (sub < 0) {
            rc = io_fail(c->err, "cannot open", path);
        } else if (kind == K_DIR) {
            char subprefix[PACK_MAX_PATH + 16];
            snprintf(subprefix, sizeof subprefix, "%s/", path);
            rc = walk(c, sub, subprefix);
        } else {
            /* Swapped for something else since fstatat? Then refuse. */
            if (fstat(sub, &st) || !S_ISREG(st.st_mode))
                rc = refuse(c->err, path, "changed while it was being read");
            else
                rc = take(c, path, fd_chunk, &sub);
            close(sub);
        }
    }
    if (!rc && errno)
        rc = io_fail(c->err, "cannot list", prefix);
    closedir(d);
    return rc;
}

/* ---- the bundle ---- */

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const struct pack_file *)a)->path, ((const struct pack_file *)b)->path);
}

static int cmp_key_file(const void *key, const void *f)
{
    return strcmp(key, ((const struct pack_file *)f)->path);
}

const struct pack_file *pack_bundle_file(const struct pack_bundle *b, const char *path)
{
    if (!b->nfiles)
        return NULL;
    return bsearch(path, b->files, (size_t)b->nfiles, sizeof *b->files, cmp_key_file);
}

/* `zip -r pack.zip mypack/` puts everything under mypack/: strip it when
 * it holds pack.lua and nothing lies outside it. Keeps the order. */
static void strip_top_folder(struct pack_bundle *b)
{
    const char *first = b->files[0].path, *slash = strchr(first, '/');
    bool manifest = false;
    if (!slash)
        return;
    size_t n = (size_t)(slash - first) + 1;
    for (int i = 0; i < b->nfiles; i++) {
        if (strncmp(b->files[i].path, first, n) != 0)
            return;
        manifest |= strcmp(b->files[i].path + n, "pack.lua") == 0;
    }
    for (int i = 0; manifest && i < b->nfiles; i++)
        memmove(b->files[i].path, b->files[i].path + n, strlen(b->files[i].path + n) + 1);
}

/* Everything that needs the whole list: order, duplicates, the top
 * folder, depth, pack.lua; then the manifest. */
static int finish(struct pack_bundle *b, struct ax_err *err)
{
    if (b->nfiles == 0)
        return refuse(err, NULL, "the pack is empty: it has no files");
    qsort(b->files, (size_t)b->nfiles, sizeof *b->files, cmp_files);
    for (int i = 1; i < b->nfiles; i++)
        if (strcmp(b->files[i - 1].path, b->files[i].path) == 0)
            return refuse(err, b->files[i].path, "the path appears twice in the archive");
    strip_top_folder(b);
    for (int i = 0; i < b->nfiles; i++)
        if (folders_in(b->files[i].path) > PACK_MAX_DEPTH)
            return refuse(err, b->files[i].path, "the path is more than %d folders deep",
                          PACK_MAX_DEPTH);
    if (!pack_bundle_file(b, "pack.lua")) {
        for (int i = 0; i < b->nfiles; i++)
            if (ends_with(b->files[i].path, "/pack.lua"))
                return refuse(err, b->files[i].path, "pack.lua must be at the top of the pack, "
                                                     "with every other file beside or below it");
        return refuse(err, "pack.lua", "missing: a pack needs its manifest, pack.lua");
    }
    b->manifest = pack_manifest_parse(b, err);
    return b->manifest ? 0 : -1;
}

static void hex_sha256(const void *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

int pack_bundle_read_mem(const void *data, size_t len, struct pack_bundle *out,
                         struct ax_err *err)
{
    struct collect c = {out, 0, 0, err};
    memset(out, 0, sizeof *out);
    if (len > PACK_MAX_ARCHIVE)
        return too_large(err, NULL, "the archive is larger than %u MiB", PACK_MAX_ARCHIVE >> 20);
    if (len == 0)
        return refuse(err, NULL, "the archive is empty");
    if (read_archive(&c, data, len) || finish(out, err)) {
        pack_bundle_free(out);
        return -1;
    }
    hex_sha256(data, len, out->sha256);
    return 0;
}

int pack_bundle_read_file(const char *path, struct pack_bundle *out, struct ax_err *err)
{
    struct buf data;
    char chunk[CHUNK];
    const char *why = NULL;
    long n;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, "cannot open", path);
    buf_init(&data, PACK_MAX_ARCHIVE);
    while ((n = fd_chunk(&fd, chunk, sizeof chunk, &why)) > 0)
        if (buf_add(&data, chunk, (size_t)n))
            break;
    close(fd);
    int rc;
    if (n < 0)
        rc = ax_fail(err, AX_EINTERNAL, "cannot read %s: %s", path, why);
    else if (n > 0)
        rc = too_large(err, NULL, "the archive is larger than %u MiB", PACK_MAX_ARCHIVE >> 20);
    else
        rc = pack_bundle_read_mem(data.data, data.len, out, err);
    buf_free(&data);
    return rc;
}

struct mem_src {
    const char *p;
    size_t left;
};

static long mem_chunk(void *src, void *to, size_t n, const char **why)
{
    struct mem_src *m = src;
    (void)why;
    if (n > m->left)
        n = m->left;
    if (n == 0)
        return 0;
    memcpy(to, m->p, n);
    m->p += n;
    m->left -= n;
    return (long)n;
}

int pack_bundle_from_files(const struct pack_file *files, int nfiles, const char *sha256,
                           struct pack_bundle *out, struct ax_err *err)
{
    struct collect c = {out, 0, 0, err};
    int rc = 0;
    memset(out, 0, sizeof *out);
    for (int i = 0; !rc && i < nfiles; i++) {
        char path[PACK_MAX_PATH + 8];
        struct mem_src src = {files[i].data, files[i].len};
        if (snprintf(path, sizeof path, "%s", files[i].path) >= (int)sizeof path)
            rc = refuse(err, path, "the path is longer than %d bytes", PACK_MAX_PATH);
        else if ((rc = admit(&c, path, K_FILE, NULL)) == 1)
            rc = take(&c, path, mem_chunk, &src);
    }
    if (rc || finish(out, err)) {
        pack_bundle_free(out);
        return -1;
    }
    snprintf(out->sha256, sizeof out->sha256, "%s", sha256 ? sha256 : "");
    return 0;
}

int pack_bundle_read_dir(const char *dir, struct pack_bundle *out, struct ax_err *err)
{
    struct collect c = {out, 0, 0, err};
    memset(out, 0, sizeof *out);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, "cannot open", dir);
    if (walk(&c, fd, "") || finish(out, err)) {
        pack_bundle_free(out);
        return -1;
    }
    return 0;
}

void pack_bundle_free(struct pack_bundle *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->nfiles; i++) {
        free(b->files[i].path);
        free(b->files[i].data);
    }
    free(b->files);
    json_decref(b->manifest);
    memset(b, 0, sizeof *b);
}
