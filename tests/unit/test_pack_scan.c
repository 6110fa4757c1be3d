/* test_pack_scan.c - the static compliance scan: each rule on a minimal
 * example (rule, line, severity), the permission acceptance case, and the
 * things that must not trigger (shadowing locals, strings, comments). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "axon/pack_scan.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST(perms, handlers)                                                      \
    "{\"name\":\"t\",\"version\":\"1.0.0\",\"scope\":\"tenant\",\"permissions\":" perms \
    ",\"handlers\":" handlers ",\"schedules\":[]}"

static const char *const protected_fields[] = {"deals.stage_changed_at", "tickets.sla_due",
                                               NULL};

struct result {
    int errors;
    json_t *findings;
};

/* Scan files given as path, source, path, source, …, NULL. */
static struct result scan(const char *manifest, ...)
{
    struct scan_file files[8];
    int n = 0;
    va_list ap;
    va_start(ap, manifest);
    for (const char *path; n < 8 && (path = va_arg(ap, const char *)) != NULL; n++) {
        const char *src = va_arg(ap, const char *);
        files[n] = (struct scan_file){path, src, strlen(src)};
    }
    va_end(ap);
    json_error_t jerr;
    json_t *m = json_loads(manifest, 0, &jerr);
    if (!m)
        fail_msg("bad test manifest: %s", jerr.text);
    struct scan_input in = {files, n, m, protected_fields};
    struct ax_err err;
    ax_err_clear(&err);
    struct result r = {0, json_array()};
    r.errors = pack_scan(&in, r.findings, &err);
    json_decref(m);
    if (r.errors < 0)
        fail_msg("scan failed: %s", err.detail);
    return r;
}

/* One file "m.lua" under a manifest that declares `perms`. */
static struct result scan_src(const char *perms_json, const char *src)
{
    char manifest[512];
    snprintf(manifest, sizeof manifest, MANIFEST("%s", "[]"), perms_json);
    return scan(manifest, "m.lua", src, NULL);
}

static void dump(const struct result *r)
{
    char *s = json_dumps(r->findings, JSON_INDENT(1));
    print_message("findings: %s\n", s);
    free(s);
}

static void assert_finding(const struct result *r, size_t i, const char *file, int line,
                           const char *severity, const char *rule)
{
    json_t *f = json_array_get(r->findings, i);
    if (!f) {
        dump(r);
        fail_msg("no finding %zu", i);
    }
    if (strcmp(json_string_value(json_object_get(f, "rule")), rule) ||
        strcmp(json_string_value(json_object_get(f, "file")), file) ||
        json_integer_value(json_object_get(f, "line")) != line ||
        strcmp(json_string_value(json_object_get(f, "severity")), severity)) {
        dump(r);
        fail_msg("finding %zu: expected %s %s:%d %s", i, rule, file, line, severity);
    }
}

static const char *message(const struct result *r, size_t i)
{
    return json_string_value(json_object_get(json_array_get(r->findings, i), "message"));
}

static void assert_count(const struct result *r, size_t n, int errors)
{
    if (json_array_size(r->findings) != n || r->errors != errors) {
        dump(r);
        fail_msg("expected %zu findings and %d errors, got %zu and %d", n, errors,
                 json_array_size(r->findings), r->errors);
    }
}

/* A single finding of `rule` at `line` of m.lua. */
static void assert_only(const char *perms, const char *src, const char *rule, int line,
                        const char *severity)
{
    struct result r = scan_src(perms, src);
    assert_count(&r, 1, strcmp(severity, "error") == 0);
    assert_finding(&r, 0, "m.lua", line, severity, rule);
    json_decref(r.findings);
}

static void assert_clean(const char *perms, const char *src)
{
    struct result r = scan_src(perms, src);
    assert_count(&r, 0, 0);
    json_decref(r.findings);
}

/* ---- a realistic clean pack ---- */

