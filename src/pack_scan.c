/* pack_scan.c - the static compliance scan of a pack's Lua sources.
 *
 * Each file is compiled in a bare Lua state (the syntax rule). A file that
 * compiles is tokenised and walked by a small recursive-descent parser that
 * follows the Lua 5.4 grammar just closely enough to know scopes (which
 * names are locals: declarations, parameters, loop variables, per block),
 * which expressions are paths into the host API (axon.deals.update, or a
 * local alias of a part of it), and what a call's arguments look like (a
 * string literal, a `..` concatenation, a table constructor and its keys).
 * The checks hang off that walk. Because the file compiled, the parser
 * never has to recover from errors; should it meet something it does not
 * expect it stops walking that file, keeping what it found so far.
 */
#include "axon/pack_scan.h"

#include "axon/lua_rt.h"
#include "axon/pack_perm.h"
#include "axon/text.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 256        /* keys remembered per table or local */
#define MAX_DEPTH 250       /* parser nesting (Lua's compiler allows 200) */
#define MAX_PER_RULE 100    /* findings of one rule kept per file */
#define MAX_ARGS 4          /* call arguments looked at */
#define MAX_NAMES 256       /* names in one `local` or `for` */
#define HOST_PATH 64

/* ---- findings ---- */

enum rule {
    R_SYNTAX, R_FORBIDDEN, R_GLOBAL_WRITE, R_UNKNOWN_GLOBAL, R_UNKNOWN_API, R_PERMISSION,
    R_PROTECTED, R_LOOP, R_FIND, R_STRING_QUERY, R_HANDLER, R_NRULES
};
static const char *const rule_names[R_NRULES] = {
    "syntax", "forbidden-global", "global-write", "unknown-global", "unknown-api", "permission",
    "protected-field", "unbounded-loop", "unbounded-find", "string-query", "handler-missing",
};

struct finding {
    const char *file;
    int line, col, seq;
    enum rule rule;
    bool error;
    char *msg;
};

struct scan {
    const struct scan_input *in;
    json_t *declared;               /* the manifest's permissions (borrowed, may be NULL) */
    char declared_text[512];        /* "customers:read, tickets:write" for messages */
    struct finding *f;
    int nf, capf;
    bool oom;
    int kept[R_NRULES], dropped[R_NRULES];   /* per file, see MAX_PER_RULE */
    bool dropped_error[R_NRULES];
};

/* Make room for one more element of a growable array; false when out of
 * memory (the array is then unchanged). */
#define RESERVE(arr, n, cap, oom) ((n) < (cap) || reserve_(&(arr), &(cap), sizeof *(arr), &(oom)))
static bool reserve_(void *arrp, int *cap, size_t size, bool *oom)
{
    void *old, *grown;
    int ncap = *cap ? *cap * 2 : 32;
    memcpy(&old, arrp, sizeof old);
    if (!(grown = realloc(old, (size_t)ncap * size))) {
        *oom = true;
        return false;
    }
    memcpy(arrp, &grown, sizeof grown);
    *cap = ncap;
    return true;
}

/* Messages quote source text, which a format width may have cut inside a
 * UTF-8 sequence: make them valid for JSON. */
static void utf8_clean(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int cp, used = text_decode(s + i, n - i, &cp);
        if (used <= 0) {
            s[i++] = '?';
            continue;
        }
        i += (size_t)used;
    }
}

static void vfinding(struct scan *sc, const char *file, int line, int col, enum rule rule,
                     bool error, const char *fmt, va_list ap)
{
    if (sc->kept[rule] >= MAX_PER_RULE) {
        sc->dropped[rule]++;
        sc->dropped_error[rule] |= error;
        return;
    }
    if (!RESERVE(sc->f, sc->nf, sc->capf, sc->oom))
        return;
    char body[640], *msg = malloc(800);
    if (!msg) {
        sc->oom = true;
        return;
    }
    vsnprintf(body, sizeof body, fmt, ap);
    if (line > 0)
        snprintf(msg, 800, "%s:%d: %s", file, line, body);
    else
        snprintf(msg, 800, "%s: %s", file, body);
    utf8_clean(msg);
    sc->f[sc->nf] = (struct finding){file, line, col, sc->nf, rule, error, msg};
    sc->nf++;
    sc->kept[rule]++;
}

static void finding(struct scan *sc, const char *file, int line, int col, enum rule rule,
                    bool error, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void finding(struct scan *sc, const char *file, int line, int col, enum rule rule,
                    bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfinding(sc, file, line, col, rule, error, fmt, ap);
    va_end(ap);
}

/* One summary per rule that hit MAX_PER_RULE in a file, then reset. */
static void flush_file(struct scan *sc, const char *file)
{
    for (int r = 0; r < R_NRULES; r++) {
        int n = sc->dropped[r];
        bool error = sc->dropped_error[r];
        sc->kept[r] = sc->dropped[r] = 0;
        sc->dropped_error[r] = false;
        if (n)
            finding(sc, file, 0, 0, (enum rule)r, error,
                    "%d more %s findings in this file are not listed", n, rule_names[r]);
        sc->kept[r] = 0;
    }
}

/* ---- lexer ---- */

enum tkind { T_EOF, T_NAME, T_KEYWORD, T_STRING, T_NUMBER, T_OP };

struct tok {
    const char *s;          /* text; for a string, its contents without delimiters */
    uint32_t len;
    uint8_t kind;
    bool escaped;           /* a quoted string holding backslash escapes */
    int line, col;
};

static const char *const keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    NULL};

static bool in_list(const char *const *list, const char *s, size_t n)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, s, n) == 0)
            return true;
    return false;
}

struct lexer {
    const char *q, *end, *bol;    /* position, end, beginning of the line */
    int line;
};

static bool is_nl(char c) { return c == '\n' || c == '\r'; }

/* At a newline: step over it (\r\n and \n\r count once, as in Lua). */
static void newline(struct lexer *lx)
{
    char c = *lx->q++;
    if (lx->q < lx->end && is_nl(*lx->q) && *lx->q != c)
        lx->q++;
    lx->line++;
    lx->bol = lx->q;
}

/* At '[': the level of a long bracket [==[ opening here, or -1. */
static int long_level(const struct lexer *lx)
{
    const char *s = lx->q + 1;
    while (s < lx->end && *s == '=')
        s++;
    return s < lx->end && *s == '[' ? (int)(s - lx->q - 1) : -1;
}

/* Step over a long bracket of `level` that opens at q; its contents go to
 * body/blen (a newline right after the opening is not part of them). */
static void skip_long(struct lexer *lx, int level, const char **body, size_t *blen)
{
    lx->q += level + 2;
    if (lx->q < lx->end && is_nl(*lx->q))
        newline(lx);
    *body = lx->q;
    while (lx->q < lx->end) {
        if (*lx->q == ']') {
            const char *s = lx->q + 1;
            while (s < lx->end && *s == '=')
                s++;
            if (s - lx->q - 1 == level && s < lx->end && *s == ']') {
                *blen = (size_t)(lx->q - *body);
                lx->q = s + 1;
                return;
            }
            lx->q++;
        } else if (is_nl(*lx->q)) {
            newline(lx);
        } else {
            lx->q++;
        }
    }
    *blen = (size_t)(lx->q - *body);
}