static void test_clean_pack(void **state)
{
    (void)state;
    const char *route =
        "-- Route new tickets to the right team.\n"
        "local util = require(\"lib.util\")\n"
        "local M = {}\n"
        "\n"
        "local function team_for(subject)\n"
        "  for word, team in pairs(axon.settings.keywords or {}) do\n"
        "    if util.contains(subject, word) then return team end\n"
        "  end\n"
        "  return nil\n"
        "end\n"
        "\n"
        "function M.assign(event)\n"
        "  local t = event.record\n"
        "  local team = team_for(t.subject or \"\")\n"
        "  if not team then return end\n"
        "  local open = axon.tickets.find({team = team, status = \"open\"}, {limit = 10})\n"
        "  axon.tickets.update(t.id, {team = team, note = (\"-\"):rep(3)})\n"
        "  axon.log(string.format(\"routed %s to %s (%d open)\", t.id, team, #open))\n"
        "  local r = axon.http.post(\"https://erp.example.com/api/route\", {id = t.id})\n"
        "  while true do\n"
        "    if r then break end\n"
        "  end\n"
        "end\n"
        "\n"
        "return M\n";
    const char *util =
        "local U = {}\n"
        "function U.contains(s, word)\n"
        "  return axon.text.contains(axon.text.fold(s), axon.text.fold(word))\n"
        "end\n"
        "U.trim = function(s) return (s:gsub(\"^%s+\", \"\")) end\n"
        "return U\n";
    const char *digest =
        "local function run()\n"
        "  local n = axon.tickets.count({status = \"open\"})\n"
        "  repeat n = n - 1 until n <= 0\n"
        "  return n\n"
        "end\n"
        "return { run = run }\n";
    const char *manifest =
        "{\"name\":\"router\",\"version\":\"1.0.0\",\"scope\":\"tenant\","
        "\"permissions\":[\"tickets:read\",\"tickets:write\","
        "\"http:https://erp.example.com/api/\"],"
        "\"handlers\":[{\"event\":\"tickets.created\",\"phase\":\"after\","
        "\"fn\":\"route.assign\",\"order\":100}],"
        "\"schedules\":[{\"every\":\"1h\",\"seconds\":3600,\"fn\":\"digest.run\"}]}";
    struct result r = scan(manifest, "digest.lua", digest, "lib/util.lua", util, "route.lua",
                           route, NULL);
    assert_count(&r, 0, 0);
    json_decref(r.findings);
}

/* ---- one rule at a time ---- */

static void test_syntax(void **state)
{
    (void)state;
    struct result r = scan_src("[]", "local a = 1\nlocal b = = 2\nreturn a\n");
    assert_count(&r, 1, 1);
    assert_finding(&r, 0, "m.lua", 2, "error", "syntax");
    assert_string_equal(message(&r, 0), "m.lua:2: unexpected symbol near '='");
    json_decref(r.findings);

    /* An unclosed function reports where the file ends. */
    assert_only("[]", "local M = {}\nfunction M.run()\n  local x = 1\n\nreturn M\n", "syntax", 6,
                "error");
    /* Bytecode is refused like a syntax error. */
    assert_only("[]", "\x1bLua\x54", "syntax", 1, "error");
}

static void test_forbidden_global(void **state)
{
    (void)state;
    assert_only("[]", "local x = 1\nlocal f = io.open(\"/etc/passwd\")\n", "forbidden-global", 2,
                "error");
    assert_only("[]", "\n\nos.execute(\"rm -rf /\")\n", "forbidden-global", 3, "error");
    assert_only("[]", "local d = string.dump(print)\n", "forbidden-global", 1, "error");
    assert_only("[]", "local g = _G.debug\n", "forbidden-global", 1, "error");
    assert_only("[]", "local x\nlocal _ENV = {print = print}\n", "forbidden-global", 2, "error");
    assert_only("[]", "local f = _ENV.io\n", "forbidden-global", 1, "error");
    assert_only("[]", "collectgarbage()\n", "forbidden-global", 1, "error");

    struct result r = scan_src("[]", "local f = io.open\n");
    assert_string_equal(message(&r, 0),
                        "m.lua:1: io is not available in the sandbox: packs have no file "
                        "access; data comes and goes through axon.*");
    json_decref(r.findings);
}

static void test_global_write(void **state)
{
    (void)state;
    assert_only("[]", "local a = 1\ncounter = a + 1\n", "global-write", 2, "error");
    assert_only("[]", "\nfunction helper() return 1 end\n", "global-write", 2, "error");
    assert_only("[]", "setmetatable(_G, {__index = function() return 1 end})\n",
                "global-write", 1, "error");
    assert_only("[]", "string.trim = function(s) return s end\n", "global-write", 1, "error");
    assert_only("[]", "function string.trim(s) return s end\n", "global-write", 1, "error");
    assert_only("[]", "_G.x = 1\n", "global-write", 1, "error");
    /* A multiple assignment checks every target. */
    struct result r = scan_src("[]", "local a\na, b = 1, 2\n");
    assert_count(&r, 1, 1);
    assert_finding(&r, 0, "m.lua", 2, "error", "global-write");
    assert_string_equal(message(&r, 0),
                        "m.lua:2: assignment to the global 'b': globals are read-only in the "
                        "sandbox; declare it with `local b`");
    json_decref(r.findings);
}

static void test_unknown_global(void **state)
{
    (void)state;
    assert_only("[]", "local x = 1\nreturn pirnt(x)\n", "unknown-global", 2, "warning");
    assert_only("[]", "return string.lenght(\"x\")\n", "unknown-global", 1, "warning");
    /* A local function is not visible inside its own `local f = function`. */
    assert_only("[]", "local f = function(n) return f(n) end\n", "unknown-global", 1,
                "warning");
}

static void test_unknown_api(void **state)
{
    (void)state;
    assert_only("[\"deals:write\"]", "local id = 1\naxon.deals.upsert(id, {})\n", "unknown-api",
                2, "error");
    assert_only("[]", "return axon.dealz.get(1)\n", "unknown-api", 1, "error");
    assert_only("[]", "return axon.json.parse(\"{}\")\n", "unknown-api", 1, "error");
    /* users are read-only: there is no users.update at all */
    assert_only("[\"users:read\"]", "axon.users.update(1, {})\n", "unknown-api", 1, "error");

    struct result r = scan_src("[]", "axon.deals.upsert(1, {})\n");
    assert_string_equal(message(&r, 0),
                        "m.lua:1: axon.deals.upsert is not a function of axon.deals (it has: "
                        "get, find, count, create, update, delete)");
    json_decref(r.findings);
    /* Data tables take any member. */
    assert_clean("[]", "return axon.settings.threshold, axon.event.record.id, axon.now()\n");
}

/* The acceptance case: customers:read only, and a deals.update. */
static void test_permission_overreach(void **state)
{
    (void)state;
    const char *route = "local M = {}\n"
                        "function M.won(event)\n"
                        "  local id = event.record.id\n"
                        "  axon.deals.update(id, {stage=\"won\"})\n"
                        "end\n"
                        "return M\n";
    struct result r = scan(MANIFEST("[\"customers:read\"]",
                                    "[{\"event\":\"deals.updated\",\"phase\":\"after\","
                                    "\"fn\":\"route.won\",\"order\":100}]"),
                           "route.lua", route, NULL);
    assert_count(&r, 1, 1);
    assert_finding(&r, 0, "route.lua", 4, "error", "permission");
    assert_string_equal(message(&r, 0),
                        "route.lua:4: axon.deals.update needs permission deals:write, which the "
                        "manifest does not declare (it declares: customers:read)");
    json_int_t col = json_integer_value(json_object_get(json_array_get(r.findings, 0), "column"));
    assert_int_equal(col, 3);
    json_decref(r.findings);

    assert_only("[\"deals:write\"]", "axon.deals.delete(1)\n", "permission", 1, "error");
    assert_only("[]", "axon.notes.add({body = \"x\"})\n", "permission", 1, "error");
    assert_clean("[\"activities:write\"]", "axon.notes.add({body = \"x\"})\n");
    /* A reference to a host function needs its permission too. */
    assert_only("[]", "local f = axon.email.send\n", "permission", 1, "error");
}