/* Step over a quoted string starting at q. */
static void skip_quoted(struct lexer *lx, struct tok *t)
{
    char quote = *lx->q++;
    t->s = lx->q;
    while (lx->q < lx->end && *lx->q != quote && !is_nl(*lx->q)) {
        if (*lx->q != '\\' || lx->q + 1 >= lx->end) {
            lx->q++;
            continue;
        }
        t->escaped = true;
        lx->q++;
        if (is_nl(*lx->q)) {
            newline(lx);
        } else if (*lx->q == 'z') {             /* \z skips the following space */
            lx->q++;
            while (lx->q < lx->end && isspace((unsigned char)*lx->q)) {
                if (is_nl(*lx->q))
                    newline(lx);
                else
                    lx->q++;
            }
        } else {
            lx->q++;
        }
    }
    t->len = (uint32_t)(lx->q - t->s);
    if (lx->q < lx->end && *lx->q == quote)
        lx->q++;
}

static void skip_number(struct lexer *lx)
{
    const char *s = lx->q;
    bool hex = lx->end - s > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    while (lx->q < lx->end) {
        char c = *lx->q;
        if (isalnum((unsigned char)c) || c == '.' ||
            ((c == '+' || c == '-') && strchr(hex ? "pP" : "eE", lx->q[-1])))
            lx->q++;
        else
            break;
    }
}

static void skip_op(struct lexer *lx)
{
    static const char *const two[] = {"..", "==", "~=", "<=", ">=", "//", "::", "<<", ">>", NULL};
    if (lx->end - lx->q >= 3 && memcmp(lx->q, "...", 3) == 0) {
        lx->q += 3;
        return;
    }
    if (lx->end - lx->q >= 2 && in_list(two, lx->q, 2)) {
        lx->q += 2;
        return;
    }
    lx->q++;
}

/* Tokenise a whole source; the last token is T_EOF. */
static int lex(struct scan *sc, const char *src, size_t len, struct tok **out, int *nout)
{
    struct lexer lx = {src, src + len, src, 1};
    struct tok *t = NULL;
    int n = 0, cap = 0;
    for (;;) {
        while (lx.q < lx.end) {
            if (is_nl(*lx.q)) {
                newline(&lx);
            } else if (isspace((unsigned char)*lx.q)) {
                lx.q++;
            } else if (lx.end - lx.q >= 2 && lx.q[0] == '-' && lx.q[1] == '-') {
                lx.q += 2;
                int level = lx.q < lx.end && *lx.q == '[' ? long_level(&lx) : -1;
                const char *body;
                size_t blen;
                if (level >= 0)
                    skip_long(&lx, level, &body, &blen);
                else
                    while (lx.q < lx.end && !is_nl(*lx.q))
                        lx.q++;
            } else {
                break;
            }
        }
        if (!RESERVE(t, n, cap, sc->oom)) {
            free(t);
            return -1;
        }
        struct tok *k = &t[n++];
        memset(k, 0, sizeof *k);
        k->s = lx.q;
        k->line = lx.line;
        k->col = (int)(lx.q - lx.bol) + 1;
        if (lx.q >= lx.end) {
            k->kind = T_EOF;
            break;
        }
        char c = *lx.q;
        if (isalpha((unsigned char)c) || c == '_') {
            while (lx.q < lx.end && (isalnum((unsigned char)*lx.q) || *lx.q == '_'))
                lx.q++;
            k->kind = in_list(keywords, k->s, (size_t)(lx.q - k->s)) ? T_KEYWORD : T_NAME;
        } else if (isdigit((unsigned char)c) ||
                   (c == '.' && lx.q + 1 < lx.end && isdigit((unsigned char)lx.q[1]))) {
            k->kind = T_NUMBER;
            skip_number(&lx);
        } else if (c == '"' || c == '\'') {
            k->kind = T_STRING;
            skip_quoted(&lx, k);
            continue;
        } else if (c == '[' && long_level(&lx) >= 0) {
            size_t blen;
            k->kind = T_STRING;
            skip_long(&lx, long_level(&lx), &k->s, &blen);
            k->len = (uint32_t)blen;
            continue;
        } else {
            k->kind = T_OP;
            skip_op(&lx);
        }
        k->len = (uint32_t)(lx.q - k->s);
    }
    *out = t;
    *nout = n;
    return 0;
}

/* The value of a string token, for checking URLs; false when it holds an
 * escape this does not decode, or a NUL (the URL then counts as computed). */