static void test_http_permission(void **state)
{
    (void)state;
    const char *erp = "[\"http:https://erp.example.com/api/\"]";
    assert_clean(erp, "axon.http.get(\"https://erp.example.com/api/orders\")\n");
    assert_clean(erp, "local id = 1\naxon.http.get(\"https://erp.example.com/api/o/\" .. id)\n");
    assert_only(erp, "\naxon.http.post(\"https://erp.example.com.evil.net/x\", {})\n",
                "permission", 2, "error");
    assert_only(erp, "local id = 1\naxon.http.get(\"https://evil.net/\" .. id)\n", "permission",
                2, "error");
    assert_only(erp, "local url = axon.settings.url\naxon.http.put(url, {})\n", "permission", 2,
                "warning");
    assert_only("[\"deals:read\"]", "local url = axon.settings.url\naxon.http.get(url)\n",
                "permission", 2, "error");

    struct result r = scan_src(erp, "axon.http.get('https://other.example.com/')\n");
    assert_string_equal(message(&r, 0),
                        "m.lua:1: axon.http.get to https://other.example.com/ is not under a "
                        "declared http:<url prefix> permission (it declares: "
                        "http:https://erp.example.com/api/)");
    json_decref(r.findings);
}

static void test_protected_field(void **state)
{
    (void)state;
    const char *w = "[\"deals:write\",\"customers:write\",\"activities:write\"]";
    assert_only(w, "local id = 1\naxon.deals.update(id, {stage_changed_at = axon.now()})\n",
                "protected-field", 2, "error");
    assert_only(w, "axon.deals.create({\n  name = \"x\",\n  id = 7,\n})\n", "protected-field",
                3, "error");
    assert_only(w, "axon.deals.update(1, {[\"created_at\"] = 0})\n", "protected-field", 1,
                "error");
    assert_only(w, "axon.notes.add({body = \"x\", tenant_id = 2})\n", "protected-field", 1,
                "error");
    /* Fields set on a local table before it is passed. */
    assert_only(w,
                "local rec = {name = \"acme\"}\nrec.id = 5\nrec.city = \"x\"\n"
                "axon.customers.create(rec)\n",
                "protected-field", 2, "error");
    /* The protected list is per object: tickets.sla_due is fine on deals. */
    assert_clean(w, "axon.deals.update(1, {sla_due = 3, stage = \"won\"})\n");

    struct result r = scan_src(w, "axon.deals.update(1, {stage_changed_at = 0})\n");
    assert_string_equal(message(&r, 0),
                        "m.lua:1: axon.deals.update sets 'stage_changed_at', a protected field "
                        "(deals.stage_changed_at) that only the server writes");
    json_decref(r.findings);
}

static void test_unbounded_loop(void **state)
{
    (void)state;
    assert_only("[]", "local n = 0\nwhile true do\n  n = n + 1\nend\n", "unbounded-loop", 2,
                "error");
    assert_only("[]", "local n = 0\nrepeat\n  n = n + 1\nuntil false\n", "unbounded-loop", 2,
                "error");
    /* A break of an inner loop does not leave the outer one. */
    assert_only("[]",
                "while true do\n  for i = 1, 3 do break end\n  while true do break end\nend\n",
                "unbounded-loop", 1, "error");
    /* Nor does a return inside a nested function. */
    assert_only("[]", "while true do\n  local f = function() return 1 end\nend\n",
                "unbounded-loop", 1, "error");
    assert_clean("[]", "local n = 0\nwhile true do\n  n = n + 1\n  if n > 9 then break end\nend\n");
    assert_clean("[]", "local function f()\n  while true do\n    return 1\n  end\nend\nf()\n");
    assert_clean("[]", "repeat\n  if axon.now() then error(\"stop\") end\nuntil false\n");
    assert_clean("[]", "while true do\n  goto done\nend\n::done::\n");
    assert_clean("[]", "while true do axon.reject(\"no\") end\n");
}

static void test_find_filters(void **state)
{
    (void)state;
    const char *rd = "[\"deals:read\"]";
    assert_only(rd, "local all = axon.deals.find()\n", "unbounded-find", 1, "warning");
    assert_only(rd, "\nlocal all = axon.deals.find({})\n", "unbounded-find", 2, "warning");
    assert_clean(rd, "local won = axon.deals.find({stage = \"won\"})\n");
    assert_only(rd, "local won = axon.deals.find(\"stage = 'won'\")\n", "string-query", 1,
                "error");
    assert_only(rd, "local o = axon.settings.owner\nreturn axon.deals.count('owner = ' .. o)\n",
                "string-query", 2, "error");
    assert_only(rd, "local q = \"stage = \" .. axon.settings.stage\nreturn axon.deals.find(q)\n",
                "string-query", 2, "error");
}

static void test_handler_missing(void **state)
{
    (void)state;
    const char *m = MANIFEST("[]", "[{\"event\":\"deals.created\",\"phase\":\"before\","
                                   "\"fn\":\"route.check\",\"order\":100},"
                                   "{\"event\":\"deals.updated\",\"phase\":\"after\","
                                   "\"fn\":\"lib.audit.run\",\"order\":100}]");
    /* lib/audit.lua missing; route.lua has no `check`. */
    struct result r = scan(m, "route.lua",
                           "local M = {}\nfunction M.assign() end\nM.other = function() end\n"
                           "return M\n",
                           NULL);
    assert_count(&r, 2, 2);
    assert_finding(&r, 0, "pack.lua", 0, "error", "handler-missing");
    assert_finding(&r, 1, "route.lua", 4, "error", "handler-missing");
    assert_string_equal(message(&r, 0),
                        "pack.lua: the handler for deals.updated (after) calls lib.audit.run, "
                        "but the pack has no lib/audit.lua");
    assert_string_equal(message(&r, 1),
                        "route.lua:4: the handler for deals.created (before) calls route.check, "
                        "but route.lua does not define check (it defines: assign, other)");
    json_decref(r.findings);

    /* Defined in the returned constructor, or through a local function. */
    r = scan(m, "route.lua", "local function check() end\nreturn { check = check }\n",
             "lib/audit.lua", "local A = { run = function() end }\nreturn A\n", NULL);
    assert_count(&r, 0, 0);
    json_decref(r.findings);

    /* A module that returns nothing cannot hold the handler. */
    r = scan(m, "route.lua", "local function check() end\n", "lib/audit.lua",
             "return {run = print}", NULL);
    assert_count(&r, 1, 1);
    assert_finding(&r, 0, "route.lua", 1, "error", "handler-missing");
    json_decref(r.findings);

    /* A shape the scan cannot follow is a warning. */
    r = scan(m, "route.lua", "local M = require(\"lib.base\")\nreturn setmetatable({}, M)\n",
             "lib/audit.lua", "return {run = print}", NULL);
    assert_count(&r, 1, 0);
    assert_finding(&r, 0, "route.lua", 2, "warning", "handler-missing");
    json_decref(r.findings);
}

/* ---- what must not trigger ---- */

static void test_locals_shadow_globals(void **state)
{
    (void)state;
    assert_clean("[]",
                 "local io = {open = function() return 1 end}\n"
                 "local x = io.open()\n"
                 "local function helper(os) return os.execute end\n"
                 "for debug = 1, 2 do x = debug end\n"
                 "for _, package in ipairs({}) do x = package end\n"
                 "local t = {io = 1, debug = 2}\n"
                 "local o = {}\n"
                 "function o:m() return self.io end\n"
                 "return helper, t.io, o\n");
    /* A local goes out of scope with its block. */
    assert_only("[]", "do local io = {} end\nreturn io\n", "forbidden-global", 2, "error");
    /* `repeat` locals are visible in `until`. */
    assert_clean("[]", "repeat local done = true until done\n");
    /* In `local x = x`, the right side is the outer x. */
    assert_only("[]", "local pirnt = pirnt\n", "unknown-global", 1, "warning");
}

static void test_strings_and_comments(void **state)
{
    (void)state;
    assert_clean("[]",
                 "local a = \"io.open('/etc/passwd')\" -- io.open(x)\n"
                 "local b = 'os.execute(\"x\") \\' debug'\n"
                 "--[[ io.open\n   while true do end ]]\n"
                 "--[==[ ]] io.open ]==]\n"
                 "return a, b\n");
}