static bool string_value(const struct tok *t, char *out, size_t outsz)
{
    static const char from[] = "abfnrtv\\\"'", to[] = "\a\b\f\n\r\t\v\\\"'";
    size_t o = 0;
    for (uint32_t i = 0; i < t->len; i++) {
        int c = (unsigned char)t->s[i];
        if (t->escaped && c == '\\' && i + 1 < t->len) {
            char e = t->s[++i];
            const char *k = e ? strchr(from, e) : NULL;
            if (k) {
                c = to[k - from];
            } else if (e == 'x' && i + 2 < t->len && isxdigit((unsigned char)t->s[i + 1]) &&
                       isxdigit((unsigned char)t->s[i + 2])) {
                char hex[3] = {t->s[i + 1], t->s[i + 2], 0};
                c = (int)strtol(hex, NULL, 16);
                i += 2;
            } else if (isdigit((unsigned char)e)) {
                c = 0;
                for (int d = 0; d < 3 && i < t->len && isdigit((unsigned char)t->s[i]); d++)
                    c = c * 10 + (t->s[i++] - '0');
                i--;
            } else {
                return false;
            }
        }
        if (c == 0 || c > 255 || o + 1 >= outsz)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

/* ---- parser state ---- */

struct keyrec {
    int tok;                 /* a field name (NAME, or STRING of ["name"]) */
    int next;                /* next in the list, -1 at the end */
};

struct local {
    const char *name;
    size_t len;
    int keys, nkeys;         /* fields known to be set on it; nkeys > MAX_KEYS: overflowed */
    bool table_init;         /* initialised with a constructor: the keys are all there is */
    bool string_init;        /* initialised with a string literal or a concatenation */
    bool alias;              /* holds axon or a part of it, named by `host` */
    char host[HOST_PATH];
};

struct loop {
    int tok;                 /* `while` / `repeat` / `for` */
    int func;                /* the function the loop is in */
    bool exits;              /* a break/return/goto/error() leaves it */
};

enum shape { SH_NONE, SH_KEYS, SH_PARTIAL, SH_OPAQUE };

struct parser {
    struct scan *sc;
    const char *path;
    struct tok *t;
    int nt, i;
    struct local *loc;       /* a stack: a block's locals go at its end */
    int nloc, caploc;
    struct keyrec *keys;
    int nkeys, capkeys;
    struct loop *loops;
    int nloops, caploops;
    int func, nfuncs;        /* current function (0: the chunk) */
    int scope;               /* block depth inside the current function */
    int depth;               /* recursion */
    bool stop;
    /* What the chunk returns at its top level: the module's shape. */
    enum shape shape;
    int shape_keys, shape_nkeys, shape_tok;
};

enum ekind { EX_OTHER, EX_NIL, EX_TRUE, EX_FALSE, EX_STRING, EX_CONCAT, EX_TABLE, EX_LOCAL,
             EX_GLOBAL };

/* What the checks need to know about an expression. */
struct ex {
    enum ekind kind;
    int tok;                 /* first token */
    int keys, nkeys, nitems; /* EX_TABLE: named keys, all fields */
    int local;               /* EX_LOCAL: the slot */
    int root_local, root_global;   /* a suffixed expression's root name, or -1 */
    int field;               /* its only suffix's name when that is .name / ["name"], or -1 */
    int nsuffix;
    bool host;               /* axon or a path into it (no call, no index) */
    char path[HOST_PATH];    /* "deals.update"; "" for axon itself */
};

/* A use of a host path: a call or a reference. */
struct use {
    bool is_call, method;
    const struct ex *args;
    int nargs;
    int root, last;          /* first and last token of the path as written */
    int added;               /* names written after the root (0: all from an alias) */
};

static void ex_init(struct ex *e)
{
    memset(e, 0, sizeof *e);
    e->keys = e->local = e->root_local = e->root_global = e->field = -1;
}

static const struct tok *cur(const struct parser *p) { return &p->t[p->i]; }
static const struct tok *ahead(const struct parser *p, int k)
{
    return &p->t[p->i + k < p->nt ? p->i + k : p->nt - 1];
}
static bool teq(const struct tok *t, const char *s)
{
    return t->len == strlen(s) && memcmp(t->s, s, t->len) == 0;
}
static bool is(const struct tok *t, const char *s)
{
    return (t->kind == T_KEYWORD || t->kind == T_OP) && teq(t, s);
}
static bool check(const struct parser *p, const char *s) { return is(cur(p), s); }
static void next(struct parser *p)
{
    if (cur(p)->kind == T_EOF)
        p->stop = true;
    else
        p->i++;
}
static bool accept(struct parser *p, const char *s)
{
    if (!check(p, s))
        return false;
    next(p);
    return true;
}
static void expect(struct parser *p, const char *s)
{
    if (!accept(p, s))
        p->stop = true;
}
static int expect_name(struct parser *p)
{
    int i = p->i;
    if (cur(p)->kind == T_NAME)
        next(p);
    else
        p->stop = true;
    return i;
}
static bool block_follow(const struct parser *p)
{
    const struct tok *t = cur(p);
    return t->kind == T_EOF || is(t, "else") || is(t, "elseif") || is(t, "end") ||
           is(t, "until");
}

static void report(struct parser *p, enum rule r, bool error, int tok, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void report(struct parser *p, enum rule r, bool error, int tok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfinding(p->sc, p->path, p->t[tok].line, p->t[tok].col, r, error, fmt, ap);
    va_end(ap);
}

#define TXT(t) (int)(t)->len, (t)->s

/* ---- names ---- */

/* The innermost visible local of that name, or -1. A linear search, as in
 * Lua's own compiler, which has already run over the same source. */
static int find_local(const struct parser *p, const struct tok *t)
{
    for (int s = p->nloc - 1; s >= 0; s--)
        if (p->loc[s].len == t->len && memcmp(p->loc[s].name, t->s, t->len) == 0)
            return s;
    return -1;
}

static const char *const env_message =
    "_ENV is not available to packs: a script that reads or replaces its environment "
    "steps around the sandbox's checks";

static int declare_name(struct parser *p, const char *name, size_t len)
{
    if (!RESERVE(p->loc, p->nloc, p->caploc, p->sc->oom)) {
        p->stop = true;
        return -1;
    }
    struct local *l = &p->loc[p->nloc];
    memset(l, 0, sizeof *l);
    l->name = name;
    l->len = len;
    l->keys = -1;
    return p->nloc++;
}

static int declare(struct parser *p, int tok)
{
    if (teq(&p->t[tok], "_ENV"))
        report(p, R_FORBIDDEN, true, tok, "%s", env_message);
    return declare_name(p, p->t[tok].s, p->t[tok].len);
}

static void add_key(struct parser *p, int *head, int *count, int tok)
{
    if (*count >= MAX_KEYS) {
        *count = MAX_KEYS + 1;
        return;
    }
    if (!RESERVE(p->keys, p->nkeys, p->capkeys, p->sc->oom)) {
        p->stop = true;
        return;
    }
    p->keys[p->nkeys] = (struct keyrec){tok, *head};
    *head = p->nkeys++;
    (*count)++;
}

static const char *forbidden_hint(const char *name)
{
    static const struct {
        const char *prefix, *hint;
    } hints[] = {
        {"io", "packs have no file access; data comes and goes through axon.*"},
        {"os.", "only os.time, os.date and os.clock are available"},
        {"debug", "the debug library could break out of the sandbox"},
        {"package", "use require for the pack's own modules"},
        {"dofile", "use require for the pack's own modules"},
        {"loadfile", "use require for the pack's own modules"},
        {"string.dump", "bytecode is refused"},
        {"rawset", "globals and host tables are read-only"},
        {"collectgarbage", "memory is managed by the sandbox"},
        {NULL, NULL},
    };
    for (int i = 0; hints[i].prefix; i++)
        if (strncmp(name, hints[i].prefix, strlen(hints[i].prefix)) == 0)
            return hints[i].hint;
    return "it is not part of Lua 5.4's sandboxed subset";
}

static void forbidden(struct parser *p, int tok, const char *name)
{
    report(p, R_FORBIDDEN, true, tok, "%s is not available in the sandbox: %s", name,
           forbidden_hint(name));
}

/* A name read that is not a visible local. */
static void global_read(struct parser *p, int tok)
{
    const struct tok *t = &p->t[tok];
    char name[80];
    snprintf(name, sizeof name, "%.*s", TXT(t));
    if (teq(t, "_ENV"))
        report(p, R_FORBIDDEN, true, tok, "%s", env_message);
    else if (teq(t, "axon") || in_list(lua_rt_globals, t->s, t->len))
        return;
    else if (in_list(lua_rt_forbidden, t->s, t->len))
        forbidden(p, tok, name);
    else
        report(p, R_UNKNOWN_GLOBAL, false, tok,
               "'%s' is not a global of the sandbox (a typo, or a missing `local`?); "
               "reading it gives nil", name);
}

/* `lib.member` right after a global library name (or _G). */
static void global_member(struct parser *p, int root, int member)
{
    static const char *const libs[] = {"string", "table", "math", "utf8", "coroutine", "os",
                                       NULL};
    const struct tok *r = &p->t[root], *m = &p->t[member];
    if (teq(r, "_G")) {
        global_read(p, member);
        return;
    }
    if (!in_list(libs, r->s, r->len))
        return;
    char full[96];
    snprintf(full, sizeof full, "%.*s.%.*s", TXT(r), TXT(m));
    if (in_list(lua_rt_forbidden, full, strlen(full)))
        forbidden(p, root, full);
    else if (!in_list(lua_rt_library_members, full, strlen(full)))
        report(p, R_UNKNOWN_GLOBAL, false, root,
               "%s is not in the sandbox's %.*s library (a typo?); reading it gives nil", full,
               TXT(r));
}

/* ---- loops ---- */

static void loop_push(struct parser *p, int tok)
{
    if (!RESERVE(p->loops, p->nloops, p->caploops, p->sc->oom)) {
        p->stop = true;
        return;
    }
    p->loops[p->nloops++] = (struct loop){tok, p->func, false};
}

static void loop_pop(struct parser *p, bool forever)
{
    if (p->nloops == 0)
        return;
    struct loop *l = &p->loops[--p->nloops];
    if (forever && !l->exits && !p->stop)
        report(p, R_LOOP, true, l->tok,
               "%s has no break, return, goto or error() at its own level, so it only ends "
               "when the run is killed for its budget; give it an exit",
               is(&p->t[l->tok], "while") ? "while true" : "repeat ... until false");
}

/* return, goto and error() leave every loop of the current function. */
static void mark_exits(struct parser *p)
{
    for (int i = p->nloops - 1; i >= 0 && p->loops[i].func == p->func; i--)
        p->loops[i].exits = true;
}

/* ---- host API ---- */

/* Does axon.<name> hold functions (deals, notes, http, json…), rather than
 * being one (log) or holding data (settings, event)? */
static bool host_table(const char *name)
{
    static const char *const probes[] = {"get", "add", "request", "send", "encode", "fold",
                                         "match", NULL};
    char fn[HOST_PATH * 2], perm[128];
    for (int i = 0; probes[i]; i++) {
        snprintf(fn, sizeof fn, "%s.%s", name, probes[i]);
        if (pack_perm_for(fn, perm, sizeof perm) >= 0)
            return true;
    }
    return false;
}

/* "get, find, count" — the functions of axon.<table>, for messages. */
static void host_members(const char *table, char *out, size_t outsz)
{
    static const char *const verbs[] = {"get", "find", "count", "create", "update", "delete",
                                        "add", "request", "send", "post", "put", "encode",
                                        "decode", "fold", "contains", "length", "match",
                                        "profile", NULL};
    char fn[HOST_PATH * 2], perm[128];
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; verbs[i] && o < outsz; i++) {
        snprintf(fn, sizeof fn, "%s.%s", table, verbs[i]);
        if (pack_perm_for(fn, perm, sizeof perm) >= 0)
            o += (size_t)snprintf(out + o, outsz - o, "%s%s", o ? ", " : "", verbs[i]);
    }
}

/* "axon.deals.update", plus " (as db.update)" when written through an alias. */
static void display_name(const struct parser *p, const char *fn, const struct use *u,
                         char *out, size_t outsz)
{
    const struct tok *a = &p->t[u->root], *b = &p->t[u->last];
    size_t n = (size_t)(b->s + b->len - a->s);
    char canon[HOST_PATH + 8];
    snprintf(canon, sizeof canon, "axon.%s", fn);
    if (n > 60 || memchr(a->s, '\n', n) || (n == strlen(canon) && !memcmp(a->s, canon, n)))
        snprintf(out, outsz, "%s", canon);
    else
        snprintf(out, outsz, "%s (as %.*s)", canon, (int)n, a->s);
}

static bool has_http_permission(json_t *declared)
{
    size_t i;
    json_t *v;
    json_array_foreach(declared, i, v) {
        const char *s = json_string_value(v);
        if (s && strncmp(s, "http:", 5) == 0)
            return true;
    }
    return false;
}

/* Could a URL starting with `head` fall under a declared prefix? */
static bool url_head_could_match(json_t *declared, const char *head)
{
    size_t i, n = strlen(head);
    json_t *v;
    json_array_foreach(declared, i, v) {
        const char *s = json_string_value(v);
        if (!s || strncmp(s, "http:", 5) != 0)
            continue;
        size_t m = strlen(s + 5);
        if (strncmp(s + 5, head, m < n ? m : n) == 0)
            return true;
    }
    return false;
}

static void check_http(struct parser *p, const char *name, const struct use *u)
{
    json_t *declared = p->sc->declared;
    const struct ex *a = u->is_call && u->nargs > 0 ? &u->args[0] : NULL;
    char url[600];
    /* A literal URL, or a concatenation that starts with one. */
    if (a && (a->kind == EX_STRING || a->kind == EX_CONCAT) && p->t[a->tok].kind == T_STRING &&
        string_value(&p->t[a->tok], url, sizeof url)) {
        if (pack_perm_url_allowed(declared, url))
            return;
        if (a->kind == EX_STRING || !url_head_could_match(declared, url)) {
            report(p, R_PERMISSION, true, a->tok,
                   "%s to %s%s is not under a declared http:<url prefix> permission (it "
                   "declares: %s)", name, url, a->kind == EX_CONCAT ? "…" : "",
                   p->sc->declared_text);
            return;
        }
    }
    if (u->added == 0)      /* through an alias: reported where the alias was made */
        return;
    if (!has_http_permission(declared))
        report(p, R_PERMISSION, true, u->root,
               "%s needs an http:<url prefix> permission, which the manifest does not declare "
               "(it declares: %s)", name, p->sc->declared_text);
    else
        report(p, R_PERMISSION, false, u->root,
               "%s: the URL is computed at run time, so the scan cannot check it against the "
               "declared http: prefixes; the host checks it on every call", name);
}

static void check_protected(struct parser *p, const char *object, int ktok, const char *name)
{
    static const char *const system_fields[] = {"id", "version", "created_at", "updated_at",
                                                "created_by", "tenant_id", NULL};
    const struct tok *k = &p->t[ktok];
    if (in_list(system_fields, k->s, k->len)) {
        report(p, R_PROTECTED, true, ktok,
               "%s sets '%.*s', a system field the server maintains; packs may not write it",
               name, TXT(k));
        return;
    }
    const char *const *pf = p->sc->in->protected_fields;
    char full[128];
    snprintf(full, sizeof full, "%s.%.*s", object, TXT(k));
    if (pf && in_list(pf, full, strlen(full)))
        report(p, R_PROTECTED, true, ktok,
               "%s sets '%.*s', a protected field (%s) that only the server writes", name,
               TXT(k), full);
}

/* The keys a call argument is known to carry: a constructor's, or those
 * set on a local table before the call. */
static int arg_keys(const struct parser *p, const struct ex *a)
{
    if (a->kind == EX_TABLE)
        return a->keys;
    if (a->kind == EX_LOCAL)
        return p->loc[a->local].keys;
    return -1;
}

static void check_args(struct parser *p, const char *fn, const struct use *u, const char *name)
{
    const char *dot = strchr(fn, '.');
    if (!dot)
        return;
    const char *verb = dot + 1;
    char object[HOST_PATH];
    snprintf(object, sizeof object, "%.*s", (int)(dot - fn), fn);
    if (!strcmp(verb, "create") || !strcmp(verb, "update") || !strcmp(fn, "notes.add") ||
        !strcmp(fn, "tasks.add")) {
        if (!strcmp(verb, "add"))
            snprintf(object, sizeof object, "activities");
        for (int i = 0; i < u->nargs && i < MAX_ARGS; i++)
            for (int k = arg_keys(p, &u->args[i]); k >= 0; k = p->keys[k].next)
                check_protected(p, object, p->keys[k].tok, name);
    } else if (!strcmp(verb, "find") || !strcmp(verb, "count")) {
        const struct ex *f = u->nargs ? &u->args[0] : NULL;
        if (f && (f->kind == EX_STRING || f->kind == EX_CONCAT ||
                  (f->kind == EX_LOCAL && p->loc[f->local].string_init)))
            report(p, R_STRING_QUERY, true, f->tok,
                   "%s takes its filter as a table ({stage = \"won\"}), never as a string: a "
                   "string built from data can change what the query means", name);
        else if (!strcmp(verb, "find") &&
                 (!f || f->kind == EX_NIL || (f->kind == EX_TABLE && f->nitems == 0)))
            report(p, R_FIND, false, u->root,
                   "%s without a filter reads every record of the table; pass a filter such as "
                   "{stage = \"won\"}", name);
    }
}

/* A path into the host API is used: called, or taken as a value. */
static void host_use(struct parser *p, const char *path, const struct use *u)
{
    char a[HOST_PATH], fn[HOST_PATH], perm[128], name[160], members[160];
    if (!*path)
        return;                                 /* axon itself */
    size_t alen = strcspn(path, "."), flen = alen;
    if (path[alen] == '.')                      /* "deals.update.x": the function is deals.update */
        flen += 1 + strcspn(path + alen + 1, ".");
    snprintf(a, sizeof a, "%.*s", (int)alen, path);
    snprintf(fn, sizeof fn, "%.*s", (int)flen, path);
    /* A pack's tests have axon.test, and run without permission checks
     * (the handlers they trigger are checked as always). */
    bool test_file = !strncmp(p->path, "tests/", 6);
    if (test_file && !strcmp(a, "test"))
        return;
    int r = pack_perm_for(fn, perm, sizeof perm);
    if (r < 0) {
        if (u->added == 0)
            return;
        if (path[alen] && host_table(a)) {
            host_members(a, members, sizeof members);
            report(p, R_UNKNOWN_API, true, u->root,
                   "axon.%s is not a function of axon.%s (it has: %s)", fn, a, members);
        } else if (pack_perm_for(a, perm, sizeof perm) < 0 && !host_table(a)) {
            report(p, R_UNKNOWN_API, true, u->root, "axon.%s is not part of the host API", a);
        }
        return;                                 /* a table, or data (settings, event) */
    }
    if (r == 0) {
        if (u->is_call && !strcmp(fn, "reject"))
            mark_exits(p);
        return;
    }
    display_name(p, fn, u, name, sizeof name);
    if (test_file)
        ;
    else if (!strcmp(perm, "http"))
        check_http(p, name, u);
    else if (u->added > 0 && !pack_perm_has(p->sc->declared, perm))
        report(p, R_PERMISSION, true, u->root,
               "%s needs permission %s, which the manifest does not declare (it declares: %s)",
               name, perm, p->sc->declared_text);
    if (u->is_call && !u->method)
        check_args(p, fn, u, name);
}

/* Calls of plain globals that matter: error() leaves loops, and
 * setmetatable(_G, …) would rewrite the environment. */
static void builtin_call(struct parser *p, int root, const struct ex *args, int nargs)
{
    const struct tok *t = &p->t[root];
    if (teq(t, "error")) {
        mark_exits(p);
    } else if (teq(t, "setmetatable") && nargs > 0 && args[0].kind == EX_GLOBAL &&
               (teq(&p->t[args[0].tok], "_G") || teq(&p->t[args[0].tok], "_ENV"))) {
        report(p, R_GLOBAL_WRITE, true, root,
               "setmetatable(%.*s, …) changes the global environment, which is read-only to "
               "packs", TXT(&p->t[args[0].tok]));
    }
}

/* ---- expressions ---- */

static void expr(struct parser *p, struct ex *e);
static void block(struct parser *p);

static int exprlist(struct parser *p, struct ex *out, int max)
{
    int n = 0;
    do {
        struct ex spare;
        ex_init(&spare);
        expr(p, n < max ? &out[n] : &spare);
        n++;
    } while (!p->stop && accept(p, ","));
    return n;
}

static void constructor(struct parser *p, struct ex *e)
{
    e->kind = EX_TABLE;
    e->tok = p->i;
    expect(p, "{");
    while (!p->stop && !check(p, "}")) {
        struct ex v;
        ex_init(&v);
        if (accept(p, "[")) {
            int k = p->i;
            expr(p, &v);
            expect(p, "]");
            expect(p, "=");
            if (v.kind == EX_STRING)
                add_key(p, &e->keys, &e->nkeys, k);
            ex_init(&v);
        } else if (cur(p)->kind == T_NAME && is(ahead(p, 1), "=")) {
            add_key(p, &e->keys, &e->nkeys, p->i);
            next(p);
            next(p);
        }
        expr(p, &v);
        e->nitems++;
        if (!accept(p, ",") && !accept(p, ";"))
            break;
    }
    expect(p, "}");
}

static void body(struct parser *p, bool method)
{
    int saved_loc = p->nloc, saved_func = p->func, saved_scope = p->scope;
    p->func = ++p->nfuncs;
    p->scope = 0;
    if (method)
        declare_name(p, "self", 4);
    expect(p, "(");
    if (!check(p, ")"))
        do {
            if (accept(p, "..."))
                break;
            declare(p, expect_name(p));
        } while (!p->stop && accept(p, ","));
    expect(p, ")");
    block(p);
    expect(p, "end");
    p->nloc = saved_loc;
    p->func = saved_func;
    p->scope = saved_scope;
}

static int call_args(struct parser *p, struct ex *a)
{
    for (int k = 0; k < MAX_ARGS; k++)
        ex_init(&a[k]);
    if (cur(p)->kind == T_STRING) {
        a[0].kind = EX_STRING;
        a[0].tok = p->i;
        next(p);
        return 1;
    }
    if (check(p, "{")) {
        constructor(p, &a[0]);
        return 1;
    }
    expect(p, "(");
    int n = check(p, ")") ? 0 : exprlist(p, a, MAX_ARGS);
    expect(p, ")");
    return n;
}

static bool append_path(char *path, const struct tok *name)
{
    size_t n = strlen(path);
    int w = snprintf(path + n, HOST_PATH - n, "%s%.*s", n ? "." : "", TXT(name));
    return w > 0 && (size_t)w < HOST_PATH - n;
}

/* name / (exp), then any of .name [exp] :name(args) (args). */
static void suffixedexp(struct parser *p, struct ex *e)
{
    int root = p->i;
    const struct tok *t = cur(p);
    if (t->kind == T_NAME) {
        int s = find_local(p, t);
        if (s >= 0) {
            e->kind = EX_LOCAL;
            e->local = e->root_local = s;
            if ((e->host = p->loc[s].alias))
                snprintf(e->path, sizeof e->path, "%s", p->loc[s].host);
        } else {
            e->kind = EX_GLOBAL;
            e->root_global = root;
            global_read(p, root);
            e->host = teq(t, "axon");
        }
        next(p);
    } else if (accept(p, "(")) {
        struct ex inner;
        ex_init(&inner);
        expr(p, &inner);
        expect(p, ")");
    } else {
        p->stop = true;
        return;
    }
    struct use u = {.root = root, .last = root};
    struct ex args[MAX_ARGS];
    while (!p->stop) {
        if (accept(p, ".")) {
            int m = expect_name(p);
            if (e->nsuffix == 0) {
                e->field = m;
                if (e->root_global >= 0)
                    global_member(p, root, m);
            }
            if (e->host) {
                e->host = append_path(e->path, &p->t[m]);
                u.added++;
                u.last = m;
            }
        } else if (accept(p, "[")) {
            struct ex ix;
            ex_init(&ix);
            int k = p->i;
            expr(p, &ix);
            expect(p, "]");
            if (e->nsuffix == 0 && ix.kind == EX_STRING)
                e->field = k;
            if (e->host && u.added > 0)
                host_use(p, e->path, &u);
            e->host = false;
        } else if (accept(p, ":")) {
            int m = expect_name(p);
            int n = call_args(p, args);
            if (e->host && append_path(e->path, &p->t[m])) {
                u = (struct use){true, true, args, n, root, m, u.added + 1};
                host_use(p, e->path, &u);
            }
            e->host = false;
        } else if (check(p, "(") || check(p, "{") || cur(p)->kind == T_STRING) {
            int n = call_args(p, args);
            u.is_call = true;
            u.args = args;
            u.nargs = n;
            if (e->host)
                host_use(p, e->path, &u);
            else if (e->nsuffix == 0 && e->root_global >= 0)
                builtin_call(p, root, args, n);
            e->host = false;
        } else {
            break;
        }
        e->nsuffix++;
    }
    if (e->nsuffix > 0)
        e->kind = EX_OTHER;
    if (e->nsuffix != 1)
        e->field = -1;
    if (e->host && u.added > 0)       /* a reference: `local f = axon.deals.update` */
        host_use(p, e->path, &u);
}

static void simpleexp(struct parser *p, struct ex *e)
{
    const struct tok *t = cur(p);
    if (t->kind == T_NUMBER || is(t, "...")) {
        next(p);
    } else if (t->kind == T_STRING) {
        e->kind = EX_STRING;
        next(p);
    } else if (is(t, "nil") || is(t, "true") || is(t, "false")) {
        e->kind = is(t, "nil") ? EX_NIL : is(t, "true") ? EX_TRUE : EX_FALSE;
        next(p);
    } else if (is(t, "{")) {
        constructor(p, e);
    } else if (is(t, "function")) {
        next(p);
        body(p, false);
    } else {
        suffixedexp(p, e);
    }
}

static bool is_unop(const struct tok *t)
{
    return is(t, "not") || is(t, "-") || is(t, "#") || is(t, "~");
}

static bool is_binop(const struct tok *t)
{
    static const char *const ops[] = {"+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<",
                                      "<=", ">", ">=", "and", "or", "&", "|", "~", "<<", ">>",
                                      NULL};
    return (t->kind == T_OP || t->kind == T_KEYWORD) && in_list(ops, t->s, t->len);
}

/* Precedence does not matter here: only whether operators were used. */
static void expr(struct parser *p, struct ex *e)
{
    if (p->depth >= MAX_DEPTH) {
        p->stop = true;
        return;
    }
    p->depth++;
    int start = p->i;
    bool ops = false, concat = false;
    for (; is_unop(cur(p)); ops = true)
        next(p);
    simpleexp(p, e);
    while (!p->stop && is_binop(cur(p))) {
        concat |= check(p, "..");
        ops = true;
        next(p);
        while (is_unop(cur(p)))
            next(p);
        struct ex rhs;
        ex_init(&rhs);
        simpleexp(p, &rhs);
    }
    if (ops) {
        e->kind = concat ? EX_CONCAT : EX_OTHER;
        e->host = false;
    }
    e->tok = start;
    p->depth--;
}

/* ---- statements ---- */

static void init_local(struct parser *p, int s, const struct ex *e)
{
    struct local *l = &p->loc[s];
    if ((l->alias = e->host))
        snprintf(l->host, sizeof l->host, "%s", e->path);
    l->string_init = e->kind == EX_STRING || e->kind == EX_CONCAT;
    if ((l->table_init = e->kind == EX_TABLE)) {
        l->keys = e->keys;
        l->nkeys = e->nkeys;
    }
}

static void scoped_block(struct parser *p)
{
    int saved = p->nloc;
    p->scope++;
    block(p);
    p->scope--;
    p->nloc = saved;
}

static void local_stat(struct parser *p)
{
    int names[MAX_NAMES], n = 0, nv = 0;
    struct ex vals[MAX_ARGS];
    do {
        int t = expect_name(p);
        if (n < MAX_NAMES)
            names[n++] = t;
        if (accept(p, "<")) {                   /* <const>, <close> */
            expect_name(p);
            expect(p, ">");
        }
    } while (!p->stop && accept(p, ","));
    for (int k = 0; k < MAX_ARGS; k++)
        ex_init(&vals[k]);
    if (accept(p, "="))
        nv = exprlist(p, vals, MAX_ARGS);
    for (int k = 0; k < n && !p->stop; k++) {
        int s = declare(p, names[k]);
        if (s >= 0 && k < nv && k < MAX_ARGS)
            init_local(p, s, &vals[k]);
    }
}

static void for_stat(struct parser *p)
{
    int at = p->i, names[MAX_NAMES], n = 0;
    next(p);
    names[n++] = expect_name(p);
    if (accept(p, "=")) {
        exprlist(p, NULL, 0);
    } else {
        while (!p->stop && accept(p, ",")) {
            int t = expect_name(p);
            if (n < MAX_NAMES)
                names[n++] = t;
        }
        expect(p, "in");
        exprlist(p, NULL, 0);
    }
    expect(p, "do");
    loop_push(p, at);
    int saved = p->nloc;
    p->scope++;
    for (int k = 0; k < n; k++)
        declare(p, names[k]);
    block(p);
    p->scope--;
    p->nloc = saved;
    expect(p, "end");
    loop_pop(p, false);
}

static void func_stat(struct parser *p)
{
    next(p);
    int n = expect_name(p), field = -1, nsuffix = 0;
    int s = find_local(p, &p->t[n]);
    bool method = false;
    while (!p->stop && (check(p, ".") || check(p, ":"))) {
        method = check(p, ":");
        next(p);
        int m = expect_name(p);
        if (nsuffix++ == 0)
            field = m;
        if (method)
            break;
    }
    const struct tok *t = &p->t[n];
    if (s >= 0) {
        if (nsuffix == 1)
            add_key(p, &p->loc[s].keys, &p->loc[s].nkeys, field);
    } else if (nsuffix == 0) {
        report(p, R_GLOBAL_WRITE, true, n,
               "function %.*s defines a global, and globals are read-only in the sandbox; "
               "write `local function %.*s` or put it in the module's table", TXT(t), TXT(t));
    } else {
        global_read(p, n);
        if (nsuffix == 1)
            report(p, R_GLOBAL_WRITE, true, n,
                   "function %.*s.%.*s adds to the global table %.*s, which is read-only",
                   TXT(t), TXT(&p->t[field]), TXT(t));
    }
    body(p, method);
}

/* `name =` or `name,` in an assignment: a local, or a write to a global. */
static int assign_name(struct parser *p, int tok)
{
    const struct tok *t = &p->t[tok];
    int s = find_local(p, t);
    if (s >= 0) {
        struct local *l = &p->loc[s];
        l->alias = l->string_init = l->table_init = false;
    } else if (teq(t, "_ENV")) {
        report(p, R_FORBIDDEN, true, tok, "%s", env_message);
    } else {
        report(p, R_GLOBAL_WRITE, true, tok,
               "assignment to the global '%.*s': globals are read-only in the sandbox; declare "
               "it with `local %.*s`", TXT(t), TXT(t));
    }
    return s;
}

/* `x.name =` / `x["name"] =` / `x[k] =` as an assignment target. */
static void assign_field(struct parser *p, const struct ex *e)
{
    if (e->nsuffix != 1)
        return;                                 /* deeper writes are not followed */
    if (e->root_local >= 0) {
        struct local *l = &p->loc[e->root_local];
        if (e->field >= 0)
            add_key(p, &l->keys, &l->nkeys, e->field);
        else
            l->table_init = false;              /* M[k] = v: the keys are not known */
    } else if (e->root_global >= 0) {
        const struct tok *r = &p->t[e->root_global];
        if (e->field >= 0)
            report(p, R_GLOBAL_WRITE, true, e->root_global,
                   "assignment to %.*s.%.*s changes the global table %.*s, which is read-only",
                   TXT(r), TXT(&p->t[e->field]), TXT(r));
        else
            report(p, R_GLOBAL_WRITE, true, e->root_global,
                   "assignment into the global table %.*s, which is read-only", TXT(r));
    }
}

static void expr_stat(struct parser *p)
{
    int ntargets = 0, single = -1;
    for (;;) {
        if (cur(p)->kind == T_NAME && (is(ahead(p, 1), "=") || is(ahead(p, 1), ","))) {
            single = assign_name(p, p->i);
            next(p);
        } else if (cur(p)->kind == T_NAME && is(ahead(p, 1), ".") &&
                   ahead(p, 2)->kind == T_NAME &&
                   (is(ahead(p, 3), "=") || is(ahead(p, 3), ","))) {
            /* x.name = : written, not read, so no member check */
            struct ex e;
            ex_init(&e);
            e.nsuffix = 1;
            e.field = p->i + 2;
            if ((e.root_local = find_local(p, cur(p))) < 0) {
                e.root_global = p->i;
                global_read(p, p->i);
            }
            assign_field(p, &e);
            p->i += 3;
            single = -1;
        } else {
            struct ex e;
            ex_init(&e);
            suffixedexp(p, &e);
            if (ntargets == 0 && !check(p, "=") && !check(p, ","))
                return;                         /* a call statement */
            assign_field(p, &e);
            single = -1;
        }
        ntargets++;
        if (p->stop || !accept(p, ","))
            break;
    }
    expect(p, "=");
    struct ex v[MAX_ARGS];
    for (int k = 0; k < MAX_ARGS; k++)
        ex_init(&v[k]);
    int nv = exprlist(p, v, MAX_ARGS);
    if (ntargets == 1 && single >= 0 && nv == 1 && !p->stop)
        init_local(p, single, &v[0]);
}

/* A return at the chunk's top level says what the module exports. */
static void return_stat(struct parser *p, int at)
{
    struct ex e;
    int n = 0;
    mark_exits(p);
    ex_init(&e);
    if (!block_follow(p) && !check(p, ";"))
        n = exprlist(p, &e, 1);
    accept(p, ";");
    if (p->func != 0 || p->scope != 0)
        return;
    p->shape_tok = at;
    p->shape = SH_OPAQUE;
    if (n == 0 || (n == 1 && e.kind == EX_NIL)) {
        p->shape = SH_NONE;
    } else if (n == 1 && e.kind == EX_TABLE) {
        p->shape = SH_KEYS;
        p->shape_keys = e.keys;
        p->shape_nkeys = e.nkeys;
    } else if (n == 1 && e.kind == EX_LOCAL) {
        const struct local *l = &p->loc[e.local];
        p->shape = l->table_init ? SH_KEYS : SH_PARTIAL;
        p->shape_keys = l->keys;
        p->shape_nkeys = l->nkeys;
    }
    if (p->shape == SH_KEYS && p->shape_nkeys > MAX_KEYS)
        p->shape = SH_PARTIAL;
}

static void statement(struct parser *p)
{
    int at = p->i;
    struct ex c;
    ex_init(&c);
    if (accept(p, ";")) {
    } else if (accept(p, "if")) {
        do {
            expr(p, &c);
            expect(p, "then");
            scoped_block(p);
        } while (!p->stop && accept(p, "elseif"));
        if (accept(p, "else"))
            scoped_block(p);
        expect(p, "end");
    } else if (accept(p, "while")) {
        expr(p, &c);
        expect(p, "do");
        loop_push(p, at);
        scoped_block(p);
        expect(p, "end");
        loop_pop(p, c.kind == EX_TRUE);
    } else if (accept(p, "do")) {
        scoped_block(p);
        expect(p, "end");
    } else if (check(p, "for")) {
        for_stat(p);
    } else if (accept(p, "repeat")) {
        int saved = p->nloc;                    /* `until` sees the body's locals */
        loop_push(p, at);
        p->scope++;
        block(p);
        expect(p, "until");
        expr(p, &c);
        p->scope--;
        p->nloc = saved;
        loop_pop(p, c.kind == EX_FALSE || c.kind == EX_NIL);
    } else if (check(p, "function")) {
        func_stat(p);
    } else if (accept(p, "local")) {
        if (accept(p, "function")) {
            declare(p, expect_name(p));
            body(p, false);
        } else {
            local_stat(p);
        }
    } else if (accept(p, "::")) {
        expect_name(p);
        expect(p, "::");
    } else if (accept(p, "return")) {
        return_stat(p, at);
    } else if (accept(p, "break")) {
        if (p->nloops > 0 && p->loops[p->nloops - 1].func == p->func)
            p->loops[p->nloops - 1].exits = true;
    } else if (accept(p, "goto")) {
        expect_name(p);
        mark_exits(p);
    } else {
        expr_stat(p);
    }
}

static void block(struct parser *p)
{
    if (p->depth >= MAX_DEPTH) {
        p->stop = true;
        return;
    }
    p->depth++;
    while (!p->stop && !block_follow(p))
        statement(p);
    p->depth--;
}

/* ---- handlers ---- */

struct handler_ref {
    const char *fn;                  /* "route.assign" */
    char module_path[256];           /* "route.lua"; "" when fn is malformed */
    char func[128];
    char what[128];                  /* "the handler for tickets.created (before)" */
};

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "?";
}

static int collect_handlers(json_t *manifest, struct handler_ref **out)
{
    json_t *lists[2] = {json_object_get(manifest, "handlers"),
                        json_object_get(manifest, "schedules")};
    size_t n = json_array_size(lists[0]) + json_array_size(lists[1]), i, k = 0;
    struct handler_ref *h = calloc(n ? n : 1, sizeof *h);
    if (!h)
        return -1;
    for (int l = 0; l < 2; l++) {
        json_t *v;
        json_array_foreach(lists[l], i, v) {
            const char *fn = json_string_value(json_object_get(v, "fn"));
            if (!fn)
                continue;
            struct handler_ref *r = &h[k++];
            r->fn = fn;
            if (l == 0)
                snprintf(r->what, sizeof r->what, "the handler for %s (%s)",
                         jstr(v, "event"), jstr(v, "phase"));
            else if (json_object_get(v, "every"))
                snprintf(r->what, sizeof r->what, "the schedule every %s",
                         jstr(v, "every"));
            else
                snprintf(r->what, sizeof r->what, "the daily schedule at %s",
                         jstr(v, "daily"));
            const char *dot = strrchr(fn, '.');
            if (!dot || dot == fn || !dot[1] || (size_t)(dot - fn) > 200)
                continue;
            snprintf(r->func, sizeof r->func, "%s", dot + 1);
            int w = snprintf(r->module_path, sizeof r->module_path, "%.*s.lua", (int)(dot - fn),
                             fn);
            for (int c = 0; c < w - 4; c++)
                if (r->module_path[c] == '.')
                    r->module_path[c] = '/';
        }
    }
    *out = h;
    return (int)k;
}

/* A handler whose module is this file: does the module export its function? */
static void check_handler(struct parser *p, const struct handler_ref *h)
{
    int tok = p->shape == SH_NONE ? (p->nt > 1 ? p->nt - 2 : 0) : p->shape_tok;
    char defined[400];
    size_t o = 0;
    defined[0] = '\0';
    if (p->shape == SH_KEYS || p->shape == SH_PARTIAL) {
        int ks[MAX_KEYS], n = 0;
        for (int k = p->shape_keys; k >= 0 && n < MAX_KEYS; k = p->keys[k].next) {
            if (teq(&p->t[p->keys[k].tok], h->func))
                return;
            ks[n++] = p->keys[k].tok;
        }
        while (n-- > 0 && o + 40 < sizeof defined)     /* in source order */
            o += (size_t)snprintf(defined + o, sizeof defined - o, "%s%.*s", o ? ", " : "",
                                  TXT(&p->t[ks[n]]));
    }
    if (p->shape == SH_NONE)
        report(p, R_HANDLER, true, tok,
               "%s calls %s, but %s returns no table of functions; end the module with "
               "`return M`", h->what, h->fn, p->path);
    else if (p->shape == SH_KEYS)
        report(p, R_HANDLER, true, tok, "%s calls %s, but %s does not define %s (it defines: %s)",
               h->what, h->fn, p->path, h->func, o ? defined : "nothing");
    else
        report(p, R_HANDLER, false, tok,
               "%s calls %s; the scan cannot tell whether %s defines %s (the module's table is "
               "not built from `local M = {…}` / `function M.%s(` / `return {…}`), so it is "
               "checked when the pack runs", h->what, h->fn, p->path, h->func, h->func);
}

/* ---- per file ---- */

static bool compiles(struct scan *sc, lua_State *L, const struct scan_file *f)
{
    char chunk[300];
    snprintf(chunk, sizeof chunk, "=%s", f->path);
    int rc = luaL_loadbufferx(L, f->src, f->len, chunk, "t");
    if (rc == LUA_OK) {
        lua_pop(L, 1);
        return true;
    }
    if (rc == LUA_ERRMEM)
        sc->oom = true;
    /* "route.lua:12: unexpected symbol near 'x'" (the name may be shortened) */
    const char *msg = lua_tostring(L, -1), *s = msg ? msg : "does not compile";
    int line = 1;
    for (const char *c = s; (c = strchr(c, ':')) != NULL; c++) {
        char *end;
        long v = strtol(c + 1, &end, 10);
        if (end > c + 1 && isdigit((unsigned char)c[1]) && *end == ':') {
            line = (int)v;
            s = end[1] == ' ' ? end + 2 : end + 1;
            break;
        }
    }
    finding(sc, f->path, line, 0, R_SYNTAX, true, "%s", s);
    lua_pop(L, 1);
    return false;
}

static void scan_file(struct scan *sc, const struct scan_file *f, const struct handler_ref *h,
                      int nh)
{
    struct parser p;
    memset(&p, 0, sizeof p);
    p.sc = sc;
    p.path = f->path;
    p.shape_keys = -1;
    if (lex(sc, f->src, f->len, &p.t, &p.nt) < 0)
        return;
    block(&p);
    for (int i = 0; i < nh; i++)
        if (!strcmp(h[i].module_path, f->path))
            check_handler(&p, &h[i]);
    free(p.t);
    free(p.loc);
    free(p.keys);
    free(p.loops);
}

static int by_place(const void *a, const void *b)
{
    const struct finding *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void describe_declared(struct scan *sc)
{
    size_t i, o = 0;
    json_t *v;
    sc->declared_text[0] = '\0';
    json_array_foreach(sc->declared, i, v) {
        const char *s = json_string_value(v);
        if (s && o + 4 < sizeof sc->declared_text)
            o += (size_t)snprintf(sc->declared_text + o, sizeof sc->declared_text - o, "%s%s",
                                  o ? ", " : "", s);
    }
    if (!o)
        snprintf(sc->declared_text, sizeof sc->declared_text, "no permissions");
}

int pack_scan(const struct scan_input *in, json_t *findings, struct ax_err *err)
{
    struct scan sc;
    struct handler_ref *h = NULL;
    memset(&sc, 0, sizeof sc);
    sc.in = in;
    sc.declared = json_object_get(in->manifest, "permissions");
    describe_declared(&sc);
    int nh = collect_handlers(in->manifest, &h);
    lua_State *L = nh < 0 ? NULL : luaL_newstate();
    if (!L) {
        free(h);
        return ax_fail(err, AX_EINTERNAL, "out of memory for the compliance scan");
    }
    for (int i = 0; i < in->nfiles && !sc.oom; i++) {
        if (compiles(&sc, L, &in->files[i]))
            scan_file(&sc, &in->files[i], h, nh);
        flush_file(&sc, in->files[i].path);
    }
    lua_close(L);
    for (int i = 0; i < nh; i++) {
        bool found = false;
        for (int k = 0; k < in->nfiles && !found; k++)
            found = !strcmp(h[i].module_path, in->files[k].path);
        if (!h[i].module_path[0])
            finding(&sc, "pack.lua", 0, 0, R_HANDLER, true,
                    "%s names '%s', which is not <module>.<function>", h[i].what, h[i].fn);
        else if (!found)
            finding(&sc, "pack.lua", 0, 0, R_HANDLER, true,
                    "%s calls %s, but the pack has no %s", h[i].what, h[i].fn,
                    h[i].module_path);
    }
    flush_file(&sc, "pack.lua");
    free(h);

    int errors = 0;
    if (sc.nf)
        qsort(sc.f, (size_t)sc.nf, sizeof *sc.f, by_place);
    for (int i = 0; i < sc.nf; i++) {
        const struct finding *f = &sc.f[i];
        json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s, s:s}", "file", f->file, "line",
                              f->line, "column", f->col, "severity",
                              f->error ? "error" : "warning", "rule", rule_names[f->rule],
                              "message", f->msg);
        if (!o || json_array_append_new(findings, o) < 0)
            sc.oom = true;
        errors += f->error;
        free(f->msg);
    }
    free(sc.f);
    if (sc.oom)
        return ax_fail(err, AX_EINTERNAL, "out of memory for the compliance scan");
    return errors;
}