static void test_long_brackets(void **state)
{
    (void)state;
    /* The long string holds ]] and ]=], and spans lines: line numbers
     * after it must still be right. */
    assert_only("[]",
                "local s = [==[\n io.open ]] ]=] \n while true do end\n]==]\n"
                "local t = [[x]] .. [=[y]=]\nreturn io\n",
                "forbidden-global", 6, "error");
    assert_only("[]", "local s = \"a\\\nb\\z\n   c\"\nreturn io\n", "forbidden-global", 4,
                "error");
}

static void test_method_calls_on_values(void **state)
{
    (void)state;
    assert_clean("[]",
                 "local s = (\"x\"):rep(3)\n"
                 "local u = s:upper():lower()\n"
                 "local n = #(\"abc\"):sub(1, 2)\n"
                 "return u, n, ({1, 2})[1]\n");
}

static void test_aliases(void **state)
{
    (void)state;
    const char *src = "local db = axon.deals\n"
                      "local a = axon\n"
                      "local id = 1\n"
                      "db.update(id, {stage = \"won\"})\n"
                      "a.deals.delete(id)\n"
                      "local ok = db.get(id)\n";
    struct result r = scan_src("[\"customers:read\",\"deals:read\"]", src);
    assert_count(&r, 2, 2);
    assert_finding(&r, 0, "m.lua", 4, "error", "permission");
    assert_finding(&r, 1, "m.lua", 5, "error", "permission");
    assert_string_equal(message(&r, 0),
                        "m.lua:4: axon.deals.update (as db.update) needs permission deals:write, "
                        "which the manifest does not declare (it declares: customers:read, "
                        "deals:read)");
    json_decref(r.findings);

    /* An alias of a function: reported where it is taken; calls through it
     * still have their arguments checked. */
    r = scan_src("[]", "local upd = axon.deals.update\nupd(1, {id = 2})\n");
    assert_count(&r, 2, 2);
    assert_finding(&r, 0, "m.lua", 1, "error", "permission");
    assert_finding(&r, 1, "m.lua", 2, "error", "protected-field");
    json_decref(r.findings);

    /* A local that is reassigned is no longer an alias. */
    assert_clean("[]", "local db = axon.deals\ndb = {update = print}\ndb.update(1, {})\n");
}

/* Findings come sorted by file, then line, whatever the input order. */
static void test_sorted(void **state)
{
    (void)state;
    struct result r = scan(MANIFEST("[]", "[]"), "z.lua", "x = 1\n", "a.lua",
                           "local q\n\ny = 2\nio.write(q)\n", NULL);
    assert_count(&r, 3, 3);
    assert_finding(&r, 0, "a.lua", 3, "error", "global-write");
    assert_finding(&r, 1, "a.lua", 4, "error", "forbidden-global");
    assert_finding(&r, 2, "z.lua", 1, "error", "global-write");
    json_decref(r.findings);
}

/* A flood of one finding is capped per file, and still blocks. */
static void test_flood_capped(void **state)
{
    (void)state;
    char *src = malloc(5000 * 16);
    size_t o = 0;
    for (int i = 0; i < 5000; i++)
        o += (size_t)sprintf(src + o, "io.write(%d)\n", i);
    struct result r = scan_src("[]", src);
    assert_count(&r, 101, 101);
    assert_finding(&r, 0, "m.lua", 0, "error", "forbidden-global");
    assert_finding(&r, 100, "m.lua", 100, "error", "forbidden-global");
    assert_string_equal(message(&r, 0),
                        "m.lua: 4900 more forbidden-global findings in this file are not listed");
    json_decref(r.findings);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_pack),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_forbidden_global),
        cmocka_unit_test(test_global_write),
        cmocka_unit_test(test_unknown_global),
        cmocka_unit_test(test_unknown_api),
        cmocka_unit_test(test_permission_overreach),
        cmocka_unit_test(test_http_permission),
        cmocka_unit_test(test_protected_field),
        cmocka_unit_test(test_unbounded_loop),
        cmocka_unit_test(test_find_filters),
        cmocka_unit_test(test_handler_missing),
        cmocka_unit_test(test_locals_shadow_globals),
        cmocka_unit_test(test_strings_and_comments),
        cmocka_unit_test(test_long_brackets),
        cmocka_unit_test(test_method_calls_on_values),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_sorted),
        cmocka_unit_test(test_flood_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
